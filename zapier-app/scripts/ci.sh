#!/usr/bin/env bash
# CI for the Zapier app, called from the repo root as `bash zapier-app/scripts/ci.sh`.
#
# 1. npm dependencies (package-lock.json, npm's cache makes re-runs fast)
# 2. `zapier-platform validate --without-style` (offline checks; CLI 19 needs Node 22,
#    which npx brings from the npm registry: shared/reference/zapier.md)
# 3. node's test runner: every action through createAppTester against the real connector
#    under gunicorn. Needs a Python with the connector installed: CONNECTOR_PYTHON, else
#    python3 on PATH (the root scripts/test.sh sets both after `pip install -c constraints.txt -e .[test]`).
# 4. `zapier-platform build --skip-validation` and a check of the zip.
# Network: the npm registry only. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DISABLE_ZAPIER_ANALYTICS=1
CLI_PACKAGES=(-p node@22 -p zapier-platform-cli@19.1.0)
python="${CONNECTOR_PYTHON:-python3}"
started=$SECONDS

step() { echo "== zapier-app: $1 (at $(( SECONDS - started ))s)"; }
zapier_cli() { npx --yes "${CLI_PACKAGES[@]}" -c "zapier-platform $*"; }

step "npm ci"
npm ci --no-audit --no-fund --prefer-offline --loglevel=error

step "validate --without-style"
zapier_cli validate --without-style

step "tests against the connector ($python)"
if ! "$python" -c 'import connector, gunicorn' 2>/dev/null; then
  echo "zapier-app: $python cannot import the connector and gunicorn;" \
       "run 'pip install -e .[test]' at the repo root or set CONNECTOR_PYTHON" >&2
  exit 1
fi
CONNECTOR_PYTHON="$python" npm test

step "build --skip-validation"
rm -rf build
zapier_cli build --skip-validation
"$python" - <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile("build/build.zip").namelist())
missing = {"definition.json", "index.js", "zapierwrapper.js",
           "node_modules/zapier-platform-core/index.js"} - names
if missing:
    sys.exit(f"zapier-app: build/build.zip lacks {sorted(missing)}")
print(f"zapier-app: build/build.zip has {len(names)} files")
PY

step "done"
