//! Shared by the worker's integration tests: a sink that keeps what workers send, and the
//! test Redis.
#![allow(dead_code)]

use async_trait::async_trait;
use protocol::event::{TaskEvent, TaskState};
use std::sync::Mutex;
use std::time::Duration;
use taskdeck_worker::EventSink;

/// Keeps every record a worker sends, parsed as taskdeck parses them.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<TaskEvent>>);

#[async_trait]
impl EventSink for Collect {
    async fn send(&self, events: &[String]) -> Result<(), String> {
        let mut all = self.0.lock().unwrap();
        for e in events {
            all.push(TaskEvent::from_json_str(e).map_err(|e| e.to_string())?);
        }
        Ok(())
    }
}

impl Collect {
    pub fn matching(&self, keep: impl Fn(&TaskEvent) -> bool) -> Vec<TaskEvent> {
        let all = self.0.lock().unwrap();
        all.iter().filter(|e| keep(e)).cloned().collect()
    }

    /// Final records, in arrival order.
    pub fn finals(&self) -> Vec<TaskEvent> {
        self.matching(|e| e.run_status.as_deref() == Some("finish"))
    }

    pub fn successes(&self) -> Vec<TaskEvent> {
        self.matching(|e| e.effective_state() == TaskState::Success)
    }

    /// Every record of one task, in arrival order.
    pub fn of(&self, task_id: &str) -> Vec<TaskEvent> {
        self.matching(|e| e.task_id == task_id)
    }
}

/// The test Redis (TEST_REDIS_URL, set by `make test`) with database `db`.
pub fn redis_url(db: u8) -> String {
    let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!("TEST_REDIS_URL is not set: run the tests with `make test`, which starts Redis")
    });
    let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
    format!("{server}/{db}")
}

/// Host and port of the test Redis.
pub fn redis_host_port() -> (String, u16) {
    let url = redis_url(0);
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap();
    let (h, p) = hostport.rsplit_once(':').unwrap();
    (h.to_owned(), p.parse().unwrap())
}

/// A queue name no other test (or earlier run) uses.
pub fn queue(name: &str) -> String {
    format!("{name}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Polls `f` until it holds; panics naming `what` after `secs` seconds.
pub async fn until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A funboost message with this task id and (when given) priority, as its publishers write it
/// for `layout`.
pub fn message_with_priority(
    id: &str,
    layout: taskdeck_worker::Layout,
    priority: Option<f64>,
) -> String {
    let raw = serde_json::json!({"id": id, "extra": {"task_id": id}}).to_string();
    match priority {
        Some(p) => taskdeck_worker::broker::with_priority(&raw, layout, p).unwrap(),
        None => raw,
    }
}

/// What the broker holds waiting in `queue`, as task ids in the order they would be taken.
pub async fn waiting_ids(
    broker: &dyn taskdeck_worker::Broker,
    queue: &taskdeck_worker::Queue,
) -> Vec<String> {
    broker
        .peek_waiting(queue, 0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, raw)| {
            serde_json::from_str::<serde_json::Value>(&raw).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Browsing, moving and deleting waiting messages, the same on every broker: priority levels
/// are read highest first, pages cross from one level's key to the next, a deleted message is
/// gone for good and a second delete finds nothing.
pub async fn browse_move_and_delete_waiting(broker: &dyn taskdeck_worker::Broker, name: &str) {
    use taskdeck_worker::{Layout, Placement, Queue};
    let levels = Queue::with_priorities(&format!("{name}_levels"), 4);
    let layout = levels.layout;
    for (id, p) in [("a", None), ("b", None), ("c", Some(2.0)), ("d", Some(9.0))] {
        broker
            .publish(&levels, &message_with_priority(id, layout, p))
            .await
            .unwrap();
    }
    assert_eq!(waiting_ids(broker, &levels).await, ["d", "c", "a", "b"]);
    let page = broker.peek_waiting(&levels, 1, 2).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [format!("{}:2", levels.name), levels.name.clone()],
        "{page:?}"
    );
    assert!(page[1].1.contains(r#""id":"a""#), "{page:?}");
    assert_eq!(broker.peek_waiting(&levels, 3, 5).await.unwrap().len(), 1);
    assert!(broker.peek_waiting(&levels, 4, 5).await.unwrap().is_empty());

    assert!(broker
        .move_waiting(&levels, "a", Placement::Out)
        .await
        .unwrap()
        .is_some());
    assert!(
        broker
            .move_waiting(&levels, "a", Placement::Out)
            .await
            .unwrap()
            .is_none(),
        "already gone"
    );
    assert!(broker
        .move_waiting(&levels, "b", Placement::Front)
        .await
        .unwrap()
        .is_some());
    assert_eq!(waiting_ids(broker, &levels).await, ["b", "d", "c"]);
    assert_eq!(broker.waiting(&levels).await.unwrap(), 3);

    let zset = Queue::zset(&format!("{name}_zset"));
    for (id, p) in [("z1", 1.0), ("z5", 5.0), ("z3", 3.0)] {
        broker
            .publish(&zset, &message_with_priority(id, Layout::Zset, Some(p)))
            .await
            .unwrap();
    }
    assert_eq!(waiting_ids(broker, &zset).await, ["z5", "z3", "z1"]);
    assert!(broker
        .move_waiting(&zset, "z1", Placement::Front)
        .await
        .unwrap()
        .is_some());
    assert!(broker
        .move_waiting(&zset, "z3", Placement::Out)
        .await
        .unwrap()
        .is_some());
    assert_eq!(waiting_ids(broker, &zset).await, ["z1", "z5"]);
    assert!(broker
        .move_waiting(&zset, "z5", Placement::Priority(0.5))
        .await
        .unwrap()
        .is_some());
    assert_eq!(waiting_ids(broker, &zset).await, ["z1", "z5"]);
    let top = broker.peek_waiting(&zset, 0, 1).await.unwrap();
    assert!(
        top[0].1.contains(r#""priority":6"#),
        "above the old top score: {top:?}"
    );
}
