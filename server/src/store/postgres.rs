//! Postgres writes: one `INSERT … SELECT FROM UNNEST(…) ON CONFLICT` per batch — one bind
//! parameter per column whatever the batch size — and one more for the counters.

use super::{DeadLetter, WriteOutcome};
use crate::ingest::record::TaskRecord;
use crate::ingest::stats;
use sqlx::PgPool;

/// Same state machine as the SQLite store (`TaskRecord::accepts`).
const UPSERT: &str = "
INSERT INTO tasks (task_id, queue, function, state, run_times, params, result, exception_type,
    exception_msg, traceback, publish_time, start_time, end_time, cost, host_name, process_id,
    thread_id, script_name, consumer_id, extra, updated_at, sort_time)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int2[], $5::int4[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[], $13::float8[], $14::float8[],
    $15::text[], $16::int8[], $17::int8[], $18::text[], $19::text[], $20::text[], $21::float8[], $22::float8[])
ON CONFLICT (task_id) DO UPDATE SET
    queue = EXCLUDED.queue,
    function = COALESCE(EXCLUDED.function, tasks.function),
    state = EXCLUDED.state,
    run_times = GREATEST(EXCLUDED.run_times, tasks.run_times),
    params = COALESCE(EXCLUDED.params, tasks.params),
    result = COALESCE(EXCLUDED.result, tasks.result),
    exception_type = COALESCE(EXCLUDED.exception_type, tasks.exception_type),
    exception_msg = COALESCE(EXCLUDED.exception_msg, tasks.exception_msg),
    traceback = COALESCE(EXCLUDED.traceback, tasks.traceback),
    publish_time = COALESCE(EXCLUDED.publish_time, tasks.publish_time),
    start_time = COALESCE(EXCLUDED.start_time, tasks.start_time),
    end_time = COALESCE(EXCLUDED.end_time, tasks.end_time),
    cost = COALESCE(EXCLUDED.cost, tasks.cost),
    host_name = COALESCE(EXCLUDED.host_name, tasks.host_name),
    process_id = COALESCE(EXCLUDED.process_id, tasks.process_id),
    thread_id = COALESCE(EXCLUDED.thread_id, tasks.thread_id),
    script_name = COALESCE(EXCLUDED.script_name, tasks.script_name),
    consumer_id = COALESCE(EXCLUDED.consumer_id, tasks.consumer_id),
    extra = EXCLUDED.extra,
    updated_at = EXCLUDED.updated_at,
    sort_time = COALESCE(EXCLUDED.start_time, tasks.start_time, EXCLUDED.publish_time, tasks.publish_time, tasks.sort_time)
WHERE LEAST(EXCLUDED.state, 2) > LEAST(tasks.state, 2)
   OR (EXCLUDED.state = 1 AND tasks.state = 1 AND EXCLUDED.run_times > tasks.run_times)
RETURNING queue, state, publish_time, start_time, end_time, cost, sort_time";

const ADD_STATS: &str = "
INSERT INTO task_stats (queue, grain, bucket, metric, idx, count, total)
SELECT * FROM UNNEST($1::text[], $2::int2[], $3::int8[], $4::int2[], $5::int2[], $6::int8[], $7::float8[])
ON CONFLICT (queue, grain, bucket, metric, idx) DO UPDATE SET
    count = task_stats.count + EXCLUDED.count, total = task_stats.total + EXCLUDED.total";

const SEEN_QUEUES: &str = "
INSERT INTO queues (queue, first_seen, last_seen)
SELECT q, t, t FROM UNNEST($1::text[], $2::float8[]) AS seen(q, t)
ON CONFLICT (queue) DO UPDATE SET last_seen = GREATEST(queues.last_seen, EXCLUDED.last_seen)";

const ADD_DEAD: &str = "
INSERT INTO dead_letters (received_at, source, error, payload)
SELECT * FROM UNNEST($1::float8[], $2::text[], $3::text[], $4::text[])";

pub async fn write_batch(
    pool: &PgPool,
    records: &[TaskRecord],
    dead: &[DeadLetter],
) -> sqlx::Result<WriteOutcome> {
    macro_rules! col {
        ($f:expr) => {
            records.iter().map($f).collect::<Vec<_>>()
        };
    }
    let mut tx = pool.begin().await?;
    let rows: Vec<super::sqlite::Returned> = sqlx::query_as(UPSERT)
        .bind(col!(|r| r.task_id.as_str()))
        .bind(col!(|r| r.queue.as_str()))
        .bind(col!(|r| r.function.as_deref()))
        .bind(col!(|r| r.state.code()))
        .bind(col!(|r| r.run_times as i32))
        .bind(col!(|r| r.params.as_deref()))
        .bind(col!(|r| r.result.as_deref()))
        .bind(col!(|r| r.exception_type.as_deref()))
        .bind(col!(|r| r.exception_msg.as_deref()))
        .bind(col!(|r| r.traceback.as_deref()))
        .bind(col!(|r| r.publish_time))
        .bind(col!(|r| r.start_time))
        .bind(col!(|r| r.end_time))
        .bind(col!(|r| r.cost))
        .bind(col!(|r| r.host_name.as_deref()))
        .bind(col!(|r| r.process_id))
        .bind(col!(|r| r.thread_id))
        .bind(col!(|r| r.script_name.as_deref()))
        .bind(col!(|r| r.consumer_id.as_deref()))
        .bind(col!(|r| r.extra.as_str()))
        .bind(col!(|r| r.updated_at))
        .bind(col!(|r| r.sort_time()))
        .fetch_all(&mut *tx)
        .await?;
    let changed = rows.len();
    let finished: Vec<_> = rows
        .into_iter()
        .filter_map(super::sqlite::finished_from_row)
        .collect();
    let increments = stats::increments(&finished);
    if !increments.is_empty() {
        sqlx::query(ADD_STATS)
            .bind(
                increments
                    .iter()
                    .map(|(k, _)| k.queue.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                increments
                    .iter()
                    .map(|(k, _)| k.grain.code())
                    .collect::<Vec<_>>(),
            )
            .bind(increments.iter().map(|(k, _)| k.bucket).collect::<Vec<_>>())
            .bind(increments.iter().map(|(k, _)| k.metric).collect::<Vec<_>>())
            .bind(increments.iter().map(|(k, _)| k.idx).collect::<Vec<_>>())
            .bind(increments.iter().map(|(_, v)| v.count).collect::<Vec<_>>())
            .bind(increments.iter().map(|(_, v)| v.total).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
    }
    let seen = super::queues_seen(records);
    if !seen.is_empty() {
        sqlx::query(SEEN_QUEUES)
            .bind(seen.iter().map(|(q, _)| *q).collect::<Vec<_>>())
            .bind(seen.iter().map(|(_, t)| *t).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
    }
    if !dead.is_empty() {
        sqlx::query(ADD_DEAD)
            .bind(dead.iter().map(|d| d.received_at).collect::<Vec<_>>())
            .bind(dead.iter().map(|d| d.source.as_str()).collect::<Vec<_>>())
            .bind(dead.iter().map(|d| d.error.as_str()).collect::<Vec<_>>())
            .bind(dead.iter().map(|d| d.payload.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(WriteOutcome {
        changed,
        finished: finished.len(),
    })
}
