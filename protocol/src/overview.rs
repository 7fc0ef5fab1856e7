//! The dashboard's overview: one row per queue, from three sources joined by queue name — the
//! store's counters, the broker's queues (backlog, in flight, pause flags) and the consumers'
//! heartbeats.

use crate::control::Desired;
use serde::{Deserialize, Serialize};

/// What the broker holds for one queue right now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokerQueue {
    /// The queue's name.
    pub queue: String,
    /// funboost's `project_name` (from `funboost.project_name:<project>` sets).
    pub project: Option<String>,
    /// funboost's broker kind as the queue's consumers registered it (`REDIS_STREAM`,
    /// `RABBITMQ_AMQPSTORM`, …); `None` when none registered one.
    pub broker_kind: Option<String>,
    /// Messages waiting to be taken; `None` when not known (`backlog` says why).
    pub waiting: Option<u64>,
    /// Messages taken by consumers and not yet acknowledged; `None` where the broker keeps no
    /// record of them (funboost's plain `REDIS` lists: they are in the workers' memory) or
    /// taskdeck cannot read it.
    pub in_flight: Option<u64>,
    /// Where `waiting` comes from.
    #[serde(default)]
    pub backlog: Backlog,
    /// What could not be read of this queue, or does not match its broker kind; the other
    /// queues are read regardless.
    #[serde(default)]
    pub note: Option<String>,
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

/// Where a queue's backlog figure comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Backlog {
    /// Counted in the broker's Redis keys as the page was made.
    #[default]
    Counted,
    /// As the queue's workers last measured it (`funboost_queue__msg_count_map`), for brokers
    /// taskdeck does not read itself (RabbitMQ, Kafka, …).
    Reported {
        /// When the workers measured it, epoch seconds.
        at: f64,
    },
    /// Not known.
    Unknown {
        /// Why, in words.
        why: String,
    },
}

/// Every queue the broker knows, read at broker time `now`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokerQueues {
    /// The broker's clock, epoch seconds.
    pub now: f64,
    /// By name.
    pub queues: Vec<BrokerQueue>,
}

/// One queue on the overview.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueRow {
    /// The queue's name.
    pub queue: String,
    /// funboost's `project_name`, when the queue has one.
    pub project: Option<String>,
    /// funboost's broker kind as registered.
    #[serde(default)]
    pub broker_kind: Option<String>,
    /// Where `waiting` comes from.
    #[serde(default)]
    pub backlog: Backlog,
    /// What the broker could not tell of this queue.
    #[serde(default)]
    pub broker_note: Option<String>,
    /// Tasks finished per second over the last 10 s.
    pub throughput: f64,
    /// Tasks that succeeded in the last minute.
    pub success_last_minute: i64,
    /// Tasks that failed in the last minute.
    pub failed_last_minute: i64,
    /// Tasks that succeeded in the last hour.
    pub success_last_hour: i64,
    /// Tasks that failed in the last hour.
    pub failed_last_hour: i64,
    /// Waiting messages; `None` when the broker does not know the queue (events only).
    pub waiting: Option<u64>,
    /// Taken and not finished: the broker's in-flight count, or the store's running tasks
    /// when the broker does not know the queue.
    pub in_flight: i64,
    /// Age of the oldest waiting message, seconds: a stalled queue does not look idle.
    pub oldest_waiting_s: Option<f64>,
    /// Consumers heard from within [`crate::heartbeat::ALIVE_FOR`].
    pub consumers_alive: u32,
    /// Consumers silent for longer, still listed.
    pub consumers_stale: u32,
    /// Paused by funboost's flag or taskdeck's desired state.
    pub paused: bool,
    /// Last event recorded for the queue, epoch seconds (0: none yet).
    pub last_seen: f64,
    /// Tasks finished per minute over the last 30 minutes, oldest first.
    pub spark: Vec<i64>,
}

/// How long a queue's backlog will take, at the throughput of the last 10 s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Drain {
    /// Nothing waits (or the broker does not know the queue).
    Empty,
    /// Work waits and nothing finishes: stuck, not idle.
    Stalled,
    /// Seconds until the waiting messages are done at the current rate (funboost's 预估消费时间).
    Eta(u64),
}

impl QueueRow {
    /// How long the backlog will take at the current throughput.
    pub fn drain(&self) -> Drain {
        match self.waiting.unwrap_or(0) {
            0 => Drain::Empty,
            _ if self.throughput <= 0.0 => Drain::Stalled,
            w => Drain::Eta((w as f64 / self.throughput).ceil() as u64),
        }
    }
}

/// The overview of every queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    /// When it was computed, epoch seconds.
    pub now: f64,
    /// By name.
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
    /// Queues counted.
    pub queues: usize,
    /// Tasks finished per second, summed.
    pub throughput: f64,
    /// Tasks that succeeded in the last hour.
    pub success_last_hour: i64,
    /// Tasks that failed in the last hour.
    pub failed_last_hour: i64,
    /// Messages waiting.
    pub waiting: u64,
    /// Messages taken and not finished.
    pub in_flight: i64,
    /// Consumers alive.
    pub consumers_alive: u32,
    /// Queues paused.
    pub paused: usize,
}

impl Totals {
    /// The totals of `rows`.
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

/// Failed share of `success + failed`, when there are any.
pub fn failure_rate(success: i64, failed: i64) -> Option<f64> {
    let all = success + failed;
    (all > 0).then(|| failed as f64 / all as f64)
}

/// What [`Overview::build`] joins.
pub struct Sources<'a> {
    /// Epoch seconds the overview is computed at.
    pub now: f64,
    /// Each queue as the store knows it.
    pub summaries: &'a [crate::task::QueueSummary],
    /// `(queue, minute bucket, finished)` from the last [`SPARK_MINUTES`] minutes.
    pub minutes: &'a [(String, i64, i64)],
    /// `(queue, second bucket, finished)` from the last [`THROUGHPUT_WINDOW_S`] seconds.
    pub seconds: &'a [(String, i64, i64)],
    /// The broker's queues, or why they could not be read.
    pub broker: Result<&'a BrokerQueues, String>,
    /// The consumers heard from, when the broker answered.
    pub fleet: Option<&'a crate::heartbeat::Fleet>,
}

impl Overview {
    /// One row per queue known to the store or the broker, sorted by name.
    pub fn build(s: Sources<'_>) -> Overview {
        use std::collections::BTreeMap;
        let now_s = s.now.floor() as i64;
        let mut rows: BTreeMap<&str, QueueRow> = BTreeMap::new();
        for sum in s.summaries {
            rows.insert(
                &sum.queue,
                QueueRow {
                    queue: sum.queue.clone(),
                    success_last_minute: sum.success_last_minute,
                    failed_last_minute: sum.failed_last_minute,
                    success_last_hour: sum.success_last_hour,
                    failed_last_hour: sum.failed_last_hour,
                    in_flight: sum.running,
                    last_seen: sum.last_seen,
                    ..Default::default()
                },
            );
        }
        let broker_error = match &s.broker {
            Ok(b) => {
                for bq in &b.queues {
                    let r = rows.entry(&bq.queue).or_insert_with(|| QueueRow {
                        queue: bq.queue.clone(),
                        ..Default::default()
                    });
                    r.project = bq.project.clone();
                    r.broker_kind = bq.broker_kind.clone();
                    r.backlog = bq.backlog.clone();
                    r.broker_note = bq.note.clone();
                    r.waiting = bq.waiting;
                    // Without the broker's record the store's running tasks stand in.
                    if let Some(n) = bq.in_flight {
                        r.in_flight = n as i64;
                    }
                    r.oldest_waiting_s = bq.oldest_waiting.map(|t| (b.now - t).max(0.0));
                    r.paused = bq.paused_flag || bq.desired.paused;
                }
                None
            }
            Err(e) => Some(e.clone()),
        };
        if let Some(fleet) = s.fleet {
            for c in &fleet.consumers {
                if let Some(r) = rows.get_mut(c.heartbeat.queue_name.as_str()) {
                    match c.liveness {
                        crate::heartbeat::Liveness::Alive => r.consumers_alive += 1,
                        crate::heartbeat::Liveness::Stale => r.consumers_stale += 1,
                    }
                }
            }
        }
        let first_minute = (now_s.div_euclid(60) - (SPARK_MINUTES as i64 - 1)) * 60;
        for r in rows.values_mut() {
            r.spark = vec![0; SPARK_MINUTES];
        }
        for (q, bucket, n) in s.minutes {
            let slot = (bucket - first_minute).div_euclid(60);
            if let (Some(r), Ok(slot)) = (rows.get_mut(q.as_str()), usize::try_from(slot)) {
                if let Some(v) = r.spark.get_mut(slot) {
                    *v += n;
                }
            }
        }
        // Whole seconds only: the current one is still filling.
        for (q, bucket, n) in s.seconds {
            if (now_s - THROUGHPUT_WINDOW_S..now_s).contains(bucket) {
                if let Some(r) = rows.get_mut(q.as_str()) {
                    r.throughput += *n as f64 / THROUGHPUT_WINDOW_S as f64;
                }
            }
        }
        let mut projects: Vec<String> = rows.values().filter_map(|r| r.project.clone()).collect();
        projects.sort();
        projects.dedup();
        Overview {
            now: s.now,
            queues: rows.into_values().collect(),
            projects,
            broker_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heartbeat::{test_beat as beat, Fleet};
    use crate::task::QueueSummary;

    #[test]
    fn joins_store_broker_and_heartbeats_by_queue() {
        let now = 1_800_000_000.5;
        let summaries = [QueueSummary {
            queue: "orders".into(),
            first_seen: 1.0,
            last_seen: now - 3.0,
            running: 7,
            success_last_minute: 5,
            failed_last_minute: 1,
            success_last_hour: 50,
            failed_last_hour: 2,
        }];
        let this_minute = 1_800_000_000 / 60 * 60;
        let minutes = [
            ("orders".to_string(), this_minute, 4),
            ("orders".to_string(), this_minute - 29 * 60, 9),
            ("orders".to_string(), this_minute - 30 * 60, 100),
        ];
        let seconds = [
            ("orders".to_string(), 1_800_000_000, 50), // the current second: not yet counted
            ("orders".to_string(), 1_799_999_999, 12),
            ("orders".to_string(), 1_799_999_990, 8),
            ("orders".to_string(), 1_799_999_989, 1000), // outside the window
        ];
        let broker = BrokerQueues {
            now,
            queues: vec![
                BrokerQueue {
                    queue: "orders".into(),
                    project: Some("shop".into()),
                    waiting: Some(40),
                    in_flight: Some(3),
                    oldest_waiting: Some(now - 120.0),
                    ..Default::default()
                },
                BrokerQueue {
                    queue: "idle".into(),
                    waiting: Some(0),
                    in_flight: Some(0),
                    desired: crate::control::Desired {
                        paused: true,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                BrokerQueue {
                    queue: "rabbit".into(),
                    broker_kind: Some("RABBITMQ_AMQPSTORM".into()),
                    waiting: Some(7),
                    in_flight: None,
                    backlog: Backlog::Reported { at: now - 20.0 },
                    ..Default::default()
                },
            ],
        };
        let fleet = Fleet::build(
            now,
            300.0,
            vec![
                beat("orders", "a", now - 1.0),
                beat("orders", "b", now - 60.0),
                beat("idle", "c", now - 2.0),
                beat("unknown", "d", now - 2.0),
            ],
        );
        let o = Overview::build(Sources {
            now,
            summaries: &summaries,
            minutes: &minutes,
            seconds: &seconds,
            broker: Ok(&broker),
            fleet: Some(&fleet),
        });
        assert_eq!(o.projects, ["shop"]);
        assert_eq!(o.broker_error, None);
        let names: Vec<&str> = o.queues.iter().map(|r| r.queue.as_str()).collect();
        assert_eq!(names, ["idle", "orders", "rabbit"]);
        let rabbit = &o.queues[2];
        assert_eq!(
            (
                rabbit.broker_kind.as_deref(),
                &rabbit.backlog,
                rabbit.waiting,
                rabbit.in_flight
            ),
            (
                Some("RABBITMQ_AMQPSTORM"),
                &Backlog::Reported { at: now - 20.0 },
                Some(7),
                0
            ),
            "a backlog the workers reported, nothing in flight known"
        );
        let orders = &o.queues[1];
        assert_eq!(
            orders.throughput, 2.0,
            "20 finished in the 10 whole seconds"
        );
        assert_eq!(orders.waiting, Some(40));
        assert_eq!(
            orders.in_flight, 3,
            "the broker's count wins over the store's"
        );
        assert_eq!(orders.oldest_waiting_s, Some(120.0));
        assert_eq!((orders.consumers_alive, orders.consumers_stale), (1, 1));
        assert_eq!(orders.spark.len(), SPARK_MINUTES);
        assert_eq!((orders.spark[0], orders.spark[29]), (9, 4));
        assert_eq!(orders.spark.iter().sum::<i64>(), 13);
        let idle = &o.queues[0];
        assert!(idle.paused, "taskdeck's desired state pauses");
        assert_eq!((idle.consumers_alive, idle.waiting), (1, Some(0)));
        let t = Totals::of(o.rows(Some("shop")));
        assert_eq!((t.queues, t.waiting, t.paused), (1, 40, 0));
        assert_eq!(t.failure_rate(), Some(2.0 / 52.0));
        assert_eq!(Totals::of(o.rows(None)).paused, 1);
        assert_eq!(Totals::of(o.rows(None)).waiting, 47);
    }

    #[test]
    fn without_the_broker_the_store_still_answers_and_says_why() {
        let summaries = [QueueSummary {
            queue: "q".into(),
            first_seen: 1.0,
            last_seen: 2.0,
            running: 2,
            success_last_minute: 0,
            failed_last_minute: 0,
            success_last_hour: 0,
            failed_last_hour: 0,
        }];
        let o = Overview::build(Sources {
            now: 100.0,
            summaries: &summaries,
            minutes: &[],
            seconds: &[],
            broker: Err("connection refused".into()),
            fleet: None,
        });
        assert_eq!(o.broker_error.as_deref(), Some("connection refused"));
        assert_eq!(o.queues[0].waiting, None);
        assert_eq!(o.queues[0].in_flight, 2);
        assert_eq!(Totals::of(o.rows(None)).failure_rate(), None);
    }

    #[test]
    fn drain_reads_empty_stalled_or_an_eta() {
        let row = |waiting, throughput| QueueRow {
            waiting,
            throughput,
            ..Default::default()
        };
        assert_eq!(row(None, 0.0).drain(), Drain::Empty);
        assert_eq!(row(Some(0), 5.0).drain(), Drain::Empty);
        assert_eq!(row(Some(10), 0.0).drain(), Drain::Stalled);
        assert_eq!(row(Some(10), 3.0).drain(), Drain::Eta(4));
    }
}
