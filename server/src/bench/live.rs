//! `taskdeck bench live`: how long an event takes to reach an open dashboard while the fleet
//! streams 5,000 events/s, and what open dashboards cost the server. Prints figures; never fails
//! on timing.
//!
//! It starts `taskdeck serve` as a child process (so its CPU and memory are its own), streams
//! realistic events into `taskdeck:events` at a fixed rate, and adds one marker task every
//! 100 ms to a queue of its own. A real Chromium (`end2end/bench/live-dom.mjs`) keeps the
//! overview open and reports every change of the marker queue's "done in the last hour" cell
//! with the time of the DOM change: marker k's latency is the first time the cell shows k or
//! more, minus the time Redis gave marker k's stream entry (one machine, one clock). The other
//! dashboards are raw SSE clients spread over the views a team keeps open; each costs the server
//! what a browser tab costs it.

use crate::bench::ingest::sample_event;
use crate::bench::proc::{quantile, Proc};
use crate::ingest::redis_stream::{FIELD, STREAM};
use crate::model::now_epoch;
use anyhow::{bail, Context};
use clap::Args;
use protocol::overview::Overview;
use serde_json::json;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug, Clone)]
pub struct LiveBenchArgs {
    /// Store for the served taskdeck: sqlite:PATH or postgres://… (it should be empty)
    #[arg(long)]
    pub store: String,
    /// A Redis database of its own for the stream and broker keys: it is flushed first
    #[arg(long)]
    pub redis: String,
    /// Events per second streamed in (two per task, ~1.1 KB each)
    #[arg(long, default_value_t = 5_000)]
    pub rate: u32,
    /// Open dashboards, one measured phase each (after a phase with none)
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    pub dashboards: Vec<usize>,
    /// Seconds measured per phase
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Built web assets for the served taskdeck (`make build`)
    #[arg(long, default_value = "target/site")]
    pub site_root: PathBuf,
    /// The browser side: opens the overview in Chromium and reports the marker cell's changes
    #[arg(long, default_value = "end2end/bench/live-dom.mjs")]
    pub browser_script: PathBuf,
}

/// The queue of the marker tasks, one every [`MARKER_EVERY`].
const MARKER_QUEUE: &str = "bench_marker";
const MARKER_EVERY: Duration = Duration::from_millis(100);

/// What the raw SSE clients watch, client `i` the view `i % len`: the overview most, queue
/// pages at each grain, the workers page.
const VIEWS: [&str; 6] = [
    "view=overview",
    "view=queue&queue=orders&grain=second",
    "view=workers",
    "view=queue&queue=emails&grain=minute",
    "view=overview",
    "view=queue&queue=thumbnails&grain=hour",
];

/// Times in epoch milliseconds, shared by the tasks that record them.
#[derive(Default)]
struct Seen {
    /// Marker k's stream entry time at index k - 1.
    markers: Vec<f64>,
    /// (count shown, when) for each change of the browser's marker cell.
    dom: Vec<(u64, f64)>,
    /// (count, when) for each overview frame the first raw client received.
    sse: Vec<(u64, f64)>,
    /// (received, received - frame id) for each frame a raw client got.
    frames: Vec<(f64, f64)>,
}

type Shared = Arc<Mutex<Seen>>;

struct Phase {
    dashboards: usize,
    from: f64,
    to: f64,
    cpu_percent: f64,
    rss_mib: f64,
    sent_per_s: f64,
    stored_per_s: f64,
    backlog: u64,
    clients: f64,
}

pub async fn run(args: LiveBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.site_root.join("pkg").is_dir(),
        "{} has no built site: run `make build` first",
        args.site_root.display()
    );
    let client = redis::Client::open(args.redis.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("FLUSHDB").query_async::<()>(&mut conn).await?;

    let addr = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    );
    // Each SSE client is a dashboard of its own and has a token of its own (one caller may keep
    // only a few streams open); /metrics uses the first. Chromium signs in as the admin.
    let tokens = {
        let url = crate::store::StoreUrl::parse(&args.store).map_err(anyhow::Error::msg)?;
        let store = crate::store::Store::open(&url, Duration::from_secs(7 * 86_400)).await?;
        let most = args.dashboards.iter().copied().max().unwrap_or(1).max(1);
        let mut tokens = Vec::with_capacity(most);
        for i in 0..most {
            let (_, value) = crate::auth::tokens::create(
                &store,
                &format!("bench live {i}"),
                vec![protocol::auth::Scope::Read],
                "bench",
            )
            .await?;
            tokens.push(value);
        }
        store.close().await;
        tokens
    };
    let token = tokens[0].clone();
    let password = crate::auth::password::generate();
    let log = std::env::temp_dir().join(format!("taskdeck-bench-live-{}.log", std::process::id()));
    let mut server = Command::new(std::env::current_exe()?)
        .env("TASKDECK_ADMIN_PASSWORD", &password)
        .args(["serve", "--bind", &addr, "--store", &args.store])
        .args(["--redis", &args.redis, "--no-demo", "--log", "warn"])
        .arg("--site-root")
        .arg(&args.site_root)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .kill_on_drop(true)
        .spawn()?;
    let pid = Proc::Pid(server.id().context("the server has no pid")?);
    wait_healthy(&addr)
        .await
        .with_context(|| format!("taskdeck serve did not come up; its log: {}", log.display()))?;

    let stop = CancellationToken::new();
    let seen = Shared::default();
    let sent = Arc::new(AtomicU64::new(0));
    let load = tokio::spawn(stream_load(
        client.get_multiplexed_async_connection().await?,
        args.rate,
        sent.clone(),
        stop.clone(),
    ));
    let marks = tokio::spawn(stream_markers(
        client.get_multiplexed_async_connection().await?,
        seen.clone(),
        stop.clone(),
    ));
    println!(
        "streaming {} events/s (~1.1 KB, two per task, four queues) plus a marker task every {} ms into a `taskdeck serve` on {}",
        args.rate,
        MARKER_EVERY.as_millis(),
        args.store.split(':').next().unwrap_or_default()
    );

    let ctx = Measure {
        addr: &addr,
        token: &token,
        pid,
        conn: conn.clone(),
        sent: &sent,
        seconds: args.seconds,
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut phases = vec![ctx.phase(0).await?];

    let mut browser = Browser::open(&args.browser_script, &addr, &password, seen.clone()).await?;
    let mut sse = Vec::new();
    for &n in &args.dashboards {
        while 1 + sse.len() < n {
            let path = format!("/api/v1/live?{}", VIEWS[sse.len() % VIEWS.len()]);
            sse.push(tokio::spawn(sse_client(
                addr.clone(),
                tokens[sse.len()].clone(),
                path,
                sse.is_empty(),
                seen.clone(),
                stop.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        phases.push(ctx.phase(n).await?);
    }
    // The last markers' DOM changes arrive after their phase ends.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    browser.close().await;
    for task in [load, marks].into_iter().chain(sse) {
        task.await??;
    }
    server.kill().await.ok();

    report(&phases, &seen.lock().unwrap(), args.seconds);
    Ok(())
}

struct Measure<'a> {
    addr: &'a str,
    token: &'a str,
    pid: Proc,
    conn: redis::aio::MultiplexedConnection,
    sent: &'a AtomicU64,
    seconds: u64,
}

impl Measure<'_> {
    async fn phase(&self, dashboards: usize) -> anyhow::Result<Phase> {
        let stored = || async {
            let text = http_get(self.addr, self.token, "/metrics").await?;
            Ok::<_, anyhow::Error>(metric(&text, "taskdeck_ingest_records_stored_total"))
        };
        let (cpu, sent, stored0, from) = (
            self.pid.cpu_seconds(),
            self.sent.load(Relaxed),
            stored().await?,
            now_ms(),
        );
        tokio::time::sleep(Duration::from_secs(self.seconds)).await;
        let to = now_ms();
        let metrics = http_get(self.addr, self.token, "/metrics").await?;
        let elapsed = (to - from) / 1000.0;
        let backlog: u64 = redis::cmd("XLEN")
            .arg(STREAM)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(Phase {
            dashboards,
            from,
            to,
            cpu_percent: (self.pid.cpu_seconds() - cpu) / elapsed * 100.0,
            rss_mib: self.pid.rss_mib(),
            sent_per_s: (self.sent.load(Relaxed) - sent) as f64 / elapsed,
            stored_per_s: (metric(&metrics, "taskdeck_ingest_records_stored_total") - stored0)
                / elapsed,
            backlog,
            clients: metric(&metrics, "taskdeck_live_clients"),
        })
    }
}

fn report(phases: &[Phase], seen: &Seen, seconds: u64) {
    println!(
        "{:>10}  {:>5}  {:>8}  {:>9}  {:>8}  {:>7}  {:>26}  {:>20}  {:>16}",
        "dashboards",
        "CPU",
        "RSS",
        "sent ev/s",
        "stored/s",
        "backlog",
        "event→DOM p50/p95/max ms",
        "event→SSE p50/p95 ms",
        "frames/s, lag p95"
    );
    for p in phases {
        let latency = |shown: &[(u64, f64)], max: bool| {
            let (mut ms, missed) = latencies(&seen.markers, shown, p.from, p.to);
            if ms.is_empty() && missed == 0 {
                return "—".to_owned();
            }
            ms.sort_by(f64::total_cmp);
            let mut text = format!("{:.0}/{:.0}", quantile(&ms, 0.5), quantile(&ms, 0.95));
            if max {
                text += &format!("/{:.0}", quantile(&ms, 1.0));
            }
            text += &format!(" (n={})", ms.len());
            if missed > 0 {
                text += &format!(" {missed} unseen");
            }
            text
        };
        let raw = p.dashboards.saturating_sub(1);
        let frames = if raw == 0 {
            "—".to_owned()
        } else {
            let mut lags: Vec<f64> = seen
                .frames
                .iter()
                .filter(|(at, _)| (p.from..p.to).contains(at))
                .map(|(_, lag)| *lag)
                .collect();
            lags.sort_by(f64::total_cmp);
            format!(
                "{:.1}, {:.0} ms",
                lags.len() as f64 / raw as f64 / seconds as f64,
                quantile(&lags, 0.95)
            )
        };
        let (dom, sse) = if p.dashboards == 0 {
            ("—".to_owned(), "—".to_owned())
        } else {
            let sse = if raw == 0 {
                "—".to_owned()
            } else {
                latency(&seen.sse, false)
            };
            (latency(&seen.dom, true), sse)
        };
        println!(
            "{:>10}  {:>4.0}%  {:>4.0} MiB  {:>9.0}  {:>8.0}  {:>7}  {:>26}  {:>20}  {:>16}",
            p.dashboards,
            p.cpu_percent,
            p.rss_mib,
            p.sent_per_s,
            p.stored_per_s,
            p.backlog,
            dom,
            sse,
            frames
        );
        if p.clients as usize != p.dashboards {
            println!(
                "            (the server counted {} live clients)",
                p.clients
            );
        }
    }
    println!(
        "CPU: the server's, in % of one core over {seconds} s per phase; RSS at the phase's end; stored/s: task records committed; backlog: stream entries not yet committed at the phase's end. \
         One dashboard is Chromium on the overview (event→DOM: stream entry to the DOM change); the others are raw SSE clients on {}, the first on the overview (event→SSE: stream entry to its frame); \
         lag: frame computed to frame received. The load generator, Chromium and the clients share the machine's cores with the server.",
        VIEWS.join(", ")
    );
}

/// Latencies in ms of the markers that entered the stream in `from..to`, and how many of them
/// the page never showed.
fn latencies(markers: &[f64], shown: &[(u64, f64)], from: f64, to: f64) -> (Vec<f64>, usize) {
    let mut latency = Vec::new();
    let mut missed = 0;
    for (i, &entered) in markers.iter().enumerate() {
        if !(from..to).contains(&entered) {
            continue;
        }
        let k = i as u64 + 1;
        match shown.iter().find(|(count, _)| *count >= k) {
            Some((_, at)) => latency.push(at - entered),
            None => missed += 1,
        }
    }
    (latency, missed)
}

/// Realistic task events at `rate` per second: every 10 ms, a pipeline of tasks' running and
/// finished events.
async fn stream_load(
    mut conn: redis::aio::MultiplexedConnection,
    rate: u32,
    sent: Arc<AtomicU64>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let per_tick = (rate as usize / 200).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut i = 0;
    while !stop.is_cancelled() {
        tick.tick().await;
        let start = now_epoch() - 0.05;
        let mut pipe = redis::pipe();
        for _ in 0..per_tick {
            for finished in [false, true] {
                let event = sample_event(i, finished, start).to_string();
                pipe.cmd("XADD")
                    .arg(STREAM)
                    .arg("*")
                    .arg(FIELD)
                    .arg(event)
                    .ignore();
            }
            i += 1;
        }
        pipe.query_async::<()>(&mut conn).await?;
        sent.fetch_add(per_tick as u64 * 2, Relaxed);
    }
    Ok(())
}

/// One finished marker task every [`MARKER_EVERY`], each entry's time as Redis stamped it.
async fn stream_markers(
    mut conn: redis::aio::MultiplexedConnection,
    seen: Shared,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(MARKER_EVERY);
    let mut k = 0u64;
    while !stop.is_cancelled() {
        tick.tick().await;
        k += 1;
        let now = now_epoch();
        let event = json!({
            "task_id": format!("marker-{k}"), "queue_name": MARKER_QUEUE, "function": "mark",
            "params": {"k": k}, "publish_time": now - 0.002, "time_start": now - 0.001,
            "time_end": now, "run_status": "finish", "success": true, "run_times": 1,
        });
        let id: String = redis::cmd("XADD")
            .arg(STREAM)
            .arg("*")
            .arg(FIELD)
            .arg(event.to_string())
            .query_async(&mut conn)
            .await?;
        let ms = id
            .split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .with_context(|| format!("odd stream id {id}"))?;
        seen.lock().unwrap().markers.push(ms);
    }
    Ok(())
}

/// Chromium on the overview, through the Node script, which prints `ready`, then
/// `<count> <epoch ms>` for each change of the marker cell.
struct Browser {
    child: Child,
}

impl Browser {
    async fn open(
        script: &PathBuf,
        addr: &str,
        password: &str,
        seen: Shared,
    ) -> anyhow::Result<Browser> {
        let mut child = Command::new("node")
            .env("TASKDECK_BENCH_PASSWORD", password)
            .arg(script)
            .arg(format!("http://{addr}/"))
            .arg(MARKER_QUEUE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start node {}", script.display()))?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let record = move |line: &str| {
            let mut parts = line.split(' ');
            let shown = parts.next().and_then(|v| v.parse().ok());
            let at = parts.next().and_then(|v| v.parse().ok());
            if let (Some(shown), Some(at)) = (shown, at) {
                seen.lock().unwrap().dom.push((shown, at));
            }
        };
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line == "ready" {
                    return Ok(());
                }
                record(&line);
            }
            bail!("the browser script ended before it was ready")
        });
        ready
            .await
            .context("the browser was not ready within 60 s")??;
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                record(&line);
            }
        });
        Ok(Browser { child })
    }

    /// Closing its stdin tells the script to close the browser.
    async fn close(&mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await.ok();
        }
    }
}

/// A dashboard without a browser: it reads the event stream as EventSource does (HTTP/1.0, so
/// the body is the stream itself, without chunk framing) and records each frame's delay; with
/// `watch_marker`, also the marker count of each overview frame.
async fn sse_client(
    addr: String,
    token: String,
    path: String,
    watch_marker: bool,
    seen: Shared,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(&addr).await?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut head = true;
    loop {
        let n = tokio::select! {
            n = stream.read(&mut chunk) => n?,
            _ = stop.cancelled() => return Ok(()),
        };
        if n == 0 {
            bail!("the server closed {path}");
        }
        buf.extend_from_slice(&chunk[..n]);
        if head {
            let Some(end) = find(&buf, b"\r\n\r\n") else {
                continue;
            };
            let status = String::from_utf8_lossy(&buf[..end]).into_owned();
            anyhow::ensure!(status.contains(" 200 "), "{path} answered {status}");
            buf.drain(..end + 4);
            head = false;
        }
        while let Some(end) = find(&buf, b"\n\n") {
            let block = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 2);
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                    .map(str::trim)
            };
            let Some(id) = field("id").and_then(|v| v.parse::<f64>().ok()) else {
                continue;
            };
            let now = now_ms();
            let mut seen = seen.lock().unwrap();
            seen.frames.push((now, now - id));
            if watch_marker && field("event") == Some("overview") {
                if let Some(shown) = field("data").and_then(marker_count) {
                    seen.sse.push((shown, now));
                }
            }
        }
    }
}

/// The marker queue's successes in the last hour in an overview frame.
fn marker_count(data: &str) -> Option<u64> {
    let overview: Overview = serde_json::from_str(data).ok()?;
    let row = overview.queues.iter().find(|r| r.queue == MARKER_QUEUE)?;
    u64::try_from(row.success_last_hour).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body of a GET, or an error unless it answered 200.
async fn http_get(addr: &str, token: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
    anyhow::ensure!(head.contains(" 200 "), "GET {path}: {head}");
    Ok(body.to_owned())
}

async fn wait_healthy(addr: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if http_get(addr, "", "/healthz").await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no answer on /healthz within 30 s")
}

/// The sum of a Prometheus metric's series.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn now_ms() -> f64 {
    now_epoch() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_seen_when_the_count_reaches_it() {
        let seen = Seen {
            markers: vec![1_000.0, 1_100.0, 1_200.0, 5_000.0],
            dom: vec![(1, 1_150.0), (3, 1_400.0)],
            ..Seen::default()
        };
        let (latency, missed) = latencies(&seen.markers, &seen.dom, 0.0, 2_000.0);
        assert_eq!(latency, vec![150.0, 300.0, 200.0]);
        assert_eq!(missed, 0);
        let (latency, missed) = latencies(&seen.markers, &seen.dom, 2_000.0, 6_000.0);
        assert!(latency.is_empty());
        assert_eq!(missed, 1);
    }

    #[test]
    fn metrics_are_summed_over_their_series() {
        let text =
            "# TYPE x counter\nx{source=\"redis\"} 3\nx{source=\"http\"} 4\nx_total 9\nx 1\n";
        assert_eq!(metric(text, "x"), 8.0);
        assert_eq!(metric(text, "x_total"), 9.0);
        assert_eq!(metric(text, "y"), 0.0);
    }
}
