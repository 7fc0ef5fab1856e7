//! SQLite and Postgres: one implementation over a small dialect. Statements are written once
//! (`$n` placeholders work in both; `QueryBuilder` numbers its own); what differs is named by
//! [`Dialect`]. Each batch write has a path of its own per database (`sqlite.rs`,
//! `postgres.rs`), since that is where their strengths differ.

mod accounts;
mod failures;
mod journal;
mod postgres;
mod retention;
mod series;
mod sqlite;
mod tasks;

pub use postgres::copy_rows;

use super::{Backend, DeadLetter, TaskWrites, WriteOutcome};
use crate::model::record::TaskRecord;
use async_trait::async_trait;
use protocol::StoreKind;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The connection pool of one SQL store.
#[derive(Clone, Debug)]
pub enum SqlPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What differs between the two SQL dialects taskdeck speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The two-argument maximum.
    pub fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MAX",
            Dialect::Postgres => "GREATEST",
        }
    }

    /// The two-argument minimum.
    pub fn least(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MIN",
            Dialect::Postgres => "LEAST",
        }
    }

    /// The column that addresses one row for a chunked delete (SQLite's `rowid`, Postgres's
    /// `ctid`).
    pub fn row_address(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "ctid",
        }
    }
}

/// Runs `$body` with `$pool` bound to the pool and `$db` naming its sqlx database type: the
/// same statements, compiled once for each driver.
macro_rules! on_pool {
    ($store:expr, $pool:ident, $db:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::sql::SqlPool::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            $crate::store::sql::SqlPool::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
    ($store:expr, $pool:ident => $body:expr) => {
        on_pool!($store, $pool, _Db => $body)
    };
}
pub(crate) use on_pool;

#[derive(Debug)]
pub struct SqlStore {
    pub pool: SqlPool,
}

impl SqlStore {
    pub async fn open_sqlite(url: &str) -> anyhow::Result<SqlStore> {
        let options = SqliteConnectOptions::from_str(url)?
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
            .acquire_timeout(super::PROBE_TIMEOUT)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(SqlStore {
            pool: SqlPool::Sqlite(pool),
        })
    }

    pub async fn open_postgres(url: &str) -> anyhow::Result<SqlStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(SqlStore {
            pool: SqlPool::Postgres(pool),
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            SqlPool::Sqlite(_) => Dialect::Sqlite,
            SqlPool::Postgres(_) => Dialect::Postgres,
        }
    }
}

#[async_trait]
impl Backend for SqlStore {
    fn kind(&self) -> StoreKind {
        match self.dialect() {
            Dialect::Sqlite => StoreKind::Sqlite,
            Dialect::Postgres => StoreKind::Postgres,
        }
    }

    async fn round_trip(&self) -> Result<(), String> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop).map_err(|e| e.to_string()))
    }

    async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    fn sql_pool(&self) -> Option<&SqlPool> {
        Some(&self.pool)
    }
}

#[async_trait]
impl TaskWrites for SqlStore {
    /// Postgres runs a connection's statements on one core, so one writer leaves its other
    /// cores idle; concurrent shares never touch the same task, and lock counter rows in one
    /// order (sorted increments), so they neither wait on each other's tasks nor deadlock.
    /// SQLite takes one writer at a time.
    fn writers(&self) -> usize {
        match self.dialect() {
            Dialect::Postgres => 2,
            Dialect::Sqlite => 1,
        }
    }

    async fn write_batch(
        &self,
        records: &[TaskRecord],
        dead: &[DeadLetter],
    ) -> anyhow::Result<WriteOutcome> {
        Ok(match &self.pool {
            SqlPool::Sqlite(pool) => sqlite::write_batch(pool, records, dead).await?,
            SqlPool::Postgres(pool) => postgres::write_batch(pool, records, dead).await?,
        })
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
pub(crate) fn queues_seen(records: &[TaskRecord]) -> Vec<(&str, f64)> {
    let mut seen: std::collections::BTreeMap<&str, f64> = Default::default();
    for r in records {
        let t = seen.entry(r.queue.as_str()).or_insert(r.updated_at);
        *t = t.max(r.updated_at);
    }
    seen.into_iter().collect()
}
