//! The store, as a port: what taskdeck asks of wherever it keeps task records, counters,
//! accounts and its journal — one trait per capability — and [`Store::open`], the only place
//! that knows there are three backends: SQLite and Postgres (one implementation over a small
//! dialect, `sql/`) and MongoDB (`mongo/`). Adding a query is one trait method plus one
//! implementation per family.

mod listing;
mod mongo;
pub mod records;
pub mod retention;
mod sql;
mod url;

pub use listing::{cut, set_scan_budget, Listing};
pub use mongo::MongoStore;
pub use records::{AuditEntry, CommandRow, DeadLetter, Token, User, WriteOutcome};
pub use retention::Pruned;
pub use sql::{copy_rows, SqlPool};
pub use url::StoreUrl;

use crate::model::record::TaskRecord;
use crate::model::stats::StatRow;
use async_trait::async_trait;
use protocol::failures::{FailureFilter, FailureGroups};
use protocol::series::Grain;
use protocol::task::{PageAt, QueueSummary, TaskDetail, TaskFilter, TaskPage};
use protocol::StoreKind;
use std::sync::Arc;
use std::time::Duration;

/// How long one reachability probe may take before the store counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes of task records, their counters and dead letters.
#[async_trait]
pub trait TaskWrites {
    /// How many shares of each batch (split by task id) are written at once, each on its own
    /// connection.
    fn writers(&self) -> usize;

    /// Writes a reduced batch (one record per task) and the dead letters that came with it;
    /// on the SQL stores in one transaction (all of it or none).
    async fn write_batch(
        &self,
        records: &[TaskRecord],
        dead: &[DeadLetter],
    ) -> anyhow::Result<WriteOutcome>;
}

/// Reads of task records: lists (keyset pages), one task, per-queue summaries.
#[async_trait]
pub trait TaskReads {
    /// One page of the tasks matching `filter`, newest first, read for `how`.
    async fn list(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
        how: Listing,
    ) -> anyhow::Result<TaskPage>;

    /// One page to look at: params cut for the list, the first page counted.
    async fn list_tasks(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
    ) -> anyhow::Result<TaskPage> {
        self.list(filter, at, limit, Listing::Page).await
    }

    /// One page of an export: whole params, never counted.
    async fn export_page(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
    ) -> anyhow::Result<TaskPage> {
        self.list(filter, at, limit, Listing::Export).await
    }

    async fn get_task(&self, task_id: &str) -> anyhow::Result<Option<TaskDetail>>;

    /// Every queue with its running count and finished counts over the last minute and hour
    /// (from the counters, so the cost does not grow with the number of tasks).
    async fn queue_summaries(&self, now: f64) -> anyhow::Result<Vec<QueueSummary>>;
}

/// The chart counters kept at write time.
#[async_trait]
pub trait Series {
    /// The counters of one queue and grain with bucket starts in `[from, to)`.
    async fn stat_rows(
        &self,
        queue: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> anyhow::Result<Vec<StatRow>>;

    /// Tasks that reached a final state, per queue and bucket of `grain` from `since` on:
    /// `(queue, bucket, count)` for every queue at once (the overview's sparklines).
    async fn finished_counts(
        &self,
        grain: Grain,
        since: i64,
    ) -> anyhow::Result<Vec<(String, i64, i64)>>;
}

/// The failure counters kept at write time.
#[async_trait]
pub trait Failures {
    /// The failure groups of `filter`'s range.
    async fn failure_groups(&self, filter: &FailureFilter) -> anyhow::Result<FailureGroups>;
}

/// Users, their sessions and API tokens, shared by every instance on the same store.
#[async_trait]
pub trait Accounts {
    async fn user(&self, name: &str) -> anyhow::Result<Option<User>>;
    /// Every user, by name.
    async fn users(&self) -> anyhow::Result<Vec<User>>;
    /// Creates the user or replaces its hash and role (keeping when it was created); with
    /// `only_new` an existing user is left alone and false returned.
    async fn put_user(&self, u: &User, only_new: bool) -> anyhow::Result<bool>;
    /// Removes the user; true when it existed (its sessions end at their next request).
    async fn delete_user(&self, name: &str) -> anyhow::Result<bool>;
    /// A session's data and expiry (epoch seconds), unless it expired before `now`.
    async fn session(&self, id: &str, now: i64) -> anyhow::Result<Option<(String, i64)>>;
    /// Stores a session; with `only_new` it refuses (returns false) an id already taken.
    async fn put_session(
        &self,
        id: &str,
        data: &str,
        expires_at: i64,
        only_new: bool,
    ) -> anyhow::Result<bool>;
    async fn delete_session(&self, id: &str) -> anyhow::Result<()>;
    /// Removes sessions that expired before `now`; how many.
    async fn purge_sessions(&self, now: i64) -> anyhow::Result<u64>;
    async fn token(&self, id: &str) -> anyhow::Result<Option<Token>>;
    /// Every token, newest first.
    async fn tokens(&self) -> anyhow::Result<Vec<Token>>;
    async fn put_token(&self, t: &Token) -> anyhow::Result<()>;
    /// Revokes a token; true when it existed.
    async fn delete_token(&self, id: &str) -> anyhow::Result<bool>;
    async fn touch_token(&self, id: &str, at: f64) -> anyhow::Result<()>;
}

/// What happened, for the record: the audit log and the commands sent to workers.
#[async_trait]
pub trait Journal {
    async fn audit(&self, e: &AuditEntry) -> anyhow::Result<()>;
    /// The newest `limit` audit entries before `before` (all when `None`) whose actor,
    /// action, target, outcome or detail contains `text` (any case), newest first.
    async fn audit_log(
        &self,
        text: &str,
        before: Option<f64>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>>;
    async fn put_command(&self, c: &CommandRow) -> anyhow::Result<()>;
    /// Records that the command reached the control channel (its `sent_at`, the version it
    /// set and what it did), or why it did not (`detail`).
    async fn command_sent(&self, c: &CommandRow) -> anyhow::Result<()>;
    /// The newest `limit` commands, of one queue and/or task when given.
    async fn commands(
        &self,
        queue: Option<&str>,
        task_id: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<CommandRow>>;
}

/// Deleting what is older than it is kept.
#[async_trait]
pub trait Retention {
    /// Deletes what is older than the retention (chart buckets and the audit log by their own
    /// keep), in chunks that never hold a lock for long.
    async fn prune(&self, now: f64, retention: Duration) -> anyhow::Result<Pruned>;
}

/// One backend: every capability, plus what it is and a way to reach it.
#[async_trait]
pub trait Backend:
    TaskWrites + TaskReads + Series + Failures + Accounts + Journal + Retention + Send + Sync
{
    fn kind(&self) -> StoreKind;
    /// One real round trip.
    async fn round_trip(&self) -> Result<(), String>;
    /// Waits for in-flight statements and closes every connection.
    async fn close(&self);
    /// The SQL pool, for benchmarks that measure the database itself.
    fn sql_pool(&self) -> Option<&SqlPool> {
        None
    }
    /// The MongoDB store, for benchmarks and tests that look at its layout.
    fn mongo(&self) -> Option<&MongoStore> {
        None
    }
}

/// The store taskdeck was started with.
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        &*self.0
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.0.kind().as_str())
    }
}

impl Store {
    /// Connects and brings the schema up to date. The store must be reachable at start:
    /// without it nothing can be recorded, so failing loudly beats serving an empty dashboard.
    pub async fn open(url: &StoreUrl, retention: Duration) -> anyhow::Result<Store> {
        Ok(Store(match url {
            StoreUrl::Sqlite(u) => Arc::new(sql::SqlStore::open_sqlite(u).await?),
            StoreUrl::Postgres(u) => Arc::new(sql::SqlStore::open_postgres(u).await?),
            StoreUrl::Mongodb(u) => Arc::new(mongo::MongoStore::open(u, retention).await?),
        }))
    }

    /// One real round trip to the store, within [`PROBE_TIMEOUT`].
    pub async fn ping(&self) -> Result<(), String> {
        match tokio::time::timeout(PROBE_TIMEOUT, self.0.round_trip()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
        }
    }
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
