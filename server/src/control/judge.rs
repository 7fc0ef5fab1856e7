//! What became of a command: judged from what the workers report — taskdeck consumers'
//! heartbeats carry the desired-state version they applied, a killed or revoked task's record
//! says it ended that way, and funboost consumers (which cannot confirm) are given their
//! heartbeat's time to pick up a pause.

use crate::store::CommandRow;
use protocol::control::{Action, Command, CommandState};
use protocol::event::TaskState;
use protocol::heartbeat::{kind_of, Consumer, Liveness};

/// funboost consumers read the pause flag within their 10 s heartbeat; after this long a
/// funboost-only pause counts as taken (they never confirm).
pub const FUNBOOST_PICKUP_S: f64 = 15.0;

/// The command's state now, from the queue's live consumers, its desired state and (for kill
/// and revoke) the task's state and end.
pub fn judge(
    row: &CommandRow,
    now: f64,
    consumers: &[Consumer],
    task: Option<(TaskState, Option<f64>)>,
) -> Command {
    let action = row.action;
    let alive: Vec<&Consumer> = consumers
        .iter()
        .filter(|c| c.liveness == Liveness::Alive)
        .collect();
    let funboost = alive
        .iter()
        .filter(|c| kind_of(&c.heartbeat) == "funboost")
        .count() as u32;
    let confirming: Vec<&&Consumer> = alive
        .iter()
        .filter(|c| kind_of(&c.heartbeat) != "funboost")
        .collect();
    let version = row.version.map(|v| v as u64);
    let applied = version.map_or(0, |v| {
        confirming
            .iter()
            .filter(|c| c.heartbeat.control_version >= v)
            .count() as u32
    });
    let mut out = Command {
        id: row.id.clone(),
        action,
        queue: row.queue.clone(),
        task_id: row.task_id.clone(),
        actor: row.actor.clone(),
        requested_at: row.requested_at,
        sent_at: row.sent_at,
        version,
        state: CommandState::Sent,
        applied,
        confirmable: confirming.len() as u32,
        funboost,
        done_at: None,
        outcome: row.outcome.clone(),
        detail: row.detail.clone(),
        ended_as: None,
    };
    let Some(sent_at) = row.sent_at else {
        out.state = CommandState::Failed;
        return out;
    };
    if action.done_when_sent() {
        // The message is published, moved or deleted, the lists are emptied.
        out.state = CommandState::Applied;
        out.done_at = Some(sent_at);
        return out;
    }
    // Without a live consumer a pause or new limits wait for the next one to start; the
    // counts say so.
    match action {
        Action::Limits => {
            if out.confirmable > 0 && applied == out.confirmable {
                out.state = CommandState::Applied;
            }
        }
        Action::Pause | Action::Resume => {
            let confirmed = out.confirmable > 0 && applied == out.confirmable;
            let funboost_had_time = funboost > 0 && now - sent_at >= FUNBOOST_PICKUP_S;
            let someone = out.confirmable + funboost > 0;
            if someone
                && (confirmed || out.confirmable == 0)
                && (funboost == 0 || funboost_had_time)
            {
                out.state = CommandState::Applied;
            }
        }
        Action::Kill | Action::Revoke => match task {
            Some((TaskState::Killed | TaskState::Revoked, end)) => {
                out.state = CommandState::Applied;
                out.done_at = end;
            }
            Some((state, end)) if state.is_final() => {
                out.state = CommandState::Failed;
                out.done_at = end;
                out.ended_as = Some(state);
                out.detail = format!(
                    "the task ended {} before the command took effect",
                    state.as_str()
                );
            }
            _ => {}
        },
        _ => unreachable!("done when sent"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{rules::unsupported_by, send::retry_kwargs};
    use super::*;
    use protocol::control::Outcome;
    use protocol::heartbeat::Heartbeat;

    fn consumer(kind: &str, version: u64, alive: bool, capabilities: &[&str]) -> Consumer {
        Consumer {
            age_s: if alive { 1.0 } else { 30.0 },
            liveness: if alive {
                Liveness::Alive
            } else {
                Liveness::Stale
            },
            kind: kind.to_owned(),
            heartbeat: Heartbeat {
                queue_name: "q".into(),
                worker_kind: if kind == "funboost" {
                    String::new()
                } else {
                    kind.to_owned()
                },
                control_version: version,
                capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
                ..Default::default()
            },
        }
    }

    fn row(action: Action, sent_at: Option<f64>, version: Option<i64>) -> CommandRow {
        CommandRow {
            id: "c".into(),
            requested_at: 100.0,
            sent_at,
            actor: "user:a".into(),
            action,
            queue: "q".into(),
            task_id: None,
            version,
            outcome: None,
            detail: String::new(),
        }
    }

    #[test]
    fn a_pause_is_applied_when_every_taskdeck_consumer_confirms_it() {
        let pause = row(Action::Pause, Some(100.0), Some(7));
        let rust = |v| consumer("taskdeck-rust", v, true, &["pause"]);
        let c = judge(
            &pause,
            101.0,
            &[rust(7), rust(6), consumer("taskdeck-rust", 1, false, &[])],
            None,
        );
        assert_eq!(
            (c.state, c.applied, c.confirmable, c.funboost),
            (CommandState::Sent, 1, 2, 0)
        );
        let c = judge(&pause, 101.0, &[rust(7), rust(8)], None);
        assert_eq!((c.state, c.applied), (CommandState::Applied, 2));
        // funboost consumers never confirm: applied once their 10 s pickup has surely passed.
        let fb = consumer("funboost", 0, true, &[]);
        let c = judge(&pause, 105.0, &[rust(7), fb.clone()], None);
        assert_eq!((c.state, c.funboost), (CommandState::Sent, 1));
        let c = judge(&pause, 100.0 + FUNBOOST_PICKUP_S, &[rust(7), fb], None);
        assert_eq!(c.state, CommandState::Applied);
        // Nobody to apply it yet; never sent at all.
        let c = judge(&pause, 500.0, &[], None);
        assert_eq!(
            (c.state, c.confirmable, c.funboost),
            (CommandState::Sent, 0, 0)
        );
        assert_eq!(
            judge(&row(Action::Pause, None, None), 500.0, &[], None).state,
            CommandState::Failed
        );
    }

    #[test]
    fn retries_publish_and_limits_need_taskdeck_consumers() {
        let new_task = Outcome::Retried {
            task_id: "new-id".into(),
        };
        let retry = CommandRow {
            task_id: Some("t".into()),
            outcome: Some(new_task.clone()),
            ..row(Action::Retry, Some(100.0), None)
        };
        let c = judge(&retry, 100.0, &[], None);
        assert_eq!(
            (c.state, c.outcome, c.done_at),
            (CommandState::Applied, Some(new_task), Some(100.0))
        );
        let limits = CommandRow {
            outcome: Some(Outcome::Limits {
                qps: Some(5.0),
                concurrency: None,
            }),
            ..row(Action::Limits, Some(100.0), Some(3))
        };
        let fb = consumer("funboost", 0, true, &[]);
        let c = judge(&limits, 200.0, std::slice::from_ref(&fb), None);
        assert_eq!(
            (c.state, c.confirmable, c.funboost),
            (CommandState::Sent, 0, 1),
            "funboost never applies limits"
        );
        let c = judge(
            &limits,
            101.0,
            &[fb, consumer("taskdeck-rust", 3, true, &["qps"])],
            None,
        );
        assert_eq!(
            (c.state, c.applied, c.funboost),
            (CommandState::Applied, 1, 1)
        );
        assert_eq!(
            retry_kwargs(Some(r#"{"a": 1, "extra": {"task_id": "x"}}"#))
                .unwrap()
                .len(),
            1
        );
        assert!(retry_kwargs(Some("[1, 2]")).is_err());
        assert!(retry_kwargs(None).is_err());
    }

    #[test]
    fn a_kill_is_judged_by_how_the_task_ended() {
        let kill = CommandRow {
            task_id: Some("t".into()),
            ..row(Action::Kill, Some(100.0), None)
        };
        assert_eq!(
            judge(&kill, 101.0, &[], Some((TaskState::Running, None))).state,
            CommandState::Sent
        );
        let c = judge(&kill, 101.0, &[], Some((TaskState::Killed, Some(100.5))));
        assert_eq!((c.state, c.done_at), (CommandState::Applied, Some(100.5)));
        let c = judge(&kill, 101.0, &[], Some((TaskState::Success, Some(100.2))));
        assert_eq!(c.state, CommandState::Failed);
        assert_eq!(
            c.detail,
            "the task ended success before the command took effect"
        );
    }

    #[test]
    fn only_consumers_that_can_kill_are_asked_to() {
        let threading = serde_json::json!({"is_support_remote_kill_task": true, "concurrent_mode": "threading"});
        let plain = serde_json::json!({"is_support_remote_kill_task": false});
        let fb = [consumer("funboost", 0, true, &[])];
        assert_eq!(unsupported_by(Action::Kill, &fb, Some(&threading)), None);
        assert!(unsupported_by(Action::Kill, &fb, Some(&plain))
            .unwrap()
            .contains("is_support_remote_kill_task=True"));
        assert!(unsupported_by(Action::Revoke, &fb, None).is_some());
        assert_eq!(unsupported_by(Action::Pause, &fb, None), None);
        let rust = [consumer("taskdeck-rust", 0, true, &["pause", "kill"])];
        assert_eq!(unsupported_by(Action::Kill, &rust, None), None);
        assert!(unsupported_by(Action::Revoke, &rust, None)
            .unwrap()
            .contains("advertises `revoke`"));
        // funboost reads its limits only at start; taskdeck's workers change them live.
        assert!(unsupported_by(Action::Limits, &fb, Some(&threading))
            .unwrap()
            .contains("only when a worker starts"));
        assert_eq!(
            unsupported_by(
                Action::Limits,
                &[consumer("taskdeck-rust", 0, true, &["qps", "concurrency"])],
                None
            ),
            None
        );
        assert_eq!(unsupported_by(Action::Retry, &fb, Some(&plain)), None);
        // Without a live consumer the request waits for one.
        assert_eq!(
            unsupported_by(
                Action::Kill,
                &[consumer("funboost", 0, false, &[])],
                Some(&plain)
            ),
            None
        );
    }
}
