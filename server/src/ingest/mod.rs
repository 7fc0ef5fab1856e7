//! Ingest: every source (HTTP, Redis stream, in-process channel) hands events to one batcher,
//! which writes them to the store in batches and tells each source when its events are
//! committed — only then does a source acknowledge them (HTTP 202, XACK).

pub mod failures;
pub mod memory;
pub mod metrics;
pub mod record;
pub mod redis_stream;
mod resp;
pub mod stats;

use crate::store::{DeadLetter, Store, WriteOutcome};
use metrics::Metrics;
use protocol::event::TaskEvent;
use record::TaskRecord;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A payload kept in a dead letter is cut to this size.
const DEAD_LETTER_MAX: usize = 64 * 1024;

/// An event as a source read it.
pub enum RawEvent {
    /// JSON text (stream entries, NDJSON lines, elements of an HTTP array).
    Text(String),
    /// Unreadable before any parsing: the reason and what was received.
    Invalid { error: String, payload: String },
}

#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// Flush when this many events are waiting…
    pub max_rows: usize,
    /// …or when the oldest waiting event is this old.
    pub max_age: Duration,
    /// Submissions waiting for the batcher before sources are made to wait (backpressure).
    pub queue: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_rows: 5_000,
            max_age: Duration::from_millis(200),
            queue: 256,
        }
    }
}

/// Events of one source call, parsed: records to write, dead letters to keep, and the
/// per-index errors to report back.
#[derive(Debug, Default)]
pub struct Prepared {
    pub records: Vec<TaskRecord>,
    pub dead: Vec<DeadLetter>,
    /// `(index in the submission, reason)` for every rejected event.
    pub errors: Vec<(usize, String)>,
}

impl Prepared {
    /// Parses raw events (JSON values, or text that was not JSON) from `source`.
    pub fn from_raw(raw: impl IntoIterator<Item = RawEvent>, source: &str) -> Prepared {
        let now = now_epoch();
        let raw = raw.into_iter();
        let mut p = Prepared {
            records: Vec::with_capacity(raw.size_hint().0),
            ..Prepared::default()
        };
        for (i, item) in raw.enumerate() {
            let (error, payload) = match item {
                RawEvent::Text(text) => match TaskEvent::from_json_str(&text) {
                    Ok(event) => {
                        p.records.push(TaskRecord::from_event(event, now));
                        continue;
                    }
                    Err(e) => (e.to_string(), text),
                },
                RawEvent::Invalid { error, payload } => (error, payload),
            };
            p.dead.push(DeadLetter {
                received_at: now,
                source: source.to_owned(),
                error: error.clone(),
                payload: truncate(payload, DEAD_LETTER_MAX),
            });
            p.errors.push((i, error));
        }
        p
    }

    pub fn len(&self) -> usize {
        self.records.len() + self.dead.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("taskdeck is shutting down; nothing was recorded, send again")]
    Closed,
    #[error("the store did not commit the events in time; send again (duplicates are harmless)")]
    Timeout,
}

struct Submission {
    prepared: Prepared,
    done: oneshot::Sender<WriteOutcome>,
}

/// The handle sources use to hand events to the batcher.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Submission>,
    pub metrics: Arc<Metrics>,
}

impl Ingest {
    /// Starts the batcher. It runs until every `Ingest` handle is dropped, then writes what
    /// is still waiting and ends.
    pub fn start(
        store: Store,
        config: BatchConfig,
        metrics: Arc<Metrics>,
    ) -> (Ingest, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.queue);
        let (batches_tx, batches_rx) = mpsc::channel(1);
        let collector = tokio::spawn(collect(rx, batches_tx, config));
        let writer = tokio::spawn(write(batches_rx, store, metrics.clone()));
        let handle = tokio::spawn(async move {
            let _ = collector.await;
            let _ = writer.await;
        });
        (Ingest { tx, metrics }, handle)
    }

    /// Hands events over and waits until they are committed. Waits (backpressure) while the
    /// batcher is full; gives up after `timeout`, in which case the caller must not
    /// acknowledge the events to their sender.
    pub async fn submit(
        &self,
        prepared: Prepared,
        timeout: Duration,
    ) -> Result<WriteOutcome, IngestError> {
        let n = prepared.len() as u64;
        let (done, committed) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        let sent = tokio::time::timeout(timeout, self.tx.send(Submission { prepared, done })).await;
        match sent {
            Err(_) => return Err(IngestError::Timeout),
            Ok(Err(_)) => return Err(IngestError::Closed),
            Ok(Ok(())) => self.metrics.queued.fetch_add(n, Relaxed),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, committed).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(IngestError::Closed),
            Err(_) => Err(IngestError::Timeout),
        }
    }
}

/// Gathers submissions into batches by size or age; the writer works on the previous batch
/// meanwhile.
async fn collect(
    mut rx: mpsc::Receiver<Submission>,
    batches: mpsc::Sender<Vec<Submission>>,
    config: BatchConfig,
) {
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + config.max_age;
        let mut rows = first.prepared.len();
        let mut batch = vec![first];
        while rows < config.max_rows {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(s)) => {
                    rows += s.prepared.len();
                    batch.push(s);
                }
                Ok(None) | Err(_) => break,
            }
        }
        if batches.send(batch).await.is_err() {
            return;
        }
    }
}

/// One batch on its way through the share writers: its senders hear back once every share
/// has committed.
struct BatchJob {
    waiting: Vec<oneshot::Sender<WriteOutcome>>,
    /// Events of the batch, for the queue-depth gauge.
    queued: u64,
    /// Shares not yet committed (or given up on).
    left: usize,
    outcome: WriteOutcome,
}

/// One share of a batch: the records of some of its tasks (and, for the first share, its
/// dead letters).
struct Share {
    records: Vec<TaskRecord>,
    dead: Vec<DeadLetter>,
    job: Arc<std::sync::Mutex<BatchJob>>,
}

/// Splits every batch by task id over the store's writers, each writing its shares in order on
/// its own connection. A task always lands in the same share, so its events are written in the
/// order they came; shares of the same batch commit independently, and a writer moves on to its
/// share of the next batch without waiting for the others.
async fn write(mut batches: mpsc::Receiver<Vec<Submission>>, store: Store, metrics: Arc<Metrics>) {
    let writers = store.writers();
    let mut shares_tx = Vec::with_capacity(writers);
    let mut handles = Vec::with_capacity(writers);
    for _ in 0..writers {
        let (tx, rx) = mpsc::channel(1);
        shares_tx.push(tx);
        handles.push(tokio::spawn(write_shares(
            rx,
            store.clone(),
            metrics.clone(),
        )));
    }
    while let Some(batch) = batches.recv().await {
        let queued: u64 = batch.iter().map(|s| s.prepared.len() as u64).sum();
        let mut records = Vec::new();
        let mut dead = Vec::new();
        let mut waiting = Vec::with_capacity(batch.len());
        for s in batch {
            records.extend(s.prepared.records);
            dead.extend(s.prepared.dead);
            waiting.push(s.done);
        }
        let mut parts: Vec<Vec<TaskRecord>> = (0..writers).map(|_| Vec::new()).collect();
        for r in record::reduce(records) {
            parts[share_of(&r.task_id, writers)].push(r);
        }
        let job = Arc::new(std::sync::Mutex::new(BatchJob {
            waiting,
            queued,
            left: writers,
            outcome: WriteOutcome::default(),
        }));
        let mut dead = Some(dead);
        for (tx, records) in shares_tx.iter().zip(parts) {
            let share = Share {
                records,
                dead: dead.take().unwrap_or_default(),
                job: job.clone(),
            };
            if tx.send(share).await.is_err() {
                return;
            }
        }
    }
    drop(shares_tx);
    for h in handles {
        let _ = h.await;
    }
}

fn share_of(task_id: &str, writers: usize) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault};
    if writers == 1 {
        return 0;
    }
    let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one(task_id);
    (h % writers as u64) as usize
}

async fn write_shares(mut shares: mpsc::Receiver<Share>, store: Store, metrics: Arc<Metrics>) {
    while let Some(Share { records, dead, job }) = shares.recv().await {
        let mut backoff = Duration::from_millis(100);
        let outcome = loop {
            if records.is_empty() && dead.is_empty() {
                break Some(WriteOutcome::default());
            }
            let started = Instant::now();
            match store.write_batch(&records, &dead).await {
                Ok(outcome) => {
                    metrics.flushed(records.len() + dead.len(), started.elapsed().as_secs_f64());
                    metrics.stored.fetch_add(outcome.changed as u64, Relaxed);
                    metrics.finished.fetch_add(outcome.finished as u64, Relaxed);
                    if outcome.changed > 0 {
                        metrics.committed.send_modify(|n| *n += 1);
                    }
                    break Some(outcome);
                }
                Err(e) => {
                    metrics.flush_errors.fetch_add(1, Relaxed);
                    // Nobody waits any more: every source has given up and will send again
                    // (HTTP clients retry, Redis entries stay pending), so drop the share.
                    let abandoned = job.lock().unwrap().waiting.iter().all(|d| d.is_closed());
                    if abandoned {
                        tracing::warn!(error = %format!("{e:#}"), rows = records.len(), "batch write failed; its senders gave up and will resend");
                        break None;
                    }
                    tracing::warn!(error = %format!("{e:#}"), rows = records.len(), retry_in_ms = backoff.as_millis() as u64, "batch write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        let mut job = job.lock().unwrap();
        if let Some(o) = outcome {
            job.outcome.changed += o.changed;
            job.outcome.finished += o.finished;
        }
        job.left -= 1;
        if job.left == 0 {
            metrics.queued.fetch_sub(job.queued, Relaxed);
            let outcome = job.outcome;
            for done in job.waiting.drain(..) {
                let _ = done.send(outcome);
            }
        }
    }
}
