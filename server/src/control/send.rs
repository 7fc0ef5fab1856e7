//! Sending one command: its arguments and target checked, recorded before it is sent (a crash
//! in between leaves it marked unsent), written to the control channel or the broker, recorded
//! with what it did, and audited.

use super::{
    judge, rules, unavailable, unsupported_by, Args, Control, Facts, Requester, ServiceError,
};
use crate::broker::{Moved, Placement, Target, SCAN_WAITING};
use crate::store::CommandRow;
use protocol::control::{Action, Command, Desired, Limits, Outcome};
use protocol::event::TaskState;

/// A command checked against its target, ready to record and send.
struct Plan<'a> {
    action: Action,
    queue: String,
    task: Option<String>,
    limits: Option<&'a Limits>,
    placement: Option<Placement>,
    /// A retry's keyword arguments.
    retry: Option<serde_json::Map<String, serde_json::Value>>,
    /// A publish's message.
    message: Option<&'a taskdeck_worker::Message>,
    /// The dead letters a re-drive or discard takes (`None`: all).
    dead: Option<&'a [String]>,
}

/// The target is not in a state the command can change (a message no longer waiting): the
/// caller's conflict, not an outage.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TargetRefused(String);

/// Whether sending failed because of the target (a conflict) rather than an outage.
fn refused_by_target(e: &anyhow::Error) -> bool {
    e.is::<TargetRefused>()
}

/// What writing a command to the control channel gave.
enum Sent {
    /// The desired-state version it set (pause, resume, limits).
    Version(u64),
    /// Done, and what it did when sending decides it (a retry's new task, messages removed).
    Did(Option<Outcome>),
    /// A message a delete took out of its queue, still to be recorded.
    TakenOut(String),
}

impl Control {
    /// Records, sends and audits one command; answers its state right after sending.
    pub async fn command(
        &self,
        who: &Requester<'_>,
        action: Action,
        queue: Option<&str>,
        task_id: Option<&str>,
        args: Args<'_>,
    ) -> Result<Command, ServiceError> {
        self.command_in(who, action, queue, task_id, args, &mut Facts::new())
            .await
    }

    /// [`Control::command`], reading each queue's consumers once per `facts` (a bulk command
    /// asks about many tasks of few queues).
    pub(crate) async fn command_in(
        &self,
        who: &Requester<'_>,
        action: Action,
        queue: Option<&str>,
        task_id: Option<&str>,
        args: Args<'_>,
        facts: &mut Facts,
    ) -> Result<Command, ServiceError> {
        let plan = self.plan(action, queue, task_id, args).await?;
        let facts = self.facts_of(facts, &plan.queue).await?;
        let target = Target::of(&plan.queue, facts.params.as_ref());
        let why = unsupported_by(action, &facts.consumers, facts.params.as_ref())
            .or_else(|| rules::unsupported_by_kind(action, &target.kind.abilities()));
        if let Some(why) = why {
            let described = audit_target(&plan.queue, plan.task.as_deref());
            crate::auth::audit(
                &self.store,
                who.actor,
                action.code(),
                &described,
                "unsupported",
                &why,
                who.ip,
            )
            .await;
            return Err(ServiceError::unsupported(format!(
                "cannot {} here: {why}",
                action.code()
            )));
        }
        let row = self.execute(who, plan, &target).await?;
        Ok(judge(
            &row,
            row.sent_at.unwrap_or_default(),
            &facts.consumers,
            None,
        ))
    }

    /// Checks the arguments and the target: the task's queue, and that the action applies to
    /// the task's state.
    async fn plan<'a>(
        &self,
        action: Action,
        queue: Option<&str>,
        task_id: Option<&str>,
        args: Args<'a>,
    ) -> Result<Plan<'a>, ServiceError> {
        let limits = match args {
            Args::Limits(l) => {
                l.check().map_err(ServiceError::invalid)?;
                Some(l)
            }
            _ => None,
        };
        let placement = match args {
            Args::Move(m) => Some(match (m.front, m.priority) {
                (true, None) => Placement::Front,
                (false, Some(p)) if p.is_finite() => Placement::Priority(p),
                _ => {
                    return Err(ServiceError::invalid(
                        "give either `\"front\": true` or a finite `priority`",
                    ))
                }
            }),
            _ => None,
        };
        let mut plan = Plan {
            action,
            queue: queue.unwrap_or_default().to_owned(),
            task: task_id.map(str::to_owned),
            limits,
            placement,
            retry: None,
            message: match args {
                Args::Publish(m) => Some(m),
                _ => None,
            },
            dead: match args {
                Args::Dead(ids) => ids,
                _ => None,
            },
        };
        let Some(id) = task_id else {
            return Ok(plan);
        };
        let found = self.store.get_task(id).await.map_err(unavailable)?;
        let state = found.as_ref().map(|t| t.summary.state);
        if !rules::applies(action, state, queue.is_some()) {
            return Err(rules::refusal(action, state, id));
        }
        if let Some(t) = found {
            if action == Action::Retry {
                plan.retry = Some(retry_kwargs(t.summary.params.as_deref())?);
            }
            plan.queue = t.summary.queue;
        }
        Ok(plan)
    }

    /// Records the command, sends it, records how that went and audits it; the row as
    /// recorded, or why it was not sent.
    async fn execute(
        &self,
        who: &Requester<'_>,
        plan: Plan<'_>,
        target: &Target,
    ) -> Result<CommandRow, ServiceError> {
        let mut row = CommandRow {
            id: uuid::Uuid::now_v7().to_string(),
            requested_at: crate::model::now_epoch(),
            sent_at: None,
            actor: who.actor.to_owned(),
            action: plan.action,
            queue: plan.queue.clone(),
            task_id: plan.task.clone(),
            version: None,
            outcome: asked_for(&plan),
            detail: String::new(),
        };
        // Recorded before it is sent: a crash in between leaves a command marked unsent.
        self.store.put_command(&row).await.map_err(unavailable)?;
        let sent = match self.send(&plan, target).await {
            Ok(Sent::TakenOut(raw)) => self
                .record_deleted(target, &raw, who.actor)
                .await
                .map(|()| Sent::Did(Some(Outcome::Deleted))),
            sent => sent,
        };
        let target_refused = matches!(&sent, Err(e) if refused_by_target(e));
        match sent {
            Ok(sent) => {
                row.sent_at = Some(crate::model::now_epoch());
                match sent {
                    Sent::Version(v) => row.version = Some(v as i64),
                    Sent::Did(Some(outcome)) => row.outcome = Some(outcome),
                    Sent::Did(None) | Sent::TakenOut(_) => {}
                }
            }
            Err(e) => row.detail = format!("{e:#}"),
        }
        self.store.command_sent(&row).await.map_err(unavailable)?;
        crate::auth::audit(
            &self.store,
            who.actor,
            plan.action.code(),
            &audit_target(&plan.queue, plan.task.as_deref()),
            if row.sent_at.is_some() {
                "ok"
            } else {
                "failed"
            },
            &audit_detail(&row),
            who.ip,
        )
        .await;
        match row.sent_at {
            Some(_) => Ok(row),
            // A message that is not waiting (any more) is the target's state, not an outage.
            None if target_refused => Err(ServiceError::conflict(row.detail)),
            None => Err(ServiceError::unavailable(format!(
                "not sent: {}",
                row.detail
            ))),
        }
    }

    /// Writes the command to the control channel; the desired-state version it set, if any,
    /// and what it did, when sending decides it (a retry's new task, messages removed). A
    /// delete answers the message it took out, for its record.
    async fn send(&self, plan: &Plan<'_>, target: &Target) -> anyhow::Result<Sent> {
        let (queue, task_id) = (plan.queue.as_str(), plan.task.as_deref());
        let (broker, controller) = (self.bus.broker(), self.bus.controller());
        let version = match plan.action {
            Action::Pause | Action::Resume => {
                let paused = plan.action == Action::Pause;
                // funboost's flag for funboost workers, the desired state (keeping the limits set
                // before) for taskdeck's, which also read the flag.
                controller.set_paused(queue, paused).await?;
                let current = broker.desired(queue).await?;
                controller
                    .set_desired(queue, &Desired { paused, ..current })
                    .await?
            }
            Action::Limits => {
                let limits = plan.limits.cloned().unwrap_or_default();
                let current = broker.desired(queue).await?;
                let desired = Desired {
                    qps: limits.qps,
                    concurrency: limits.concurrency,
                    ..current
                };
                controller.set_desired(queue, &desired).await?
            }
            Action::Kill | Action::Revoke => {
                controller
                    .request_kill(queue, task_id.unwrap_or_default())
                    .await?;
                return Ok(Sent::Did(None));
            }
            Action::Priority | Action::Delete => {
                let to = match plan.action {
                    Action::Delete => Placement::Out,
                    _ => plan.placement.unwrap_or(Placement::Front),
                };
                let moved = self
                    .bus
                    .dashboard()
                    .move_waiting(target, task_id.unwrap_or_default(), to)
                    .await?;
                let raw = match moved {
                    Moved::Done(raw) => raw,
                    Moved::NotWaiting => return Err(TargetRefused(format!(
                        "the task is not waiting in the queue (it may have started, or lie beyond the first {SCAN_WAITING} messages)"
                    ))
                    .into()),
                    Moved::NoPriorities => return Err(TargetRefused(
                        "this queue has no priorities (funboost's REDIS_ACK_ABLE); move the task to the front instead".into(),
                    )
                    .into()),
                };
                return Ok(match plan.action {
                    Action::Delete => Sent::TakenOut(raw),
                    // The placement asked for, recorded with the command.
                    _ => Sent::Did(None),
                });
            }
            Action::Requeue => {
                let Some(lists) = target.lists() else {
                    anyhow::bail!("this queue's kind keeps no consumer in-flight sets");
                };
                let moved = broker.requeue_orphans(&lists).await?;
                return Ok(Sent::Did(Some(Outcome::Requeued {
                    put_back: moved as u64,
                })));
            }
            Action::Clear => {
                let removed = self.bus.dashboard().clear(target).await?;
                return Ok(Sent::Did(Some(Outcome::Cleared { removed })));
            }
            Action::Redrive | Action::Discard => {
                return self.dead_letters_sent(plan, target).await;
            }
            Action::Publish => {
                let Some(message) = plan.message else {
                    anyhow::bail!("nothing to publish");
                };
                self.bus
                    .dashboard()
                    .publish_to(target, &message.raw)
                    .await?;
                return Ok(Sent::Did(Some(Outcome::Published {
                    task_id: message.task_id.clone(),
                })));
            }
            Action::Retry => {
                // A new task (new id) with the same params, where the queue's consumers take
                // from, naming the task it retries; the failed record stays as it is.
                let kwargs = plan.retry.clone().unwrap_or_default();
                let options = taskdeck_worker::PublishOptions {
                    extra: super::publish::origin(task_id),
                    ..Default::default()
                };
                let message = taskdeck_worker::Message::build(kwargs, &options);
                self.bus
                    .dashboard()
                    .publish_to(target, &message.raw)
                    .await?;
                return Ok(Sent::Did(Some(Outcome::Retried {
                    task_id: message.task_id,
                })));
            }
        };
        Ok(Sent::Version(version))
    }

    /// Re-drives `queue`'s dead letters (`ids`, or all) onto it, or discards them.
    pub async fn dead_letter_command(
        &self,
        who: &Requester<'_>,
        queue: &str,
        redrive: bool,
        ids: Option<&[String]>,
    ) -> Result<Command, ServiceError> {
        if ids.is_some_and(|ids| ids.len() > protocol::control::BULK_MAX) {
            return Err(ServiceError::invalid(format!(
                "at most {} dead letters at once",
                protocol::control::BULK_MAX
            )));
        }
        let action = if redrive {
            Action::Redrive
        } else {
            Action::Discard
        };
        self.command(who, action, Some(queue), None, Args::Dead(ids))
            .await
    }

    /// Re-drives (puts back on the queue) or discards the dead letters a plan names, one at a
    /// time: taken out of `<queue>_dlx`, then published to the queue; one that cannot be
    /// published goes back among the dead letters.
    async fn dead_letters_sent(&self, plan: &Plan<'_>, target: &Target) -> anyhow::Result<Sent> {
        let dashboard = self.bus.dashboard();
        let dead = super::waiting::dead_letter_queue(&target.name, None);
        let dead = Target {
            kind: target.kind.clone(),
            ..dead
        };
        let ids: Vec<String> = match plan.dead {
            Some(ids) => ids.to_vec(),
            None if plan.action == Action::Discard => {
                let removed = dashboard.clear(&dead).await?;
                return Ok(Sent::Did(Some(Outcome::Discarded { removed })));
            }
            None => dashboard
                .peek_waiting(&dead, 0, protocol::control::BULK_MAX as u64)
                .await?
                .into_iter()
                .filter_map(|(_, raw)| taskdeck_worker::Message::parse(raw, 0.0).ok())
                .map(|m| m.task_id)
                .collect(),
        };
        let mut done = 0;
        for id in &ids {
            let Moved::Done(raw) = dashboard.move_waiting(&dead, id, Placement::Out).await? else {
                continue;
            };
            if plan.action == Action::Redrive {
                if let Err(e) = dashboard.publish_to(target, &raw).await {
                    dashboard.publish_to(&dead, &raw).await.map_err(|back| {
                        anyhow::anyhow!("a dead letter could not be put back on the queue ({e}) nor among the dead letters ({back})")
                    })?;
                    return Err(e.into());
                }
            }
            done += 1;
        }
        Ok(Sent::Did(Some(match plan.action {
            Action::Redrive => Outcome::Redriven { moved: done },
            _ => Outcome::Discarded { removed: done },
        })))
    }

    /// What can be done to the task now, and the latest kill or revoke of it.
    /// Records a deleted message's task as revoked (funboost keeps no record of a task that
    /// never started: this one says who took it out). A record that cannot be written puts the
    /// message back (at the end of its queue): nothing is lost.
    async fn record_deleted(&self, target: &Target, raw: &str, actor: &str) -> anyhow::Result<()> {
        let now = crate::model::now_epoch();
        let recorded = match taskdeck_worker::Message::parse(raw.to_owned(), now) {
            Ok(message) => {
                let event = protocol::event::TaskEvent {
                    v: Some(1),
                    task_id: message.task_id.clone(),
                    queue_name: target.name.clone(),
                    state: Some(TaskState::Revoked),
                    run_status: Some("finish".into()),
                    success: Some(false),
                    params: serde_json::value::to_raw_value(&message.kwargs).ok(),
                    publish_time: Some(message.publish_time),
                    time_end: Some(now),
                    exception_type: Some("Deleted".into()),
                    exception_msg: Some(format!("deleted from the queue by {actor}")),
                    ..Default::default()
                };
                let prepared = crate::ingest::Prepared {
                    records: vec![crate::model::record::TaskRecord::from_event(event, now)],
                    ..Default::default()
                };
                self.ingest
                    .submit(prepared, std::time::Duration::from_secs(10))
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("the message is unreadable: {e}")),
        };
        match recorded {
            Ok(_) => Ok(()),
            Err(why) => {
                self.bus.dashboard().publish_to(target, raw).await.map_err(|e| {
                    anyhow::anyhow!("deleted, but its record was not written ({why}) and putting it back failed: {e}")
                })?;
                anyhow::bail!("not deleted: its record could not be written ({why}); the message is back at the end of its queue")
            }
        }
    }
}

/// The recorded params of a task as the kwargs of a new message.
pub(super) fn retry_kwargs(
    params: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, ServiceError> {
    let text = params.ok_or_else(|| {
        ServiceError::conflict("the task has no recorded params to publish again")
    })?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut kwargs)) => {
            // A message's own `extra` is funboost's envelope, never a parameter.
            kwargs.remove("extra");
            Ok(kwargs)
        }
        _ => Err(ServiceError::conflict(
            "the task's recorded params are not a JSON object of keyword arguments",
        )),
    }
}

fn audit_target(queue: &str, task_id: Option<&str>) -> String {
    match task_id {
        Some(id) => format!("{queue}/{id}"),
        None => queue.to_owned(),
    }
}

/// What the command asks for, recorded before it is sent (the limits, where the task goes).
fn asked_for(plan: &Plan<'_>) -> Option<Outcome> {
    match (plan.limits, plan.placement) {
        (Some(l), _) => Some(Outcome::Limits {
            qps: l.qps,
            concurrency: l.concurrency,
        }),
        (_, Some(Placement::Front)) => Some(Outcome::Moved {
            front: true,
            priority: None,
        }),
        (_, Some(Placement::Priority(p))) => Some(Outcome::Moved {
            front: false,
            priority: Some(p),
        }),
        _ => None,
    }
}

/// The audit log's words for a command: why it failed, or what it did.
fn audit_detail(row: &CommandRow) -> String {
    match &row.outcome {
        Some(outcome) if row.detail.is_empty() => outcome.to_string(),
        _ => row.detail.clone(),
    }
}
