//! Which command applies to a task in which state, and which consumers can carry it out —
//! written once, for single commands and bulk ones alike.

use protocol::control::Action;
use protocol::event::TaskState;
use protocol::heartbeat::{kind_of, Consumer, Liveness};
use protocol::queue::Abilities;
use protocol::ServiceError;

/// Whether `action` applies to a task in `state` (`None`: taskdeck has no record of it). A
/// message still waiting in the broker may have no record yet (funboost records a task when it
/// starts): revoke, priority and delete take it when its queue is named.
pub fn applies(action: Action, state: Option<TaskState>, queue_named: bool) -> bool {
    match (action, state) {
        (Action::Kill, Some(TaskState::Running)) => true,
        (Action::Revoke | Action::Priority | Action::Delete, Some(TaskState::Pending)) => true,
        (Action::Revoke | Action::Priority | Action::Delete, None) => queue_named,
        (Action::Retry, Some(s)) => s.is_final() && s != TaskState::Success,
        // Run again with changes: any task taskdeck knows.
        (Action::Publish, Some(_)) => true,
        _ => false,
    }
}

/// Why `action` does not apply to task `id` in `state`.
pub fn refusal(action: Action, state: Option<TaskState>, id: &str) -> ServiceError {
    match (action, state) {
        (Action::Revoke | Action::Priority | Action::Delete, None) => ServiceError::not_found(format!(
            "no task `{id}` recorded; for a message still waiting in the broker, name its queue (`?queue=`)"
        )),
        (_, None) => ServiceError::not_found(format!("no task `{id}`")),
        (Action::Kill, Some(TaskState::Pending)) => {
            ServiceError::conflict("the task has not started: revoke it instead")
        }
        (Action::Revoke | Action::Delete, Some(TaskState::Running)) => {
            ServiceError::conflict("the task is running: kill it instead")
        }
        (_, Some(s)) => ServiceError::conflict(format!(
            "the task is {}: nothing to {}",
            s.as_str(),
            action.code()
        )),
    }
}

/// Whether the queue's live consumers can do `action`: `None` when they can (or when none is
/// alive: the command waits for one), otherwise why not.
pub fn unsupported_by(
    action: Action,
    consumers: &[Consumer],
    params: Option<&serde_json::Value>,
) -> Option<String> {
    let alive: Vec<&Consumer> = consumers
        .iter()
        .filter(|c| c.liveness == Liveness::Alive)
        .collect();
    if alive.is_empty()
        || matches!(
            action,
            Action::Pause
                | Action::Resume
                | Action::Retry
                | Action::Publish
                | Action::Redrive
                | Action::Discard
                | Action::Clear
                | Action::Requeue
                | Action::Priority
        )
    {
        // Every worker kind honours pause: funboost by its flag, taskdeck's by both. A retry
        // is only a new message.
        return None;
    }
    let can = |c: &&Consumer| {
        if kind_of(&c.heartbeat) == "funboost" {
            action != Action::Limits && funboost_can_kill(params)
        } else {
            c.heartbeat
                .capabilities
                .iter()
                .any(|k| k == action.capability())
        }
    };
    if alive.iter().any(can) {
        return None;
    }
    let all_funboost = alive.iter().all(|c| kind_of(&c.heartbeat) == "funboost");
    Some(if all_funboost && action == Action::Limits {
        "funboost reads `qps` and `concurrent_num` only when a worker starts: change the booster \
         and restart its workers"
            .to_owned()
    } else if all_funboost {
        "its funboost consumers cannot: remote kill needs `is_support_remote_kill_task=True` \
         and `concurrent_mode=threading` in the booster"
            .to_owned()
    } else {
        format!(
            "no live consumer of the queue advertises `{}`",
            action.capability()
        )
    })
}

/// Why the queue's broker kind does not allow `action` (browsing, moving, clearing, requeueing,
/// publishing), if it does not; pause, resume, kill and revoke use funboost's own keys and work
/// for every kind.
pub fn unsupported_by_kind(action: Action, abilities: &Abilities) -> Option<String> {
    match action {
        Action::Priority => abilities.reorder.clone(),
        Action::Delete => abilities.browse.clone(),
        Action::Clear => abilities.clear.clone(),
        Action::Requeue => abilities.requeue.clone(),
        Action::Retry | Action::Publish => abilities.publish.clone(),
        Action::Redrive => abilities.browse.clone().or(abilities.publish.clone()),
        Action::Discard => abilities.browse.clone(),
        Action::Pause | Action::Resume | Action::Kill | Action::Revoke | Action::Limits => None,
    }
}

/// funboost kills (and revokes) only with `is_support_remote_kill_task` on threading workers.
fn funboost_can_kill(params: Option<&serde_json::Value>) -> bool {
    params.is_some_and(|p| {
        p.get("is_support_remote_kill_task")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
            && p.get("concurrent_mode")
                .and_then(|v| v.as_str())
                .is_none_or(|m| m == "threading")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_applies_to_its_states_only() {
        use TaskState::*;
        assert!(applies(Action::Kill, Some(Running), false));
        assert!(!applies(Action::Kill, Some(Pending), true));
        assert!(applies(Action::Revoke, Some(Pending), false));
        assert!(applies(Action::Delete, None, true));
        assert!(!applies(Action::Delete, None, false));
        assert!(!applies(Action::Kill, None, true));
        assert!(applies(Action::Retry, Some(Failed), false));
        assert!(!applies(Action::Retry, Some(Success), false));
        assert_eq!(refusal(Action::Kill, Some(Pending), "t").status(), 409);
        assert_eq!(refusal(Action::Kill, None, "t").status(), 404);
    }
}
