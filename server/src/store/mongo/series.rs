//! The chart counters on MongoDB (`task_stats` in taskdeck's database).

use super::{num, MongoStore};
use crate::model::stats::StatRow;
use crate::store::Series;
use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use protocol::event::TaskState;
use protocol::series::Grain;
use std::collections::BTreeMap;

#[async_trait]
impl Series for MongoStore {
    async fn stat_rows(
        &self,
        queue: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<StatRow>> {
        let mut cursor = self.own()
        .collection::<Document>("task_stats")
        .find(doc! { "queue": queue, "grain": i32::from(grain.code()), "bucket": { "$gte": from, "$lt": to } })
        .await?;
        let mut rows = Vec::new();
        while cursor.advance().await? {
            let d = cursor.deserialize_current()?;
            rows.push((
                d.get_i64("bucket").unwrap_or_default(),
                d.get_i32("metric").unwrap_or_default() as i16,
                d.get_i32("idx").unwrap_or_default() as i16,
                num(&d, "count").unwrap_or_default() as i64,
                num(&d, "total").unwrap_or_default(),
            ));
        }
        Ok(rows)
    }

    async fn finished_counts(
        &self,
        grain: Grain,
        since: i64,
    ) -> anyhow::Result<Vec<(String, i64, i64)>> {
        let finals: Vec<i32> = TaskState::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| i32::from(s.code()))
            .collect();
        let mut cursor = self
        .own()
        .collection::<Document>("task_stats")
        .find(doc! { "grain": i32::from(grain.code()), "bucket": { "$gte": since }, "metric": { "$in": finals } })
        .await?;
        let mut sums: BTreeMap<(String, i64), i64> = BTreeMap::new();
        while cursor.advance().await? {
            let d = cursor.deserialize_current()?;
            let key = (
                d.get_str("queue").unwrap_or_default().to_owned(),
                d.get_i64("bucket").unwrap_or_default(),
            );
            *sums.entry(key).or_default() += num(&d, "count").unwrap_or_default() as i64;
        }
        Ok(sums.into_iter().map(|((q, b), n)| (q, b, n)).collect())
    }
}
