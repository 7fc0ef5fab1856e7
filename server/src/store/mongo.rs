//! MongoDB in funboost's own layout: database `funboost_task_status`, one collection per
//! queue, `_id` = task_id, funboost's field names and indexes, TTL on `utime` — so funboost's
//! tools read what taskdeck writes, and taskdeck reads what funboost workers wrote themselves.
//! taskdeck's own collections (counters, dead letters, queues) live in database `taskdeck`.
//!
//! Unlike the SQL stores a batch is not one transaction: records are written first (each
//! guarded by the state machine), then counters. A failure in between is retried, but the
//! records already written are not counted again, so counters can miss such a batch.

use super::{DeadLetter, WriteOutcome};
use crate::model::record::TaskRecord;
use crate::model::stats::{self, Finished, StatRow};
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::{Client, IndexModel};
use protocol::event::TaskState;
use protocol::series::Grain;
use protocol::task::{QueueSummary, TaskDetail, TaskFilter, TaskSummary};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
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

/// Collections whose indexes this process has already ensured.
static INDEXED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// A JSON payload as a BSON value, or as its text where BSON cannot hold it the same way
/// (invalid JSON, object keys starting with `$` or holding `.`, which servers refuse or read
/// as operators and paths).
fn json_to_bson(text: &str) -> Bson {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .filter(bson_safe)
        .and_then(|v| mongodb::bson::to_bson(&v).ok())
        .unwrap_or_else(|| Bson::String(text.to_owned()))
}

fn safe_key(k: &str) -> bool {
    !k.starts_with('$') && !k.contains('.') && !k.contains('\0')
}

fn bson_safe(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => m.iter().all(|(k, v)| safe_key(k) && bson_safe(v)),
        serde_json::Value::Array(a) => a.iter().all(bson_safe),
        _ => true,
    }
}

/// Fields kept as JSON text beside a BSON value that could not hold them as they were.
const RESULT_TEXT: &str = "td_result_json";
const OTHER_TEXT: &str = "td_other_json";

fn opt<T: Into<Bson>>(d: &mut Document, key: &str, v: Option<T>) {
    if let Some(v) = v {
        d.insert(key, v.into());
    }
}

/// The fields an event sets, with funboost's names; absent fields keep their stored values.
fn set_fields(r: &TaskRecord, now: DateTime) -> Document {
    let mut d = Document::new();
    // Fields of the event taskdeck has no column for (msg_dict, user_context, …) go back to
    // the top level, where funboost keeps them.
    if let Ok(serde_json::Value::Object(extra)) =
        serde_json::from_str::<serde_json::Value>(&r.extra)
    {
        // What BSON cannot hold as it is stays together as JSON text, read back by get_task.
        let mut odd = serde_json::Map::new();
        for (k, v) in extra {
            let bson = Some(&v)
                .filter(|v| safe_key(&k) && k != "_id" && bson_safe(v))
                .and_then(|v| mongodb::bson::to_bson(v).ok());
            match bson {
                Some(b) => {
                    d.insert(k, b);
                }
                None => {
                    odd.insert(k, v);
                }
            }
        }
        if !odd.is_empty() {
            d.insert(OTHER_TEXT, serde_json::Value::Object(odd).to_string());
        }
    }
    d.insert("task_id", &r.task_id);
    d.insert("queue_name", &r.queue);
    opt(&mut d, "function", r.function.clone());
    d.insert("state", r.state.as_str());
    d.insert("td_rank", i32::from(r.state.rank()));
    d.insert(
        "run_status",
        if r.state.is_final() {
            "finish"
        } else {
            "running"
        },
    );
    if r.state.is_final() {
        d.insert("success", r.state == TaskState::Success);
    }
    d.insert("run_times", i64::from(r.run_times));
    if let Some(p) = &r.params {
        d.insert("params", json_to_bson(p));
        d.insert("params_str", p.as_str());
    }
    if let Some(result) = r.result.as_deref() {
        let bson = json_to_bson(result);
        if matches!(bson, Bson::String(_)) && !result.starts_with('"') {
            d.insert(RESULT_TEXT, result);
        }
        d.insert("result", bson);
    }
    opt(&mut d, "exception_type", r.exception_type.clone());
    opt(&mut d, "exception_msg", r.exception_msg.clone());
    if let Some(t) = &r.exception_type {
        d.insert(
            "exception",
            format!("{t}    {}", r.exception_msg.as_deref().unwrap_or_default()),
        );
    }
    opt(&mut d, "traceback", r.traceback.clone());
    opt(&mut d, "publish_time", r.publish_time);
    opt(&mut d, "time_start", r.start_time);
    opt(&mut d, "time_end", r.end_time);
    opt(&mut d, "time_cost", r.cost);
    opt(&mut d, "host_name", r.host_name.clone());
    opt(&mut d, "process_id", r.process_id);
    opt(&mut d, "thread_id", r.thread_id);
    opt(&mut d, "script_name", r.script_name.clone());
    opt(&mut d, "consumer_id", r.consumer_id.clone());
    opt(&mut d, "attempts", r.attempts.as_deref().map(json_to_bson));
    d.insert("td_sort_time", r.sort_time());
    d.insert("td_updated_at", r.updated_at);
    d.insert("insert_time", now);
    d.insert("utime", now);
    d
}

/// A record as first inserted.
fn new_record(r: &TaskRecord, now: DateTime) -> Document {
    let mut d = set_fields(r, now);
    d.insert("_id", &r.task_id);
    d
}

/// What the state machine needs of a stored record. Records funboost wrote itself carry no
/// `td_rank`: their rank comes from `run_status`.
struct Stored {
    rank: i32,
    run_times: i64,
    td_rank: bool,
    run_status: Option<String>,
}

impl Stored {
    fn of(d: &Document) -> Stored {
        let run_status = d.get_str("run_status").ok().map(str::to_owned);
        let (rank, td_rank) = match d.get_i32("td_rank") {
            Ok(r) => (r, true),
            Err(_) => (
                if run_status.as_deref() == Some("finish") {
                    2
                } else {
                    1
                },
                false,
            ),
        };
        Stored {
            rank,
            run_times: num(d, "run_times").unwrap_or(0.0) as i64,
            td_rank,
            run_status,
        }
    }

    /// `TaskRecord::accepts`, against the stored form.
    fn accepts(&self, r: &TaskRecord) -> bool {
        TaskState::advances(
            self.rank.clamp(0, 2) as u8,
            self.run_times,
            r.state.rank(),
            i64::from(r.run_times),
        )
    }

    /// Matches the record only as it was read, so a concurrent change makes the update miss
    /// instead of overwriting a newer state.
    fn guard(&self, id: &str) -> Document {
        if self.td_rank {
            doc! { "_id": id, "td_rank": self.rank, "run_times": self.run_times }
        } else {
            doc! { "_id": id, "run_status": self.run_status.clone().map_or(Bson::Null, Bson::String) }
        }
    }
}

async fn ensure_indexes(m: &MongoStore, queue: &str) -> mongodb::error::Result<()> {
    {
        let mut done = INDEXED.lock().unwrap();
        if !done
            .get_or_insert_with(HashSet::new)
            .insert(format!("{}.{queue}", m.records_db))
        {
            return Ok(());
        }
    }
    let coll = m.records().collection::<Document>(queue);
    let index = |keys: Document, name: &str| {
        IndexModel::builder()
            .keys(keys)
            .options(IndexOptions::builder().name(name.to_owned()).build())
            .build()
    };
    coll.create_indexes([
        // funboost's own (core/function_result_status_saver.py).
        index(doc! { "queue_name": 1 }, "queue_name_1"),
        index(doc! { "insert_time_str": -1 }, "insert_time_str_-1"),
        index(doc! { "insert_time": -1 }, "insert_time_-1"),
        index(doc! { "success": 1 }, "success_1"),
        index(doc! { "time_cost": -1 }, "time_cost_-1"),
        // taskdeck's lists, newest first; other filters walk this index (each index costs every
        // write, and funboost's collection already carries six).
        index(doc! { "time_start": -1, "_id": -1 }, "td_time"),
    ])
    .await?;
    let ttl = IndexModel::builder()
        .keys(doc! { "utime": 1 })
        .options(
            IndexOptions::builder()
                .name("utime_1".to_owned())
                .expire_after(m.retention)
                .build(),
        )
        .build();
    // An existing TTL index with another expiry (funboost's default 7 days) is left alone.
    let _ = coll.create_index(ttl).await;
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
async fn ids_matching(
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

pub async fn write_batch(
    m: &MongoStore,
    records: &[TaskRecord],
    dead: &[DeadLetter],
) -> anyhow::Result<WriteOutcome> {
    let now = DateTime::now();
    // Marks this batch's updates, to tell which ones applied when some did not.
    let marker = now.timestamp_millis() ^ (std::process::id() as i64) << 40 ^ records.len() as i64;
    let mut by_queue: BTreeMap<&str, Vec<&TaskRecord>> = BTreeMap::new();
    for r in records {
        by_queue.entry(r.queue.as_str()).or_default().push(r);
    }
    let mut applied: Vec<&TaskRecord> = Vec::new();
    for (queue, rows) in &by_queue {
        ensure_indexes(m, queue).await?;
        let coll = m.records().collection::<Document>(queue);
        // Most records of a batch are new (a short task's start and finish usually come in
        // one batch): all are inserted first, and only those refused because the task is
        // stored already (earlier, or meanwhile by another instance) go through the state
        // machine, on one read of their stored records.
        let docs: Vec<Document> = rows.iter().map(|r| new_record(r, now)).collect();
        let refused = insert_new(&coll, docs, &format!("a record of {queue}")).await?;
        let mut known: Vec<&TaskRecord> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            match refused.contains(&i) {
                true => known.push(r),
                false => applied.push(r),
            }
        }
        if known.is_empty() {
            continue;
        }
        // Secantus and MongoDB alike serve an `_id $in` read fast, while upserts guarded by
        // `$or` crawl.
        let ids: Vec<&str> = known.iter().map(|r| r.task_id.as_str()).collect();
        let mut stored: HashMap<String, Stored> = HashMap::new();
        let mut cursor = coll
            .find(doc! { "_id": { "$in": &ids } })
            .projection(doc! { "td_rank": 1, "run_times": 1, "run_status": 1 })
            .await?;
        while cursor.advance().await? {
            let d = cursor.deserialize_current()?;
            if let Ok(id) = d.get_str("_id") {
                stored.insert(id.to_owned(), Stored::of(&d));
            }
        }
        let mut updates: Vec<(&TaskRecord, Document)> = Vec::new();
        let mut vanished: Vec<&TaskRecord> = Vec::new();
        for r in known {
            let Some(old) = stored.get(&r.task_id) else {
                vanished.push(r);
                continue;
            };
            if old.accepts(r) {
                let mut fields = set_fields(r, now);
                fields.insert("td_batch", marker);
                // run_times never goes backwards (an event may not carry the count).
                let runs = fields.remove("run_times").unwrap_or(Bson::Int64(0));
                updates.push((
                    r,
                    doc! { "q": old.guard(&r.task_id), "u": { "$set": fields, "$max": { "run_times": runs } } },
                ));
            }
        }
        // Refused as stored, then gone before the read (retention deleted it): inserted again.
        let docs: Vec<Document> = vanished.iter().map(|r| new_record(r, now)).collect();
        let again = insert_new(&coll, docs, &format!("a record of {queue}")).await?;
        applied.extend(
            vanished
                .iter()
                .enumerate()
                .filter(|(i, _)| !again.contains(i))
                .map(|(_, r)| *r),
        );
        if !updates.is_empty() {
            let statements: Vec<Document> = updates.iter().map(|(_, u)| u.clone()).collect();
            let reply = m
                .records()
                .run_command(doc! { "update": *queue, "updates": statements, "ordered": false })
                .await?;
            if let Ok(errors) = reply.get_array("writeErrors") {
                if let Some(e) = errors.iter().filter_map(Bson::as_document).next() {
                    return Err(super::Refused(format!(
                        "MongoDB refused a record of {queue}: {}",
                        e.get_str("errmsg").unwrap_or("unknown error")
                    ))
                    .into());
                }
            }
            let matched = num(&reply, "n").unwrap_or_default() as usize;
            if matched == updates.len() {
                applied.extend(updates.iter().map(|(r, _)| *r));
            } else {
                // Some records changed since they were read: keep only the updates that
                // carry this batch's marker.
                let ids: Vec<&str> = updates.iter().map(|(r, _)| r.task_id.as_str()).collect();
                let mine =
                    ids_matching(&coll, doc! { "_id": { "$in": ids }, "td_batch": marker }).await?;
                applied.extend(
                    updates
                        .iter()
                        .filter(|(r, _)| mine.contains(&r.task_id))
                        .map(|(r, _)| *r),
                );
            }
        }
    }
    let changed = applied.len();
    let finished: Vec<Finished> = applied
        .iter()
        .filter(|r| r.state.is_final())
        .map(|r| Finished::of(r))
        .collect();
    let own = m.own();
    add_stats(&own, &stats::increments(&finished)).await?;
    super::failures::add_mongo(&own, &crate::model::failures::increments(&finished)).await?;
    let seen: Vec<Document> = super::queues_seen(records)
        .into_iter()
        .map(|(q, t)| doc! { "q": { "_id": q }, "u": { "$max": { "last_seen": t }, "$min": { "first_seen": t } }, "upsert": true })
        .collect();
    if !seen.is_empty() {
        own.run_command(doc! { "update": "queues", "updates": seen, "ordered": false })
            .await?;
    }
    if !dead.is_empty() {
        let docs: Vec<Document> = dead
            .iter()
            .map(|d| doc! { "received_at": d.received_at, "source": &d.source, "error": &d.error, "payload": &d.payload })
            .collect();
        own.collection::<Document>("dead_letters")
            .insert_many(docs)
            .await?;
    }
    Ok(WriteOutcome {
        changed,
        finished: finished.len(),
    })
}

/// Adds to the counters: `$inc` on the rows that exist, inserts for the new ones (an insert
/// that loses a race with another instance becomes an `$inc`). Upserts would do it in one
/// statement, but MongoDB-protocol servers without a query planner crawl through them.
async fn add_stats(
    own: &mongodb::Database,
    increments: &[(stats::StatKey, stats::StatValue)],
) -> anyhow::Result<()> {
    if increments.is_empty() {
        return Ok(());
    }
    let coll = own.collection::<Document>("task_stats");
    let id = |k: &stats::StatKey| {
        format!(
            "{}|{}|{}|{}|{}",
            k.queue,
            k.grain.code(),
            k.bucket,
            k.metric,
            k.idx
        )
    };
    let ids: Vec<String> = increments.iter().map(|(k, _)| id(k)).collect();
    let existing = ids_matching(&coll, doc! { "_id": { "$in": &ids } }).await?;
    let inc = |id: &str, v: &stats::StatValue| doc! { "q": { "_id": id }, "u": { "$inc": { "count": v.count, "total": v.total } } };
    let mut updates: Vec<Document> = Vec::new();
    let mut inserts: Vec<(usize, Document)> = Vec::new();
    for (i, ((k, v), id)) in increments.iter().zip(&ids).enumerate() {
        if existing.contains(id) {
            updates.push(inc(id, v));
        } else {
            let row = doc! {
                "_id": id, "queue": &k.queue, "grain": i32::from(k.grain.code()), "bucket": k.bucket,
                "metric": i32::from(k.metric), "idx": i32::from(k.idx), "count": v.count, "total": v.total,
            };
            inserts.push((i, row));
        }
    }
    let docs: Vec<Document> = inserts.iter().map(|(_, d)| d.clone()).collect();
    // A counter inserted meanwhile by another instance is added to instead.
    for position in insert_new(&coll, docs, "a counter").await? {
        let (i, _) = inserts[position];
        updates.push(inc(&ids[i], &increments[i].1));
    }
    if !updates.is_empty() {
        own.run_command(doc! { "update": "task_stats", "updates": updates, "ordered": false })
            .await?;
    }
    Ok(())
}

pub async fn ensure_own_indexes(m: &MongoStore) -> mongodb::error::Result<()> {
    let own = m.own();
    super::failures::ensure_mongo_indexes(&own).await?;
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

pub async fn stat_rows(
    m: &MongoStore,
    queue: &str,
    grain: Grain,
    from: i64,
    to: i64,
) -> anyhow::Result<Vec<StatRow>> {
    let mut cursor = m.own()
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

pub async fn finished_counts(
    m: &MongoStore,
    grain: Grain,
    since: i64,
) -> anyhow::Result<Vec<(String, i64, i64)>> {
    let finals: Vec<i32> = TaskState::ALL
        .iter()
        .filter(|s| s.is_final())
        .map(|s| i32::from(s.code()))
        .collect();
    let mut cursor = m
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

/// A record funboost wrote carries no `state`: it comes from `run_status` and `success`.
pub(super) fn state_of(d: &Document) -> TaskState {
    if let Some(s) = d.get_str("state").ok().and_then(TaskState::parse) {
        return s;
    }
    match (d.get_str("run_status").ok(), d.get_bool("success").ok()) {
        (Some("running"), _) => TaskState::Running,
        (_, Some(true)) => TaskState::Success,
        _ if text(d, "exception_type").is_some() || text(d, "exception").is_some() => {
            TaskState::Failed
        }
        _ => TaskState::Killed,
    }
}

pub(super) fn summary(d: &Document, preview: bool) -> TaskSummary {
    let mut params = text(d, "params_str").or_else(|| json_text(d, "params"));
    if preview {
        params = params.map(|p| super::query::cut(p, super::query::PARAMS_PREVIEW));
    }
    let (publish_time, start_time) = (num(d, "publish_time"), num(d, "time_start"));
    let exception_type = text(d, "exception_type").or_else(|| {
        text(d, "exception").map(|e| e.split("    ").next().unwrap_or_default().to_owned())
    });
    TaskSummary {
        task_id: d.get_str("_id").map(str::to_owned).unwrap_or_default(),
        queue: text(d, "queue_name").unwrap_or_default(),
        function: text(d, "function"),
        state: state_of(d),
        run_times: num(d, "run_times").unwrap_or(1.0) as u32,
        params,
        exception_type,
        exception_msg: text(d, "exception_msg"),
        publish_time,
        start_time,
        end_time: num(d, "time_end"),
        cost: num(d, "time_cost"),
        wait: start_time
            .zip(publish_time)
            .map(|(s, p)| s - p)
            .filter(|w| *w >= 0.0),
        host_name: text(d, "host_name"),
        sort_time: start_time
            .or(num(d, "td_sort_time"))
            .or(publish_time)
            .unwrap_or_default(),
    }
}

pub(super) async fn record_collections(
    m: &MongoStore,
    f: &TaskFilter,
) -> anyhow::Result<Vec<String>> {
    if !f.queues.is_empty() {
        return Ok(f.queues.clone());
    }
    let mut names = m.records().list_collection_names().await?;
    names.sort();
    Ok(names)
}

pub async fn get_task(m: &MongoStore, task_id: &str) -> anyhow::Result<Option<TaskDetail>> {
    for name in record_collections(m, &TaskFilter::default()).await? {
        let found = m
            .records()
            .collection::<Document>(&name)
            .find_one(doc! { "_id": task_id })
            .await?;
        if let Some(d) = found {
            let mut extra = d.clone();
            for k in [
                "_id",
                "params",
                "params_str",
                "result",
                "traceback",
                "process_id",
                "thread_id",
                "script_name",
                "consumer_id",
                "attempts",
                RESULT_TEXT,
                OTHER_TEXT,
            ] {
                extra.remove(k);
            }
            let mut extra = Bson::Document(extra).into_relaxed_extjson();
            if let (Some(odd), serde_json::Value::Object(map)) = (text(&d, OTHER_TEXT), &mut extra)
            {
                if let Ok(serde_json::Value::Object(odd)) = serde_json::from_str(&odd) {
                    map.extend(odd);
                }
            }
            return Ok(Some(TaskDetail {
                summary: summary(&d, false),
                result: text(&d, RESULT_TEXT).or_else(|| json_text(&d, "result")),
                traceback: text(&d, "traceback"),
                process_id: num(&d, "process_id").map(|v| v as i64),
                thread_id: num(&d, "thread_id").map(|v| v as i64),
                script_name: text(&d, "script_name"),
                consumer_id: text(&d, "consumer_id"),
                extra: extra.to_string(),
                updated_at: num(&d, "td_updated_at").unwrap_or_default(),
                attempts: d
                    .get("attempts")
                    .and_then(|a| serde_json::from_value(a.clone().into_relaxed_extjson()).ok())
                    .unwrap_or_default(),
            }));
        }
    }
    Ok(None)
}

pub async fn queue_summaries(m: &MongoStore, now: f64) -> anyhow::Result<Vec<QueueSummary>> {
    let now = now.floor() as i64;
    let minute = Grain::Minute.seconds();
    let hour_ago = now.div_euclid(minute) * minute - 59 * minute;
    let own = m.own();
    let mut out = Vec::new();
    let mut known: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut cursor = own.collection::<Document>("queues").find(doc! {}).await?;
    while cursor.advance().await? {
        let d = cursor.deserialize_current()?;
        if let Ok(q) = d.get_str("_id") {
            known.insert(
                q.to_owned(),
                (
                    num(&d, "first_seen").unwrap_or_default(),
                    num(&d, "last_seen").unwrap_or_default(),
                ),
            );
        }
    }
    // Queues funboost workers wrote to directly appear too.
    for name in record_collections(m, &TaskFilter::default()).await? {
        known.entry(name).or_insert((0.0, 0.0));
    }
    for (queue, (first_seen, last_seen)) in known {
        let running = m
            .records()
            .collection::<Document>(&queue)
            .count_documents(super::mongo_query::legacy_state_filter(TaskState::Running))
            .await? as i64;
        out.push(QueueSummary {
            success_last_minute: count_finished(
                &own,
                &queue,
                Grain::Second,
                now - 59,
                TaskState::Success,
            )
            .await?,
            failed_last_minute: count_finished(
                &own,
                &queue,
                Grain::Second,
                now - 59,
                TaskState::Failed,
            )
            .await?,
            success_last_hour: count_finished(
                &own,
                &queue,
                Grain::Minute,
                hour_ago,
                TaskState::Success,
            )
            .await?,
            failed_last_hour: count_finished(
                &own,
                &queue,
                Grain::Minute,
                hour_ago,
                TaskState::Failed,
            )
            .await?,
            queue,
            first_seen,
            last_seen,
            running,
        });
    }
    Ok(out)
}

async fn count_finished(
    own: &mongodb::Database,
    queue: &str,
    grain: Grain,
    since: i64,
    state: TaskState,
) -> anyhow::Result<i64> {
    let mut cursor = own
        .collection::<Document>("task_stats")
        .find(doc! { "queue": queue, "grain": i32::from(grain.code()), "bucket": { "$gte": since }, "metric": i32::from(state.code()) })
        .await?;
    let mut total = 0;
    while cursor.advance().await? {
        total += num(&cursor.deserialize_current()?, "count").unwrap_or_default() as i64;
    }
    Ok(total)
}

/// Retention on MongoDB: records, dead letters and chart counters older than their cutoffs
/// (`buckets` as [`super::retention::bucket_cutoffs`] gives them). A record goes by its last
/// write (`utime`, the field of the TTL index both funboost and taskdeck create, so the delete
/// walks an index in every collection). The TTL index alone is not enough: servers without
/// TTL indexes keep everything, and an index funboost created keeps its own expiry. Returns
/// (records, dead letters, counters) deleted.
pub async fn prune(
    m: &MongoStore,
    cutoff: f64,
    buckets: &[(&str, Grain, i64)],
) -> anyhow::Result<(u64, u64, u64)> {
    let old = doc! { "utime": { "$lt": DateTime::from_millis((cutoff * 1_000.0) as i64) } };
    let mut records = 0;
    for name in m.records().list_collection_names().await? {
        let coll = m.records().collection::<Document>(&name);
        records += coll.delete_many(old.clone()).await?.deleted_count;
    }
    let own = m.own();
    let dead = own
        .collection::<Document>("dead_letters")
        .delete_many(doc! { "received_at": { "$lt": cutoff } })
        .await?
        .deleted_count;
    let mut counters = 0;
    for (collection, grain, first_kept) in buckets {
        counters += own
            .collection::<Document>(collection)
            .delete_many(doc! { "grain": i32::from(grain.code()), "bucket": { "$lt": first_kept } })
            .await?
            .deleted_count;
    }
    Ok((records, dead, counters))
}
