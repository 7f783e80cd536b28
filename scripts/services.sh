#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1 for the integration tests, and that the
# Prometheus-side tools the monitoring tests run (promtool, amtool, the exporters) are installed.
# Installs them with apt-get (as root on Debian/Ubuntu) and starts them when they are not running.
# Outside CI a missing server is reported and its tests are skipped; with CI=true they must run,
# so a server that cannot be provided fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[services]\033[0m %s\n' "$*" >&2; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
pg_up() { .venv/bin/python - <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 5432)) == 0 else 1)
PY
}
redis_up() { .venv/bin/python - <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 6379)) == 0 else 1)
PY
}
apt_updated=
apt_get() {
  [ -n "$apt_updated" ] || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

status=0
if [ -n "${HERO_FOUNDRY_TEST_POSTGRES_URL:-}" ]; then
  say "PostgreSQL: using HERO_FOUNDRY_TEST_POSTGRES_URL"
elif ! pg_up; then
  if can_apt; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      say "installing PostgreSQL"
      apt_get postgresql || say "apt-get install postgresql failed"
    fi
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start \
      2>/dev/null || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    # Fresh Debian clusters require a password over TCP: give the test role one.
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true
  fi
  pg_up || { say "PostgreSQL is not reachable on 127.0.0.1:5432"; status=1; }
fi

if [ -n "${HERO_FOUNDRY_TEST_REDIS_URL:-}" ]; then
  say "Redis: using HERO_FOUNDRY_TEST_REDIS_URL"
elif ! redis_up; then
  if can_apt; then
    command -v redis-server >/dev/null 2>&1 || { say "installing Redis"; apt_get redis-server; }
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/hero-foundry-tests.log >/dev/null 2>&1 || true
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  fi
  redis_up || { say "Redis is not reachable on 127.0.0.1:6379"; status=1; }
fi
# The Prometheus-side tools the monitoring tests run for real: promtool (package prometheus),
# amtool (prometheus-alertmanager) and the exporters the dashboards' queries are checked against.
need_tool() {  # need_tool COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if can_apt; then
    say "installing $2 ($1)"
    apt_get "$2" || say "apt-get install $2 failed"
  fi
  command -v "$1" >/dev/null 2>&1 || { say "$1 is not installed (Debian package $2)"; status=1; }
}
need_tool promtool prometheus
# The runbooks' commands (monitoring/runbooks/) call the HTTP APIs with curl.
need_tool curl curl
need_tool prometheus-alertmanager prometheus-alertmanager
need_tool amtool prometheus-alertmanager
need_tool prometheus-node-exporter prometheus-node-exporter
need_tool prometheus-postgres-exporter prometheus-postgres-exporter
need_tool prometheus-redis-exporter prometheus-redis-exporter
# kubectl builds the generated kustomization and dry-runs the documented secrets.
need_tool kubectl kubernetes-client
# Debian's Chromium drives the browser end-to-end tests (playwright-core, no browser download).
need_tool chromium chromium
# Node.js and npm build and unit-test the front end (web/: Vite needs Node 20.19 or newer).
need_tool node nodejs
need_tool npm npm

exit $status
