//! Live push over SSE. Each view (the overview, the workers, one queue's page, the newest page
//! of one task filter) is computed by one task per instance, shared by every browser watching it, and only while somebody watches: it wakes
//! on committed batches (here, or on another instance through Redis pub/sub) and every
//! [`TICK`] for broker-side facts that arrive without events (backlog, heartbeats), and sends
//! a frame at most every [`MIN_GAP`] and only when its content changed. A frame is a whole
//! snapshot, so resuming after a reconnect is sending the newest one unless the client
//! already has it (`Last-Event-ID`).

use crate::ingest::metrics::Metrics;
use crate::services::Services;
use app::backend::Backend;
use futures_util::StreamExt;
use protocol::series::Grain;
use protocol::task::TaskQuery;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// At most four frames a second per view.
pub const MIN_GAP: Duration = Duration::from_millis(250);
/// At most one frame a second per task filter: a filter's page may cost a search.
pub const TASKS_GAP: Duration = Duration::from_secs(1);
/// Most task filters one instance keeps live at once.
pub const MAX_TASK_VIEWS: usize = 32;
/// Most live streams one caller (a user, over all their tabs, or a token) keeps open on one
/// instance: a page opens one or two.
pub const MAX_STREAMS_PER_CALLER: usize = 24;
/// Most different task filters one caller keeps live, so that one caller cannot take every
/// slot of [`MAX_TASK_VIEWS`].
pub const MAX_TASK_VIEWS_PER_CALLER: usize = 4;
/// Recomputed at least this often while watched.
pub const TICK: Duration = Duration::from_secs(2);
/// Where instances tell each other that they committed something.
pub const CHANNEL: &str = "taskdeck:live";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum View {
    Overview,
    Workers,
    /// One queue's page with the series of one grain.
    Queue {
        queue: String,
        grain: Grain,
    },
    /// The newest page of the tasks matching a filter: the filter's query string with the
    /// keys of `GET /api/v1/tasks`, in one canonical form.
    Tasks {
        query: String,
    },
}

impl View {
    /// The view names a client may ask for.
    pub const NAMES: [&'static str; 4] = ["overview", "workers", "queue", "tasks"];

    /// The view called `name`; `queue` needs the queue's name and takes a grain (default
    /// `second`).
    pub fn parse(name: &str, queue: Option<&str>, grain: Option<&str>) -> Result<View, String> {
        match name {
            "overview" => Ok(View::Overview),
            "workers" => Ok(View::Workers),
            "queue" => {
                let queue = queue
                    .filter(|q| !q.is_empty())
                    .ok_or("view `queue` needs `queue=<name>`")?;
                let grain = grain.map_or(Ok(Grain::Second), Grain::parse)?;
                Ok(View::Queue {
                    queue: queue.to_owned(),
                    grain,
                })
            }
            "tasks" => Err("view `tasks` takes the filters of GET /api/v1/tasks".into()),
            other => Err(format!(
                "unknown view `{other}`; expected one of: {}",
                View::NAMES.join(", ")
            )),
        }
    }

    /// The SSE event name of the view's frames.
    pub fn event(&self) -> &'static str {
        match self {
            View::Overview => "overview",
            View::Workers => "workers",
            View::Queue { .. } => "queue",
            View::Tasks { .. } => "tasks",
        }
    }

    /// The shortest time between two frames.
    pub fn min_gap(&self) -> Duration {
        match self {
            View::Tasks { .. } => TASKS_GAP,
            _ => MIN_GAP,
        }
    }

    /// The live view of the newest page of `query`, whose cursors are refused: a live page
    /// is always the newest. The filter is checked here so that a bad one is a 400.
    pub fn tasks(query: &TaskQuery) -> Result<View, String> {
        if query.older.is_some() || query.newer.is_some() {
            return Err("a live task list is the newest page: drop `older`/`newer`".into());
        }
        query.parse(crate::model::now_epoch())?;
        let query = serde_urlencoded::to_string(query).map_err(|e| e.to_string())?;
        Ok(View::Tasks { query })
    }
}

/// One pushed snapshot.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Milliseconds since the epoch when computed: increasing, comparable across instances.
    pub id: u64,
    /// The view's name, or `unavailable` with `{"error": …}` when it could not be computed.
    pub event: &'static str,
    pub data: Arc<str>,
}

type Views = HashMap<View, watch::Sender<Option<Frame>>>;

/// What one caller has open.
#[derive(Default)]
struct Usage {
    streams: usize,
    /// Open streams per task filter.
    task_views: HashMap<View, usize>,
}

/// Why a stream was not opened.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// This caller has too many open (429).
    Caller(String),
    /// This instance has too many task filters live (503).
    Instance(String),
}

pub struct Live {
    services: Arc<Services>,
    metrics: Arc<Metrics>,
    /// Bumped on every committed change, local or remote.
    changes: watch::Sender<u64>,
    views: Mutex<Views>,
    callers: Arc<Mutex<HashMap<String, Usage>>>,
    shutdown: CancellationToken,
}

impl Live {
    /// Starts relaying committed batches into wake-ups (and, with Redis, to and from the other
    /// instances).
    pub fn start(
        services: Arc<Services>,
        metrics: Arc<Metrics>,
        redis: Option<redis::Client>,
        instance: String,
        shutdown: CancellationToken,
    ) -> Arc<Live> {
        let live = Arc::new(Live {
            services,
            metrics: metrics.clone(),
            changes: watch::Sender::new(0),
            views: Mutex::new(HashMap::new()),
            callers: Default::default(),
            shutdown: shutdown.clone(),
        });
        tokio::spawn(relay_local(
            live.clone(),
            metrics.committed.subscribe(),
            redis.clone(),
            instance.clone(),
        ));
        if let Some(client) = redis {
            tokio::spawn(relay_remote(live.clone(), client, instance));
        }
        live
    }

    fn wake(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn views(&self) -> std::sync::MutexGuard<'_, Views> {
        self.views.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The frames of `view`, starting its producer if nobody watched it yet, or why not.
    fn subscribe(self: &Arc<Self>, view: View) -> Result<watch::Receiver<Option<Frame>>, String> {
        let mut views = self.views();
        if let Some(tx) = views.get(&view) {
            return Ok(tx.subscribe());
        }
        if matches!(view, View::Tasks { .. })
            && views
                .iter()
                // A view nobody watches any more ends at its next wake-up; it does not count.
                .filter(|(v, tx)| matches!(v, View::Tasks { .. }) && tx.receiver_count() > 0)
                .count()
                >= MAX_TASK_VIEWS
        {
            return Err(format!(
                "{MAX_TASK_VIEWS} different task filters are live on this instance already; try again when one closes"
            ));
        }
        let (tx, rx) = watch::channel(None);
        views.insert(view.clone(), tx.clone());
        tokio::spawn(produce(self.clone(), view, tx));
        Ok(rx)
    }

    /// Opens a stream of `view` for `caller` (how the audit log names them), within the
    /// caller's share: the frames, and a guard that counts the stream until dropped.
    pub fn open(
        self: &Arc<Self>,
        caller: &str,
        view: View,
    ) -> Result<(watch::Receiver<Option<Frame>>, StreamGuard), Refusal> {
        let tasks = matches!(view, View::Tasks { .. });
        {
            let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
            let usage = callers.entry(caller.to_owned()).or_default();
            if usage.streams >= MAX_STREAMS_PER_CALLER {
                return Err(Refusal::Caller(format!(
                    "you have {MAX_STREAMS_PER_CALLER} live streams open on this instance already; \
                     close some (other tabs or scripts) first"
                )));
            }
            if tasks
                && !usage.task_views.contains_key(&view)
                && usage.task_views.len() >= MAX_TASK_VIEWS_PER_CALLER
            {
                return Err(Refusal::Caller(format!(
                    "you follow {MAX_TASK_VIEWS_PER_CALLER} different live task filters already; \
                     close one first"
                )));
            }
            usage.streams += 1;
            if tasks {
                *usage.task_views.entry(view.clone()).or_default() += 1;
            }
        }
        let guard = StreamGuard {
            metrics: self.metrics.clone(),
            callers: self.callers.clone(),
            caller: caller.to_owned(),
            task_view: tasks.then(|| view.clone()),
        };
        self.metrics.live_clients.inc_by(1);
        let frames = self.subscribe(view).map_err(Refusal::Instance)?;
        Ok((frames, guard))
    }

    async fn compute(&self, view: &View) -> (&'static str, String) {
        let json = match view {
            View::Overview => self
                .services
                .overview()
                .await
                .map(|o| serde_json::to_string(&o)),
            View::Workers => self
                .services
                .workers()
                .await
                .map(|f| serde_json::to_string(&f)),
            View::Queue { queue, grain } => self
                .services
                .queue_page(queue, *grain)
                .await
                .map(|p| serde_json::to_string(&p)),
            View::Tasks { query } => {
                let parsed = serde_urlencoded::from_str::<TaskQuery>(query)
                    .map_err(|e| e.to_string())
                    .and_then(|q| q.parse(crate::model::now_epoch()));
                match parsed {
                    Ok((filter, at, limit)) => self
                        .services
                        .list_tasks(&filter, &at, limit)
                        .await
                        .map(|p| serde_json::to_string(&p)),
                    Err(e) => return unavailable(e),
                }
            }
        };
        match json {
            Ok(Ok(json)) => (view.event(), json),
            Ok(Err(e)) => unavailable(e),
            Err(e) => unavailable(e),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> (&'static str, String) {
    let body = serde_json::json!({ "error": e.to_string() });
    ("unavailable", body.to_string())
}

/// One open stream, counted for its caller and in the metrics until dropped.
pub struct StreamGuard {
    metrics: Arc<Metrics>,
    callers: Arc<Mutex<HashMap<String, Usage>>>,
    caller: String,
    task_view: Option<View>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.metrics.live_clients.dec_by(1);
        let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(usage) = callers.get_mut(&self.caller) else {
            return;
        };
        usage.streams = usage.streams.saturating_sub(1);
        if let Some(view) = &self.task_view {
            if let Some(n) = usage.task_views.get_mut(view) {
                *n -= 1;
                if *n == 0 {
                    usage.task_views.remove(view);
                }
            }
        }
        if usage.streams == 0 {
            callers.remove(&self.caller);
        }
    }
}

fn now_ms() -> u64 {
    (crate::model::now_epoch() * 1000.0) as u64
}

/// Computes `view` while somebody watches it; ends (and forgets the view) when nobody does,
/// or at shutdown, which closes every stream of it.
async fn produce(live: Arc<Live>, view: View, tx: watch::Sender<Option<Frame>>) {
    let mut changes = live.changes.subscribe();
    loop {
        changes.borrow_and_update();
        let (event, data) = live.compute(&view).await;
        let changed = tx
            .borrow()
            .as_ref()
            .is_none_or(|f| f.event != event || *f.data != *data);
        if changed {
            tx.send_replace(Some(Frame {
                id: now_ms(),
                event,
                data: data.into(),
            }));
        }
        tokio::select! {
            _ = tokio::time::sleep(view.min_gap()) => {},
            _ = live.shutdown.cancelled() => {},
        }
        tokio::select! {
            _ = changes.changed() => {},
            _ = tokio::time::sleep(TICK) => {},
            _ = live.shutdown.cancelled() => {},
        }
        let mut views = live.views();
        if live.shutdown.is_cancelled() {
            views.clear();
            return;
        }
        if tx.receiver_count() == 0 {
            views.remove(&view);
            return;
        }
    }
}

/// Committed batches of this instance wake its views and, with Redis, the other instances'
/// (at most one note per [`MIN_GAP`]).
async fn relay_local(
    live: Arc<Live>,
    mut committed: watch::Receiver<u64>,
    redis: Option<redis::Client>,
    instance: String,
) {
    let mut conn = None;
    loop {
        tokio::select! {
            r = committed.changed() => if r.is_err() { return },
            _ = live.shutdown.cancelled() => return,
        }
        live.wake();
        if let Some(client) = &redis {
            if conn.is_none() {
                conn = client.get_multiplexed_async_connection().await.ok();
            }
            if let Some(c) = conn.as_mut() {
                let sent: redis::RedisResult<()> = redis::cmd("PUBLISH")
                    .arg(CHANNEL)
                    .arg(&instance)
                    .query_async(c)
                    .await;
                if sent.is_err() {
                    conn = None;
                }
            }
        }
        tokio::time::sleep(MIN_GAP).await;
    }
}

/// Notes from other instances wake this one's views; the subscription comes back after Redis
/// does.
async fn relay_remote(live: Arc<Live>, client: redis::Client, instance: String) {
    while !live.shutdown.is_cancelled() {
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub.subscribe(CHANNEL).await.is_ok() {
                let mut notes = pubsub.on_message();
                loop {
                    tokio::select! {
                        note = notes.next() => match note {
                            Some(n) => {
                                if n.get_payload::<String>().ok().as_deref() != Some(instance.as_str()) {
                                    live.wake();
                                }
                            }
                            None => break,
                        },
                        _ = live.shutdown.cancelled() => return,
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {},
            _ = live.shutdown.cancelled() => return,
        }
    }
}
