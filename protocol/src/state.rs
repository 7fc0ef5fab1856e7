//! The state machine of a task.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task is in its life. `pending → running → success | failed | killed | revoked |
/// expired`; the last five are final and never change again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Published, not started (or requeued after an attempt).
    Pending,
    /// A consumer runs it now.
    Running,
    /// Finished and returned a result.
    Success,
    /// Finished with an exception, after every retry.
    Failed,
    /// Stopped while running, on request.
    Killed,
    /// Never ran: revoked (or deleted) while it waited.
    Revoked,
    /// Never ran: it waited longer than its expiry.
    Expired,
}

impl TaskState {
    /// Every state, in the order of the state machine.
    pub const ALL: [TaskState; 7] = [
        TaskState::Pending,
        TaskState::Running,
        TaskState::Success,
        TaskState::Failed,
        TaskState::Killed,
        TaskState::Revoked,
        TaskState::Expired,
    ];

    /// The state's name in the API and the event format.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Success => "success",
            TaskState::Failed => "failed",
            TaskState::Killed => "killed",
            TaskState::Revoked => "revoked",
            TaskState::Expired => "expired",
        }
    }

    /// The state `s` names, as [`TaskState::as_str`] spells it.
    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether it never changes again (every state after running).
    pub fn is_final(self) -> bool {
        self.rank() == 2
    }

    /// Order of the state machine: a record only moves to a higher rank.
    pub fn rank(self) -> u8 {
        match self {
            TaskState::Pending => 0,
            TaskState::Running => 1,
            _ => 2,
        }
    }

    /// The state machine, on (rank, run_times) of the stored record and of a newer event:
    /// the rank rises; or a running task reports a later attempt; or a running task is
    /// requeued (pending again, carrying the attempt it reached, at least 1 — a late publish
    /// event carries 0 and changes nothing). The SQL stores spell the same rule in
    /// `task_upsert_tail` of the server's SQL store.
    pub fn advances(old_rank: u8, old_runs: i64, new_rank: u8, new_runs: i64) -> bool {
        new_rank > old_rank
            || (old_rank == 1 && new_rank == 1 && new_runs > old_runs)
            || (old_rank == 1 && new_rank == 0 && new_runs >= 1 && new_runs >= old_runs)
    }

    /// Small stable code used as the column value in SQL stores.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Finished without success: the states the text index holds (codes 3 and up; the
    /// migrations' partial indexes and triggers say `state >= 3`).
    pub fn text_indexed(self) -> bool {
        self.code() >= TaskState::Failed.code()
    }

    /// The state a stored [`TaskState::code`] stands for.
    pub fn from_code(code: i16) -> Option<TaskState> {
        TaskState::ALL.get(usize::try_from(code).ok()?).copied()
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
