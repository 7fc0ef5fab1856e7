//! A Rust worker on funboost's Redis layout, reporting to taskdeck's ingest stream.
//!
//!     cargo run -p taskdeck-worker --example redis_worker -- redis://127.0.0.1:6379/7 sleepy redis://127.0.0.1:6379/0
//!
//! Consumes QUEUE (messages `{"secs": 1.5, …}`, published by funboost or taskdeck), sleeps that
//! long per task, and stops cleanly on Ctrl-C or SIGTERM.

use std::sync::Arc;
use std::time::Duration;
use taskdeck_worker::{Emitter, RedisBroker, RedisStreamSink, TaskError, Worker};
use tokio_util::sync::CancellationToken;

#[derive(serde::Deserialize)]
struct Nap {
    #[serde(default)]
    secs: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, broker_url, queue, stream_url] = &args[..] else {
        eprintln!("usage: redis_worker BROKER_REDIS_URL QUEUE TASKDECK_REDIS_URL");
        std::process::exit(2);
    };
    let broker = Arc::new(RedisBroker::new(broker_url)?);
    let (emitter, flushed) = Emitter::start(Arc::new(RedisStreamSink::new(stream_url)?));
    let worker = Worker::builder(queue)
        .function("nap")
        .concurrency(4)
        .prefetch(8)
        .heartbeat_every(Duration::from_secs(2))
        .handler(|_ctx, n: Nap| async move {
            if !(0.0..86_400.0).contains(&n.secs) {
                return Err(TaskError::fatal("ValueError", format!("secs = {}", n.secs)));
            }
            tokio::time::sleep(Duration::from_secs_f64(n.secs)).await;
            Ok(n.secs)
        })
        .build(broker, emitter)?;
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        on_signal.cancel();
    });
    worker.run(stop).await;
    flushed.await?;
    Ok(())
}
