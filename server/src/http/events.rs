//! `POST /api/v1/events`: task events as a JSON array, or NDJSON (one event per line).

use super::AppState;
use crate::ingest::{IngestError, Prepared, RawEvent};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::ServiceError;
use serde::Serialize;
use std::time::Duration;

/// Largest accepted request body.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// An oversized body is read (and dropped) up to this size before the 413 is sent: a server
/// that stops reading mid-upload resets the connection, and the client sees a broken pipe
/// instead of the answer.
const DRAIN_UP_TO: usize = 4 * MAX_BODY;
/// Most events in one request.
pub const MAX_EVENTS: usize = 50_000;
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// Events recorded.
    pub accepted: usize,
    /// Events refused; each is kept as a dead letter and listed in `errors`.
    pub rejected: usize,
    pub errors: Vec<EventErrorReport>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventErrorReport {
    /// Position of the event in the request (0-based; for NDJSON the line's event number).
    pub index: usize,
    pub error: String,
}

/// Records task events. Answers only after the events are committed to the store, so a 202
/// means they are safe; any other answer means nothing needs to be assumed recorded and the
/// request can be sent again (duplicates change nothing).
#[utoipa::path(
    post,
    path = "/events",
    tag = "ingest",
    request_body(content = String, description = "JSON array of events, or NDJSON (application/x-ndjson); see docs/events.md", content_type = "application/json"),
    responses(
        (status = 202, description = "Committed; malformed events listed by index", body = IngestReport),
        (status = 400, description = "The body is neither a JSON array nor NDJSON", body = super::error::ErrorBody),
        (status = 413, description = "Body over 16 MiB or more than 50,000 events", body = super::error::ErrorBody),
        (status = 503, description = "The store did not commit in time; send again", body = super::error::ErrorBody),
    )
)]
pub async fn post_events(
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, ServiceError> {
    let bytes = read_body(body).await?;
    let raw = split_events(&bytes)?;
    if raw.len() > MAX_EVENTS {
        return Err(ServiceError::too_large(format!(
            "{} events in one request; send at most {MAX_EVENTS} per request",
            raw.len()
        )));
    }
    let prepared = Prepared::from_raw(raw, "http");
    let ingest = &state.services.ingest;
    ingest.metrics.received("http", prepared.len());
    ingest.metrics.rejected("http", prepared.dead.len());
    let accepted = prepared.records.len();
    let errors: Vec<_> = prepared
        .errors
        .iter()
        .map(|(index, error)| EventErrorReport {
            index: *index,
            error: error.clone(),
        })
        .collect();
    if !prepared.is_empty() {
        ingest
            .submit(prepared, COMMIT_TIMEOUT)
            .await
            .map_err(|e| match e {
                IngestError::Closed | IngestError::Timeout => {
                    ServiceError::unavailable(e.to_string())
                }
            })?;
    }
    let report = IngestReport {
        accepted,
        rejected: errors.len(),
        errors,
    };
    Ok((StatusCode::ACCEPTED, Json(report)).into_response())
}

/// A JSON array (the whole body) or NDJSON (every non-blank line one event). A line that is
/// not JSON is a per-event error, not a failed request.
/// The body, at most [`MAX_BODY`]; a larger one is drained (up to [`DRAIN_UP_TO`]) and refused.
async fn read_body(body: Body) -> Result<Vec<u8>, ServiceError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while seen <= DRAIN_UP_TO {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame =
            frame.map_err(|e| ServiceError::invalid(format!("reading the body failed: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                bytes.extend_from_slice(&data);
            }
        }
    }
    if seen > MAX_BODY {
        return Err(ServiceError::too_large(format!(
            "the body is larger than {} MiB; send the events in smaller requests",
            MAX_BODY >> 20
        )));
    }
    Ok(bytes)
}

fn split_events(bytes: &[u8]) -> Result<Vec<RawEvent>, ServiceError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ServiceError::invalid(format!("the body is not UTF-8: {e}")))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let values: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(trimmed).map_err(|e| {
                ServiceError::invalid(format!("the body is not a JSON array of events: {e}"))
            })?;
        return Ok(values
            .into_iter()
            .map(|v| RawEvent::Text(v.get().to_owned()))
            .collect());
    }
    if trimmed.is_empty() {
        return Err(ServiceError::invalid(
            "the body is empty; send a JSON array of events or NDJSON",
        ));
    }
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| RawEvent::Text(line.to_owned()))
        .collect())
}

/// Prometheus metrics of this instance.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut resp = state.services.ingest.metrics.render().into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arrays_and_ndjson_with_per_line_errors() {
        let arr = split_events(br#" [{"a":1},{"b":2}]"#).unwrap();
        assert_eq!(arr.len(), 2);
        let nd = split_events(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n").unwrap();
        assert_eq!(nd.len(), 3, "blank lines are skipped");
        assert!(split_events(b"[{\"a\":1},").is_err());
        assert!(split_events(b"   ").is_err());
        assert!(split_events(&[0xff, 0xfe]).is_err());
    }
}
