//! Worker routes of the REST API.

use super::error::Query;
use super::AppState;
use app::backend::Backend;
use axum::extract::State;
use axum::Json;
use protocol::heartbeat::Fleet;
use protocol::ServiceError;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkersQuery {
    /// Only the consumers of this queue.
    queue: Option<String>,
}

/// Every consumer heard from recently — funboost's and taskdeck's workers alike, read from
/// funboost's heartbeat keys. A consumer is `alive` while its last heartbeat is younger than
/// 15 s (funboost's rule), `stale` after that, and left out once silent for longer than
/// `drop_after_s`. Ages use the broker's clock, so hosts' clocks do not matter.
#[utoipa::path(
    get,
    path = "/workers",
    tag = "workers",
    params(WorkersQuery),
    responses(
        (status = 200, body = Fleet),
        (status = 503, description = "The broker (Redis) did not answer", body = super::error::ErrorBody),
    )
)]
pub async fn list_workers(
    State(state): State<AppState>,
    Query(q): Query<WorkersQuery>,
) -> Result<Json<Fleet>, ServiceError> {
    let mut fleet = state.services.workers().await?;
    if let Some(queue) = q.queue {
        fleet.consumers.retain(|c| c.heartbeat.queue_name == queue);
    }
    Ok(Json(fleet))
}
