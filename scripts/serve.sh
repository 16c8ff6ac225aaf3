#!/usr/bin/env bash
# Run the connector on 127.0.0.1:8080 with its embedded defaults (development mode,
# SQLite state in ./connector-state.sqlite3). Creates .venv on first use.
# Arguments go to `connector serve`, e.g. `scripts/serve.sh --port 9000`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${VENV:-.venv}"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e .
exec "$venv/bin/connector" serve "$@"
