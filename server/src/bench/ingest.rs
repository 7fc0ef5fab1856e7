//! `taskdeck bench ingest`: end-to-end throughput from the Redis stream into a store, and, for
//! Postgres, the ceiling of a raw binary COPY of the same rows. Prints figures; never fails on
//! timing.

use crate::bench::proc::Proc;
use crate::ingest::metrics::Metrics;
use crate::ingest::redis_stream::{StreamSource, FIELD, STREAM};
use crate::ingest::{BatchConfig, Ingest};
use crate::model::now_epoch;
use crate::model::record::TaskRecord;
use crate::store::StoreUrl;
use crate::store::{SqlPool, Store};
use anyhow::Context;
use clap::Args;
use protocol::event::TaskEvent;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug, Clone)]
pub struct IngestBenchArgs {
    /// Store to fill: sqlite:PATH or postgres://… (it should be empty)
    #[arg(long)]
    pub store: String,
    /// Redis holding the stream; its `taskdeck:events` key is replaced
    #[arg(long)]
    pub redis: String,
    /// Tasks to send; each sends two events (running, then finished)
    #[arg(long, default_value_t = 200_000)]
    pub tasks: usize,
    /// Also time a raw binary COPY of the same rows into a scratch table (Postgres only)
    #[arg(long)]
    pub copy_ceiling: bool,
    /// Tasks started between a task's start and its finish in the stream. The default puts
    /// most finishes in the batch of their start (short tasks: one write per task); 25,000 is
    /// half a second at 100,000 events/s — tasks that outlast a batch, written twice
    #[arg(long, default_value_t = FINISH_LAG)]
    pub finish_lag: usize,
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Redis holding the stream; its `taskdeck:events` key is replaced
    #[arg(long)]
    pub redis: String,
    /// Tasks to send; each sends two events (running, then finished)
    #[arg(long, default_value_t = 500_000)]
    pub tasks: usize,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The store a `taskdeck serve` filled from a `bench load` stream
    #[arg(long)]
    pub store: String,
    /// Tasks that were loaded
    #[arg(long)]
    pub tasks: usize,
}

/// `bench load`: fills the stream, for a durability run against a real `taskdeck serve`.
pub async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let client = redis::Client::open(args.redis.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("DEL")
        .arg(STREAM)
        .query_async::<()>(&mut conn)
        .await?;
    fill_stream(&mut conn, args.tasks, now_epoch() - 3_600.0, FINISH_LAG).await
}

async fn fill_stream(
    conn: &mut redis::aio::MultiplexedConnection,
    tasks: usize,
    t0: f64,
    lag: usize,
) -> anyhow::Result<()> {
    let total_events = tasks * 2;
    let load = Instant::now();
    let mut sizes = 0usize;
    let mut pipe = redis::pipe();
    for (n, e) in events(tasks, t0, lag).enumerate() {
        let text = e.to_string();
        sizes += text.len();
        pipe.cmd("XADD")
            .arg(STREAM)
            .arg("*")
            .arg(FIELD)
            .arg(text)
            .ignore();
        if n % 5_000 == 4_999 {
            pipe.query_async::<()>(conn).await?;
            pipe = redis::pipe();
        }
    }
    if !total_events.is_multiple_of(5_000) {
        pipe.query_async::<()>(conn).await?;
    }
    println!(
        "loaded {total_events} events ({:.0} bytes each on average) into the stream in {:.1} s",
        sizes as f64 / total_events as f64,
        load.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `bench verify`: every loaded task is in the store once, final, and counted once.
pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let store = Store::open(
        &StoreUrl::parse(&args.store).map_err(anyhow::Error::msg)?,
        Duration::from_secs(7 * 86_400),
    )
    .await?;
    let (tasks, finals, counted): (i64, i64, i64) = match store.sql_pool() {
        Some(SqlPool::Sqlite(pool)) => sqlx::query_as(VERIFY).fetch_one(pool).await?,
        Some(SqlPool::Postgres(pool)) => sqlx::query_as(VERIFY).fetch_one(pool).await?,
        None => anyhow::bail!("verify runs against sqlite:… or postgres://…"),
    };
    let ok = tasks == args.tasks as i64 && finals == tasks && counted == tasks;
    println!(
        "durability: {} loaded tasks; store holds {tasks} task records, {finals} of them final; chart counters count {counted} finished tasks: {}",
        args.tasks,
        if ok { "every event recorded exactly once" } else { "MISMATCH" }
    );
    store.close().await;
    anyhow::ensure!(ok, "the store does not match what was loaded");
    Ok(())
}

const VERIFY: &str = "SELECT (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM tasks WHERE state >= 2), \
    (SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM task_stats WHERE grain = 3 AND metric BETWEEN 2 AND 6)";

/// The queues of the benchmark's tasks, task `i` in queue `i % 4`.
pub const BENCH_QUEUES: [&str; 4] = ["orders", "emails", "thumbnails", "reports"];

/// Exception types of the benchmark's failures, task `i`'s being `(i / 80) % 5`.
pub const BENCH_EXCEPTIONS: [&str; 5] = [
    "ValueError",
    "TimeoutError",
    "KeyError",
    "ConnectionError",
    "PermissionError",
];

/// Task `i` fails: one in 20, spread over every queue and through time.
pub fn bench_failed(i: usize) -> bool {
    (i / 4) % 20 == 1
}

/// One realistic event of about 1 KB: a funboost status dict with taskdeck's fields, for task
/// `i` started at `start`. Params mix ids, an e-mail, an address, a hash and a note, so that
/// text indexes see realistic variety; `coupon` is `CPN-<i mod 1000>` (a text found in 0.1 %
/// of params).
pub fn sample_event(i: usize, finished: bool, start: f64) -> Value {
    const STREETS: [&str; 5] = ["Elm", "Oak", "Pine", "Maple", "Cedar"];
    const CITIES: [&str; 7] = [
        "Berlin", "Paris", "Shanghai", "Austin", "Lagos", "Lima", "Osaka",
    ];
    const NOTES: [&str; 4] = [
        "leave the parcel with the neighbour if nobody answers",
        "gift wrap, no invoice in the box",
        "deliver after 6 pm on weekdays",
        "fragile: glassware, keep upright",
    ];
    let queue = BENCH_QUEUES[i % 4];
    let params = json!({"order_id": i, "customer": format!("customer-{:06}", i % 50_000),
        "email": format!("user{}@example.com", (i * 7_919) % 1_000_003), "coupon": format!("CPN-{:04}", i % 1_000),
        "sku": format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        "address": format!("{} {} Street, {}", i % 9_999, STREETS[i % 5], CITIES[i % 7]),
        "items": [i % 7, i % 11, i % 13], "note": NOTES[i % 4], "priority": i % 3});
    let mut e = json!({
        "task_id": format!("bench-{i:09}"), "queue_name": queue, "function": format!("handle_{queue}"),
        "params": params, "params_str": params.to_string(), "publish_time": start - 0.02,
        "publish_time_format": "2026-11-23 16:42:19", "run_times": 1, "time_start": start,
        "host_name": format!("worker-{}", i % 8), "host_process": format!("worker-{} - {}", i % 8, 4000 + i % 16),
        "process_id": 4000 + i % 16, "thread_id": 140_111_319_348_944_i64 + (i % 32) as i64, "script_name": "worker.py",
        "consumer_id": format!("worker-{}-{}", i % 8, queue), "insert_time_str": "2026-11-23 16:42:20",
        "msg_dict": {"order_id": i, "extra": {"task_id": format!("bench-{i:09}"), "publish_time": start - 0.02}},
    });
    let fields = e.as_object_mut().unwrap();
    if finished {
        let failed = bench_failed(i);
        fields.insert("run_status".into(), json!("finish"));
        fields.insert("success".into(), json!(!failed));
        fields.insert("time_end".into(), json!(start + 0.05));
        fields.insert("time_cost".into(), json!(0.05 + (i % 100) as f64 * 0.001));
        if failed {
            let exception = BENCH_EXCEPTIONS[(i / 80) % 5];
            fields.insert("exception_type".into(), json!(exception));
            fields.insert(
                "exception_msg".into(),
                json!(format!(
                    "{exception} while handling order {i} for customer-{:06}",
                    i % 50_000
                )),
            );
            fields.insert("result".into(), json!("FUNC_RUN_ERROR"));
        } else {
            fields.insert("result".into(), json!({"status": "ok", "order_id": i}));
        }
    } else {
        fields.insert("run_status".into(), json!("running"));
    }
    e
}

/// Tasks started between a task's start and its finish, unless told otherwise.
const FINISH_LAG: usize = 250;

/// The events of `tasks` tasks in stream order: each task's finish follows its start by
/// `lag` other tasks' starts (and as many finishes), as when tasks take a moment to run.
fn events(tasks: usize, t0: f64, lag: usize) -> impl Iterator<Item = Value> {
    let at = move |i: usize| t0 + i as f64 * 0.0005;
    (0..tasks + lag).flat_map(move |i| {
        let start = (i < tasks).then(|| sample_event(i, false, at(i)));
        let finish = (i >= lag).then(|| sample_event(i - lag, true, at(i - lag)));
        start.into_iter().chain(finish)
    })
}

pub async fn ingest(args: IngestBenchArgs) -> anyhow::Result<()> {
    let store = Store::open(
        &StoreUrl::parse(&args.store).map_err(anyhow::Error::msg)?,
        Duration::from_secs(7 * 86_400),
    )
    .await
    .context("opening the store")?;
    let client = redis::Client::open(args.redis.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("DEL")
        .arg(STREAM)
        .query_async::<()>(&mut conn)
        .await?;

    let t0 = now_epoch() - 3_600.0;
    let total_events = args.tasks * 2;
    fill_stream(&mut conn, args.tasks, t0, args.finish_lag).await?;

    let metrics = Arc::new(Metrics::default());
    let (ingest, batcher) = Ingest::start(store.clone(), BatchConfig::default(), metrics.clone());
    let shutdown = CancellationToken::new();
    let source = StreamSource::new(client, ingest.clone(), "bench".into())?;
    let started = Instant::now();
    let cpu_before = Proc::Current.cpu_seconds();
    let reader = tokio::spawn(source.run(shutdown.clone()));
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let len: u64 = redis::cmd("XLEN")
            .arg(STREAM)
            .query_async(&mut conn)
            .await?;
        if len == 0 {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = Proc::Current.cpu_seconds() - cpu_before;
    shutdown.cancel();
    let _ = reader.await;
    drop(ingest);
    let _ = batcher.await;
    let finished = metrics.finished.get();
    if std::env::var_os("TASKDECK_BENCH_METRICS").is_some() {
        print!("{}", metrics.render());
    }
    anyhow::ensure!(
        finished as usize == args.tasks,
        "{finished} tasks finished, expected {}",
        args.tasks
    );
    println!(
        "{:<9} stream -> store, finishes {} tasks after their start: {total_events} events in {elapsed:.2} s = {:>9.0} events/s ({:.0} tasks/s); taskdeck CPU {cpu:.2} s; peak RSS {:.0} MiB",
        store.kind().as_str(),
        args.finish_lag,
        total_events as f64 / elapsed,
        args.tasks as f64 / elapsed,
        Proc::Current.peak_rss_mib()
    );

    if args.copy_ceiling {
        let Some(SqlPool::Postgres(pool)) = store.sql_pool() else {
            anyhow::bail!("--copy-ceiling needs a Postgres store");
        };
        let rows: Vec<TaskRecord> = events(args.tasks, t0, args.finish_lag)
            .filter_map(|e| TaskEvent::from_json(e).ok())
            .filter(|e| e.run_status.as_deref() == Some("finish"))
            .map(|e| TaskRecord::from_event(e, now_epoch()))
            .collect();
        let (events_n, rows_n, secs) =
            store_path_alone(&store, args.tasks, t0, args.finish_lag).await?;
        println!(
            "postgres  store path alone, the same events parsed beforehand, through the same batcher: {events_n} events ({rows_n} rows) in {secs:.2} s = {:>9.0} events/s",
            events_n as f64 / secs
        );
        let (n, secs) = copy_ceiling(pool, &rows).await?;
        println!(
            "postgres  ceiling, binary COPY of the same {n} finished rows into an unindexed table: {secs:.2} s = {:>9.0} rows/s",
            n as f64 / secs
        );
    }
    store.close().await;
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Tasks to write; each gives two events (running, then finished), in stream order
    #[arg(long, default_value_t = 250_000)]
    pub tasks: usize,
    /// NDJSON file to write
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// `bench export`: the benchmark's events as NDJSON, for baselines outside taskdeck.
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    for e in events(args.tasks, now_epoch() - 3_600.0, FINISH_LAG) {
        writeln!(out, "{e}")?;
    }
    out.flush()?;
    Ok(())
}

/// The events of the stream run, parsed beforehand, handed to the batcher (which batches,
/// splits and writes them as it does for the stream) of the emptied store: how much of the
/// end-to-end time the store itself takes.
async fn store_path_alone(
    store: &Store,
    tasks: usize,
    t0: f64,
    lag: usize,
) -> anyhow::Result<(usize, usize, f64)> {
    let Some(SqlPool::Postgres(pool)) = store.sql_pool() else {
        anyhow::bail!("the store path figure is for Postgres");
    };
    sqlx::query("TRUNCATE tasks, task_stats, queues, failure_stats")
        .execute(pool)
        .await?;
    let records: Vec<TaskRecord> = events(tasks, t0, lag)
        .filter_map(|e| TaskEvent::from_json(e).ok())
        .map(|e| TaskRecord::from_event(e, now_epoch()))
        .collect();
    let metrics = Arc::new(Metrics::default());
    let (ingest, batcher) = Ingest::start(store.clone(), BatchConfig::default(), metrics.clone());
    let mut chunks = Vec::new();
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        chunks.push(crate::ingest::Prepared {
            records: records.by_ref().take(2_000).collect(),
            ..Default::default()
        });
    }
    let started = Instant::now();
    let submits: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let ingest = ingest.clone();
            tokio::spawn(
                async move { ingest.submit_patient(chunk, Duration::from_secs(600)).await },
            )
        })
        .collect();
    for submit in submits {
        submit.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(ingest);
    let _ = batcher.await;
    Ok((tasks * 2, metrics.stored.get() as usize, secs))
}

/// Binary COPY of the final rows into a scratch copy of the tasks table without indexes.
async fn copy_ceiling(pool: &sqlx::PgPool, rows: &[TaskRecord]) -> anyhow::Result<(usize, f64)> {
    sqlx::query("DROP TABLE IF EXISTS bench_copy")
        .execute(pool)
        .await?;
    sqlx::query("CREATE UNLOGGED TABLE bench_copy (LIKE tasks INCLUDING DEFAULTS)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    crate::store::copy_rows(&mut conn, "bench_copy", rows).await?;
    Ok((rows.len(), started.elapsed().as_secs_f64()))
}
