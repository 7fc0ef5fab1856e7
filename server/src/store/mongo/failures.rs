//! The failure counters (`model::failures`) on MongoDB: a collection in taskdeck's database,
//! kept by a TTL index where the server has them.

use super::MongoStore;
use crate::model::failures::{assemble, FailureKey, FailureRow, FailureValue};
use crate::store::retention::STATS_KEEP;
use crate::store::Failures;
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use protocol::event::TaskState;
use protocol::failures::{FailureFilter, FailureGroups};
use protocol::series::Grain;

fn mongo_id(k: &FailureKey) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        k.queue,
        k.state.code(),
        k.exception_type,
        k.grain.code(),
        k.bucket
    )
}

/// When a counter row may go: the end of its grain's keep (TTL index on `expire_at`).
fn expire_at(k: &FailureKey) -> DateTime {
    let keep = STATS_KEEP
        .iter()
        .find(|(g, _)| *g == k.grain)
        .map_or(0, |(_, d)| d.as_millis() as i64);
    DateTime::from_millis((k.bucket + k.grain.seconds()) * 1_000 + keep)
}

/// MongoDB: inserts for new counters, `$inc`/`$min`/`$max` for the others, the sample replaced
/// when this batch's task is the later one (read with the existing rows).
pub(super) async fn add_mongo(own: &mongodb::Database, rows: &[FailureRow]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let coll = own.collection::<Document>("failure_stats");
    let ids: Vec<String> = rows.iter().map(|(k, _)| mongo_id(k)).collect();
    let mut stored: std::collections::HashMap<String, f64> = Default::default();
    let mut cursor = coll
        .find(doc! { "_id": { "$in": &ids } })
        .projection(doc! { "last_at": 1 })
        .await?;
    while cursor.advance().await? {
        let d = cursor.deserialize_current()?;
        if let (Ok(id), Ok(at)) = (d.get_str("_id"), d.get_f64("last_at")) {
            stored.insert(id.to_owned(), at);
        }
    }
    let update = |id: &str, v: &FailureValue, later: bool| {
        let mut u = doc! {
            "$inc": { "count": v.count },
            "$min": { "first_at": v.first_at },
            "$max": { "last_at": v.last_at },
        };
        if later {
            u.insert(
                "$set",
                doc! { "sample_task_id": &v.sample_task_id, "sample_msg": v.sample_msg.clone() },
            );
        }
        doc! { "q": { "_id": id }, "u": u }
    };
    let mut updates = Vec::new();
    let mut inserts: Vec<(usize, Document)> = Vec::new();
    for (i, ((k, v), id)) in rows.iter().zip(&ids).enumerate() {
        match stored.get(id) {
            Some(at) => updates.push(update(id, v, v.last_at >= *at)),
            None => inserts.push((
                i,
                doc! {
                    "_id": id, "queue": &k.queue, "state": i32::from(k.state.code()),
                    "exception_type": &k.exception_type, "grain": i32::from(k.grain.code()), "bucket": k.bucket,
                    "count": v.count, "first_at": v.first_at, "last_at": v.last_at,
                    "sample_task_id": &v.sample_task_id, "sample_msg": v.sample_msg.clone(),
                    "expire_at": expire_at(k),
                },
            )),
        }
    }
    let docs = inserts.iter().map(|(_, d)| d.clone()).collect();
    // One inserted meanwhile by another instance is added to instead.
    for position in super::insert_new(&coll, docs, "a failure counter").await? {
        let i = inserts[position].0;
        updates.push(update(&ids[i], &rows[i].1, false));
    }
    if !updates.is_empty() {
        own.run_command(doc! { "update": "failure_stats", "updates": updates, "ordered": false })
            .await?;
    }
    Ok(())
}

pub(super) async fn ensure_mongo_indexes(own: &mongodb::Database) -> mongodb::error::Result<()> {
    use mongodb::options::IndexOptions;
    use mongodb::IndexModel;
    let coll = own.collection::<Document>("failure_stats");
    coll.create_index(
        IndexModel::builder()
            .keys(doc! { "grain": 1, "bucket": 1 })
            .build(),
    )
    .await?;
    let ttl = IndexModel::builder()
        .keys(doc! { "expire_at": 1 })
        .options(
            IndexOptions::builder()
                .expire_after(std::time::Duration::ZERO)
                .build(),
        )
        .build();
    // Servers without TTL indexes keep the rows; the view reads by range all the same.
    let _ = coll.create_index(ttl).await;
    Ok(())
}

#[async_trait]
impl Failures for MongoStore {
    async fn failure_groups(&self, filter: &FailureFilter) -> anyhow::Result<FailureGroups> {
        let (m, to) = (self, filter.to.floor() as i64);
        let mut query = doc! { "grain": i32::from(filter.grain.code()), "bucket": { "$gte": filter.from, "$lte": to } };
        if !filter.queues.is_empty() {
            query.insert("queue", doc! { "$in": &filter.queues });
        }
        let mut cursor = m
            .own()
            .collection::<Document>("failure_stats")
            .find(query)
            .await?;
        let mut rows = Vec::new();
        while cursor.advance().await? {
            let d = cursor.deserialize_current()?;
            let int = |k: &str| {
                d.get_i64(k)
                    .ok()
                    .or_else(|| d.get_i32(k).ok().map(i64::from))
            };
            let (Some(state), Some(grain)) = (
                int("state").and_then(|c| TaskState::from_code(c as i16)),
                int("grain").and_then(|c| Grain::from_code(c as i16)),
            ) else {
                continue;
            };
            rows.push((
                FailureKey {
                    queue: d.get_str("queue").unwrap_or_default().to_owned(),
                    state,
                    exception_type: d.get_str("exception_type").unwrap_or_default().to_owned(),
                    grain,
                    bucket: int("bucket").unwrap_or_default(),
                },
                FailureValue {
                    count: int("count").unwrap_or_default(),
                    first_at: d.get_f64("first_at").unwrap_or_default(),
                    last_at: d.get_f64("last_at").unwrap_or_default(),
                    sample_task_id: d.get_str("sample_task_id").unwrap_or_default().to_owned(),
                    sample_msg: d.get_str("sample_msg").ok().map(str::to_owned),
                },
            ));
        }
        Ok(assemble(filter, rows))
    }
}
