"""An HTTPS ``CONNECT`` proxy that sends one public host to a local fake.

n8n's Slack node hard-codes ``https://slack.com/api``. To test the shipped node
unmodified, n8n runs with ``HTTPS_PROXY`` pointing here, ``NO_PROXY`` covering
loopback, and ``NODE_EXTRA_CA_CERTS`` naming the test CA this module makes.
For ``CONNECT slack.com:443`` the proxy answers 200, speaks TLS to the client
with a ``slack.com`` certificate signed by that CA, and pipes the decrypted
bytes to the fake's plain-HTTP port. Any other host gets ``403``: nothing
leaves the machine.

The CA and its key are made at test time in a temporary directory and never
committed.
"""

from __future__ import annotations

import datetime as dt
import select
import socket
import socketserver
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def make_test_ca(directory: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a leaf certificate for ``hosts``.

    Returns (ca_pem, leaf_pem, leaf_key_pem).
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "koji-connector test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, leaf_pem, key_pem = (directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key")
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    leaf_pem.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    key_pem.chmod(0o600)
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
