"""Verify throughput and latency: the connector vs a bare HMAC-only Flask endpoint.

Both run under gunicorn with the same worker count on this machine, in the same run.
Phase 1 (closed loop): C client connections send as fast as they can for D seconds →
requests/s. Phase 2 (open loop): requests are started on a fixed schedule (default
200/s) for D seconds → p50/p99 latency, measured from the scheduled start so queueing
delay counts. Every event has a distinct interview id, so each request does a real
ledger claim (no duplicate short-cuts). Prints a table and the ratio.

    python benchmarks/verify_benchmark.py [--workers 2] [--clients 8] [--seconds 10] [--rate 200]
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from connector.signatures import sign  # noqa: E402
from live import free_port  # noqa: E402

SECRET, API_KEY = "whsec_bench_secret", "ck_bench_key"
SAMPLE = json.loads((REPO / "connector/samples/salesforce-guide.analysis_ready.json").read_text())


def body_for(n: int) -> bytes:
    payload = json.loads(json.dumps(SAMPLE))
    payload["data"]["interview_id"] = f"bench-{os.getpid()}-{n}"
    return json.dumps(payload).encode()


def one_request(conn_port: int, n: int) -> tuple[int, float]:
    body = body_for(n)
    headers = {"Content-Type": "application/json", "X-Koji-Signature": sign(body, SECRET),
               "Authorization": f"Bearer {API_KEY}"}
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", conn_port, timeout=10)
    conn.request("POST", "/v1/koji/verify", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, time.perf_counter() - started


def closed_loop_client(port: int, seconds: float, start_at: float, queue) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    deadline, count, errors, n = start_at + seconds, 0, 0, 0
    while time.time() < deadline:
        status, _ = one_request(port, n)
        n += 1
        count += status == 200
        errors += status != 200
    queue.put((count, errors))


def throughput(port: int, clients: int, seconds: float) -> tuple[float, int]:
    queue = mp.Queue()
    start_at = time.time() + 0.5
    procs = [mp.Process(target=closed_loop_client, args=(port, seconds, start_at, queue)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return sum(r[0] for r in results) / seconds, sum(r[1] for r in results)


def open_loop_client(port: int, rate: float, seconds: float, start_at: float, offset: int, stride: int, queue) -> None:
    from concurrent.futures import ThreadPoolExecutor
    interval = stride / rate
    latencies, errors = [], 0

    def fire(i: int):
        scheduled = start_at + i * interval
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        status, _ = one_request(port, offset + i * stride)
        return status, time.time() - scheduled

    with ThreadPoolExecutor(max_workers=32) as pool:
        for status, latency in pool.map(fire, range(int(seconds * rate / stride))):
            latencies.append(latency)
            errors += status != 200
    queue.put((latencies, errors))


def latency_at_rate(port: int, rate: float, seconds: float, processes: int = 2) -> tuple[float, float, int]:
    queue = mp.Queue()
    start_at = time.time() + 0.5
    procs = [mp.Process(target=open_loop_client, args=(port, rate, seconds, start_at + k / rate, k, processes, queue))
             for k in range(processes)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies = sorted(l for r in results for l in r[0])
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies) * 1000, p99 * 1000, sum(r[1] for r in results)


def start(app: str, port: int, workers: int, state_dir: str) -> subprocess.Popen:
    access_log = f"{state_dir}/access-{port}.log"
    env = {**os.environ, "CONNECTOR_MODE": "production", "KOJI_WEBHOOK_SECRET": SECRET,
           "CONNECTOR_API_KEYS": API_KEY, "DATABASE_PATH": f"{state_dir}/bench-{port}.sqlite3",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                             str(workers), "--log-level", "warning",
                             # %(D)s: microseconds from the request line read to the response written.
                             "--access-logfile", access_log, "--access-logformat", "%(D)s", app], cwd=REPO, env=env)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("POST", "/v1/koji/verify", body=b"{}")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start")


def server_cpu_seconds(master_pid: int) -> float:
    """user + system CPU of the gunicorn workers (children of the master), from /proc."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(app: str, args: argparse.Namespace, state_dir: str) -> tuple[float, float, float, int, float, float]:
    port = free_port()
    proc = start(app, port, args.workers, state_dir)
    try:
        throughput(port, args.clients, 2)  # warm-up
        cpu_before = server_cpu_seconds(proc.pid)
        rps, errors = throughput(port, args.clients, args.seconds)
        # Server CPU per request: what the app costs, whatever the client and the machine do.
        cpu_ms = (server_cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, rps * args.seconds)
        log = Path(f"{state_dir}/access-{port}.log")
        seen = len(log.read_text().splitlines())
        p50, p99, rate_errors = latency_at_rate(port, args.rate, args.seconds)
        time.sleep(0.5)  # let the workers flush the access log
        server = sorted(int(line) for line in log.read_text().splitlines()[seen:] if line.strip().isdigit())
        server_p99 = server[min(len(server) - 1, int(len(server) * 0.99))] / 1000 if server else float("nan")
    finally:
        proc.terminate()
        proc.wait(10)
    return rps, p50, p99, errors + rate_errors, cpu_ms, server_p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the two servers this many times and report medians (damps machine noise)")
    args = parser.parse_args()
    samples: dict[str, list[tuple[float, float, float, int, float, float]]] = {}
    with tempfile.TemporaryDirectory() as state_dir:
        for _ in range(args.rounds):
            for name, app in [("bare HMAC endpoint", "benchmarks.bare_hmac_app:create_app()"),
                              ("connector /v1/koji/verify", "connector:create_app()")]:
                samples.setdefault(name, []).append(measure(app, args, state_dir))
    rows = {name: tuple(statistics.median(run[i] for run in runs) for i in range(3)) + (
                sum(run[3] for run in runs), statistics.median(run[4] for run in runs),
                statistics.median(run[5] for run in runs))
            for name, runs in samples.items()}
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, gunicorn {args.workers} sync workers, "
          f"{args.clients} closed-loop clients for {args.seconds:g}s, open loop at {args.rate:g} req/s for {args.seconds:g}s, "
          f"median of {args.rounds} alternating rounds")
    print(f"{'endpoint':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server p99 ms':>14} {'errors':>7} "
          f"{'server CPU ms/req':>18}")
    for name, (rps, p50, p99, errors, cpu_ms, server_p99) in rows.items():
        print(f"{name:30} {rps:9.0f} {p50:8.2f} {p99:8.2f} {server_p99:14.2f} {errors:7d} {cpu_ms:18.3f}")
    bare, connector = rows["bare HMAC endpoint"], rows["connector /v1/koji/verify"]
    print(f"\nthroughput ratio connector/bare: {connector[0] / bare[0]:.2f}  (goal >= 0.70)")
    print(f"server CPU ratio bare/connector: {bare[4] / connector[4]:.2f}  (the same ratio, without client noise)")
    print(f"connector p99 at {args.rate:g} req/s: {connector[2]:.2f} ms as the client saw it, "
          f"{connector[5]:.2f} ms inside gunicorn  (goal <= 10 ms)")


if __name__ == "__main__":
    main()
