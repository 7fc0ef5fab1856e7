//! Run async Rust functions as queue consumers that funboost and taskdeck both understand.
//!
//! ```no_run
//! use std::sync::Arc;
//! use taskdeck_worker::{Emitter, RedisBroker, RedisStreamSink, TaskError, Worker};
//!
//! #[derive(serde::Deserialize)]
//! struct Resize { url: String, width: u32 }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = Arc::new(RedisBroker::new("redis://127.0.0.1:6379/7")?);
//! let (emitter, flushed) = Emitter::start(Arc::new(RedisStreamSink::new("redis://127.0.0.1:6379/0")?));
//! let worker = Worker::builder("thumbnails")
//!     .concurrency(16)
//!     .qps(50.0)
//!     .max_retries(2)
//!     .timeout(std::time::Duration::from_secs(30))
//!     .handler(|_ctx, job: Resize| async move {
//!         if job.width == 0 { return Err(TaskError::fatal("ValueError", "width is 0")); }
//!         Ok(format!("{} at {} px", job.url, job.width))
//!     })
//!     .build(broker, emitter)?;
//! let stop = tokio_util::sync::CancellationToken::new();
//! worker.run(stop).await;   // returns after `stop.cancel()`, having requeued what it held
//! flushed.await?;           // every record sent
//! # Ok(()) }
//! ```
//!
//! Messages are funboost's (kwargs + `extra`), the Redis layout is funboost's REDIS_ACK_ABLE
//! broker, heartbeats are funboost's; records go to taskdeck's ingest stream.

#![warn(missing_docs)]

pub mod broker;
pub mod consumer;
pub mod events;
pub mod heartbeat;
pub mod host;
pub mod message;
pub mod task;

pub use broker::{Broker, BrokerError, Controller, Layout, MemoryBroker, Queue, RedisBroker};
pub use consumer::{Worker, WorkerBuilder};
pub use events::{Emitter, EventSink, RedisStreamSink};
pub use message::{Message, PublishOptions};
pub use protocol;
pub use task::{TaskContext, TaskError};

/// Publishes `kwargs` as a funboost message; returns its task id. A message with a priority
/// goes to funboost's priority list `queue:<priority>` (capped at `options.max_priority`), one
/// with a `zset_priority` to the REDIS_ZSET_PRIORITY zset `queue`.
pub async fn publish(
    broker: &dyn Broker,
    queue: &str,
    kwargs: serde_json::Map<String, serde_json::Value>,
    options: &PublishOptions,
) -> Result<String, BrokerError> {
    let m = Message::build(kwargs, options);
    let target = if options.zset_priority.is_some() {
        broker::Queue::zset(queue)
    } else {
        let levels = options
            .max_priority
            .unwrap_or(options.priority.unwrap_or(0));
        broker::Queue::with_priorities(queue, levels)
    };
    broker.publish(&target, &m.raw).await?;
    Ok(m.task_id)
}
