#!/usr/bin/env bash
# Ingest benchmarks, side by side in one run (figures, never pass/fail on timing):
#   1. events/s from the Redis stream into SQLite and into Postgres (median of PG_ROUNDS, default
#      3), taskdeck CPU and peak RSS;
#   2. the ceiling: a raw binary COPY of the same rows into the same Postgres, and the baseline:
#      funboost's own bulk ReplaceOne writes of the same events into the same MongoDB server;
#   3. durability: SIGKILL `taskdeck serve` while 1,000,000 events stream in through Redis,
#      restart it, and check every event is in the store exactly once;
#   4. workers: tasks/s of one Rust worker vs one funboost 55 worker on the same Redis (no-op and
#      1 ms tasks, every record sent to taskdeck), and the Rust worker's RSS at 10,000 in flight;
#   5. charts: p50/p95 of one queue's series per grain read from the write-time counters, against
#      counting records per bucket (funboost's method), over 1,000,000 records in SQLite and
#      SERIES_PG_TASKS (default 10,000,000; seeding takes ~12 min) in Postgres;
#   6. live: event-to-browser latency (stream entry to the overview's DOM, in Chromium) while
#      5,000 events/s stream in, and the server's CPU and RSS with 0, 1, 10 and 100 dashboards
#      open, on SQLite and on Postgres.
# Usage: scripts/bench.sh [TASKS] [MONGO_TASKS]   (defaults: 250,000 tasks = 500,000 events into
# SQLite and Postgres; 20,000 tasks into the MongoDB-protocol test server, which is a slow
# pure-Python server: its figures compare taskdeck with funboost on it, not with MongoDB; the two
# take MONGO_ROUNDS turns, default 3, and the medians are compared). BENCH_UPTO=N stops after
# section N (e.g. 3: the ingest figures alone, ~5 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-250000}
mongo_tasks=${2:-20000}
mongo_rounds=${MONGO_ROUNDS:-3}
pg_rounds=${PG_ROUNDS:-3}
# The median of the events/s figures on the lines of FILE that start with PREFIX.
median_rate() {
  awk -v p="$2" 'index($0, p) == 1 { for (i = 1; i < NF; i++) if ($(i + 1) == "events/s") print $i }' "$1" | sort -n |
    awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Section N runs only up to BENCH_UPTO.
section() { [ "$1" -le "${BENCH_UPTO:-7}" ] || exit 0; }

scripts/ensure-tools.sh --test
scripts/build-site.sh release
cargo build --release -p server
bin=$PWD/target/release/taskdeck

. scripts/services.sh
state=$(mktemp -d /tmp/taskdeck-bench.XXXXXX)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -9 "$serve_pid" 2>/dev/null
  services_stop "$state"
}
trap cleanup EXIT
services_start "$state" durable
redis_bench="${TEST_REDIS_URL%/0}/5"

echo; echo "== 1-2. stream -> store, $tasks tasks ($((tasks * 2)) events of ~1.1 KB)"
"$bin" bench ingest --store "sqlite:$state/bench.db" --redis "$redis_bench" --tasks "$tasks"
# One run moves by ±8 % here: PG_ROUNDS runs (default 3), each into emptied tables after a
# checkpoint (else the previous run's lands in the next), and their median; the last run also
# times the store path alone and the COPY ceiling.
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE bench"
pg_bench="${TEST_POSTGRES_URL%/postgres}/bench"
for round in $(seq "$pg_rounds"); do
  [ "$round" = 1 ] || psql -q "$pg_bench" -c "TRUNCATE tasks, task_stats, queues, failure_stats"
  psql -q "$pg_bench" -c "CHECKPOINT"
  last=(); [ "$round" = "$pg_rounds" ] && last=(--copy-ceiling)
  "$bin" bench ingest --store "$pg_bench" --redis "$redis_bench" --tasks "$tasks" "${last[@]}" | tee -a "$state/pg.txt"
done
printf "postgres  median of %d rounds: %.0f events/s\n" "$pg_rounds" "$(median_rate "$state/pg.txt" "postgres  stream")"
# Tasks that outlast a batch: each is written running, then updated when it finishes.
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE bench_long"
"$bin" bench ingest --store "${TEST_POSTGRES_URL%/postgres}/bench_long" --redis "$redis_bench" --tasks "$tasks" --finish-lag 25000
echo; echo "== 2b. MongoDB-protocol server, taskdeck vs funboost's own writes, $mongo_tasks tasks, $mongo_rounds rounds"
# The test server's speed drifts by 2-3x from one run to the next (it is pure Python): the two
# sides take turns, each round into fresh databases, and the medians are compared.
"$bin" bench export --tasks "$mongo_tasks" --out "$state/events.ndjson"
for round in $(seq "$mongo_rounds"); do
  "$bin" bench ingest --store "$TEST_MONGODB_URL/bench$round" --redis "$redis_bench" --tasks "$mongo_tasks" | tee -a "$state/mongo.txt"
  target/test-venv/bin/python scripts/funboost_baseline.py "$state/events.ndjson" "$TEST_MONGODB_URL" "baseline$round" | tee -a "$state/mongo.txt"
done
awk -v t="$(median_rate "$state/mongo.txt" "mongodb ")" -v f="$(median_rate "$state/mongo.txt" "funboost ")" -v n="$mongo_rounds" \
  'BEGIN { printf "mongodb   median of %d rounds: taskdeck %.0f events/s, funboost %.0f events/s = %.2fx\n", n, t, f, t / f }'

echo; echo "== 3. durability: SIGKILL while 1,000,000 events stream in, then restart"
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE durable"
store="${TEST_POSTGRES_URL%/postgres}/durable"
"$bin" bench load --redis "$redis_bench" --tasks 500000
serve() {
  "$bin" serve --bind 127.0.0.1:0 --store "$store" --redis "$redis_bench" --log warn >>"$state/serve.log" 2>&1 &
  serve_pid=$!
}
serve
sleep 4
left=$(redis-cli -u "$redis_bench" XLEN taskdeck:events)
kill -9 "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
echo "killed taskdeck with SIGKILL after 4 s, $left events still in the stream"
serve
# The new instance claims what the killed one held after 30 s of idleness.
for _ in $(seq 600); do
  len=$(redis-cli -u "$redis_bench" XLEN taskdeck:events)
  pending=$(redis-cli -u "$redis_bench" XPENDING taskdeck:events taskdeck | head -n 1)
  [ "$len" = 0 ] && [ "$pending" = 0 ] && break
  sleep 0.5
done
echo "after the restart the stream holds $len entries, $pending of them pending (both 0 when every entry was acknowledged and deleted)"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
"$bin" bench verify --store "$store" --tasks 500000

section 4
echo; echo "== 4. workers: Rust vs funboost 55 on the same Redis"
"$bin" bench worker --redis "${TEST_REDIS_URL%/0}"

section 5
echo; echo "== 5. chart series: counters vs counting records per bucket"
"$bin" bench series --store "sqlite:$state/series.db" --tasks 1000000
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE series"
"$bin" bench series --store "${TEST_POSTGRES_URL%/postgres}/series" --tasks "${SERIES_PG_TASKS:-10000000}"

section 6
echo; echo "== 6. live dashboards: event -> browser latency at 5,000 events/s; server CPU and RSS"
"$bin" bench live --store "sqlite:$state/live.db" --redis "${TEST_REDIS_URL%/0}/4"
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE live"
"$bin" bench live --store "${TEST_POSTGRES_URL%/postgres}/live" --redis "${TEST_REDIS_URL%/0}/4"

section 7
echo; echo "== 7. search: first-page latency of task searches; on MongoDB also funboost's way"
"$bin" bench search --store "sqlite:$state/search.db" --tasks 1000000
psql -q "$TEST_POSTGRES_URL" -c "CREATE DATABASE search"
"$bin" bench search --store "${TEST_POSTGRES_URL%/postgres}/search" --tasks "${SEARCH_PG_TASKS:-10000000}"
# The MongoDB-protocol test server takes records at a few hundred per second: a smaller store.
"$bin" bench search --store "$TEST_MONGODB_URL/search" --tasks "${SEARCH_MONGO_TASKS:-50000}"
