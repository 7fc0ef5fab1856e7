//! Commands to workers: recorded (who, what, when) before they are sent, written to the control
//! channel in funboost's own keys plus taskdeck's desired state, and judged by what the workers
//! report back — taskdeck workers' heartbeats carry the desired-state version they applied, and
//! a killed or revoked task's record says it ended that way. funboost workers cannot confirm a
//! pause: they read the flag within their 10 s heartbeat, and the answer says so.

mod bulk;
pub mod judge;
pub mod rules;
mod waiting;

pub use crate::auth::Requester;
use crate::bus::Bus;
use crate::ingest::Ingest;
use crate::store::CommandRow;
use crate::store::Store;
pub use judge::judge;
use protocol::control::{Action, Command, Desired, Limits, MoveTo, Outcome};
use protocol::event::TaskState;
use protocol::heartbeat::Consumer;
use rules::unsupported_by;
use std::collections::HashMap;
use taskdeck_worker::Placement;

/// A queue's live consumers, registered params and whether the broker knows it.
pub(crate) type Facts = HashMap<String, (Vec<Consumer>, Option<serde_json::Value>, bool)>;

pub use protocol::ServiceError;

/// The target is not in a state the command can change (a message no longer waiting): the
/// caller's conflict, not an outage.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TargetRefused(String);

/// Whether sending failed because of the target (a conflict) rather than an outage.
fn refused_by_target(e: &anyhow::Error) -> bool {
    e.is::<TargetRefused>()
        || matches!(
            e.downcast_ref::<taskdeck_worker::BrokerError>(),
            Some(taskdeck_worker::BrokerError::NoPriorities)
        )
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

fn unavailable(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::unavailable(e.to_string())
}

/// The command service: sends commands to workers and judges them, runs bulk commands,
/// reads the messages waiting in a queue. REST handlers and pages reach it through
/// `Services::control`.
pub struct Control {
    store: Store,
    bus: Bus,
    ingest: Ingest,
    /// Consumers silent for longer are not counted.
    worker_drop_after: std::time::Duration,
    /// Bulk commands this instance runs or ran (the newest finished ones).
    bulk: std::sync::Mutex<Vec<protocol::control::Bulk>>,
}

impl Control {
    pub fn new(
        store: Store,
        bus: Bus,
        ingest: Ingest,
        worker_drop_after: std::time::Duration,
    ) -> Control {
        Control {
            store,
            bus,
            ingest,
            worker_drop_after,
            bulk: Default::default(),
        }
    }
}

/// What a command needs beyond its target.
#[derive(Clone, Copy)]
pub enum Args<'a> {
    None,
    Limits(&'a Limits),
    Move(&'a MoveTo),
}

impl Control {
    /// The queue's consumers heard from recently and its registered parameters.
    async fn queue_facts(
        &self,
        queue: &str,
    ) -> Result<(Vec<Consumer>, Option<serde_json::Value>, bool), ServiceError> {
        let (fleet, registered) = tokio::join!(
            self.bus.fleet(self.worker_drop_after),
            self.registered(queue)
        );
        let consumers = fleet
            .map_err(unavailable)?
            .consumers
            .into_iter()
            .filter(|c| c.heartbeat.queue_name == queue)
            .collect();
        let (params, known) = registered?;
        Ok((consumers, params, known))
    }

    /// The parameters the queue's consumers registered, and whether the broker knows it.
    async fn registered(
        &self,
        queue: &str,
    ) -> Result<(Option<serde_json::Value>, bool), ServiceError> {
        let queues = self
            .bus
            .broker()
            .queues()
            .await
            .map_err(|e| unavailable(format!("the broker failed: {e}")))?;
        let found = queues.queues.iter().find(|q| q.queue == queue);
        let params = found
            .and_then(|q| q.params.as_deref())
            .and_then(|p| serde_json::from_str(p).ok());
        Ok((params, found.is_some()))
    }

    /// Fails unless the broker or the store knows `queue`.
    async fn check_known(&self, queue: &str, known_to_broker: bool) -> Result<(), ServiceError> {
        if known_to_broker {
            return Ok(());
        }
        let known = self
            .store
            .queue_summaries(crate::model::now_epoch())
            .await
            .map_err(unavailable)?
            .iter()
            .any(|q| q.queue == queue);
        if known {
            Ok(())
        } else {
            Err(ServiceError::not_found(format!("no queue `{queue}`")))
        }
    }

    /// The parameters its consumers registered for a queue the broker or the store knows.
    pub(crate) async fn known_queue(
        &self,
        queue: &str,
    ) -> Result<Option<serde_json::Value>, ServiceError> {
        let (params, known) = self.registered(queue).await?;
        self.check_known(queue, known).await?;
        Ok(params)
    }

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
        let limits = match args {
            Args::Limits(l) => Some(l),
            _ => None,
        };
        if let Some(l) = limits {
            l.check().map_err(ServiceError::invalid)?;
        }
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
        // The target and whether the command applies to it.
        let mut retry_params = None;
        let (queue, task) = match task_id {
            Some(id) => {
                let found = self.store.get_task(id).await.map_err(unavailable)?;
                let state = found.as_ref().map(|t| t.summary.state);
                if !rules::applies(action, state, queue.is_some()) {
                    return Err(rules::refusal(action, state, id));
                }
                if action == Action::Retry {
                    let params = found.as_ref().and_then(|t| t.summary.params.as_deref());
                    retry_params = Some(retry_kwargs(params)?);
                }
                let queue = match found {
                    Some(t) => t.summary.queue,
                    None => queue.unwrap_or_default().to_owned(),
                };
                (queue, Some(id.to_owned()))
            }
            None => (queue.unwrap_or_default().to_owned(), None),
        };
        if !facts.contains_key(&queue) {
            let found = self.queue_facts(&queue).await?;
            facts.insert(queue.clone(), found);
        }
        let (consumers, params, known_to_broker) = facts[&queue].clone();
        if !known_to_broker {
            self.check_known(&queue, false).await?;
            if let Some(f) = facts.get_mut(&queue) {
                f.2 = true;
            }
        }
        if let Some(why) = unsupported_by(action, &consumers, params.as_ref()) {
            crate::auth::audit(
                &self.store,
                who.actor,
                action.code(),
                &target(&queue, task.as_deref()),
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

        let mut row = CommandRow {
            id: uuid::Uuid::now_v7().to_string(),
            requested_at: crate::model::now_epoch(),
            sent_at: None,
            actor: who.actor.to_owned(),
            action,
            queue: queue.clone(),
            task_id: task.clone(),
            version: None,
            outcome: match (limits, placement) {
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
            },
            detail: String::new(),
        };
        // Recorded before it is sent: a crash in between leaves a command marked unsent.
        self.store.put_command(&row).await.map_err(unavailable)?;
        let sent = self
            .send(
                action,
                &queue,
                task.as_deref(),
                (limits, placement),
                retry_params,
                params.as_ref(),
            )
            .await;
        let sent = match sent {
            Ok(Sent::TakenOut(raw)) => {
                let layout = taskdeck_worker::Queue::from_params(&queue, params.as_ref());
                self.record_deleted(&layout, &raw, who.actor)
                    .await
                    .map(|()| Sent::Did(Some(Outcome::Deleted)))
            }
            sent => sent,
        };
        let target_refused = matches!(&sent, Err(e) if refused_by_target(e));
        let now = crate::model::now_epoch();
        match sent {
            Ok(sent) => {
                row.sent_at = Some(now);
                match sent {
                    Sent::Version(v) => row.version = Some(v as i64),
                    Sent::Did(Some(outcome)) => row.outcome = Some(outcome),
                    Sent::Did(None) | Sent::TakenOut(_) => {}
                }
            }
            Err(e) => row.detail = format!("{e:#}"),
        }
        self.store.command_sent(&row).await.map_err(unavailable)?;
        let outcome = if row.sent_at.is_some() {
            "ok"
        } else {
            "failed"
        };
        crate::auth::audit(
            &self.store,
            who.actor,
            action.code(),
            &target(&queue, task.as_deref()),
            outcome,
            &audit_detail(&row),
            who.ip,
        )
        .await;
        if row.sent_at.is_none() {
            // A message that is not waiting (any more) is the target's state, not an outage.
            if target_refused {
                return Err(ServiceError::conflict(row.detail));
            }
            return Err(ServiceError::unavailable(format!(
                "not sent: {}",
                row.detail
            )));
        }
        Ok(judge(&row, now, &consumers, None))
    }

    /// Writes the command to the control channel; the desired-state version it set, if any,
    /// and what it did, when sending decides it (a retry's new task, messages removed). A
    /// delete answers the message it took out, for its record.
    async fn send(
        &self,
        action: Action,
        queue: &str,
        task_id: Option<&str>,
        args: (Option<&Limits>, Option<Placement>),
        retry: Option<serde_json::Map<String, serde_json::Value>>,
        queue_params: Option<&serde_json::Value>,
    ) -> anyhow::Result<Sent> {
        let (limits, placement) = args;
        let broker = self.bus.broker();
        let version = match action {
            Action::Pause | Action::Resume => {
                let paused = action == Action::Pause;
                // funboost's flag for funboost workers, the desired state (keeping the limits set
                // before) for taskdeck's, which also read the flag.
                broker.set_paused(queue, paused).await?;
                let current = broker.desired(queue).await?;
                broker
                    .set_desired(queue, &Desired { paused, ..current })
                    .await?
            }
            Action::Limits => {
                let limits = limits.cloned().unwrap_or_default();
                let current = broker.desired(queue).await?;
                let desired = Desired {
                    qps: limits.qps,
                    concurrency: limits.concurrency,
                    ..current
                };
                broker.set_desired(queue, &desired).await?
            }
            Action::Kill | Action::Revoke => {
                broker
                    .request_kill(queue, task_id.unwrap_or_default())
                    .await?;
                return Ok(Sent::Did(None));
            }
            Action::Priority | Action::Delete => {
                let layout = taskdeck_worker::Queue::from_params(queue, queue_params);
                let to = match action {
                    Action::Delete => Placement::Out,
                    _ => placement.unwrap_or(Placement::Front),
                };
                let moved = broker
                    .move_waiting(&layout, task_id.unwrap_or_default(), to)
                    .await?;
                let Some(raw) = moved else {
                    return Err(TargetRefused(format!(
                        "the task is not waiting in the queue (it may have started, or lie beyond the first {} messages)",
                        taskdeck_worker::broker::SCAN_WAITING
                    ))
                    .into());
                };
                return Ok(match action {
                    Action::Delete => Sent::TakenOut(raw),
                    // The placement asked for, recorded with the command.
                    _ => Sent::Did(None),
                });
            }
            Action::Requeue => {
                let layout = taskdeck_worker::Queue::from_params(queue, queue_params);
                let moved = broker.requeue_orphans(&layout).await?;
                return Ok(Sent::Did(Some(Outcome::Requeued {
                    put_back: moved as u64,
                })));
            }
            Action::Clear => {
                let layout = taskdeck_worker::Queue::from_params(queue, queue_params);
                let removed = broker.clear(&layout).await?;
                return Ok(Sent::Did(Some(Outcome::Cleared { removed })));
            }
            Action::Retry => {
                // A new task (new id) with the same params, where the queue's consumers take
                // from; the failed record stays as it is.
                let message =
                    taskdeck_worker::Message::build(retry.unwrap_or_default(), &Default::default());
                let layout = taskdeck_worker::Queue::from_params(queue, queue_params);
                broker.publish(&layout, &message.raw).await?;
                return Ok(Sent::Did(Some(Outcome::Retried {
                    task_id: message.task_id,
                })));
            }
        };
        Ok(Sent::Version(version))
    }

    /// What can be done to the task now, and the latest kill or revoke of it.
    /// Records a deleted message's task as revoked (funboost keeps no record of a task that
    /// never started: this one says who took it out). A record that cannot be written puts the
    /// message back (at the end of its queue): nothing is lost.
    async fn record_deleted(
        &self,
        layout: &taskdeck_worker::Queue,
        raw: &str,
        actor: &str,
    ) -> anyhow::Result<()> {
        let now = crate::model::now_epoch();
        let recorded = match taskdeck_worker::Message::parse(raw.to_owned(), now) {
            Ok(message) => {
                let event = protocol::event::TaskEvent {
                    v: Some(1),
                    task_id: message.task_id.clone(),
                    queue_name: layout.name.clone(),
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
                self.bus.broker().publish(layout, raw).await.map_err(|e| {
                    anyhow::anyhow!("deleted, but its record was not written ({why}) and putting it back failed: {e}")
                })?;
                anyhow::bail!("not deleted: its record could not be written ({why}); the message is back at the end of its queue")
            }
        }
    }

    pub async fn controls_of(
        &self,
        task_id: &str,
    ) -> Result<protocol::control::TaskControls, ServiceError> {
        let Some(task) = self.store.get_task(task_id).await.map_err(unavailable)? else {
            return Ok(Default::default());
        };
        let (consumers, params, _) = self.queue_facts(&task.summary.queue).await?;
        let latest = self
            .command_list(None, Some(task_id), 1)
            .await?
            .into_iter()
            .next();
        Ok(protocol::control::TaskControls {
            kill_unsupported: unsupported_by(Action::Kill, &consumers, params.as_ref()),
            revoke_unsupported: unsupported_by(Action::Revoke, &consumers, params.as_ref()),
            latest,
        })
    }

    /// The newest commands (of a queue, of a task), each judged now.
    pub async fn command_list(
        &self,
        queue: Option<&str>,
        task_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Command>, ServiceError> {
        let rows = self
            .store
            .commands(queue, task_id, limit)
            .await
            .map_err(unavailable)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let fleet = self
            .bus
            .fleet(self.worker_drop_after)
            .await
            .map_err(unavailable)?;
        let mut tasks: HashMap<String, Option<(TaskState, Option<f64>)>> = HashMap::new();
        for id in rows.iter().filter_map(|r| r.task_id.as_deref()) {
            if !tasks.contains_key(id) {
                let t = self.store.get_task(id).await.map_err(unavailable)?;
                tasks.insert(
                    id.to_owned(),
                    t.map(|t| (t.summary.state, t.summary.end_time)),
                );
            }
        }
        let now = crate::model::now_epoch();
        Ok(rows
            .iter()
            .map(|r| {
                let consumers: Vec<Consumer> = fleet
                    .consumers
                    .iter()
                    .filter(|c| c.heartbeat.queue_name == r.queue)
                    .cloned()
                    .collect();
                let task = r
                    .task_id
                    .as_deref()
                    .and_then(|id| tasks.get(id).copied().flatten());
                judge(r, now, &consumers, task)
            })
            .collect())
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

fn target(queue: &str, task_id: Option<&str>) -> String {
    match task_id {
        Some(id) => format!("{queue}/{id}"),
        None => queue.to_owned(),
    }
}

/// The audit log's words for a command: why it failed, or what it did.
fn audit_detail(row: &CommandRow) -> String {
    match &row.outcome {
        Some(outcome) if row.detail.is_empty() => outcome.to_string(),
        _ => row.detail.clone(),
    }
}
