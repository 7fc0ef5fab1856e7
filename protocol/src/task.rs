//! Task records as the API and the UI read them.

use crate::state::TaskState;
use serde::{Deserialize, Serialize};

/// One row of a task list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskSummary {
    /// The task's id.
    pub task_id: String,
    /// The queue it ran on.
    pub queue: String,
    /// The consuming function's name.
    pub function: Option<String>,
    /// Where it is in its life.
    pub state: TaskState,
    /// Attempts so far (1 for the first run).
    pub run_times: u32,
    /// The call's parameters as JSON text, cut to 512 bytes in lists.
    pub params: Option<String>,
    /// The last exception's type.
    pub exception_type: Option<String>,
    /// The last exception's message.
    pub exception_msg: Option<String>,
    /// Epoch seconds (UTC).
    pub publish_time: Option<f64>,
    /// When the last attempt started, epoch seconds.
    pub start_time: Option<f64>,
    /// When it finished, epoch seconds.
    pub end_time: Option<f64>,
    /// Run time, seconds.
    pub cost: Option<f64>,
    /// Seconds from publish to start.
    pub wait: Option<f64>,
    /// The host that ran it.
    pub host_name: Option<String>,
    /// What lists sort by: start, else publish, else receive time.
    pub sort_time: f64,
}

/// Everything taskdeck knows about one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskDetail {
    /// What a list shows of it.
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// JSON text.
    pub result: Option<String>,
    /// The last exception's traceback.
    pub traceback: Option<String>,
    /// The worker process.
    pub process_id: Option<i64>,
    /// The thread that ran it.
    pub thread_id: Option<i64>,
    /// The worker's script.
    pub script_name: Option<String>,
    /// The consumer identification that ran it.
    pub consumer_id: Option<String>,
    /// Every other field of the last event, as received (JSON object text).
    pub extra: String,
    /// When taskdeck last changed this record, epoch seconds.
    pub updated_at: f64,
    /// The task this one was published from (a retry, or a run again with changes), when its
    /// message says so (`extra.taskdeck_origin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Every attempt, oldest first, when the worker reported them (it does once a task is
    /// retried); empty otherwise — the record's own times then describe its one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// One run of a task, as its worker reported it: when it started, and for an attempt that
/// ended, when and how (the exception that made the worker try again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// 1-based attempt number (funboost's `run_times` during that attempt).
    pub n: u32,
    /// Epoch seconds (UTC).
    pub start: f64,
    /// Absent while the attempt runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// How it ended (absent while it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    /// The exception that ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_type: Option<String>,
    /// Its message, cut to [`MAX_ATTEMPT_MSG`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_msg: Option<String>,
}

/// Most attempts an event may report; a task retried more often keeps its latest ones.
pub const MAX_ATTEMPTS: usize = 100;
/// Longest per-attempt exception message kept, in bytes (the record keeps the last one whole).
pub const MAX_ATTEMPT_MSG: usize = 1_000;

impl Attempt {
    /// Seconds the attempt ran, once it ended.
    pub fn run(&self) -> Option<f64> {
        Some(self.end? - self.start).filter(|r| *r >= 0.0)
    }
}

/// One page of a task list, newest first. Cursors are opaque: pass `older` to get the next
/// page, `newer` to get the previous one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPage {
    /// Newest first.
    pub tasks: Vec<TaskSummary>,
    /// Cursor for the page after this one (older tasks); absent at the end.
    pub older: Option<String>,
    /// Cursor for the page before this one (newer tasks); absent at the start.
    pub newer: Option<String>,
    /// How many tasks match, counted up to [`COUNT_CAP`]; on first pages only, and not when
    /// a text search stopped at its bound (`stopped`).
    #[serde(default)]
    pub total: Option<TaskTotal>,
    /// A text search outside the text index stopped at its bound with less than a page of
    /// matches: tasks past it were not searched yet, and `older` (or `newer`) continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<SearchStop>,
}

/// Where a bounded text search stopped.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchStop {
    /// Tasks read (those matching the rest of the filter).
    pub read: u32,
    /// Sort time of the last task read, epoch seconds.
    pub at: f64,
}

/// Tasks a text search reads per page where no text index serves it (successful, running or
/// pending tasks; every search on MongoDB) unless configured otherwise: enough for a page of
/// anything but rare text, bounded so that a page answers in a fraction of a second whatever
/// the store holds.
pub const DEFAULT_SCAN_BUDGET: u32 = 50_000;

/// Shortest search text: the text indexes work on three-character pieces.
pub const TEXT_MIN: usize = 3;

/// Counting stops here: past it a list says "more than", which costs a bounded read.
pub const COUNT_CAP: u64 = 10_000;

/// How many tasks match a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskTotal {
    /// Matching tasks, at most [`COUNT_CAP`].
    pub count: u64,
    /// More than `count` match: counting stopped.
    pub more: bool,
}

impl TaskTotal {
    /// From a count taken with a limit of `COUNT_CAP + 1`.
    pub fn capped(n: u64) -> TaskTotal {
        TaskTotal {
            count: n.min(COUNT_CAP),
            more: n > COUNT_CAP,
        }
    }
}

/// A queue as the store knows it from its records and counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueSummary {
    /// The queue's name.
    pub queue: String,
    /// When the first event of it arrived, epoch seconds.
    pub first_seen: f64,
    /// When the last event of it arrived, epoch seconds.
    pub last_seen: f64,
    /// Tasks running now.
    pub running: i64,
    /// Tasks that succeeded in the last minute.
    pub success_last_minute: i64,
    /// Tasks that failed in the last minute.
    pub failed_last_minute: i64,
    /// Tasks that succeeded in the last hour.
    pub success_last_hour: i64,
    /// Tasks that failed in the last hour.
    pub failed_last_hour: i64,
}

/// Which tasks a list shows. Empty lists and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskFilter {
    /// Only these queues.
    pub queues: Vec<String>,
    /// Only these states.
    pub states: Vec<TaskState>,
    /// The start of the `sort_time` range, epoch seconds (inclusive).
    pub from: Option<f64>,
    /// The end of the `sort_time` range (exclusive).
    pub to: Option<f64>,
    /// Only this exception type.
    pub exception_type: Option<String>,
    /// Only tasks run on this host.
    pub host: Option<String>,
    /// Only this function.
    pub function: Option<String>,
    /// Substring of params, result or exception message.
    pub text: Option<String>,
    /// Only this task.
    pub task_id: Option<String>,
    /// Only task ids starting with this.
    pub task_id_prefix: Option<String>,
}

impl TaskFilter {
    /// The text index (Postgres, SQLite) holds tasks that finished without success — failed,
    /// killed, revoked, expired — which is what people search; indexing every success would
    /// cost ingest several times over. Other searches read a bounded window.
    pub fn text_indexed(&self) -> bool {
        !self.states.is_empty() && self.states.iter().all(|s| s.text_indexed())
    }
}

/// Most tasks one page holds.
pub const MAX_PAGE: u32 = 500;
/// Tasks per page unless asked otherwise.
pub const DEFAULT_PAGE: u32 = 50;

/// A task list as asked for in a URL: the query string of `GET /api/v1/tasks` and of the
/// tasks page, the same keys in both. [`TaskQuery::parse`] turns it into a filter and a page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    /// Queue names, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// States, comma-separated: pending, running, success, failed, killed, revoked, expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The last stretch of time up to now: 15m, 1h, 6h, 24h or 7d (instead of from/to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Earliest start (else publish) time, epoch seconds, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<f64>,
    /// Latest start (else publish) time, epoch seconds, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<f64>,
    /// Exception type, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_type: Option<String>,
    /// Host name, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Function name, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Text contained in params, result or exception message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Exact task id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Task id prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id_prefix: Option<String>,
    /// Cursor from a previous page's `older`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older: Option<String>,
    /// Cursor from a previous page's `newer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer: Option<String>,
    /// Page size, 1–500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The quick ranges of the tasks page, as `range` values and their seconds.
pub const RANGES: [(&str, f64); 5] = [
    ("15m", 900.0),
    ("1h", 3_600.0),
    ("6h", 21_600.0),
    ("24h", 86_400.0),
    ("7d", 604_800.0),
];

fn list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl TaskQuery {
    /// The filter, the page and its size, or what is wrong with the query. `now` (epoch
    /// seconds) resolves a `range`.
    pub fn parse(&self, now: f64) -> Result<(TaskFilter, PageAt, u32), String> {
        let states = list(&self.state)
            .iter()
            .map(|s| {
                TaskState::parse(s).ok_or_else(|| {
                    format!("unknown state {s:?}; expected pending, running, success, failed, killed, revoked or expired")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = |name: &str, c: &str| {
            Cursor::decode(c)
                .ok_or_else(|| format!("`{name}` is not a cursor from a previous page"))
        };
        let at = match (&self.older, &self.newer) {
            (Some(_), Some(_)) => return Err("give `older` or `newer`, not both".into()),
            (Some(c), None) => PageAt::Older(cursor("older", c)?),
            (None, Some(c)) => PageAt::Newer(cursor("newer", c)?),
            (None, None) => PageAt::First,
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(format!("`limit` must be between 1 and {MAX_PAGE}"));
        }
        let (mut from, mut to) = (self.from, self.to);
        if let Some(range) = non_empty(&self.range) {
            if from.is_some() || to.is_some() {
                return Err("give `range` or `from`/`to`, not both".into());
            }
            let (_, seconds) = RANGES.iter().find(|(r, _)| *r == range).ok_or_else(|| {
                format!("unknown range {range:?}; expected 15m, 1h, 6h, 24h or 7d")
            })?;
            from = Some(now - seconds);
            to = None;
        }
        for (name, v) in [("from", from), ("to", to)] {
            if v.is_some_and(|v| !v.is_finite()) {
                return Err(format!("`{name}` must be epoch seconds"));
            }
        }
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err("`from` must be before `to`".into());
            }
        }
        let text = non_empty(&self.q);
        if text.as_ref().is_some_and(|t| t.chars().count() < TEXT_MIN) {
            return Err(format!("search text needs at least {TEXT_MIN} characters"));
        }
        let filter = TaskFilter {
            queues: list(&self.queue),
            states,
            from,
            to,
            exception_type: non_empty(&self.exception_type),
            host: non_empty(&self.host),
            function: non_empty(&self.function),
            text,
            task_id: non_empty(&self.task_id),
            task_id_prefix: non_empty(&self.task_id_prefix),
        };
        Ok((filter, at, limit))
    }
}

/// Which page of a filtered list: the first, or the one before/after a cursor.
#[derive(Clone, Debug, PartialEq)]
pub enum PageAt {
    /// The newest tasks.
    First,
    /// The tasks just older than the cursor.
    Older(Cursor),
    /// The tasks just newer than the cursor.
    Newer(Cursor),
}

/// Position in a newest-first list: `sort_time` then `task_id`, both descending.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    /// The `sort_time` of the task at the edge of a page.
    pub sort_time: f64,
    /// Its task id (which breaks ties).
    pub task_id: String,
}

impl Cursor {
    /// As it travels in a URL.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.sort_time, self.task_id)
    }

    /// A cursor from its URL form, or `None` for a malformed one.
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
    fn queries_parse_into_filters_or_say_what_is_wrong() {
        let q = TaskQuery {
            queue: Some("a, b,".into()),
            state: Some("failed,killed".into()),
            range: Some("1h".into()),
            q: Some("  ".into()),
            task_id_prefix: Some("ab".into()),
            ..TaskQuery::default()
        };
        let (f, at, limit) = q.parse(10_000.0).unwrap();
        assert_eq!(f.queues, vec!["a", "b"]);
        assert_eq!(f.states, vec![TaskState::Failed, TaskState::Killed]);
        assert_eq!((f.from, f.to), (Some(6_400.0), None));
        assert_eq!(f.text, None, "blank text filters nothing");
        assert_eq!(f.task_id_prefix.as_deref(), Some("ab"));
        assert_eq!((at, limit), (PageAt::First, DEFAULT_PAGE));
        assert!(f.text_indexed() || f.text.is_none());

        // The text index holds unsuccessful final states only; short text is refused.
        let text = |state: &str, q: &str| TaskQuery {
            state: Some(state.into()),
            q: Some(q.into()),
            ..TaskQuery::default()
        };
        let indexed = |state: &str| text(state, "boom").parse(0.0).unwrap().0.text_indexed();
        assert!(indexed("failed,killed,revoked,expired"));
        assert!(!indexed("failed,success"));
        assert!(!indexed("running"));
        assert!(!indexed(""));
        assert!(text("", "中文字").parse(0.0).is_ok());
        let short = text("", " 中文 ").parse(0.0).unwrap_err();
        assert!(short.contains("at least 3 characters"), "{short}");

        let bad = |q: TaskQuery| q.parse(0.0).unwrap_err();
        assert!(bad(TaskQuery {
            state: Some("done".into()),
            ..Default::default()
        })
        .contains("unknown state"));
        assert!(bad(TaskQuery {
            range: Some("2w".into()),
            ..Default::default()
        })
        .contains("unknown range"));
        assert!(bad(TaskQuery {
            range: Some("1h".into()),
            from: Some(1.0),
            ..Default::default()
        })
        .contains("not both"));
        assert!(bad(TaskQuery {
            from: Some(5.0),
            to: Some(5.0),
            ..Default::default()
        })
        .contains("before"));
        assert!(bad(TaskQuery {
            limit: Some(0),
            ..Default::default()
        })
        .contains("limit"));
        assert!(bad(TaskQuery {
            older: Some("x".into()),
            ..Default::default()
        })
        .contains("cursor"));
        assert!(bad(TaskQuery {
            older: Some("1~a".into()),
            newer: Some("1~a".into()),
            ..Default::default()
        })
        .contains("not both"));
    }

    #[test]
    fn counts_stop_at_the_cap() {
        assert_eq!(
            TaskTotal::capped(3),
            TaskTotal {
                count: 3,
                more: false
            }
        );
        assert_eq!(
            TaskTotal::capped(COUNT_CAP),
            TaskTotal {
                count: COUNT_CAP,
                more: false
            }
        );
        assert_eq!(
            TaskTotal::capped(COUNT_CAP + 1),
            TaskTotal {
                count: COUNT_CAP,
                more: true
            }
        );
    }

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
