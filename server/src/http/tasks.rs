//! Task routes of the REST API.

use super::error::ApiError;
use super::AppState;
use app::backend::Backend;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use protocol::event::TaskState;
use protocol::task::{Cursor, PageAt, TaskDetail, TaskFilter, TaskPage};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    /// Queue names, comma-separated.
    queue: Option<String>,
    /// States, comma-separated: pending, running, success, failed, killed, revoked, expired.
    state: Option<String>,
    /// Earliest start (else publish) time, epoch seconds, inclusive.
    from: Option<f64>,
    /// Latest start (else publish) time, epoch seconds, exclusive.
    to: Option<f64>,
    exception_type: Option<String>,
    host: Option<String>,
    function: Option<String>,
    /// Text contained in params, result or exception message.
    q: Option<String>,
    /// Exact task id.
    task_id: Option<String>,
    /// Task id prefix.
    task_id_prefix: Option<String>,
    /// Cursor from a previous page's `older`.
    older: Option<String>,
    /// Cursor from a previous page's `newer`.
    newer: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<u32>,
}

fn list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

impl TaskQuery {
    fn parse(self) -> Result<(TaskFilter, PageAt, u32), ApiError> {
        let states = list(&self.state)
            .iter()
            .map(|s| {
                TaskState::parse(s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unknown state {s:?}; expected pending, running, success, failed, killed, revoked or expired"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = |name: &str, c: &str| {
            Cursor::decode(c).ok_or_else(|| {
                ApiError::bad_request(format!("`{name}` is not a cursor from a previous page"))
            })
        };
        let at = match (&self.older, &self.newer) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request("give `older` or `newer`, not both"))
            }
            (Some(c), None) => PageAt::Older(cursor("older", c)?),
            (None, Some(c)) => PageAt::Newer(cursor("newer", c)?),
            (None, None) => PageAt::First,
        };
        let limit = self.limit.unwrap_or(50);
        if !(1..=crate::store::MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "`limit` must be between 1 and {}",
                crate::store::MAX_PAGE
            )));
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Err(ApiError::bad_request("`from` must be before `to`"));
            }
        }
        let filter = TaskFilter {
            queues: list(&self.queue),
            states,
            from: self.from,
            to: self.to,
            exception_type: non_empty(self.exception_type),
            host: non_empty(self.host),
            function: non_empty(self.function),
            text: non_empty(self.q),
            task_id: non_empty(self.task_id),
            task_id_prefix: non_empty(self.task_id_prefix),
        };
        Ok((filter, at, limit))
    }
}

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
    q: Result<Query<TaskQuery>, QueryRejection>,
) -> Result<Json<TaskPage>, ApiError> {
    let Query(q) = q.map_err(ApiError::from)?;
    let (filter, at, limit) = q.parse()?;
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
) -> Result<Json<TaskDetail>, ApiError> {
    state
        .services
        .task(&task_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no task {task_id:?}")))
}
