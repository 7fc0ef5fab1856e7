//! The dashboard's overview: one row per queue, from three sources joined by queue name — the
//! store's counters, the broker's queues (backlog, in flight, pause flags) and the consumers'
//! heartbeats.

use crate::control::Desired;
use serde::{Deserialize, Serialize};

/// What the broker holds for one queue right now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokerQueue {
    pub queue: String,
    /// funboost's `project_name` (from `funboost.project_name:<project>` sets).
    pub project: Option<String>,
    /// funboost's broker kind from the consumer parameters (`REDIS_ACK_ABLE`, …).
    pub broker_kind: Option<String>,
    /// Messages waiting to be taken (LLEN of its lists, or ZCARD of its priority zset).
    pub waiting: u64,
    /// Messages taken by consumers and not yet acknowledged (their in-flight zsets).
    pub in_flight: u64,
    /// Publish time of the oldest waiting message, epoch seconds.
    pub oldest_waiting: Option<f64>,
    /// funboost's pause flag.
    pub paused_flag: bool,
    /// taskdeck's desired state (version 0: never set).
    pub desired: Desired,
    /// The consumer parameters last registered for the queue (funboost's
    /// `funboost_queue__consumer_parmas`), as JSON text.
    pub params: Option<String>,
}

/// Every queue the broker knows, read at broker time `now`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokerQueues {
    pub now: f64,
    pub queues: Vec<BrokerQueue>,
}

/// One queue on the overview.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueRow {
    pub queue: String,
    pub project: Option<String>,
    /// Tasks finished per second over the last 10 s.
    pub throughput: f64,
    pub success_last_minute: i64,
    pub failed_last_minute: i64,
    pub success_last_hour: i64,
    pub failed_last_hour: i64,
    /// Waiting messages; `None` when the broker does not know the queue (events only).
    pub waiting: Option<u64>,
    /// Taken and not finished: the broker's in-flight count, or the store's running tasks
    /// when the broker does not know the queue.
    pub in_flight: i64,
    /// Age of the oldest waiting message, seconds: a stalled queue does not look idle.
    pub oldest_waiting_s: Option<f64>,
    pub consumers_alive: u32,
    pub consumers_stale: u32,
    /// Paused by funboost's flag or taskdeck's desired state.
    pub paused: bool,
    /// Last event recorded for the queue, epoch seconds (0: none yet).
    pub last_seen: f64,
    /// Tasks finished per minute over the last 30 minutes, oldest first.
    pub spark: Vec<i64>,
}

/// The overview of every queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    /// When it was computed, epoch seconds.
    pub now: f64,
    pub queues: Vec<QueueRow>,
    /// Every project named by a queue, sorted.
    pub projects: Vec<String>,
    /// Why broker facts (backlog, consumers, pause) are missing, when they are.
    pub broker_error: Option<String>,
}

/// Minutes in a queue row's sparkline.
pub const SPARK_MINUTES: usize = 30;
/// Seconds over which "throughput now" is averaged.
pub const THROUGHPUT_WINDOW_S: i64 = 10;

impl Overview {
    /// The rows of one project (all rows for `None`).
    pub fn rows<'a>(&'a self, project: Option<&'a str>) -> impl Iterator<Item = &'a QueueRow> {
        self.queues
            .iter()
            .filter(move |r| project.is_none() || r.project.as_deref() == project)
    }
}

/// Totals over a set of rows, for the overview's header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub queues: usize,
    pub throughput: f64,
    pub success_last_hour: i64,
    pub failed_last_hour: i64,
    pub waiting: u64,
    pub in_flight: i64,
    pub consumers_alive: u32,
    pub paused: usize,
}

impl Totals {
    pub fn of<'a>(rows: impl Iterator<Item = &'a QueueRow>) -> Totals {
        let mut t = Totals::default();
        for r in rows {
            t.queues += 1;
            t.throughput += r.throughput;
            t.success_last_hour += r.success_last_hour;
            t.failed_last_hour += r.failed_last_hour;
            t.waiting += r.waiting.unwrap_or(0);
            t.in_flight += r.in_flight;
            t.consumers_alive += r.consumers_alive;
            t.paused += usize::from(r.paused);
        }
        t
    }

    /// Failed share of the finished tasks of the last hour, when any finished.
    pub fn failure_rate(&self) -> Option<f64> {
        failure_rate(self.success_last_hour, self.failed_last_hour)
    }
}

pub fn failure_rate(success: i64, failed: i64) -> Option<f64> {
    let all = success + failed;
    (all > 0).then(|| failed as f64 / all as f64)
}
