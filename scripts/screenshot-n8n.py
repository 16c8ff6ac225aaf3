#!/usr/bin/env python3
"""Screenshot the shipped workflow in the real n8n editor: n8n-workflows/workflow.png.

Needs Debian's Chromium (`apt-get install -y chromium`) and npm; installs the pinned n8n
(scripts/install-n8n.sh) and playwright-core into ~/.cache/koji-connector. Starts a
throwaway n8n on 127.0.0.1 with placeholder credentials, imports the workflow file as
shipped, logs in as a throwaway owner and takes the picture.

    python scripts/screenshot-n8n.py [--workflow n8n-workflows/koji-salesforce-slack.json]
                                     [--output n8n-workflows/workflow.png]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import N8n, n8n_binary, n8n_environment  # noqa: E402
from tests.live import free_port  # noqa: E402

PLAYWRIGHT = "playwright-core@1.65.1"
OWNER = {"email": "owner@example.com", "firstName": "Koji", "lastName": "Connector",
         "password": "Screenshot-0nly!"}
# Placeholders, so the canvas shows credentials set instead of warnings.
CREDENTIALS = [
    {"id": "koji-connector-api-key", "name": "Koji connector API key", "type": "httpHeaderAuth",
     "data": {"name": "Authorization", "value": "Bearer placeholder"}},
    {"id": "koji-salesforce", "name": "Salesforce (Koji)", "type": "salesforceOAuth2Api",
     "data": {"environment": "production", "clientId": "placeholder", "clientSecret": "placeholder"}},
    {"id": "koji-slack", "name": "Slack bot (Koji)", "type": "slackApi",
     "data": {"accessToken": "placeholder"}},
]


def playwright_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    target = cache / "koji-connector" / PLAYWRIGHT.replace("@", "-")
    if not (target / "node_modules" / "playwright-core").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(target), "--no-audit", "--no-fund",
                        "--loglevel=error", PLAYWRIGHT], check=True)
    return target / "node_modules"


def setup_owner(base_url: str, timeout: float = 60) -> None:
    # Readiness answers before the REST routes are mounted: retry while 404.
    deadline = time.monotonic() + timeout
    while True:
        response = requests.post(f"{base_url}/rest/owner/setup", json=OWNER, timeout=30)
        if response.status_code != 404 or time.monotonic() > deadline:
            response.raise_for_status()
            return
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", type=Path, default=REPO / "n8n-workflows/koji-salesforce-slack.json")
    parser.add_argument("--output", type=Path, default=REPO / "n8n-workflows/workflow.png")
    args = parser.parse_args()
    workflow_id = json.loads(args.workflow.read_text())["id"]
    with tempfile.TemporaryDirectory() as tmp:
        root, port = Path(tmp), free_port()
        n8n = N8n(n8n_binary(), root / "n8n", port, n8n_environment(root / "n8n", port, {}))
        n8n.folder.mkdir()
        (root / "credentials.json").write_text(json.dumps(CREDENTIALS))
        n8n.cli("import:credentials", f"--input={root / 'credentials.json'}")
        n8n.cli("import:workflow", f"--input={args.workflow}")
        n8n.start()
        try:
            setup_owner(n8n.base_url)
            subprocess.run(["node", str(REPO / "scripts/screenshot-n8n.mjs")], check=True, env={
                **os.environ, "N8N_URL": n8n.base_url, "N8N_EMAIL": OWNER["email"],
                "N8N_PASSWORD": OWNER["password"], "WORKFLOW_ID": workflow_id,
                "OUTPUT": str(args.output.resolve()), "PLAYWRIGHT_DIR": str(playwright_dir())})
        finally:
            n8n.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
