"""The machine's own latency floor: a raw socket server that does no work, measured with the
same open-loop client as verify_benchmark.py, on idle cores and with the cores kept awake.

If this server, which answers in microseconds, shows a tail of tens of milliseconds on idle
cores, that tail belongs to the machine (here: a VM that parks idle vCPUs), not to the code
measured in verify_benchmark.py.

    python benchmarks/machine_floor.py [--rate 200] [--seconds 5]
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchmarks.verify_benchmark import CoresAwake, open_loop, percentile, prepared_request  # noqa: E402
from live import free_port  # noqa: E402

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def serve(listener: socket.socket) -> None:
    """Read one request (headers, then Content-Length bytes), answer, close; one at a time."""
    while True:
        conn, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(ANSWER)
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    requests = [prepared_request(port, i) for i in range(int(args.rate * args.seconds))]
    for label, condition in [("idle cores", nullcontext()), ("cores kept awake", CoresAwake())]:
        with condition:
            latencies, errors = open_loop(port, requests, args.rate, time.time() + 0.3)
        latencies.sort()
        print(f"raw socket server, {label:17} at {args.rate:g} req/s: p50 {statistics.median(latencies) * 1000:6.2f} ms"
              f"  p99 {percentile(latencies, 0.99) * 1000:6.2f} ms  max {latencies[-1] * 1000:6.2f} ms  errors {errors}")


if __name__ == "__main__":
    main()
