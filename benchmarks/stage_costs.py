"""What each part of /v1/koji/verify costs inside a gunicorn worker under load.

A tight loop cannot say: under load every request runs with cold caches (cold_cache.py), so a
part costs several times what it costs warm. This runs the connector under gunicorn as
verify_benchmark.py does, in variants that each leave one part out, alternating with the
bare HMAC endpoint, and prints the workers' CPU per request. The difference between the full
connector and a variant is what the part left out costs there. Every variant runs with the
connector's worker class, connector.server.ProblemJsonWorker, as `connector serve` does; the
two bare references stay on gunicorn's default sync worker.

Variants (built here by replacing one part on the app's pipeline; the product is unchanged):
- full: the connector as shipped;
- no claim: no ledger write (`delivery` is null);
- no mapping or Slack: the answer without its `salesforce` and `slack` blocks;
- no pipeline: one answer computed at start-up is sent for every request, so only the API
  key, the signature, parsing, the schema check and writing the answer remain.
A second reference, the bare endpoint's HMAC check as a plain WSGI callable with no Flask,
shows what the framework itself costs each request.

    python benchmarks/stage_costs.py [--seconds 4] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from types import MethodType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.verify_benchmark import GUNICORN_DEFAULT_WORKER_CLASS, SAMPLE, closed_loop, start, stop  # noqa: E402
from connector.server import WORKER_CLASS  # noqa: E402
from tests.live import free_port  # noqa: E402

# name: (gunicorn app, worker class). The references on gunicorn's default worker, as in
# verify_benchmark.py; the connector's variants on its own, as `connector serve` runs it.
SERVERS = {
    "bare HMAC endpoint": ("benchmarks.bare_hmac_app:create_app()", GUNICORN_DEFAULT_WORKER_CLASS),
    "bare, no Flask": ("benchmarks.bare_hmac_app:create_wsgi_app()", GUNICORN_DEFAULT_WORKER_CLASS),
    "full": ("connector:create_app()", WORKER_CLASS),
    "no claim": ("benchmarks.stage_costs:without_claim()", WORKER_CLASS),
    "no mapping or Slack": ("benchmarks.stage_costs:without_mapping_and_slack()", WORKER_CLASS),
    "no pipeline": ("benchmarks.stage_costs:without_pipeline()", WORKER_CLASS),
}


def _connector():
    from connector import create_app
    app = create_app()
    return app, app.extensions["connector"].pipeline


def without_claim():
    app, pipeline = _connector()
    pipeline.ledger = None  # Pipeline.answer then renders without claiming
    return app


def without_mapping_and_slack():
    app, pipeline = _connector()

    def render(self, event, decision, delivery, unreadable=None):
        return {"action": decision.action, "skip_reason": decision.skip_reason, "reason": decision.reason,
                "delivery": delivery, **event}

    pipeline.render = MethodType(render, pipeline)
    return app


def without_pipeline():
    app, pipeline = _connector()
    answer = pipeline.answer(json.loads(json.dumps(SAMPLE)), claim=False)
    pipeline.answer = lambda payload, **_: answer
    return app


def cpu_per_request(app: str, worker_class: str, seconds: float, state_dir: str) -> float:
    port = free_port()
    proc = start(app, port, 2, state_dir, worker_class)
    try:
        _, errors, cpu_ms = closed_loop(proc, port, 8, seconds)
    finally:
        stop(proc)
    if errors:
        raise RuntimeError(f"{app} answered {errors} request(s) with an error")
    return cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as state_dir:
        for _ in range(args.rounds):
            for name, (app, worker_class) in SERVERS.items():
                runs.setdefault(name, []).append(cpu_per_request(app, worker_class, args.seconds, state_dir))
    cpu = {name: statistics.median(values) for name, values in runs.items()}
    print(f"\nworkers' CPU per request, median of {args.rounds} rounds of {args.seconds:g}s, 2 workers "
          f"(bare: sync; connector: {WORKER_CLASS.rsplit('.', 1)[1]}), 8 requests in flight ({os.cpu_count()} cores)")
    for name, value in cpu.items():
        print(f"{name:22} {value * 1000:6.0f} µs")
    full = cpu["full"]
    print("\nwhat each part costs in the full connector (full minus the variant without it)")
    print(f"{'ledger claim':22} {(full - cpu['no claim']) * 1000:6.0f} µs")
    print(f"{'mapping + Slack':22} {(full - cpu['no mapping or Slack']) * 1000:6.0f} µs")
    print(f"{'whole pipeline':22} {(full - cpu['no pipeline']) * 1000:6.0f} µs")
    print(f"{'the rest, over bare':22} {(cpu['no pipeline'] - cpu['bare HMAC endpoint']) * 1000:6.0f} µs")
    print(f"{'Flask, in bare':22} {(cpu['bare HMAC endpoint'] - cpu['bare, no Flask']) * 1000:6.0f} µs")
    print(f"\nCPU ratio bare/full: {cpu['bare HMAC endpoint'] / full:.2f}; "
          f"bare/(no pipeline): {cpu['bare HMAC endpoint'] / cpu['no pipeline']:.2f}")


if __name__ == "__main__":
    main()
