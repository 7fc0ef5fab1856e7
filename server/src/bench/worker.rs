//! `taskdeck bench worker`: tasks/s of one Rust worker against one funboost worker on the same
//! Redis, both REDIS_ACK_ABLE, both sending every record to taskdeck's stream; and the Rust
//! worker's memory with 10,000 tasks in flight. Prints figures; never fails on timing. Run from
//! the repository root (`make bench` does): it starts `scripts/funboost_peer.py`.

use crate::bench::proc::Proc;
use anyhow::Context;
use clap::Args;
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskdeck_worker::{Emitter, Message, PublishOptions, RedisBroker, RedisStreamSink, Worker};
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug, Clone)]
pub struct WorkerBenchArgs {
    /// Redis server (its databases 6 and 7 are emptied: 7 holds the queues, 6 the stream)
    #[arg(long)]
    pub redis: String,
    /// Tasks per run
    #[arg(long, default_value_t = 20_000)]
    pub tasks: usize,
    /// Tasks per funboost run (a funboost worker is much slower)
    #[arg(long, default_value_t = 3_000)]
    pub funboost_tasks: usize,
    /// Python with funboost 55 installed (scripts/ensure-tools.sh --test makes one)
    #[arg(long, default_value = "target/funboost-venv/bin/python")]
    pub python: String,
    /// Threads / concurrent tasks per worker, the same for both
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
}

fn db(url: &str, n: u8) -> String {
    let base = url.trim_end_matches('/');
    let server = match base.rsplit_once('/') {
        Some((s, tail)) if tail.parse::<u8>().is_ok() => s,
        _ => base,
    };
    format!("{server}/{n}")
}

async fn publish_all(
    conn: &mut redis::aio::MultiplexedConnection,
    queue: &str,
    n: usize,
    sleep_ms: f64,
) -> anyhow::Result<()> {
    let mut pipe = redis::pipe();
    for i in 0..n {
        let kwargs = serde_json::json!({"i": i, "sleep_ms": sleep_ms});
        let m = Message::build(
            kwargs.as_object().cloned().unwrap_or_default(),
            &PublishOptions::default(),
        );
        pipe.rpush(queue, m.raw).ignore();
        if i % 5_000 == 4_999 {
            pipe.query_async::<()>(conn).await?;
            pipe = redis::pipe();
        }
    }
    if !n.is_multiple_of(5_000) {
        pipe.query_async::<()>(conn).await?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct Job {
    sleep_ms: f64,
}

/// One Rust worker drains `n` tasks; returns tasks/s from start to the last record sent.
async fn rust_run(
    args: &WorkerBenchArgs,
    n: usize,
    sleep_ms: f64,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let (queues, stream) = (db(&args.redis, 7), db(&args.redis, 6));
    let mut q = redis::Client::open(queues.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let mut s = redis::Client::open(stream.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    redis::cmd("FLUSHDB").query_async::<()>(&mut q).await?;
    redis::cmd("FLUSHDB").query_async::<()>(&mut s).await?;
    publish_all(&mut q, "bench_rust", n, sleep_ms).await?;
    let (emitter, flushed) = Emitter::start(Arc::new(RedisStreamSink::new(&stream)?));
    let worker = Worker::builder("bench_rust")
        .concurrency(concurrency)
        .prefetch(concurrency.max(100))
        .handler(|_ctx, job: Job| async move {
            if job.sleep_ms > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(job.sleep_ms / 1000.0)).await;
            }
            Ok(())
        })
        .build(Arc::new(RedisBroker::new(&queues)?), emitter)
        .map_err(anyhow::Error::msg)?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let run = tokio::spawn(worker.run(stop.clone()));
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let records: usize = s.xlen(taskdeck_worker::events::STREAM).await?;
        if records >= 2 * n {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    stop.cancel();
    run.await?;
    flushed.await?;
    Ok(n as f64 / secs)
}

/// One funboost worker process (funboost_peer.py bench) drains `n` tasks with the taskdeck mixin.
fn funboost_run(args: &WorkerBenchArgs, n: usize, sleep_ms: f64) -> anyhow::Result<f64> {
    let url = db(&args.redis, 7);
    let rest = url.trim_start_matches("redis://");
    let (host, port) = rest
        .split('/')
        .next()
        .and_then(|hp| hp.rsplit_once(':'))
        .context("--redis must be redis://HOST:PORT[/DB]")?;
    let out = std::process::Command::new(&args.python)
        .args([
            "scripts/funboost_peer.py",
            "bench",
            "bench_funboost",
            &n.to_string(),
            &sleep_ms.to_string(),
            &args.concurrency.to_string(),
        ])
        .env("FUNBOOST_REDIS_HOST", host)
        .env("FUNBOOST_REDIS_PORT", port)
        .env("TASKDECK_REDIS_URL", db(&args.redis, 6))
        .stderr(std::process::Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "running {} (install funboost with scripts/ensure-tools.sh --test)",
                args.python
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RATE "))
        .with_context(|| format!("funboost bench printed no rate: {text}"))?;
    Ok(line.trim().parse()?)
}

/// RSS of this process with 10,000 tasks running at once in one worker.
async fn in_flight_rss(args: &WorkerBenchArgs) -> anyhow::Result<(f64, f64)> {
    const N: usize = 10_000;
    let (queues, stream) = (db(&args.redis, 7), db(&args.redis, 6));
    let mut q = redis::Client::open(queues.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    redis::cmd("FLUSHDB").query_async::<()>(&mut q).await?;
    publish_all(&mut q, "bench_rss", N, 20_000.0).await?;
    let before = Proc::Current.rss_mib();
    let (emitter, flushed) = Emitter::start(Arc::new(RedisStreamSink::new(&stream)?));
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = running.clone();
    let worker = Worker::builder("bench_rss")
        .concurrency(N)
        .prefetch(N)
        .stop_grace(Duration::from_millis(100))
        .handler(move |ctx, job: Job| {
            let r = r.clone();
            async move {
                r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(job.sleep_ms / 1000.0)) => {},
                    _ = ctx.cancelled() => {},
                }
                Ok(())
            }
        })
        .build(Arc::new(RedisBroker::new(&queues)?), emitter)
        .map_err(anyhow::Error::msg)?;
    let stop = CancellationToken::new();
    let run = tokio::spawn(worker.run(stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while running.load(std::sync::atomic::Ordering::Relaxed) < N && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = Proc::Current.rss_mib();
    stop.cancel();
    run.await?;
    flushed.await?;
    redis::cmd("FLUSHDB").query_async::<()>(&mut q).await?;
    Ok((before, during))
}

pub async fn run(args: WorkerBenchArgs) -> anyhow::Result<()> {
    println!(
        "one worker process each, REDIS_ACK_ABLE on the same Redis, {} concurrent tasks, every task's running and final records sent to taskdeck's stream",
        args.concurrency
    );
    for sleep_ms in [0.0, 1.0] {
        let label = if sleep_ms == 0.0 {
            "no-op"
        } else {
            "1 ms sleep"
        };
        let rust = rust_run(&args, args.tasks, sleep_ms, args.concurrency).await?;
        let funboost = funboost_run(&args, args.funboost_tasks, sleep_ms)?;
        println!(
            "{label:<10} tasks: Rust worker {rust:>8.0} tasks/s ({} tasks); funboost 55 worker {funboost:>6.0} tasks/s ({} tasks); ratio {:.1}x",
            args.tasks,
            args.funboost_tasks,
            rust / funboost
        );
        if sleep_ms > 0.0 {
            // Sleeping tasks are bound by concurrency; an async task costs a few KiB where a
            // funboost thread costs a thread (and more threads do not beat the GIL).
            let wide = args.concurrency * 10;
            let rust = rust_run(&args, args.tasks, sleep_ms, wide).await?;
            println!(
                "{label:<10} tasks: Rust worker at {wide} concurrent tasks {rust:>8.0} tasks/s; ratio to the funboost worker above {:.1}x",
                rust / funboost
            );
        }
    }
    let (before, during) = in_flight_rss(&args).await?;
    println!(
        "Rust worker with 10,000 tasks in flight: process RSS {during:.0} MiB ({before:.0} MiB before it started, {:.1} KiB per in-flight task)",
        (during - before) * 1024.0 / 10_000.0
    );
    Ok(())
}
