#!/usr/bin/env bash
# `make run`: bootstrap, then the whole system on this machine (`hero-foundry up`, passing any
# arguments on): the api on http://127.0.0.1:8000 (docs at /docs; migrations applied first, SQLite
# under ./var unless HERO_FOUNDRY_DATABASE_URL says otherwise), Prometheus, Alertmanager, the
# exporters and the local notification sink. Ctrl-C stops all of it; ./var keeps the data.
# docs/local-stack.md. The api alone, as before: .venv/bin/hero-foundry serve
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
mkdir -p var
# The web front end (web/dist), rebuilt when its sources changed; without Node.js the rest runs.
scripts/web.sh || echo "[run] the web front end could not be built (see above): starting without it" >&2
exec .venv/bin/hero-foundry up "$@"
