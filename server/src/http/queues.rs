//! Queue routes of the REST API.

use super::error::Query;
use super::AppState;
use app::backend::Backend;
use axum::extract::{Path, State};
use axum::Json;
use protocol::series::{Grain, Series};
use protocol::task::QueueSummary;
use protocol::ServiceError;
use serde::Deserialize;

/// `grain`, or `default` when absent.
fn grain(grain: Option<&str>, default: Grain) -> Result<Grain, ServiceError> {
    grain.map_or(Ok(default), |g| {
        Grain::parse(g).map_err(ServiceError::invalid)
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// `second`, `minute` (default), `hour` or `day`.
    grain: Option<String>,
    /// Start, epoch seconds; default: the grain's usual window before `to`
    /// (60 s, 60 min, 24 h, 30 days).
    from: Option<i64>,
    /// End (exclusive), epoch seconds; default: now.
    to: Option<i64>,
}

/// Finished tasks per bucket (by final state) with run- and wait-time p50/p95/p99/avg, read
/// from counters maintained at write time.
#[utoipa::path(
    get,
    path = "/queues/{queue}/series",
    tag = "queues",
    params(("queue" = String, Path, description = "Queue name"), SeriesQuery),
    responses(
        (status = 200, body = Series),
        (status = 400, description = "Unknown grain, reversed range or too many buckets", body = super::error::ErrorBody),
    )
)]
pub async fn series(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Series>, ServiceError> {
    let grain = grain(q.grain.as_deref(), Grain::Minute)?;
    Ok(Json(
        state.services.series(&queue, grain, q.from, q.to).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueuePageQuery {
    /// The series' grain: `second` (default: the last 60 s), `minute` (60 min), `hour`
    /// (24 h) or `day` (30 days).
    grain: Option<String>,
}

/// One queue: its overview row (throughput, recent counts, backlog, oldest waiting, paused),
/// its consumers, its registered parameters and the chart series of one grain over the
/// grain's usual window ending now. A queue nothing knows answers with zeros and
/// `known: false`.
#[utoipa::path(
    get,
    path = "/queues/{queue}",
    tag = "queues",
    params(("queue" = String, Path, description = "Queue name"), QueuePageQuery),
    responses(
        (status = 200, body = protocol::queue::QueuePage),
        (status = 400, description = "Unknown grain", body = super::error::ErrorBody),
        (status = 503, description = "The store did not answer", body = super::error::ErrorBody),
    )
)]
pub async fn queue_page(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(q): Query<QueuePageQuery>,
) -> Result<Json<protocol::queue::QueuePage>, ServiceError> {
    let grain = grain(q.grain.as_deref(), Grain::Second)?;
    Ok(Json(state.services.queue_page(&queue, grain).await?))
}

/// Every queue taskdeck has records for, with running and recently finished counts.
#[utoipa::path(get, path = "/queues", tag = "queues", responses((status = 200, body = Vec<QueueSummary>)))]
pub async fn list_queues(
    State(state): State<AppState>,
) -> Result<Json<Vec<QueueSummary>>, ServiceError> {
    Ok(Json(state.services.queues().await?))
}

/// The dashboard's overview: one row per queue known to the store or the broker, with
/// throughput over the last 10 s, successes and failures in the last minute and hour, backlog
/// (waiting messages and in flight, read from the broker now), the oldest waiting message's
/// age, live and stale consumers, the paused state and a 30-minute sparkline. When the broker
/// does not answer, its facts are left out and `broker_error` says why.
#[utoipa::path(
    get,
    path = "/overview",
    tag = "queues",
    responses(
        (status = 200, body = protocol::overview::Overview),
        (status = 503, description = "The store did not answer", body = super::error::ErrorBody),
    )
)]
pub async fn overview(
    State(state): State<AppState>,
) -> Result<Json<protocol::overview::Overview>, ServiceError> {
    Ok(Json(state.services.overview().await?))
}
