//! `taskdeck bench series`: how fast a queue's chart series is read from the counters kept at
//! write time, against counting task records per bucket the way funboost's web manager does
//! (two counts per bucket: successes and failures). Prints figures; never fails on timing.

use crate::bench::ingest::{sample_event, BENCH_QUEUES};
use crate::bench::proc::quantile;
use crate::model::record::{reduce, TaskRecord};
use crate::model::{now_epoch, stats};
use crate::store::StoreUrl;
use crate::store::{SqlPool, Store};
use clap::Args;
use protocol::event::{TaskEvent, TaskState};
use protocol::series::Grain;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct SeriesBenchArgs {
    /// Store to fill and query: sqlite:PATH or postgres://… (emptied first)
    #[arg(long)]
    pub store: String,
    /// Finished tasks to seed, spread evenly over the last `--days`, in 4 queues
    #[arg(long, default_value_t = 1_000_000)]
    pub tasks: usize,
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Query an already seeded store instead of seeding it
    #[arg(long)]
    pub no_seed: bool,
    /// Reads per grain for the counters (the per-bucket counting gets a tenth)
    #[arg(long, default_value_t = 200)]
    pub reads: usize,
}

const SEED_BATCH: usize = 5_000;

pub async fn run(args: SeriesBenchArgs) -> anyhow::Result<()> {
    let url = StoreUrl::parse(&args.store).map_err(anyhow::Error::msg)?;
    let retention = Duration::from_secs((u64::from(args.days) + 1) * 86_400);
    let store = Store::open(&url, retention).await?;
    let Some(SqlPool::Sqlite(_) | SqlPool::Postgres(_)) = store.sql_pool() else {
        anyhow::bail!("the series benchmark is for SQLite and Postgres");
    };
    let now = now_epoch().floor();
    if !args.no_seed {
        seed(&store, args.tasks, args.days, now).await?;
        // The store's own retention pass: its task window holds every seeded task, so only
        // counters older than their grain's window go.
        let started = Instant::now();
        let pruned = store.prune(now, retention).await?;
        analyze(&store).await?;
        println!(
            "retention: {} per-second and per-minute counters older than their window dropped in {:.1} s",
            pruned.buckets,
            started.elapsed().as_secs_f64()
        );
    }
    let (tasks, counters) = sizes(&store).await?;
    println!("store: {tasks} task records, {counters} counter rows\n");
    println!(
        "{:<8} {:>7} | {:>22} | {:>30} | {:>6}",
        "grain", "buckets", "counters p50 / p95 ms", "count per bucket p50 / p95 ms", "ratio"
    );
    let queue = BENCH_QUEUES[0];
    for grain in Grain::ALL {
        let width = grain.seconds();
        let to = now as i64 + 1;
        let from = (to - 1).div_euclid(width) * width - (grain.default_span() - width);
        let buckets = (to - from + width - 1) / width;
        let fast = time(args.reads, || async {
            let rows = store.stat_rows(queue, grain, from, to).await?;
            Ok(stats::assemble(queue, grain, from, to, &rows).points.len())
        })
        .await?;
        let slow = time((args.reads / 10).max(3), || async {
            count_per_bucket(&store, queue, from, to, width).await
        })
        .await?;
        println!(
            "{:<8} {:>7} | {:>10.2} / {:>9.2} | {:>14.1} / {:>13.1} | {:>5.0}×",
            grain.as_str(),
            buckets,
            fast.0,
            fast.1,
            slow.0,
            slow.1,
            slow.1 / fast.1.max(0.001)
        );
    }
    store.close().await;
    Ok(())
}

/// Writes `tasks` finished tasks started evenly over the `days` before `now`, through the
/// store's own batch write (records and counters), and prints the rate.
pub(crate) async fn seed(store: &Store, tasks: usize, days: u32, now: f64) -> anyhow::Result<()> {
    match store.sql_pool() {
        Some(SqlPool::Sqlite(pool)) => {
            let wipe = "DELETE FROM tasks; DELETE FROM task_stats; DELETE FROM queues;";
            sqlx::raw_sql(wipe).execute(pool).await?;
        }
        Some(SqlPool::Postgres(pool)) => {
            sqlx::query("TRUNCATE tasks, task_stats, queues")
                .execute(pool)
                .await?;
        }
        // Emptied before the store opened (bench_search::open_empty): its indexes stay.
        None => {}
    }
    let spacing = f64::from(days) * 86_400.0 / tasks as f64;
    let t0 = now - f64::from(days) * 86_400.0;
    let started = Instant::now();
    let mut i = 0;
    while i < tasks {
        let end = (i + SEED_BATCH).min(tasks);
        let records: Vec<TaskRecord> = (i..end)
            .filter_map(|n| {
                TaskEvent::from_json(sample_event(n, true, t0 + n as f64 * spacing)).ok()
            })
            .map(|e| TaskRecord::from_event(e, now))
            .collect();
        store.write_batch(&reduce(records), &[]).await?;
        i = end;
        if i % 1_000_000 == 0 {
            println!(
                "seeded {i} tasks ({:.0}/s)",
                i as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "seeded {tasks} finished tasks over {days} days in {:.0} s ({:.0} tasks/s)",
        started.elapsed().as_secs_f64(),
        tasks as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fresh planner statistics after the deletes, as a maintained store would have.
async fn analyze(store: &Store) -> anyhow::Result<()> {
    match store.sql_pool() {
        Some(SqlPool::Sqlite(pool)) => {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Some(SqlPool::Postgres(pool)) => {
            sqlx::query("VACUUM ANALYZE task_stats")
                .execute(pool)
                .await?;
        }
        None => unreachable!(),
    }
    Ok(())
}

async fn sizes(store: &Store) -> anyhow::Result<(i64, i64)> {
    let sql = "SELECT (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM task_stats)";
    Ok(match store.sql_pool() {
        Some(SqlPool::Sqlite(pool)) => sqlx::query_as(sql).fetch_one(pool).await?,
        Some(SqlPool::Postgres(pool)) => sqlx::query_as(sql).fetch_one(pool).await?,
        None => unreachable!(),
    })
}

/// funboost's chart: per bucket, one count of successes and one of failures over the records
/// (here through the `(queue, sort_time)` index).
async fn count_per_bucket(
    store: &Store,
    queue: &str,
    from: i64,
    to: i64,
    width: i64,
) -> anyhow::Result<usize> {
    let mut points = 0;
    let mut t = from;
    while t < to {
        for state in [TaskState::Success, TaskState::Failed] {
            // `$n` placeholders suit both SQLite and Postgres; only the pool types differ.
            macro_rules! count {
                ($pool:expr) => {
                    sqlx::query_scalar(
                        "SELECT COUNT(*) FROM tasks WHERE queue = $1 AND sort_time >= $2 AND sort_time < $3 AND state = $4",
                    )
                    .bind(queue)
                    .bind(t as f64)
                    .bind((t + width) as f64)
                    .bind(state.code())
                    .fetch_one($pool)
                    .await?
                };
            }
            let n: i64 = match store.sql_pool() {
                Some(SqlPool::Sqlite(pool)) => count!(pool),
                Some(SqlPool::Postgres(pool)) => count!(pool),
                None => unreachable!(),
            };
            points += usize::from(n >= 0);
        }
        t += width;
    }
    Ok(points)
}

/// p50 and p95 in milliseconds of `reads` runs of `f` (after one warm-up run).
pub(crate) async fn time<F, Fut>(reads: usize, f: F) -> anyhow::Result<(f64, f64)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    f().await?;
    let mut ms = Vec::with_capacity(reads);
    for _ in 0..reads {
        let started = Instant::now();
        f().await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((quantile(&ms, 0.5), quantile(&ms, 0.95)))
}
