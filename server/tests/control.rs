//! Commands reach real workers on a real Redis and taskdeck says when they took effect:
//! taskdeck's Rust workers pause within a second and confirm it, kill a running task, skip a
//! revoked one.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskdeck_worker::{Emitter, PublishOptions, RedisBroker, RedisStreamSink, Worker};

async fn post_command(url: &str) -> (u16, Value) {
    let resp = request(reqwest::Method::POST, url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn task_state(td: &Taskdeck, id: &str) -> Option<String> {
    let (status, task) = get_json(&format!("{}/api/v1/tasks/{id}", td.url)).await;
    (status == 200).then(|| task["state"].as_str().unwrap().to_owned())
}

async fn wait_state(td: &Taskdeck, id: &str, want: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if task_state(td, id).await.as_deref() == Some(want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{id} not {want} within {limit:?}: {:?}\n{}",
            task_state(td, id).await,
            td.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn publish(broker: &RedisBroker, queue: &str, id: &str, spin: bool) {
    publish_kwargs(broker, queue, id, json!({"spin": spin})).await
}

async fn publish_kwargs(broker: &RedisBroker, queue: &str, id: &str, kwargs: Value) {
    let kwargs = kwargs.as_object().unwrap().clone();
    let options = PublishOptions {
        task_id: Some(id.to_owned()),
        ..Default::default()
    };
    taskdeck_worker::publish(broker, queue, kwargs, &options)
        .await
        .unwrap();
}

#[derive(serde::Deserialize)]
struct Job {
    spin: bool,
    #[serde(default)]
    fail: bool,
}

#[tokio::test]
async fn rust_workers_confirm_pause_and_limits_and_honour_kill_revoke_and_retry() {
    let (db, mut r) = fresh_redis(12).await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &db]);

    let queue = "ctl";
    let broker = Arc::new(RedisBroker::new(&db).unwrap());
    let (emitter, _flushed) = Emitter::start(Arc::new(RedisStreamSink::new(&db).unwrap()));
    let worker = Worker::builder(queue)
        .function("step")
        .concurrency(2)
        .handler(|ctx, job: Job| async move {
            if job.fail {
                return Err(taskdeck_worker::TaskError::fatal(
                    "ValueError",
                    "asked to fail",
                ));
            }
            if job.spin {
                // Runs until killed (a minute at most).
                for _ in 0..600 {
                    if ctx.is_cancelled() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ok(0)
        })
        .build(broker.clone(), emitter)
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    publish(&broker, queue, "t1", false).await;
    wait_state(&td, "t1", "success", Duration::from_secs(10)).await;

    // Pause: applied and confirmed by the one consumer within a second.
    let sent = Instant::now();
    let (status, command) = post_command(&format!("{}/api/v1/queues/{queue}/pause", td.url)).await;
    assert_eq!(status, 202, "{command}");
    assert_eq!(command["action"], "pause");
    let token_id = td.token.split('_').nth(1).unwrap();
    assert_eq!(command["actor"], format!("token:{token_id} (tests)"));
    let id = command["id"].as_str().unwrap().to_owned();
    let applied = loop {
        let (_, list) = get_json(&format!("{}/api/v1/commands?queue={queue}", td.url)).await;
        let c = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap()
            .clone();
        if c["state"] == "applied" {
            break c;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "not applied: {c}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let took = sent.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "pause confirmed after {took:?}"
    );
    assert_eq!(
        (
            applied["applied"].as_u64(),
            applied["confirmable"].as_u64(),
            applied["funboost"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{applied}"
    );
    assert!(applied["version"].as_u64().unwrap() >= 1);
    // funboost's flag is set as well, for funboost workers of the queue.
    let flag: Option<String> = redis::cmd("HGET")
        .arg("funboost_pause_flag")
        .arg(queue)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(flag.as_deref(), Some("1"));

    // Paused: a new task waits; revoked (taskdeck has no record of it yet: its queue is named).
    publish(&broker, queue, "t2", false).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(task_state(&td, "t2").await, None, "t2 started while paused");
    let (status, err) = post_command(&format!("{}/api/v1/tasks/t2/revoke", td.url)).await;
    assert_eq!(status, 404, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("name its queue"),
        "{err}"
    );
    let (status, revoke) =
        post_command(&format!("{}/api/v1/tasks/t2/revoke?queue={queue}", td.url)).await;
    assert_eq!(status, 202, "{revoke}");
    assert_eq!(revoke["state"], "sent");

    // Resume: the revoked task is skipped and recorded so, the next one runs.
    let (status, _) = post_command(&format!("{}/api/v1/queues/{queue}/resume", td.url)).await;
    assert_eq!(status, 202);
    publish(&broker, queue, "t3", false).await;
    wait_state(&td, "t3", "success", Duration::from_secs(10)).await;
    wait_state(&td, "t2", "revoked", Duration::from_secs(10)).await;
    let flag: Option<String> = redis::cmd("HGET")
        .arg("funboost_pause_flag")
        .arg(queue)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(flag.as_deref(), Some("0"));

    // Kill a task that would run for a minute: recorded killed within seconds.
    publish(&broker, queue, "t4", true).await;
    wait_state(&td, "t4", "running", Duration::from_secs(10)).await;
    let (status, err) = post_command(&format!("{}/api/v1/tasks/t4/revoke", td.url)).await;
    assert_eq!(
        (status, err["error"]["message"].as_str()),
        (409, Some("the task is running: kill it instead"))
    );
    let (status, kill) = post_command(&format!("{}/api/v1/tasks/t4/kill", td.url)).await;
    assert_eq!(status, 202, "{kill}");
    let took = wait_state(&td, "t4", "killed", Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    let (status, err) = post_command(&format!("{}/api/v1/tasks/t1/kill", td.url)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, _) = post_command(&format!("{}/api/v1/queues/nowhere/pause", td.url)).await;
    assert_eq!(status, 404);

    // New limits: the consumer applies them at once and says so in its heartbeat.
    let limits = |body: Value| {
        let url = format!("{}/api/v1/queues/{queue}/limits", td.url);
        async move {
            let resp = request(reqwest::Method::PUT, &url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, err) = limits(json!({"qps": -1})).await;
    assert_eq!(status, 400, "{err}");
    let (status, err) = limits(json!({"concurrency": 1, "speed": 2})).await;
    assert_eq!(status, 400, "unknown fields are refused: {err}");
    let (status, set) = limits(json!({"qps": 20.0, "concurrency": 1})).await;
    assert_eq!(status, 202, "{set}");
    assert_eq!(
        set["outcome"],
        json!({"kind": "limits", "qps": 20.0, "concurrency": 1})
    );
    assert_eq!(set["detail"], "");
    let sent = Instant::now();
    loop {
        let (_, fleet) = get_json(&format!("{}/api/v1/workers?queue={queue}", td.url)).await;
        let hb = &fleet["consumers"][0]["heartbeat"];
        if hb["concurrency"] == 1 && hb["qps"] == 20.0 {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "limits not applied: {hb}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, list) = get_json(&format!("{}/api/v1/commands?queue={queue}&limit=1", td.url)).await;
    assert_eq!(
        (list[0]["action"].as_str(), list[0]["state"].as_str()),
        (Some("limits"), Some("applied")),
        "{list}"
    );
    let (status, _) = limits(json!({"qps": null, "concurrency": null})).await;
    assert_eq!(status, 202);

    // Retry a failed task: a new task with the same params; the failed record stays.
    publish_kwargs(&broker, queue, "t5", json!({"spin": false, "fail": true})).await;
    wait_state(&td, "t5", "failed", Duration::from_secs(10)).await;
    let (status, retried) = post_command(&format!("{}/api/v1/tasks/t5/retry", td.url)).await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["state"], "applied");
    assert_eq!(retried["outcome"]["kind"], "retried", "{retried}");
    let new_id = retried["outcome"]["task_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, "t5");
    wait_state(&td, &new_id, "failed", Duration::from_secs(10)).await;
    let (_, again) = get_json(&format!("{}/api/v1/tasks/{new_id}", td.url)).await;
    assert_eq!(
        again["params"],
        json!({"spin": false, "fail": true}).to_string(),
        "{again}"
    );
    assert_eq!(task_state(&td, "t5").await.as_deref(), Some("failed"));
    let (status, err) = post_command(&format!("{}/api/v1/tasks/t1/retry", td.url)).await;
    assert_eq!(status, 409, "a success is not retried: {err}");

    // Every command with its outcome, newest first.
    let (_, list) = get_json(&format!("{}/api/v1/commands", td.url)).await;
    let seen: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("retry", "applied"),
            ("limits", "applied"),
            ("limits", "applied"),
            ("kill", "applied"),
            ("resume", "applied"),
            ("revoke", "applied"),
            ("pause", "applied")
        ],
        "{list}"
    );
    assert!(list[3]["done_at"].as_f64().is_some());
    let (_, for_task) = get_json(&format!("{}/api/v1/commands?task_id=t2", td.url)).await;
    assert_eq!(for_task.as_array().unwrap().len(), 1);

    // Clear: every waiting message goes, only with the queue's name typed again.
    let (status, _) = post_command(&format!("{}/api/v1/queues/{queue}/pause", td.url)).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..3 {
        publish(&broker, queue, &format!("w{i}"), false).await;
    }
    let clear = |confirm: &str| {
        let url = format!("{}/api/v1/queues/{queue}/clear", td.url);
        let body = json!({ "confirm": confirm });
        async move {
            let resp = request(reqwest::Method::POST, &url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, err) = clear("ct").await;
    assert_eq!(status, 400, "{err}");
    let waiting: u64 = redis::cmd("LLEN")
        .arg(queue)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(waiting, 3);
    let (status, cleared) = clear(queue).await;
    assert_eq!(status, 202, "{cleared}");
    assert_eq!(
        (cleared["state"].as_str(), &cleared["outcome"]),
        (Some("applied"), &json!({"kind": "cleared", "removed": 3}))
    );
    let waiting: u64 = redis::cmd("LLEN")
        .arg(queue)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(waiting, 0);

    // Move a waiting message to the front of a queue nobody consumes; give one a priority in a
    // funboost REDIS_PRIORITY queue (x-max-priority 4).
    let idle = "idle";
    let _: () = redis::cmd("SADD")
        .arg("funboost_all_queue_names")
        .arg(idle)
        .query_async(&mut r)
        .await
        .unwrap();
    for i in 0..3 {
        publish(&broker, idle, &format!("m{i}"), false).await;
    }
    let to = |id: &str, q: &str, body: Value| {
        let url = format!("{}/api/v1/tasks/{id}/priority?queue={q}", td.url);
        async move {
            let resp = request(reqwest::Method::POST, &url)
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, moved) = to("m2", idle, json!({"front": true})).await;
    assert_eq!(status, 202, "{moved}");
    assert_eq!(moved["state"], "applied");
    let order: Vec<String> = redis::cmd("LRANGE")
        .arg(idle)
        .arg(0)
        .arg(-1)
        .query_async(&mut r)
        .await
        .unwrap();
    let ids: Vec<String> = order
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(m).unwrap()["extra"]["task_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["m2", "m0", "m1"]);
    let (status, err) = to("m1", idle, json!({"priority": 3})).await;
    assert_eq!(status, 409, "a plain queue has no priorities: {err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no priorities"),
        "{err}"
    );
    let (status, err) = to("gone", idle, json!({"front": true})).await;
    assert_eq!(status, 409, "{err}");
    let (status, _) = to("m1", idle, json!({"front": true, "priority": 2})).await;
    assert_eq!(status, 400);
    let prio = "prio";
    let params = json!({"queue_name": prio, "broker_kind": "REDIS_PRIORITY", "broker_exclusive_config": {"x-max-priority": 4}});
    let _: () = redis::cmd("HSET")
        .arg("funboost_queue__consumer_parmas")
        .arg(prio)
        .arg(params.to_string())
        .query_async(&mut r)
        .await
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("funboost_all_queue_names")
        .arg(prio)
        .query_async(&mut r)
        .await
        .unwrap();
    publish(&broker, prio, "p0", false).await;
    let (status, moved) = to("p0", prio, json!({"priority": 9})).await;
    assert_eq!(status, 202, "{moved}");
    assert_eq!(
        moved["outcome"],
        json!({"kind": "moved", "front": false, "priority": 9.0})
    );
    let top: Vec<String> = redis::cmd("LRANGE")
        .arg("prio:4")
        .arg(0)
        .arg(-1)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(top.len(), 1, "capped at the queue's highest level");
    let body: Value = serde_json::from_str(&top[0]).unwrap();
    assert_eq!(body["extra"]["other_extra_params"]["priroty"], 4);
    assert_eq!(body["extra"]["task_id"], "p0");
    let plain: u64 = redis::cmd("LLEN")
        .arg(prio)
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(plain, 0);

    stop.cancel();
    running.await.unwrap();
}

/// Commands are recorded and listed the same way in every store (in-process bus, no worker).
async fn commands_are_recorded(td: &Taskdeck) {
    let events = json!([
        event("w1", "mail", json!({"state": "pending"})),
        event("r1", "mail", json!({"state": "running"}))
    ]);
    assert_eq!(post(&td.url, events.to_string()).await.0, 202);
    let (status, pause) = post_command(&format!("{}/api/v1/queues/mail/pause", td.url)).await;
    assert_eq!(status, 202, "{pause}");
    assert_eq!(
        (pause["state"].as_str(), pause["version"].as_u64()),
        (Some("sent"), Some(1)),
        "{pause}"
    );
    assert_eq!(
        (&pause["confirmable"], &pause["funboost"], &pause["outcome"]),
        (&json!(0), &json!(0), &json!(null)),
        "nobody to apply it yet: {pause}"
    );
    let (status, _) = post_command(&format!("{}/api/v1/tasks/w1/revoke", td.url)).await;
    assert_eq!(status, 202);
    let (status, _) = post_command(&format!("{}/api/v1/tasks/r1/kill", td.url)).await;
    assert_eq!(status, 202);
    let (_, list) = get_json(&format!("{}/api/v1/commands?queue=mail&limit=2", td.url)).await;
    let seen: Vec<(&str, Option<&str>)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["task_id"].as_str()))
        .collect();
    assert_eq!(seen, [("kill", Some("r1")), ("revoke", Some("w1"))]);
    let (_, one) = get_json(&format!("{}/api/v1/commands?task_id=w1", td.url)).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert!(one[0]["sent_at"].as_f64().unwrap() >= one[0]["requested_at"].as_f64().unwrap());
    // What a command did is kept with it, as fields.
    let resp = request(
        reqwest::Method::PUT,
        &format!("{}/api/v1/queues/mail/limits", td.url),
    )
    .json(&json!({"qps": 2.5, "concurrency": null}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 202);
    let resp = request(
        reqwest::Method::POST,
        &format!("{}/api/v1/queues/mail/clear", td.url),
    )
    .json(&json!({"confirm": "mail"}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 202);
    let (_, list) = get_json(&format!("{}/api/v1/commands?queue=mail&limit=2", td.url)).await;
    assert_eq!(
        (&list[0]["action"], &list[0]["outcome"], &list[0]["detail"]),
        (
            &json!("clear"),
            &json!({"kind": "cleared", "removed": 0}),
            &json!("")
        ),
        "{list}"
    );
    assert_eq!(
        (&list[1]["action"], &list[1]["outcome"]),
        (
            &json!("limits"),
            &json!({"kind": "limits", "qps": 2.5, "concurrency": null})
        ),
        "{list}"
    );
    let (status, _) = get_json(&format!("{}/api/v1/commands?limit=0", td.url)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn commands_are_recorded_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    commands_are_recorded(&Taskdeck::start(dir.path(), &[])).await;
}

#[tokio::test]
async fn commands_are_recorded_in_postgres() {
    let pg = PgDb::new("control").await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &pg.url]);
    commands_are_recorded(&td).await;
    drop(td);
    pg.drop().await;
}

#[tokio::test]
async fn commands_are_recorded_in_mongodb() {
    let mongo = MongoDb::new("control");
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &mongo.url]);
    commands_are_recorded(&td).await;
    drop(td);
    mongo.drop().await;
}

async fn bulk(td: &Taskdeck, body: Value) -> (u16, Value) {
    let resp = request(
        reqwest::Method::POST,
        &format!("{}/api/v1/tasks/bulk", td.url),
    )
    .json(&body)
    .send()
    .await
    .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A bulk command's `(matched, sent, skipped, failed)`.
fn bulk_counts(job: &Value) -> [Option<u64>; 4] {
    ["matched", "sent", "skipped", "failed"].map(|k| job[k].as_u64())
}

async fn bulk_done(td: &Taskdeck, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (status, job) = get_json(&format!("{}/api/v1/tasks/bulk/{id}", td.url)).await;
        assert_eq!(status, 200, "{job}");
        if job["finished_at"].as_f64().is_some() {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "bulk not done: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Retry everything a filter matches; the listed ids; and what a bulk request refuses.
#[tokio::test]
async fn bulk_retry_of_a_filter_and_of_listed_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let failed = |id: String, queue: &str| {
        event(
            &id,
            queue,
            json!({"state": "failed", "run_status": "finish", "success": false, "exception_type": "IOError", "time_end": 1_795_000_001.0}),
        )
    };
    let mut events: Vec<Value> = (0..450).map(|i| failed(format!("b{i}"), "bq")).collect();
    events.extend((0..5).map(|i| event(&format!("ok{i}"), "bq", json!({"state": "success"}))));
    events.extend((0..3).map(|i| failed(format!("o{i}"), "other")));
    assert_eq!(post(&td.url, Value::Array(events).to_string()).await.0, 202);

    // Every failed task of one queue: 450 over three pages, each published again.
    let (status, job) = bulk(
        &td,
        json!({"action": "retry", "filter": "queue=bq&state=failed"}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let job = bulk_done(&td, job["id"].as_str().unwrap()).await;
    assert_eq!(
        bulk_counts(&job),
        [Some(450), Some(450), Some(0), Some(0)],
        "{job}"
    );
    assert_eq!(job["capped"], false);
    let (_, commands) = get_json(&format!("{}/api/v1/commands?queue=bq&limit=500", td.url)).await;
    assert_eq!(commands.as_array().unwrap().len(), 450);
    assert!(commands
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["action"] == "retry" && c["state"] == "applied"));

    // Listed ids: a success is skipped, an unknown id too.
    let (status, job) = bulk(
        &td,
        json!({"action": "retry", "ids": ["o0", "ok1", "nope"]}),
    )
    .await;
    assert_eq!(status, 202);
    let job = bulk_done(&td, job["id"].as_str().unwrap()).await;
    assert_eq!(
        bulk_counts(&job),
        [Some(3), Some(1), Some(2), Some(0)],
        "{job}"
    );

    for (body, why) in [
        (
            json!({"action": "pause", "ids": ["o0"]}),
            "kill, revoke, retry or delete",
        ),
        (
            json!({"action": "retry", "ids": ["o0"], "filter": "state=failed"}),
            "not both",
        ),
        (json!({"action": "retry", "ids": []}), "1–10000"),
        (
            json!({"action": "retry", "filter": "state=failed&older=abc"}),
            "drop `older`",
        ),
        (
            json!({"action": "retry", "filter": "state=nope"}),
            "unknown state",
        ),
    ] {
        let (status, err) = bulk(&td, body).await;
        assert_eq!(status, 400, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(why),
            "{err}"
        );
    }
    let (status, _) = get_json(&format!("{}/api/v1/tasks/bulk/nope", td.url)).await;
    assert_eq!(status, 404);
}

/// The messages waiting in a funboost REDIS_PRIORITY queue that nobody consumes, listed as its
/// consumers would take them; deleted one at a time and in bulk, each deleted task recorded as
/// revoked.
#[tokio::test]
async fn waiting_messages_are_listed_and_deleted() {
    let (db, mut r) = fresh_redis(14).await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &db]);
    let q = "wq";
    let params = json!({"queue_name": q, "broker_kind": "REDIS_PRIORITY", "broker_exclusive_config": {"x-max-priority": 4}});
    let _: () = redis::pipe()
        .hset("funboost_queue__consumer_parmas", q, params.to_string())
        .sadd("funboost_all_queue_names", q)
        .query_async(&mut r)
        .await
        .unwrap();
    // As funboost's publisher writes them: RPUSH to `q` or `q:<priority>`.
    let message = |id: &str, x: u32, priority: Option<u32>| {
        let mut extra = json!({"task_id": id, "publish_time": 1_795_423_726.17, "publish_time_format": "2026-11-23 16:48:46"});
        if let Some(p) = priority {
            extra["other_extra_params"] = json!({"priroty": p});
        }
        json!({"x": x, "extra": extra}).to_string()
    };
    let _: () = redis::pipe()
        .rpush(q, message("w0", 0, None))
        .rpush(format!("{q}:2"), message("w1", 1, Some(2)))
        .rpush(q, message("w2", 2, None))
        .rpush(q, "not json")
        .query_async(&mut r)
        .await
        .unwrap();
    // taskdeck already knows w0 as pending (a taskdeck publisher reported it).
    let pending = event("w0", q, json!({"state": "pending", "time_start": null}));
    assert_eq!(post(&td.url, json!([pending]).to_string()).await.0, 202);

    let list = |query: &str| {
        let url = format!("{}/api/v1/queues/{q}/waiting?{query}", td.url);
        async move { get_json(&url).await }
    };
    let (status, page) = list("limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["layout"].as_str()),
        (Some(4), Some("REDIS_PRIORITY"))
    );
    let first = &page["messages"][0];
    assert_eq!(
        (
            first["task_id"].as_str(),
            first["key"].as_str(),
            first["priority"].as_f64()
        ),
        (Some("w1"), Some("wq:2"), Some(2.0)),
        "the highest priority is taken first: {page}"
    );
    assert_eq!(first["params"], r#"{"x":1}"#);
    assert_eq!(page["messages"][1]["task_id"], "w0");
    assert_eq!(page["messages"][1]["state"], "pending");
    let (_, rest) = list("offset=2&limit=50").await;
    let rest = rest["messages"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 2);
    assert_eq!(
        (rest[0]["task_id"].as_str(), rest[0]["position"].as_u64()),
        (Some("w2"), Some(2))
    );
    assert_eq!(
        (rest[1]["task_id"].as_str(), rest[1]["params"].as_str()),
        (None, Some("not json"))
    );
    assert_eq!(list("limit=0").await.0, 400);
    assert_eq!(list("offset=-1").await.0, 400);
    let (status, _) = get_json(&format!("{}/api/v1/queues/nosuch/waiting", td.url)).await;
    assert_eq!(status, 404);

    // One message nobody has a record of, by id and queue.
    let (status, deleted) =
        post_command(&format!("{}/api/v1/tasks/w2/delete?queue={q}", td.url)).await;
    assert_eq!(status, 202, "{deleted}");
    assert_eq!(
        (&deleted["state"], &deleted["outcome"]),
        (&json!("applied"), &json!({"kind": "deleted"}))
    );
    let (_, task) = get_json(&format!("{}/api/v1/tasks/w2", td.url)).await;
    assert_eq!(
        (
            task["state"].as_str(),
            task["exception_type"].as_str(),
            task["params"].as_str()
        ),
        (Some("revoked"), Some("Deleted"), Some(r#"{"x":2}"#)),
        "{task}"
    );
    assert!(task["exception_msg"]
        .as_str()
        .unwrap()
        .contains("deleted from the queue by "));
    let (status, again) =
        post_command(&format!("{}/api/v1/tasks/w2/delete?queue={q}", td.url)).await;
    assert_eq!(status, 409, "revoked now, nothing to delete: {again}");
    let (status, missing) =
        post_command(&format!("{}/api/v1/tasks/nope/delete?queue={q}", td.url)).await;
    assert_eq!(status, 409, "not waiting: {missing}");
    let (status, _) = post_command(&format!("{}/api/v1/tasks/nope/delete", td.url)).await;
    assert_eq!(status, 404, "no record and no queue");

    // In bulk: the recorded pending one and an unrecorded one; an unknown id is skipped.
    let (status, job) = bulk(
        &td,
        json!({"action": "delete", "ids": ["w0", "w1", "nope"], "queue": q}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let job = bulk_done(&td, job["id"].as_str().unwrap()).await;
    assert_eq!(
        bulk_counts(&job),
        [Some(3), Some(2), Some(1), Some(0)],
        "{job}"
    );
    for id in ["w0", "w1"] {
        assert_eq!(
            task_state(&td, id).await.as_deref(),
            Some("revoked"),
            "{id}"
        );
    }
    let (_, page) = list("").await;
    assert_eq!(
        page["total"], 1,
        "only the unreadable message is left: {page}"
    );
    let levels: (u64, u64) = redis::pipe()
        .llen(q)
        .llen(format!("{q}:2"))
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(levels, (1, 0));
    let (status, _) = bulk(
        &td,
        json!({"action": "delete", "filter": "state=pending", "queue": q}),
    )
    .await;
    assert_eq!(status, 400, "a filter names its queue itself");
}

/// Behind a load balancer the progress request may reach another instance: with Redis, every
/// instance answers it.
#[tokio::test]
async fn bulk_progress_is_read_from_any_instance_on_the_same_redis() {
    let (db, _) = fresh_redis(10).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Taskdeck::start(dir_a.path(), &["--redis", &db]);
    let b = Taskdeck::start(dir_b.path(), &["--redis", &db]);
    let events: Vec<Value> = (0..250)
        .map(|i| {
            event(
                &format!("lb{i}"),
                "lb",
                json!({"state": "failed", "run_status": "finish", "success": false}),
            )
        })
        .collect();
    assert_eq!(post(&a.url, Value::Array(events).to_string()).await.0, 202);
    let (status, job) = bulk(&a, json!({"action": "retry", "filter": "queue=lb"})).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    let (status, early) = get_json(&format!("{}/api/v1/tasks/bulk/{id}", b.url)).await;
    assert_eq!(status, 200, "shared before the answer: {early}");
    let on_a = bulk_done(&a, id).await;
    let on_b = bulk_done(&b, id).await;
    assert_eq!(on_a, on_b, "the other instance reads the finished job");
    assert_eq!(on_b["sent"], 250);
    let (status, _) = get_json(&format!("{}/api/v1/tasks/bulk/nope", b.url)).await;
    assert_eq!(status, 404);
}
