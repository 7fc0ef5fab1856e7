//! SQLite writes: one transaction per batch, multi-row statements of up to 1,000 rows.

use super::{DeadLetter, WriteOutcome};
use crate::model::record::TaskRecord;
use crate::model::stats::{self, Finished};
use protocol::event::TaskState;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::sync::LazyLock;

/// Rows per multi-row statement: 23 parameters each stays under SQLite's 32,766 limit.
const ROWS_PER_STATEMENT: usize = 1_000;

static UPSERT_TAIL: LazyLock<String> = LazyLock::new(|| super::task_upsert_tail("MAX", "MIN"));

const ADD_STAT_HEAD: &str =
    "INSERT INTO task_stats (queue, grain, bucket, metric, idx, count, total) ";
const ADD_STAT_TAIL: &str = "
ON CONFLICT (queue, grain, bucket, metric, idx) DO UPDATE SET
    count = task_stats.count + excluded.count, total = task_stats.total + excluded.total";

const SEEN_QUEUE: &str = "
INSERT INTO queues (queue, first_seen, last_seen) VALUES (?1, ?2, ?2)
ON CONFLICT (queue) DO UPDATE SET last_seen = MAX(queues.last_seen, excluded.last_seen)";

const ADD_DEAD: &str =
    "INSERT INTO dead_letters (received_at, source, error, payload) VALUES (?1, ?2, ?3, ?4)";

#[derive(sqlx::FromRow)]
pub(super) struct Returned {
    task_id: String,
    queue: String,
    state: i16,
    publish_time: Option<f64>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    cost: Option<f64>,
    sort_time: f64,
    exception_type: Option<String>,
    /// Cut to the sample length, and only for unsuccessful final states.
    sample_msg: Option<String>,
}

pub async fn write_batch(
    pool: &SqlitePool,
    records: &[TaskRecord],
    dead: &[DeadLetter],
) -> sqlx::Result<WriteOutcome> {
    let mut tx = pool.begin().await?;
    let mut finished = Vec::new();
    let mut changed = 0;
    // Multi-row statements: one round trip to SQLite's thread per chunk, not per row.
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(super::TASK_INSERT);
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(&r.task_id)
                .push_bind(&r.queue)
                .push_bind(&r.function)
                .push_bind(r.state.code())
                .push_bind(i64::from(r.run_times))
                .push_bind(&r.params)
                .push_bind(&r.result)
                .push_bind(&r.exception_type)
                .push_bind(&r.exception_msg)
                .push_bind(&r.traceback)
                .push_bind(r.publish_time)
                .push_bind(r.start_time)
                .push_bind(r.end_time)
                .push_bind(r.cost)
                .push_bind(&r.host_name)
                .push_bind(r.process_id)
                .push_bind(r.thread_id)
                .push_bind(&r.script_name)
                .push_bind(&r.consumer_id)
                .push_bind(&r.extra)
                .push_bind(r.updated_at)
                .push_bind(r.sort_time())
                .push_bind(&r.attempts);
        });
        qb.push(UPSERT_TAIL.as_str());
        let rows: Vec<Returned> = qb.build_query_as().fetch_all(&mut *tx).await?;
        changed += rows.len();
        finished.extend(rows.into_iter().filter_map(finished_from_row));
    }
    super::failures::add_sqlite(&mut tx, &crate::model::failures::increments(&finished)).await?;
    let increments = stats::increments(&finished);
    for chunk in increments.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(ADD_STAT_HEAD);
        qb.push_values(chunk, |mut b, (k, v)| {
            b.push_bind(&k.queue)
                .push_bind(k.grain.code())
                .push_bind(k.bucket)
                .push_bind(k.metric)
                .push_bind(k.idx)
                .push_bind(v.count)
                .push_bind(v.total);
        });
        qb.push(ADD_STAT_TAIL);
        qb.build().execute(&mut *tx).await?;
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
    let state = TaskState::from_code(row.state).filter(|s| s.is_final())?;
    let failed = state.text_indexed();
    Some(Finished {
        task_id: row.task_id,
        queue: row.queue,
        state,
        at: row.end_time.unwrap_or(row.sort_time),
        cost: row.cost,
        wait: row
            .start_time
            .zip(row.publish_time)
            .map(|(s, p)| s - p)
            .filter(|w| *w >= 0.0),
        exception_type: row.exception_type.filter(|_| failed),
        exception_msg: row.sample_msg,
    })
}
