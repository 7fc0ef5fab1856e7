//! The live stream route.

use super::error::ApiError;
use super::AppState;
use crate::live::View;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use std::convert::Infallible;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// `overview` (what `GET /api/v1/overview` returns), `workers` (`GET /api/v1/workers`) or
    /// `queue` (`GET /api/v1/queues/{queue}`; needs `queue`).
    view: String,
    /// The queue of view `queue`.
    queue: Option<String>,
    /// The chart grain of view `queue`: `second` (default), `minute`, `hour` or `day`.
    grain: Option<String>,
    /// The id of the last frame the client has, for clients that reconnect themselves
    /// (the `Last-Event-ID` header does the same for EventSource's own reconnects).
    last_event_id: Option<u64>,
}

/// Server-sent events: whole snapshots of one view, pushed when they change, at most four a
/// second, at least every 2 s while anything changes. Each frame's `event` is the view's name
/// (or `unavailable`, with `{"error": …}`), its `id` the time it was computed in epoch
/// milliseconds. After a reconnect the newest frame is sent at once unless the client already
/// has it. Changes committed by other taskdeck instances arrive too (through Redis).
#[utoipa::path(
    get,
    path = "/live",
    tag = "live",
    params(LiveQuery),
    responses(
        (status = 200, description = "An event stream (text/event-stream)", content_type = "text/event-stream", body = String),
        (status = 400, description = "Unknown view or grain, or a queue view without a queue", body = super::error::ErrorBody),
    )
)]
pub async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = q.map_err(ApiError::from)?;
    let view = View::parse(&q.view, q.queue.as_deref(), q.grain.as_deref())
        .map_err(ApiError::bad_request)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.last_event_id);
    let frames = state.live.subscribe(view);
    let guard = state.live.client();
    let stream = futures_util::stream::unfold(
        (frames, last, guard, true),
        |(mut frames, mut last, guard, mut first)| async move {
            loop {
                if !first {
                    // Ends the stream when the view stops (shutdown).
                    frames.changed().await.ok()?;
                }
                first = false;
                let Some(frame) = frames.borrow_and_update().clone() else {
                    continue;
                };
                if last == Some(frame.id) {
                    continue;
                }
                last = Some(frame.id);
                let event = Event::default()
                    .id(frame.id.to_string())
                    .event(frame.event)
                    .data(&*frame.data);
                return Some((Ok(event), (frames, last, guard, first)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
