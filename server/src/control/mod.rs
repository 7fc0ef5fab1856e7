//! Commands to workers: recorded (who, what, when) before they are sent, written to the control
//! channel in funboost's own keys plus taskdeck's desired state, and judged by what the workers
//! report back — taskdeck workers' heartbeats carry the desired-state version they applied, and
//! a killed or revoked task's record says it ended that way. funboost workers cannot confirm a
//! pause: they read the flag within their 10 s heartbeat, and the answer says so.

mod bulk;
pub mod judge;
mod publish;
pub mod rules;
mod send;
mod waiting;

pub use crate::auth::Requester;
use crate::bus::Bus;
use crate::ingest::Ingest;
use crate::store::Store;
pub use judge::judge;
use protocol::control::{Action, Command, Limits, MoveTo};
use protocol::event::TaskState;
use protocol::heartbeat::Consumer;
use rules::unsupported_by;
use std::collections::HashMap;
pub(crate) use waiting::dead_letter_queue;

/// What a command needs to know of its queue.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueueFacts {
    /// Its consumers heard from recently.
    consumers: Vec<Consumer>,
    /// The parameters its consumers registered (funboost's `queue_params`).
    params: Option<serde_json::Value>,
    /// Whether the broker or the store knows it (checked once per queue).
    known: bool,
}

/// Each queue's facts, read once per command or bulk command.
pub(crate) type Facts = HashMap<String, QueueFacts>;

pub use protocol::ServiceError;

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
    /// The message a publish puts on the queue, built and checked beforehand.
    Publish(&'a taskdeck_worker::Message),
    /// The dead letters a re-drive or discard takes (`None`: all).
    Dead(Option<&'a [String]>),
}

impl Control {
    /// The queue's consumers heard from recently, its registered parameters and whether the
    /// broker knows it.
    async fn queue_facts(&self, queue: &str) -> Result<QueueFacts, ServiceError> {
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
        Ok(QueueFacts {
            consumers,
            params,
            known,
        })
    }

    /// The facts of a queue the broker or the store knows, read once per `facts`.
    async fn facts_of(&self, facts: &mut Facts, queue: &str) -> Result<QueueFacts, ServiceError> {
        if !facts.contains_key(queue) {
            let found = self.queue_facts(queue).await?;
            facts.insert(queue.to_owned(), found);
        }
        let found = facts.get_mut(queue).expect("inserted above");
        if !found.known {
            self.check_known(queue, false).await?;
            found.known = true;
        }
        Ok(found.clone())
    }

    /// The parameters the queue's consumers registered, and whether the broker knows it.
    async fn registered(
        &self,
        queue: &str,
    ) -> Result<(Option<serde_json::Value>, bool), ServiceError> {
        let queues = self
            .bus
            .dashboard()
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

    pub async fn controls_of(
        &self,
        task_id: &str,
    ) -> Result<protocol::control::TaskControls, ServiceError> {
        let Some(task) = self.store.get_task(task_id).await.map_err(unavailable)? else {
            return Ok(Default::default());
        };
        let QueueFacts {
            consumers, params, ..
        } = self.queue_facts(&task.summary.queue).await?;
        let latest = self
            .command_list(None, Some(task_id), 1)
            .await?
            .into_iter()
            .next();
        let kind = crate::broker::Kind::of(params.as_ref());
        Ok(protocol::control::TaskControls {
            kill_unsupported: unsupported_by(Action::Kill, &consumers, params.as_ref()),
            revoke_unsupported: unsupported_by(Action::Revoke, &consumers, params.as_ref()),
            latest,
            publish_unsupported: kind.abilities().publish,
            signature: params
                .as_ref()
                .and_then(protocol::queue::Signature::of_params),
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
