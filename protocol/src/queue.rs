//! The queue page: one queue's live facts, its consumers, its parameters and a chart series.

use crate::heartbeat::Consumer;
use crate::overview::QueueRow;
use crate::series::Series;
use serde::{Deserialize, Serialize};

/// Everything the queue page shows about one queue, computed at `now`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuePage {
    /// When it was computed, epoch seconds.
    pub now: f64,
    /// The queue's overview row (zeros when nothing knows the queue).
    pub row: QueueRow,
    /// Whether the store or the broker knows the queue at all.
    pub known: bool,
    /// funboost's broker kind from the consumer parameters (`REDIS_ACK_ABLE`, …).
    pub broker_kind: Option<String>,
    /// The consumer parameters last registered for the queue (funboost's
    /// `funboost_queue__consumer_parmas`), as JSON text.
    pub params: Option<String>,
    /// The queue's consumers heard from recently, alive first.
    pub consumers: Vec<Consumer>,
    /// Finished tasks and latencies over the grain's usual window, ending now.
    pub series: Series,
    /// Why broker facts (backlog, parameters, pause) are missing, when they are.
    pub broker_error: Option<String>,
    /// The latest pause or resume of the queue, with how far it got.
    pub control: Option<crate::control::Command>,
    /// What its broker kind allows on the waiting messages.
    #[serde(default)]
    pub abilities: Abilities,
}

/// What a queue's broker kind allows on its waiting messages: `None` where it does, otherwise
/// why not (the page offers the control disabled, with the reason). Pause, resume, kill and
/// revoke go through funboost's own keys and work for every kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Abilities {
    /// Browse the waiting messages and delete one.
    pub browse: Option<String>,
    /// Move a waiting message to the front or to another priority.
    pub reorder: Option<String>,
    /// Remove every waiting message.
    pub clear: Option<String>,
    /// Put back what stopped consumers held.
    pub requeue: Option<String>,
    /// Publish a message (a new task, a retry, a re-drive).
    #[serde(default)]
    pub publish: Option<String>,
}
