//! taskdeck's desired state of a queue: what its control plane wants every taskdeck consumer of
//! the queue to do. Each change gets the next version; consumers report the version they
//! applied in their heartbeats, so the dashboard can say how many have applied a command.

use serde::{Deserialize, Serialize};

/// The desired state of one queue, as stored under `taskdeck:desired:<queue>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Desired {
    /// 0 until the control plane sets anything.
    pub version: u64,
    /// Start no new task.
    pub paused: bool,
    /// Tasks per second (shared by the queue's consumers when they use distributed QPS);
    /// `None`: each consumer's own setting.
    pub qps: Option<f64>,
    /// Tasks at once per consumer; `None`: each consumer's own setting.
    pub concurrency: Option<u32>,
}

/// What a command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Stop starting tasks of the queue (running ones finish).
    Pause,
    /// Start tasks of a paused queue again.
    Resume,
    /// Stop a running task.
    Kill,
    /// A waiting task never runs.
    Revoke,
    /// Change the queue's QPS and concurrency (taskdeck workers; funboost reads them only at
    /// start).
    Limits,
    /// Publish a finished task's params again as a new task (the old record stays).
    Retry,
    /// Remove every message waiting in the queue (not those being run).
    Clear,
    /// Put back the messages consumers that stopped heartbeating still hold (funboost's orphan
    /// requeue, now instead of within its 60 s pass).
    Requeue,
    /// Move a waiting task to the front of its queue, or give it another priority.
    Priority,
    /// Take a waiting message out of the queue at once (a revoke waits for a worker to take
    /// it; this works with no worker running, and on messages taskdeck has no record of).
    Delete,
    /// Publish a new task to the queue (from a form, a script, or a task run again with
    /// changes).
    Publish,
    /// Put dead-lettered messages (`<queue>_dlx`) back on their queue.
    Redrive,
    /// Delete dead-lettered messages.
    Discard,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 13] = [
        Action::Pause,
        Action::Resume,
        Action::Kill,
        Action::Revoke,
        Action::Limits,
        Action::Retry,
        Action::Clear,
        Action::Requeue,
        Action::Priority,
        Action::Delete,
        Action::Publish,
        Action::Redrive,
        Action::Discard,
    ];

    /// The action's name in the API, the store and the audit log.
    pub fn code(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Kill => "kill",
            Action::Revoke => "revoke",
            Action::Limits => "limits",
            Action::Retry => "retry",
            Action::Clear => "clear",
            Action::Requeue => "requeue",
            Action::Priority => "priority",
            Action::Delete => "delete",
            Action::Publish => "publish",
            Action::Redrive => "redrive",
            Action::Discard => "discard",
        }
    }

    /// The action `s` names, as [`Action::code`] spells it.
    pub fn from_code(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == s)
    }

    /// Whether it is done the moment it is sent (published, moved, deleted, emptied), rather
    /// than confirmed later by the workers or the task's record.
    pub fn done_when_sent(self) -> bool {
        matches!(
            self,
            Action::Retry
                | Action::Clear
                | Action::Requeue
                | Action::Priority
                | Action::Delete
                | Action::Publish
                | Action::Redrive
                | Action::Discard
        )
    }

    /// The worker capability it needs.
    pub fn capability(self) -> &'static str {
        match self {
            Action::Pause | Action::Resume => "pause",
            Action::Kill => "kill",
            Action::Revoke => "revoke",
            Action::Limits => "qps",
            Action::Retry
            | Action::Clear
            | Action::Requeue
            | Action::Priority
            | Action::Delete
            | Action::Publish
            | Action::Redrive
            | Action::Discard => "",
        }
    }

    /// Whether it changes the queue's desired state (confirmed through heartbeats).
    pub fn is_desired_state(self) -> bool {
        matches!(self, Action::Pause | Action::Resume | Action::Limits)
    }
}

/// New limits for a queue's consumers; `null` gives each consumer back its own setting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Tasks per second for the queue (shared by consumers using distributed QPS), > 0.
    pub qps: Option<f64>,
    /// Tasks at once per consumer, 1–10,000.
    pub concurrency: Option<u32>,
}

impl Limits {
    /// Whether the limits are in range; otherwise what is wrong, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.qps.is_some_and(|q| !(q > 0.0 && q <= 1_000_000.0)) {
            return Err(
                "`qps` is a number of tasks per second above 0 (at most 1,000,000), or null".into(),
            );
        }
        if self.concurrency.is_some_and(|c| !(1..=10_000).contains(&c)) {
            return Err("`concurrency` is 1–10,000 tasks at once, or null".into());
        }
        Ok(())
    }
}

/// Where a command stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Written to the control channel; not yet seen applied by every consumer.
    Sent,
    /// Every live consumer that reports it applied it (taskdeck workers), or the task reached
    /// the state asked for.
    Applied,
    /// The task ended otherwise (it finished before the kill arrived), or a newer command
    /// replaced this one before it was applied.
    Failed,
    /// No consumer of the queue can do it (e.g. funboost without remote kill).
    Unsupported,
}

/// A command with what is known of its effect now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Command {
    /// A UUIDv7: ordered by time.
    pub id: String,
    /// What it asks for.
    pub action: Action,
    /// The queue it is for (a task's queue for a task's command).
    pub queue: String,
    /// The task it is for, for kill, revoke, retry, priority and delete.
    pub task_id: Option<String>,
    /// `user:<name>` or `token:<id> (<name>)`.
    pub actor: String,
    /// Epoch seconds: recorded, then written to the control channel.
    pub requested_at: f64,
    /// When it reached the control channel or the broker; `None` when sending failed.
    pub sent_at: Option<f64>,
    /// The desired-state version it set (pause, resume).
    pub version: Option<u64>,
    /// Where it stands now.
    pub state: CommandState,
    /// Live consumers of the queue that confirmed it (taskdeck workers report the version they
    /// applied in their heartbeats) …
    pub applied: u32,
    /// … of the live consumers that can confirm it.
    pub confirmable: u32,
    /// Live funboost consumers: they read funboost's flag within their 10 s heartbeat and one
    /// more task may start; they do not confirm.
    pub funboost: u32,
    /// When the state was reached, when known.
    pub done_at: Option<f64>,
    /// What sending it did (the limits set, where the task went, a retry's new task, how many
    /// messages went); `None` for pause, resume, kill and revoke, and for commands not sent.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Why it was not sent or took no effect, in words; empty otherwise.
    pub detail: String,
    /// How the task ended when it ended otherwise than the command asked.
    #[serde(default)]
    pub ended_as: Option<crate::event::TaskState>,
}

/// What sending a command did, as fields a program can read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The limits a `limits` command set (`null`: each consumer's own setting).
    Limits {
        /// Tasks per second for the queue.
        qps: Option<f64>,
        /// Tasks at once per consumer.
        concurrency: Option<u32>,
    },
    /// Where a `priority` command moved the waiting task.
    Moved {
        /// To the front of its queue …
        front: bool,
        /// … or to this priority.
        priority: Option<f64>,
    },
    /// The new task a `retry` published.
    Retried {
        /// The new task's id.
        task_id: String,
    },
    /// Messages a `clear` removed.
    Cleared {
        /// How many.
        removed: u64,
    },
    /// Messages held by stopped consumers that a `requeue` put back.
    Requeued {
        /// How many, each at the tail of its list.
        put_back: u64,
    },
    /// A `delete` took the message out and recorded the task as revoked.
    Deleted,
    /// The task a `publish` put on the queue.
    Published {
        /// Its task id.
        task_id: String,
    },
    /// Dead letters a `redrive` put back on their queue.
    Redriven {
        /// How many.
        moved: u64,
    },
    /// Dead letters a `discard` deleted.
    Discarded {
        /// How many.
        removed: u64,
    },
}

/// In words, for the audit log and people reading the API.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let own = |v: Option<String>| v.unwrap_or_else(|| "own".to_owned());
        match self {
            Outcome::Limits { qps, concurrency } => write!(
                f,
                "qps {}, concurrency {}",
                own(qps.map(|q| q.to_string())),
                own(concurrency.map(|c| c.to_string()))
            ),
            Outcome::Moved { front: true, .. } => f.write_str("to the front of the queue"),
            Outcome::Moved { priority, .. } => {
                write!(f, "to priority {}", priority.unwrap_or_default())
            }
            Outcome::Retried { task_id } => write!(f, "published again as task {task_id}"),
            Outcome::Cleared { removed } => write!(f, "{removed} waiting messages removed"),
            Outcome::Requeued { put_back } => {
                write!(f, "{put_back} messages held by stopped consumers put back")
            }
            Outcome::Deleted => f.write_str("deleted from the queue; recorded as revoked"),
            Outcome::Published { task_id } => write!(f, "published as task {task_id}"),
            Outcome::Redriven { moved } => write!(f, "{moved} dead letters put back on the queue"),
            Outcome::Discarded { removed } => write!(f, "{removed} dead letters deleted"),
        }
    }
}

/// A task to publish: `POST /api/v1/queues/{queue}/publish`. One message in funboost's format
/// (task id, publish time, `extra`) lands where the queue's kind keeps its messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The call's keyword arguments (checked against the signature its consumers registered).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// funboost's REDIS_PRIORITY level or REDIS_ZSET_PRIORITY score.
    #[serde(default)]
    pub priority: Option<f64>,
    /// Run it no sooner than this many seconds from now (funboost's `countdown`).
    #[serde(default)]
    pub countdown_s: Option<f64>,
    /// Run it no sooner than this time, epoch seconds (sent as a countdown: funboost reads an
    /// `eta` string in its own time zone, which taskdeck does not know).
    #[serde(default)]
    pub eta: Option<f64>,
    /// Wait for the result (funboost's RPC mode), at most `timeout_s`.
    #[serde(default)]
    pub rpc: bool,
    /// How long to wait with `rpc`: 1–300 s, default 30.
    #[serde(default)]
    pub timeout_s: Option<f64>,
    /// The task this one runs again with changes; the two are linked both ways.
    #[serde(default)]
    pub rerun_of: Option<String>,
}

/// Longest wait for an RPC result, seconds.
pub const RPC_TIMEOUT_MAX_S: f64 = 300.0;

/// What `POST /api/v1/queues/{queue}/publish` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Published {
    /// The new task's id.
    pub task_id: String,
    /// The publish command as recorded and audited.
    pub command: Command,
    /// With `rpc`: the result, when it came within `timeout_s`.
    pub result: Option<TaskResult>,
    /// With `rpc`: no result came within `timeout_s` (the task may still run).
    #[serde(default)]
    pub timed_out: bool,
}

/// How a task ended, as an RPC answer reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskResult {
    /// Its final state.
    pub state: crate::event::TaskState,
    /// The return value as JSON text.
    pub result: Option<String>,
    /// The exception's type, when it failed.
    pub exception_type: Option<String>,
    /// The exception's message.
    pub exception_msg: Option<String>,
    /// Where it was read: funboost's RPC result (`rpc`) or taskdeck's record (`record`).
    pub source: String,
}

/// Which dead letters a re-drive or discard takes: the listed task ids, or every one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct DeadLetters {
    /// Task ids (at most [`BULK_MAX`]); absent: every dead letter of the queue.
    pub ids: Option<Vec<String>>,
}

/// The typed confirmation `POST /queues/{queue}/clear` needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClearConfirm {
    /// The queue's name, typed again.
    pub confirm: String,
}

/// What can be done to one task now, and what was last asked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskControls {
    /// `None` when the queue's live consumers (or the next one to start) can kill it; otherwise
    /// why not.
    pub kill_unsupported: Option<String>,
    /// Like `kill_unsupported`, for a revoke.
    pub revoke_unsupported: Option<String>,
    /// The latest command of the task (a kill, a revoke, a retry, a run again).
    pub latest: Option<Command>,
    /// `None` when the task's queue takes new tasks from taskdeck; otherwise why not.
    #[serde(default)]
    pub publish_unsupported: Option<String>,
    /// The signature of the queue's function, for running the task again with changes.
    #[serde(default)]
    pub signature: Option<crate::queue::Signature>,
}

/// A command for many tasks at once: the listed ones, or every task a filter of the tasks page
/// (`GET /api/v1/tasks` keys, e.g. `state=failed&queue=orders&range=24h`) matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `kill`, `revoke`, `retry` or `delete`.
    pub action: Action,
    /// The tasks to act on (at most [`BULK_MAX`]); give either `ids` or `filter`.
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// A tasks-page query string: every task it matches, newest first.
    #[serde(default)]
    pub filter: Option<String>,
    /// With `ids`: the queue of listed tasks taskdeck has no record of yet (messages still
    /// waiting, which funboost records only when they start), for revoke and delete.
    #[serde(default)]
    pub queue: Option<String>,
}

/// Most tasks one bulk command takes on.
pub const BULK_MAX: usize = 10_000;

/// A bulk command's progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bulk {
    /// Names the job for `GET /api/v1/tasks/bulk/{id}`.
    pub id: String,
    /// What it does to each task.
    pub action: Action,
    /// Who started it, as the audit log names them.
    pub actor: String,
    /// Epoch seconds.
    pub started_at: f64,
    /// When the last task was done; `None` while it runs.
    pub finished_at: Option<f64>,
    /// Tasks read so far (of the ids, or matching the filter).
    pub matched: u64,
    /// Commands sent.
    pub sent: u64,
    /// Tasks not in a state the action applies to (e.g. a success for retry).
    pub skipped: u64,
    /// Commands that could not be sent; `errors` holds the first reasons.
    pub failed: u64,
    /// The first reasons commands could not be sent (at most 10).
    pub errors: Vec<String>,
    /// More than [`BULK_MAX`] tasks matched: the newest ones were done, the rest not.
    pub capped: bool,
}

/// Where a waiting task should go: `{"front": true}`, or `{"priority": 3}` (funboost's
/// REDIS_PRIORITY level or REDIS_ZSET_PRIORITY score).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct MoveTo {
    /// To the front of its queue, next to be taken.
    pub front: bool,
    /// To this priority instead.
    pub priority: Option<f64>,
}

/// A message waiting in a queue's broker lists, as the next consumer would take it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitingMessage {
    /// 0 is taken next.
    pub position: u64,
    /// The Redis key it waits under (`q`, `q:3` for a REDIS_PRIORITY level).
    pub key: String,
    /// `extra.task_id`; `None` for a message that is not funboost's JSON.
    pub task_id: Option<String>,
    /// Epoch seconds from `extra.publish_time`.
    pub publish_time: Option<f64>,
    /// funboost's priority (REDIS_PRIORITY level or REDIS_ZSET_PRIORITY score), when set.
    pub priority: Option<f64>,
    /// The call's keyword arguments as JSON text, cut to [`WAITING_PARAMS_MAX`] bytes.
    pub params: String,
    /// Size of the whole message in bytes.
    pub size: u64,
    /// The task's recorded state, when taskdeck has a record of it.
    pub state: Option<crate::event::TaskState>,
}

/// Bytes of a waiting message's params shown in a list.
pub const WAITING_PARAMS_MAX: usize = 2_000;

/// Most waiting messages one request reads.
pub const WAITING_PAGE_MAX: u32 = 200;

/// A page of a queue's waiting messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitingPage {
    /// The queue read.
    pub queue: String,
    /// When it was read (epoch seconds), for the messages' ages.
    pub now: f64,
    /// funboost's `broker_kind` of the layout read (REDIS_ACK_ABLE, REDIS_PRIORITY,
    /// REDIS_ZSET_PRIORITY).
    pub layout: String,
    /// Messages waiting in all of the queue's keys.
    pub total: u64,
    /// Position of the first message of the page.
    pub offset: u64,
    /// In the order consumers take them.
    pub messages: Vec<WaitingMessage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_travel_as_tagged_fields() {
        let cases = [
            (
                Outcome::Limits {
                    qps: Some(2.5),
                    concurrency: None,
                },
                r#"{"kind":"limits","qps":2.5,"concurrency":null}"#,
                "qps 2.5, concurrency own",
            ),
            (
                Outcome::Retried {
                    task_id: "t-2".into(),
                },
                r#"{"kind":"retried","task_id":"t-2"}"#,
                "published again as task t-2",
            ),
            (
                Outcome::Cleared { removed: 4 },
                r#"{"kind":"cleared","removed":4}"#,
                "4 waiting messages removed",
            ),
            (
                Outcome::Deleted,
                r#"{"kind":"deleted"}"#,
                "deleted from the queue; recorded as revoked",
            ),
        ];
        for (outcome, json, words) in cases {
            assert_eq!(serde_json::to_string(&outcome).unwrap(), json);
            assert_eq!(serde_json::from_str::<Outcome>(json).unwrap(), outcome);
            assert_eq!(outcome.to_string(), words);
        }
        assert!(serde_json::from_str::<Outcome>(r#"{"kind":"exploded"}"#).is_err());
    }
}
