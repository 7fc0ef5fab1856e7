//! MongoDB in funboost's own layout: database `funboost_task_status`, one collection per
//! queue, `_id` = task_id, funboost's field names and indexes, TTL on `utime` — so funboost's
//! tools read what taskdeck writes, and taskdeck reads what funboost workers wrote themselves.
//! taskdeck's own collections (counters, dead letters, queues) live in database `taskdeck`.
//!
//! Unlike the SQL stores a batch is not one transaction: records are written first (each
//! guarded by the state machine), then counters. A failure in between is retried, but the
//! records already written are not counted again, so counters can miss such a batch.

mod accounts;
mod failures;
mod journal;
mod records;
mod retention;
mod series;
mod tasks;

use super::Backend;
use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Client, IndexModel};
use protocol::StoreKind;
use std::collections::HashSet;
use std::time::Duration;

/// funboost's database of task records.
pub const RECORDS_DB: &str = "funboost_task_status";
/// taskdeck's own database beside it.
pub const OWN_DB: &str = "taskdeck";

#[derive(Clone, Debug)]
pub struct MongoStore {
    pub client: Client,
    /// `funboost_task_status`, or the database the store URL names.
    pub records_db: String,
    /// `taskdeck`, or `<records_db>_taskdeck` when the URL names a database.
    pub own_db: String,
    /// Expiry of the TTL index on `utime` of the collections taskdeck creates.
    pub retention: Duration,
}

impl MongoStore {
    /// Connects, checks the server answers and ensures taskdeck's indexes.
    pub async fn open(url: &str, retention: Duration) -> anyhow::Result<MongoStore> {
        let mut options = mongodb::options::ClientOptions::parse(url).await?;
        options.app_name = Some("taskdeck".into());
        options.server_selection_timeout = Some(super::PROBE_TIMEOUT);
        options.connect_timeout = Some(super::PROBE_TIMEOUT);
        let database = options.default_database.clone();
        let client = mongodb::Client::with_options(options)?;
        let store = MongoStore::new(client, database, retention);
        store.round_trip().await.map_err(anyhow::Error::msg)?;
        ensure_own_indexes(&store).await?;
        accounts::ensure_auth_indexes(&store).await?;
        Ok(store)
    }

    pub fn new(client: Client, url_database: Option<String>, retention: Duration) -> MongoStore {
        let (records_db, own_db) = match url_database {
            Some(db) => (db.clone(), format!("{db}_taskdeck")),
            None => (RECORDS_DB.to_owned(), OWN_DB.to_owned()),
        };
        MongoStore {
            client,
            records_db,
            own_db,
            retention,
        }
    }

    pub(crate) fn records(&self) -> mongodb::Database {
        self.client.database(&self.records_db)
    }

    pub(crate) fn own(&self) -> mongodb::Database {
        self.client.database(&self.own_db)
    }
}
const DUPLICATE_KEY: i32 = 11_000;

#[async_trait]
impl Backend for MongoStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Mongodb
    }

    async fn round_trip(&self) -> Result<(), String> {
        self.client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn close(&self) {
        self.client.clone().shutdown().await
    }

    fn mongo(&self) -> Option<&MongoStore> {
        Some(self)
    }
}

async fn ensure_own_indexes(m: &MongoStore) -> mongodb::error::Result<()> {
    let own = m.own();
    failures::ensure_mongo_indexes(&own).await?;
    own.collection::<Document>("task_stats")
        .create_index(
            IndexModel::builder()
                .keys(doc! { "queue": 1, "grain": 1, "bucket": 1 })
                .build(),
        )
        .await?;
    // Recent buckets of every queue at once (overview sparklines) and retention by age.
    own.collection::<Document>("task_stats")
        .create_index(
            IndexModel::builder()
                .keys(doc! { "grain": 1, "bucket": 1 })
                .build(),
        )
        .await?;
    own.collection::<Document>("dead_letters")
        .create_index(
            IndexModel::builder()
                .keys(doc! { "received_at": 1 })
                .build(),
        )
        .await?;
    Ok(())
}

/// Inserts `docs` unordered; returns the positions refused because the `_id` exists already.
/// Any other refusal is an error.
pub(super) async fn insert_new(
    coll: &mongodb::Collection<Document>,
    docs: Vec<Document>,
    what: &str,
) -> anyhow::Result<HashSet<usize>> {
    let mut duplicates = HashSet::new();
    if docs.is_empty() {
        return Ok(duplicates);
    }
    if let Err(e) = coll.insert_many(docs).ordered(false).await {
        let mongodb::error::ErrorKind::InsertMany(ref failure) = *e.kind else {
            return Err(e.into());
        };
        for we in failure.write_errors.iter().flatten() {
            if we.code != DUPLICATE_KEY {
                return Err(
                    super::Refused(format!("MongoDB refused {what}: {}", we.message)).into(),
                );
            }
            duplicates.insert(we.index);
        }
    }
    Ok(duplicates)
}

/// The `_id`s of the documents matching `filter`.
pub(super) async fn ids_matching(
    coll: &mongodb::Collection<Document>,
    filter: Document,
) -> anyhow::Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let mut cursor = coll.find(filter).projection(doc! { "_id": 1 }).await?;
    while cursor.advance().await? {
        if let Ok(id) = cursor.deserialize_current()?.get_str("_id") {
            ids.insert(id.to_owned());
        }
    }
    Ok(ids)
}

pub(super) fn num(d: &Document, key: &str) -> Option<f64> {
    match d.get(key)? {
        Bson::Double(v) => Some(*v),
        Bson::Int32(v) => Some(f64::from(*v)),
        Bson::Int64(v) => Some(*v as f64),
        _ => None,
    }
}

pub(super) fn text(d: &Document, key: &str) -> Option<String> {
    d.get_str(key)
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(super) fn json_text(d: &Document, key: &str) -> Option<String> {
    match d.get(key)? {
        Bson::Null => None,
        b => serde_json::to_string(&b.clone().into_relaxed_extjson()).ok(),
    }
}

/// `text` as a regular expression that matches it literally.
pub(super) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
