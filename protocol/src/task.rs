//! Task records as the API and the UI read them.

use crate::event::TaskState;
use serde::{Deserialize, Serialize};

/// One row of a task list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskSummary {
    pub task_id: String,
    pub queue: String,
    pub function: Option<String>,
    pub state: TaskState,
    pub run_times: u32,
    /// The call's parameters as JSON text, cut to 512 bytes in lists.
    pub params: Option<String>,
    pub exception_type: Option<String>,
    pub exception_msg: Option<String>,
    /// Epoch seconds (UTC).
    pub publish_time: Option<f64>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    /// Run time, seconds.
    pub cost: Option<f64>,
    /// Seconds from publish to start.
    pub wait: Option<f64>,
    pub host_name: Option<String>,
    /// What lists sort by: start, else publish, else receive time.
    pub sort_time: f64,
}

/// Everything taskdeck knows about one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskDetail {
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// JSON text.
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub process_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub script_name: Option<String>,
    pub consumer_id: Option<String>,
    /// Every other field of the last event, as received (JSON object text).
    pub extra: String,
    /// When taskdeck last changed this record, epoch seconds.
    pub updated_at: f64,
}

/// One page of a task list, newest first. Cursors are opaque: pass `older` to get the next
/// page, `newer` to get the previous one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPage {
    pub tasks: Vec<TaskSummary>,
    /// Cursor for the page after this one (older tasks); absent at the end.
    pub older: Option<String>,
    /// Cursor for the page before this one (newer tasks); absent at the start.
    pub newer: Option<String>,
}

/// A queue as the store knows it from its records and counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueSummary {
    pub queue: String,
    /// First and last time an event of this queue arrived, epoch seconds.
    pub first_seen: f64,
    pub last_seen: f64,
    pub running: i64,
    pub success_last_minute: i64,
    pub failed_last_minute: i64,
    pub success_last_hour: i64,
    pub failed_last_hour: i64,
}

/// Which tasks a list shows. Empty lists and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskFilter {
    pub queues: Vec<String>,
    pub states: Vec<TaskState>,
    /// `sort_time` range, epoch seconds: `from` inclusive, `to` exclusive.
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub exception_type: Option<String>,
    pub host: Option<String>,
    pub function: Option<String>,
    /// Substring of params, result or exception message.
    pub text: Option<String>,
    pub task_id: Option<String>,
    pub task_id_prefix: Option<String>,
}

/// Which page of a filtered list: the first, or the one before/after a cursor.
#[derive(Clone, Debug, PartialEq)]
pub enum PageAt {
    First,
    Older(Cursor),
    Newer(Cursor),
}

/// Position in a newest-first list: `sort_time` then `task_id`, both descending.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    pub sort_time: f64,
    pub task_id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}~{}", self.sort_time, self.task_id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (t, id) = s.split_once('~')?;
        let sort_time: f64 = t.parse().ok().filter(|t: &f64| t.is_finite())?;
        Some(Cursor {
            sort_time,
            task_id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_any_task_id() {
        for id in ["t1", "a~b~c", "q_result:5f0e", ""] {
            let c = Cursor {
                sort_time: 1_795_000_000.123_456,
                task_id: id.into(),
            };
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("NaN~x"), None);
    }
}
