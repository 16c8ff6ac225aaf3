#!/usr/bin/env bash
# Run the connector on 127.0.0.1:8080 with its embedded defaults (development mode,
# SQLite state in ./connector-state.sqlite3). Creates .venv on first use.
# Arguments go to `connector serve`, e.g. `scripts/serve.sh --port 9000`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${VENV:-.venv}"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
# Install only into a new venv or after pyproject.toml or constraints.txt changed: an install
# needs the package index (setuptools to build), which a start should not. The stamp holds
# their hash and what was installed; scripts/test.sh's '.[test]' has all that '.' has. The
# versions are the ones CI passed with (constraints.txt).
stamp="$venv/.connector-install"
hash="$("$venv/bin/python" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read() + open("constraints.txt", "rb").read()).hexdigest())')"
if ! { [[ -x "$venv/bin/connector" ]] && grep -qxF -e "$hash ." -e "$hash .[test]" "$stamp" 2>/dev/null; }; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
  echo "$hash ." > "$stamp"
fi
exec "$venv/bin/connector" serve "$@"
