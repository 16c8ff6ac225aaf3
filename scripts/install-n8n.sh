#!/usr/bin/env bash
# Install the n8n pinned in tests/e2e/n8n/package.json into a cache directory
# outside the clone and print the path of its `n8n` binary on stdout.
#
# The cache is keyed by the hash of package.json, so changing the pin installs
# afresh and an unchanged pin returns at once. Works on a fresh machine (needs
# Node 20.19+, npm, and a C toolchain for sqlite3's source build).
#
#   N8N_CACHE_DIR   where installs live (default ~/.cache/koji-connector/n8n)
#
# Why `npm install` and not `npm ci`: the lockfile npm writes for n8n 2.8.4 with
# the xlsx override is refused by `npm ci` (see docs of the tests).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pin="$here/tests/e2e/n8n/package.json"
cache_root="${N8N_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/koji-connector/n8n}"
key="$(sha256sum "$pin" | cut -c1-16)"
dest="$cache_root/$key"
bin="$dest/node_modules/.bin/n8n"

log() { echo "install-n8n: $*" >&2; }

if [[ -f "$dest/.complete" && -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

command -v npm >/dev/null || { log "npm not found: install Node.js 20.19+ first"; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { log "n8n 2.8.4 needs Node >= 20.19 (found $(node --version))"; exit 1; }

mkdir -p "$cache_root"
# Build in a private directory and rename at the end, so an interrupted install
# never looks complete and two concurrent installs do not share a half tree.
work="$(mktemp -d "$cache_root/.tmp-$key-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$pin" "$work/package.json"

log "installing n8n into $dest (cold install takes about 4 minutes)"
(
  cd "$work"
  SCARF_ANALYTICS=false N8N_DISABLE_SCARF=true \
    npm install --no-audit --no-fund --loglevel=error >&2
)
"$work/node_modules/.bin/n8n" --version >&2
touch "$work/.complete"

if [[ -e "$dest" ]]; then
  # Another run finished first, or a broken earlier attempt: keep a complete one.
  if [[ -f "$dest/.complete" ]]; then echo "$bin"; exit 0; fi
  rm -rf "$dest"
fi
mv "$work" "$dest"
trap - EXIT
echo "$bin"
