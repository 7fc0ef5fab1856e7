//! Task records on their way to taskdeck. The task path hands each record to a bounded
//! channel and moves on; a background task sends them in batches. Nothing is dropped: a sink
//! that fails is retried with backoff, and when the last [`Emitter`] is dropped the background
//! task sends what is left before the handle [`Emitter::start`] returned finishes.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// taskdeck's ingest stream and the field holding each event's JSON.
pub const STREAM: &str = "taskdeck:events";
/// The stream field that holds the event's JSON.
pub const FIELD: &str = "event";

const BATCH: usize = 500;
const LINGER: Duration = Duration::from_millis(50);
const CAPACITY: usize = 20_000;

/// Where records go: taskdeck's Redis stream, or taskdeck's ingest in the same process.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Delivers event JSON texts; an error means none of them may be assumed delivered.
    async fn send(&self, events: &[String]) -> Result<(), String>;
}

/// `XADD taskdeck:events * event <json>` per record, one pipeline per batch.
pub struct RedisStreamSink {
    conn: ConnectionManager,
}

impl RedisStreamSink {
    /// Connects lazily to the Redis taskdeck ingests from.
    pub fn new(url: &str) -> Result<RedisStreamSink, redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(10)));
        Ok(RedisStreamSink {
            conn: ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)?,
        })
    }
}

#[async_trait]
impl EventSink for RedisStreamSink {
    async fn send(&self, events: &[String]) -> Result<(), String> {
        let mut pipe = redis::pipe();
        for e in events {
            pipe.cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg(FIELD)
                .arg(e)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| e.to_string())
    }
}

/// The task path's handle: `emit` queues a record, batching happens elsewhere.
#[derive(Clone)]
pub struct Emitter {
    tx: mpsc::Sender<String>,
}

impl Emitter {
    /// Starts the background sender; the handle finishes once every [`Emitter`] is dropped and all
    /// records are sent.
    pub fn start(sink: std::sync::Arc<dyn EventSink>) -> (Emitter, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (Emitter { tx }, tokio::spawn(forward(rx, sink)))
    }

    /// Queues one event; waits only when the sink has fallen far behind.
    pub async fn emit(&self, event: &protocol::event::TaskEvent) {
        match serde_json::to_string(event) {
            Ok(json) => {
                if self.tx.send(json).await.is_err() {
                    tracing::error!(task_id = %event.task_id, "event emitter stopped; record not sent");
                }
            }
            Err(e) => {
                tracing::error!(task_id = %event.task_id, error = %e, "record not serialisable")
            }
        }
    }
}

async fn forward(mut rx: mpsc::Receiver<String>, sink: std::sync::Arc<dyn EventSink>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push(e),
                _ => break,
            }
        }
        let mut backoff = Duration::from_millis(100);
        while let Err(e) = sink.send(&batch).await {
            tracing::warn!(error = %e, events = batch.len(), retry_in_ms = backoff.as_millis() as u64, "sending task records failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        batch.clear();
    }
}
