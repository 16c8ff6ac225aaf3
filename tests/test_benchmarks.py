"""The benchmark scripts still run and every request they send is answered 200.

Not a speed test (the figures go to docs/benchmarks.md): this keeps the scripts working, and
checks the connector under gunicorn answers a burst of distinct signed events without error."""
import re
import subprocess
import sys

from tests.live import REPO


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_verify_benchmark_runs_both_servers_without_errors():
    out = run("benchmarks/verify_benchmark.py", "--seconds", "0.5", "--rounds", "1", "--rate", "40")
    rows = {name: line.split() for name in ("bare HMAC endpoint", "connector /v1/koji/verify")
            for line in out.splitlines() if line.startswith(name)}
    assert set(rows) == {"bare HMAC endpoint", "connector /v1/koji/verify"}, out
    for name, cells in rows.items():
        assert cells[-1] == "0", f"{name} answered errors:\n{out}"
        assert float(cells[len(name.split())]) > 0, f"{name} answered nothing:\n{out}"
    assert re.search(r"throughput ratio connector/bare: \d\.\d\d", out), out


def test_machine_floor_measures_both_conditions():
    out = run("benchmarks/machine_floor.py", "--seconds", "0.5", "--rate", "40")
    assert out.count("errors 0") == 2, out


def test_cold_cache_comparison_runs_both_apps():
    out = run("benchmarks/cold_cache.py", "--calls", "50")
    assert [line.split()[0] for line in out.splitlines()] == ["bare", "connector"], out


def test_stage_costs_runs_every_variant():
    out = run("benchmarks/stage_costs.py", "--seconds", "0.3", "--rounds", "1")
    for name in ("bare HMAC endpoint", "bare, no Flask", "full", "no claim", "no mapping or Slack", "no pipeline",
                 "ledger claim", "mapping + Slack", "whole pipeline", "Flask, in bare"):
        assert re.search(rf"^{re.escape(name)}\s+-?\d+ µs$", out, re.MULTILINE), f"{name}:\n{out}"


def test_stage_timers_reports_every_step_from_the_workers():
    out = run("benchmarks/stage_timers.py", "--seconds", "0.5")
    for name in ("whole Flask app", "parse_json_object", "check", "normalize", "decide", "ledger claim",
                 "map_to_salesforce", "build_slack_message", "jsonify"):
        match = re.search(rf"^{re.escape(name)}\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
        assert match, f"{name}:\n{out}"
        calls, cpu, wall = map(int, match.groups())
        assert calls > 0 and 0 < cpu <= wall, f"{name}:\n{out}"
