//! The task store: SQLite (embedded default), Postgres, or MongoDB, chosen by the store URL.

pub mod auth;
pub mod commands;
mod mongo;
mod postgres;
pub use postgres::copy_rows;
mod failures;
mod mongo_query;
mod query;
pub(crate) use query::cut;
pub use query::set_scan_budget;
pub mod retention;

mod sqlite;

use crate::config::StoreUrl;
use crate::model::record::TaskRecord;
use crate::model::stats::StatRow;
use mongodb::bson::doc;
use protocol::event::TaskState;
use protocol::series::Grain;
use protocol::StoreKind;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// How long one reachability probe may take before the store counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    Mongodb(MongoStore),
}

pub use mongo::MongoStore;

impl Store {
    /// Connects and brings the schema up to date. The store must be reachable at start:
    /// without it nothing can be recorded, so failing loudly beats serving an empty dashboard.
    pub async fn open(url: &StoreUrl, retention: Duration) -> anyhow::Result<Store> {
        match url {
            StoreUrl::Sqlite(u) => {
                let options = SqliteConnectOptions::from_str(u)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    // Index pages stay cached across batches: 64 MiB per connection at most.
                    .pragma("cache_size", "-65536");
                if let Some(dir) = options.get_filename().parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
                    }
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(PROBE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                SQLITE_MIGRATIONS.run(&pool).await?;
                Ok(Store::Sqlite(pool))
            }
            StoreUrl::Postgres(u) => {
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(PgConnectOptions::from_str(u)?)
                    .await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                Ok(Store::Postgres(pool))
            }
            StoreUrl::Mongodb(u) => {
                let mut options = mongodb::options::ClientOptions::parse(u).await?;
                options.app_name = Some("taskdeck".into());
                options.server_selection_timeout = Some(PROBE_TIMEOUT);
                options.connect_timeout = Some(PROBE_TIMEOUT);
                let database = options.default_database.clone();
                let client = mongodb::Client::with_options(options)?;
                let mongo = MongoStore::new(client, database, retention);
                let store = Store::Mongodb(mongo.clone());
                store.ping().await.map_err(anyhow::Error::msg)?;
                mongo::ensure_own_indexes(&mongo).await?;
                store.ensure_auth_indexes().await?;
                Ok(store)
            }
        }
    }

    pub fn kind(&self) -> StoreKind {
        match self {
            Store::Sqlite(_) => StoreKind::Sqlite,
            Store::Postgres(_) => StoreKind::Postgres,
            Store::Mongodb(_) => StoreKind::Mongodb,
        }
    }

    /// One real round trip to the store.
    pub async fn ping(&self) -> Result<(), String> {
        let probe = async {
            match self {
                Store::Sqlite(pool) => sqlx::query("SELECT 1")
                    .execute(pool)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Store::Postgres(pool) => sqlx::query("SELECT 1")
                    .execute(pool)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Store::Mongodb(m) => m
                    .client
                    .database("admin")
                    .run_command(doc! { "ping": 1 })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
            }
        };
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
        }
    }

    /// How many shares of each batch (split by task id) are written at once, each on its own
    /// connection. Postgres runs a connection's statements on one core, so one writer leaves
    /// its other cores idle; concurrent shares never touch the same task, and lock counter
    /// rows in one order (sorted increments), so they neither wait on each other's tasks nor
    /// deadlock. SQLite takes one writer at a time; MongoDB keeps one (not measured with more).
    pub fn writers(&self) -> usize {
        match self {
            Store::Postgres(_) => 2,
            Store::Sqlite(_) | Store::Mongodb(_) => 1,
        }
    }

    /// Writes a reduced batch (one record per task) and the dead letters that came with it in
    /// one transaction: either all of it is committed or none.
    pub async fn write_batch(
        &self,
        records: &[TaskRecord],
        dead: &[DeadLetter],
    ) -> anyhow::Result<WriteOutcome> {
        Ok(match self {
            Store::Sqlite(pool) => sqlite::write_batch(pool, records, dead).await?,
            Store::Postgres(pool) => postgres::write_batch(pool, records, dead).await?,
            Store::Mongodb(m) => mongo::write_batch(m, records, dead).await?,
        })
    }

    /// The chart counters of one queue and grain with bucket starts in `[from, to)`.
    pub async fn stat_rows(
        &self,
        queue: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<StatRow>> {
        const SELECT: &str = "SELECT bucket, metric, idx, count, total FROM task_stats";
        Ok(match self {
            Store::Sqlite(pool) => {
                sqlx::query_as(&format!(
                    "{SELECT} WHERE queue = ?1 AND grain = ?2 AND bucket >= ?3 AND bucket < ?4"
                ))
                .bind(queue)
                .bind(grain.code())
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
            }
            Store::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "{SELECT} WHERE queue = $1 AND grain = $2 AND bucket >= $3 AND bucket < $4"
                ))
                .bind(queue)
                .bind(grain.code())
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
            }
            Store::Mongodb(m) => mongo::stat_rows(m, queue, grain, from, to).await?,
        })
    }

    /// Tasks that reached a final state, per queue and bucket of `grain` from `since` on:
    /// `(queue, bucket, count)` for every queue at once (the overview's sparklines).
    pub async fn finished_counts(
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
        Ok(match self {
            Store::Sqlite(pool) => sqlx::query_as(&sql).fetch_all(pool).await?,
            Store::Postgres(pool) => sqlx::query_as(&sql).fetch_all(pool).await?,
            Store::Mongodb(m) => mongo::finished_counts(m, grain, since).await?,
        })
    }

    /// Waits for in-flight statements and closes every connection.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
            Store::Mongodb(m) => m.client.clone().shutdown().await,
        }
    }
}

/// The column list of the task upsert, shared by the SQL stores.
const TASK_INSERT: &str =
    "INSERT INTO tasks (task_id, queue, function, state, run_times, params, result, \
    exception_type, exception_msg, traceback, publish_time, start_time, end_time, cost, host_name, \
    process_id, thread_id, script_name, consumer_id, extra, updated_at, sort_time, attempts) ";

/// The conflict half of the task upsert: the state machine of `TaskRecord::accepts` in SQL.
/// The rank (`least(state, 2)`) must rise, or a running task must report a later attempt or
/// be requeued (`TaskState::advances`);
/// fields the event lacks keep their stored values; RETURNING yields only the rows that
/// changed. `greatest`/`least` name the dialect's two-argument max and min.
fn task_upsert_tail(greatest: &str, least: &str) -> String {
    let keep = [
        "function",
        "params",
        "result",
        "exception_type",
        "exception_msg",
        "traceback",
        "publish_time",
        "start_time",
        "end_time",
        "cost",
        "host_name",
        "process_id",
        "thread_id",
        "script_name",
        "consumer_id",
        "attempts",
    ]
    .map(|c| format!("{c} = COALESCE(excluded.{c}, tasks.{c})"))
    .join(", ");
    format!(
        "ON CONFLICT (task_id) DO UPDATE SET queue = excluded.queue, state = excluded.state, \
         run_times = {greatest}(excluded.run_times, tasks.run_times), {keep}, extra = excluded.extra, \
         updated_at = excluded.updated_at, \
         sort_time = COALESCE(excluded.start_time, tasks.start_time, excluded.publish_time, tasks.publish_time, tasks.sort_time) \
         WHERE {least}(excluded.state, 2) > {least}(tasks.state, 2) \
            OR (excluded.state = 1 AND tasks.state = 1 AND excluded.run_times > tasks.run_times) \
            OR (excluded.state = 0 AND tasks.state = 1 AND excluded.run_times >= 1 \
                AND excluded.run_times >= tasks.run_times) \
         RETURNING task_id, queue, state, publish_time, start_time, end_time, cost, sort_time, exception_type, \
         CASE WHEN state >= 3 THEN substr(exception_msg, 1, {sample}) END AS sample_msg",
        sample = crate::model::failures::SAMPLE_MSG
    )
}

/// The queues a batch names, each with the latest receive time, in a stable order (so
/// concurrent writers lock rows in the same order).
fn queues_seen(records: &[TaskRecord]) -> Vec<(&str, f64)> {
    let mut seen: std::collections::BTreeMap<&str, f64> = Default::default();
    for r in records {
        let t = seen.entry(r.queue.as_str()).or_insert(r.updated_at);
        *t = t.max(r.updated_at);
    }
    seen.into_iter().collect()
}

/// A store's refusal of what was written, reported in a reply rather than as an error of its
/// driver (e.g. MongoDB's per-document write errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Whether a store error may pass if the same write is tried again (the connection, the
/// pool, a lock, a deadlock, a server shutting down), as opposed to a refusal of what was
/// written (a value or size it cannot hold, a constraint), which only gets the same answer.
pub fn transient(e: &anyhow::Error) -> bool {
    if e.downcast_ref::<Refused>().is_some() {
        return false;
    }
    if let Some(e) = e.downcast_ref::<sqlx::Error>() {
        return match e {
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // Primary result codes: BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN.
                    let primary = code.parse::<i64>().unwrap_or(0) & 0xff;
                    matches!(primary, 5 | 6 | 7 | 10 | 13 | 14)
                } else {
                    // SQLSTATE classes: connection, transaction rollback (serialization,
                    // deadlock), insufficient resources, object not in prerequisite state
                    // (a database not accepting connections, a lock not available), operator
                    // intervention, system error.
                    ["08", "40", "53", "55", "57", "58", "XX"]
                        .iter()
                        .any(|class| code.starts_with(class))
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            _ => false,
        };
    }
    if let Some(e) = e.downcast_ref::<mongodb::error::Error>() {
        use mongodb::error::{ErrorKind, RETRYABLE_WRITE_ERROR, TRANSIENT_TRANSACTION_ERROR};
        return e.contains_label(RETRYABLE_WRITE_ERROR)
            || e.contains_label(TRANSIENT_TRANSACTION_ERROR)
            || matches!(
                *e.kind,
                ErrorKind::Io(_)
                    | ErrorKind::ConnectionPoolCleared { .. }
                    | ErrorKind::ServerSelection { .. }
                    | ErrorKind::DnsResolve { .. }
                    | ErrorKind::Authentication { .. }
                    | ErrorKind::Shutdown
            )
            // Server answers that name a passing state: host unreachable, shutting down,
            // stepped down, not primary, interrupted, write conflict, time limit.
            || matches!(&*e.kind, ErrorKind::Command(c) if [
                6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
            ]
            .contains(&c.code));
    }
    // Not a database's answer (a timeout of ours, a task that failed): try again.
    true
}

/// An event that could not be read, kept with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub received_at: f64,
    /// Where it came from: `http`, `redis`, `memory`.
    pub source: String,
    pub error: String,
    /// The event as received (truncated to 64 KiB).
    pub payload: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Records inserted or moved forward by this batch.
    pub changed: usize,
    /// Records that reached a final state with this batch (counted in the charts).
    pub finished: usize,
}
