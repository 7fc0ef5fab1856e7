//! Retention on MongoDB: one `delete_many` per collection (it locks documents, not
//! collections).

use super::MongoStore;
use crate::store::retention::{bucket_cutoffs, Pruned, AUDIT_KEEP};
use crate::store::Retention;
use async_trait::async_trait;
use mongodb::bson::{doc, DateTime, Document};
use std::time::Duration;

/// Retention on MongoDB: records, dead letters and chart counters older than their cutoffs
/// (as `retention::bucket_cutoffs` gives them). A record goes by its last
/// write (`utime`, the field of the TTL index both funboost and taskdeck create, so the delete
/// walks an index in every collection). The TTL index alone is not enough: servers without
/// TTL indexes keep everything, and an index funboost created keeps its own expiry.
#[async_trait]
impl Retention for MongoStore {
    async fn prune(&self, now: f64, retention: Duration) -> anyhow::Result<Pruned> {
        let cutoff = now - retention.as_secs_f64();
        let buckets = bucket_cutoffs(now, retention);
        let old = doc! { "utime": { "$lt": DateTime::from_millis((cutoff * 1_000.0) as i64) } };
        let mut records = 0;
        for name in self.records().list_collection_names().await? {
            let coll = self.records().collection::<Document>(&name);
            records += coll.delete_many(old.clone()).await?.deleted_count;
        }
        let own = self.own();
        let dead = own
            .collection::<Document>("dead_letters")
            .delete_many(doc! { "received_at": { "$lt": cutoff } })
            .await?
            .deleted_count;
        let mut counters = 0;
        for (collection, grain, first_kept) in &buckets {
            counters += own
                .collection::<Document>(collection)
                .delete_many(
                    doc! { "grain": i32::from(grain.code()), "bucket": { "$lt": first_kept } },
                )
                .await?
                .deleted_count;
        }
        // Commands are judged against task records: they go with them.
        let audit = own
            .collection::<Document>("audit")
            .delete_many(doc! { "at": { "$lt": now - AUDIT_KEEP.as_secs_f64() } })
            .await?;
        let commands = own
            .collection::<Document>("commands")
            .delete_many(doc! { "requested_at": { "$lt": cutoff } })
            .await?;
        Ok(Pruned {
            tasks: records,
            dead_letters: dead,
            buckets: counters,
            history: audit.deleted_count + commands.deleted_count,
        })
    }
}
