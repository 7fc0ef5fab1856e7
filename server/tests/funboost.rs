//! A real funboost 55 worker with contrib/funboost's one-line mixin streams its records —
//! running and finished — into taskdeck through Redis.

mod common;

use common::*;
use redis::AsyncCommands;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `redis://host:port` of the test Redis, without a database.
fn redis_server() -> String {
    let base = service_url("TEST_REDIS_URL");
    base.rsplit_once('/').unwrap().0.to_owned()
}

/// scripts/funboost_peer.py with funboost 55 from the test venv, on the test Redis (db 7).
fn funboost_peer(args: &[&str]) -> Command {
    let server = redis_server();
    let (host, port) = server
        .trim_start_matches("redis://")
        .rsplit_once(':')
        .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/funboost-venv/bin/python");
    assert!(
        python.is_file(),
        "{} missing: run scripts/ensure-tools.sh --test",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(root.join("scripts/funboost_peer.py"))
        .args(args)
        .env("FUNBOOST_REDIS_HOST", host)
        .env("FUNBOOST_REDIS_PORT", port)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[tokio::test]
async fn funboost_workers_stream_running_and_final_records_with_the_mixin() {
    let (bus, _) = fresh_redis(15).await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &bus]);

    let queue = format!("fb_mixin_{}", std::process::id());
    let mut broker = redis::Client::open(redis_db(7))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for i in 0..6 {
        let fail = i == 5;
        let msg = format!(
            r#"{{"x":{i},"y":1,"fail":{fail},"extra":{{"task_id":"{queue}-{i}","publish_time":{:.4},"max_retry_times":{}}}}}"#,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64(),
            if fail { 2 } else { 1 }
        );
        let _: () = broker.rpush(&queue, msg).await.unwrap();
    }
    let mut peer = funboost_peer(&["taskdeck", &queue, "-", "8"])
        .env("TASKDECK_REDIS_URL", &bus)
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(40);
    let tasks = loop {
        let (_, page) = get_json(&format!("{}/api/v1/tasks?queue={queue}", td.url)).await;
        let tasks = page["tasks"].as_array().cloned().unwrap_or_default();
        let finals = tasks.iter().filter(|t| t["state"] != "running").count();
        if finals == 6 {
            break tasks;
        }
        assert!(
            Instant::now() < deadline,
            "{finals} of 6 final; log:\n{}",
            td.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = peer.wait();
    for t in &tasks {
        let i: usize = t["task_id"]
            .as_str()
            .unwrap()
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if i == 5 {
            assert_eq!(t["state"], "failed", "{t}");
            assert_eq!(t["exception_type"], "ValueError");
            assert_eq!(t["exception_msg"], "cannot add 5");
            assert_eq!(t["run_times"], 3, "1 run + 2 retries: {t}");
            // The mixin reports each attempt: started, ended, how, with its exception.
            let (_, detail) = get_json(&format!("{}/api/v1/tasks/{queue}-5", td.url)).await;
            let attempts = detail["attempts"].as_array().unwrap();
            assert_eq!(attempts.len(), 3, "{detail}");
            for (n, a) in attempts.iter().enumerate() {
                assert_eq!(a["n"], n + 1, "{a}");
                assert_eq!(a["state"], "failed", "{a}");
                assert_eq!(a["exception_type"], "ValueError", "{a}");
                assert!(a["end"].as_f64() >= a["start"].as_f64(), "{a}");
            }
            assert!(attempts[1]["start"].as_f64() >= attempts[0]["end"].as_f64());
        } else {
            assert_eq!(t["state"], "success", "{t}");
            assert_eq!(t["run_times"], 1, "{t}");
            assert_eq!(t["function"], "add");
            let (_, detail) = get_json(&format!(
                "{}/api/v1/tasks/{}",
                td.url,
                t["task_id"].as_str().unwrap()
            ))
            .await;
            assert_eq!(detail["result"], (i + 1).to_string(), "{detail}");
        }
    }
    // Each attempt sent its "running" record too: two events per task, two more for the
    // retries, arrived over Redis.
    let metrics = metrics(&td.url).await;
    assert!(
        metrics.contains("taskdeck_ingest_events_received_total{source=\"redis\"} 14"),
        "{metrics}"
    );
}

/// One queue served by a funboost worker and a Rust worker: taskdeck, pointed at funboost's
/// Redis database, lists both from their heartbeats; a consumer that stopped beating is
/// marked stale, one silent for longer than `--worker-drop-after` is left out.
#[tokio::test]
async fn funboost_and_rust_consumers_of_one_queue_are_listed_from_their_heartbeats() {
    use taskdeck_worker::{Emitter, RedisBroker, RedisStreamSink, Worker};
    let db = redis_db(7);
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &db, "--worker-drop-after", "60s"]);
    let queue = format!("fb_fleet_{}", std::process::id());
    let mut peer = funboost_peer(&["consume", &queue, "/dev/null", "40"])
        .spawn()
        .unwrap();
    let (emitter, _flushed) =
        Emitter::start(std::sync::Arc::new(RedisStreamSink::new(&db).unwrap()));
    let worker = Worker::builder(&queue)
        .function("add")
        .concurrency(3)
        .heartbeat_every(Duration::from_secs(1))
        .handler(|_ctx, _: serde_json::Value| async move { Ok(0) })
        .build(std::sync::Arc::new(RedisBroker::new(&db).unwrap()), emitter)
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    let url = format!("{}/api/v1/workers?queue={queue}", td.url);
    let deadline = Instant::now() + Duration::from_secs(40);
    let fleet = loop {
        let (status, fleet) = get_json(&url).await;
        assert_eq!(status, 200, "{fleet}");
        let kinds: Vec<&str> = fleet["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["liveness"] == "alive")
            .filter_map(|c| c["kind"].as_str())
            .collect();
        if kinds.contains(&"funboost") && kinds.contains(&"taskdeck-rust") {
            break fleet;
        }
        assert!(
            Instant::now() < deadline,
            "both kinds not alive within 40 s: {fleet}\nlog:\n{}",
            td.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(fleet["drop_after_s"], 60.0);
    for c in fleet["consumers"].as_array().unwrap() {
        let hb = &c["heartbeat"];
        assert_eq!(hb["queue_name"], queue.as_str(), "{c}");
        assert!(hb["process_id"].as_u64().unwrap() > 0, "{c}");
        assert!(c["age_s"].as_f64().unwrap() < 15.0, "{c}");
        match c["kind"].as_str().unwrap() {
            "funboost" => assert_eq!(hb["consuming_function"], "add", "{c}"),
            "taskdeck-rust" => {
                assert_eq!(hb["concurrency"], 3, "{c}");
                assert!(
                    hb["capabilities"]
                        .as_array()
                        .unwrap()
                        .contains(&serde_json::json!("kill")),
                    "{c}"
                );
            }
            other => panic!("unexpected kind {other}: {c}"),
        }
    }

    // Two consumers that stopped beating: 20 s ago (stale) and 10 min ago (dropped).
    let mut r = redis::Client::open(db.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (now, _): (f64, u64) = redis::cmd("TIME").query_async(&mut r).await.unwrap();
    for (uuid, age) in [("gone-recently", 20.0), ("gone-long-ago", 600.0)] {
        let member = serde_json::json!({
            "queue_name": queue, "computer_name": "old-host", "computer_ip": "192.0.2.9",
            "process_id": 4242, "consumer_uuid": uuid, "consuming_function": "add",
            "hearbeat_timestamp": now - age, "last_x_s_avarage_function_spend_time": null,
        });
        let _: () = r
            .sadd(
                format!("funboost_hearbeat_queue__dict:{queue}"),
                member.to_string(),
            )
            .await
            .unwrap();
    }
    let (_, fleet) = get_json(&url).await;
    let consumers = fleet["consumers"].as_array().unwrap();
    let by_uuid = |u: &str| {
        consumers
            .iter()
            .find(|c| c["heartbeat"]["consumer_uuid"] == u)
    };
    let stale = by_uuid("gone-recently").unwrap_or_else(|| panic!("{fleet}"));
    assert_eq!(stale["liveness"], "stale", "{stale}");
    assert!(stale["age_s"].as_f64().unwrap() >= 20.0, "{stale}");
    assert!(by_uuid("gone-long-ago").is_none(), "{fleet}");
    // Alive consumers are listed before stale ones.
    assert_eq!(consumers.last().unwrap()["liveness"], "stale", "{fleet}");

    stop.cancel();
    running.await.unwrap();
    let _ = peer.kill();
    let _ = peer.wait();
}

/// funboost's own status saver (`is_save_status`, `is_save_result`) writes records into
/// MongoDB; taskdeck with the MongoDB store lists and shows them as its own.
#[tokio::test]
async fn records_a_funboost_worker_saved_in_mongodb_are_read_by_taskdeck() {
    let mongo = service_url("TEST_MONGODB_URL");
    let queue = format!("fb_saved_{}", std::process::id());
    let mut broker = redis::Client::open(redis_db(7))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for i in 0..3 {
        let msg = serde_json::json!({
            "x": i, "y": 1, "fail": i == 2,
            "extra": {"task_id": format!("{queue}-{i}"), "publish_time": now},
        });
        let _: () = broker.rpush(&queue, msg.to_string()).await.unwrap();
    }
    let mut peer = funboost_peer(&["persist", &queue, "-", "30"])
        .env("FUNBOOST_MONGO_URL", &mongo)
        .spawn()
        .unwrap();
    let client = mongodb::Client::with_uri_str(&mongo).await.unwrap();
    let coll = client
        .database("funboost_task_status")
        .collection::<mongodb::bson::Document>(&queue);
    let deadline = Instant::now() + Duration::from_secs(40);
    while coll
        .count_documents(mongodb::bson::doc! { "run_status": "finish" })
        .await
        .unwrap()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "funboost saved no 3 records in 40 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = peer.kill();
    let _ = peer.wait();

    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &mongo]);
    let (status, page) = get_json(&format!("{}/api/v1/tasks?queue={queue}", td.url)).await;
    assert_eq!(status, 200, "{page}");
    let tasks = page["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{page}");
    for t in tasks {
        let id = t["task_id"].as_str().unwrap();
        let (_, detail) = get_json(&format!("{}/api/v1/tasks/{id}", td.url)).await;
        assert_eq!(detail["function"], "add", "{detail}");
        assert!(detail["cost"].as_f64().unwrap() >= 0.01, "{detail}");
        assert!(detail["host_name"].as_str().is_some(), "{detail}");
        if id.ends_with("-2") {
            assert_eq!(detail["state"], "failed", "{detail}");
            assert_eq!(detail["exception_type"], "ValueError", "{detail}");
            assert_eq!(detail["exception_msg"], "cannot add 2", "{detail}");
        } else {
            let x: i64 = id.rsplit('-').next().unwrap().parse().unwrap();
            assert_eq!(detail["state"], "success", "{detail}");
            assert_eq!(detail["result"], (x + 1).to_string(), "{detail}");
            assert!(
                detail["params"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("\"x\":{x}")),
                "{detail}"
            );
        }
    }
    let (_, failed) = get_json(&format!(
        "{}/api/v1/tasks?queue={queue}&state=failed",
        td.url
    ))
    .await;
    assert_eq!(failed["tasks"].as_array().unwrap().len(), 1, "{failed}");
    coll.drop().await.unwrap();
}

/// Start times (epoch seconds) of each `step(i)` a control peer began, by `i`. A line the peer
/// is still appending has no newline yet (and could parse as a wrong time): it waits.
fn starts(path: &std::path::Path) -> Vec<(i64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter_map(|l| {
            let (i, at) = l.split_once(' ')?;
            Some((i.parse().ok()?, at.parse().ok()?))
        })
        .collect()
}

fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A real funboost 55 worker obeys taskdeck's commands through funboost's own keys: a pause
/// stops new starts within funboost's pickup bound (10 s heartbeat + one message), a resume
/// starts them again, a revoked message never runs, a task spinning in a loop is killed.
#[tokio::test]
async fn funboost_workers_obey_pause_resume_revoke_and_kill() {
    let (db, mut r) = fresh_redis(13).await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &db]);
    let queue = format!("fb_ctl_{}", std::process::id());
    let message = |i: i64, spin: bool| {
        format!(
            r#"{{"i":{i},"spin":{spin},"extra":{{"task_id":"{queue}-{i}","publish_time":{:.4}}}}}"#,
            epoch()
        )
    };
    // More than run during the test: the queue never drains.
    for i in 0..200 {
        let _: () = r.rpush(&queue, message(i, false)).await.unwrap();
    }
    let out = dir.path().join("starts.txt");
    let mut peer = funboost_peer(&["control", &queue, out.to_str().unwrap(), "120"])
        .env("FUNBOOST_REDIS_DB", "13")
        .env("TASKDECK_REDIS_URL", &db)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    while starts(&out).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "funboost started nothing in 40 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cmd = |path: String| async move {
        let resp = request(reqwest::Method::POST, &path).send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json::<serde_json::Value>().await.unwrap(),
        )
    };

    // Pause: funboost cannot confirm; taskdeck says so, then counts it taken after its bound.
    let t0 = epoch();
    let (status, pause) = cmd(format!("{}/api/v1/queues/{queue}/pause", td.url)).await;
    assert_eq!(status, 202, "{pause}");
    assert_eq!(
        (
            pause["state"].as_str(),
            pause["funboost"].as_u64(),
            pause["confirmable"].as_u64()
        ),
        (Some("sent"), Some(1), Some(0)),
        "{pause}"
    );
    tokio::time::sleep(Duration::from_secs(22)).await;
    let after: Vec<f64> = starts(&out)
        .iter()
        .map(|s| s.1 - t0)
        .filter(|d| *d > 0.0)
        .collect();
    let last = after.iter().cloned().fold(0.0, f64::max);
    assert!(
        last < 15.0,
        "a task started {last:.1} s after the pause: {after:?}"
    );
    eprintln!(
        "funboost: {} task(s) started after the pause, the last {last:.1} s after it",
        after.len()
    );
    let (_, list) = get_json(&format!("{}/api/v1/commands?queue={queue}", td.url)).await;
    assert_eq!(list[0]["state"], "applied", "{list}");

    // Revoked while waiting at the head of the queue: it never runs.
    let _: () = r.lpush(&queue, message(999, false)).await.unwrap();
    let (status, revoke) = cmd(format!(
        "{}/api/v1/tasks/{queue}-999/revoke?queue={queue}",
        td.url
    ))
    .await;
    assert_eq!(status, 202, "{revoke}");

    // Resume: tasks start again within funboost's bound (10 s heartbeat + 5 s sleep).
    let t1 = epoch();
    let (status, _) = cmd(format!("{}/api/v1/queues/{queue}/resume", td.url)).await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(25);
    let resumed = loop {
        if let Some(d) = starts(&out)
            .iter()
            .map(|s| s.1 - t1)
            .filter(|d| *d > 0.0)
            .reduce(f64::min)
        {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "nothing started within 25 s of resuming"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("funboost: first start {resumed:.1} s after the resume");
    // The rest of the queue drains; the revoked message is skipped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while (0..30).any(|i| !starts(&out).iter().any(|s| s.0 == i)) {
        assert!(
            Instant::now() < deadline,
            "the queue did not drain: {:?}",
            starts(&out)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !starts(&out).iter().any(|s| s.0 == 999),
        "the revoked task ran"
    );

    // Kill a task spinning for a minute: recorded as killed within seconds.
    let _: () = r.lpush(&queue, message(500, true)).await.unwrap();
    let id = format!("{queue}-500");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, task) = get_json(&format!("{}/api/v1/tasks/{id}", td.url)).await;
        if status == 200 && task["state"] == "running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the spinning task is not running: {task}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let killed_at = Instant::now();
    let (status, kill) = cmd(format!("{}/api/v1/tasks/{id}/kill", td.url)).await;
    assert_eq!(status, 202, "{kill}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, task) = get_json(&format!("{}/api/v1/tasks/{id}", td.url)).await;
        if task["state"] == "killed" {
            break;
        }
        assert!(Instant::now() < deadline, "not killed within 15 s: {task}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "funboost: killed {:.1} s after the command",
        killed_at.elapsed().as_secs_f64()
    );
    let (_, list) = get_json(&format!("{}/api/v1/commands?task_id={id}", td.url)).await;
    assert_eq!(list[0]["state"], "applied", "{list}");

    let _ = peer.kill();
    let _ = peer.wait();
}

/// The mixin without Redis: records POSTed to taskdeck's HTTP ingest with an `ingest` token.
#[tokio::test]
async fn the_mixin_posts_records_over_http_with_an_ingest_token() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let token = {
        let out = Command::new(BIN)
            .args([
                "token",
                "create",
                "--scope",
                "ingest",
                "--name",
                "funboost workers",
            ])
            .current_dir(dir.path())
            .env("TASKDECK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let queue = format!("fb_http_{}", std::process::id());
    let mut broker = redis::Client::open(redis_db(7))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for i in 0..3 {
        let msg = format!(
            r#"{{"x":{i},"y":1,"extra":{{"task_id":"{queue}-{i}","publish_time":{:.4}}}}}"#,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        );
        let _: () = broker.rpush(&queue, msg).await.unwrap();
    }
    let mut peer = funboost_peer(&["taskdeck", &queue, "-", "8"])
        .env("TASKDECK_INGEST_URL", &td.url)
        .env("TASKDECK_INGEST_TOKEN", &token)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (_, page) = get_json(&format!(
            "{}/api/v1/tasks?queue={queue}&state=success",
            td.url
        ))
        .await;
        if page["tasks"].as_array().map_or(0, |t| t.len()) == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "3 successes not recorded: {page}\n{}",
            td.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = peer.wait();
    let metrics = metrics(&td.url).await;
    assert!(
        metrics.contains("taskdeck_ingest_events_received_total{source=\"http\"} 6"),
        "{metrics}"
    );
}

/// Finished status dicts a `consume`/`kind-consume` peer appended to `out`.
fn finished(out: &std::path::Path) -> usize {
    std::fs::read_to_string(out)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// An ordinary mixed fleet in one Redis database — funboost 55 queues on REDIS_STREAM, REDIS,
/// REDIS_ACK_ABLE and REDIS_PRIORITY, plus one on RabbitMQ whose heartbeats are in Redis: each
/// queue's broker kind shown as registered, every backlog exact (RabbitMQ's as its workers
/// report it), pause obeyed by each, and each drains once resumed.
#[tokio::test]
async fn a_mixed_fleet_of_broker_kinds_is_read_exactly_and_obeys_pause() {
    let (db, _) = fresh_redis(11).await;
    let rabbit_port = service_url("TEST_RABBITMQ_PORT");
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &db]);
    let pid = std::process::id();
    let kinds = [
        "REDIS_STREAM",
        "REDIS",
        "REDIS_ACK_ABLE",
        "REDIS_PRIORITY",
        "RABBITMQ_AMQPSTORM",
    ];
    let queue = |kind: &str| format!("fbk_{}_{pid}", kind.to_lowercase());
    let peer = |args: &[&str]| {
        let mut cmd = funboost_peer(args);
        cmd.env("FUNBOOST_REDIS_DB", "11")
            .env("FUNBOOST_RABBITMQ_PORT", &rabbit_port);
        cmd
    };
    for kind in kinds {
        let status = peer(&["kind-produce", kind, &queue(kind), "6"])
            .status()
            .unwrap();
        assert!(status.success(), "{kind}: the producer failed");
    }
    let row = |overview: &serde_json::Value, kind: &str| {
        overview["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["queue"] == queue(kind).as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{kind} missing: {overview}"))
    };
    let (_, overview) = get_json(&format!("{}/api/v1/overview", td.url)).await;
    assert_eq!(
        overview["broker_error"],
        serde_json::Value::Null,
        "{overview}"
    );
    for kind in &kinds[..4] {
        let r = row(&overview, kind);
        assert_eq!(
            (&r["broker_kind"], &r["waiting"], &r["backlog"]["source"]),
            (
                &serde_json::json!(kind),
                &serde_json::json!(6),
                &serde_json::json!("counted")
            ),
            "{r}"
        );
    }
    let rabbit = row(&overview, "RABBITMQ_AMQPSTORM");
    assert_eq!(
        (
            &rabbit["broker_kind"],
            &rabbit["waiting"],
            &rabbit["backlog"]["source"]
        ),
        (
            &serde_json::json!("RABBITMQ_AMQPSTORM"),
            &serde_json::Value::Null,
            &serde_json::json!("unknown")
        ),
        "no worker has reported yet: {rabbit}"
    );

    // Paused before any worker starts; pause and resume are funboost's own keys for every kind.
    for kind in kinds {
        let resp = request(
            reqwest::Method::POST,
            &format!("{}/api/v1/queues/{}/pause", td.url, queue(kind)),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 202, "{kind}");
    }
    let outs: Vec<_> = kinds
        .iter()
        .map(|k| dir.path().join(format!("{k}.jsonl")))
        .collect();
    let mut workers: Vec<_> = kinds
        .iter()
        .zip(&outs)
        .map(|(kind, out)| {
            peer(&[
                "kind-consume",
                kind,
                &queue(kind),
                out.to_str().unwrap(),
                "90",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    // The RabbitMQ queue's workers report its backlog in their heartbeat.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, overview) = get_json(&format!("{}/api/v1/overview", td.url)).await;
        let r = row(&overview, "RABBITMQ_AMQPSTORM");
        if r["backlog"]["source"] == "reported" {
            assert!(r["waiting"].as_u64().unwrap() <= 6, "{r}");
            break;
        }
        assert!(Instant::now() < deadline, "no backlog reported: {r}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    for (kind, out) in kinds.iter().zip(&outs) {
        // funboost may hand one message to its pool before it reads the flag.
        assert!(
            finished(out) <= 1,
            "{kind}: {} tasks ran while paused",
            finished(out)
        );
    }
    for kind in kinds {
        let resp = request(
            reqwest::Method::POST,
            &format!("{}/api/v1/queues/{}/resume", td.url, queue(kind)),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 202, "{kind}");
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    for (kind, out) in kinds.iter().zip(&outs) {
        while finished(out) < 6 {
            assert!(
                Instant::now() < deadline,
                "{kind}: {} of 6 ran after the resume",
                finished(out)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let (_, overview) = get_json(&format!("{}/api/v1/overview", td.url)).await;
    for kind in &kinds[..4] {
        assert_eq!(row(&overview, kind)["waiting"], 0, "{kind}");
    }

    // Publish over REST: checked against the function's signature as funboost checks it, then
    // run by each kind's funboost worker.
    let publish = |kind: &str, body: serde_json::Value| {
        let url = format!("{}/api/v1/queues/{}/publish", td.url, queue(kind));
        async move {
            let resp = request(reqwest::Method::POST, &url)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, err) = publish("REDIS_STREAM", serde_json::json!({"params": {"y": 1}})).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing required argument(s): x"));
    let (status, err) = publish("REDIS", serde_json::json!({"params": {"x": 1, "z": 2}})).await;
    assert_eq!(status, 400, "{err}");
    for kind in &kinds[..4] {
        let (status, published) =
            publish(kind, serde_json::json!({"params": {"x": 40, "y": 2}})).await;
        assert_eq!(status, 202, "{kind}: {published}");
        assert_eq!(
            published["command"]["outcome"]["kind"], "published",
            "{published}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for (kind, out) in kinds.iter().zip(&outs).take(4) {
        while finished(out) < 7 {
            assert!(
                Instant::now() < deadline,
                "{kind}: the published task did not run"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let last: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(out)
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(last["result"], 42, "{kind}: {last}");
    }
    // RPC: the answer carries funboost's result, within a second of the task's end.
    let (status, answer) = publish(
        "REDIS_ACK_ABLE",
        serde_json::json!({"params": {"x": 7, "y": 8}, "rpc": true, "timeout_s": 20}),
    )
    .await;
    let answered = epoch();
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        (
            &answer["result"]["state"],
            &answer["result"]["result"],
            &answer["result"]["source"]
        ),
        (
            &serde_json::json!("success"),
            &serde_json::json!("15"),
            &serde_json::json!("rpc")
        ),
        "{answer}"
    );
    let task_id = answer["task_id"].as_str().unwrap();
    let ended = std::fs::read_to_string(&outs[2])
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|d| d["task_id"] == task_id)
        .unwrap()["time_end"]
        .as_f64()
        .unwrap();
    assert!(
        answered - ended < 1.0,
        "the RPC answer came {:.2} s after the task ended",
        answered - ended
    );
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
}

/// funboost's dead letters (`is_push_to_dlx_queue_when_retry_max_times`): a task that fails
/// every retry lands in `<queue>_dlx`, taskdeck lists it, a re-drive runs it again on the
/// queue (and, failing again, it is dead-lettered again), a discard deletes it.
#[tokio::test]
async fn dead_letters_are_listed_redriven_to_run_again_and_discarded() {
    let (db, mut r) = fresh_redis(9).await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &db]);
    let queue = format!("fb_dlx_{}", std::process::id());
    let out = dir.path().join("runs.jsonl");
    let mut worker = funboost_peer(&[
        "kind-consume",
        "REDIS_ACK_ABLE",
        &queue,
        out.to_str().unwrap(),
        "60",
    ])
    .env("FUNBOOST_REDIS_DB", "9")
    .env("FUNBOOST_DLX", "1")
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !r
        .hexists::<_, _, bool>("funboost_queue__consumer_parmas", &queue)
        .await
        .unwrap()
    {
        assert!(Instant::now() < deadline, "the worker did not register");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let post = |path: String, body: serde_json::Value| async move {
        let resp = request(reqwest::Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<serde_json::Value>().await.unwrap())
    };
    let (status, published) = post(
        format!("{}/api/v1/queues/{queue}/publish", td.url),
        serde_json::json!({"params": {"x": 3, "fail": true}}),
    )
    .await;
    assert_eq!(status, 202, "{published}");
    let task_id = published["task_id"].as_str().unwrap().to_owned();
    let dead = |td_url: String, queue: String| async move {
        get_json(&format!("{td_url}/api/v1/queues/{queue}/dead"))
            .await
            .1
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = dead(td.url.clone(), queue.clone()).await;
        if page["total"] == 1 {
            assert_eq!(page["messages"][0]["task_id"], task_id.as_str(), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "nothing dead-lettered: {page}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, queue_page) = get_json(&format!("{}/api/v1/queues/{queue}", td.url)).await;
    assert_eq!(queue_page["dead_letters"], 1, "{queue_page}");
    let runs = |id: &str| {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(id))
            .count()
    };
    assert_eq!(runs(&task_id), 1);

    let (status, redriven) = post(
        format!("{}/api/v1/queues/{queue}/dead/redrive", td.url),
        serde_json::json!({"ids": [task_id]}),
    )
    .await;
    assert_eq!(status, 202, "{redriven}");
    assert_eq!(
        redriven["outcome"],
        serde_json::json!({"kind": "redriven", "moved": 1})
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs(&task_id) < 2 || dead(td.url.clone(), queue.clone()).await["total"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the re-driven task did not run again and return to the dead letters"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, discarded) = post(
        format!("{}/api/v1/queues/{queue}/dead/discard", td.url),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 202, "{discarded}");
    assert_eq!(
        discarded["outcome"],
        serde_json::json!({"kind": "discarded", "removed": 1})
    );
    assert_eq!(dead(td.url.clone(), queue.clone()).await["total"], 0);
    let (_, audit) = get_json(&format!("{}/api/v1/commands?queue={queue}", td.url)).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["discard", "redrive", "publish"]);
    let _ = worker.kill();
    let _ = worker.wait();
}
