#!/usr/bin/env bash
# Compares Postgres ingest of two or more taskdeck binaries on this machine, where one run's
# figure moves by ±5 %: the binaries take turns for ROUNDS rounds on the same durable Postgres
# and Redis, each run into emptied tables after a CHECKPOINT (else the previous run's
# checkpoint lands in the next measurement), and the median of each is printed. Figures, never
# pass/fail.
# Usage: scripts/bench-ab.sh [-r ROUNDS] [-t TASKS] [-l FINISH_LAG] BINARY...
#   e.g. cp target/release/taskdeck /tmp/before; (change, cargo build --release -p server);
#        scripts/bench-ab.sh /tmp/before target/release/taskdeck
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 tasks=250000 lag=()
while getopts r:t:l: opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    t) tasks=$OPTARG ;;
    l) lag=(--finish-lag "$OPTARG") ;;
    *) sed -n 2,10p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n 2,10p "$0"; exit 2; }

. scripts/services.sh
state=$(mktemp -d /tmp/taskdeck-ab.XXXXXX)
trap 'services_stop "$state"' EXIT
services_start "$state" durable >/dev/null
redis="${TEST_REDIS_URL%/0}/5"
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE ab"
store="${TEST_POSTGRES_URL%/postgres}/ab"
# The schema, migrated by the first binary.
"$1" bench ingest --store "$store" --redis "$redis" --tasks 1000 >/dev/null

for round in $(seq "$rounds"); do
  for bin in "$@"; do
    psql -q "$store" -c "TRUNCATE tasks, task_stats, queues, failure_stats" -c "CHECKPOINT"
    rate=$("$bin" bench ingest --store "$store" --redis "$redis" --tasks "$tasks" "${lag[@]}" |
      sed -n 's/.*= *\([0-9]*\) events\/s.*/\1/p')
    echo "round $round  $bin  $rate events/s" | tee -a "$state/rates"
  done
done
echo
for bin in "$@"; do
  grep -F "  $bin  " "$state/rates" | awk '{ print $(NF - 1) }' | sort -n |
    awk -v c="$bin" '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
      printf "median of %d  %s  %.0f events/s (%.0f – %.0f)\n", NR, c, m, v[1], v[NR] }'
done
