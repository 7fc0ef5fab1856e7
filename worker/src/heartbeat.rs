//! funboost's heartbeat record (§2.3 of the protocol notes), field names as funboost spells
//! them, plus taskdeck's own fields. One is written every few seconds per consumer.

use serde::{Deserialize, Serialize};

/// Reads funboost's own heartbeats too: taskdeck's fields are then left at their defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Heartbeat {
    pub queue_name: String,
    pub computer_name: String,
    pub computer_ip: String,
    pub process_id: u32,
    pub consumer_id: u64,
    pub consumer_uuid: String,
    pub start_datetime_str: String,
    pub start_timestamp: f64,
    pub hearbeat_datetime_str: String,
    pub hearbeat_timestamp: f64,
    pub consuming_function: String,
    pub code_filename: String,
    pub unit_time_for_count: u64,
    pub last_x_s_execute_count: u64,
    pub last_x_s_execute_count_fail: u64,
    pub last_execute_task_time: f64,
    pub last_x_s_avarage_function_spend_time: Option<f64>,
    pub msg_num_in_broker: i64,
    pub current_time_for_execute_task_times_every_unit_time: f64,
    pub last_timestamp_when_has_task_in_queue: f64,
    pub total_consume_count_from_start: u64,
    pub total_consume_count_from_start_fail: u64,
    pub total_cost_time_from_start: f64,
    pub last_x_s_total_cost_time: f64,
    pub avarage_function_spend_time_from_start: Option<f64>,
    /// taskdeck: the consumer identification (names the in-flight set).
    pub consumer_identification: String,
    /// taskdeck: what this consumer can be told to do.
    pub capabilities: Vec<String>,
    /// taskdeck: the desired-state version applied (0 until taskdeck's control plane sets one).
    pub control_version: u64,
    /// taskdeck: tasks running now, and the configured limits.
    pub running: u64,
    pub concurrency: u64,
    pub qps: Option<f64>,
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

/// Task counts over funboost's 10 s windows and since start.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    window_start: f64,
    window_count: u64,
    window_fail: u64,
    window_cost: f64,
    last_count: u64,
    last_fail: u64,
    last_cost: f64,
    last_window_end: f64,
    pub total: u64,
    pub total_fail: u64,
    pub total_cost: f64,
    pub last_task_time: f64,
}

pub const WINDOW: f64 = 10.0;

impl Counters {
    pub fn new(now: f64) -> Counters {
        Counters {
            window_start: now,
            last_window_end: now,
            ..Default::default()
        }
    }

    fn roll(&mut self, now: f64) {
        if now - self.window_start >= WINDOW {
            self.last_count = self.window_count;
            self.last_fail = self.window_fail;
            self.last_cost = self.window_cost;
            self.last_window_end = now;
            self.window_start = now;
            self.window_count = 0;
            self.window_fail = 0;
            self.window_cost = 0.0;
        }
    }

    pub fn record(&mut self, now: f64, cost: f64, failed: bool) {
        self.roll(now);
        self.window_count += 1;
        self.window_cost += cost;
        self.total += 1;
        self.total_cost += cost;
        self.last_task_time = now;
        if failed {
            self.window_fail += 1;
            self.total_fail += 1;
        }
    }

    /// Fills the counting fields of a heartbeat.
    pub fn fill(&mut self, hb: &mut Heartbeat, now: f64) {
        self.roll(now);
        hb.unit_time_for_count = WINDOW as u64;
        hb.last_x_s_execute_count = self.last_count;
        hb.last_x_s_execute_count_fail = self.last_fail;
        hb.last_x_s_total_cost_time = self.last_cost;
        hb.last_x_s_avarage_function_spend_time =
            (self.last_count > 0).then(|| round4(self.last_cost / self.last_count as f64));
        hb.current_time_for_execute_task_times_every_unit_time = self.last_window_end;
        hb.last_execute_task_time = self.last_task_time;
        hb.total_consume_count_from_start = self.total;
        hb.total_consume_count_from_start_fail = self.total_fail;
        hb.total_cost_time_from_start = self.total_cost;
        hb.avarage_function_spend_time_from_start =
            (self.total > 0).then(|| round4(self.total_cost / self.total as f64));
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}
