//! The chart counters (`task_stats`), read by queue and range.

use super::{on_pool, SqlStore};
use crate::model::stats::StatRow;
use crate::store::Series;
use async_trait::async_trait;
use protocol::event::TaskState;
use protocol::series::Grain;

#[async_trait]
impl Series for SqlStore {
    async fn stat_rows(
        &self,
        queue: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<StatRow>> {
        const SQL: &str = "SELECT bucket, metric, idx, count, total FROM task_stats \
            WHERE queue = $1 AND grain = $2 AND bucket >= $3 AND bucket < $4";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(queue)
            .bind(grain.code())
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?))
    }

    async fn finished_counts(
        &self,
        grain: Grain,
        since: i64,
    ) -> anyhow::Result<Vec<(String, i64, i64)>> {
        let finals: Vec<String> = TaskState::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| s.code().to_string())
            .collect();
        let sql = format!(
            "SELECT queue, bucket, CAST(SUM(count) AS BIGINT) FROM task_stats \
             WHERE grain = {} AND bucket >= {since} AND metric IN ({}) GROUP BY queue, bucket",
            grain.code(),
            finals.join(", ")
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?))
    }
}
