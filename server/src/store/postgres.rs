//! Postgres writes: each batch (or share of one, see `Store::writers`) is copied with binary
//! COPY and upserted in one statement, then its counters are added, in one transaction.

use super::{DeadLetter, WriteOutcome};
use crate::ingest::record::TaskRecord;
use crate::ingest::stats;
use sqlx::PgPool;
use std::sync::LazyLock;

/// Each batch is first copied (binary COPY) into this session's scratch table, emptied at
/// every commit; one statement then upserts it into `tasks`.
const SCRATCH: &str =
    "CREATE TEMP TABLE IF NOT EXISTS batch_tasks (LIKE tasks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS";

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} SELECT * FROM batch_tasks {}",
        super::TASK_INSERT,
        super::task_upsert_tail("GREATEST", "LEAST")
    )
});

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

/// One transaction: COPY into the scratch table, upsert, then the counters of what changed.
pub async fn write_batch(
    pool: &PgPool,
    records: &[TaskRecord],
    dead: &[DeadLetter],
) -> sqlx::Result<WriteOutcome> {
    let mut tx = pool.begin().await?;
    sqlx::query(SCRATCH).execute(&mut *tx).await?;
    copy_rows(&mut tx, "batch_tasks", records).await?;
    let rows: Vec<super::sqlite::Returned> =
        sqlx::query_as(UPSERT.as_str()).fetch_all(&mut *tx).await?;
    let changed = rows.len();
    let finished: Vec<_> = rows
        .into_iter()
        .filter_map(super::sqlite::finished_from_row)
        .collect();
    super::failures::add_postgres(&mut tx, &crate::ingest::failures::increments(&finished)).await?;
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

/// Sends `records` to `table` (the `tasks` column layout) with one binary COPY.
pub async fn copy_rows(
    conn: &mut sqlx::PgConnection,
    table: &str,
    records: &[TaskRecord],
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
        encode_row(&mut buf, r);
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
