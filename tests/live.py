"""Start the real service under gunicorn on 127.0.0.1 for tests (and the benchmark)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import requests

from connector.server import WORKER_CLASS

REPO = Path(__file__).resolve().parent.parent
TEST_API_KEY = "ck_test_0123456789abcdef"
TEST_WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@dataclass
class LiveConnector:
    base_url: str
    api_key: str
    webhook_secret: str
    log_path: Path
    process: subprocess.Popen

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", **extra}

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_connector(tmp_path: Path, *, workers: int = 2, env: dict[str, str] | None = None,
                      extra_args: tuple[str, ...] = ()) -> Iterator[LiveConnector]:
    port = free_port()
    log_path = tmp_path / f"connector-{port}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KOJI_", "CONNECTOR_", "SALESFORCE_"))},
        "CONNECTOR_MODE": "production",
        "KOJI_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        "CONNECTOR_API_KEYS": TEST_API_KEY,
        "DATABASE_PATH": str(tmp_path / f"state-{port}.sqlite3"),
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    # The worker class `connector serve` and the README's gunicorn command run: gunicorn's own
    # refusals (a request line over its limit, say) are problem+json only with it.
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", WORKER_CLASS, "--access-logfile", "-",
               "--no-control-socket", *extra_args,
               "connector:create_app()"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    live = LiveConnector(f"http://127.0.0.1:{port}", environment["CONNECTOR_API_KEYS"].split(",")[0],
                         environment["KOJI_WEBHOOK_SECRET"].split(",")[0], log_path, process)
    try:
        _wait_ready(live)
        yield live
    finally:
        stop_process_group(process)


def _wait_ready(live: LiveConnector, timeout: float = 30) -> None:
    wait_until_ready("connector", live.base_url + "/healthz", live.process, live.logs, timeout)


def wait_until_ready(name: str, url: str, process: subprocess.Popen, logs: Callable[[], str],
                     timeout: float, poll: float = 0.1) -> None:
    """Poll `url` until it answers 2xx; fail early, with the logs, if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{logs()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(poll)
    raise RuntimeError(f"{name} not ready after {timeout}s:\n{logs()[-3000:]}")


def eventually(condition: Callable[[], object], timeout: float = 15, poll: float = 0.05) -> object:
    """Wait for a background thread or process to make `condition` true; its last answer."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(poll)
    return condition()


def stop_process_group(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process and its children (started with start_new_session), then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
