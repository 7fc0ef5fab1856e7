//! The one door from the UI to taskdeck's services.
//!
//! `server` implements [`Backend`] and provides it through Leptos context; server functions
//! call it exactly as the REST handlers do, so the UI and the API cannot drift apart.

use async_trait::async_trait;
use leptos::prelude::ServerFnError;
use protocol::failures::{FailureFilter, FailureGroups};
use protocol::heartbeat::Fleet;
use protocol::overview::Overview;
use protocol::queue::QueuePage;
use protocol::series::{Grain, Series};
use protocol::task::{PageAt, QueueSummary, TaskDetail, TaskFilter, TaskPage};
pub use protocol::ServiceError;
use protocol::{Health, VersionInfo};
use std::sync::Arc;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Probes every dependency (store, bus) with a real round trip.
    async fn health(&self) -> Health;
    fn version(&self) -> VersionInfo;
    /// Tasks matching `filter`, newest first, one page.
    async fn list_tasks(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
    ) -> Result<TaskPage, ServiceError>;
    async fn task(&self, task_id: &str) -> Result<Option<TaskDetail>, ServiceError>;
    /// Tasks that finished without success, grouped, over a range.
    async fn failures(&self, filter: &FailureFilter) -> Result<FailureGroups, ServiceError>;
    async fn queues(&self) -> Result<Vec<QueueSummary>, ServiceError>;
    /// The chart series of `queue` over `[from, to)`, by default the grain's usual window.
    async fn series(
        &self,
        queue: &str,
        grain: Grain,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Series, ServiceError>;
    /// Every consumer heard from recently (funboost's and taskdeck's), by the broker's clock.
    async fn workers(&self) -> Result<Fleet, ServiceError>;
    /// One row per queue: throughput, recent counts, backlog, consumers, pause. A broker that
    /// does not answer leaves its facts out (and says why) rather than failing the page.
    async fn overview(&self) -> Result<Overview, ServiceError>;
    /// One queue's page: its overview row, consumers, parameters and the chart series of
    /// `grain` over the grain's usual window ending now.
    async fn queue_page(&self, queue: &str, grain: Grain) -> Result<QueuePage, ServiceError>;
    /// Every user (admins only: the server function checks).
    async fn users(&self) -> Result<Vec<protocol::auth::UserInfo>, ServiceError>;
    /// Every API token, newest first, without secrets.
    async fn tokens(&self) -> Result<Vec<protocol::auth::TokenInfo>, ServiceError>;
    /// The audit log, newest first, filtered by text, before a time.
    async fn audit(
        &self,
        text: &str,
        before: Option<f64>,
        limit: u32,
    ) -> Result<protocol::auth::AuditPage, ServiceError>;
    /// `limit` messages waiting in the queue's broker keys from `offset`, in the order its
    /// consumers take them.
    async fn waiting(
        &self,
        queue: &str,
        offset: u64,
        limit: u32,
    ) -> Result<protocol::control::WaitingPage, ServiceError>;
    /// The messages funboost dead-lettered from the queue (`<queue>_dlx`), as `waiting` shows
    /// a queue's.
    async fn dead_letters(
        &self,
        queue: &str,
        offset: u64,
        limit: u32,
    ) -> Result<protocol::control::WaitingPage, ServiceError>;
    /// What can be done to a task now (kill, revoke) and the latest such command.
    async fn task_controls(
        &self,
        task_id: &str,
    ) -> Result<protocol::control::TaskControls, ServiceError>;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend of the current request, provided by the server for every render and every
/// server function call, for a caller the gate let read.
pub fn use_backend() -> Result<SharedBackend, ServerFnError> {
    match access() {
        Some(a) if a.read => {}
        Some(_) => {
            return Err(fail(ServiceError::forbidden(
                "this token has no `read` scope",
            )))
        }
        None => return Err(fail(ServiceError::unauthorized("sign in first"))),
    }
    leptos::prelude::use_context::<SharedBackend>()
        .ok_or_else(|| ServerFnError::new("taskdeck backend missing from context"))
}

/// Admin pages' reads: the gate lets any reader reach `/api/ui`, these check the role.
pub fn require_admin() -> Result<(), ServerFnError> {
    match access() {
        Some(a) if a.admin => Ok(()),
        _ => Err(fail(ServiceError::forbidden("only admins may see this"))),
    }
}

/// What the gate found the caller may do (absent when the request did not pass the gate).
fn access() -> Option<protocol::auth::Access> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<protocol::auth::Access>()
        .cloned()
}

/// A server function's error: the service error's message, answered with its status (server
/// functions answer 500 unless told otherwise).
pub fn fail(e: ServiceError) -> ServerFnError {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(e.status()) {
            response.set_status(status);
        }
    }
    ServerFnError::new(e.message)
}
