//! Postgres writes: one `INSERT … SELECT FROM UNNEST(…) ON CONFLICT` per batch — one bind
//! parameter per column whatever the batch size — and one more for the counters.

use super::{DeadLetter, WriteOutcome};
use crate::ingest::record::TaskRecord;
use crate::ingest::stats;
use sqlx::PgPool;
use std::sync::LazyLock;

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int2[], $5::int4[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[], $13::float8[], \
         $14::float8[], $15::text[], $16::int8[], $17::int8[], $18::text[], $19::text[], $20::text[], \
         $21::float8[], $22::float8[]) {}",
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
    let rows: Vec<super::sqlite::Returned> = sqlx::query_as(UPSERT.as_str())
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
