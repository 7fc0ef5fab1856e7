//! Reading tasks back: filters, keyset pagination, details and queue summaries, on SQLite and
//! Postgres.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Two days ago on a whole hour: recent enough for the failures view's ranges.
static T0: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    ((now - 2.0 * 86_400.0) / 3_600.0).floor() * 3_600.0
});

/// 300 tasks over 3 queues: every 7th failed with one of two exceptions, every 11th still
/// running; pairs share a start time so ties are broken by task id.
fn seed_events() -> Vec<Value> {
    (0..300)
        .map(|i| {
            let queue = ["alpha", "beta", "gamma"][i % 3];
            let start = *T0 + (i / 2) as f64;
            let mut e = json!({
                "task_id": format!("task-{i:04}"), "queue_name": queue, "function": "f",
                "params": {"n": i, "tag": if i % 50 == 0 { "50%_off" } else { "plain" }},
                "publish_time": start - 0.25, "time_start": start, "host_name": format!("host{}", i % 4),
            });
            let extra = if i % 11 == 0 {
                json!({"state": "running", "run_times": 1})
            } else if i % 7 == 0 {
                let exc = if i % 2 == 0 { "ValueError" } else { "TimeoutError" };
                json!({"state": "failed", "run_times": 1, "exception_type": exc, "exception_msg": format!("boom {i}"),
                       "traceback": "Traceback (most recent call last):\n  File \"w.py\", line 1\nValueError", "time_end": start + 1.0, "time_cost": 1.0})
            } else {
                json!({"state": "success", "run_times": 1, "time_end": start + 0.1, "time_cost": 0.1, "result": {"ok": i}})
            };
            e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            e
        })
        .collect()
}

async fn tasks(url: &str, query: &str) -> (u16, Value) {
    get_json(&format!("{url}/api/v1/tasks?{query}")).await
}

fn ids(page: &Value) -> Vec<String> {
    page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every task matching `query`, walking `older` cursors with a small page size.
async fn walk(url: &str, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (status, mut page) = tasks(url, &format!("{query}&limit=37")).await;
    assert_eq!(status, 200, "{page}");
    loop {
        out.extend(ids(&page));
        let Some(older) = page["older"].as_str() else {
            break;
        };
        let (status, next) =
            tasks(url, &format!("{query}&limit=37&older={}", urlencode(older))).await;
        assert_eq!(status, 200, "{next}");
        page = next;
    }
    out
}

/// `GET /api/v1/export/tasks?{query}`: the status, the content type and disposition, the body.
async fn export(url: &str, query: &str) -> (u16, String, String, String) {
    let resp = get(&format!("{url}/api/v1/export/tasks?{query}"))
        .send()
        .await
        .unwrap();
    let header = |h: &str| {
        resp.headers()
            .get(h)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (ty, disposition) = (header("content-type"), header("content-disposition"));
    (
        resp.status().as_u16(),
        ty,
        disposition,
        resp.text().await.unwrap(),
    )
}

fn ndjson_ids(body: &str) -> Vec<String> {
    body.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["task_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The expected newest-first order of seeded task numbers matching `keep`.
fn expected(keep: impl Fn(usize) -> bool) -> Vec<String> {
    let mut v: Vec<usize> = (0..300).filter(|i| keep(*i)).collect();
    v.sort_by(|a, b| (b / 2).cmp(&(a / 2)).then(b.cmp(a)));
    v.into_iter().map(|i| format!("task-{i:04}")).collect()
}

async fn query_scenario(td: &Taskdeck) {
    let (status, report) = post(&td.url, Value::Array(seed_events()).to_string()).await;
    assert_eq!(
        (status, report["accepted"].as_u64()),
        (202, Some(300)),
        "{report}"
    );

    // Full walks: exact sets, newest first, no gaps or duplicates.
    assert_eq!(walk(&td.url, "").await, expected(|_| true));
    let failed = |i: usize| !i.is_multiple_of(11) && i.is_multiple_of(7);
    assert_eq!(
        walk(&td.url, "queue=alpha&state=failed").await,
        expected(|i| i % 3 == 0 && failed(i))
    );
    assert_eq!(
        walk(&td.url, "queue=alpha,beta&state=running").await,
        expected(|i| i % 3 != 2 && i % 11 == 0)
    );
    assert_eq!(
        walk(&td.url, "exception_type=TimeoutError").await,
        expected(|i| failed(i) && i % 2 == 1)
    );
    assert_eq!(
        walk(&td.url, "host=host2&state=success,failed").await,
        expected(|i| i % 4 == 2 && i % 11 != 0)
    );
    let (from, to) = (*T0 + 10.0, *T0 + 20.0);
    assert_eq!(
        walk(&td.url, &format!("from={from}&to={to}")).await,
        expected(|i| (20..40).contains(&i))
    );
    assert_eq!(
        walk(&td.url, "task_id_prefix=task-01").await,
        expected(|i| (100..200).contains(&i))
    );
    assert_eq!(walk(&td.url, "task_id=task-0042").await, ["task-0042"]);
    // Text search is literal: `%` and `_` are not wildcards.
    assert_eq!(
        walk(&td.url, "q=50%25_off").await,
        expected(|i| i % 50 == 0)
    );
    assert_eq!(
        walk(&td.url, "q=boom%2014").await,
        expected(|i| i == 14 || (140..150).contains(&i) && failed(i))
    );

    // Text search ignores case. Failed, killed, revoked and expired tasks are searched
    // through the text index, and counted.
    let boom1 = |i: usize| failed(i) && format!("boom {i}").contains("boom 1");
    assert_eq!(
        walk(&td.url, "q=BOOM%201&state=failed").await,
        expected(boom1)
    );
    let (_, page) = tasks(&td.url, "q=BOOM%201&state=failed").await;
    assert_eq!(
        page["total"]["count"].as_u64(),
        Some(expected(boom1).len() as u64),
        "{page}"
    );
    assert!(page["stopped"].is_null(), "{page}");
    assert_eq!(
        walk(&td.url, "q=%22n%22%3A98%2C&state=failed,killed").await,
        ["task-0098"]
    );
    assert_eq!(
        walk(&td.url, "q=PLAIN&queue=beta").await,
        expected(|i| i % 3 == 1 && i % 50 != 0)
    );
    // Other searches read at most `search_scan` tasks per page (100 here) and say where they
    // stopped, uncounted; the walks above continue past each stop without gaps.
    let (_, page) = tasks(&td.url, "q=50%25_off").await;
    assert!(page["total"].is_null(), "{page}");
    assert_eq!(page["stopped"]["read"], 100, "{page}");
    let at = page["stopped"]["at"].as_f64().unwrap();
    assert_eq!(
        ids(&page),
        expected(|i| i % 50 == 0 && *T0 + (i / 2) as f64 >= at)
    );
    assert!(page["older"].is_string(), "{page}");
    // First pages count what matches (up to 10,000); later pages do not count again.
    let (_, page) = tasks(&td.url, "queue=alpha&state=failed&limit=2").await;
    let want = (0..300).filter(|i| i % 3 == 0 && failed(*i)).count() as u64;
    assert_eq!(page["total"]["count"].as_u64(), Some(want), "{page}");
    assert_eq!(page["total"]["more"].as_bool(), Some(false));
    let older = urlencode(page["older"].as_str().unwrap());
    let (_, next) = tasks(
        &td.url,
        &format!("queue=alpha&state=failed&limit=2&older={older}"),
    )
    .await;
    assert!(next["total"].is_null(), "{next}");

    // Back and forth: the page before page 3 is page 2.
    let (_, p1) = tasks(&td.url, "limit=20").await;
    assert!(p1["newer"].is_null());
    let (_, p2) = tasks(
        &td.url,
        &format!(
            "limit=20&older={}",
            urlencode(p1["older"].as_str().unwrap())
        ),
    )
    .await;
    let (_, p3) = tasks(
        &td.url,
        &format!(
            "limit=20&older={}",
            urlencode(p2["older"].as_str().unwrap())
        ),
    )
    .await;
    let (_, back) = tasks(
        &td.url,
        &format!(
            "limit=20&newer={}",
            urlencode(p3["newer"].as_str().unwrap())
        ),
    )
    .await;
    assert_eq!(ids(&back), ids(&p2));
    let (_, front) = tasks(
        &td.url,
        &format!(
            "limit=20&newer={}",
            urlencode(p2["newer"].as_str().unwrap())
        ),
    )
    .await;
    assert_eq!(ids(&front), ids(&p1));
    assert!(
        front["newer"].is_null(),
        "nothing is newer than the first page"
    );

    // New tasks arriving mid-walk shift nothing: the older pages continue exactly.
    let (_, first) = tasks(&td.url, "limit=100").await;
    let newer: Vec<Value> = (0..30)
        .map(|i| json!({"task_id": format!("late-{i}"), "queue_name": "alpha", "state": "success", "time_start": *T0 + 1_000.0 + i as f64}))
        .collect();
    post(&td.url, Value::Array(newer).to_string()).await;
    let mut seen = ids(&first);
    let mut cursor = first["older"].as_str().unwrap().to_owned();
    loop {
        let (_, page) = tasks(&td.url, &format!("limit=100&older={}", urlencode(&cursor))).await;
        seen.extend(ids(&page));
        match page["older"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, expected(|_| true));
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 300);

    // Detail.
    let (status, detail) = get_json(&format!("{}/api/v1/tasks/task-0007", td.url)).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["state"], "failed");
    assert_eq!(detail["exception_type"], "TimeoutError");
    assert!(detail["traceback"]
        .as_str()
        .unwrap()
        .starts_with("Traceback"));
    assert_eq!(detail["wait"].as_f64(), Some(0.25));
    assert_eq!(detail["params"], r#"{"n":7,"tag":"plain"}"#);
    let (status, missing) = get_json(&format!("{}/api/v1/tasks/nope", td.url)).await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // Bad requests name the problem.
    for (query, needle) in [
        ("state=bogus", "bogus"),
        ("limit=0", "limit"),
        ("older=garbage", "cursor"),
        ("from=5&to=1", "before"),
        ("colour=red", "colour"),
        ("from=yesterday", "from"),
        ("range=2w", "range"),
        ("range=1h&from=5", "not both"),
        ("q=ab", "3 characters"),
    ] {
        let (status, err) = tasks(&td.url, query).await;
        assert_eq!(status, 400, "{query}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{query}: {err}"
        );
    }

    // Failure groups, from the counters kept at write time.
    let (status, f) = get_json(&format!("{}/api/v1/failures?range=7d", td.url)).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["grain"], "hour");
    let groups = f["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 6, "3 queues × 2 exception types: {f}");
    for g in groups {
        let (queue, exc) = (
            g["queue"].as_str().unwrap(),
            g["exception_type"].as_str().unwrap(),
        );
        let q = ["alpha", "beta", "gamma"]
            .iter()
            .position(|n| *n == queue)
            .unwrap();
        let members: Vec<usize> = (0..300)
            .filter(|i| i % 3 == q && failed(*i) && (i % 2 == 0) == (exc == "ValueError"))
            .collect();
        assert_eq!(g["count"].as_u64(), Some(members.len() as u64), "{g}");
        let series: i64 = g["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(series, members.len() as i64, "{g}");
        let latest = members.iter().max_by_key(|i| (*i / 2, **i)).unwrap();
        assert_eq!(g["sample_task_id"], format!("task-{latest:04}"), "{g}");
        assert_eq!(g["sample_msg"], format!("boom {latest}"), "{g}");
    }
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most frequent first: {counts:?}"
    );
    let (_, one) = get_json(&format!("{}/api/v1/failures?range=7d&queue=beta", td.url)).await;
    assert!(
        one["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["queue"] == "beta"),
        "{one}"
    );
    let (status, bad) = get_json(&format!("{}/api/v1/failures?range=2w", td.url)).await;
    assert_eq!(status, 400, "{bad}");

    // Queues, with running counts.
    let (status, queues) = get_json(&format!("{}/api/v1/queues", td.url)).await;
    assert_eq!(status, 200);
    let names: Vec<_> = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    let alpha = &queues[0];
    assert_eq!(
        alpha["running"].as_i64(),
        Some((0..300).filter(|i| i % 3 == 0 && i % 11 == 0).count() as i64)
    );

    // Exports: what the list walks, in both formats, bounded by `max`, whole params.
    let failed_alpha = expected(|i| i % 3 == 0 && failed(i));
    let (status, ty, disposition, csv) =
        export(&td.url, "format=csv&queue=alpha&state=failed").await;
    assert_eq!(
        (status, ty.as_str()),
        (200, "text/csv; charset=utf-8"),
        "{csv}"
    );
    assert!(
        disposition.starts_with("attachment; filename=\"taskdeck-tasks-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        rows[0],
        "task_id,queue,function,state,attempts,published_at,started_at,finished_at,wait_s,run_s,host,exception_type,exception_msg,params"
    );
    let csv_ids: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(csv_ids, failed_alpha);
    let first: usize = failed_alpha[0][5..].parse().unwrap();
    let iso = |t: f64| {
        let ms = (t * 1000.0).round() as i64;
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let start = *T0 + (first / 2) as f64;
    let exc = if first.is_multiple_of(2) {
        "ValueError"
    } else {
        "TimeoutError"
    };
    assert_eq!(
        rows[1],
        format!(
            "task-{first:04},alpha,f,failed,1,{},{},{},0.250,1.000,host{},{exc},boom {first},\"{{\"\"n\"\":{first},\"\"tag\"\":\"\"plain\"\"}}\"",
            iso(start - 0.25), iso(start), iso(start + 1.0), first % 4
        )
    );
    let (status, ty, _, nd) = export(&td.url, "format=ndjson&task_id_prefix=task-&max=250").await;
    assert_eq!((status, ty.as_str()), (200, "application/x-ndjson"));
    assert_eq!(ndjson_ids(&nd), expected(|_| true)[..250]);
    // A text search outside the index reads on past every bound (the server reads 100 at a time).
    let (_, _, _, nd) = export(&td.url, "format=ndjson&q=50%25_off").await;
    assert_eq!(ndjson_ids(&nd), expected(|i| i % 50 == 0));
    let long = "x".repeat(3_000);
    post(
        &td.url,
        json!([{"task_id": "long-params", "queue_name": "gamma", "state": "success",
        "params": {"blob": long}, "time_start": *T0 - 100.0}])
        .to_string(),
    )
    .await;
    let (_, _, _, nd) = export(&td.url, "format=ndjson&task_id=long-params").await;
    let row: Value = serde_json::from_str(nd.trim_end()).unwrap();
    assert_eq!(
        row["params"].as_str().unwrap().len(),
        long.len() + 11,
        "{row}"
    );
    for bad in [
        "format=xml",
        "",
        "format=csv&max=0",
        "format=csv&max=2000000",
        "format=csv&older=1~a",
        "format=csv&state=done",
        "format=csv&colour=red",
    ] {
        let (status, _, _, body) = export(&td.url, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("\"bad_request\""), "{bad}: {body}");
    }

    // A task indexed when it fails after running.
    let needle = |state: &str| {
        json!({"task_id": "late-fail", "queue_name": "alpha", "state": state, "run_times": 1,
        "params": {"needle": "Zebra-17"}, "time_start": *T0 - 50.0, "exception_type": "KeyError", "exception_msg": "gone"})
    };
    post(&td.url, json!([needle("running")]).to_string()).await;
    assert_eq!(
        walk(&td.url, "q=zebra-1&state=failed").await,
        Vec::<String>::new()
    );
    post(&td.url, json!([needle("failed")]).to_string()).await;
    assert_eq!(walk(&td.url, "q=zebra-1&state=failed").await, ["late-fail"]);

    attempts_scenario(td).await;
}

/// A retried task's attempts arrive with its events and come back whole from the task's
/// page; a late event with fewer attempts loses none; a task that ran once has none.
async fn attempts_scenario(td: &Taskdeck) {
    let t = *T0 - 30.0;
    let failed = |n: u32, start: f64| {
        json!({"n": n, "start": start, "end": start + 0.5, "state": "failed",
        "exception_type": "IOError", "exception_msg": format!("try {n}")})
    };
    let event = |state: &str, run_times: u32, attempts: Value| {
        json!({"task_id": "retried", "queue_name": "gamma", "state": state, "run_times": run_times,
        "time_start": t, "attempts": attempts})
    };
    let (status, report) = post(
        &td.url,
        json!([
            {"task_id": "retried", "queue_name": "gamma", "state": "running", "run_times": 1, "time_start": t},
            event("running", 2, json!([failed(1, t), {"n": 2, "start": t + 1.0}])),
        ])
        .to_string(),
    )
    .await;
    assert_eq!(
        (status, report["accepted"].as_u64()),
        (202, Some(2)),
        "{report}"
    );
    let last = json!({"n": 3, "start": t + 2.0, "end": t + 2.25, "state": "success"});
    let all = json!([failed(1, t), failed(2, t + 1.0), last]);
    post(
        &td.url,
        json!([event("success", 3, all.clone())]).to_string(),
    )
    .await;
    let (status, report) = post(
        &td.url,
        json!([
            event("running", 2, json!([failed(1, t)])),
            event(
                "running",
                2,
                json!([{"n": 2, "start": t}, {"n": 1, "start": t}])
            ),
        ])
        .to_string(),
    )
    .await;
    assert_eq!(report["accepted"], 1, "{report}");
    let why = report["errors"][0]["error"].as_str().unwrap();
    assert!(why.contains("`attempts[1]`"), "{why}");
    let (status2, detail) = get_json(&format!("{}/api/v1/tasks/retried", td.url)).await;
    assert_eq!((status, status2), (202, 200));
    assert_eq!(detail["state"], "success", "{detail}");
    assert_eq!(detail["attempts"], all, "{detail}");
    let (_, once) = get_json(&format!("{}/api/v1/tasks/long-params", td.url)).await;
    assert!(once.get("attempts").is_none(), "{once}");
}

#[tokio::test]
async fn sqlite_lists_filters_and_pages_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--search-scan", "100"]);
    query_scenario(&td).await;
}

#[tokio::test]
async fn postgres_lists_filters_and_pages_tasks() {
    let pg = PgDb::new("query").await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &pg.url, "--search-scan", "100"]);
    query_scenario(&td).await;
    drop(td);
    pg.drop().await;
}

#[tokio::test]
async fn mongodb_lists_filters_and_pages_tasks() {
    let mongo = MongoDb::new("query");
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &mongo.url, "--search-scan", "100"]);
    query_scenario(&td).await;
    mongo.drop().await;
}

#[tokio::test]
async fn queue_summaries_count_the_last_minute_and_hour() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let events: Vec<Value> = (0..20)
        .map(|i| {
            let end = if i < 5 { now - 1_800.0 } else { now };
            let state = if i % 4 == 0 { "failed" } else { "success" };
            json!({"task_id": format!("r{i}"), "queue_name": "recent", "state": state, "time_start": end - 0.5, "time_end": end, "time_cost": 0.5})
        })
        .collect();
    post(&td.url, Value::Array(events).to_string()).await;
    let (_, queues) = get_json(&format!("{}/api/v1/queues", td.url)).await;
    let q = &queues[0];
    assert_eq!(q["queue"], "recent");
    // i < 5 finished half an hour ago: in the hour, not in the minute.
    assert_eq!(
        (
            q["success_last_hour"].as_i64(),
            q["failed_last_hour"].as_i64()
        ),
        (Some(15), Some(5))
    );
    assert_eq!(
        (
            q["success_last_minute"].as_i64(),
            q["failed_last_minute"].as_i64()
        ),
        (Some(12), Some(3))
    );
}
