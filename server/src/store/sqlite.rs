//! SQLite writes: one transaction per batch, one cached prepared statement per row.

use super::{DeadLetter, WriteOutcome};
use crate::ingest::record::TaskRecord;
use crate::ingest::stats::{self, Finished};
use protocol::event::TaskState;
use sqlx::SqlitePool;

/// The state machine of `TaskRecord::accepts`, in SQL: the rank (`min(state, 2)`) must rise,
/// or a running task must report a later attempt. RETURNING yields only rows that changed.
const UPSERT: &str = "
INSERT INTO tasks (task_id, queue, function, state, run_times, params, result, exception_type,
    exception_msg, traceback, publish_time, start_time, end_time, cost, host_name, process_id,
    thread_id, script_name, consumer_id, extra, updated_at, sort_time)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
ON CONFLICT (task_id) DO UPDATE SET
    queue = excluded.queue,
    function = COALESCE(excluded.function, tasks.function),
    state = excluded.state,
    run_times = MAX(excluded.run_times, tasks.run_times),
    params = COALESCE(excluded.params, tasks.params),
    result = COALESCE(excluded.result, tasks.result),
    exception_type = COALESCE(excluded.exception_type, tasks.exception_type),
    exception_msg = COALESCE(excluded.exception_msg, tasks.exception_msg),
    traceback = COALESCE(excluded.traceback, tasks.traceback),
    publish_time = COALESCE(excluded.publish_time, tasks.publish_time),
    start_time = COALESCE(excluded.start_time, tasks.start_time),
    end_time = COALESCE(excluded.end_time, tasks.end_time),
    cost = COALESCE(excluded.cost, tasks.cost),
    host_name = COALESCE(excluded.host_name, tasks.host_name),
    process_id = COALESCE(excluded.process_id, tasks.process_id),
    thread_id = COALESCE(excluded.thread_id, tasks.thread_id),
    script_name = COALESCE(excluded.script_name, tasks.script_name),
    consumer_id = COALESCE(excluded.consumer_id, tasks.consumer_id),
    extra = excluded.extra,
    updated_at = excluded.updated_at,
    sort_time = COALESCE(excluded.start_time, tasks.start_time, excluded.publish_time, tasks.publish_time, tasks.sort_time)
WHERE MIN(excluded.state, 2) > MIN(tasks.state, 2)
   OR (excluded.state = 1 AND tasks.state = 1 AND excluded.run_times > tasks.run_times)
RETURNING queue, state, publish_time, start_time, end_time, cost, sort_time";

const ADD_STAT: &str = "
INSERT INTO task_stats (queue, grain, bucket, metric, idx, count, total) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (queue, grain, bucket, metric, idx) DO UPDATE SET
    count = task_stats.count + excluded.count, total = task_stats.total + excluded.total";

const SEEN_QUEUE: &str = "
INSERT INTO queues (queue, first_seen, last_seen) VALUES (?1, ?2, ?2)
ON CONFLICT (queue) DO UPDATE SET last_seen = MAX(queues.last_seen, excluded.last_seen)";

const ADD_DEAD: &str =
    "INSERT INTO dead_letters (received_at, source, error, payload) VALUES (?1, ?2, ?3, ?4)";

pub(super) type Returned = (
    String,
    i16,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
);

pub async fn write_batch(
    pool: &SqlitePool,
    records: &[TaskRecord],
    dead: &[DeadLetter],
) -> sqlx::Result<WriteOutcome> {
    let mut tx = pool.begin().await?;
    let mut finished = Vec::new();
    let mut changed = 0;
    for r in records {
        let row: Option<Returned> = sqlx::query_as(UPSERT)
            .bind(&r.task_id)
            .bind(&r.queue)
            .bind(&r.function)
            .bind(r.state.code())
            .bind(i64::from(r.run_times))
            .bind(&r.params)
            .bind(&r.result)
            .bind(&r.exception_type)
            .bind(&r.exception_msg)
            .bind(&r.traceback)
            .bind(r.publish_time)
            .bind(r.start_time)
            .bind(r.end_time)
            .bind(r.cost)
            .bind(&r.host_name)
            .bind(r.process_id)
            .bind(r.thread_id)
            .bind(&r.script_name)
            .bind(&r.consumer_id)
            .bind(&r.extra)
            .bind(r.updated_at)
            .bind(r.sort_time())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = row {
            changed += 1;
            if let Some(f) = finished_from_row(row) {
                finished.push(f);
            }
        }
    }
    let increments = stats::increments(&finished);
    for (k, v) in &increments {
        sqlx::query(ADD_STAT)
            .bind(&k.queue)
            .bind(k.grain.code())
            .bind(k.bucket)
            .bind(k.metric)
            .bind(k.idx)
            .bind(v.count)
            .bind(v.total)
            .execute(&mut *tx)
            .await?;
    }
    for (queue, seen) in super::queues_seen(records) {
        sqlx::query(SEEN_QUEUE)
            .bind(queue)
            .bind(seen)
            .execute(&mut *tx)
            .await?;
    }
    for d in dead {
        sqlx::query(ADD_DEAD)
            .bind(d.received_at)
            .bind(&d.source)
            .bind(&d.error)
            .bind(&d.payload)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(WriteOutcome {
        changed,
        finished: finished.len(),
    })
}

/// The counters' view of a row the upsert changed, if that row is now final.
pub(super) fn finished_from_row(row: Returned) -> Option<Finished> {
    let (queue, state, publish, start, end, cost, sort_time) = row;
    let state = TaskState::from_code(state).filter(|s| s.is_final())?;
    Some(Finished {
        queue,
        state,
        at: end.unwrap_or(sort_time),
        cost,
        wait: start.zip(publish).map(|(s, p)| s - p).filter(|w| *w >= 0.0),
    })
}
