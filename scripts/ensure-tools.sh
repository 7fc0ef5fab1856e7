#!/usr/bin/env bash
# Installs what building (and, with --test, testing) taskdeck needs and is missing.
# Idempotent: a second run finds everything in place and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen crate pinned in Cargo.toml

say() { echo "==> $*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once)"
  # Not --locked: its lockfile names a crate version the registry does not serve.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--test" ]; then
  missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v chromium >/dev/null || missing+=(chromium)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # Python packages the tests and benchmarks run: a MongoDB-protocol server (test-only) and
  # pymongo for funboost's baseline.
  venv=target/test-venv
  if ! "$venv/bin/python" -c 'import secantus, pymongo' 2>/dev/null; then
    say "creating the test Python environment in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --pre secantusdb==0.7.0b3 pymongo
  fi
  # Real funboost workers and producers for the interoperability tests, in their own
  # environment (funboost pins its own redis and pymongo).
  fb=target/funboost-venv
  if ! "$fb/bin/python" -c 'import funboost' 2>/dev/null; then
    say "installing funboost 55.0 from PyPI into $fb"
    python3 -m venv "$fb"
    "$fb/bin/pip" install -q --disable-pip-version-check funboost==55.0
  fi
fi
