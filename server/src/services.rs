//! The service layer: what the REST API and the UI's server functions both call.

use crate::bus::Bus;
use crate::ingest::Ingest;
use crate::model::stats;
use crate::store::Store;
use app::backend::Backend;
use async_trait::async_trait;
use protocol::failures::{FailureFilter, FailureGroups};
use protocol::heartbeat::Fleet;
use protocol::overview::{
    BrokerQueues, Overview, QueueRow, Sources, SPARK_MINUTES, THROUGHPUT_WINDOW_S,
};
use protocol::queue::QueuePage;
use protocol::series::{Grain, Series};
use protocol::task::{PageAt, QueueSummary, TaskDetail, TaskFilter, TaskPage};
use protocol::ServiceError;
use protocol::{Check, Health, HealthChecks, HealthStatus, VersionInfo};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Version of the REST API and event format this build speaks.
pub const API_VERSION: &str = "v1";

pub struct Services {
    pub store: Store,
    pub bus: Bus,
    pub ingest: Ingest,
    /// Commands to workers, bulk commands, waiting messages.
    pub control: Arc<crate::control::Control>,
    started: Instant,
    worker_drop_after: Duration,
}

/// The overview with the broker's queues and the fleet it was built from.
struct Gathered {
    overview: Overview,
    broker: Result<BrokerQueues, String>,
    fleet: Option<Fleet>,
}

impl Services {
    pub fn new(store: Store, bus: Bus, ingest: Ingest, worker_drop_after: Duration) -> Services {
        let control = Arc::new(crate::control::Control::new(
            store.clone(),
            bus.clone(),
            ingest.clone(),
            worker_drop_after,
        ));
        Services {
            store,
            bus,
            ingest,
            control,
            started: Instant::now(),
            worker_drop_after,
        }
    }

    /// Reads every source of the overview at once: the store's counters, the broker's queues
    /// and the heartbeats.
    async fn gather(&self) -> Result<Gathered, ServiceError> {
        let now = crate::model::now_epoch();
        let now_s = now.floor() as i64;
        let first_minute = (now_s.div_euclid(60) - (SPARK_MINUTES as i64 - 1)) * 60;
        let dashboard = self.bus.dashboard();
        let (summaries, minutes, seconds, queues, fleet) = tokio::join!(
            self.store.queue_summaries(now),
            self.store.finished_counts(Grain::Minute, first_minute),
            self.store
                .finished_counts(Grain::Second, now_s - THROUGHPUT_WINDOW_S),
            dashboard.queues(),
            self.workers(),
        );
        let (summaries, minutes, seconds) = (
            summaries.map_err(unavailable)?,
            minutes.map_err(unavailable)?,
            seconds.map_err(unavailable)?,
        );
        let broker = queues.map_err(|e| format!("the broker failed: {e}"));
        let fleet = fleet.ok();
        let overview = Overview::build(Sources {
            now,
            summaries: &summaries,
            minutes: &minutes,
            seconds: &seconds,
            broker: broker.as_ref().map_err(Clone::clone),
            fleet: fleet.as_ref(),
        });
        Ok(Gathered {
            overview,
            broker,
            fleet,
        })
    }
}

/// The last second of year 9999: later (or negative) range bounds are refused.
const LATEST_EPOCH: i64 = 253_402_300_799;

/// Most buckets one series request may span.
pub const MAX_SERIES_POINTS: i64 = 1_500;

fn unavailable(e: anyhow::Error) -> ServiceError {
    ServiceError::unavailable(format!("the store failed: {e:#}"))
}

async fn check(probe: impl Future<Output = Result<(), String>>) -> Check {
    let start = Instant::now();
    let result = probe.await;
    let latency_ms = (start.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    match result {
        Ok(()) => Check {
            status: HealthStatus::Ok,
            latency_ms,
            error: None,
        },
        Err(e) => Check {
            status: HealthStatus::Down,
            latency_ms,
            error: Some(e),
        },
    }
}

#[async_trait]
impl Backend for Services {
    async fn health(&self) -> Health {
        let (store, bus) = tokio::join!(check(self.store.ping()), check(self.bus.ping()));
        Health::new(
            self.store.kind(),
            self.bus.kind(),
            VERSION.to_owned(),
            self.started.elapsed().as_secs(),
            HealthChecks { store, bus },
        )
    }

    fn version(&self) -> VersionInfo {
        VersionInfo {
            name: "taskdeck".into(),
            version: VERSION.into(),
            api: API_VERSION.into(),
        }
    }

    async fn list_tasks(
        &self,
        filter: &TaskFilter,
        at: &PageAt,
        limit: u32,
    ) -> Result<TaskPage, ServiceError> {
        self.store
            .list_tasks(filter, at, limit)
            .await
            .map_err(unavailable)
    }

    async fn task(&self, task_id: &str) -> Result<Option<TaskDetail>, ServiceError> {
        self.store.get_task(task_id).await.map_err(unavailable)
    }

    async fn failures(&self, filter: &FailureFilter) -> Result<FailureGroups, ServiceError> {
        self.store.failure_groups(filter).await.map_err(unavailable)
    }

    async fn queues(&self) -> Result<Vec<QueueSummary>, ServiceError> {
        self.store
            .queue_summaries(crate::model::now_epoch())
            .await
            .map_err(unavailable)
    }

    async fn series(
        &self,
        queue: &str,
        grain: Grain,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Series, ServiceError> {
        for (name, t) in [("from", from), ("to", to)] {
            if t.is_some_and(|t| !(0..=LATEST_EPOCH).contains(&t)) {
                return Err(ServiceError::invalid(format!(
                    "`{name}` must be epoch seconds between 0 and {LATEST_EPOCH} (year 9999)"
                )));
            }
        }
        let to = to.unwrap_or_else(|| crate::model::now_epoch().floor() as i64 + 1);
        let width = grain.seconds();
        // By default the window's buckets end with the one `to` falls in: 60 whole seconds,
        // minutes, 24 hours or 30 days, the newest still filling.
        let from = from
            .unwrap_or_else(|| (to - 1).div_euclid(width) * width - (grain.default_span() - width));
        if from >= to {
            return Err(ServiceError::invalid(format!(
                "`from` ({from}) must be before `to` ({to})"
            )));
        }
        let points = (to - from) / grain.seconds();
        if points > MAX_SERIES_POINTS {
            return Err(ServiceError::invalid(format!(
                "{points} {} buckets requested; at most {MAX_SERIES_POINTS}: choose a coarser grain or a shorter range",
                grain.as_str()
            )));
        }
        let first = from.div_euclid(width) * width;
        let rows = self
            .store
            .stat_rows(queue, grain, first, to)
            .await
            .map_err(unavailable)?;
        Ok(stats::assemble(queue, grain, from, to, &rows))
    }

    async fn workers(&self) -> Result<Fleet, ServiceError> {
        self.bus.fleet(self.worker_drop_after).await
    }

    async fn overview(&self) -> Result<Overview, ServiceError> {
        Ok(self.gather().await?.overview)
    }

    async fn users(&self) -> Result<Vec<protocol::auth::UserInfo>, ServiceError> {
        let users = self.store.users().await.map_err(unavailable)?;
        Ok(users.into_iter().map(|u| u.info()).collect())
    }

    async fn tokens(&self) -> Result<Vec<protocol::auth::TokenInfo>, ServiceError> {
        let tokens = self.store.tokens().await.map_err(unavailable)?;
        Ok(tokens.into_iter().map(|t| t.info()).collect())
    }

    async fn audit(
        &self,
        text: &str,
        before: Option<f64>,
        limit: u32,
    ) -> Result<protocol::auth::AuditPage, ServiceError> {
        if !(1..=500).contains(&limit) {
            return Err(ServiceError::invalid("`limit` is 1–500"));
        }
        let mut entries = self
            .store
            .audit_log(text, before, limit + 1)
            .await
            .map_err(unavailable)?;
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        let next_before = more.then(|| entries.last().map(|e| e.at)).flatten();
        Ok(protocol::auth::AuditPage {
            entries,
            next_before,
        })
    }

    async fn task_controls(
        &self,
        task_id: &str,
    ) -> Result<protocol::control::TaskControls, ServiceError> {
        self.control.controls_of(task_id).await
    }

    async fn waiting(
        &self,
        queue: &str,
        offset: u64,
        limit: u32,
    ) -> Result<protocol::control::WaitingPage, ServiceError> {
        self.control.waiting_messages(queue, offset, limit).await
    }

    async fn dead_letters(
        &self,
        queue: &str,
        offset: u64,
        limit: u32,
    ) -> Result<protocol::control::WaitingPage, ServiceError> {
        self.control.dead_letters(queue, offset, limit).await
    }

    async fn queue_page(&self, queue: &str, grain: Grain) -> Result<QueuePage, ServiceError> {
        let (gathered, series) = tokio::join!(self.gather(), self.series(queue, grain, None, None));
        let Gathered {
            overview,
            broker,
            fleet,
        } = gathered?;
        let found = overview.queues.into_iter().find(|r| r.queue == queue);
        let broker_queue = broker
            .as_ref()
            .ok()
            .and_then(|b| b.queues.iter().find(|q| q.queue == queue));
        let consumers: Vec<protocol::heartbeat::Consumer> = fleet
            .map(|f| f.consumers)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.heartbeat.queue_name == queue)
            .collect();
        let control = self
            .store
            .commands(Some(queue), None, 20)
            .await
            .map_err(unavailable)?
            .into_iter()
            .find(|c| c.action.is_desired_state())
            .map(|row| crate::control::judge(&row, overview.now, &consumers, None));
        let params: Option<serde_json::Value> = broker_queue
            .and_then(|q| q.params.as_deref())
            .and_then(|p| serde_json::from_str(p).ok());
        let abilities = crate::broker::Kind::of(params.as_ref()).abilities();
        let signature = params
            .as_ref()
            .and_then(protocol::queue::Signature::of_params);
        let dead_letters = match abilities.browse {
            Some(_) => None,
            None => {
                let dead = crate::control::dead_letter_queue(queue, params.as_ref());
                self.bus.dashboard().count_waiting(&dead).await.ok()
            }
        };
        Ok(QueuePage {
            now: overview.now,
            known: found.is_some(),
            row: found.unwrap_or_else(|| QueueRow {
                queue: queue.to_owned(),
                ..Default::default()
            }),
            broker_kind: broker_queue.and_then(|q| q.broker_kind.clone()),
            params: broker_queue.and_then(|q| q.params.clone()),
            consumers,
            series: series?,
            broker_error: overview.broker_error,
            control,
            abilities,
            signature,
            dead_letters,
        })
    }
}
