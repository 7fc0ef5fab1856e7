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
