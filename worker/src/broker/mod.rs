//! Where messages wait and where control flags live. Both brokers have funboost's
//! REDIS_ACK_ABLE semantics: a pull moves messages from the head of the queue into the
//! consumer's in-flight set, an ack removes one, and messages held by a consumer whose
//! heartbeats stopped are put back on the queue.

mod memory;
pub mod redis;

pub use self::redis::RedisBroker;
pub use memory::{MemoryBroker, MemoryState};

use crate::heartbeat::Heartbeat;
use async_trait::async_trait;
use protocol::control::Desired;
use tokio::sync::watch;

/// Why a broker call failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Redis refused or did not answer.
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// Anything else, in words.
    #[error("{0}")]
    Other(String),
}

/// What a heartbeat tells the consumer back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// Consumers of the queue alive now, this one included (for distributed QPS).
    pub live_consumers: u64,
}

/// What a consumer needs of its broker: taking messages and acknowledging them, heartbeats,
/// and reading the control channel (funboost's pause flag and kill hash, taskdeck's desired
/// state). What a control plane writes there is [`Controller`]; a dashboard's reads of every
/// queue live with the dashboard.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Announces a consumer: queue discovery keys, its parameters, its in-flight set.
    async fn register(&self, hb: &Heartbeat, params: &serde_json::Value)
        -> Result<(), BrokerError>;
    /// Moves up to `max` messages from the heads of the queue's lists (highest priority
    /// first) into `consumer`'s in-flight set.
    async fn pull(
        &self,
        queue: &Queue,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<String>, BrokerError>;
    /// Removes finished messages from the in-flight set (one `ZREM` for all of them).
    async fn ack(&self, queue: &str, consumer: &str, raws: &[String]) -> Result<(), BrokerError>;
    /// Puts an in-flight message back at the tail of its list, in one step.
    async fn requeue(&self, queue: &Queue, consumer: &str, raw: &str) -> Result<(), BrokerError>;
    /// Appends a message to the tail of its list (by its priority).
    async fn publish(&self, queue: &Queue, raw: &str) -> Result<(), BrokerError>;
    /// Records that the consumer is alive (funboost's heartbeat keys) and drops heartbeats
    /// of consumers silent for longer than funboost's 25 s.
    async fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply, BrokerError>;
    /// Removes this consumer's heartbeats and, when it holds nothing, its in-flight set
    /// (graceful stop).
    async fn unregister(&self, hb: &Heartbeat) -> Result<(), BrokerError>;
    /// funboost's pause flag for the queue.
    async fn paused(&self, queue: &str) -> Result<bool, BrokerError>;
    /// Of `task_ids`, those with a kill request; the requests found are consumed.
    async fn take_kills(
        &self,
        queue: &str,
        task_ids: &[String],
    ) -> Result<Vec<String>, BrokerError>;
    /// Puts back messages held by consumers that stopped heartbeating; returns how many.
    async fn requeue_orphans(&self, queue: &Queue) -> Result<usize, BrokerError>;
    /// Messages waiting in the queue's lists (not counting in-flight ones).
    async fn waiting(&self, queue: &Queue) -> Result<u64, BrokerError>;
    /// taskdeck's desired state of the queue (version 0 when never set).
    async fn desired(&self, queue: &str) -> Result<Desired, BrokerError>;
    /// Changes (to the new version) whenever the queue's desired state is set: the wake-up
    /// (pub/sub on Redis). Consumers poll as well, so a missed wake-up only delays.
    async fn control_wakeups(&self, queue: &str) -> Result<watch::Receiver<u64>, BrokerError>;
}

/// What a control plane writes for a queue's consumers — taskdeck's dashboard, or any program
/// that pauses a queue or stops a task, as funboost's `RemoteTaskKiller` does.
#[async_trait]
pub trait Controller: Send + Sync + 'static {
    /// Sets funboost's pause flag (`HSET funboost_pause_flag <queue> 1|0`).
    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), BrokerError>;
    /// Asks whichever consumer runs (or is about to run) `task_id` to stop it, the way
    /// funboost's `RemoteTaskKiller` does (`HSET funboost_kill_task_hash:<queue> <task_id> <now>`):
    /// a task not started yet never runs.
    async fn request_kill(&self, queue: &str, task_id: &str) -> Result<(), BrokerError>;
    /// Stores `desired` (its version is ignored) under the next version and wakes the queue's
    /// consumers; returns the new version.
    async fn set_desired(&self, queue: &str, desired: &Desired) -> Result<u64, BrokerError>;
}

/// How a queue's waiting messages are kept (funboost's broker kinds, protocol notes §2.9–2.10).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    /// REDIS_ACK_ABLE (`max_priority` 0) or REDIS_PRIORITY: lists `q:N` … `q:1` and `q`
    /// (priority 0), taken from highest to lowest; a message goes to `q:min(p, N)` for its
    /// `extra.other_extra_params.priroty` p.
    Lists {
        /// The highest priority level; 0 for a plain REDIS_ACK_ABLE list.
        max_priority: u8,
    },
    /// REDIS_ZSET_PRIORITY: one zset `q`, score = the message's
    /// `extra.other_extra_params.for_broker_redis_zset_priority.priority`, highest taken first.
    Zset,
}

/// A queue and how its messages wait.
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    /// The queue's name: its plain list's key, and the prefix of its other keys.
    pub name: String,
    /// How its messages wait.
    pub layout: Layout,
}

impl Queue {
    /// funboost's REDIS_ACK_ABLE queue: one list.
    pub fn plain(name: &str) -> Queue {
        Queue::with_priorities(name, 0)
    }

    /// funboost's REDIS_PRIORITY queue: lists `name:max_priority` … `name:1` and `name`.
    pub fn with_priorities(name: &str, max_priority: u8) -> Queue {
        Queue {
            name: name.to_owned(),
            layout: Layout::Lists { max_priority },
        }
    }

    /// funboost's REDIS_ZSET_PRIORITY queue: one zset, highest score taken first.
    pub fn zset(name: &str) -> Queue {
        Queue {
            name: name.to_owned(),
            layout: Layout::Zset,
        }
    }

    /// The queue as its consumers registered it: the layout follows the `broker_kind` (and
    /// `x-max-priority`) of funboost's consumer parameters; a plain list otherwise.
    pub fn from_params(name: &str, params: Option<&serde_json::Value>) -> Queue {
        let kind = params
            .and_then(|p| p.get("broker_kind"))
            .and_then(|k| k.as_str());
        match kind {
            Some("REDIS_ZSET_PRIORITY") => Queue::zset(name),
            Some("REDIS_PRIORITY") => {
                let max = params
                    .and_then(|p| p.pointer("/broker_exclusive_config/x-max-priority"))
                    .and_then(|m| m.as_u64())
                    .unwrap_or(0);
                Queue::with_priorities(name, max.min(u8::MAX as u64) as u8)
            }
            _ => Queue::plain(name),
        }
    }

    /// funboost's `broker_kind` for this layout.
    pub fn broker_kind(&self) -> &'static str {
        match self.layout {
            Layout::Lists { max_priority: 0 } => "REDIS_ACK_ABLE",
            Layout::Lists { .. } => "REDIS_PRIORITY",
            Layout::Zset => "REDIS_ZSET_PRIORITY",
        }
    }

    /// The keys messages wait under, in the order consumers take from them.
    pub fn lists(&self) -> Vec<String> {
        let max_priority = match self.layout {
            Layout::Lists { max_priority } => max_priority,
            Layout::Zset => 0,
        };
        (1..=max_priority)
            .rev()
            .map(|p| format!("{}:{p}", self.name))
            .chain(std::iter::once(self.name.clone()))
            .collect()
    }

    /// The key a message belongs under.
    pub fn list_of(&self, raw: &str) -> String {
        let priority = match self.layout {
            Layout::Lists { max_priority } if max_priority > 0 => {
                crate::message::Message::parse(raw.to_owned(), 0.0)
                    .map_or(0, |m| m.priority())
                    .min(max_priority)
            }
            _ => 0,
        };
        match priority {
            0 => self.name.clone(),
            p => format!("{}:{p}", self.name),
        }
    }

    /// The message's score in a zset queue; `None` for list layouts.
    pub fn score_of(&self, raw: &str) -> Option<f64> {
        (self.layout == Layout::Zset).then(|| {
            crate::message::Message::parse(raw.to_owned(), 0.0).map_or(0.0, |m| m.zset_priority())
        })
    }
}

pub use protocol::heartbeat::ALIVE_FOR;
/// Heartbeat members older than this are purged by writers (funboost: 25 s).
pub const PURGE_AFTER: f64 = 25.0;
