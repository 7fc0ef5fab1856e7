//! A queue consumer: pulls funboost messages, runs the handler under the configured limits,
//! records every attempt, and obeys pause and kill.

use crate::broker::{Broker, Layout, Queue};
use crate::events::Emitter;
use crate::heartbeat::{Counters, Heartbeat};
use crate::host::{self, now};
use crate::message::Message;
use crate::task::{TaskContext, TaskError};
use protocol::event::{TaskEvent, TaskState};
use protocol::task::Attempt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler = Arc<dyn Fn(TaskContext, Map<String, Value>) -> BoxFuture<Outcome> + Send + Sync>;
type Outcome = Result<Box<RawValue>, TaskError>;

/// What this worker can be told to do (advertised in its heartbeat).
pub const CAPABILITIES: [&str; 5] = ["pause", "kill", "revoke", "qps", "concurrency"];

/// How a consumer runs; set through [`WorkerBuilder`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// The queue consumed.
    pub queue: String,
    /// The function name shown in records.
    pub function: String,
    /// Tasks run at once (task slots).
    pub concurrency: usize,
    /// Task starts per second, over all consumers of the queue when `distributed_qps`.
    pub qps: Option<f64>,
    /// Whether `qps` is shared among the queue's live consumers.
    pub distributed_qps: bool,
    /// Retries after a failed run (a [`TaskError::fatal`] is never retried).
    pub max_retries: u32,
    /// Wait before the first retry; doubles each time, at most 60 s.
    pub retry_backoff: Duration,
    /// A run taking longer fails with `FunctionTimeout`.
    pub timeout: Option<Duration>,
    /// Messages older than this (from their publish time) are dropped as expired.
    pub expire_after: Option<Duration>,
    /// Messages pulled at once (they wait in this consumer's in-flight set).
    pub prefetch: usize,
    /// How often heartbeats are written.
    pub heartbeat_every: Duration,
    /// How the queue's messages wait: plain list, funboost's priority lists or priority zset.
    pub layout: Layout,
    /// How often pause flags and kill requests are read.
    pub control_every: Duration,
    /// How often messages held by stopped consumers are looked for and put back.
    pub orphan_check_every: Duration,
    /// Tasks still running this long after a stop are cancelled and their messages requeued.
    pub stop_grace: Duration,
}

impl Settings {
    /// The queue with its layout.
    pub fn queue(&self) -> Queue {
        Queue {
            name: self.queue.clone(),
            layout: self.layout,
        }
    }

    fn new(queue: &str) -> Settings {
        Settings {
            queue: queue.to_owned(),
            function: queue.to_owned(),
            concurrency: 8,
            qps: None,
            distributed_qps: false,
            max_retries: 3,
            retry_backoff: Duration::from_millis(500),
            timeout: None,
            expire_after: None,
            prefetch: 0,
            heartbeat_every: Duration::from_secs(10),
            layout: Layout::Lists { max_priority: 0 },
            control_every: Duration::from_millis(500),
            orphan_check_every: Duration::from_secs(60),
            stop_grace: Duration::from_secs(30),
        }
    }

    /// funboost-style parameters, written to `funboost_queue__consumer_parmas`.
    fn params(&self) -> Value {
        serde_json::json!({
            "queue_name": self.queue,
            "broker_kind": self.queue().broker_kind(),
            "broker_exclusive_config": match self.layout {
                Layout::Lists { max_priority } => serde_json::json!({ "x-max-priority": max_priority }),
                Layout::Zset => serde_json::json!({}),
            },
            "concurrent_num": self.concurrency,
            "qps": self.qps,
            "is_using_distributed_frequency_control": self.distributed_qps,
            "max_retry_times": self.max_retries,
            "function_timeout": self.timeout.map(|d| d.as_secs_f64()),
            "msg_expire_seconds": self.expire_after.map(|d| d.as_secs_f64()),
            "consuming_function_name": self.function,
            "is_support_remote_kill_task": true,
            "worker_kind": WORKER_KIND,
        })
    }
}

const WORKER_KIND: &str = "taskdeck-rust";

/// Settings of a [`Worker`] to be, from [`Worker::builder`].
pub struct WorkerBuilder {
    settings: Settings,
    handler: Option<Handler>,
}

impl WorkerBuilder {
    /// The function name shown in records (defaults to the queue name).
    pub fn function(mut self, name: &str) -> Self {
        self.settings.function = name.to_owned();
        self
    }
    /// Tasks run at once (8 by default).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n.max(1);
        self
    }
    /// Task starts per second (unlimited by default).
    pub fn qps(mut self, qps: f64) -> Self {
        self.settings.qps = (qps > 0.0).then_some(qps);
        self
    }
    /// Share the QPS limit among all live consumers of the queue (funboost's
    /// `is_using_distributed_frequency_control`).
    pub fn distributed_qps(mut self, on: bool) -> Self {
        self.settings.distributed_qps = on;
        self
    }
    /// Retries after a failed run (3 by default).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.settings.max_retries = n;
        self
    }
    /// Wait before the first retry (500 ms by default); it doubles each time, up to 60 s.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.settings.retry_backoff = d;
        self
    }
    /// Fail a run that takes longer (no limit by default).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.settings.timeout = Some(d);
        self
    }
    /// Record messages older than this (from their publish time) as expired instead of running
    /// them.
    pub fn expire_after(mut self, d: Duration) -> Self {
        self.settings.expire_after = Some(d);
        self
    }
    /// Messages pulled at once; 0 (the default) pulls as many as there are task slots.
    pub fn prefetch(mut self, n: usize) -> Self {
        self.settings.prefetch = n;
        self
    }
    /// Consume funboost's REDIS_PRIORITY layout with priorities 1..=`n` (funboost's
    /// `x-max-priority`); messages with a higher priority run first.
    pub fn max_priority(mut self, n: u8) -> Self {
        self.settings.layout = Layout::Lists { max_priority: n };
        self
    }
    /// Consume funboost's REDIS_ZSET_PRIORITY layout: one zset, highest score first.
    pub fn zset_priority(mut self) -> Self {
        self.settings.layout = Layout::Zset;
        self
    }
    /// How often heartbeats are written (10 s by default, funboost's).
    pub fn heartbeat_every(mut self, d: Duration) -> Self {
        self.settings.heartbeat_every = d;
        self
    }
    /// How often the pause flag, kill requests and desired state are read (500 ms by default; a
    /// desired-state change also wakes the consumer at once).
    pub fn control_every(mut self, d: Duration) -> Self {
        self.settings.control_every = d;
        self
    }
    /// How often messages held by stopped consumers are put back (60 s by default, funboost's).
    pub fn orphan_check_every(mut self, d: Duration) -> Self {
        self.settings.orphan_check_every = d;
        self
    }
    /// How long running tasks may finish after a stop before they are cancelled and their messages
    /// requeued (30 s by default).
    pub fn stop_grace(mut self, d: Duration) -> Self {
        self.settings.stop_grace = d;
        self
    }

    /// The function to run: it gets the message's keyword arguments as `P` and returns a
    /// value recorded as the result.
    pub fn handler<P, R, F, Fut>(mut self, f: F) -> Self
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(TaskContext, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, TaskError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.handler = Some(Arc::new(move |ctx, kwargs| {
            let f = f.clone();
            Box::pin(async move {
                let params: P = serde_json::from_value(Value::Object(kwargs))
                    .map_err(|e| TaskError::fatal("TypeError", e.to_string()))?;
                let value = f(ctx, params).await?;
                serde_json::value::to_raw_value(&value)
                    .map_err(|e| TaskError::fatal("ResultNotSerializable", e.to_string()))
            })
        }));
        self
    }

    /// The worker, or why these settings cannot run (no handler, no queue name).
    pub fn build(self, broker: Arc<dyn Broker>, emitter: Emitter) -> Result<Worker, String> {
        let handler = self
            .handler
            .ok_or_else(|| format!("worker for {}: no handler", self.settings.queue))?;
        if self.settings.queue.is_empty() {
            return Err("a worker needs a queue name".into());
        }
        Ok(Worker {
            settings: self.settings,
            handler,
            broker,
            emitter,
        })
    }
}

/// A queue consumer; [`Worker::run`] consumes until stopped.
pub struct Worker {
    settings: Settings,
    handler: Handler,
    broker: Arc<dyn Broker>,
    emitter: Emitter,
}

/// State shared by the loops of one consumer.
struct Shared {
    settings: Settings,
    consumer: String,
    handler: Handler,
    broker: Arc<dyn Broker>,
    emitter: Emitter,
    /// Running tasks and the token that kills each.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Pulled, not started yet.
    waiting: Mutex<HashSet<String>>,
    /// Waiting tasks with a kill request: they are revoked when their turn comes.
    revoked: Mutex<HashSet<String>>,
    counters: Mutex<Counters>,
    /// funboost's pause flag or taskdeck's desired state says pause.
    paused: AtomicBool,
    live_consumers: AtomicU64,
    /// Task slots; their number follows the desired concurrency.
    slots: Arc<Semaphore>,
    concurrency: AtomicUsize,
    qps: Mutex<Option<f64>>,
    /// The desired-state version applied, reported in heartbeats.
    control_version: AtomicU64,
    /// Asks for a heartbeat now (a new desired state was applied).
    beat_now: Notify,
    /// Cancelled when the stop grace is over: running tasks give their messages back.
    abandon: CancellationToken,
    acker: Acker,
}

static CONSUMERS: AtomicU64 = AtomicU64::new(1);

impl Worker {
    /// Starts the settings of a consumer of `queue`.
    pub fn builder(queue: &str) -> WorkerBuilder {
        WorkerBuilder {
            settings: Settings::new(queue),
            handler: None,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Consumes until `stop` is cancelled, then stops cleanly: waiting messages go back to the
    /// queue, running tasks get `stop_grace` to finish (then their messages go back too).
    pub async fn run(self, stop: CancellationToken) {
        let started = now();
        let n = CONSUMERS.fetch_add(1, Relaxed);
        let consumer = host::consumer_identification(started, n);
        let broker = self.broker;
        let (concurrency, qps) = (self.settings.concurrency, self.settings.qps);
        let shared = Arc::new(Shared {
            acker: Acker::start(
                broker.clone(),
                self.settings.queue.clone(),
                consumer.clone(),
            ),
            settings: self.settings,
            consumer,
            handler: self.handler,
            broker,
            emitter: self.emitter,
            running: Mutex::default(),
            waiting: Mutex::default(),
            revoked: Mutex::default(),
            counters: Mutex::new(Counters::new(started)),
            paused: AtomicBool::new(false),
            live_consumers: AtomicU64::new(1),
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency: AtomicUsize::new(concurrency),
            qps: Mutex::new(qps),
            control_version: AtomicU64::new(0),
            beat_now: Notify::new(),
            abandon: CancellationToken::new(),
        });
        let template = heartbeat_template(&shared, started, n);
        let loops = CancellationToken::new();
        // Heartbeat before registering the in-flight set, so no peer takes it for an orphan.
        beat(&shared, &template).await;
        let mut registered = false;
        while !registered && !stop.is_cancelled() {
            match shared
                .broker
                .register(&template, &shared.settings.params())
                .await
            {
                Ok(()) => registered = true,
                Err(e) => {
                    tracing::warn!(queue = %shared.settings.queue, error = %e, "cannot register the consumer; retrying");
                    sleep_or(Duration::from_secs(1), &stop).await;
                }
            }
        }
        // A queue paused (or limited) before this consumer started is so from its first pull on.
        read_control(&shared).await;
        tracing::info!(queue = %shared.settings.queue, consumer = %shared.consumer, "consuming");
        let background = [
            tokio::spawn(heartbeats(shared.clone(), template.clone(), loops.clone())),
            tokio::spawn(control(shared.clone(), loops.clone())),
            tokio::spawn(orphans(shared.clone(), loops.clone())),
        ];
        let buffer = consume(&shared, &stop).await;
        shared.acker.flush().await;
        stop_cleanly(&shared, buffer).await;
        loops.cancel();
        for b in background {
            let _ = b.await;
        }
        if let Err(e) = shared.broker.unregister(&template).await {
            tracing::warn!(error = %e, "could not remove the heartbeat; it expires by itself");
        }
        tracing::info!(queue = %shared.settings.queue, "consumer stopped");
    }
}

fn heartbeat_template(shared: &Shared, started: f64, n: u64) -> Heartbeat {
    Heartbeat {
        queue_name: shared.settings.queue.clone(),
        computer_name: host::host_name().to_owned(),
        computer_ip: host::host_ip().to_owned(),
        process_id: std::process::id(),
        consumer_id: n,
        consumer_uuid: uuid::Uuid::new_v4().to_string(),
        start_datetime_str: host::local_time(started),
        start_timestamp: started,
        consuming_function: shared.settings.function.clone(),
        code_filename: host::script_path().to_owned(),
        consumer_identification: shared.consumer.clone(),
        capabilities: CAPABILITIES.map(str::to_owned).to_vec(),
        concurrency: shared.settings.concurrency as u64,
        qps: shared.settings.qps,
        worker_kind: WORKER_KIND.into(),
        ..Default::default()
    }
}

async fn sleep_or(d: Duration, stop: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = stop.cancelled() => {},
    }
}

async fn beat(shared: &Shared, template: &Heartbeat) {
    let t = now();
    let mut hb = template.clone();
    hb.hearbeat_timestamp = t;
    hb.hearbeat_datetime_str = host::local_time(t);
    shared
        .counters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .fill(&mut hb, t);
    hb.running = shared.running.lock().map(|r| r.len()).unwrap_or(0) as u64;
    hb.paused = shared.paused.load(Relaxed);
    hb.concurrency = shared.concurrency.load(Relaxed) as u64;
    hb.qps = *shared.qps.lock().unwrap_or_else(|e| e.into_inner());
    hb.control_version = shared.control_version.load(Relaxed);
    hb.msg_num_in_broker = match shared.broker.waiting(&shared.settings.queue()).await {
        Ok(n) => n as i64,
        Err(_) => -1,
    };
    if hb.msg_num_in_broker > 0 {
        hb.last_timestamp_when_has_task_in_queue = t;
    }
    match shared.broker.heartbeat(&hb).await {
        Ok(reply) => shared
            .live_consumers
            .store(reply.live_consumers.max(1), Relaxed),
        Err(e) => tracing::warn!(queue = %shared.settings.queue, error = %e, "heartbeat failed"),
    }
}

async fn heartbeats(shared: Arc<Shared>, template: Heartbeat, stop: CancellationToken) {
    while !stop.is_cancelled() {
        tokio::select! {
            _ = sleep_or(shared.settings.heartbeat_every, &stop) => {},
            _ = shared.beat_now.notified() => {},
        }
        if !stop.is_cancelled() {
            beat(&shared, &template).await;
        }
    }
}

/// Reads funboost's pause flag and taskdeck's desired state, and applies them.
async fn read_control(shared: &Shared) {
    let queue = &shared.settings.queue;
    let (flag, desired) = tokio::join!(shared.broker.paused(queue), shared.broker.desired(queue));
    let flag = flag.unwrap_or_else(|e| {
        tracing::warn!(queue = %queue, error = %e, "cannot read the pause flag");
        shared.paused.load(Relaxed)
    });
    // Unreadable: everything stays as last applied (a Redis hiccup must not lift a pause).
    let desired = match desired {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(queue = %queue, error = %e, "cannot read the desired state");
            return;
        }
    };
    let p = flag || desired.paused;
    if shared.paused.swap(p, Relaxed) != p {
        tracing::info!(queue = %queue, paused = p, "pause changed");
    }
    if desired.version == shared.control_version.load(Relaxed) {
        return;
    }
    let s = &shared.settings;
    let qps = desired.qps.filter(|q| *q > 0.0).or(s.qps);
    *shared.qps.lock().unwrap_or_else(|e| e.into_inner()) = qps;
    let want = desired
        .concurrency
        .map_or(s.concurrency, |c| (c as usize).max(1));
    let had = shared.concurrency.swap(want, Relaxed);
    if want > had {
        shared.slots.add_permits(want - had);
    } else if want < had {
        // Slots in use are taken back as their tasks finish.
        let slots = shared.slots.clone();
        tokio::spawn(async move {
            if let Ok(p) = slots.acquire_many_owned((had - want) as u32).await {
                p.forget();
            }
        });
    }
    shared.control_version.store(desired.version, Relaxed);
    tracing::info!(queue = %queue, version = desired.version, paused = p, ?qps, concurrency = want, "desired state applied");
    shared.beat_now.notify_one();
}

/// Applies control changes (on a wake-up, or polled) and kill requests for the tasks this
/// consumer holds.
async fn control(shared: Arc<Shared>, stop: CancellationToken) {
    let queue = shared.settings.queue.clone();
    let mut wakeups = match shared.broker.control_wakeups(&queue).await {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(queue = %queue, error = %e, "no control wake-ups; polling only");
            None
        }
    };
    while !stop.is_cancelled() {
        read_control(&shared).await;
        let held: Vec<String> = {
            let running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
            let waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
            running.keys().chain(waiting.iter()).cloned().collect()
        };
        match shared.broker.take_kills(&queue, &held).await {
            Ok(kills) => {
                for id in kills {
                    let token = shared
                        .running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&id)
                        .cloned();
                    match token {
                        Some(t) => {
                            tracing::info!(queue = %queue, task_id = %id, "killing running task");
                            t.cancel();
                        }
                        None => {
                            shared
                                .revoked
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(id);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(queue = %queue, error = %e, "cannot read kill requests"),
        }
        match wakeups.as_mut() {
            Some(w) => tokio::select! {
                _ = sleep_or(shared.settings.control_every, &stop) => {},
                changed = w.changed() => if changed.is_err() { wakeups = None },
            },
            None => sleep_or(shared.settings.control_every, &stop).await,
        }
    }
}

async fn orphans(shared: Arc<Shared>, stop: CancellationToken) {
    // The first pass waits a little so that peers starting together have beaten once.
    sleep_or(
        shared
            .settings
            .orphan_check_every
            .min(Duration::from_secs(5)),
        &stop,
    )
    .await;
    while !stop.is_cancelled() {
        if let Err(e) = shared
            .broker
            .requeue_orphans(&shared.settings.queue())
            .await
        {
            tracing::warn!(queue = %shared.settings.queue, error = %e, "orphan requeue pass failed");
        }
        sleep_or(shared.settings.orphan_check_every, &stop).await;
    }
}

/// The pull-and-dispatch loop; returns the messages pulled but not started.
async fn consume(shared: &Arc<Shared>, stop: &CancellationToken) -> VecDeque<Message> {
    let s = &shared.settings;
    let slots = shared.slots.clone();
    let prefetch = if s.prefetch > 0 {
        s.prefetch
    } else {
        s.concurrency
    };
    let lists = s.queue();
    let mut buffer: VecDeque<Message> = VecDeque::new();
    let mut tasks = JoinSet::new();
    let mut idle = Duration::from_millis(10);
    let mut next_start = tokio::time::Instant::now();
    while !stop.is_cancelled() {
        while tasks.try_join_next().is_some() {}
        if shared.paused.load(Relaxed) {
            sleep_or(Duration::from_millis(100), stop).await;
            continue;
        }
        if buffer.is_empty() {
            match shared.broker.pull(&lists, &shared.consumer, prefetch).await {
                Ok(raws) if !raws.is_empty() => {
                    idle = Duration::from_millis(10);
                    let t = now();
                    let mut ids = Vec::with_capacity(raws.len());
                    for raw in raws {
                        match Message::parse(raw.clone(), t) {
                            Ok(m) => {
                                shared
                                    .waiting
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .insert(m.task_id.clone());
                                ids.push(m.task_id.clone());
                                buffer.push_back(m);
                            }
                            Err(e) => reject(shared, raw, e).await,
                        }
                    }
                    // Revoked while waiting in the broker: skipped before they can start (the
                    // control loop catches requests that arrive while they wait here).
                    match shared.broker.take_kills(&s.queue, &ids).await {
                        Ok(kills) => shared
                            .revoked
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend(kills),
                        Err(e) => {
                            tracing::warn!(queue = %s.queue, error = %e, "cannot read kill requests")
                        }
                    }
                }
                Ok(_) => {
                    sleep_or(idle, stop).await;
                    idle = (idle * 2).min(Duration::from_millis(500));
                    continue;
                }
                Err(e) => {
                    tracing::warn!(queue = %s.queue, error = %e, "pull failed");
                    sleep_or(Duration::from_secs(1), stop).await;
                    continue;
                }
            }
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = stop.cancelled() => break,
        };
        let qps = *shared.qps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(qps) = qps {
            let share = if s.distributed_qps {
                shared.live_consumers.load(Relaxed).max(1) as f64
            } else {
                1.0
            };
            let interval = Duration::from_secs_f64(share / qps);
            let now_i = tokio::time::Instant::now();
            if next_start > now_i {
                tokio::select! {
                    _ = tokio::time::sleep_until(next_start) => {},
                    _ = stop.cancelled() => break,
                }
            }
            next_start = next_start.max(now_i) + interval;
        }
        if shared.paused.load(Relaxed) {
            continue;
        }
        let Some(message) = buffer.pop_front() else {
            continue;
        };
        let shared = shared.clone();
        tasks.spawn(async move {
            let _permit = permit;
            execute(&shared, message).await;
        });
    }
    // Running tasks get the grace period; then they are abandoned (messages requeued).
    let grace = tokio::time::sleep(s.stop_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = &mut grace, if !shared.abandon.is_cancelled() => {
                tracing::warn!(queue = %s.queue, running = tasks.len(), "tasks still running after the stop grace; requeueing them");
                shared.abandon.cancel();
            }
        }
    }
    buffer
}

async fn stop_cleanly(shared: &Shared, buffer: VecDeque<Message>) {
    for m in buffer {
        if let Err(e) = shared
            .broker
            .requeue(&shared.settings.queue(), &shared.consumer, &m.raw)
            .await
        {
            tracing::warn!(task_id = %m.task_id, error = %e, "could not requeue; peers will requeue it as an orphan");
        }
    }
}

/// A message that is not a funboost message: acknowledged (retrying cannot fix it) and
/// recorded as failed, so it is visible rather than lost.
async fn reject(shared: &Shared, raw: String, error: String) {
    let s = &shared.settings;
    tracing::warn!(queue = %s.queue, error = %error, "unreadable message");
    shared.acker.ack(raw.clone()).await;
    let t = now();
    let mut event = base_event(shared, &crate::message::new_task_id(), None, t);
    event.state = Some(TaskState::Failed);
    event.run_status = Some("finish".into());
    event.success = Some(false);
    event.exception_type = Some("MessageFormatError".into());
    event.exception_msg = Some(error.clone());
    event.exception = Some(format!("MessageFormatError    {error}"));
    event.time_end = Some(t);
    event.time_cost = Some(0.0);
    event.other.insert("raw_message", &raw);
    shared.emitter.emit(&event).await;
}

fn base_event(shared: &Shared, task_id: &str, message: Option<&Message>, start: f64) -> TaskEvent {
    let s = &shared.settings;
    let mut e = TaskEvent {
        v: Some(1),
        task_id: task_id.to_owned(),
        queue_name: s.queue.clone(),
        function: Some(s.function.clone()),
        time_start: Some(start),
        host_name: Some(host::host_name().to_owned()),
        host_process: Some(format!("{} - {}", host::host_name(), std::process::id())),
        process_id: Some(std::process::id() as i64),
        script_name: Some(host::script_name().to_owned()),
        consumer_id: Some(shared.consumer.clone()),
        ..Default::default()
    };
    if let Some(m) = message {
        e.publish_time = Some(m.publish_time);
        e.params = serde_json::value::to_raw_value(&m.kwargs).ok();
        e.other.insert("msg_dict", &m.msg_dict());
        if let Some(f) = m.extra.get("publish_time_format") {
            e.other.insert("publish_time_format", f);
        }
    }
    let insert = host::local_time(now());
    let minutes = &insert[..insert.len().saturating_sub(3)];
    e.other.insert("insert_minutes", &minutes);
    e.other.insert("insert_time_str", &insert);
    e.other.insert("worker_kind", &WORKER_KIND);
    e
}

enum Ending {
    Done(TaskState, Option<Box<RawValue>>, Option<TaskError>),
    /// The worker is stopping for good: the message goes back to the queue.
    GiveBack,
}

async fn execute(shared: &Shared, message: Message) {
    let s = &shared.settings;
    let task_id = message.task_id.clone();
    shared
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&task_id);
    let kill = CancellationToken::new();
    shared
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(task_id.clone(), kill.clone());
    let start = now();
    let revoked = shared
        .revoked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&task_id);
    let expire = message
        .option("msg_expire_seconds")
        .or(s.expire_after.map(|d| d.as_secs_f64()));
    let mut attempt = 1;
    let mut attempts: Vec<Attempt> = Vec::new();
    let ending = if revoked {
        Ending::Done(TaskState::Revoked, None, None)
    } else if expire.is_some_and(|e| start - message.publish_time > e) {
        Ending::Done(TaskState::Expired, None, None)
    } else {
        let max_retries = message
            .option("max_retry_times")
            .map_or(s.max_retries, |n| n as u32);
        let timeout = message
            .option("function_timeout")
            .map(Duration::from_secs_f64)
            .or(s.timeout);
        let message = Arc::new(message.clone());
        loop {
            attempts.push(Attempt {
                n: attempt,
                start: now(),
                end: None,
                state: None,
                exception_type: None,
                exception_msg: None,
            });
            let mut running = base_event(shared, &task_id, Some(&message), start);
            running.state = Some(TaskState::Running);
            running.run_status = Some("running".into());
            running.success = Some(false);
            running.run_times = Some(attempt);
            running.attempts = retried(&attempts);
            shared.emitter.emit(&running).await;
            let ctx = TaskContext {
                task_id: task_id.clone(),
                queue: s.queue.clone(),
                attempt,
                message: message.clone(),
                cancel: kill.child_token(),
            };
            let abandon = shared.abandon.clone();
            let run = (shared.handler)(ctx.clone(), message.kwargs.clone());
            let outcome = tokio::select! {
                r = with_timeout(run, timeout) => Some(r),
                _ = kill.cancelled() => None,
                _ = abandon.cancelled() => { ctx.cancel.cancel(); break Ending::GiveBack }
            };
            match outcome {
                None => break Ending::Done(TaskState::Killed, None, None),
                Some(Ok(value)) => break Ending::Done(TaskState::Success, Some(value), None),
                Some(Err(e)) if e.retryable && attempt <= max_retries => {
                    close(&mut attempts, TaskState::Failed, Some(&e));
                    let wait = s
                        .retry_backoff
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(Duration::from_secs(60));
                    tracing::debug!(task_id = %task_id, attempt, error = %e, "retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {},
                        _ = kill.cancelled() => break Ending::Done(TaskState::Killed, None, Some(e)),
                        _ = shared.abandon.cancelled() => break Ending::GiveBack,
                    }
                    attempt += 1;
                }
                Some(Err(e)) => break Ending::Done(TaskState::Failed, None, Some(e)),
            }
        }
    };
    shared
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&task_id);
    let raw = &message.raw;
    match ending {
        Ending::GiveBack => {
            match shared
                .broker
                .requeue(&s.queue(), &shared.consumer, raw)
                .await
            {
                Ok(()) => {
                    // Waiting again: the record says so instead of "running" forever.
                    let mut event = base_event(shared, &task_id, Some(&message), start);
                    event.state = Some(TaskState::Pending);
                    event.run_times = Some(attempt.max(1));
                    close(&mut attempts, TaskState::Pending, None);
                    event.attempts = retried(&attempts);
                    shared.emitter.emit(&event).await;
                }
                Err(e) => {
                    tracing::warn!(task_id = %task_id, error = %e, "could not requeue; peers will requeue it as an orphan");
                }
            }
        }
        Ending::Done(state, result, error) => {
            let end = now();
            let mut event = base_event(shared, &task_id, Some(&message), start);
            event.state = Some(state);
            event.run_status = Some("finish".into());
            event.success = Some(state == TaskState::Success);
            event.run_times = Some(attempt);
            event.result = result;
            event.time_end = Some(end);
            event.time_cost = Some(((end - start) * 10_000.0).round() / 10_000.0);
            close(&mut attempts, state, error.as_ref());
            event.attempts = retried(&attempts);
            if let Some(e) = error {
                event.exception = Some(format!("{}    {}", e.kind, e.message));
                event.exception_type = Some(e.kind);
                event.exception_msg = Some(e.message);
                event.traceback = e.traceback;
            }
            // Acknowledged before the record is sent, as funboost does: the record is queued
            // in the emitter, which never drops it.
            shared.acker.ack(raw.clone()).await;
            shared
                .counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(end, end - start, state != TaskState::Success);
            shared.emitter.emit(&event).await;
        }
    }
}

/// Ends the running attempt, if one runs (a kill during the wait before a retry finds the
/// last attempt already ended).
fn close(attempts: &mut [Attempt], state: TaskState, error: Option<&TaskError>) {
    if let Some(a) = attempts.last_mut().filter(|a| a.end.is_none()) {
        a.end = Some(now().max(a.start));
        a.state = Some(state);
        a.exception_type = error.map(|e| e.kind.clone());
        a.exception_msg = error.map(|e| e.message.clone());
    }
}

/// The attempts an event carries: none for a task that ran once (its record says it all).
fn retried(attempts: &[Attempt]) -> Option<Vec<Attempt>> {
    (attempts.len() > 1).then(|| attempts.to_vec())
}

async fn with_timeout(run: BoxFuture<Outcome>, timeout: Option<Duration>) -> Outcome {
    match timeout {
        None => run.await,
        Some(t) => match tokio::time::timeout(t, run).await {
            Ok(r) => r,
            Err(_) => Err(TaskError::new(
                "FunctionTimeout",
                format!("the task ran longer than {:.3} s", t.as_secs_f64()),
            )),
        },
    }
}

enum AckMsg {
    Ack(String),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Acknowledges finished messages in batches: one `ZREM` for everything that finished in the
/// last few milliseconds instead of a round trip per task. A crash before the batch is sent
/// leaves those messages in the in-flight set, to be run again like any unacknowledged one.
struct Acker {
    tx: tokio::sync::mpsc::Sender<AckMsg>,
}

const ACK_BATCH: usize = 200;
const ACK_LINGER: Duration = Duration::from_millis(5);

impl Acker {
    fn start(broker: Arc<dyn Broker>, queue: String, consumer: String) -> Acker {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<AckMsg>(10_000);
        tokio::spawn(async move {
            let mut batch: Vec<String> = Vec::new();
            let mut waiting: Vec<tokio::sync::oneshot::Sender<()>> = Vec::new();
            while let Some(first) = rx.recv().await {
                let deadline = tokio::time::Instant::now() + ACK_LINGER;
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    match msg {
                        AckMsg::Ack(raw) => batch.push(raw),
                        AckMsg::Flush(done) => waiting.push(done),
                    }
                    if batch.len() >= ACK_BATCH || !waiting.is_empty() {
                        break;
                    }
                    next = tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .ok()
                        .flatten();
                }
                let mut backoff = Duration::from_millis(100);
                while !batch.is_empty() {
                    match broker.ack(&queue, &consumer, &batch).await {
                        Ok(()) => batch.clear(),
                        Err(e) => {
                            tracing::warn!(queue = %queue, error = %e, messages = batch.len(), retry_in_ms = backoff.as_millis() as u64, "acknowledging failed; retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
                for done in waiting.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Acker { tx }
    }

    async fn ack(&self, raw: String) {
        let _ = self.tx.send(AckMsg::Ack(raw)).await;
    }

    /// Returns once every acknowledgement queued before it has reached the broker.
    async fn flush(&self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        if self.tx.send(AckMsg::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}
