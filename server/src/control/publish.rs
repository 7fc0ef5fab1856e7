//! Publishing a task from the dashboard or a script: the arguments checked against the
//! signature the queue's consumers registered (funboost's own check), one message in funboost's
//! format built with its options (priority, countdown, RPC mode, the task it runs again), sent
//! as a command (recorded, audited), and — with RPC — the result awaited: funboost's RPC
//! result, or taskdeck's own record of the task once final, whichever comes first.

use super::{Args, Control, Facts, Requester, ServiceError};
use crate::broker::{Keeping, Target};
use protocol::control::{Action, PublishRequest, Published, TaskResult, RPC_TIMEOUT_MAX_S};
use protocol::event::TaskState;
use protocol::queue::Signature;
use serde_json::{Map, Value};
use std::time::Duration;
use taskdeck_worker::{Message, PublishOptions};

/// How long an RPC waits unless asked otherwise, seconds.
const RPC_TIMEOUT_DEFAULT_S: f64 = 30.0;
/// The longest countdown taken, seconds (a year).
const COUNTDOWN_MAX_S: f64 = 366.0 * 86_400.0;
/// How often taskdeck's record is looked at while an RPC waits.
const RECORD_POLL: Duration = Duration::from_millis(200);

/// The `extra` naming the task a new one comes from (a retry, a run again with changes).
pub(super) fn origin(task_id: Option<&str>) -> Map<String, Value> {
    let mut extra = Map::new();
    if let Some(id) = task_id {
        extra.insert("taskdeck_origin".into(), id.into());
    }
    extra
}

impl Control {
    /// Publishes one task to `queue`; with `rpc`, waits for its result.
    pub async fn publish(
        &self,
        who: &Requester<'_>,
        queue: &str,
        request: &PublishRequest,
    ) -> Result<Published, ServiceError> {
        let mut facts = Facts::new();
        let found = self.facts_of(&mut facts, queue).await?;
        let target = Target::of(queue, found.params.as_ref());
        if let Some(signature) = found.params.as_ref().and_then(Signature::of_params) {
            signature
                .check(&request.params)
                .map_err(ServiceError::invalid)?;
        }
        if let Some(id) = &request.rerun_of {
            let task = self
                .store
                .get_task(id)
                .await
                .map_err(super::unavailable)?
                .ok_or_else(|| ServiceError::not_found(format!("no task `{id}`")))?;
            if task.summary.queue != queue {
                return Err(ServiceError::invalid(format!(
                    "task `{id}` ran on `{}`: run it again on its own queue",
                    task.summary.queue
                )));
            }
        }
        let message = Message::build(request.params.clone(), &options(request, &target)?);
        let command = self
            .command_in(
                who,
                Action::Publish,
                Some(queue),
                request.rerun_of.as_deref(),
                Args::Publish(&message),
                &mut facts,
            )
            .await?;
        let mut published = Published {
            task_id: message.task_id.clone(),
            command,
            result: None,
            timed_out: false,
        };
        if request.rpc {
            let wait = request.timeout_s.unwrap_or(RPC_TIMEOUT_DEFAULT_S);
            published.result = self
                .result_of(&message.task_id, Duration::from_secs_f64(wait))
                .await;
            published.timed_out = published.result.is_none();
        }
        Ok(published)
    }

    /// The task's result, from funboost's RPC answer or taskdeck's record, whichever is first
    /// within `wait`.
    async fn result_of(&self, task_id: &str, wait: Duration) -> Option<TaskResult> {
        let from_rpc = async {
            match self.bus.rpc_result(task_id, wait).await {
                Ok(Some(status)) => Some(rpc_answer(&status)),
                Ok(None) => std::future::pending().await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read funboost's RPC result; waiting for the record");
                    std::future::pending().await
                }
            }
        };
        let from_record = async {
            loop {
                if let Ok(Some(t)) = self.store.get_task(task_id).await {
                    if t.summary.state.is_final() {
                        return TaskResult {
                            state: t.summary.state,
                            result: t.result,
                            exception_type: t.summary.exception_type,
                            exception_msg: t.summary.exception_msg,
                            source: "record".into(),
                        };
                    }
                }
                tokio::time::sleep(RECORD_POLL).await;
            }
        };
        tokio::select! {
            Some(r) = from_rpc => Some(r),
            r = from_record => Some(r),
            _ = tokio::time::sleep(wait) => None,
        }
    }
}

/// The message options a request asks for, on this queue's kind.
fn options(request: &PublishRequest, target: &Target) -> Result<PublishOptions, ServiceError> {
    let mut options = PublishOptions::default();
    if let Some(p) = request.priority {
        if !p.is_finite() {
            return Err(ServiceError::invalid("`priority` is a number"));
        }
        match &target.kind.keeping {
            Keeping::Lists { max_priority, .. } if *max_priority > 0 => {
                options.priority = Some(p.clamp(0.0, f64::from(*max_priority)).round() as u8);
                options.max_priority = Some(*max_priority);
            }
            Keeping::PriorityZset => options.zset_priority = Some(p),
            _ => {
                return Err(ServiceError::invalid(
                    "this queue has no priorities (funboost's REDIS_PRIORITY and REDIS_ZSET_PRIORITY have)",
                ))
            }
        }
    }
    let now = crate::model::now_epoch();
    let countdown = match (request.countdown_s, request.eta) {
        (Some(_), Some(_)) => {
            return Err(ServiceError::invalid(
                "give `countdown_s` or `eta`, not both",
            ))
        }
        (Some(c), None) => Some(c),
        (None, Some(eta)) => Some(eta - now),
        (None, None) => None,
    };
    if let Some(c) = countdown {
        if !(-60.0..=COUNTDOWN_MAX_S).contains(&c) {
            return Err(ServiceError::invalid(
                "`countdown_s` is 0 s to a year, and `eta` a time within the coming year",
            ));
        }
        if c > 0.0 {
            options.extra.insert("countdown".into(), c.into());
        }
    }
    if request.rpc {
        let wait = request.timeout_s.unwrap_or(RPC_TIMEOUT_DEFAULT_S);
        if !(1.0..=RPC_TIMEOUT_MAX_S).contains(&wait) {
            return Err(ServiceError::invalid(format!(
                "`timeout_s` is 1–{RPC_TIMEOUT_MAX_S} s"
            )));
        }
        options
            .extra
            .insert("is_using_rpc_mode".into(), true.into());
    }
    options.extra.extend(origin(request.rerun_of.as_deref()));
    Ok(options)
}

/// funboost's RPC answer (its status dict) as a result.
fn rpc_answer(status: &Value) -> TaskResult {
    let text = |k: &str| status.get(k).and_then(Value::as_str).map(str::to_owned);
    let success = status.get("success").and_then(Value::as_bool) == Some(true);
    TaskResult {
        state: if success {
            TaskState::Success
        } else {
            TaskState::Failed
        },
        result: status
            .get("result")
            .filter(|_| success)
            .map(|r| r.to_string()),
        exception_type: text("exception_type"),
        exception_msg: text("exception_msg"),
        source: "rpc".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(kind: Value) -> Target {
        Target::of("q", Some(&kind))
    }

    #[test]
    fn options_follow_the_queue_kind() {
        let levels = target(
            json!({"broker_kind": "REDIS_PRIORITY", "broker_exclusive_config": {"x-max-priority": 4}}),
        );
        let ask = |v: Value| serde_json::from_value::<PublishRequest>(v).unwrap();
        let o = options(&ask(json!({"params": {}, "priority": 9})), &levels).unwrap();
        assert_eq!((o.priority, o.max_priority), (Some(4), Some(4)));
        let zset = target(json!({"broker_kind": "REDIS_ZSET_PRIORITY"}));
        let o = options(&ask(json!({"params": {}, "priority": 2.5})), &zset).unwrap();
        assert_eq!(o.zset_priority, Some(2.5));
        let plain = target(json!({"broker_kind": "REDIS_ACK_ABLE"}));
        assert!(options(&ask(json!({"params": {}, "priority": 1})), &plain).is_err());
        let o = options(
            &ask(json!({"params": {}, "countdown_s": 30, "rpc": true, "rerun_of": "t1"})),
            &plain,
        )
        .unwrap();
        assert_eq!(
            (
                &o.extra["countdown"],
                &o.extra["is_using_rpc_mode"],
                &o.extra["taskdeck_origin"]
            ),
            (&json!(30.0), &json!(true), &json!("t1"))
        );
        for bad in [
            json!({"params": {}, "countdown_s": 1e9}),
            json!({"params": {}, "countdown_s": 5, "eta": 5}),
            json!({"params": {}, "rpc": true, "timeout_s": 0.2}),
        ] {
            assert!(options(&ask(bad.clone()), &plain).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_rpc_answer_reads_funboosts_status_dict() {
        let ok =
            rpc_answer(&json!({"success": true, "result": {"sum": 3}, "exception_type": null}));
        assert_eq!(
            (ok.state, ok.result.as_deref(), ok.source.as_str()),
            (TaskState::Success, Some(r#"{"sum":3}"#), "rpc")
        );
        let failed = rpc_answer(&json!({"success": false, "result": "FUNC_RUN_ERROR",
            "exception_type": "ValueError", "exception_msg": "no"}));
        assert_eq!(
            (
                failed.state,
                failed.result,
                failed.exception_type.as_deref()
            ),
            (TaskState::Failed, None, Some("ValueError"))
        );
    }
}
