//! The dashboard's reads and writes of the broker, beyond what a consumer or a control plane
//! does (those are `taskdeck_worker::Broker` and `Controller`): every queue with its backlog,
//! every heartbeat, the waiting messages page by page, moving or deleting one, clearing a
//! queue. Implemented for both buses: Redis (funboost's keys) and the in-process broker.

mod kind;
mod memory;
mod redis;

pub use kind::{Keeping, Kind, Taken};

use async_trait::async_trait;
use protocol::overview::BrokerQueues;
use taskdeck_worker::heartbeat::Heartbeat;
use taskdeck_worker::{BrokerError, Layout, Queue};

/// How far a search for one waiting message reads into each list.
pub const SCAN_WAITING: usize = 100_000;

/// Where a waiting message goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Placement {
    /// Next to be taken: the head of the highest-priority list (list layouts), or above the
    /// highest score (zset layout).
    Front,
    /// This priority: funboost's REDIS_PRIORITY level (`q:N`, capped at the queue's highest) or
    /// REDIS_ZSET_PRIORITY score. A plain REDIS_ACK_ABLE queue has none.
    Priority(f64),
    /// Out of the queue: the message is deleted (`LREM`/`ZREM` of its exact text).
    Out,
}

/// What became of a move.
#[derive(Clone, Debug, PartialEq)]
pub enum Moved {
    /// Moved (or deleted); the message as it was.
    Done(String),
    /// The task is not waiting among the first [`SCAN_WAITING`] of each list.
    NotWaiting,
    /// A priority asked of a queue kept without priorities; nothing changed.
    NoPriorities,
}

/// Heartbeats read at broker time `now`.
#[derive(Clone, Debug, Default)]
pub struct Heartbeats {
    pub now: f64,
    pub beats: Vec<Heartbeat>,
}

/// A queue with the kind its consumers registered: what the dashboard acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: Kind,
}

impl Target {
    /// The queue `name` as the consumer parameters `params` describe it.
    pub fn of(name: &str, params: Option<&serde_json::Value>) -> Target {
        Target {
            name: name.to_owned(),
            kind: Kind::of(params),
        }
    }

    /// As the worker crate's list and zset operations take it, where they apply.
    pub fn lists(&self) -> Option<Queue> {
        self.kind.lists(&self.name)
    }

    /// The refusal for an operation its kind does not allow.
    fn refused(&self) -> BrokerError {
        BrokerError::Other(format!(
            "{} queues are not read that way",
            self.kind.broker_kind.as_deref().unwrap_or("these")
        ))
    }
}

#[async_trait]
pub trait Dashboard: Send + Sync + 'static {
    /// Every queue the broker knows with its backlog, in-flight count, oldest waiting message,
    /// pause flag, desired state and project: what the overview is built from. A queue that
    /// cannot be read says so in its own row; the others are read regardless.
    async fn queues(&self) -> Result<BrokerQueues, BrokerError>;
    /// Every heartbeat of every known queue as stored (stale ones included), with the
    /// broker's clock: what the workers view is built from.
    async fn heartbeats(&self) -> Result<Heartbeats, BrokerError>;
    /// Messages waiting in the queue (not counting taken ones).
    async fn count_waiting(&self, queue: &Target) -> Result<u64, BrokerError>;
    /// Up to `limit` waiting messages from `offset`, in the order consumers take them, each
    /// with the key it waits under.
    async fn peek_waiting(
        &self,
        queue: &Target,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, BrokerError>;
    /// Moves the waiting message of `task_id` (searched among the first [`SCAN_WAITING`] of
    /// each of the queue's keys) to `to`, in one step.
    async fn move_waiting(
        &self,
        queue: &Target,
        task_id: &str,
        to: Placement,
    ) -> Result<Moved, BrokerError>;
    /// Removes every waiting message of the queue in one step; returns how many. Messages
    /// consumers hold in flight are left alone (funboost's `clear()` deletes those too, and with
    /// them tasks that are running).
    async fn clear(&self, queue: &Target) -> Result<u64, BrokerError>;
    /// Adds a message where the queue's producers put it (its list by priority, its zset, its
    /// stream).
    async fn publish_to(&self, queue: &Target, raw: &str) -> Result<(), BrokerError>;
}

/// `raw` with its priority set to `p` where funboost's publishers put it for this layout;
/// `None` for a layout without priorities (or a message that is not a JSON object).
pub fn with_priority(raw: &str, layout: Layout, p: f64) -> Option<String> {
    let mut body: serde_json::Value = serde_json::from_str(raw).ok()?;
    let extra = body
        .as_object_mut()?
        .entry("extra")
        .or_insert_with(|| serde_json::json!({}));
    let others = extra
        .as_object_mut()?
        .entry("other_extra_params")
        .or_insert_with(|| serde_json::json!({}));
    let others = others.as_object_mut()?;
    match layout {
        Layout::Lists { max_priority: 0 } => return None,
        Layout::Lists { max_priority } => {
            let level = p.clamp(0.0, f64::from(max_priority)).round() as u64;
            others.insert("priroty".into(), level.into());
        }
        Layout::Zset => {
            others.insert(
                "for_broker_redis_zset_priority".into(),
                serde_json::json!({ "priority": p }),
            );
        }
    }
    Some(body.to_string())
}

#[cfg(test)]
mod tests;
