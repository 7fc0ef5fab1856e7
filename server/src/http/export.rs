//! Streamed exports of the tasks a filter matches, as CSV or NDJSON.

use super::AppState;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocol::task::{Cursor, PageAt, TaskFilter, TaskQuery, TaskSummary};
use protocol::ServiceError;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows an export writes unless `max` says otherwise.
pub const DEFAULT_ROWS: u64 = 100_000;
/// Most rows one export may write.
pub const MAX_ROWS: u64 = 1_000_000;
/// Rows read from the store per round trip.
const BATCH: u32 = 1_000;

/// The columns of a CSV export, in order.
pub const CSV_COLUMNS: [&str; 14] = [
    "task_id",
    "queue",
    "function",
    "state",
    "attempts",
    "published_at",
    "started_at",
    "finished_at",
    "wait_s",
    "run_s",
    "host",
    "exception_type",
    "exception_msg",
    "params",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

/// A task query given in the address together with keys of the route itself: the route's
/// keys, and the rest parsed as the filters of `GET /api/v1/tasks` (unknown keys refused).
pub fn split_query(
    raw: Option<&str>,
    own: &[&str],
) -> Result<(HashMap<String, String>, TaskQuery), ServiceError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ServiceError::invalid(format!("malformed query string: {e}")))?;
    let (mine, rest): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(k, _)| own.contains(&k.as_str()));
    // Repeated filter keys mean what the tasks page means by them: one comma list.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in rest {
        match merged.iter_mut().find(|(m, _)| *m == k) {
            Some((_, joined)) if matches!(k.as_str(), "queue" | "state") => {
                joined.push(',');
                joined.push_str(&v);
            }
            Some(_) => return Err(ServiceError::invalid(format!("`{k}` is given twice"))),
            None => merged.push((k, v)),
        }
    }
    let encoded =
        serde_urlencoded::to_string(&merged).map_err(|e| ServiceError::invalid(e.to_string()))?;
    let query: TaskQuery =
        serde_urlencoded::from_str(&encoded).map_err(|e| ServiceError::invalid(e.to_string()))?;
    Ok((mine.into_iter().collect(), query))
}

/// Every task matching the filters of `GET /api/v1/tasks`, newest first, written as it is
/// read: `format=csv` (a header row, times in UTC ISO 8601, whole params) or `format=ndjson`
/// (one task object per line, the fields of the tasks list). At most `max` rows (default
/// 100,000, up to 1,000,000). A relative `range` is fixed when the export starts. A text
/// search outside the index reads on past each bound until it has read everything. If the
/// store fails midway the download is cut off rather than ended as if complete.
#[utoipa::path(
    get,
    path = "/export/tasks",
    tag = "tasks",
    params(
        ("format" = String, Query, description = "`csv` or `ndjson`"),
        ("max" = Option<u64>, Query, description = "Most rows to write, 1–1,000,000 (default 100,000)"),
        TaskQuery,
    ),
    responses(
        (status = 200, description = "The tasks, streamed", content_type = "text/csv", body = String),
        (status = 400, description = "A filter, the format or `max` is malformed", body = super::error::ErrorBody),
    )
)]
pub async fn export_tasks(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ServiceError> {
    let (own, query) = split_query(raw.as_deref(), &["format", "max"])?;
    let format = match own.get("format").map(String::as_str) {
        Some("csv") => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        Some(other) => {
            return Err(ServiceError::invalid(format!(
                "unknown format {other:?}; expected csv or ndjson"
            )))
        }
        None => {
            return Err(ServiceError::invalid(
                "give `format=csv` or `format=ndjson`",
            ))
        }
    };
    let max = match own.get("max") {
        None => DEFAULT_ROWS,
        Some(m) => m
            .parse::<u64>()
            .ok()
            .filter(|m| (1..=MAX_ROWS).contains(m))
            .ok_or_else(|| {
                ServiceError::invalid(format!("`max` must be a whole number from 1 to {MAX_ROWS}"))
            })?,
    };
    if query.older.is_some() || query.newer.is_some() {
        return Err(ServiceError::invalid(
            "an export starts at the newest matching task: drop `older`/`newer`",
        ));
    }
    let now = crate::model::now_epoch();
    let (filter, _, _) = query.parse(now).map_err(ServiceError::invalid)?;
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let stamp = chrono::DateTime::from_timestamp(now as i64, 0)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_default();
    // Fused: the compression layer polls once more after the end.
    let body = Body::from_stream(futures_util::StreamExt::fuse(stream(
        state.services.clone(),
        filter,
        format,
        max,
    )));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"taskdeck-tasks-{stamp}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The export's chunks, one per batch read. A reader that goes away stops the reading; a
/// store error ends the stream with an error, which cuts the download off.
fn stream(
    services: Arc<crate::services::Services>,
    filter: TaskFilter,
    format: Format,
    max: u64,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(2);
    tokio::spawn(async move {
        if format == Format::Csv {
            let header = csv_line(CSV_COLUMNS.iter().map(|c| c.to_string()));
            if tx.send(Ok(header)).await.is_err() {
                return;
            }
        }
        let mut at = PageAt::First;
        let mut written = 0u64;
        while written < max {
            let want = (max - written).min(u64::from(BATCH)) as u32;
            let page = match services.store.export_page(&filter, &at, want).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), written, "task export cut off: the store failed");
                    let _ = tx.send(Err(std::io::Error::other(format!("{e:#}")))).await;
                    return;
                }
            };
            let mut chunk = String::new();
            for task in &page.tasks {
                match format {
                    Format::Csv => chunk.push_str(&csv_row(task)),
                    Format::Ndjson => {
                        chunk.push_str(&serde_json::to_string(task).unwrap_or_default());
                        chunk.push('\n');
                    }
                }
            }
            written += page.tasks.len() as u64;
            if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
                return;
            }
            match page.older.as_deref().map(Cursor::decode) {
                Some(Some(c)) => at = PageAt::Older(c),
                Some(None) => {
                    let _ = tx
                        .send(Err(std::io::Error::other("unreadable cursor")))
                        .await;
                    return;
                }
                None => return,
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
}

/// One CSV record (RFC 4180, CRLF). Text that a spreadsheet would run as a formula gets a
/// leading `'`, so opening an export cannot execute what a task's caller wrote.
fn csv_row(t: &TaskSummary) -> String {
    let time = |s: Option<f64>| s.map(iso).unwrap_or_default();
    let num = |s: Option<f64>| {
        s.filter(|v| v.is_finite())
            .map(|v| format!("{v:.3}"))
            .unwrap_or_default()
    };
    let text = |s: &str| {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_owned()
        }
    };
    csv_line([
        text(&t.task_id),
        text(&t.queue),
        text(t.function.as_deref().unwrap_or_default()),
        t.state.as_str().to_owned(),
        t.run_times.to_string(),
        time(t.publish_time),
        time(t.start_time),
        time(t.end_time),
        num(t.wait),
        num(t.cost),
        text(t.host_name.as_deref().unwrap_or_default()),
        text(t.exception_type.as_deref().unwrap_or_default()),
        text(t.exception_msg.as_deref().unwrap_or_default()),
        text(t.params.as_deref().unwrap_or_default()),
    ])
}

/// `cells` as one CSV line, quoted where needed, CRLF-terminated.
fn csv_line(cells: impl IntoIterator<Item = String>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let cells: Vec<String> = cells.into_iter().collect();
    // Writing to memory cannot fail; the text is UTF-8 because every cell is.
    w.write_record(&cells).expect("a CSV record in memory");
    String::from_utf8(w.into_inner().expect("flushed to memory")).expect("UTF-8 cells")
}

fn iso(epoch: f64) -> String {
    chrono::DateTime::from_timestamp_millis((epoch * 1000.0).round() as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::TaskState;

    fn task() -> TaskSummary {
        TaskSummary {
            task_id: "t-1".into(),
            queue: "q".into(),
            function: Some("f".into()),
            state: TaskState::Failed,
            run_times: 2,
            params: Some(r#"{"a": "x,\"y\"\nz"}"#.into()),
            exception_type: Some("ValueError".into()),
            exception_msg: Some("=HYPERLINK(\"http://evil\")".into()),
            publish_time: Some(1_700_000_000.0),
            start_time: Some(1_700_000_000.25),
            end_time: None,
            cost: Some(1.5),
            wait: Some(0.25),
            host_name: None,
            sort_time: 1_700_000_000.25,
        }
    }

    #[test]
    fn csv_rows_quote_escape_and_defuse_formulas() {
        assert_eq!(
            csv_row(&task()),
            "t-1,q,f,failed,2,2023-11-14T22:13:20.000Z,2023-11-14T22:13:20.250Z,,0.250,1.500,,ValueError,\
             \"'=HYPERLINK(\"\"http://evil\"\")\",\"{\"\"a\"\": \"\"x,\\\"\"y\\\"\"\\nz\"\"}\"\r\n"
        );
    }

    #[test]
    fn route_keys_are_split_from_the_filters() {
        let (own, q) = split_query(
            Some("format=csv&state=failed&state=killed&queue=a&max=5"),
            &["format", "max"],
        )
        .unwrap();
        assert_eq!(own["format"], "csv");
        assert_eq!(own["max"], "5");
        assert_eq!(q.state.as_deref(), Some("failed,killed"));
        assert_eq!(q.queue.as_deref(), Some("a"));
        assert!(split_query(Some("format=csv&nope=1"), &["format"]).is_err());
        assert!(split_query(Some("q=abc&q=def"), &[]).is_err());
        let (_, q) = split_query(Some("from=1.5&limit=20"), &[]).unwrap();
        assert_eq!((q.from, q.limit), (Some(1.5), Some(20)));
    }
}
