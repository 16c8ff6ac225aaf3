"""Why the connector costs more under gunicorn than in a tight loop: cold CPU caches.

Calls both WSGI apps in this process, without gunicorn or sockets, for distinct signed
events: first back to back (caches stay warm), then with 16 MiB of memory touched before
each call (as the clients and the other worker do between two requests of a worker under
load). Prints microseconds per call; compare with the CPU per request that
verify_benchmark.py measures under gunicorn.

    python benchmarks/cold_cache.py [--calls 2000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.verify_benchmark import API_KEY, SECRET, body_for  # noqa: E402
from connector.signatures import sign  # noqa: E402

EVICTION_BYTES = 16 * 1024 * 1024


def environ(body: bytes) -> dict:
    return EnvironBuilder(path="/v1/koji/verify", method="POST", data=body, content_type="application/json",
                          headers={"X-Koji-Signature": sign(body, SECRET),
                                   "Authorization": f"Bearer {API_KEY}"}).get_environ()


def per_call_us(app, environs: list[dict], evict: bytearray | None) -> float:
    status = []
    total = 0.0
    for env in environs:
        if evict is not None:
            for i in range(0, len(evict), 64):  # one write per cache line
                evict[i] = 1
        started = time.perf_counter()
        b"".join(app(env, lambda s, h, exc_info=None: status.append(s)))
        total += time.perf_counter() - started
    assert all(s.startswith("200") for s in status), set(status)
    return total / len(environs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update(CONNECTOR_MODE="production", KOJI_WEBHOOK_SECRET=SECRET, CONNECTOR_API_KEYS=API_KEY,
                      LOG_LEVEL="WARNING", DATABASE_PATH=tempfile.mkdtemp() + "/cold.sqlite3")
    from benchmarks.bare_hmac_app import create_app as bare_app
    from connector import create_app
    apps = {"bare HMAC endpoint": bare_app(), "connector /v1/koji/verify": create_app()}
    evict = bytearray(EVICTION_BYTES)
    batch = iter(range(10**9))
    for name, app in apps.items():
        per_call_us(app, [environ(body_for(next(batch))) for _ in range(200)], None)  # first-use set-up
        warm = per_call_us(app, [environ(body_for(next(batch))) for _ in range(args.calls)], None)
        cold = per_call_us(app, [environ(body_for(next(batch))) for _ in range(args.calls)], evict)
        print(f"{name:27} warm caches {warm:7.0f} µs/call   cold caches {cold:7.0f} µs/call")


if __name__ == "__main__":
    main()
