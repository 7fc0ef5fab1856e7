//! Two-way interoperability with real funboost 55 workers and producers (from PyPI, installed
//! by `scripts/ensure-tools.sh --test` into target/funboost-venv) on a real Redis.

mod common;

use common::{queue, redis_host_port, redis_url, Collect};
use protocol::event::{TaskEvent, TaskState};
use redis::AsyncCommands;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskdeck_worker::broker::redis::heartbeat_dict;
use taskdeck_worker::heartbeat::Heartbeat;
use taskdeck_worker::{Emitter, PublishOptions, RedisBroker, Worker};
use tokio_util::sync::CancellationToken;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs scripts/funboost_peer.py with funboost 55 from the test venv.
fn peer(args: &[&str], pull_batch: Option<u32>) -> Child {
    let python = root().join("target/funboost-venv/bin/python");
    assert!(
        python.is_file(),
        "{} missing: run `scripts/ensure-tools.sh --test` (make test does)",
        python.display()
    );
    let (host, port) = redis_host_port();
    let mut cmd = Command::new(python);
    cmd.arg(root().join("scripts/funboost_peer.py"))
        .args(args)
        .env("FUNBOOST_REDIS_HOST", host)
        .env("FUNBOOST_REDIS_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(n) = pull_batch {
        cmd.env("FUNBOOST_PULL_BATCH", n.to_string());
    }
    cmd.spawn().expect("start the funboost peer")
}

fn wait(child: &mut Child, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "funboost peer failed: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("funboost peer did not finish in {limit:?}");
}

#[derive(serde::Deserialize)]
struct Add {
    x: i64,
    y: i64,
}

fn rust_worker(
    q: &str,
    sink: Arc<Collect>,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<()>,
    tokio::task::JoinHandle<()>,
) {
    let (emitter, flushed) = Emitter::start(sink);
    let w = Worker::builder(q)
        .function("add")
        .concurrency(4)
        .handler(|_ctx, a: Add| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(a.x + a.y)
        })
        .build(Arc::new(RedisBroker::new(&redis_url(7)).unwrap()), emitter)
        .unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(w.run(stop.clone()));
    (stop, run, flushed)
}

/// The records the funboost peer has finished writing: a line still being appended while we
/// read has no newline yet and is left for the next read.
fn read_records(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_funboost_producer_feeds_a_rust_worker() {
    let q = queue("fb_to_rs");
    let mut producer = peer(&["produce", &q, "20"], None);
    tokio::task::spawn_blocking(move || wait(&mut producer, Duration::from_secs(60)))
        .await
        .unwrap();
    let sink = Arc::new(Collect::default());
    let (stop, run, flushed) = rust_worker(&q, sink.clone());
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink.successes().len() < 20 {
        assert!(
            Instant::now() < deadline,
            "{} of 20 done",
            sink.successes().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    let mut xs: Vec<i64> = sink
        .successes()
        .iter()
        .map(|e| {
            let params: Value = serde_json::from_str(e.params.as_ref().unwrap().get()).unwrap();
            let x = params["x"].as_i64().unwrap();
            assert_eq!(e.result.as_ref().unwrap().get(), (x + 1).to_string());
            // funboost's publisher made the id (a UUIDv7) and the publish time.
            assert_eq!(e.task_id.len(), 36);
            assert!(e.publish_time.unwrap() > 1.6e9);
            x
        })
        .collect();
    xs.sort();
    assert_eq!(xs, (0..20).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_rust_producer_feeds_a_funboost_worker_whose_heartbeat_taskdeck_reads() {
    let q = queue("rs_to_fb");
    let broker = RedisBroker::new(&redis_url(7)).unwrap();
    let mut ids = HashSet::new();
    for i in 0..20 {
        let kwargs = json!({"x": i, "y": 2}).as_object().unwrap().clone();
        ids.insert(
            taskdeck_worker::publish(&broker, &q, kwargs, &PublishOptions::default())
                .await
                .unwrap(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.jsonl");
    let mut consumer = peer(&["consume", &q, out.to_str().unwrap(), "8"], None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_records(&out).len() < 20 {
        assert!(
            Instant::now() < deadline,
            "funboost recorded {} of 20",
            read_records(&out).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // funboost's heartbeat, read with taskdeck's heartbeat type.
    let mut c = redis::Client::open(redis_url(7))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let beats: Vec<String> = c.smembers(heartbeat_dict(&q)).await.unwrap();
    let hb = Heartbeat::from_json(&beats[0]).unwrap();
    assert_eq!(hb.queue_name, q);
    assert_eq!(hb.consuming_function, "add");
    assert!(hb.hearbeat_timestamp > 1.6e9);
    tokio::task::spawn_blocking(move || wait(&mut consumer, Duration::from_secs(30)))
        .await
        .unwrap();
    let records = read_records(&out);
    assert_eq!(records.len(), 20);
    let mut seen = HashSet::new();
    for r in &records {
        assert_eq!(r["success"], true, "{r}");
        assert_eq!(r["result"], r["params"]["x"].as_i64().unwrap() + 2);
        seen.insert(r["task_id"].as_str().unwrap().to_owned());
        // The record is a valid taskdeck event as it is.
        let e = TaskEvent::from_json(r.clone()).unwrap();
        assert_eq!(e.effective_state(), TaskState::Success);
    }
    assert_eq!(
        seen, ids,
        "funboost ran exactly the tasks taskdeck published, keeping their ids"
    );
}

#[tokio::test]
async fn funboost_and_rust_workers_share_one_queue_and_run_each_message_once() {
    let q = queue("mixed");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.jsonl");
    let mut consumer = peer(&["consume", &q, out.to_str().unwrap(), "12"], Some(1));
    let sink = Arc::new(Collect::default());
    let (stop, run, flushed) = rust_worker(&q, sink.clone());
    // Publish once both consumers heartbeat.
    let mut c = redis::Client::open(redis_url(7))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: u64 = c
            .scard(format!("funboost_hearbeat_queue__str:{q}"))
            .await
            .unwrap();
        if n == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both consumers never heartbeat ({n})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let broker = RedisBroker::new(&redis_url(7)).unwrap();
    let mut ids = HashSet::new();
    for i in 0..200 {
        let kwargs = json!({"x": i, "y": 0}).as_object().unwrap().clone();
        ids.insert(
            taskdeck_worker::publish(&broker, &q, kwargs, &PublishOptions::default())
                .await
                .unwrap(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.successes().len() + read_records(&out).len() < 200 {
        assert!(
            Instant::now() < deadline,
            "only {} + {} of 200 done",
            sink.successes().len(),
            read_records(&out).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    tokio::task::spawn_blocking(move || wait(&mut consumer, Duration::from_secs(30)))
        .await
        .unwrap();
    let by_rust: Vec<String> = sink.successes().into_iter().map(|e| e.task_id).collect();
    let by_funboost: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["task_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !by_rust.is_empty() && !by_funboost.is_empty(),
        "rust {} funboost {}",
        by_rust.len(),
        by_funboost.len()
    );
    let mut all: Vec<String> = by_rust.iter().chain(&by_funboost).cloned().collect();
    all.sort();
    let total = all.len();
    all.dedup();
    assert_eq!(total, all.len(), "a message ran twice");
    assert_eq!(all.into_iter().collect::<HashSet<_>>(), ids);
}

/// Runs `n` messages with one task at a time, one message pulled at a time, and returns their
/// `x` in the order they ran.
async fn run_one_at_a_time(
    builder: taskdeck_worker::WorkerBuilder,
    broker: RedisBroker,
    n: usize,
) -> Vec<i64> {
    let sink = Arc::new(Collect::default());
    let (emitter, flushed) = Emitter::start(sink.clone());
    let w = builder
        .concurrency(1)
        .prefetch(1)
        .handler(|_ctx, a: Add| async move { Ok(a.x + a.y) })
        .build(Arc::new(broker), emitter)
        .unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(w.run(stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink.successes().len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n}",
            sink.successes().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    run.await.unwrap();
    flushed.await.unwrap();
    sink.successes()
        .iter()
        .map(|e| {
            let params: Value = serde_json::from_str(e.params.as_ref().unwrap().get()).unwrap();
            params["x"].as_i64().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_rust_worker_takes_funboosts_priority_lists_highest_first() {
    let q = queue("fb_priority");
    let mut producer = peer(&["produce-priority", &q, "10"], None);
    tokio::task::spawn_blocking(move || wait(&mut producer, Duration::from_secs(60)))
        .await
        .unwrap();
    let broker = RedisBroker::new(&redis_url(7)).unwrap();
    let lists = taskdeck_worker::Queue::with_priorities(&q, 4);
    use taskdeck_worker::Broker;
    assert_eq!(
        broker.waiting(&lists).await.unwrap(),
        10,
        "funboost wrote q, q:1 … q:4"
    );
    let ran = run_one_at_a_time(Worker::builder(&q).max_priority(4), broker, 10).await;
    let priorities: Vec<i64> = ran.iter().map(|x| x % 5).collect();
    assert_eq!(priorities, [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]);
}

#[tokio::test]
async fn a_rust_worker_takes_funboosts_priority_zset_highest_first() {
    let q = queue("fb_zset");
    let mut producer = peer(&["produce-zset", &q, "8"], None);
    tokio::task::spawn_blocking(move || wait(&mut producer, Duration::from_secs(60)))
        .await
        .unwrap();
    let broker = RedisBroker::new(&redis_url(7)).unwrap();
    use taskdeck_worker::Broker;
    let zset = taskdeck_worker::Queue::zset(&q);
    assert_eq!(
        broker.waiting(&zset).await.unwrap(),
        8,
        "funboost wrote one zset"
    );
    // Taken and given back: it returns by its score (the order below would break otherwise).
    let top = broker.pull(&zset, "probe", 1).await.unwrap();
    assert_eq!(broker.waiting(&zset).await.unwrap(), 7);
    broker.requeue(&zset, "probe", &top[0]).await.unwrap();
    assert_eq!(broker.waiting(&zset).await.unwrap(), 8);
    let ran = run_one_at_a_time(Worker::builder(&q).zset_priority(), broker, 8).await;
    let priorities: Vec<i64> = ran.iter().map(|x| x % 4).collect();
    assert_eq!(
        priorities,
        [3, 3, 2, 2, 1, 1, 0, 0],
        "scores 7.5, 5, 2.5, 0"
    );
}

#[tokio::test]
async fn a_funboost_worker_takes_a_taskdeck_priority_zset_highest_first() {
    let q = queue("td_zset");
    let broker = RedisBroker::new(&redis_url(7)).unwrap();
    let scores = [1.0, 9.5, 0.0, 4.0, 9.5, 2.0];
    for (i, p) in scores.iter().enumerate() {
        let kwargs = json!({"x": i, "y": 0}).as_object().unwrap().clone();
        let options = PublishOptions {
            zset_priority: Some(*p),
            ..Default::default()
        };
        taskdeck_worker::publish(&broker, &q, kwargs, &options)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.jsonl");
    let mut consumer = peer(&["consume-zset", &q, out.to_str().unwrap(), "6"], None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_records(&out).len() < scores.len() {
        assert!(
            Instant::now() < deadline,
            "funboost recorded {} of {}",
            read_records(&out).len(),
            scores.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(move || wait(&mut consumer, Duration::from_secs(30)))
        .await
        .unwrap();
    let ran: Vec<f64> = read_records(&out)
        .iter()
        .map(|r| scores[r["params"]["x"].as_u64().unwrap() as usize])
        .collect();
    assert_eq!(ran, [9.5, 9.5, 4.0, 2.0, 1.0, 0.0]);
}
