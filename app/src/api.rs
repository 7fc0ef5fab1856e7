//! Server functions: thin calls into the [`crate::backend::Backend`] service layer.

use leptos::prelude::*;
// Reads are GETs: a change (POST) from a session must carry its CSRF token, reads need none.
use leptos::server_fn::codec::GetUrl;
use protocol::Health;

#[server(prefix = "/api/ui", endpoint = "system_status", input = GetUrl)]
pub async fn system_status() -> Result<Health, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    Ok(backend.health().await)
}

/// Every queue with its recent counts.
#[server(prefix = "/api/ui", endpoint = "queues", input = GetUrl)]
pub async fn queue_list() -> Result<Vec<protocol::task::QueueSummary>, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend.queues().await.map_err(crate::backend::fail)
}

/// Tasks matching a query (the tasks page's address), newest first.
#[server(prefix = "/api/ui", endpoint = "tasks", input = GetUrl)]
pub async fn search_tasks(
    // An empty query (the plain tasks page) encodes to nothing at all.
    #[server(default)] query: protocol::task::TaskQuery,
) -> Result<protocol::task::TaskPage, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    let (filter, at, limit) = query
        .parse(crate::format::now())
        .map_err(|e| crate::backend::fail(protocol::ServiceError::invalid(e)))?;
    backend
        .list_tasks(&filter, &at, limit)
        .await
        .map_err(crate::backend::fail)
}

/// Every consumer heard from recently.
#[server(prefix = "/api/ui", endpoint = "workers", input = GetUrl)]
pub async fn workers() -> Result<protocol::heartbeat::Fleet, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend.workers().await.map_err(crate::backend::fail)
}

/// One row per queue with its live facts.
#[server(prefix = "/api/ui", endpoint = "overview", input = GetUrl)]
pub async fn overview() -> Result<protocol::overview::Overview, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend.overview().await.map_err(crate::backend::fail)
}

/// One queue's page with the series of `grain` over its usual window.
#[server(prefix = "/api/ui", endpoint = "queue_page", input = GetUrl)]
pub async fn queue_page(
    queue: String,
    grain: protocol::series::Grain,
) -> Result<protocol::queue::QueuePage, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend
        .queue_page(&queue, grain)
        .await
        .map_err(crate::backend::fail)
}

/// Messages waiting in a queue, as its consumers will take them.
#[server(prefix = "/api/ui", endpoint = "queue_waiting", input = GetUrl)]
pub async fn queue_waiting(
    queue: String,
    offset: u64,
    limit: u32,
) -> Result<protocol::control::WaitingPage, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend
        .waiting(&queue, offset, limit)
        .await
        .map_err(crate::backend::fail)
}

/// Messages funboost dead-lettered from a queue.
#[server(prefix = "/api/ui", endpoint = "queue_dead", input = GetUrl)]
pub async fn queue_dead(
    queue: String,
    offset: u64,
    limit: u32,
) -> Result<protocol::control::WaitingPage, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend
        .dead_letters(&queue, offset, limit)
        .await
        .map_err(crate::backend::fail)
}

/// One queue's series over a fixed range.
#[server(prefix = "/api/ui", endpoint = "queue_series", input = GetUrl)]
pub async fn queue_series(
    queue: String,
    grain: protocol::series::Grain,
    from: i64,
    to: i64,
) -> Result<protocol::series::Series, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend
        .series(&queue, grain, Some(from), Some(to))
        .await
        .map_err(crate::backend::fail)
}

/// Everything recorded about one task, or `None` when the store has no such task.
#[server(prefix = "/api/ui", endpoint = "task", input = GetUrl)]
pub async fn task_detail(
    task_id: String,
) -> Result<Option<protocol::task::TaskDetail>, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend.task(&task_id).await.map_err(crate::backend::fail)
}

/// Failure groups over the failures page's range.
#[server(prefix = "/api/ui", endpoint = "failures", input = GetUrl)]
pub async fn failure_groups(
    #[server(default)] query: protocol::failures::FailureQuery,
) -> Result<protocol::failures::FailureGroups, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    let filter = query
        .parse(crate::format::now())
        .map_err(|e| crate::backend::fail(protocol::ServiceError::invalid(e)))?;
    backend
        .failures(&filter)
        .await
        .map_err(crate::backend::fail)
}

/// What can be done to a task now, and the latest kill or revoke of it.
#[server(prefix = "/api/ui", endpoint = "task_controls", input = GetUrl)]
pub async fn task_controls(
    task_id: String,
) -> Result<protocol::control::TaskControls, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    backend
        .task_controls(&task_id)
        .await
        .map_err(crate::backend::fail)
}

#[server(prefix = "/api/ui", endpoint = "admin_users", input = GetUrl)]
pub async fn admin_users() -> Result<Vec<protocol::auth::UserInfo>, ServerFnError> {
    crate::backend::require_admin()?;
    let backend = crate::backend::use_backend()?;
    backend.users().await.map_err(crate::backend::fail)
}

#[server(prefix = "/api/ui", endpoint = "admin_tokens", input = GetUrl)]
pub async fn admin_tokens() -> Result<Vec<protocol::auth::TokenInfo>, ServerFnError> {
    crate::backend::require_admin()?;
    let backend = crate::backend::use_backend()?;
    backend.tokens().await.map_err(crate::backend::fail)
}

#[server(prefix = "/api/ui", endpoint = "admin_audit", input = GetUrl)]
pub async fn admin_audit(
    text: String,
    before: Option<f64>,
) -> Result<protocol::auth::AuditPage, ServerFnError> {
    crate::backend::require_admin()?;
    let backend = crate::backend::use_backend()?;
    backend
        .audit(&text, before, 100)
        .await
        .map_err(crate::backend::fail)
}
