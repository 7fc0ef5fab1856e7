//! Ingest end to end: events in over HTTP and the Redis stream, records and chart counters
//! out of real SQLite and Postgres stores.

mod common;

use common::*;
use serde_json::{json, Value};

use std::time::{Duration, Instant};

/// The state machine and the counters, through the HTTP source, on one store.
async fn state_machine_scenario(td: &Taskdeck, db: &Db) {
    let first = json!([
        event("a", "q1", json!({"run_status": "running", "run_times": 1})),
        event("a", "q1", json!({"run_status": "running", "run_times": 2})),
        event("a", "q1", json!({"run_status": "finish", "success": false, "run_times": 2,
            "exception": "ValueError    bad n", "time_end": 1_795_000_002.5, "time_cost": 2.0})),
        {"queue_name": "q1", "state": "running"},
        "not an object",
        event("b", "q1", json!({"state": "success", "run_times": 1, "time_end": 1_795_000_001.0, "time_cost": 0.5, "result": {"ok": true}})),
        event("c", "q2", json!({"state": "exploded"})),
    ]);
    let (status, report) = post(&td.url, first.to_string()).await;
    assert_eq!(status, 202, "{report}");
    assert_eq!(report["accepted"], 4);
    assert_eq!(report["rejected"], 3);
    let indices: Vec<_> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [3, 4, 6]);
    assert!(
        report["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("task_id"),
        "{report}"
    );

    // A late `running` and a redelivered finish change nothing; NDJSON works too.
    let second = [
        event("b", "q1", json!({"run_status": "running", "run_times": 1})),
        event(
            "a",
            "q1",
            json!({"run_status": "finish", "success": false, "run_times": 2,
            "exception": "ValueError    bad n", "time_end": 1_795_000_002.5, "time_cost": 2.0}),
        ),
        event("a", "q1", json!({"run_status": "running", "run_times": 3})),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let (status, report) = post(&td.url, second).await;
    assert_eq!(status, 202, "{report}");
    assert_eq!(report["accepted"], 3);

    assert_eq!(db.state("a").await, 3, "a failed");
    assert_eq!(
        db.state("b").await,
        2,
        "b succeeded, the late running was ignored"
    );
    assert_eq!(
        db.scalar("SELECT CAST(run_times AS BIGINT) FROM tasks WHERE task_id = 'a'")
            .await,
        2
    );
    assert_eq!(
        db.text("SELECT exception_type FROM tasks WHERE task_id = 'a'")
            .await
            .as_deref(),
        Some("ValueError")
    );
    assert_eq!(
        db.text("SELECT result FROM tasks WHERE task_id = 'b'")
            .await
            .as_deref(),
        Some(r#"{"ok":true}"#)
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM tasks").await, 2);

    // Counted once per task reaching a final state, in every grain.
    for grain in 0..4 {
        assert_eq!(db.stat("q1", grain, 2).await, 1, "successes, grain {grain}");
        assert_eq!(db.stat("q1", grain, 3).await, 1, "failures, grain {grain}");
        assert_eq!(
            db.stat("q1", grain, 10).await,
            2,
            "run-time histogram, grain {grain}"
        );
        assert_eq!(
            db.stat("q1", grain, 11).await,
            2,
            "wait-time histogram, grain {grain}"
        );
    }
    let run_total = db
        .scalar("SELECT CAST(SUM(total) * 1000 AS BIGINT) FROM task_stats WHERE queue = 'q1' AND grain = 3 AND metric = 20")
        .await;
    assert_eq!(run_total, 2_500, "run-time sum 2.0 s + 0.5 s");

    // The same counters through the REST API: one day bucket holding both tasks.
    let day = 1_795_000_000 / 86_400 * 86_400;
    let (status, series) = get_json(&format!(
        "{}/api/v1/queues/q1/series?grain=day&from={day}&to={}",
        td.url,
        day + 86_400
    ))
    .await;
    assert_eq!(status, 200, "{series}");
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{series}");
    assert_eq!(
        (points[0]["success"].as_i64(), points[0]["failed"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(points[0]["run"]["avg"].as_f64(), Some(1.25));
    assert!(points[0]["run"]["p99"].as_f64().unwrap() >= 2.0);
    let (status, minutes) = get_json(&format!(
        "{}/api/v1/queues/q1/series?grain=minute&from={}&to={}",
        td.url,
        day,
        day + 3_600
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        minutes["points"].as_array().unwrap().len(),
        60,
        "empty buckets are present"
    );
    let (status, err) = get_json(&format!("{}/api/v1/queues/q1/series?grain=week", td.url)).await;
    assert_eq!(status, 400);
    assert!(
        err["error"]["message"].as_str().unwrap().contains("week"),
        "{err}"
    );
    let (status, err) = get_json(&format!(
        "{}/api/v1/queues/q1/series?grain=second&from=0&to=86400",
        td.url
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("coarser"),
        "{err}"
    );

    // Malformed events are kept with their reason.
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM dead_letters WHERE source = 'http'")
            .await,
        3
    );
    let reason = db
        .text("SELECT error FROM dead_letters WHERE payload LIKE '%exploded%'")
        .await
        .unwrap();
    assert!(reason.contains("unknown variant"), "{reason}");

    let metrics = metrics(&td.url).await;
    assert!(
        metrics.contains("taskdeck_ingest_events_received_total{source=\"http\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("taskdeck_ingest_events_rejected_total{source=\"http\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("taskdeck_ingest_tasks_finished_total 2"),
        "{metrics}"
    );

    // A task given back by a stopping worker is pending again (not "running" forever); a
    // late publish event (no attempt yet) changes nothing; the next run moves it on.
    let steps: [(Value, i64); 3] = [
        (
            json!([event(
                "r",
                "q1",
                json!({"state": "running", "run_times": 1})
            )]),
            1,
        ),
        (
            json!([
                event("r", "q1", json!({"state": "pending", "run_times": 1})),
                event("b", "q1", json!({"state": "pending"})),
            ]),
            0,
        ),
        (
            json!([event(
                "r",
                "q1",
                json!({"state": "running", "run_times": 1})
            )]),
            1,
        ),
    ];
    for (events, want) in steps {
        assert_eq!(post(&td.url, events.to_string()).await.0, 202);
        assert_eq!(db.state("r").await, want, "after {events}");
    }
    assert_eq!(db.state("b").await, 2, "b stays successful");
}

#[tokio::test]
async fn http_events_into_sqlite_follow_the_state_machine() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    state_machine_scenario(&td, &sqlite_of(dir.path()).await).await;
}

#[tokio::test]
async fn http_events_into_postgres_follow_the_state_machine() {
    let pg = PgDb::new("ingest_http").await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &pg.url]);
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    state_machine_scenario(&td, &Db::Pg(pool.clone())).await;
    pool.close().await;
    drop(td);
    pg.drop().await;
}

/// Batches of thousands are written over several Postgres connections at once (split by task
/// id): concurrent batches, redelivered events and a bad event among them still leave every
/// task, counter and dead letter exactly once.
#[tokio::test]
async fn large_postgres_batches_written_in_shares_count_everything_once() {
    let pg = PgDb::new("ingest_shares").await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &pg.url]);
    const TASKS: usize = 3_000;
    let task = |i: usize| format!("big{i:05}");
    let running: Vec<Value> = (0..TASKS)
        .map(|i| event(&task(i), "big", json!({"state": "running", "run_times": 1})))
        .collect();
    let mut finished: Vec<Value> = (0..TASKS)
        .map(|i| {
            let outcome = if i % 10 == 3 {
                json!({"state": "failed", "exception_type": "Boom", "exception_msg": format!("boom {i}"), "time_cost": 0.2})
            } else {
                json!({"state": "success", "time_cost": 0.1})
            };
            event(&task(i), "big", outcome)
        })
        .collect();
    finished.insert(TASKS / 2, json!("not an event"));
    let (status, report) = post(&td.url, Value::Array(running).to_string()).await;
    assert_eq!(status, 202, "{report}");

    // Two halves at once, then everything again as a redelivery.
    let (first, second) = finished.split_at(finished.len() / 2);
    let (a, b) = tokio::join!(
        post(&td.url, Value::Array(first.to_vec()).to_string()),
        post(&td.url, Value::Array(second.to_vec()).to_string()),
    );
    assert_eq!((a.0, b.0), (202, 202), "{} {}", a.1, b.1);
    let (status, report) = post(&td.url, Value::Array(finished).to_string()).await;
    assert_eq!(status, 202, "{report}");

    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let db = Db::Pg(pool.clone());
    let failed = (0..TASKS).filter(|i| i % 10 == 3).count() as i64;
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM tasks WHERE queue = 'big'")
            .await,
        TASKS as i64
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM tasks WHERE queue = 'big' AND state = 2")
            .await,
        TASKS as i64 - failed
    );
    for grain in 0..4 {
        assert_eq!(
            db.stat("big", grain, 2).await,
            TASKS as i64 - failed,
            "grain {grain}"
        );
        assert_eq!(db.stat("big", grain, 3).await, failed, "grain {grain}");
    }
    assert_eq!(
        db.scalar("SELECT CAST(SUM(count) AS BIGINT) FROM failure_stats WHERE queue = 'big' AND grain = 1 AND exception_type = 'Boom'")
            .await,
        failed
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM dead_letters WHERE payload = '\"not an event\"'")
            .await,
        2,
        "the bad event of each of the two posts that carried it"
    );
    pool.close().await;
    drop(td);
    pg.drop().await;
}

/// New tasks are copied straight into `tasks`; when another writer (another instance) inserts
/// one of them between the look-up and the copy, the batch is written again at once through
/// the upsert: the task ends in its final state, counted once, and no write is retried.
#[tokio::test]
async fn a_task_inserted_meanwhile_by_another_writer_is_upserted() {
    let pg = PgDb::new("ingest_race").await;
    let dir = tempfile::tempdir().unwrap();
    let mut td = Taskdeck::start(dir.path(), &["--store", &pg.url]);
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    // Another instance's transaction has inserted `raced` as running and not committed yet:
    // taskdeck's look-up cannot see it, its COPY waits on the primary key.
    let mut other = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO tasks (task_id, queue, state, run_times, extra, updated_at, sort_time, host_name) \
         VALUES ('raced', 'race', 1, 1, '{}', 1795000000.5, 1795000000.5, 'h2')",
    )
    .execute(&mut *other)
    .await
    .unwrap();
    let events = json!([
        event(
            "raced",
            "race",
            json!({"state": "success", "run_times": 1, "time_end": 1_795_000_001.0, "time_cost": 0.5})
        ),
        event(
            "fresh",
            "race",
            json!({"state": "success", "run_times": 1, "time_end": 1_795_000_001.0, "time_cost": 0.5})
        ),
    ]);
    let url = td.url.clone();
    let posted = tokio::spawn(async move { post(&url, events.to_string()).await });
    let waiting = Instant::now();
    while sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
        == 0
    {
        assert!(waiting.elapsed() < Duration::from_secs(20), "taskdeck's COPY never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.commit().await.unwrap();
    let (status, report) = posted.await.unwrap();
    assert_eq!(status, 202, "{report}");

    let db = Db::Pg(pool.clone());
    assert_eq!(
        db.state("raced").await,
        2,
        "the finish moved the other writer's row on"
    );
    assert_eq!(db.state("fresh").await, 2);
    assert_eq!(
        db.text("SELECT host_name FROM tasks WHERE task_id = 'raced'")
            .await
            .as_deref(),
        Some("h1")
    );
    for grain in 0..4 {
        assert_eq!(db.stat("race", grain, 2).await, 2, "grain {grain}");
    }
    pool.close().await;
    td.terminate();
    let log = td.log();
    assert!(
        !log.contains("batch write failed"),
        "the batch was retried:\n{log}"
    );
    pg.drop().await;
}

#[tokio::test]
async fn a_postgres_outage_delays_events_but_loses_none() {
    let pg = PgDb::new("outage").await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &pg.url]);
    wait_health(&td.url, 200, Duration::from_secs(10)).await;

    // The database goes away: new connections are refused, open ones are ended.
    let set_allowed =
        |allowed: bool| format!("ALTER DATABASE {} ALLOW_CONNECTIONS {allowed}", pg.name);
    sqlx::query(&set_allowed(false))
        .execute(&pg.admin)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        pg.name
    ))
    .execute(&pg.admin)
    .await
    .unwrap();
    let down = wait_health(&td.url, 503, Duration::from_secs(10)).await;
    assert_eq!(down["checks"]["store"]["status"], "down", "{down}");

    // Events sent meanwhile wait for the store instead of failing or vanishing.
    let events: Vec<Value> = (0..100)
        .map(|i| {
            event(
                &format!("o{i}"),
                "outage",
                json!({"state": "success", "time_cost": 0.1}),
            )
        })
        .collect();
    let url = td.url.clone();
    let sent = tokio::spawn(async move { post(&url, Value::Array(events).to_string()).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !sent.is_finished(),
        "answered before the events could be committed"
    );
    sqlx::query(&set_allowed(true))
        .execute(&pg.admin)
        .await
        .unwrap();

    let (status, report) = sent.await.unwrap();
    assert_eq!(
        (status, report["accepted"].as_u64()),
        (202, Some(100)),
        "{report}"
    );
    wait_health(&td.url, 200, Duration::from_secs(10)).await;
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let db = Db::Pg(pool.clone());
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM tasks WHERE queue = 'outage' AND state = 2")
            .await,
        100
    );
    assert_eq!(db.stat("outage", 3, 2).await, 100);
    let metrics = metrics(&td.url).await;
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("taskdeck_ingest_flush_errors_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(errors > 0, "the failed writes are counted");
    pool.close().await;
    drop(td);
    pg.drop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let (status, body) = post(&td.url, "[{\"task_id\": ".into()).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON array"),
        "{body}"
    );
    let (status, body) = post(&td.url, String::new()).await;
    assert_eq!(status, 400, "{body}");

    let big = format!(
        "[{}]",
        vec![r#"{"task_id":"x","queue_name":"q","state":"running"}"#; 400_000].join(",")
    );
    assert!(big.len() > 16 << 20);
    let (status, body) = post(&td.url, big).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("16 MiB"),
        "{body}"
    );

    let many = (0..50_001)
        .map(|i| format!(r#"{{"task_id":"t{i}","queue_name":"q","state":"running"}}"#))
        .collect::<Vec<_>>()
        .join("\n");
    let (status, body) = post(&td.url, many).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("50000"),
        "{body}"
    );
}

async fn wait_pending_zero(conn: &mut redis::aio::MultiplexedConnection) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let summary: Vec<redis::Value> = redis::cmd("XPENDING")
            .arg("taskdeck:events")
            .arg("taskdeck")
            .query_async(conn)
            .await
            .unwrap();
        if summary.first() == Some(&redis::Value::Int(0)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "entries still pending: {summary:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A taskdeck on SQLite (in the returned directory) reading the event stream of Redis
/// database `db` (emptied), a connection to that database and the store. Bind the directory
/// before the taskdeck, so the taskdeck stops first.
async fn stream_taskdeck(
    db: u8,
) -> (
    redis::aio::MultiplexedConnection,
    tempfile::TempDir,
    Taskdeck,
    Db,
) {
    let (url, conn) = fresh_redis(db).await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &url]);
    let store = sqlite_of(dir.path()).await;
    (conn, dir, td, store)
}

/// The SQLite store of a taskdeck started in `dir`.
async fn sqlite_of(dir: &std::path::Path) -> Db {
    let path = dir.join("data/taskdeck.db");
    Db::Sqlite(
        sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap(),
    )
}

async fn wait_count(db: &Db, sql: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = db.scalar(sql).await;
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {n}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_stream_events_are_committed_then_acknowledged() {
    // A database of its own: the stream's key is fixed.
    let (mut conn, _dir, _td, db) = stream_taskdeck(11).await;

    let mut pipe = redis::pipe();
    for i in 0..200 {
        let task = format!("s{i}");
        for state in ["running", "success"] {
            let e = event(
                &task,
                "stream_q",
                json!({"state": state, "run_times": 1, "time_cost": 0.01}),
            );
            xadd_event(&mut pipe, &e.to_string());
        }
    }
    xadd_event(&mut pipe, "{broken");
    pipe.cmd("XADD")
        .arg("taskdeck:events")
        .arg("*")
        .arg("payload")
        .arg("{}")
        .ignore();
    pipe.query_async::<()>(&mut conn).await.unwrap();

    wait_count(&db, "SELECT COUNT(*) FROM tasks WHERE state = 2", 200).await;
    wait_count(
        &db,
        "SELECT COUNT(*) FROM dead_letters WHERE source = 'redis'",
        2,
    )
    .await;
    assert_eq!(
        db.stat("stream_q", 1, 2).await,
        200,
        "each success counted once"
    );
    // Committed entries are acknowledged and removed from the stream.
    wait_stream_empty(&mut conn).await;
    wait_pending_zero(&mut conn).await;
    let dead = db.text("SELECT error FROM dead_letters WHERE source = 'redis' AND error LIKE '%no `event` field%'").await;
    assert!(
        dead.is_some(),
        "the entry without an event field is kept with its reason"
    );
}

/// Queues `XADD taskdeck:events * event <text>` on `pipe`.
fn xadd_event(pipe: &mut redis::Pipeline, text: &str) {
    pipe.cmd("XADD")
        .arg("taskdeck:events")
        .arg("*")
        .arg("event")
        .arg(text)
        .ignore();
}

/// Appends `n` finished tasks `<prefix><i>` to the event stream.
async fn add_finished(conn: &mut redis::aio::MultiplexedConnection, prefix: &str, n: usize) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        let e = event(
            &format!("{prefix}{i}"),
            "comeback",
            json!({"state": "success", "run_times": 1, "time_cost": 0.01}),
        );
        xadd_event(&mut pipe, &e.to_string());
    }
    pipe.query_async::<()>(conn).await.unwrap();
}

#[tokio::test]
async fn the_stream_is_read_again_after_redis_drops_the_connections() {
    let (mut conn, _dir, _td, db) = stream_taskdeck(8).await;
    const RECORDED: &str = "SELECT COUNT(*) FROM tasks WHERE queue = 'comeback'";
    add_finished(&mut conn, "before", 100).await;
    wait_count(&db, RECORDED, 100).await;

    // Every connection taskdeck holds on this database is closed by the server, the one
    // blocked in XREADGROUP included.
    let me: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn)
        .await
        .unwrap();
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let theirs: Vec<&str> = clients
        .lines()
        .filter(|l| l.split(' ').any(|f| f == "db=8"))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .filter(|id| *id != me.to_string())
        .collect();
    assert!(!theirs.is_empty(), "taskdeck's connections in {clients}");
    for id in theirs {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    add_finished(&mut conn, "after", 100).await;
    wait_count(&db, RECORDED, 200).await;
    wait_pending_zero(&mut conn).await;
    assert_eq!(
        db.stat("comeback", 1, 2).await,
        200,
        "each success counted once"
    );
}

#[tokio::test]
async fn entries_left_pending_by_a_dead_instance_are_claimed_and_recorded_once() {
    let (url, mut conn) = fresh_redis(12).await;
    // A previous instance read these entries and died before acknowledging them.
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("taskdeck:events")
        .arg("taskdeck")
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..50 {
        let e = event(
            &format!("orphan{i}"),
            "orphans",
            json!({"state": "failed", "exception_type": "Boom", "time_cost": 0.2}),
        );
        let id: String = redis::cmd("XADD")
            .arg("taskdeck:events")
            .arg("*")
            .arg("event")
            .arg(e.to_string())
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.push(id);
    }
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("taskdeck")
        .arg("dead-instance")
        .arg("COUNT")
        .arg(100)
        .arg("STREAMS")
        .arg("taskdeck:events")
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    // Make them look abandoned long ago.
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg("taskdeck:events")
        .arg("taskdeck")
        .arg("dead-instance")
        .arg(0)
        .arg(&ids)
        .arg("IDLE")
        .arg(3_600_000)
        .query_async(&mut conn)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let _td = Taskdeck::start(dir.path(), &["--redis", &url]);
    let db = sqlite_of(dir.path()).await;
    wait_count(
        &db,
        "SELECT COUNT(*) FROM tasks WHERE queue = 'orphans' AND state = 3",
        50,
    )
    .await;
    assert_eq!(db.stat("orphans", 3, 3).await, 50);
    // Acknowledged right after the commit.
    wait_pending_zero(&mut conn).await;
}
