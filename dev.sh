#!/usr/bin/env bash
# hotline1567 set-up and entry points. Two commands do everything (see README):
#   ./dev.sh run    install what is missing, then start the whole system on embedded defaults
#   ./dev.sh test   install what is missing, then run the linters and the complete test suite
# Also: ./dev.sh setup (install only), ./dev.sh lint, ./dev.sh bench, ./dev.sh lock (re-pin).
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(python3-venv python3-dev build-essential redis-server kamailio fonts-thai-tlwg-otf
              kamailio-extra-modules kamailio-sqlite-modules kamailio-postgres-modules
              sip-tester espeak-ng sox chromium chromium-driver
              prometheus)  # prometheus: its promtool checks the exported metrics in the suite
VENV=.venv
PY=${PYTHON:-python3}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

ensure_debian_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  # python3-venv is only needed when the interpreter cannot make a venv by itself.
  if "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    missing=("${missing[@]/python3-venv/}")
    missing=("${missing[@]/python3-dev/}")
  fi
  local wanted=()
  for pkg in "${missing[@]}"; do [ -n "$pkg" ] && wanted+=("$pkg"); done
  if [ ${#wanted[@]} -gt 0 ]; then
    say "installing Debian packages: ${wanted[*]}"
    as_root apt-get update -qq
    # Packages' own services (redis-server, kamailio) are not needed: the system runs its own.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${wanted[@]}"
    # Only promtool is wanted from the prometheus package; leave no Prometheus server running.
    if [[ " ${wanted[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
      as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
}

ensure_python() {
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))"; exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment in $VENV"
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    say "installing Python packages (every pin in requirements.lock)"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r requirements.lock
    # The project itself, built with the locked setuptools; its dependencies are all in the lock.
    "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e .
    if ! "$VENV/bin/pip" check >/dev/null; then
      "$VENV/bin/pip" check >&2 || true
      say "requirements.lock does not satisfy pyproject.toml: run ./dev.sh lock"; exit 1
    fi
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

# Fresh lock files from pyproject.toml: a clean venv per file ('.[dev]' for requirements.lock, '.'
# for requirements-runtime.lock), every installed version frozen; dependencies with a marker
# (audioop-lts on 3.13) keep their line.
lock_one() {
  local target=$1 spec=$2 tmp
  tmp=$(mktemp -d)
  "$PY" -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q --upgrade pip
  "$tmp/venv/bin/pip" install -q "$(grep -o '"setuptools==[^"]*"' pyproject.toml | tr -d '"')"
  "$tmp/venv/bin/pip" install -q --no-build-isolation "$spec"
  {
    grep '^#' "$target"
    "$tmp/venv/bin/pip" freeze --all --exclude-editable | grep -v -i -e '^hotline1567' -e '^pip=='
    "$tmp/venv/bin/python" - "$spec" <<'PY'
import sys
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
wanted = project["dependencies"]
if sys.argv[1].endswith("[dev]"):
    wanted = wanted + project["optional-dependencies"]["dev"]
for requirement in wanted:
    if ";" in requirement:
        pin, marker = (part.strip() for part in requirement.split(";", 1))
        print(f"{pin} ; {marker.replace(chr(39), chr(34))}")
PY
  } > "$tmp/lock"
  mv "$tmp/lock" "$target"
  rm -rf "$tmp"
  say "$target written ($(grep -c '==' "$target") pins)"
}

lock() {
  lock_one requirements.lock '.[dev]'
  lock_one requirements-runtime.lock '.'
}

setup() {
  ensure_debian_packages
  ensure_python
}

lint() {
  say "ruff, mypy and the architecture contracts"
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  "$VENV/bin/mypy"
  "$VENV/bin/lint-imports"
}

case "${1:-}" in
  run)
    setup
    shift
    exec "$VENV/bin/hotline1567" run "$@"
    ;;
  test)
    setup
    lint
    shift
    say "test suite (SQLite always; PostgreSQL too when HOTLINE_TEST_DATABASE_URL is set)"
    exec "$VENV/bin/pytest" "$@"
    ;;
  setup) setup ;;
  lock) lock ;;
  lint) setup; lint ;;
  bench)
    setup
    shift
    exec "$VENV/bin/python" bench/tickets.py "$@"
    ;;
  *)
    echo "usage: ./dev.sh run | test [pytest args] | setup | lint | bench | lock" >&2
    exit 2
    ;;
esac
