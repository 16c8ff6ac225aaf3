"""One real n8n, the connector under gunicorn, fake Salesforce and Slack: for all e2e cases.

The shipped workflow files in n8n-workflows/ are imported exactly as they are; only
the three credentials they refer to are generated here, pointing at the fakes:

    Koji (test) ──signed POST──▶ n8n webhook ──▶ gateway ──▶ connector (gunicorn)
                                      │──▶ gateway ──▶ FakeSalesforce  (http, salesforce_url)
                                      └──▶ https://slack.com ─(HTTPS_PROXY + test CA)─▶ FakeSlack

Each gateway (tests/fakes/flaky_gateway.py) passes every call on unchanged unless a case asks
it to fail one, rewrite the connector's answer or answer with a redirect.

Where n8n comes from: ``N8N_BIN`` (scripts/test.sh sets it), else this runs
scripts/install-n8n.sh (cached outside the clone). With ``CI=true`` a missing or
broken n8n fails the run instead of skipping it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.flaky_gateway import FlakyGateway
from tests.fakes.https_proxy import InterceptingProxy
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.slack import FakeSlack
from tests.live import LiveConnector, free_port, running_connector, stop_process_group, wait_until_ready

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "n8n-workflows"
WEBHOOK_PATH = "koji-interviews"
SLACK_TOKEN = "xoxb-test-token"
SLACK_CHANNELS = {"C0KOJI0001": "koji-insights"}
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"n8n end-to-end test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def n8n_binary() -> Path:
    configured = os.environ.get("N8N_BIN")
    if configured:
        if not os.access(configured, os.X_OK):
            _unavailable(f"N8N_BIN={configured} is not an executable")
        return Path(configured)
    if not shutil.which("npm"):
        _unavailable("npm is not installed")
    try:
        done = subprocess.run(["bash", str(REPO / "scripts/install-n8n.sh")], capture_output=True,
                              text=True, timeout=1200, check=False)
    except subprocess.TimeoutExpired:
        _unavailable("scripts/install-n8n.sh took more than 20 minutes")
    if done.returncode != 0:
        _unavailable(f"scripts/install-n8n.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class N8n:
    binary: Path
    folder: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "n8n.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True,
                              text=True, timeout=180, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"n8n {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, timeout: float = 120) -> None:
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([str(self.binary), "start"], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_ready("n8n", self.base_url + "/healthz/readiness", self.process, self.logs, timeout, poll=0.25)

    def stop(self) -> None:
        if self.process:
            stop_process_group(self.process, timeout=20)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


def n8n_environment(folder: Path, port: int, extra: dict[str, str]) -> dict[str, str]:
    """Loopback only, quiet, no outside calls (/work/shared/reference/n8n.md)."""
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")}
    return {
        **keep,
        "N8N_USER_FOLDER": str(folder), "N8N_ENCRYPTION_KEY": "e2e-test-encryption-key",
        "DB_TYPE": "sqlite", "N8N_LISTEN_ADDRESS": "127.0.0.1", "N8N_HOST": "127.0.0.1",
        "N8N_PORT": str(port), "N8N_PROTOCOL": "http", "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
        "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_DIAGNOSTICS_CONFIG_FRONTEND": "",
        "N8N_DIAGNOSTICS_CONFIG_BACKEND": "", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
        "N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED": "false", "N8N_TEMPLATES_ENABLED": "false",
        "N8N_PERSONALIZATION_ENABLED": "false", "N8N_HIRING_BANNER_ENABLED": "false",
        "N8N_DYNAMIC_BANNERS_ENABLED": "false", "N8N_LICENSE_AUTO_RENEW_ENABLED": "false",
        "N8N_COMMUNITY_PACKAGES_ENABLED": "false", "N8N_AI_ENABLED": "false",
        "EXTERNAL_FRONTEND_HOOKS_URLS": "", "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
        # The task broker's own port (5679 by default) too: with a fixed one, an n8n already
        # running on this machine (a developer's, another test run's) stops this one.
        "N8N_RUNNERS_BROKER_PORT": str(free_port()),
        "N8N_PYTHON_ENABLED": "false", "GENERIC_TIMEZONE": "UTC", "SCARF_ANALYTICS": "false",
        "N8N_SECURE_COOKIE": "false",
        **extra,
    }


def test_credentials(connector: LiveConnector, salesforce: FakeSalesforce) -> list[dict]:
    """The three credentials the shipped workflows refer to, by the ids in the files."""
    return [
        {"id": "koji-connector-api-key", "name": "Koji connector API key", "type": "httpHeaderAuth",
         "data": {"name": "Authorization", "value": f"Bearer {connector.api_key}"}},
        {"id": "koji-salesforce", "name": "Salesforce (Koji)", "type": "salesforceOAuth2Api",
         "data": {"environment": "production", "clientId": salesforce.client_id,
                  "clientSecret": salesforce.client_secret,
                  "accessTokenUrl": f"{salesforce.base_url}/services/oauth2/token",
                  # A stale token: the first call gets 401 and n8n refreshes, as in real life.
                  "oauthTokenData": {"access_token": "00Dstale!token", "refresh_token": "5Aep-test-refresh",
                                     "instance_url": salesforce.base_url, "token_type": "Bearer"}}},
        {"id": "koji-slack", "name": "Slack bot (Koji)", "type": "slackApi",
         "data": {"accessToken": SLACK_TOKEN}},
    ]


@dataclass
class Stack:
    n8n: N8n
    connector: LiveConnector
    salesforce: FakeSalesforce
    slack: FakeSlack
    proxy: InterceptingProxy
    gateway: FlakyGateway  # n8n reaches the connector through it
    salesforce_gateway: FlakyGateway  # and Salesforce's REST API through this one
    workflow_ids: list[str]

    @property
    def webhook_url(self) -> str:
        return f"{self.n8n.base_url}/webhook/{WEBHOOK_PATH}"


def shipped_workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.json"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    binary = n8n_binary()
    root = tmp_path_factory.mktemp("n8n-e2e")
    salesforce = FakeSalesforce()
    slack = FakeSlack(token=SLACK_TOKEN, channels=dict(SLACK_CHANNELS))
    salesforce.start()
    slack.start()
    proxy = InterceptingProxy(root / "certs", {"slack.com": slack.port})
    proxy.start()
    n8n = None
    try:  # a start-up failure past the install is a failure everywhere, never a skip
        with running_connector(root) as connector, FlakyGateway(connector.base_url) as gateway, \
                FlakyGateway(salesforce.base_url) as salesforce_gateway:
            port = free_port()
            n8n = N8n(binary, root / "n8n", port, n8n_environment(root / "n8n", port, {
                "HTTPS_PROXY": proxy.url, "https_proxy": proxy.url,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "NODE_EXTRA_CA_CERTS": str(proxy.ca_pem),
                # The shipped "Settings: edit me" node reads both URLs from here.
                "KOJI_CONNECTOR_URL": gateway.base_url,
                "SALESFORCE_INSTANCE_URL": salesforce_gateway.base_url,
                "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false",
            }))
            n8n.folder.mkdir()
            credentials = root / "credentials.json"
            credentials.write_text(json.dumps(test_credentials(connector, salesforce)))
            n8n.cli("import:credentials", f"--input={credentials}")
            ids = []
            for path in shipped_workflows():
                n8n.cli("import:workflow", f"--input={path}")
                ids.append(json.loads(path.read_text())["id"])
            for workflow_id in ids:
                n8n.cli("publish:workflow", f"--id={workflow_id}")
            n8n.start()
            yield Stack(n8n, connector, salesforce, slack, proxy, gateway, salesforce_gateway, ids)
    finally:
        if n8n:
            n8n.stop()
        proxy.stop()
        slack.stop()
        salesforce.stop()
