//! Retention in SQL: old rows deleted one chunk per statement (SQLite addresses rows by
//! `rowid`, Postgres by `ctid`), so no delete holds a lock for long and ingest keeps flowing.

use super::{on_pool, Dialect, SqlStore};
use crate::store::retention::{bucket_cutoffs, Pruned, AUDIT_KEEP, CHUNK};
use crate::store::Retention;
use async_trait::async_trait;
use std::time::Duration;

#[async_trait]
impl Retention for SqlStore {
    async fn prune(&self, now: f64, retention: Duration) -> anyhow::Result<Pruned> {
        let cutoff = now - retention.as_secs_f64();
        let row = self.dialect().row_address();
        let by_id = |table: &str, column: &str| {
            format!(
                "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < $1 LIMIT $2)"
            )
        };
        let mut pruned = Pruned {
            tasks: self
                .delete_chunks(
                    &format!(
                        "DELETE FROM tasks WHERE {row} IN (SELECT {row} FROM tasks WHERE sort_time < $1 LIMIT $2)"
                    ),
                    cutoff,
                )
                .await?,
            dead_letters: self
                .delete_chunks(&by_id("dead_letters", "received_at"), cutoff)
                .await?,
            // Commands are judged against task records: they go with them.
            history: self
                .delete_chunks(&by_id("audit", "at"), now - AUDIT_KEEP.as_secs_f64())
                .await?
                + self
                    .delete_chunks(&by_id("commands", "requested_at"), cutoff)
                    .await?,
            ..Pruned::default()
        };
        for (table, grain, bucket_cutoff) in bucket_cutoffs(now, retention) {
            // SQLite's task_stats is WITHOUT ROWID: its rows are addressed by their key.
            let row = match (self.dialect(), table) {
                (Dialect::Sqlite, "task_stats") => "queue, grain, bucket, metric, idx",
                _ => row,
            };
            let sql = format!(
                "DELETE FROM {table} WHERE ({row}) IN \
                 (SELECT {row} FROM {table} WHERE grain = {} AND bucket < $1 LIMIT $2)",
                grain.code()
            );
            pruned.buckets += self.delete_chunks(&sql, bucket_cutoff as f64).await?;
        }
        Ok(pruned)
    }
}

impl SqlStore {
    /// Runs a chunked delete until it deletes less than a chunk.
    async fn delete_chunks(&self, sql: &str, cutoff: f64) -> anyhow::Result<u64> {
        let mut total = 0;
        loop {
            let n = on_pool!(self, pool => sqlx::query(sql)
                .bind(cutoff)
                .bind(CHUNK)
                .execute(pool)
                .await?
                .rows_affected());
            total += n;
            if n < CHUNK as u64 {
                return Ok(total);
            }
            // Let waiting batch writes in between chunks.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
