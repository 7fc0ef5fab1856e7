//! The live stream (SSE): snapshots pushed on change, resumable, shared across instances.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One server-sent event.
#[derive(Debug)]
struct Frame {
    id: u64,
    event: String,
    data: Value,
}

/// Reads a `text/event-stream` response frame by frame.
struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(url: &str, last_event_id: Option<u64>) -> Sse {
        Sse::open_with(get(url), last_event_id).await
    }

    /// Opens the stream as the caller holding `token`.
    async fn open_as(url: &str, token: &str) -> Sse {
        Sse::open_with(client().get(url).bearer_auth(token), None).await
    }

    async fn open_with(mut req: reqwest::RequestBuilder, last_event_id: Option<u64>) -> Sse {
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next frame within `limit`, skipping keep-alive comments.
    async fn next(&mut self, limit: Duration) -> Option<Frame> {
        let deadline = Instant::now() + limit;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if let Some(id) = id {
                    return Some(Frame {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(_) => panic!("the stream ended"),
                Err(_) => return None,
            }
        }
    }

    /// Frames until one satisfies `want`, within `limit`.
    async fn until(&mut self, limit: Duration, want: impl Fn(&Frame) -> bool) -> Option<Frame> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let f = self.next(left).await?;
            if want(&f) {
                return Some(f);
            }
        }
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `n` tasks of `queue` finished just now, `failed` of them failed.
fn finished(queue: &str, tag: &str, n: usize, failed: usize) -> String {
    let t = now();
    (0..n)
        .map(|i| {
            let ok = i >= failed;
            json!({
                "task_id": format!("{tag}-{i}"), "queue_name": queue, "function": "work",
                "params": {"i": i}, "publish_time": t - 1.0, "time_start": t - 0.5,
                "time_end": t, "run_status": "finish", "success": ok,
                "state": if ok { "success" } else { "failed" },
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn row<'a>(frame: &'a Frame, queue: &str) -> Option<&'a Value> {
    frame.data["queues"]
        .as_array()?
        .iter()
        .find(|r| r["queue"] == queue)
}

fn hour_counts(frame: &Frame, queue: &str) -> (i64, i64) {
    row(frame, queue).map_or((0, 0), |r| {
        (
            r["success_last_hour"].as_i64().unwrap(),
            r["failed_last_hour"].as_i64().unwrap(),
        )
    })
}

#[tokio::test]
async fn pushes_the_overview_when_events_are_committed_and_resumes_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let url = format!("{}/api/v1/live?view=overview", td.url);
    let mut sse = Sse::open(&url, None).await;
    let first = sse
        .next(Duration::from_secs(5))
        .await
        .expect("a first frame at once");
    assert_eq!(first.event, "overview");
    assert_eq!(first.data["queues"], json!([]));

    let t0 = Instant::now();
    let (status, body) = post(&td.url, finished("mail", "a", 7, 2)).await;
    assert_eq!(status, 202, "{body}");
    let f = sse
        .until(Duration::from_secs(5), |f| hour_counts(f, "mail") == (5, 2))
        .await
        .expect("the committed events reach the stream");
    let latency = t0.elapsed();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert!(f.id > first.id);
    let r = row(&f, "mail").unwrap();
    assert_eq!(r["success_last_minute"], 5);
    assert_eq!(r["spark"].as_array().unwrap().len(), 30);
    assert_eq!(r["spark"][29], 7, "this minute's finished tasks");
    assert_eq!(r["waiting"], Value::Null, "no broker knows this queue");

    // Frames are coalesced: a burst of posts yields at most ~4 frames a second.
    let burst = Instant::now();
    for i in 0..20 {
        post(&td.url, finished("mail", &format!("b{i}"), 1, 0)).await;
    }
    let mut frames = 0;
    while sse.next(Duration::from_millis(300)).await.is_some() {
        frames += 1;
    }
    let secs = burst.elapsed().as_secs_f64();
    assert!(
        (frames as f64) <= 4.0 * secs + 1.0,
        "{frames} frames in {secs:.2} s"
    );

    // A client that reconnects with the newest id is not sent that frame again; one with an
    // older id gets the newest at once.
    let (_, overview) = get_json(&format!("{}/api/v1/overview", td.url)).await;
    assert_eq!(hour_counts_of(&overview, "mail"), (25, 2));
    let mut again = Sse::open(&url, Some(first.id)).await;
    let newest = again.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!(hour_counts(&newest, "mail"), (25, 2));
    let mut resumed = Sse::open(&url, Some(newest.id)).await;
    if let Some(f) = resumed.next(Duration::from_millis(200)).await {
        assert_ne!(f.id, newest.id, "the frame the client had was sent again");
    }

    // Unknown views are refused clearly.
    let (status, body) = get_json(&format!("{}/api/v1/live?view=nope", td.url)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("overview"));

    // Clients are counted while connected.
    let metrics = metrics(&td.url).await;
    assert!(metrics.contains("taskdeck_live_clients 3"), "{metrics}");
    drop((sse, again, resumed));
}

fn hour_counts_of(overview: &Value, queue: &str) -> (i64, i64) {
    let r = overview["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["queue"] == queue)
        .unwrap();
    (
        r["success_last_hour"].as_i64().unwrap(),
        r["failed_last_hour"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_change_committed_by_one_instance_reaches_browsers_of_another() {
    let db = PgDb::new("live").await;
    let base = service_url("TEST_REDIS_URL");
    let redis = format!("{}/9", base.rsplit_once('/').unwrap().0);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Taskdeck::start(dir_a.path(), &["--store", &db.url, "--redis", &redis]);
    let b = Taskdeck::start(dir_b.path(), &["--store", &db.url, "--redis", &redis]);
    let mut sse = Sse::open(&format!("{}/api/v1/live?view=overview", a.url), None).await;
    sse.next(Duration::from_secs(5)).await.unwrap();
    // Several rounds, each well inside the 2 s recompute tick, so a tick cannot explain them.
    for round in 1..=3 {
        let t0 = Instant::now();
        let (status, _) = post(&b.url, finished("shared", &format!("r{round}"), 2, 0)).await;
        assert_eq!(status, 202);
        let want = (2 * round, 0);
        sse.until(Duration::from_secs(3), |f| hour_counts(f, "shared") == want)
            .await
            .unwrap_or_else(|| panic!("round {round}: instance A never showed {want:?}"));
        let latency = t0.elapsed();
        assert!(
            latency < Duration::from_millis(900),
            "round {round}: {latency:?}"
        );
    }
    drop(sse);
    drop((a, b));
    db.drop().await;
}

/// Successes and failures over a frame's (or response's) series.
fn series_totals(page: &Value) -> (i64, i64) {
    page["series"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .fold((0, 0), |(s, f), p| {
            (
                s + p["success"].as_i64().unwrap(),
                f + p["failed"].as_i64().unwrap(),
            )
        })
}

#[tokio::test]
async fn a_queue_view_pushes_its_row_and_chart_series() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let url = format!("{}/api/v1/live?view=queue&queue=mail&grain=second", td.url);
    let mut sse = Sse::open(&url, None).await;
    let first = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.event, "queue");
    assert_eq!(first.data["known"], false);
    assert_eq!(first.data["series"]["grain"], "second");
    assert_eq!(first.data["series"]["points"].as_array().unwrap().len(), 60);
    assert_eq!(series_totals(&first.data), (0, 0));

    let t0 = Instant::now();
    let (status, body) = post(&td.url, finished("mail", "q", 7, 2)).await;
    assert_eq!(status, 202, "{body}");
    // Another queue's events do not count here.
    post(&td.url, finished("other", "o", 3, 0)).await;
    let f = sse
        .until(Duration::from_secs(5), |f| series_totals(&f.data) == (5, 2))
        .await
        .expect("the committed events reach the queue's chart");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(f.data["known"], true);
    assert_eq!(f.data["row"]["queue"], "mail");
    assert_eq!(f.data["row"]["success_last_minute"], 5);
    assert_eq!(f.data["row"]["failed_last_minute"], 2);
    let p = f.data["series"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["success"].as_i64() > Some(0))
        .unwrap();
    assert!(p["run"]["p95"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["wait"]["p50"].as_f64().unwrap() > 0.0, "{p}");

    // The same page over REST, in another grain.
    let (status, page) = get_json(&format!("{}/api/v1/queues/mail?grain=minute", td.url)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["series"]["grain"], "minute");
    assert_eq!(page["series"]["points"].as_array().unwrap().len(), 60);
    assert_eq!(series_totals(&page), (5, 2));
    let (_, unknown) = get_json(&format!("{}/api/v1/queues/nobody", td.url)).await;
    assert_eq!(unknown["known"], false);
    assert_eq!(unknown["row"]["queue"], "nobody");

    // Bad parameters are refused clearly.
    for (path, says) in [
        ("/api/v1/queues/mail?grain=week", "unknown grain \"week\""),
        ("/api/v1/live?view=queue", "needs `queue=<name>`"),
        (
            "/api/v1/live?view=queue&queue=mail&grain=year",
            "unknown grain",
        ),
    ] {
        let (status, body) = get_json(&format!("{}{path}", td.url)).await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path}: {message}");
    }
}

fn task_ids(frame: &Frame) -> Vec<String> {
    frame.data["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_task_filter_pushes_its_newest_page_as_matching_tasks_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    post(&td.url, finished("mail", "old", 3, 1)).await;
    let url = format!(
        "{}/api/v1/live?view=tasks&queue=mail&state=failed&state=killed&limit=2",
        td.url
    );
    let mut sse = Sse::open(&url, None).await;
    let first = sse
        .until(Duration::from_secs(5), |f| task_ids(f) == ["old-0"])
        .await
        .expect("the newest page of the filter");
    assert_eq!(first.event, "tasks");
    assert_eq!(first.data["total"]["count"], 1);

    // Only matching tasks change the page; it stays the newest `limit`, and its cursor walks on.
    post(&td.url, finished("other", "x", 4, 4)).await;
    post(&td.url, finished("mail", "ok", 3, 0)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    post(&td.url, finished("mail", "new", 3, 3)).await;
    let f = sse
        .until(Duration::from_secs(5), |f| f.data["total"]["count"] == 4)
        .await
        .expect("the new failures reach the page");
    assert!(f.id > first.id);
    let ids = task_ids(&f);
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.starts_with("new-")), "{ids:?}");
    let older = f.data["older"].as_str().unwrap();
    let (_, rest) = get_json(&format!(
        "{}/api/v1/tasks?queue=mail&state=failed,killed&limit=10&older={}",
        td.url,
        older.replace('~', "%7E")
    ))
    .await;
    let rest: Vec<_> = rest["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].clone())
        .collect();
    assert_eq!(rest.len(), 2, "{rest:?}");

    // Bad filters are refused before any stream opens.
    for (query, says) in [
        ("view=tasks&state=done", "unknown state"),
        ("view=tasks&older=1%7Ea", "newest page"),
        ("view=tasks&colour=red", "unknown field"),
        ("view=tasks&last_event_id=x", "last_event_id"),
    ] {
        let (status, body) = get_json(&format!("{}/api/v1/live?{query}", td.url)).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }

    // One instance keeps at most 32 task filters live (each caller at most 4): eight callers
    // take them all, and a ninth is told to come back later.
    drop(sse);
    let mut open = Vec::new();
    for caller in 0..8 {
        let token = new_token(&td.url, &["read"]).await;
        for n in 1..=4 {
            let limit = caller * 4 + n;
            let url = format!("{}/api/v1/live?view=tasks&limit={limit}", td.url);
            open.push(Sse::open_as(&url, &token).await);
        }
    }
    let (status, body) = get_json(&format!("{}/api/v1/live?view=tasks&limit=33", td.url)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("32 different task filters"));
    // A filter already live is shared, not refused.
    Sse::open(&format!("{}/api/v1/live?view=tasks&limit=7", td.url), None).await;
}
