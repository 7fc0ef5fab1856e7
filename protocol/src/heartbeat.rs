//! A consumer's heartbeat (funboost's §2.3 record, field names as funboost spells them, plus
//! taskdeck's own fields) and the fleet view built from them.

use serde::{Deserialize, Serialize};

/// Reads funboost's own heartbeats too: taskdeck's fields are then left at their defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Heartbeat {
    /// The queue consumed.
    pub queue_name: String,
    /// Host name.
    pub computer_name: String,
    /// Host address.
    pub computer_ip: String,
    /// Worker process id.
    pub process_id: u32,
    /// funboost: the consumer object's `id()` in its process.
    pub consumer_id: u64,
    /// A UUID per consumer, stable across heartbeats.
    pub consumer_uuid: String,
    /// When the consumer started, local time (`%Y-%m-%d %H:%M:%S`).
    pub start_datetime_str: String,
    /// When the consumer started, epoch seconds.
    pub start_timestamp: f64,
    /// When this heartbeat was written, local time (funboost's spelling).
    pub hearbeat_datetime_str: String,
    /// When this heartbeat was written, epoch seconds (funboost's spelling).
    pub hearbeat_timestamp: f64,
    /// The function the consumer runs.
    pub consuming_function: String,
    /// The worker's source file.
    pub code_filename: String,
    /// Length of the counting window, seconds (funboost: 10).
    pub unit_time_for_count: u64,
    /// Tasks finished in the last completed window.
    pub last_x_s_execute_count: u64,
    /// Of them, failed.
    pub last_x_s_execute_count_fail: u64,
    /// When the last task finished, epoch seconds.
    pub last_execute_task_time: f64,
    /// Mean run time in the last window, seconds (funboost's spelling).
    pub last_x_s_avarage_function_spend_time: Option<f64>,
    /// Messages waiting as the consumer last counted them (`-1`: the broker cannot count).
    pub msg_num_in_broker: i64,
    /// When the last window closed, epoch seconds.
    pub current_time_for_execute_task_times_every_unit_time: f64,
    /// When the consumer last saw a message waiting, epoch seconds.
    pub last_timestamp_when_has_task_in_queue: f64,
    /// Tasks finished since the consumer started.
    pub total_consume_count_from_start: u64,
    /// Of them, failed.
    pub total_consume_count_from_start_fail: u64,
    /// Seconds spent running them.
    pub total_cost_time_from_start: f64,
    /// Seconds spent running the last window's tasks.
    pub last_x_s_total_cost_time: f64,
    /// Mean run time since start, seconds (funboost's spelling).
    pub avarage_function_spend_time_from_start: Option<f64>,
    /// taskdeck: the consumer identification (names the in-flight set).
    pub consumer_identification: String,
    /// taskdeck: what this consumer can be told to do.
    pub capabilities: Vec<String>,
    /// taskdeck: the desired-state version applied (0 until taskdeck's control plane sets one).
    pub control_version: u64,
    /// taskdeck: tasks running now, and the configured limits.
    pub running: u64,
    /// taskdeck: task slots now.
    pub concurrency: u64,
    /// taskdeck: task starts per second now (`None`: unlimited).
    pub qps: Option<f64>,
    /// taskdeck: whether the consumer starts no new task now.
    pub paused: bool,
    /// taskdeck: which implementation wrote it.
    pub worker_kind: String,
}

impl Heartbeat {
    /// Reads a heartbeat set member. funboost writes `null` for numbers it has not measured
    /// yet (no task in the last window); those read as absent.
    pub fn from_json(text: &str) -> Result<Heartbeat, serde_json::Error> {
        let mut value: serde_json::Value = serde_json::from_str(text)?;
        if let Some(fields) = value.as_object_mut() {
            fields.retain(|_, v| !v.is_null());
        }
        serde_json::from_value(value)
    }
}

/// A consumer counts as alive while its last heartbeat is younger than this (funboost's
/// readers use 15 s).
pub const ALIVE_FOR: f64 = 15.0;

/// Which implementation runs a consumer.
pub fn kind_of(hb: &Heartbeat) -> &str {
    if hb.worker_kind.is_empty() {
        "funboost"
    } else {
        &hb.worker_kind
    }
}

/// Whether a consumer is heard from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// Heartbeat younger than [`ALIVE_FOR`].
    Alive,
    /// Silent for longer: probably dead; shown until the fleet's `drop_after_s`.
    Stale,
}

/// One consumer as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consumer {
    /// Seconds since its last heartbeat, by the broker's clock.
    pub age_s: f64,
    /// Alive or stale.
    pub liveness: Liveness,
    /// `funboost`, or the heartbeat's `worker_kind` (`taskdeck-rust` for this crate's workers).
    pub kind: String,
    /// Its last heartbeat.
    pub heartbeat: Heartbeat,
}

/// Every consumer heard from recently, by the broker's clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fleet {
    /// The broker's time (epoch seconds) when read.
    pub now: f64,
    /// Consumers silent for longer than this are left out.
    pub drop_after_s: f64,
    /// Alive first, then by queue, host and process.
    pub consumers: Vec<Consumer>,
}

impl Fleet {
    /// Classifies raw heartbeats read at broker time `now`; one entry per consumer (its
    /// newest heartbeat), those silent beyond `drop_after_s` dropped.
    pub fn build(now: f64, drop_after_s: f64, heartbeats: Vec<Heartbeat>) -> Fleet {
        let mut newest: std::collections::HashMap<(String, String), Heartbeat> =
            std::collections::HashMap::new();
        for hb in heartbeats {
            let key = (hb.queue_name.clone(), hb.consumer_uuid.clone());
            match newest.get(&key) {
                Some(seen) if seen.hearbeat_timestamp >= hb.hearbeat_timestamp => {}
                _ => {
                    newest.insert(key, hb);
                }
            }
        }
        let mut consumers: Vec<Consumer> = newest
            .into_values()
            .filter_map(|hb| {
                let age_s = (now - hb.hearbeat_timestamp).max(0.0);
                (age_s < drop_after_s).then(|| Consumer {
                    age_s,
                    liveness: if age_s < ALIVE_FOR {
                        Liveness::Alive
                    } else {
                        Liveness::Stale
                    },
                    kind: kind_of(&hb).to_owned(),
                    heartbeat: hb,
                })
            })
            .collect();
        consumers.sort_by(|a, b| {
            (a.liveness != Liveness::Alive)
                .cmp(&(b.liveness != Liveness::Alive))
                .then_with(|| a.heartbeat.queue_name.cmp(&b.heartbeat.queue_name))
                .then_with(|| a.heartbeat.computer_name.cmp(&b.heartbeat.computer_name))
                .then_with(|| a.heartbeat.process_id.cmp(&b.heartbeat.process_id))
                .then_with(|| a.heartbeat.consumer_uuid.cmp(&b.heartbeat.consumer_uuid))
        });
        Fleet {
            now,
            drop_after_s,
            consumers,
        }
    }
}

/// A bare heartbeat of one consumer of `queue`, beating at `at`.
#[cfg(test)]
pub(crate) fn test_beat(queue: &str, uuid: &str, at: f64) -> Heartbeat {
    Heartbeat {
        queue_name: queue.into(),
        consumer_uuid: uuid.into(),
        hearbeat_timestamp: at,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::test_beat as beat;
    use super::*;

    #[test]
    fn fleet_marks_stale_drops_dead_and_keeps_the_newest_beat() {
        let fleet = Fleet::build(
            1000.0,
            300.0,
            vec![
                beat("b", "u1", 995.0),
                beat("a", "u2", 980.0),
                beat("a", "u3", 600.0),
                beat("b", "u1", 990.0),
            ],
        );
        let seen: Vec<(&str, &str, Liveness)> = fleet
            .consumers
            .iter()
            .map(|c| {
                (
                    c.heartbeat.queue_name.as_str(),
                    c.heartbeat.consumer_uuid.as_str(),
                    c.liveness,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [("b", "u1", Liveness::Alive), ("a", "u2", Liveness::Stale)]
        );
        assert_eq!(fleet.consumers[0].age_s, 5.0);
        assert_eq!(fleet.consumers[0].kind, "funboost");
    }

    #[test]
    fn funboost_nulls_read_as_absent() {
        let hb = Heartbeat::from_json(
            r#"{"queue_name":"q","last_x_s_avarage_function_spend_time":null,"process_id":7}"#,
        )
        .unwrap();
        assert_eq!(hb.last_x_s_avarage_function_spend_time, None);
        assert_eq!(hb.process_id, 7);
    }
}
