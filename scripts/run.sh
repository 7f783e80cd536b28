#!/usr/bin/env bash
# `make run`: bootstrap, apply migrations, serve on http://127.0.0.1:8000 (docs at /docs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
mkdir -p var
.venv/bin/hero-foundry db upgrade
exec .venv/bin/hero-foundry serve "$@"
