//! Reads of task records: filtered lists with keyset pagination, one task, queue summaries.
//! The SQL is the same for SQLite and Postgres; `QueryBuilder` numbers the placeholders for
//! each, and the text search is the dialect's own.

use super::{on_pool, Dialect, SqlStore};
use crate::store::listing::{cut, finish_page, like_escape, scan_budget, PARAMS_PREVIEW};
use crate::store::{Listing, TaskReads};
use async_trait::async_trait;
use protocol::event::TaskState;
use protocol::series::Grain;
use protocol::task::{
    Cursor, PageAt, QueueSummary, TaskDetail, TaskFilter, TaskPage, TaskSummary, TaskTotal,
    COUNT_CAP, MAX_PAGE,
};
use sqlx::{FromRow, QueryBuilder};

const SUMMARY_COLUMNS: &str =
    "task_id, queue, function, state, run_times, params, exception_type, \
    exception_msg, publish_time, start_time, end_time, cost, host_name, sort_time";
const DETAIL_COLUMNS: &str =
    "result, traceback, process_id, thread_id, script_name, consumer_id, extra, updated_at, attempts";

#[derive(FromRow)]
struct SummaryRow {
    task_id: String,
    queue: String,
    function: Option<String>,
    state: i16,
    run_times: i32,
    params: Option<String>,
    exception_type: Option<String>,
    exception_msg: Option<String>,
    publish_time: Option<f64>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    cost: Option<f64>,
    host_name: Option<String>,
    sort_time: f64,
}

#[derive(FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    result: Option<String>,
    traceback: Option<String>,
    process_id: Option<i64>,
    thread_id: Option<i64>,
    script_name: Option<String>,
    consumer_id: Option<String>,
    extra: String,
    updated_at: f64,
    attempts: Option<String>,
}

impl SummaryRow {
    fn into_summary(self, preview: bool) -> TaskSummary {
        let mut params = self.params;
        if preview {
            params = params.map(|p| cut(p, PARAMS_PREVIEW));
        }
        TaskSummary {
            wait: Some(self.start_time.unwrap_or(f64::NAN) - self.publish_time.unwrap_or(f64::NAN))
                .filter(|w| *w >= 0.0),
            task_id: self.task_id,
            queue: self.queue,
            function: self.function,
            state: TaskState::from_code(self.state).unwrap_or(TaskState::Pending),
            run_times: u32::try_from(self.run_times).unwrap_or(0),
            params,
            exception_type: self.exception_type,
            exception_msg: self.exception_msg,
            publish_time: self.publish_time,
            start_time: self.start_time,
            end_time: self.end_time,
            cost: self.cost,
            host_name: self.host_name,
            sort_time: self.sort_time,
        }
    }
}

/// What text search reads: the expression Postgres's trigram index is built on
/// (migrations/postgres/0004_text_search.sql) and SQLite's FTS table holds
/// (migrations/sqlite/0003_text_search.sql). The three must stay the same.
const TEXT_DOC: &str =
    "(COALESCE(params, '') || ' ' || COALESCE(exception_msg, '') || ' ' || COALESCE(result, ''))";

/// An FTS5 phrase: with the trigram tokenizer it matches the text as a substring, ignoring
/// case.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Adds `WHERE …` for the filter; `$sqlite` picks the dialect of the text search.
macro_rules! push_filter {
    ($qb:expr, $filter:expr, $sqlite:expr) => {{
        let qb = $qb;
        let f: &TaskFilter = $filter;
        qb.push(" WHERE 1 = 1");
        if !f.queues.is_empty() {
            qb.push(" AND queue IN (");
            let mut sep = qb.separated(", ");
            for q in &f.queues {
                sep.push_bind(q.clone());
            }
            qb.push(")");
        }
        if !f.states.is_empty() {
            // Literals, not binds: Postgres's partial state index (`state <> 2`) is only
            // usable when the planner sees the codes.
            let codes: Vec<String> = f.states.iter().map(|s| s.code().to_string()).collect();
            qb.push(format!(" AND state IN ({})", codes.join(", ")));
        }
        if let Some(from) = f.from {
            qb.push(" AND sort_time >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            qb.push(" AND sort_time < ").push_bind(to);
        }
        for (column, value) in [
            ("exception_type", &f.exception_type),
            ("host_name", &f.host),
            ("function", &f.function),
            ("task_id", &f.task_id),
        ] {
            if let Some(v) = value {
                qb.push(format!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        if let Some(prefix) = &f.task_id_prefix {
            // A range, not LIKE 'p%': SQLite's LIKE ignores ASCII case and so cannot walk
            // the (binary) primary key; both stores compare task ids byte by byte.
            qb.push(" AND task_id >= ")
                .push_bind(prefix.clone())
                .push(" AND task_id < ")
                .push_bind(format!("{prefix}{}", char::MAX));
        }
        if let Some(text) = &f.text {
            if $sqlite && f.text_indexed() {
                qb.push(" AND rowid IN (SELECT rowid FROM task_text WHERE task_text MATCH ")
                    .push_bind(fts_phrase(text))
                    .push(")");
            } else if f.text_indexed() {
                // Postgres's trigram index is built on this expression.
                qb.push(format!(" AND {TEXT_DOC} ILIKE "))
                    .push_bind(format!("%{}%", like_escape(text)))
                    .push(" ESCAPE '\\'");
            } else {
                // A bounded scan: three LIKEs cost less than concatenating every row.
                // Postgres: ILIKE under the "C" collation folds ASCII case only, as SQLite's
                // LIKE does, at half the cost of folding by the database's locale.
                let like = if $sqlite {
                    "LIKE"
                } else {
                    "COLLATE \"C\" ILIKE"
                };
                let pattern = format!("%{}%", like_escape(text));
                let mut sep = " AND (";
                for column in ["params", "exception_msg", "result"] {
                    qb.push(format!("{sep}{column} {like} "))
                        .push_bind(pattern.clone())
                        .push(" ESCAPE '\\'");
                    sep = " OR ";
                }
                qb.push(")");
            }
        }
    }};
}

/// Adds `WHERE …` for the filter and the cursor, then the order and limit.
/// `$bound` is the last task a bounded text search may read (inclusive).
macro_rules! build_list {
    ($qb:expr, $filter:expr, $at:expr, $limit:expr, $bound:expr, $sqlite:expr) => {{
        let qb = $qb;
        push_filter!(&mut *qb, $filter, $sqlite);
        let bound: Option<&Cursor> = $bound;
        // Keyset conditions repeat their first column as a plain range, which the planner
        // can turn into index bounds (it cannot from the OR alone).
        let mut keyset = |c: &Cursor, range: &str, past: &str, tie: &str| {
            qb.push(format!(" AND sort_time {range} "))
                .push_bind(c.sort_time);
            qb.push(format!(" AND (sort_time {past} "))
                .push_bind(c.sort_time);
            qb.push(" OR (sort_time = ")
                .push_bind(c.sort_time)
                .push(format!(" AND task_id {tie} "))
                .push_bind(c.task_id.clone())
                .push("))");
        };
        match ($at, bound) {
            (PageAt::Newer(_), Some(b)) => keyset(b, "<=", "<", "<="),
            (_, Some(b)) => keyset(b, ">=", ">", ">="),
            _ => {}
        }
        match $at {
            PageAt::First => {}
            PageAt::Older(c) => keyset(c, "<=", "<", "<"),
            PageAt::Newer(c) => keyset(c, ">=", ">", ">"),
        }
        let order = match $at {
            PageAt::Newer(_) => "ASC",
            _ => "DESC",
        };
        qb.push(format!(" ORDER BY sort_time {order}, task_id {order}"));
        qb.push(" LIMIT ").push_bind(i64::from($limit) + 1);
    }};
}

#[async_trait]
impl TaskReads for SqlStore {
    async fn list(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
        how: Listing,
    ) -> anyhow::Result<TaskPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        // A text search outside the index reads at most scan_budget() rows: find where that
        // stops first. Past the bound the count would read too much, so it is left out.
        let bound = match filter.text.is_some() && !filter.text_indexed() {
            true => self.scan_bound(filter, at).await?,
            false => None,
        };
        // The count reads at most COUNT_CAP + 1 rows; it runs beside the page, not after it.
        let total = async {
            match at {
                PageAt::First if bound.is_none() && how == Listing::Page => {
                    self.count_tasks(filter).await.map(Some)
                }
                _ => Ok(None),
            }
        };
        let (mut rows, total) =
            tokio::try_join!(self.page_rows(filter, at, limit, bound.as_ref()), total)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let newer_direction = matches!(at, PageAt::Newer(_));
        if newer_direction {
            rows.reverse();
        }
        let tasks: Vec<TaskSummary> = rows
            .into_iter()
            .map(|r| r.into_summary(how == Listing::Page))
            .collect();
        Ok(finish_page(tasks, at, more, bound, total, |t| Cursor {
            sort_time: t.sort_time,
            task_id: t.task_id.clone(),
        }))
    }

    async fn get_task(&self, task_id: &str) -> anyhow::Result<Option<TaskDetail>> {
        let sql = format!("SELECT {SUMMARY_COLUMNS}, {DETAIL_COLUMNS} FROM tasks WHERE task_id = ");
        let row: Option<DetailRow> = on_pool!(self, pool => sqlx::query_as(&format!("{sql}$1"))
            .bind(task_id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|r| TaskDetail {
            summary: r.summary.into_summary(false),
            result: r.result,
            traceback: r.traceback,
            process_id: r.process_id,
            thread_id: r.thread_id,
            script_name: r.script_name,
            consumer_id: r.consumer_id,
            origin: crate::model::record::origin_of(&r.extra),
            extra: r.extra,
            updated_at: r.updated_at,
            attempts: r
                .attempts
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default(),
        }))
    }

    async fn queue_summaries(&self, now: f64) -> anyhow::Result<Vec<QueueSummary>> {
        let now = now.floor() as i64;
        let minute = Grain::Minute.seconds();
        let this_minute = now.div_euclid(minute) * minute;
        let hour_ago = this_minute - 59 * minute;
        let (success, failed) = (TaskState::Success.code(), TaskState::Failed.code());
        // The last minute from the second counters (a sliding 60 s), the last hour from the
        // minute counters (this minute and the 59 before it).
        let counts_sql = format!(
            "SELECT queue, metric, CAST(SUM(CASE WHEN grain = {sec} THEN count ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN grain = {min} THEN count ELSE 0 END) AS BIGINT) FROM task_stats \
             WHERE metric IN ({success}, {failed}) AND ((grain = {sec} AND bucket > {minute_ago}) OR (grain = {min} AND bucket >= {hour_ago})) \
             GROUP BY queue, metric",
            sec = Grain::Second.code(),
            min = Grain::Minute.code(),
            minute_ago = now - 60,
        );
        let running_sql = format!(
            "SELECT queue, COUNT(*) FROM tasks WHERE state = {} GROUP BY queue",
            TaskState::Running.code()
        );
        let queues_sql = "SELECT queue, first_seen, last_seen FROM queues ORDER BY queue";
        type Queues = Vec<(String, f64, f64)>;
        type Counts = Vec<(String, i16, i64, i64)>;
        type Running = Vec<(String, i64)>;
        let (queues, counts, running): (Queues, Counts, Running) = on_pool!(self, pool => (
            sqlx::query_as(queues_sql).fetch_all(pool).await?,
            sqlx::query_as(&counts_sql).fetch_all(pool).await?,
            sqlx::query_as(&running_sql).fetch_all(pool).await?,
        ));
        Ok(queues
            .into_iter()
            .map(|(queue, first_seen, last_seen)| {
                let count = |metric: i16| {
                    counts
                        .iter()
                        .find(|(q, m, _, _)| *q == queue && *m == metric)
                        .map(|(_, _, m, h)| (*m, *h))
                        .unwrap_or_default()
                };
                let (success_last_minute, success_last_hour) = count(success);
                let (failed_last_minute, failed_last_hour) = count(failed);
                QueueSummary {
                    running: running
                        .iter()
                        .find(|(q, _)| *q == queue)
                        .map(|(_, n)| *n)
                        .unwrap_or(0),
                    queue,
                    first_seen,
                    last_seen,
                    success_last_minute,
                    failed_last_minute,
                    success_last_hour,
                    failed_last_hour,
                }
            })
            .collect())
    }
}

impl SqlStore {
    /// The last task a text search outside the index may read on this page: the
    /// [`scan_budget`]-th of those matching the rest of the filter past the cursor, or `None`
    /// when fewer match (the search reads them all).
    async fn scan_bound(&self, filter: &TaskFilter, at: &PageAt) -> anyhow::Result<Option<Cursor>> {
        let rest = TaskFilter {
            text: None,
            ..filter.clone()
        };
        let select = "SELECT sort_time, task_id FROM tasks";
        let offset = i64::from(scan_budget() - 1);
        let sqlite = self.dialect() == Dialect::Sqlite;
        let row: Option<(f64, String)> = on_pool!(self, pool, Db => {
            let mut qb = QueryBuilder::<Db>::new(select);
            build_list!(&mut qb, &rest, at, 0, None, sqlite);
            qb.push(" OFFSET ").push_bind(offset);
            qb.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(sort_time, task_id)| Cursor { sort_time, task_id }))
    }

    /// One page's rows plus one (to tell whether more follow), SQLite or Postgres.
    async fn page_rows(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
        bound: Option<&Cursor>,
    ) -> anyhow::Result<Vec<SummaryRow>> {
        let select = format!("SELECT {SUMMARY_COLUMNS} FROM tasks");
        let sqlite = self.dialect() == Dialect::Sqlite;
        Ok(on_pool!(self, pool, Db => {
            let mut qb = QueryBuilder::<Db>::new(select);
            build_list!(&mut qb, filter, at, limit, bound, sqlite);
            qb.build_query_as().fetch_all(pool).await?
        }))
    }

    /// How many tasks match, up to [`COUNT_CAP`]: the read stops there.
    async fn count_tasks(&self, filter: &TaskFilter) -> anyhow::Result<TaskTotal> {
        let select = "SELECT COUNT(*) FROM (SELECT 1 FROM tasks";
        let sqlite = self.dialect() == Dialect::Sqlite;
        let n: i64 = on_pool!(self, pool, Db => {
            let mut qb = QueryBuilder::<Db>::new(select);
            push_filter!(&mut qb, filter, sqlite);
            qb.push(" LIMIT ")
                .push_bind(COUNT_CAP as i64 + 1)
                .push(") AS matching");
            qb.build_query_scalar().fetch_one(pool).await?
        });
        Ok(TaskTotal::capped(n.max(0) as u64))
    }
}
