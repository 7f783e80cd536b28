#!/usr/bin/env bash
# `make test`: the whole suite. Bootstraps .venv, provides PostgreSQL and Redis, runs pytest.
# With CI=true every test must run: a server that cannot be provided fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if ! scripts/services.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "[test] CI=true and PostgreSQL, Redis or a Prometheus tool is not available: failing" >&2
    exit 1
  fi
  echo "[test] PostgreSQL, Redis or a Prometheus tool unavailable: their tests will be skipped (never in CI)" >&2
fi
exec .venv/bin/python -m pytest "$@"
