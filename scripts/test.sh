#!/usr/bin/env bash
# Runs every taskdeck test against real services: Postgres and Redis started here on loopback,
# then the Rust test suite, then the Playwright suite in Debian Chromium against a running
# taskdeck. Stops everything it started, by pid, whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/ensure-tools.sh --test || exit 1

. scripts/services.sh
state=$(mktemp -d /tmp/taskdeck-test.XXXXXX)
taskdeck_pid=

cleanup() {
  [ -n "$taskdeck_pid" ] && kill "$taskdeck_pid" 2>/dev/null && wait "$taskdeck_pid" 2>/dev/null
  services_stop "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo; echo "==> $*"; }

step "starting Postgres, Redis and a MongoDB-protocol server on 127.0.0.1"
services_start "$state" || exit 1

step "cargo test"
cargo test --workspace --exclude frontend --no-fail-fast 2>&1 | tee "$state/cargo-test.log"
cargo_status=${PIPESTATUS[0]}

step "building the site and the server"
scripts/build-site.sh dev && cargo build -p server
build_status=$?

e2e_status=1
if [ "$build_status" = 0 ]; then
  step "Playwright end-to-end tests in Chromium"
  port=$(free_port)
  mkdir -p "$state/e2e"
  # Redis database 3 is the end-to-end tests' own: they write heartbeats into it.
  e2e_redis="${TEST_REDIS_URL%/*}/3"
  redis-cli -u "$e2e_redis" FLUSHDB >/dev/null
  bin="${CARGO_TARGET_DIR:-$root/target}/debug/taskdeck"
  # The admin signs in with this password (global-setup.ts); events are posted with a token.
  export TASKDECK_ADMIN_PASSWORD="e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  e2e_token=$(cd "$state/e2e" && "$bin" token create --scope ingest,read,control --name e2e \
    --store "sqlite:$state/e2e/taskdeck.db")
  (cd "$state/e2e" && exec "$bin" serve --bind "127.0.0.1:$port" \
     --site-root "$root/target/site" --store "sqlite:$state/e2e/taskdeck.db" --redis "$e2e_redis" \
     --no-demo --search-scan 100) >"$state/taskdeck.log" 2>&1 &
  taskdeck_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  TASKDECK_E2E_URL="http://127.0.0.1:$port" TASKDECK_E2E_REDIS="$e2e_redis" TASKDECK_E2E_TOKEN="$e2e_token" \
  TASKDECK_E2E_PASSWORD="$TASKDECK_ADMIN_PASSWORD" TASKDECK_E2E_BIN="$bin" TASKDECK_E2E_SITE="$root/target/site" \
  npx --no-install playwright test \
    --config end2end/playwright.config.ts 2>&1 | tee "$state/e2e.log"
  e2e_status=${PIPESTATUS[0]}
  # A panic on the server fails the run even when every page looked right.
  if grep -q panicked "$state/taskdeck.log"; then
    echo "taskdeck panicked during the end-to-end tests:"
    grep -A 12 panicked "$state/taskdeck.log" | head -n 40
    e2e_status=1
  fi
  [ "$e2e_status" = 0 ] || { echo "--- taskdeck log"; tail -n 50 "$state/taskdeck.log"; }
fi

# One closing line over both runners.
passed=$(grep -hoE '[0-9]+ passed' "$state/cargo-test.log" "$state/e2e.log" 2>/dev/null | awk '{s+=$1} END {print s+0}')
failed=$(grep -hoE '[0-9]+ failed' "$state/cargo-test.log" "$state/e2e.log" 2>/dev/null | awk '{s+=$1} END {print s+0}')
echo
[ "$cargo_status" = 0 ] || echo "cargo test failed"
[ "$build_status" = 0 ] || echo "building the site or the server failed"
[ "$e2e_status" = 0 ] || echo "end-to-end tests failed"
if [ "$cargo_status" = 0 ] && [ "$build_status" = 0 ] && [ "$e2e_status" = 0 ]; then
  echo "$passed passed, $failed failed"
  exit 0
fi
[ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
exit 1
