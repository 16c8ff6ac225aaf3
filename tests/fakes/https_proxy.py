"""An HTTPS ``CONNECT`` proxy that sends one public host to a local fake.

n8n's Slack node hard-codes ``https://slack.com/api``. To test the shipped node
unmodified, n8n runs with ``HTTPS_PROXY`` pointing here, ``NO_PROXY`` covering
loopback, and ``NODE_EXTRA_CA_CERTS`` naming the test CA this module makes.
For ``CONNECT slack.com:443`` the proxy answers 200, speaks TLS to the client
with a ``slack.com`` certificate signed by that CA, and pipes the decrypted
bytes to the fake's plain-HTTP port. Any other host gets ``403``: nothing
leaves the machine.

The CA and its key are made at test time (openssl CLI) in a temporary directory
and never committed; the CA key is deleted once the leaf is signed.
"""

from __future__ import annotations

import select
import socket
import socketserver
import ssl
import subprocess
import threading
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_test_ca(directory: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """Write a throwaway CA (valid one day) and a leaf certificate for ``hosts``.

    Uses the openssl CLI, so the tests need no extra Python package.
    Returns (ca_pem, leaf_pem, leaf_key_pem).
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = directory / "ca.key", directory / "ca.pem"
    key_pem, csr, leaf_pem = directory / "leaf.key", directory / "leaf.csr", directory / "leaf.pem"
    ext = directory / "leaf.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\n"
                   "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts) + "\n")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_pem), "-days", "1",
             "-subj", "/CN=koji-connector test CA",
             "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-new", *ec, "-keyout", str(key_pem), "-out", str(csr), "-subj", f"/CN={hosts[0]}")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(leaf_pem), "-days", "1", "-sha256", "-extfile", str(ext))
    ca_key.unlink()  # nothing else may sign with it
    return ca_pem, leaf_pem, key_pem


class InterceptingProxy:
    """``CONNECT host:443`` for hosts in ``routes`` → TLS-terminate → local port."""

    def __init__(self, cert_dir: Path, routes: dict[str, int]):
        self.routes = routes
        self.ca_pem, leaf, key = make_test_ca(cert_dir, sorted(routes))
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(leaf, key)
        self.connects: list[str] = []  # every CONNECT target, allowed or not
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> str:
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                proxy._handle(self.connection, self.rfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> InterceptingProxy:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handle(self, conn: socket.socket, rfile) -> None:
        request_line = rfile.readline(65536).decode("latin-1").strip()
        while rfile.readline(65536) not in (b"\r\n", b"\n", b""):
            pass  # drop the CONNECT request's headers
        parts = request_line.split()
        if len(parts) < 2 or parts[0].upper() != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = parts[1].rpartition(":")
        self.connects.append(parts[1])
        target = self.routes.get(host)
        if target is None or port != "443":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        try:
            tls = self._tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with tls, socket.create_connection(("127.0.0.1", target), timeout=30) as upstream:
            _pipe(tls, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [a, b]
    while True:
        # An SSL socket may hold decrypted bytes that select() cannot see.
        ready = [a] if isinstance(a, ssl.SSLSocket) and a.pending() else []
        if not ready:
            ready, _, _ = select.select(sockets, [], [], 60)
            if not ready:
                return
        for sock in ready:
            other = b if sock is a else a
            try:
                data = sock.recv(65536)
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            other.sendall(data)
