//! Task routes of the REST API.

use super::error::Query;
use super::AppState;
use app::backend::Backend;
use axum::extract::{Path, State};
use axum::Json;
use protocol::failures::{FailureGroups, FailureQuery};
use protocol::task::{TaskDetail, TaskPage, TaskQuery};
use protocol::ServiceError;

/// Tasks matching every given filter, newest first, with keyset pagination.
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "tasks",
    params(TaskQuery),
    responses(
        (status = 200, body = TaskPage),
        (status = 400, description = "A filter or cursor is malformed", body = super::error::ErrorBody),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    Query(q): Query<TaskQuery>,
) -> Result<Json<TaskPage>, ServiceError> {
    let (filter, at, limit) = q
        .parse(crate::model::now_epoch())
        .map_err(ServiceError::invalid)?;
    Ok(Json(state.services.list_tasks(&filter, &at, limit).await?))
}

/// Everything recorded about one task.
#[utoipa::path(
    get,
    path = "/tasks/{task_id}",
    tag = "tasks",
    params(("task_id" = String, Path)),
    responses((status = 200, body = TaskDetail), (status = 404, body = super::error::ErrorBody))
)]
pub async fn get_task(
    State(state): State<AppState>,
    Path(task_id): Path<String>,
) -> Result<Json<TaskDetail>, ServiceError> {
    state
        .services
        .task(&task_id)
        .await?
        .map(Json)
        .ok_or_else(|| ServiceError::not_found(format!("no task {task_id:?}")))
}

/// Tasks that finished without success (failed, killed, revoked, expired) over a range,
/// grouped by queue, state and exception type, most frequent first, each with a count per
/// bucket (minutes up to 6 h, hours beyond), first and last time and the latest as a sample.
#[utoipa::path(
    get,
    path = "/failures",
    tag = "tasks",
    params(FailureQuery),
    responses(
        (status = 200, body = FailureGroups),
        (status = 400, description = "The range or a key is malformed", body = super::error::ErrorBody),
    )
)]
pub async fn failures(
    State(state): State<AppState>,
    Query(q): Query<FailureQuery>,
) -> Result<Json<FailureGroups>, ServiceError> {
    let filter = q
        .parse(crate::model::now_epoch())
        .map_err(ServiceError::invalid)?;
    Ok(Json(state.services.failures(&filter).await?))
}
