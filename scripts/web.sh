#!/usr/bin/env bash
# Build the web front end (web/dist) when it is missing or older than its sources.
# `npm ci` runs first when web/node_modules is missing or older than the lock file.
# Used by scripts/run.sh (make run) and by the tests that need the bundle.
set -euo pipefail
cd "$(dirname "$0")/../web"

say() { printf '\033[1m[web]\033[0m %s\n' "$*" >&2; }
if ! command -v npm >/dev/null 2>&1; then
  say "npm is not installed: install Node.js 20.19+ and npm to build the front end"
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  say "installing the front end's packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch node_modules
fi
stale=$(find src public index.html package.json package-lock.json vite.config.ts tsconfig.json \
  -newer dist/index.html -print -quit 2>/dev/null || echo missing)
if [ ! -f dist/index.html ] || [ -n "$stale" ]; then
  say "building web/dist"
  npm run build --silent >&2
fi
