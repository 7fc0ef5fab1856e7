//! Ingest: every source (HTTP, Redis stream, in-process channel) hands events to one batcher,
//! which writes them to the store in batches and tells each source when its events are
//! committed — only then does a source acknowledge them (HTTP 202, XACK).

pub mod memory;
pub mod metrics;
pub mod redis_stream;
mod resp;

use crate::model::now_epoch;
use crate::model::record::{self, TaskRecord};
use crate::store::{DeadLetter, Store, WriteOutcome};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use metrics::Metrics;
use protocol::event::{TaskEvent, TaskState};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A payload kept in a dead letter is cut to this size.
const DEAD_LETTER_MAX: usize = 64 * 1024;
/// The reason kept with a dead letter is cut to this size.
const DEAD_LETTER_ERROR_MAX: usize = 2 * 1024;

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
            max_rows: 10_000,
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
            // Dead letters follow the stored-text rules too: a raw NUL in what a sender sent
            // must not make the store refuse the letter that reports it.
            p.dead.push(DeadLetter {
                received_at: now,
                source: source.to_owned(),
                error: protocol::text::storable(error.clone(), DEAD_LETTER_ERROR_MAX),
                payload: protocol::text::storable(payload, DEAD_LETTER_MAX),
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
    /// The sender can wait a batch longer (see [`Ingest::submit_patient`]).
    patient: bool,
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
        let writer = tokio::spawn(write(batches_rx, store, metrics.clone(), config.max_age));
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
        self.hand_over(prepared, timeout, false).await
    }

    /// Like [`Ingest::submit`], for a sender that can wait a batch longer (the Redis stream,
    /// whose entries simply stay pending): a task still running at the end of its batch is
    /// carried into the next one, so when it finishes by then it is written once — not
    /// inserted as running and then updated, which costs a database about twice as much.
    pub async fn submit_patient(
        &self,
        prepared: Prepared,
        timeout: Duration,
    ) -> Result<WriteOutcome, IngestError> {
        self.hand_over(prepared, timeout, true).await
    }

    async fn hand_over(
        &self,
        prepared: Prepared,
        timeout: Duration,
        patient: bool,
    ) -> Result<WriteOutcome, IngestError> {
        let n = prepared.len() as u64;
        let (done, committed) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        let submission = Submission {
            prepared,
            done,
            patient,
        };
        let sent = tokio::time::timeout(timeout, self.tx.send(submission)).await;
        match sent {
            Err(_) => return Err(IngestError::Timeout),
            Ok(Err(_)) => return Err(IngestError::Closed),
            Ok(Ok(())) => {
                self.metrics.queued.inc_by(n as i64);
            }
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

type Job = Arc<std::sync::Mutex<BatchJob>>;

/// One share of a batch: the records of some of its tasks (and, for the first share, its
/// dead letters).
struct Share {
    records: Vec<TaskRecord>,
    dead: Vec<DeadLetter>,
    /// The batch's senders, patient and impatient ones apart (none for the records carried
    /// over when no batch followed in time).
    jobs: Vec<Job>,
    /// Earlier batches waiting for records they carried into this share, one entry per record.
    also: Vec<Job>,
}

/// A running record carried into the next batch, and the batches waiting for its commit.
struct Carried {
    record: TaskRecord,
    jobs: Vec<Job>,
}

/// Splits every batch by task id over the store's writers, each writing its shares in order on
/// its own connection. A task always lands in the same share, so its events are written in the
/// order they came; shares of the same batch commit independently, and a writer moves on to its
/// share of the next batch without waiting for the others. Tasks of patient senders still
/// running at the end of a batch are carried into the next one (or written after `max_age`
/// when none follows); their batch is answered once they are committed.
async fn write(
    mut batches: mpsc::Receiver<Vec<Submission>>,
    store: Store,
    metrics: Arc<Metrics>,
    max_age: Duration,
) {
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
    let mut carried: HashMap<String, Carried> = HashMap::new();
    loop {
        let next = if carried.is_empty() {
            batches.recv().await
        } else {
            tokio::time::timeout(max_age, batches.recv())
                .await
                .unwrap_or(Some(Vec::new()))
        };
        let Some(batch) = next else { break };
        // Patient and impatient senders are answered separately: only the former wait for
        // carried tasks. Tasks an impatient sender sent events of are never carried (only a
        // batch with patient senders carries anything, so only such a batch lists them).
        let any_patient = batch.iter().any(|s| s.patient);
        let mut impatient: HashSet<String> = HashSet::new();
        let mut records = Vec::new();
        let mut dead = Vec::new();
        let mut waiting = [Vec::new(), Vec::new()];
        let mut queued = [0u64; 2];
        for s in batch {
            let kind = usize::from(s.patient);
            queued[kind] += s.prepared.len() as u64;
            if any_patient && !s.patient {
                impatient.extend(s.prepared.records.iter().map(|r| r.task_id.clone()));
            }
            records.extend(s.prepared.records);
            dead.extend(s.prepared.dead);
            waiting[kind].push(s.done);
        }
        let [impatient_job, patient_job] = [0, 1].map(|kind| {
            let waiting = std::mem::take(&mut waiting[kind]);
            (!waiting.is_empty()).then(|| {
                Arc::new(std::sync::Mutex::new(BatchJob {
                    waiting,
                    queued: queued[kind],
                    left: writers,
                    outcome: WriteOutcome::default(),
                }))
            })
        });
        let mut out: Vec<Carried> = Vec::new();
        let mut carry: HashMap<String, Carried> = HashMap::new();
        for r in record::reduce(records) {
            let mut c = match carried.remove(&r.task_id) {
                Some(mut c) => {
                    c.record.merge(r);
                    c
                }
                None => Carried {
                    record: r,
                    jobs: Vec::new(),
                },
            };
            // Carried once at most: a task still running a batch later is written.
            let carry_it = c.jobs.is_empty()
                && c.record.state == TaskState::Running
                && !impatient.contains(&c.record.task_id);
            match (&patient_job, carry_it) {
                (Some(job), true) => {
                    job.lock().unwrap().left += 1;
                    c.jobs.push(job.clone());
                    carry.insert(c.record.task_id.clone(), c);
                }
                _ => out.push(c),
            }
        }
        // What was carried and did not come up again is written now.
        out.extend(std::mem::replace(&mut carried, carry).into_values());
        let jobs = patient_job.into_iter().chain(impatient_job).collect();
        if dispatch(&shares_tx, out, dead, jobs).await.is_err() {
            return;
        }
    }
    let _ = dispatch(
        &shares_tx,
        carried.into_values().collect(),
        Vec::new(),
        Vec::new(),
    )
    .await;
    drop(shares_tx);
    for h in handles {
        let _ = h.await;
    }
}

/// Sends one share to every writer.
async fn dispatch(
    shares_tx: &[mpsc::Sender<Share>],
    out: Vec<Carried>,
    dead: Vec<DeadLetter>,
    jobs: Vec<Job>,
) -> Result<(), ()> {
    let writers = shares_tx.len();
    if jobs.is_empty() && out.is_empty() {
        return Ok(());
    }
    let mut parts: Vec<(Vec<TaskRecord>, Vec<Job>)> =
        (0..writers).map(|_| Default::default()).collect();
    for c in out {
        let part = &mut parts[share_of(&c.record.task_id, writers)];
        part.0.push(c.record);
        part.1.extend(c.jobs);
    }
    let mut dead = Some(dead);
    for (tx, (records, also)) in shares_tx.iter().zip(parts) {
        let share = Share {
            records,
            dead: dead.take().unwrap_or_default(),
            jobs: jobs.clone(),
            also,
        };
        tx.send(share).await.map_err(|_| ())?;
    }
    Ok(())
}

fn share_of(task_id: &str, writers: usize) -> usize {
    use std::hash::BuildHasher;
    if writers == 1 {
        return 0;
    }
    let h = foldhash::fast::FixedState::default().hash_one(task_id);
    (h % writers as u64) as usize
}

async fn write_shares(mut shares: mpsc::Receiver<Share>, store: Store, metrics: Arc<Metrics>) {
    while let Some(Share {
        records,
        dead,
        jobs,
        also,
    }) = shares.recv().await
    {
        let mut backoff = Duration::from_millis(100);
        let outcome = loop {
            if records.is_empty() && dead.is_empty() {
                break Some(WriteOutcome::default());
            }
            let started = Instant::now();
            match write_isolating(&store, &records, &dead, &metrics).await {
                Ok(outcome) => {
                    metrics.flushed(records.len() + dead.len(), started.elapsed().as_secs_f64());
                    metrics.stored.inc_by(outcome.changed as u64);
                    metrics.finished.inc_by(outcome.finished as u64);
                    if outcome.changed > 0 {
                        metrics.committed.send_modify(|n| *n += 1);
                    }
                    break Some(outcome);
                }
                Err(e) => {
                    metrics.flush_errors.inc_by(1);
                    // Nobody waits any more: every source has given up and will send again
                    // (HTTP clients retry, Redis entries stay pending), so drop the share.
                    let abandoned = jobs
                        .iter()
                        .chain(&also)
                        .all(|j| j.lock().unwrap().waiting.iter().all(|d| d.is_closed()));
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
        if let Some(o) = outcome {
            for job in &jobs {
                let mut job = job.lock().unwrap();
                job.outcome.changed += o.changed;
                job.outcome.finished += o.finished;
            }
        }
        for job in jobs.iter().chain(&also) {
            let mut job = job.lock().unwrap();
            job.left -= 1;
            if job.left == 0 {
                metrics.queued.dec_by(job.queued as i64);
                let outcome = job.outcome;
                for done in job.waiting.drain(..) {
                    let _ = done.send(outcome);
                }
            }
        }
    }
}

/// Writes a share. When the store refuses it for a reason that sending it again cannot fix (a
/// value it cannot hold, a constraint), the records are split in halves until each refused
/// one is alone: those become dead letters with the store's message, the others commit, and
/// the senders are answered as usual. Errors that may pass (connection, pool, lock) are
/// returned, for the caller to retry the whole share; records of it already committed by then
/// are upserted again, which changes nothing.
async fn write_isolating(
    store: &Store,
    records: &[TaskRecord],
    dead: &[DeadLetter],
    metrics: &Metrics,
) -> anyhow::Result<WriteOutcome> {
    let first = match store.write_batch(records, dead).await {
        Ok(outcome) => return Ok(outcome),
        Err(e) if crate::store::transient(&e) => return Err(e),
        Err(e) => e,
    };
    // A store that does not answer a ping refuses everything for a reason of its own (an
    // outage worded as a refusal): wait for it rather than take the batch apart.
    if let Err(down) = store.ping().await {
        return Err(first.context(format!("the store does not answer: {down}")));
    }
    tracing::warn!(error = %format!("{first:#}"), rows = records.len(), dead_letters = dead.len(),
        "the store refused a batch; writing it in parts to isolate what it refuses");
    let mut outcome = WriteOutcome::default();
    let mut refused: Vec<DeadLetter> = Vec::new();
    // The first error speaks for the records only when no dead letter was written with them.
    let known = dead.is_empty().then_some(first);
    let mut parts: Vec<(&[TaskRecord], Option<anyhow::Error>)> = vec![(records, known)];
    while let Some((part, known)) = parts.pop() {
        let error = match known {
            Some(e) => e,
            None => match store.write_batch(part, &[]).await {
                Ok(o) => {
                    outcome.changed += o.changed;
                    outcome.finished += o.finished;
                    continue;
                }
                Err(e) if crate::store::transient(&e) => return Err(e),
                Err(e) => e,
            },
        };
        match part {
            [] => {}
            [one] => {
                tracing::warn!(task_id = %one.task_id, error = %format!("{error:#}"), "the store refused an event; kept as a dead letter");
                refused.push(DeadLetter {
                    received_at: one.updated_at,
                    source: "store".into(),
                    error: protocol::text::storable(
                        format!("the store refused this event: {error:#}"),
                        DEAD_LETTER_ERROR_MAX,
                    ),
                    payload: protocol::text::storable(one.to_event_json(), DEAD_LETTER_MAX),
                });
            }
            _ => {
                let (a, b) = part.split_at(part.len() / 2);
                parts.push((b, None));
                parts.push((a, None));
            }
        }
    }
    metrics.refused.inc_by(refused.len() as u64);
    let mut letters = dead.to_vec();
    letters.extend(refused);
    if letters.is_empty() {
        return Ok(outcome);
    }
    match store.write_batch(&[], &letters).await {
        Ok(_) => {}
        Err(e) if crate::store::transient(&e) => return Err(e),
        Err(_) => {
            for letter in letters {
                if let Err(e) = store.write_batch(&[], std::slice::from_ref(&letter)).await {
                    if crate::store::transient(&e) {
                        return Err(e);
                    }
                    tracing::error!(error = %format!("{e:#}"), source = %letter.source,
                        "the store refused a dead letter; it is only in this log");
                }
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreUrl;
    use serde_json::json;

    async fn start(max_age: Duration) -> (Store, Ingest, JoinHandle<()>, tempfile::TempDir) {
        start_with(max_age, 1).await
    }

    async fn start_with(
        max_age: Duration,
        max_rows: usize,
    ) -> (Store, Ingest, JoinHandle<()>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = Store::open(&StoreUrl::Sqlite(url), Duration::from_secs(86_400))
            .await
            .unwrap();
        let config = BatchConfig {
            max_rows,
            max_age,
            queue: 16,
        };
        let (ingest, batcher) = Ingest::start(store.clone(), config, Default::default());
        (store, ingest, batcher, dir)
    }

    fn event(id: &str, state: &str, run_times: u32) -> Prepared {
        let text = json!({"task_id": id, "queue_name": "q", "state": state, "run_times": run_times,
            "time_start": 1_795_000_000.0, "time_end": 1_795_000_001.0})
        .to_string();
        Prepared::from_raw([RawEvent::Text(text)], "test")
    }

    async fn state_of(store: &Store, id: &str) -> (TaskState, u32) {
        let t = store.get_task(id).await.unwrap().expect("recorded");
        (t.summary.state, t.summary.run_times)
    }

    const LONG: Duration = Duration::from_secs(60);

    /// `f`, which must be done well before any batch age of these tests runs out.
    async fn soon<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .unwrap_or_else(|_| panic!("{what}"))
    }

    /// A patient sender's running event for `id`, handed over in the background; returns once
    /// the batcher has it.
    async fn running_in_background(
        ingest: &Ingest,
        id: &str,
    ) -> JoinHandle<Result<WriteOutcome, IngestError>> {
        let (ingest, event) = (ingest.clone(), event(id, "running", 1));
        let sender = tokio::spawn(async move { ingest.submit_patient(event, LONG).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        sender
    }

    #[tokio::test]
    async fn a_task_running_at_the_end_of_a_batch_is_written_once_with_its_finish() {
        let (store, ingest, _batcher, _dir) = start(LONG).await;
        let first = running_in_background(&ingest, "t").await;
        assert!(
            !first.is_finished(),
            "the running event waits for the next batch"
        );
        let second = ingest
            .submit_patient(event("t", "success", 1), LONG)
            .await
            .unwrap();
        assert_eq!(second.changed, 1);
        soon("answered with the batch it was carried into", first)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            ingest.metrics.stored.get(),
            1,
            "one write, not running then success"
        );
        assert_eq!(state_of(&store, "t").await, (TaskState::Success, 1));
    }

    #[tokio::test]
    async fn a_carried_task_is_written_after_the_batch_age_when_nothing_follows() {
        let age = Duration::from_millis(400);
        let (store, ingest, _batcher, _dir) = start(age).await;
        let started = Instant::now();
        ingest
            .submit_patient(event("u", "running", 1), LONG)
            .await
            .unwrap();
        assert!(started.elapsed() >= age, "{:?}", started.elapsed());
        assert_eq!(state_of(&store, "u").await, (TaskState::Running, 1));
    }

    #[tokio::test]
    async fn a_task_is_carried_once_and_impatient_senders_never_wait() {
        let (store, ingest, _batcher, _dir) = start(LONG).await;
        let first = running_in_background(&ingest, "r").await;
        // A retry, still running: written with the first attempt's record, not carried again.
        let again = ingest.submit_patient(event("r", "running", 2), LONG);
        soon("not carried a second time", again).await.unwrap();
        soon("answered with it", first).await.unwrap().unwrap();
        assert_eq!(state_of(&store, "r").await, (TaskState::Running, 2));
        // HTTP and the in-process channel: a running event is written at once.
        let impatient = ingest.submit(event("h", "running", 1), LONG);
        soon("not carried", impatient).await.unwrap();
        assert_eq!(state_of(&store, "h").await, (TaskState::Running, 1));
    }

    #[tokio::test]
    async fn in_a_batch_shared_with_an_impatient_sender_only_patient_tasks_are_carried() {
        // A batch of two submissions.
        let (store, ingest, _batcher, _dir) = start_with(LONG, 2).await;
        let patient = running_in_background(&ingest, "p").await;
        let impatient = ingest.submit(event("i", "running", 1), LONG);
        soon(
            "the impatient sender's task is written with its batch",
            impatient,
        )
        .await
        .unwrap();
        assert_eq!(state_of(&store, "i").await, (TaskState::Running, 1));
        assert!(
            !patient.is_finished(),
            "the patient sender's task is carried"
        );
        // Two events, a batch by themselves.
        let mut finish = event("p", "success", 1);
        finish.records.extend(event("x", "success", 1).records);
        soon("written", ingest.submit(finish, LONG)).await.unwrap();
        soon("answered with the finish", patient)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state_of(&store, "p").await, (TaskState::Success, 1));
        assert_eq!(ingest.metrics.stored.get(), 3, "each task written once");
    }

    #[tokio::test]
    async fn carried_tasks_are_written_when_ingest_stops() {
        let (store, ingest, batcher, _dir) = start(LONG).await;
        let sender = running_in_background(&ingest, "w").await;
        // Every handle gone (the sender gave up, as a source does when it stops).
        sender.abort();
        let _ = sender.await;
        drop(ingest);
        soon(
            "the batcher ends without waiting for the batch age",
            batcher,
        )
        .await
        .unwrap();
        assert_eq!(state_of(&store, "w").await, (TaskState::Running, 1));
    }
}
