"""CPU and wall time of each step of /v1/koji/verify, timed inside gunicorn workers under load.

stage_costs.py measures a part by leaving it out; this times it where it runs. Each step is
wrapped in a timer (thread CPU time and wall time) in the workers of a connector started by
this script (with the connector's worker class, connector.server.ProblemJsonWorker, as
`connector serve` runs it), the closed loop of verify_benchmark.py runs against it, and at shutdown every
worker writes its totals to a file that this script sums up. A step's wall time above its
CPU time is time the worker waited (for the ledger's write lock, or for a core). The timers
cost about a microsecond per step and are not part of the product.

    python benchmarks/stage_timers.py [--seconds 6]
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.verify_benchmark import closed_loop, start, stop  # noqa: E402
from connector.server import WORKER_CLASS  # noqa: E402
from tests.live import free_port  # noqa: E402

TOTALS_DIR_VARIABLE = "STAGE_TIMERS_DIR"


def _timed(totals: dict[str, list[float]], name: str, step: Callable) -> Callable:
    def timed_step(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return step(*args, **kwargs)
        finally:
            total = totals.setdefault(name, [0, 0.0, 0.0])
            total[0] += 1
            total[1] += time.thread_time() - cpu
            total[2] += time.perf_counter() - wall
    return timed_step


def create_app():
    """The connector with timers around its steps (gunicorn: 'benchmarks.stage_timers:create_app()')."""
    import connector.pipeline as pipeline_module
    import connector.routes as routes_module
    from connector import create_app as create_connector

    totals: dict[str, list[float]] = {}
    for module, name in [(routes_module, "parse_json_object"), (routes_module, "check"),
                         (pipeline_module, "normalize"), (pipeline_module, "decide"),
                         (pipeline_module, "map_to_salesforce"), (pipeline_module, "build_slack_message"),
                         (routes_module, "jsonify")]:
        setattr(module, name, _timed(totals, name, getattr(module, name)))
    app = create_connector()
    ledger = app.extensions["connector"].pipeline.ledger
    ledger.claim = _timed(totals, "ledger claim", ledger.claim)
    app.wsgi_app = _timed(totals, "whole Flask app", app.wsgi_app)
    out = Path(os.environ[TOTALS_DIR_VARIABLE])
    atexit.register(lambda: (out / f"{os.getpid()}.json").write_text(json.dumps(totals)))
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        os.environ[TOTALS_DIR_VARIABLE] = state_dir
        port = free_port()
        proc = start("benchmarks.stage_timers:create_app()", port, 2, state_dir, WORKER_CLASS)
        try:
            rps, errors, cpu_ms = closed_loop(proc, port, 8, args.seconds)
        finally:
            stop(proc)
        if errors:
            raise RuntimeError(f"the connector answered {errors} request(s) with an error")
        totals: dict[str, list[float]] = {}
        for worker in Path(state_dir).glob("*.json"):
            for name, (calls, cpu, wall) in json.loads(worker.read_text()).items():
                total = totals.setdefault(name, [0, 0.0, 0.0])
                total[0] += calls
                total[1] += cpu
                total[2] += wall
    print(f"\nconnector under load: {rps:.0f} req/s, workers' CPU {cpu_ms * 1000:.0f} µs per request "
          f"(2 {WORKER_CLASS.rsplit('.', 1)[1]} workers, 8 requests in flight, {args.seconds:g}s)")
    print(f"{'step':22} {'calls':>7} {'CPU µs':>7} {'wall µs':>8}")
    for name, (calls, cpu, wall) in totals.items():
        print(f"{name:22} {calls:7d} {cpu / calls * 1e6:7.0f} {wall / calls * 1e6:8.0f}")


if __name__ == "__main__":
    main()
