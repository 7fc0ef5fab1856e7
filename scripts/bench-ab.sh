#!/usr/bin/env bash
# Compares Postgres ingest of two or more taskdeck binaries on this machine, where one run's
# figure moves by ±5 %: the binaries take turns for ROUNDS rounds on the same durable Postgres
# server (a database each) and Redis, each run into emptied tables after a CHECKPOINT (else the previous run's
# checkpoint lands in the next measurement), and the median of each is printed. Figures, never
# pass/fail. Also prints the median of taskdeck's own CPU time per run.
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
# Each binary its own database, migrated by itself: builds of different schema versions can be
# compared (one refuses a database another migrated further).
store_of=()
for k in $(seq $#); do
  psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE ab$k"
  store_of[k]="${TEST_POSTGRES_URL%/postgres}/ab$k"
  "${!k}" bench ingest --store "${store_of[k]}" --redis "$redis" --tasks 1000 >/dev/null
done

for round in $(seq "$rounds"); do
  k=0
  for bin in "$@"; do
    k=$((k + 1)) store=${store_of[k]}
    psql -q "$store" -c "TRUNCATE tasks, task_stats, queues, failure_stats" -c "CHECKPOINT"
    out=$("$bin" bench ingest --store "$store" --redis "$redis" --tasks "$tasks" "${lag[@]}")
    rate=$(sed -n 's/.*= *\([0-9]*\) events\/s.*/\1/p' <<<"$out")
    cpu=$(sed -n 's/.*taskdeck CPU \([0-9.]*\) s.*/\1/p' <<<"$out")
    echo "round $round  $bin  $rate events/s  $cpu s" | tee -a "$state/rates"
  done
done
echo
# The rate, and taskdeck's own CPU time (steadier than the rate: it moves only with taskdeck's work).
median() { sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
  printf "%s %s %s %s\n", m, v[1], v[NR], NR }'; }
for bin in "$@"; do
  read -r m lo hi n < <(grep -F "  $bin  " "$state/rates" | awk '{ print $4 }' | median)
  read -r c clo chi _ < <(grep -F "  $bin  " "$state/rates" | awk '{ print $6 }' | median)
  printf "median of %d  %s  %.0f events/s (%.0f – %.0f), taskdeck CPU %.2f s (%.2f – %.2f)\n" "$n" "$bin" "$m" "$lo" "$hi" "$c" "$clo" "$chi"
done
