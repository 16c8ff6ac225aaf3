#!/usr/bin/env bash
# Run every test: Python unit + HTTP tests (gunicorn), schemathesis, the n8n end-to-end
# test on a real n8n, and the Zapier app's validation, tests and build.
# Works on a fresh machine: creates .venv, installs the pinned n8n (cached) and npm deps.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k ledger` (the Zapier part then
# still runs; set SKIP_ZAPIER=1 to leave it out while iterating).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${VENV:-.venv}"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
venv="$(cd "$venv" && pwd)"  # absolute, whether VENV was relative or not
# Install only into a new venv or after pyproject.toml or constraints.txt changed, at the
# versions CI passed with (see scripts/serve.sh).
stamp="$venv/.connector-install"
hash="$("$venv/bin/python" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read() + open("constraints.txt", "rb").read()).hexdigest())')"
if ! { [[ -x "$venv/bin/connector" ]] && grep -qxF "$hash .[test]" "$stamp" 2>/dev/null; }; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
  echo "$hash .[test]" > "$stamp"
fi
export PATH="$venv/bin:$PATH" CONNECTOR_PYTHON="$venv/bin/python"

N8N_BIN="$(bash scripts/install-n8n.sh)"
export N8N_BIN

python -m pytest "$@"

if [[ "${SKIP_ZAPIER:-}" != "1" ]]; then
  bash zapier-app/scripts/ci.sh
fi
