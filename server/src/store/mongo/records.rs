//! Task records in funboost's layout: inserted first, moved on by the state machine only
//! where a record is stored already; then the counters.

use super::{ids_matching, insert_new, num, MongoStore};
use crate::model::record::TaskRecord;
use crate::model::stats::{self, Finished};
use crate::store::{DeadLetter, Refused, TaskWrites, WriteOutcome};
use async_trait::async_trait;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use protocol::event::TaskState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

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
pub(super) const RESULT_TEXT: &str = "td_result_json";
pub(super) const OTHER_TEXT: &str = "td_other_json";

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

#[async_trait]
impl TaskWrites for MongoStore {
    /// One writer (not measured with more).
    fn writers(&self) -> usize {
        1
    }

    async fn write_batch(
        &self,
        records: &[TaskRecord],
        dead: &[DeadLetter],
    ) -> anyhow::Result<WriteOutcome> {
        let now = DateTime::now();
        // Marks this batch's updates, to tell which ones applied when some did not.
        let marker =
            now.timestamp_millis() ^ (std::process::id() as i64) << 40 ^ records.len() as i64;
        let mut by_queue: BTreeMap<&str, Vec<&TaskRecord>> = BTreeMap::new();
        for r in records {
            by_queue.entry(r.queue.as_str()).or_default().push(r);
        }
        let mut applied: Vec<&TaskRecord> = Vec::new();
        for (queue, rows) in &by_queue {
            ensure_indexes(self, queue).await?;
            let coll = self.records().collection::<Document>(queue);
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
                let reply = self
                    .records()
                    .run_command(doc! { "update": *queue, "updates": statements, "ordered": false })
                    .await?;
                if let Ok(errors) = reply.get_array("writeErrors") {
                    if let Some(e) = errors.iter().filter_map(Bson::as_document).next() {
                        return Err(Refused(format!(
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
                        ids_matching(&coll, doc! { "_id": { "$in": ids }, "td_batch": marker })
                            .await?;
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
        let own = self.own();
        add_stats(&own, &stats::increments(&finished)).await?;
        super::failures::add_mongo(&own, &crate::model::failures::increments(&finished)).await?;
        let seen: Vec<Document> = crate::store::sql::queues_seen(records)
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
