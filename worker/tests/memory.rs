//! The consumer's behaviour on the in-memory broker (same semantics as Redis).

mod common;

use common::{until, Collect};
use protocol::event::TaskState;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use taskdeck_worker::broker::Broker;
use taskdeck_worker::heartbeat::Heartbeat;
use taskdeck_worker::{
    Controller, Emitter, MemoryBroker, PublishOptions, Queue, TaskError, Worker,
};
use tokio_util::sync::CancellationToken;

/// Every consumer's last heartbeat.
fn beats(broker: &MemoryBroker) -> Vec<Heartbeat> {
    let state = broker.state();
    state
        .heartbeats
        .values()
        .flat_map(|m| m.values())
        .cloned()
        .collect()
}

fn kwargs(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// Publishes `v` to the queue `q` with no per-message options; returns the task id.
async fn publish(broker: &MemoryBroker, v: Value) -> String {
    taskdeck_worker::publish(broker, "q", kwargs(v), &PublishOptions::default())
        .await
        .unwrap()
}

struct Running {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
    flushed: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap();
        self.flushed.await.unwrap();
    }
}

fn start(
    broker: &MemoryBroker,
    sink: &Arc<Collect>,
    build: impl FnOnce(taskdeck_worker::WorkerBuilder, Emitter, Arc<dyn Broker>) -> Worker,
) -> Running {
    let (emitter, flushed) = Emitter::start(sink.clone());
    let worker = build(
        Worker::builder("q")
            .control_every(Duration::from_millis(50))
            .retry_backoff(Duration::from_millis(5)),
        emitter,
        Arc::new(broker.clone()),
    );
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker.run(stop.clone()));
    Running {
        stop,
        handle,
        flushed,
    }
}

#[derive(serde::Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

#[tokio::test]
async fn runs_every_message_once_and_records_start_and_finish() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(publish(&broker, json!({"a": i, "b": 1})).await);
    }
    let w = start(&broker, &sink, |b, e, br| {
        b.concurrency(4)
            .handler(|_ctx, p: Add| async move { Ok(p.a + p.b) })
            .build(br, e)
            .unwrap()
    });
    until("50 finished records", 5, async || sink.finals().len() == 50).await;
    w.stop().await;
    for (i, id) in ids.iter().enumerate() {
        let events = sink.of(id);
        assert_eq!(events.len(), 2, "running + finish for {id}");
        assert_eq!(events[0].effective_state(), TaskState::Running);
        let fin = &events[1];
        assert_eq!(fin.effective_state(), TaskState::Success);
        assert_eq!(fin.success, Some(true));
        assert_eq!(
            fin.result.as_ref().unwrap().get(),
            (i as i64 + 1).to_string()
        );
        assert_eq!(
            fin.params.as_ref().unwrap().get(),
            format!(r#"{{"a":{i},"b":1}}"#)
        );
        assert!(fin.other.contains_key("msg_dict"));
    }
    assert_eq!(broker.in_flight("q"), 0, "every message acknowledged");
    assert_eq!(broker.waiting(&Queue::plain("q")).await.unwrap(), 0);
}

#[tokio::test]
async fn retries_with_backoff_then_succeeds_or_fails_for_good() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let calls = Arc::new(AtomicU32::new(0));
    let flaky = publish(&broker, json!({"fail_times": 2})).await;
    let hopeless = publish(&broker, json!({"fail_times": 99})).await;
    let bad_args = publish(&broker, json!({"nope": 1})).await;
    #[derive(serde::Deserialize)]
    struct P {
        fail_times: u32,
    }
    let c = calls.clone();
    let w = start(&broker, &sink, move |b, e, br| {
        b.max_retries(3)
            .handler(move |ctx, p: P| {
                c.fetch_add(1, Ordering::SeqCst);
                async move {
                    if ctx.attempt <= p.fail_times {
                        Err(TaskError::new(
                            "ConnectionError",
                            format!("attempt {}", ctx.attempt),
                        ))
                    } else {
                        Ok("done")
                    }
                }
            })
            .build(br, e)
            .unwrap()
    });
    until("3 finished records", 5, async || sink.finals().len() == 3).await;
    w.stop().await;
    let f = sink.of(&flaky);
    assert_eq!(f.len(), 4, "three attempts recorded as running, one finish");
    assert_eq!(f[3].run_times, Some(3));
    assert_eq!(f[3].effective_state(), TaskState::Success);
    // Attempts travel once the task is retried: each event carries every one so far.
    assert!(f[0].attempts.is_none(), "a first run carries none");
    let open = f[1].attempts.as_deref().unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].state, Some(TaskState::Failed));
    assert_eq!(open[0].exception_msg.as_deref(), Some("attempt 1"));
    assert!(open[1].end.is_none(), "the running attempt has no end");
    let all = f[3].attempts.as_deref().unwrap();
    let states: Vec<_> = all.iter().map(|a| (a.n, a.state)).collect();
    assert_eq!(
        states,
        [
            (1, Some(TaskState::Failed)),
            (2, Some(TaskState::Failed)),
            (3, Some(TaskState::Success))
        ]
    );
    assert!(
        all[1].start >= all[0].end.unwrap(),
        "the backoff lies between"
    );
    assert!(all[2].exception_type.is_none());
    let h = sink.of(&hopeless);
    let last = h.last().unwrap();
    assert_eq!(last.effective_state(), TaskState::Failed);
    assert_eq!(last.run_times, Some(4), "1 run + 3 retries");
    let tries = last.attempts.as_deref().unwrap();
    assert_eq!(tries.len(), 4);
    assert!(tries
        .iter()
        .all(|a| a.state == Some(TaskState::Failed) && a.end.is_some()));
    assert_eq!(last.exception_type.as_deref(), Some("ConnectionError"));
    assert_eq!(
        last.exception.as_deref(),
        Some("ConnectionError    attempt 4")
    );
    let b = sink.of(&bad_args);
    assert_eq!(
        b.last().unwrap().exception_type.as_deref(),
        Some("TypeError")
    );
    assert_eq!(
        b.last().unwrap().run_times,
        Some(1),
        "argument errors are not retried"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3 + 4);
}

#[tokio::test]
async fn kill_stops_a_running_task_and_revoke_skips_a_waiting_one() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let started = Arc::new(AtomicU32::new(0));
    let long = publish(&broker, json!({"secs": 3600})).await;
    let next = publish(&broker, json!({"secs": 0})).await;
    #[derive(serde::Deserialize)]
    struct P {
        secs: u64,
    }
    let s = started.clone();
    let w = start(&broker, &sink, move |b, e, br| {
        b.concurrency(1)
            .prefetch(2)
            .handler(move |_ctx, p: P| {
                s.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(Duration::from_secs(p.secs)).await;
                    Ok(())
                }
            })
            .build(br, e)
            .unwrap()
    });
    until("the long task to start", 5, async || {
        started.load(Ordering::SeqCst) == 1
    })
    .await;
    broker.request_kill("q", &next).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = std::time::Instant::now();
    broker.request_kill("q", &long).await.unwrap();
    until("both finished", 5, async || sink.finals().len() == 2).await;
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "kill applied within a second"
    );
    w.stop().await;
    assert_eq!(
        sink.of(&long).last().unwrap().effective_state(),
        TaskState::Killed
    );
    let n = sink.of(&next);
    assert_eq!(n.len(), 1, "a revoked task never reports running");
    assert_eq!(n[0].effective_state(), TaskState::Revoked);
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the revoked task never ran"
    );
    assert_eq!(broker.in_flight("q"), 0);
}

#[tokio::test]
async fn pause_stops_new_starts_and_resume_continues() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    broker.set_paused("q", true).await.unwrap();
    let w = start(&broker, &sink, |b, e, br| {
        b.handler(|_ctx, _p: Value| async move { Ok(()) })
            .build(br, e)
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        publish(&broker, json!({})).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.finals().is_empty(), "nothing runs while paused");
    broker.set_paused("q", false).await.unwrap();
    let t = std::time::Instant::now();
    until("5 finished after resume", 5, async || {
        sink.finals().len() == 5
    })
    .await;
    assert!(t.elapsed() < Duration::from_secs(1));
    w.stop().await;
}

#[tokio::test]
async fn expired_messages_are_recorded_not_run() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let old = r#"{"x":1,"extra":{"task_id":"old-1","publish_time":1000.0}}"#;
    broker.publish(&Queue::plain("q"), old).await.unwrap();
    let w = start(&broker, &sink, |b, e, br| {
        b.expire_after(Duration::from_secs(60))
            .handler(|_ctx, _p: Value| async move { Err::<(), _>(TaskError::new("Never", "ran")) })
            .build(br, e)
            .unwrap()
    });
    until("the expired record", 5, async || sink.finals().len() == 1).await;
    w.stop().await;
    assert_eq!(sink.of("old-1")[0].effective_state(), TaskState::Expired);
}

#[tokio::test]
async fn a_stop_requeues_waiting_and_overdue_messages() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    for _ in 0..6 {
        publish(&broker, json!({"secs": 3600})).await;
    }
    #[derive(serde::Deserialize)]
    struct P {
        secs: u64,
    }
    let w = start(&broker, &sink, |b, e, br| {
        b.concurrency(2)
            .prefetch(6)
            .stop_grace(Duration::from_millis(300))
            .handler(|_ctx, p: P| async move {
                tokio::time::sleep(Duration::from_secs(p.secs)).await;
                Ok(())
            })
            .build(br, e)
            .unwrap()
    });
    until("two running", 5, async || sink.0.lock().unwrap().len() == 2).await;
    w.stop().await;
    assert_eq!(
        broker.waiting(&Queue::plain("q")).await.unwrap(),
        6,
        "all six back in the queue"
    );
    assert_eq!(broker.in_flight("q"), 0);
    assert!(
        sink.finals().is_empty(),
        "abandoned tasks are not recorded as finished"
    );
    // The two that had started are recorded as waiting again, with the attempt they reached.
    let requeued = sink.matching(|e| e.state == Some(TaskState::Pending));
    assert_eq!(requeued.len(), 2, "{requeued:?}");
    for e in &requeued {
        assert_eq!(e.run_times, Some(1));
        assert_eq!(sink.of(&e.task_id).len(), 2, "running, then pending");
    }
}

#[tokio::test]
async fn messages_held_by_a_dead_consumer_are_requeued() {
    let broker = MemoryBroker::new();
    // A consumer that pulled and died without a heartbeat.
    broker
        .publish(&Queue::plain("q"), r#"{"x":1}"#)
        .await
        .unwrap();
    broker
        .publish(&Queue::plain("q"), r#"{"x":2}"#)
        .await
        .unwrap();
    let held = broker
        .pull(&Queue::plain("q"), "dead-consumer", 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(broker.waiting(&Queue::plain("q")).await.unwrap(), 0);
    assert_eq!(broker.requeue_orphans(&Queue::plain("q")).await.unwrap(), 2);
    assert_eq!(broker.waiting(&Queue::plain("q")).await.unwrap(), 2);
    assert_eq!(broker.in_flight("q"), 0);
}

#[tokio::test]
async fn unreadable_messages_are_recorded_as_failed_and_acknowledged() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    broker
        .publish(&Queue::plain("q"), "not json")
        .await
        .unwrap();
    let w = start(&broker, &sink, |b, e, br| {
        b.handler(|_ctx, _p: Value| async move { Ok(()) })
            .build(br, e)
            .unwrap()
    });
    until("the failure record", 5, async || sink.finals().len() == 1).await;
    w.stop().await;
    let f = &sink.finals()[0];
    assert_eq!(f.exception_type.as_deref(), Some("MessageFormatError"));
    assert_eq!(broker.in_flight("q"), 0);
    let _ = PublishOptions::default();
}

#[tokio::test]
async fn higher_priorities_run_first_on_funboosts_priority_lists() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let mut by_priority = Vec::new();
    for p in [0u8, 3, 1, 2, 9] {
        let options = PublishOptions {
            priority: Some(p),
            max_priority: Some(4),
            ..Default::default()
        };
        let id = taskdeck_worker::publish(&broker, "q", kwargs(json!({"p": p})), &options)
            .await
            .unwrap();
        by_priority.push((p.min(4), id));
    }
    let q = Queue::with_priorities("q", 4);
    assert_eq!(q.lists(), ["q:4", "q:3", "q:2", "q:1", "q"]);
    assert_eq!(broker.waiting(&q).await.unwrap(), 5);
    let w = start(&broker, &sink, |b, e, br| {
        b.max_priority(4)
            .concurrency(1)
            .prefetch(1)
            .handler(|_ctx, _p: Value| async move { Ok(()) })
            .build(br, e)
            .unwrap()
    });
    until("5 finished", 5, async || sink.finals().len() == 5).await;
    w.stop().await;
    by_priority.sort_by_key(|b| std::cmp::Reverse(b.0));
    let expected: Vec<String> = by_priority.into_iter().map(|(_, id)| id).collect();
    let ran: Vec<String> = sink.finals().into_iter().map(|e| e.task_id).collect();
    assert_eq!(ran, expected, "highest priority first (9 capped at 4)");
}

#[tokio::test]
async fn highest_score_runs_first_on_a_priority_zset_and_a_requeue_keeps_it() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let mut by_score = Vec::new();
    for p in [0.0, 2.5, 10.0, 5.0, 2.5] {
        let options = PublishOptions {
            zset_priority: Some(p),
            ..Default::default()
        };
        let id = taskdeck_worker::publish(&broker, "q", kwargs(json!({"p": p})), &options)
            .await
            .unwrap();
        by_score.push((p, id));
    }
    let q = Queue::zset("q");
    assert_eq!(broker.waiting(&q).await.unwrap(), 5);
    // A message taken and given back goes back by its score, not to the tail.
    let top = broker.pull(&q, "probe", 1).await.unwrap();
    assert!(top[0].contains("10.0"), "{top:?}");
    broker.requeue(&q, "probe", &top[0]).await.unwrap();
    let w = start(&broker, &sink, |b, e, br| {
        b.zset_priority()
            .concurrency(1)
            .prefetch(1)
            .handler(|_ctx, _p: Value| async move { Ok(()) })
            .build(br, e)
            .unwrap()
    });
    until("5 finished", 5, async || sink.finals().len() == 5).await;
    w.stop().await;
    // Stable: equal scores keep their publish order.
    by_score.sort_by(|a, b| b.0.total_cmp(&a.0));
    let expected: Vec<String> = by_score.into_iter().map(|(_, id)| id).collect();
    let ran: Vec<String> = sink.finals().into_iter().map(|e| e.task_id).collect();
    assert_eq!(ran, expected, "10, 5, 2.5, 2.5, 0");
}

#[tokio::test]
async fn desired_state_changes_pause_concurrency_and_qps_and_is_reported() {
    let broker = MemoryBroker::new();
    let sink = Arc::new(Collect::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let w = start(&broker, &sink, |b, e, br| {
        b.concurrency(1)
            .prefetch(10)
            .heartbeat_every(Duration::from_secs(3600))
            .handler(move |_ctx, _p: Value| {
                let g = g.clone();
                async move {
                    g.acquire().await.unwrap().forget();
                    Ok(())
                }
            })
            .build(br, e)
            .unwrap()
    });
    for _ in 0..10 {
        publish(&broker, json!({})).await;
    }
    let running = || sink.matching(|e| e.state == Some(TaskState::Running)).len();
    until("one running", 5, async || running() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(running(), 1, "concurrency 1");

    // Three at once, applied and reported (a heartbeat is sent at once, not in an hour).
    let v = broker
        .set_desired(
            "q",
            &protocol::control::Desired {
                concurrency: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v, 1);
    until("three running", 2, async || running() == 3).await;
    until("version 1 in the heartbeat", 2, async || {
        beats(&broker).iter().any(|h| {
            h.control_version == 1
                && h.concurrency == 3
                && h.capabilities.contains(&"concurrency".into())
        })
    })
    .await;

    // Paused: the running ones finish, nothing new starts.
    broker
        .set_desired(
            "q",
            &protocol::control::Desired {
                paused: true,
                concurrency: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    until("paused in the heartbeat", 2, async || {
        beats(&broker)
            .iter()
            .any(|h| h.control_version == 2 && h.paused)
    })
    .await;
    gate.add_permits(3);
    until("three finished", 2, async || sink.finals().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(running(), 3, "nothing started while paused");

    // Resumed at 5 tasks/s: the remaining seven take over a second.
    broker
        .set_desired(
            "q",
            &protocol::control::Desired {
                qps: Some(5.0),
                concurrency: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    gate.add_permits(100);
    let t = std::time::Instant::now();
    until("all ten finished", 5, async || sink.finals().len() == 10).await;
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "7 tasks at 5/s took {:?}",
        t.elapsed()
    );
    w.stop().await;
}
