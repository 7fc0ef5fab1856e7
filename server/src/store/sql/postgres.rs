//! Postgres writes: each batch (or share of one, see `Store::writers`) is written in one
//! transaction: tasks the table does not hold yet by one binary COPY straight into `tasks`,
//! the others copied into a scratch table and upserted in one statement; then the counters
//! of what changed.

use super::{DeadLetter, WriteOutcome};
use crate::model::record::TaskRecord;
use crate::model::stats::{self, Finished};
use sqlx::{Executor, PgConnection, PgPool};
use std::borrow::Borrow;
use std::collections::HashSet;
use std::sync::LazyLock;

/// Tasks already stored are first copied (binary COPY) into this session's scratch table,
/// emptied at every commit; one statement then upserts it into `tasks`.
const SCRATCH: &str =
    "CREATE TEMP TABLE IF NOT EXISTS batch_tasks (LIKE tasks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS";

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} SELECT * FROM batch_tasks {}",
        super::TASK_INSERT,
        super::task_upsert_tail("GREATEST", "LEAST")
    )
});

const STORED: &str = "SELECT task_id FROM tasks WHERE task_id = ANY($1)";

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

/// Writes a batch; see the module doc. Most tasks of a batch are new (a short task's start and
/// finish usually come in one batch), and a plain COPY into `tasks` costs Postgres much less
/// than an upsert through the scratch table. Another instance may insert one of them between
/// the look-up and the COPY: the COPY then fails on the primary key (or, when two instances
/// each wait for a task the other inserted, one of them on a deadlock) and the batch is
/// written again, every task through the upsert.
pub async fn write_batch(
    pool: &PgPool,
    records: &[TaskRecord],
    dead: &[DeadLetter],
) -> sqlx::Result<WriteOutcome> {
    match write_in_tx(pool, records, dead, true).await {
        Err(e) if lost_a_race(&e) => write_in_tx(pool, records, dead, false).await,
        written => written,
    }
}

/// unique_violation or deadlock_detected.
fn lost_a_race(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "23505" || code == "40P01")
}

/// The ids of `records` that `tasks` holds. The look-up must walk the primary key: for a
/// batch of ids the planner prefers a sequential scan while `tasks` looks small, and a plan
/// chosen when the table was empty (or just truncated) stays cached while it grows, costing
/// seconds per batch. Sequential scans are off for the look-up only: with them off, a scan of
/// the scratch table would look costly enough to be JIT-compiled at every upsert.
async fn stored_ids(
    conn: &mut PgConnection,
    records: &[TaskRecord],
) -> sqlx::Result<HashSet<String>> {
    conn.execute("SET LOCAL enable_seqscan = off").await?;
    let asked: Vec<&str> = records.iter().map(|r| r.task_id.as_str()).collect();
    let ids: Vec<String> = sqlx::query_scalar(STORED)
        .bind(asked)
        .fetch_all(&mut *conn)
        .await?;
    conn.execute("SET LOCAL enable_seqscan TO DEFAULT").await?;
    Ok(ids.into_iter().collect())
}

/// One transaction: new tasks copied into `tasks` (when `copy_new`), the rest upserted, then
/// the counters of what changed.
async fn write_in_tx(
    pool: &PgPool,
    records: &[TaskRecord],
    dead: &[DeadLetter],
    copy_new: bool,
) -> sqlx::Result<WriteOutcome> {
    let mut tx = pool.begin().await?;
    let (new, known): (Vec<&TaskRecord>, Vec<&TaskRecord>) = match copy_new && !records.is_empty() {
        true => {
            let stored = stored_ids(&mut tx, records).await?;
            records.iter().partition(|r| !stored.contains(&r.task_id))
        }
        false => (Vec::new(), records.iter().collect()),
    };
    let mut finished: Vec<Finished> = new
        .iter()
        .filter(|r| r.state.is_final())
        .map(|r| Finished::of(r))
        .collect();
    if !new.is_empty() {
        copy_rows(&mut tx, "tasks", &new).await?;
    }
    let mut changed = new.len();
    if !known.is_empty() {
        sqlx::query(SCRATCH).execute(&mut *tx).await?;
        copy_rows(&mut tx, "batch_tasks", &known).await?;
        let rows: Vec<super::sqlite::Returned> =
            sqlx::query_as(UPSERT.as_str()).fetch_all(&mut *tx).await?;
        changed += rows.len();
        finished.extend(
            rows.into_iter()
                .filter_map(super::sqlite::finished_from_row),
        );
    }
    let failures = crate::model::failures::increments(&finished);
    super::failures::add_postgres(&mut tx, &failures).await?;
    let increments = stats::increments(&finished);
    add_stats(&mut tx, &increments).await?;
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

async fn add_stats(
    conn: &mut PgConnection,
    increments: &[(stats::StatKey, stats::StatValue)],
) -> sqlx::Result<()> {
    if increments.is_empty() {
        return Ok(());
    }
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
        .execute(conn)
        .await?;
    Ok(())
}

/// Sends `records` to `table` (the `tasks` column layout) with one binary COPY.
pub async fn copy_rows<R: Borrow<TaskRecord> + Sync>(
    conn: &mut PgConnection,
    table: &str,
    records: &[R],
) -> sqlx::Result<()> {
    const CHUNK: usize = 4 << 20;
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
        .await?;
    let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    for r in records {
        encode_row(&mut buf, r.borrow());
        if buf.len() > CHUNK {
            copy.send(std::mem::take(&mut buf)).await?;
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    copy.finish().await?;
    Ok(())
}

/// One row in COPY's binary format, columns in `tasks` order.
fn encode_row(buf: &mut Vec<u8>, r: &TaskRecord) {
    fn text(buf: &mut Vec<u8>, v: Option<&str>) {
        match v {
            Some(s) => {
                buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
                buf.extend_from_slice(s.as_bytes());
            }
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    fn num<const N: usize>(buf: &mut Vec<u8>, v: Option<[u8; N]>) {
        match v {
            Some(b) => {
                buf.extend_from_slice(&(N as i32).to_be_bytes());
                buf.extend_from_slice(&b);
            }
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let f8 = |v: Option<f64>| v.map(f64::to_be_bytes);
    buf.extend_from_slice(&23i16.to_be_bytes());
    text(buf, Some(&r.task_id));
    text(buf, Some(&r.queue));
    text(buf, r.function.as_deref());
    num(buf, Some(r.state.code().to_be_bytes()));
    num(buf, Some((r.run_times as i32).to_be_bytes()));
    text(buf, r.params.as_deref());
    text(buf, r.result.as_deref());
    text(buf, r.exception_type.as_deref());
    text(buf, r.exception_msg.as_deref());
    text(buf, r.traceback.as_deref());
    num(buf, f8(r.publish_time));
    num(buf, f8(r.start_time));
    num(buf, f8(r.end_time));
    num(buf, f8(r.cost));
    text(buf, r.host_name.as_deref());
    num(buf, r.process_id.map(i64::to_be_bytes));
    num(buf, r.thread_id.map(i64::to_be_bytes));
    text(buf, r.script_name.as_deref());
    text(buf, r.consumer_id.as_deref());
    text(buf, Some(&r.extra));
    num(buf, f8(Some(r.updated_at)));
    num(buf, f8(Some(r.sort_time())));
    text(buf, r.attempts.as_deref());
}
