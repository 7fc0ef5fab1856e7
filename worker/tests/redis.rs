//! The consumer against a real Redis, checked key by key against funboost's layout.
//! Needs TEST_REDIS_URL (set by `make test`).

mod common;

use common::{queue, redis_url as url, until, Collect};
use protocol::event::{TaskEvent, TaskState};
use redis::AsyncCommands;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use taskdeck_worker::broker::redis::{
    heartbeat_dict, heartbeat_str, kill_hash, unack_key, unack_registry,
};
use taskdeck_worker::broker::Broker;
use taskdeck_worker::heartbeat::Heartbeat;
use taskdeck_worker::{Controller, Emitter, RedisBroker, RedisStreamSink, Worker};
use tokio_util::sync::CancellationToken;

async fn conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url(7))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The heartbeats funboost's dict of queue `q` holds.
async fn beats(q: &str) -> Vec<Heartbeat> {
    let members: Vec<String> = conn().await.smembers(heartbeat_dict(q)).await.unwrap();
    members
        .iter()
        .filter_map(|m| Heartbeat::from_json(m).ok())
        .collect()
}

/// A message exactly as funboost's publisher writes it.
fn funboost_message(i: usize, secs: f64) -> (String, String) {
    let id = uuid::Uuid::now_v7().to_string();
    let t = taskdeck_worker::host::now();
    (
        id.clone(),
        format!(
            r#"{{"x":{i},"secs":{secs},"extra":{{"task_id":"{id}","publish_time":{t:.4},"publish_time_format":"2026-11-23 16:42:19"}}}}"#
        ),
    )
}

#[derive(serde::Deserialize)]
struct P {
    x: i64,
    secs: f64,
}

fn worker(q: &str, emitter: Emitter) -> Worker {
    Worker::builder(q)
        .concurrency(4)
        .control_every(Duration::from_millis(100))
        .heartbeat_every(Duration::from_millis(500))
        .handler(|_ctx, p: P| async move {
            tokio::time::sleep(Duration::from_secs_f64(p.secs)).await;
            Ok(p.x * 2)
        })
        .build(Arc::new(RedisBroker::new(&url(7)).unwrap()), emitter)
        .unwrap()
}

#[tokio::test]
async fn consumes_funboost_messages_with_funboost_keys_and_streams_records() {
    let q = queue("rs_layout");
    let mut c = conn().await;
    let stream_db = url(13);
    let mut s = redis::Client::open(stream_db.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = s.del("taskdeck:events").await.unwrap();
    for i in 0..20 {
        let (_, raw) = funboost_message(i, 0.0);
        let _: () = c.rpush(&q, raw).await.unwrap();
    }
    let (emitter, flushed) = Emitter::start(Arc::new(RedisStreamSink::new(&stream_db).unwrap()));
    let stop = CancellationToken::new();
    let run = tokio::spawn(worker(&q, emitter).run(stop.clone()));
    until("40 records in the stream", 10, async || {
        s.xlen::<_, u64>("taskdeck:events").await.unwrap() == 40
    })
    .await;
    // funboost's registration and heartbeat keys.
    let queues: Vec<String> = c.smembers("funboost_all_queue_names").await.unwrap();
    assert!(queues.contains(&q));
    let params: String = c.hget("funboost_queue__consumer_parmas", &q).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&params).unwrap()["concurrent_num"],
        4
    );
    let beats: Vec<String> = c.smembers(heartbeat_str(&q)).await.unwrap();
    assert_eq!(beats.len(), 1);
    let (consumer, ts) = beats[0].rsplit_once("&&").unwrap();
    assert!(ts.parse::<f64>().is_ok());
    let dicts: Vec<String> = c.smembers(heartbeat_dict(&q)).await.unwrap();
    let hb: Value = serde_json::from_str(&dicts[0]).unwrap();
    for field in [
        "queue_name",
        "computer_ip",
        "process_id",
        "consumer_uuid",
        "hearbeat_timestamp",
        "start_datetime_str",
        "total_consume_count_from_start",
        "last_x_s_execute_count",
    ] {
        assert!(hb.get(field).is_some(), "heartbeat field {field}");
    }
    assert_eq!(
        hb["capabilities"],
        serde_json::json!(["pause", "kill", "revoke", "qps", "concurrency"])
    );
    let registry: Vec<String> = c.smembers(unack_registry(&q)).await.unwrap();
    assert_eq!(registry, vec![unack_key(&q, consumer)]);
    let held: u64 = c.zcard(unack_key(&q, consumer)).await.unwrap();
    assert_eq!(held, 0, "every message acknowledged");
    let left: u64 = c.llen(&q).await.unwrap();
    assert_eq!(left, 0);
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    // A graceful stop removes this consumer's heartbeats and its empty in-flight set.
    let beats: Vec<String> = c.smembers(heartbeat_str(&q)).await.unwrap();
    assert!(beats.is_empty());
    let registry: Vec<String> = c.smembers(unack_registry(&q)).await.unwrap();
    assert!(registry.is_empty(), "{registry:?}");
    // The records read back as taskdeck events.
    let entries: redis::streams::StreamRangeReply = s.xrange_all("taskdeck:events").await.unwrap();
    let events: Vec<TaskEvent> = entries
        .ids
        .iter()
        .map(|e| TaskEvent::from_json_str(&e.get::<String>("event").unwrap()).unwrap())
        .collect();
    let finished: Vec<&TaskEvent> = events
        .iter()
        .filter(|e| e.effective_state() == TaskState::Success)
        .collect();
    assert_eq!(finished.len(), 20);
    assert!(finished
        .iter()
        .all(|e| e.queue_name == q && e.consumer_id.as_deref() == Some(consumer)));
}

/// taskdeck's desired state reaches a consumer through the pub/sub wake-up: with polling set
/// to a minute, a pause is still applied within a second.
#[tokio::test]
async fn desired_state_is_applied_on_the_pubsub_wakeup() {
    let q = queue("rs_desired");
    let mut c = conn().await;
    let sink = Arc::new(Collect::default());
    let (emitter, flushed) = Emitter::start(sink.clone());
    let broker = RedisBroker::new(&url(7)).unwrap();
    let w = Worker::builder(&q)
        .control_every(Duration::from_secs(60))
        .heartbeat_every(Duration::from_secs(60))
        .handler(|_ctx, _p: serde_json::Value| async move { Ok(()) })
        .build(Arc::new(broker.clone()), emitter)
        .unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(w.run(stop.clone()));
    until("the consumer's first heartbeat", 5, async || {
        beats(&q).await.iter().any(|h| h.queue_name == q)
    })
    .await;
    // Let the subscription settle: it is made when the control loop starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = std::time::Instant::now();
    let version = broker
        .set_desired(
            &q,
            &protocol::control::Desired {
                paused: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    until("the applied version in a heartbeat", 2, async || {
        beats(&q)
            .await
            .iter()
            .any(|h| h.queue_name == q && h.control_version == version && h.paused)
    })
    .await;
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    let (_, m) = funboost_message(1, 0.0);
    let _: () = c.rpush(&q, &m).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(sink.finals().is_empty(), "nothing runs while paused");
    let stored = broker.desired(&q).await.unwrap();
    assert_eq!((stored.version, stored.paused), (version, true));
    broker.set_desired(&q, &Default::default()).await.unwrap();
    until("the task after resume", 2, async || {
        sink.finals().len() == 1
    })
    .await;
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    let _: () = c
        .del(taskdeck_worker::broker::redis::desired_key(&q))
        .await
        .unwrap();
}

#[tokio::test]
async fn obeys_funboosts_pause_flag_and_kill_hash() {
    let q = queue("rs_control");
    let mut c = conn().await;
    let sink = Arc::new(Collect::default());
    let (emitter, flushed) = Emitter::start(sink.clone());
    let _: () = c.hset("funboost_pause_flag", &q, "1").await.unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(worker(&q, emitter).run(stop.clone()));
    let (_, quick) = funboost_message(1, 0.0);
    let _: () = c.rpush(&q, &quick).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        sink.0.lock().unwrap().is_empty(),
        "nothing starts while paused"
    );
    let _: () = c.hset("funboost_pause_flag", &q, "0").await.unwrap();
    until("the task to run after resume", 2, async || {
        sink.finals().len() == 1
    })
    .await;

    let (long_id, long) = funboost_message(2, 3600.0);
    let _: () = c.rpush(&q, &long).await.unwrap();
    until("the long task to start", 5, async || {
        sink.0.lock().unwrap().iter().any(|e| e.task_id == long_id)
    })
    .await;
    let sent = std::time::Instant::now();
    let _: () = c
        .hset(kill_hash(&q), &long_id, "1795423339.3")
        .await
        .unwrap();
    until("the killed record", 2, async || sink.finals().len() == 2).await;
    assert!(sent.elapsed() < Duration::from_secs(1));
    let killed = sink
        .finals()
        .into_iter()
        .find(|e| e.task_id == long_id)
        .unwrap();
    assert_eq!(killed.effective_state(), TaskState::Killed);
    assert_eq!(killed.success, Some(false));
    let left: bool = c.hexists(kill_hash(&q), &long_id).await.unwrap();
    assert!(!left, "the kill request is consumed");
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    let _: () = c.hdel("funboost_pause_flag", &q).await.unwrap();
}

#[tokio::test]
async fn requeues_what_dead_consumers_held_and_leaves_live_ones_alone() {
    let q = queue("rs_orphans");
    let mut c = conn().await;
    let (time_s, _): (u64, u64) = redis::cmd("TIME").query_async(&mut c).await.unwrap();
    let dead = "deadhost_192.0.2.9_2026-11-23 10-00-00_1_1";
    let alive = "livehost_192.0.2.8_2026-11-23 10-00-00_2_2";
    let _: () = c
        .sadd(heartbeat_str(&q), format!("{alive}&&{time_s}"))
        .await
        .unwrap();
    let _: () = c
        .sadd(heartbeat_str(&q), format!("{dead}&&{}", time_s - 100))
        .await
        .unwrap();
    let mut dead_ids = Vec::new();
    for (who, n) in [(dead, 3), (alive, 2)] {
        let _: () = c
            .sadd(unack_registry(&q), unack_key(&q, who))
            .await
            .unwrap();
        for i in 0..n {
            let (id, raw) = funboost_message(i, 0.0);
            if who == dead {
                dead_ids.push(id);
            }
            let _: () = c
                .zadd(unack_key(&q, who), raw, time_s as f64)
                .await
                .unwrap();
        }
    }
    let sink = Arc::new(Collect::default());
    let (emitter, flushed) = Emitter::start(sink.clone());
    let w = Worker::builder(&q)
        .orphan_check_every(Duration::from_millis(200))
        .handler(|_ctx, _p: Value| async move { Ok(()) })
        .build(Arc::new(RedisBroker::new(&url(7)).unwrap()), emitter)
        .unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(w.run(stop.clone()));
    until("the dead consumer's 3 messages to run", 10, async || {
        sink.finals().len() == 3
    })
    .await;
    let mut ran: Vec<String> = sink.finals().into_iter().map(|e| e.task_id).collect();
    ran.sort();
    dead_ids.sort();
    assert_eq!(
        ran, dead_ids,
        "exactly the dead consumer's messages, once each"
    );
    let kept: u64 = c.zcard(unack_key(&q, alive)).await.unwrap();
    assert_eq!(kept, 2, "a live consumer's messages stay with it");
    let gone: bool = c.exists(unack_key(&q, dead)).await.unwrap();
    assert!(!gone);
    let registry: Vec<String> = c.smembers(unack_registry(&q)).await.unwrap();
    assert!(!registry.contains(&unack_key(&q, dead)));
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
}

/// The example worker binary, built by `cargo test` next to this test's executable.
fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    if !path.is_file() {
        // `cargo test --workspace` builds examples; a run of this test file alone may not have.
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "taskdeck-worker", "--example", name])
            .status()
            .unwrap();
        assert!(
            built.success() && path.is_file(),
            "cannot build {}",
            path.display()
        );
    }
    path
}

#[tokio::test]
async fn messages_held_by_a_sigkilled_worker_run_exactly_once_more() {
    let q = queue("rs_sigkill");
    let mut c = conn().await;
    let broker = RedisBroker::new(&url(7)).unwrap();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let kwargs = serde_json::json!({"secs": 600})
            .as_object()
            .unwrap()
            .clone();
        ids.push(
            taskdeck_worker::publish(&broker, &q, kwargs, &Default::default())
                .await
                .unwrap(),
        );
    }
    let mut child = std::process::Command::new(example("redis_worker"))
        .args([url(7), q.clone(), url(14)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // It pulls all eight (prefetch 8) and runs four.
    let registry = unack_registry(&q);
    until("the worker to hold all 8 messages", 20, async || {
        let keys: Vec<String> = c.smembers(&registry).await.unwrap();
        let mut held = 0;
        for k in keys {
            held += c.zcard::<_, u64>(k).await.unwrap();
        }
        held == 8
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let left: u64 = c.llen(&q).await.unwrap();
    assert_eq!(left, 0, "the killed worker held everything");

    // A new consumer requeues them once the dead one's heartbeat is 25 s old, then runs each.
    let sink = Arc::new(Collect::default());
    let (emitter, flushed) = Emitter::start(sink.clone());
    let w = Worker::builder(&q)
        .concurrency(8)
        .orphan_check_every(Duration::from_millis(500))
        .handler(|_ctx, _p: Value| async move { Ok("ran") })
        .build(Arc::new(RedisBroker::new(&url(7)).unwrap()), emitter)
        .unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(w.run(stop.clone()));
    until("the 8 orphans to run", 60, async || {
        sink.finals().len() >= 8
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    let mut ran: Vec<String> = sink.finals().into_iter().map(|e| e.task_id).collect();
    ran.sort();
    ids.sort();
    assert_eq!(ran, ids, "each held message ran exactly once more");
    let keys: Vec<String> = c.smembers(&registry).await.unwrap();
    assert_eq!(
        keys.len(),
        0,
        "the dead consumer's in-flight set is gone: {keys:?}"
    );
}
