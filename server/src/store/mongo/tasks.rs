//! Task lists on MongoDB: one query per queue collection, merged newest first.
//!
//! Each query keeps to what the simplest MongoDB-protocol planners turn into an index scan —
//! one top-level `time_start` range and plain equalities — and whatever that cannot say (ties
//! at a cursor, the text of a search) is checked here while reading, newest first. States are
//! top-level too unless the collection holds records funboost wrote itself, which carry no
//! `state` and are matched by their `run_status`/`success` fields instead.

use super::records::{OTHER_TEXT, RESULT_TEXT};
use super::{json_text, num, text, MongoStore};
use crate::store::listing::{cut, finish_page, scan_budget, PARAMS_PREVIEW};
use crate::store::{Listing, TaskReads};
use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use protocol::event::TaskState;
use protocol::series::Grain;
use protocol::task::{
    Cursor, PageAt, QueueSummary, TaskDetail, TaskFilter, TaskPage, TaskSummary, TaskTotal,
    COUNT_CAP,
};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a collection is taken to hold (or not) records without `state`.
const LEGACY_RECHECK: Duration = Duration::from_secs(60);

/// Per `db.collection`: holds records funboost wrote itself, as of when.
static LEGACY: Mutex<Option<HashMap<String, (bool, Instant)>>> = Mutex::new(None);

async fn has_legacy(coll: &mongodb::Collection<Document>) -> anyhow::Result<bool> {
    let key = coll.namespace().to_string();
    if let Some((legacy, at)) = LEGACY
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        if at.elapsed() < LEGACY_RECHECK {
            return Ok(*legacy);
        }
    }
    let legacy = coll
        .find_one(doc! { "state": { "$exists": false } })
        .projection(doc! { "_id": 1 })
        .await?
        .is_some();
    LEGACY
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(key, (legacy, Instant::now()));
    Ok(legacy)
}

pub(super) fn legacy_state_filter(s: TaskState) -> Document {
    let legacy = match s {
        TaskState::Running => Some(doc! { "run_status": "running" }),
        TaskState::Success => Some(doc! { "run_status": "finish", "success": true }),
        TaskState::Failed => Some(
            doc! { "run_status": "finish", "success": false, "exception_type": { "$nin": [Bson::Null, ""] } },
        ),
        TaskState::Killed => Some(
            doc! { "run_status": "finish", "success": false, "exception_type": { "$in": [Bson::Null, ""] } },
        ),
        _ => None,
    };
    match legacy {
        Some(mut l) => {
            l.insert("state", doc! { "$exists": false });
            doc! { "$or": [ { "state": s.as_str() }, l ] }
        }
        None => doc! { "state": s.as_str() },
    }
}

/// A page's reading plan: the query of one collection and what is checked while reading.
struct Plan<'a> {
    filter: &'a TaskFilter,
    at: &'a PageAt,
    /// The last task a bounded text search may read (inclusive).
    bound: Option<&'a Cursor>,
    /// Lower-cased search text.
    text: Option<String>,
}

fn key(d: &Document) -> (f64, &str) {
    (
        num(d, "time_start").unwrap_or(f64::NEG_INFINITY),
        d.get_str("_id").unwrap_or_default(),
    )
}

impl<'a> Plan<'a> {
    fn new(filter: &'a TaskFilter, at: &'a PageAt, bound: Option<&'a Cursor>) -> Plan<'a> {
        Plan {
            filter,
            at,
            bound,
            text: filter.text.as_deref().map(str::to_ascii_lowercase),
        }
    }

    fn newer(&self) -> bool {
        matches!(self.at, PageAt::Newer(_))
    }

    /// The collection's query: a `time_start` range (filter, cursor and bound merged) and
    /// plain conditions.
    async fn query(&self, coll: &mongodb::Collection<Document>) -> anyhow::Result<Document> {
        let f = self.filter;
        let (mut low, mut high): (Option<f64>, Option<(f64, bool)>) =
            (f.from, f.to.map(|t| (t, false)));
        let mut raise = |v: f64| low = Some(low.map_or(v, |l| l.max(v)));
        if let PageAt::Newer(c) = self.at {
            raise(c.sort_time);
        }
        if let (Some(b), false) = (self.bound, self.newer()) {
            raise(b.sort_time);
        }
        let mut lower = |v: f64| {
            if high.is_none_or(|(h, _)| v < h) {
                high = Some((v, true));
            }
        };
        if let PageAt::Older(c) = self.at {
            lower(c.sort_time);
        }
        if let (Some(b), true) = (self.bound, self.newer()) {
            lower(b.sort_time);
        }
        // A range even for "everything", so that it walks the time index; but a task id (or
        // prefix) is found through `_id`, which a time range would make the planner ignore
        // (4.7 s instead of milliseconds for one id among 50,000 on the test server).
        let by_id = f.task_id.is_some() || f.task_id_prefix.is_some();
        let mut q = Document::new();
        if !by_id || low.is_some() || high.is_some() {
            let mut range = doc! { "$gte": low.unwrap_or(f64::MIN) };
            if let Some((h, inclusive)) = high {
                range.insert(if inclusive { "$lte" } else { "$lt" }, h);
            }
            q.insert("time_start", range);
        }
        for (field, v) in [
            ("exception_type", &f.exception_type),
            ("host_name", &f.host),
            ("function", &f.function),
        ] {
            if let Some(v) = v {
                q.insert(field, v);
            }
        }
        match (&f.task_id, &f.task_id_prefix) {
            (Some(id), _) => {
                q.insert("_id", id);
            }
            // A key range, which every planner walks on `_id` (an anchored regex may scan).
            (None, Some(p)) => {
                q.insert(
                    "_id",
                    doc! { "$gte": p, "$lt": format!("{p}{}", char::MAX) },
                );
            }
            _ => {}
        }
        if !f.states.is_empty() {
            if has_legacy(coll).await? {
                let any: Vec<Document> = f.states.iter().map(|s| legacy_state_filter(*s)).collect();
                q.insert("$or", any);
            } else {
                let names: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
                q.insert("state", doc! { "$in": names });
            }
        }
        Ok(q)
    }

    /// What the query could not say: past the cursor (ties included), within the bound, the
    /// text in params, exception message or result (ASCII case ignored).
    fn keeps(&self, d: &Document) -> bool {
        let k = key(d);
        let past = |c: &Cursor, newer: bool| {
            let c = (c.sort_time, c.task_id.as_str());
            if newer {
                k > c
            } else {
                k < c
            }
        };
        let keyset = match self.at {
            PageAt::First => true,
            PageAt::Older(c) => past(c, false),
            PageAt::Newer(c) => past(c, true),
        };
        let within = self.bound.is_none_or(|b| !past(b, self.newer()));
        keyset && within && self.text.as_ref().is_none_or(|t| contains_text(d, t))
    }
}

fn contains_text(d: &Document, needle: &str) -> bool {
    let field = |k: &str| match d.get(k) {
        Some(Bson::String(s)) => Some(s.clone()),
        Some(Bson::Null) | None => None,
        Some(other) => Some(other.clone().into_relaxed_extjson().to_string()),
    };
    let params = text(d, "params_str").or_else(|| field("params"));
    [params, field("exception_msg"), field("result")]
        .into_iter()
        .flatten()
        .any(|s| s.to_ascii_lowercase().contains(needle))
}

/// Reads a collection newest first (oldest first going newer) and keeps up to `want`
/// documents that pass the plan's checks.
async fn read(
    coll: &mongodb::Collection<Document>,
    plan: &Plan<'_>,
    want: usize,
) -> anyhow::Result<Vec<Document>> {
    let dir = if plan.newer() { 1 } else { -1 };
    let residual = plan.text.is_some() || !matches!(plan.at, PageAt::First) || plan.bound.is_some();
    let mut find = coll
        .find(plan.query(coll).await?)
        .sort(doc! { "time_start": dir, "_id": dir });
    if !residual {
        find = find.limit(want as i64);
    }
    let mut cursor = find.batch_size((want as u32).clamp(2, 1_000)).await?;
    let mut out = Vec::new();
    while out.len() < want && cursor.advance().await? {
        let d = cursor.deserialize_current()?;
        if plan.keeps(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

async fn list_tasks(
    m: &MongoStore,
    f: &TaskFilter,
    at: &PageAt,
    limit: u32,
    how: Listing,
) -> anyhow::Result<TaskPage> {
    let newer = matches!(at, PageAt::Newer(_));
    let for_page = how == Listing::Page;
    // No text index here (funboost's layout has none, and not every server speaks text
    // indexes): every text search reads a bounded window, counted only when it reads all.
    let bound = match f.text.is_some() {
        true => scan_bound(m, f, at).await?,
        false => None,
    };
    let plan = Plan::new(f, at, bound.as_ref());
    // A text search that reads everything anyway (no bound) counts what it reads, in the
    // same pass; other first pages count beside the page.
    let counted_here =
        for_page && f.text.is_some() && bound.is_none() && matches!(at, PageAt::First);
    let want = match counted_here {
        true => COUNT_CAP as usize + 1,
        false => limit as usize + 1,
    };
    let page = async {
        let mut rows: Vec<TaskSummary> = Vec::new();
        for name in record_collections(m, f).await? {
            let coll = m.records().collection::<Document>(&name);
            for d in read(&coll, &plan, want).await? {
                rows.push(summary(&d, for_page));
            }
        }
        anyhow::Ok(rows)
    };
    let total = async {
        match at {
            PageAt::First if for_page && bound.is_none() && !counted_here => {
                count_tasks(m, f).await.map(Some)
            }
            _ => Ok(None),
        }
    };
    let (mut rows, mut total) = tokio::try_join!(page, total)?;
    if counted_here {
        total = Some(TaskTotal::capped(rows.len() as u64));
    }
    let key = |t: &TaskSummary| (t.start_time.unwrap_or(f64::NEG_INFINITY), t.task_id.clone());
    rows.sort_by(|a, b| {
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if newer {
        rows.reverse();
    }
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if newer {
        rows.reverse();
    }
    Ok(finish_page(rows, at, more, bound, total, |t| Cursor {
        sort_time: t.start_time.unwrap_or(t.sort_time),
        task_id: t.task_id.clone(),
    }))
}

/// The last task a text search may read on this page: every collection's
/// [`scan_budget`]-th task matching the rest of the filter past the cursor, the nearest of
/// them (so that each collection is read at most that far), or `None` when no collection has
/// that many.
async fn scan_bound(m: &MongoStore, f: &TaskFilter, at: &PageAt) -> anyhow::Result<Option<Cursor>> {
    let rest = TaskFilter {
        text: None,
        ..f.clone()
    };
    let plan = Plan::new(&rest, at, None);
    let newer = plan.newer();
    let dir = if newer { 1 } else { -1 };
    let mut bound: Option<Cursor> = None;
    for name in record_collections(m, f).await? {
        let coll = m.records().collection::<Document>(&name);
        // Ties at the cursor may be counted in: the bound is a budget, not an exact place.
        let last = coll
            .find_one(plan.query(&coll).await?)
            .sort(doc! { "time_start": dir, "_id": dir })
            .skip(u64::from(scan_budget() - 1))
            .projection(doc! { "time_start": 1 })
            .await?;
        let Some(d) = last else { continue };
        let (sort_time, task_id) = key(&d);
        let c = Cursor {
            sort_time,
            task_id: task_id.to_owned(),
        };
        let k = |c: &Cursor| (c.sort_time, c.task_id.clone());
        let nearer = match &bound {
            None => true,
            Some(b) if newer => k(&c) < k(b),
            Some(b) => k(&c) > k(b),
        };
        if nearer {
            bound = Some(c);
        }
    }
    Ok(bound)
}

/// Matching records over the queue collections, each count stopped past [`COUNT_CAP`]. Text
/// searches are counted by `list_tasks` as it reads them, never here.
async fn count_tasks(m: &MongoStore, f: &TaskFilter) -> anyhow::Result<TaskTotal> {
    debug_assert!(f.text.is_none());
    let first = PageAt::First;
    let plan = Plan::new(f, &first, None);
    let mut n = 0u64;
    for name in record_collections(m, f).await? {
        let coll = m.records().collection::<Document>(&name);
        n += coll
            .count_documents(plan.query(&coll).await?)
            .limit(COUNT_CAP + 1 - n.min(COUNT_CAP))
            .await?;
        if n > COUNT_CAP {
            break;
        }
    }
    Ok(TaskTotal::capped(n))
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
        params = params.map(|p| cut(p, PARAMS_PREVIEW));
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

async fn get_task(m: &MongoStore, task_id: &str) -> anyhow::Result<Option<TaskDetail>> {
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
                origin: crate::model::record::origin_of(&extra.to_string()),
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

async fn queue_summaries(m: &MongoStore, now: f64) -> anyhow::Result<Vec<QueueSummary>> {
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
            .count_documents(legacy_state_filter(TaskState::Running))
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

#[async_trait]
impl TaskReads for MongoStore {
    async fn list(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
        how: Listing,
    ) -> anyhow::Result<TaskPage> {
        list_tasks(self, filter, at, limit, how).await
    }

    async fn get_task(&self, task_id: &str) -> anyhow::Result<Option<TaskDetail>> {
        get_task(self, task_id).await
    }

    async fn queue_summaries(&self, now: f64) -> anyhow::Result<Vec<QueueSummary>> {
        queue_summaries(self, now).await
    }
}
