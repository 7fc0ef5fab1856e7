//! The live stream route.

use super::export::split_query;
use super::AppState;
use crate::auth::guard::Caller;
use crate::live::{Refusal, View};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use protocol::ServiceError;
use serde::Deserialize;
use std::convert::Infallible;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// `overview` (what `GET /api/v1/overview` returns), `workers` (`GET /api/v1/workers`),
    /// `queue` (`GET /api/v1/queues/{queue}`; needs `queue`) or `tasks` (the newest page of
    /// `GET /api/v1/tasks`, with that route's filters and `limit` as further keys).
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
/// second (one for `tasks`), at least every 2 s while anything changes. Each frame's `event` is the view's name
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
        (status = 400, description = "Unknown view, grain or task filter, or a queue view without a queue", body = super::error::ErrorBody),
        (status = 429, description = "This caller has too many live streams or live task filters open", body = super::error::ErrorBody),
        (status = 503, description = "Too many different task filters are live on this instance", body = super::error::ErrorBody),
    )
)]
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ServiceError> {
    let tasks = form_urlencoded_pairs(raw.as_deref()).any(|(k, v)| k == "view" && v == "tasks");
    let (view, last_event_id) = if tasks {
        let (own, query) = split_query(raw.as_deref(), &["view", "last_event_id"])?;
        let last = own.get("last_event_id").map(|v| {
            v.parse::<u64>()
                .map_err(|_| ServiceError::invalid("`last_event_id` must be a whole number"))
        });
        (
            View::tasks(&query).map_err(ServiceError::invalid)?,
            last.transpose()?,
        )
    } else {
        let q: LiveQuery =
            serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).map_err(|e| {
                ServiceError::invalid(format!("Failed to deserialize query string: {e}"))
            })?;
        let view = View::parse(&q.view, q.queue.as_deref(), q.grain.as_deref())
            .map_err(ServiceError::invalid)?;
        (view, q.last_event_id)
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(last_event_id);
    let (frames, guard) =
        state
            .live
            .open(&caller.actor, view)
            .map_err(|refusal| match refusal {
                Refusal::Caller(m) => ServiceError::too_many(m),
                Refusal::Instance(m) => ServiceError::unavailable(m),
            })?;
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

fn form_urlencoded_pairs(raw: Option<&str>) -> impl Iterator<Item = (String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
}
