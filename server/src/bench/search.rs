//! `taskdeck bench search`: first-page latency of the tasks list on a seeded store, the way
//! the API answers it (page and count), and on MongoDB the same questions asked the way
//! funboost's web manager asks them (unanchored `$regex`, `skip` paging, a count per load).
//! Prints figures; never fails on timing.

use crate::bench::ingest::BENCH_QUEUES;
use crate::bench::series::{seed, time};
use crate::model::now_epoch;
use crate::store::SqlPool;
use crate::store::StoreUrl;
use crate::store::{MongoStore, Store};
use clap::Args;
use mongodb::bson::{doc, Document};
use protocol::failures::FailureQuery;
use protocol::task::{Cursor, PageAt, TaskQuery};
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct SearchBenchArgs {
    /// Store to fill and query: sqlite:PATH, postgres://… or mongodb://… (emptied first)
    #[arg(long)]
    pub store: String,
    /// Finished tasks to seed (5 % failed), spread evenly over the last `--days`, in 4 queues
    #[arg(long, default_value_t = 1_000_000)]
    pub tasks: usize,
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Query an already seeded store instead of seeding it
    #[arg(long)]
    pub no_seed: bool,
    /// Timed reads per question
    #[arg(long, default_value_t = 40)]
    pub reads: usize,
    /// Ask only the questions whose label starts with this, e.g. `(c)`
    #[arg(long)]
    pub only: Option<String>,
}

/// Rows per page, as funboost's result table pages.
const PAGE: u32 = 100;

/// One question of the benchmark, as tasks-page filters.
struct Case {
    label: &'static str,
    query: TaskQuery,
    /// Time the `pages`-th page instead of the first (walked to once, untimed).
    pages: usize,
}

/// The questions, for a store seeded with `tasks` tasks (ids `bench-000000000` on).
fn cases(tasks: usize) -> Vec<Case> {
    let q = |f: fn(&mut TaskQuery)| {
        let mut q = TaskQuery {
            limit: Some(PAGE),
            ..TaskQuery::default()
        };
        f(&mut q);
        q
    };
    vec![
        Case {
            label: "(a) failed, one queue, last hour",
            query: q(|q| {
                q.queue = Some(BENCH_QUEUES[0].into());
                q.state = Some("failed".into());
                q.range = Some("1h".into());
            }),
            pages: 1,
        },
        Case {
            label: "(a') same, page 20",
            query: q(|q| {
                q.queue = Some(BENCH_QUEUES[0].into());
                q.state = Some("failed".into());
            }),
            pages: 20,
        },
        Case {
            label: "(b) text in 0.1 % of params, failed",
            query: q(|q| {
                q.q = Some("CPN-0045".into());
                q.state = Some("failed".into());
            }),
            pages: 1,
        },
        Case {
            label: "(b') text in 0.1 % of params, all states",
            query: q(|q| q.q = Some("CPN-0045".into())),
            pages: 1,
        },
        Case {
            label: "(b'') text in 1 task's params, all states",
            query: q(|q| q.q = Some("user4567@example".into())),
            pages: 1,
        },
        Case {
            label: "(c) task id prefix (100 tasks)",
            // The 100 ids around the middle of the seeded ones.
            query: {
                let mut query = q(|_| {});
                query.task_id_prefix = Some(format!("bench-{:07}", tasks / 2 / 100));
                query
            },
            pages: 1,
        },
    ]
}

pub async fn run(args: SearchBenchArgs) -> anyhow::Result<()> {
    let url = StoreUrl::parse(&args.store).map_err(anyhow::Error::msg)?;
    let keep = Duration::from_secs((u64::from(args.days) + 1) * 86_400);
    let mut store = Store::open(&url, keep).await?;
    let now = now_epoch().floor();
    if !args.no_seed {
        if let Some(m) = store.mongo() {
            // Emptied before seeding with the store's own indexes in place.
            m.client.database(&m.records_db).drop().await?;
            m.client.database(&m.own_db).drop().await?;
            store.close().await;
            store = Store::open(&url, keep).await?;
        }
        seed(&store, args.tasks, args.days, now).await?;
        analyze(&store).await?;
    }
    println!(
        "\n{:<44} {:>8} {:>7} | {:>20} | {:>24} | {:>6}",
        "question (100 per page)",
        "on page",
        "total",
        "taskdeck p50/p95 ms",
        "funboost way p50/p95 ms",
        "ratio"
    );
    let asked = |label: &str| args.only.as_deref().is_none_or(|o| label.starts_with(o));
    for case in cases(args.tasks).into_iter().filter(|c| asked(c.label)) {
        let (filter, first, limit) = case
            .query
            .parse(now_epoch())
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut at = first;
        for _ in 1..case.pages {
            let page = store.list_tasks(&filter, &at, limit).await?;
            let Some(c) = page.older.as_deref().and_then(Cursor::decode) else {
                break;
            };
            at = PageAt::Older(c);
        }
        let sample = store.list_tasks(&filter, &at, limit).await?;
        let ours = time(args.reads, || async {
            Ok(store.list_tasks(&filter, &at, limit).await?.tasks.len())
        })
        .await?;
        let total = match (sample.total, sample.stopped) {
            (Some(t), _) if t.more => format!(">{}", t.count),
            (Some(t), _) => t.count.to_string(),
            (None, Some(stop)) => format!("({}k read)", stop.read / 1_000),
            (None, None) => "-".into(),
        };
        let theirs = match store.mongo() {
            Some(m) => {
                let fb = FunboostQuery::of(&case, now_epoch());
                Some(
                    time(args.reads.min(10), || async {
                        fb.run(m, (case.pages - 1) as u64).await
                    })
                    .await?,
                )
            }
            _ => None,
        };
        println!(
            "{:<44} {:>8} {:>7} | {:>9.1} / {:>8.1} | {:>24} | {:>6}",
            case.label,
            sample.tasks.len(),
            total,
            ours.0,
            ours.1,
            theirs.map_or("-".into(), |t| format!("{:>10.1} / {:>10.1}", t.0, t.1)),
            theirs.map_or("-".into(), |t| format!("{:.0}×", t.1 / ours.1.max(0.001))),
        );
    }
    if !asked("(d)") {
        store.close().await;
        return Ok(());
    }
    // (d): from the failure counters; funboost has no such view, its nearest is grouping the
    // records themselves.
    let filter = FailureQuery {
        range: Some("24h".into()),
        queue: None,
    }
    .parse(now_epoch())
    .map_err(|e| anyhow::anyhow!(e))?;
    let sample = store.failure_groups(&filter).await?;
    let ours = time(args.reads, || async {
        Ok(store.failure_groups(&filter).await?.groups.len())
    })
    .await?;
    let theirs = match store.mongo() {
        Some(m) => Some(
            time(args.reads.min(10), || async {
                group_records(m, now_epoch() - 86_400.0).await
            })
            .await?,
        ),
        _ => None,
    };
    println!(
        "{:<44} {:>8} {:>7} | {:>9.1} / {:>8.1} | {:>24} | {:>6}",
        "(d) failures grouped by exception, 24 h",
        sample.groups.len(),
        sample.groups.iter().map(|g| g.count).sum::<i64>(),
        ours.0,
        ours.1,
        theirs.map_or("-".into(), |t| format!("{:>10.1} / {:>10.1}", t.0, t.1)),
        theirs.map_or("-".into(), |t| format!("{:.0}×", t.1 / ours.1.max(0.001))),
    );
    store.close().await;
    Ok(())
}

/// Failed records of the last day grouped by exception type in every queue collection.
async fn group_records(m: &MongoStore, from: f64) -> anyhow::Result<usize> {
    let mut groups = 0;
    for queue in BENCH_QUEUES {
        let pipeline = [
            doc! { "$match": { "time_start": { "$gt": from }, "success": false } },
            doc! { "$group": { "_id": "$exception_type", "count": { "$sum": 1 }, "last": { "$max": "$time_start" } } },
        ];
        let mut cursor = m
            .records()
            .collection::<Document>(queue)
            .aggregate(pipeline)
            .await?;
        while cursor.advance().await? {
            groups += 1;
        }
    }
    Ok(groups)
}

/// Fresh planner statistics, as autovacuum (Postgres) or `PRAGMA optimize` would leave them.
async fn analyze(store: &Store) -> anyhow::Result<()> {
    let started = Instant::now();
    match store.sql_pool() {
        Some(SqlPool::Sqlite(pool)) => {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Some(SqlPool::Postgres(pool)) => {
            sqlx::query("VACUUM ANALYZE tasks").execute(pool).await?;
        }
        None => return Ok(()),
    }
    println!("analyzed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A question as funboost's result table asks it (`/query_result`): per queue collection,
/// `find` with an unanchored `$regex` on `params_str` (or an anchored one on `task_id`),
/// newest first, `skip(page * 100).limit(100)`, plus a `count_documents` on every load.
/// The time filter is on `time_start` (funboost filters `insert_time`, which a seeded store
/// sets to the seeding time), which lets it use taskdeck's time index: kinder than funboost's
/// own collection, which has none on `time_start`.
struct FunboostQuery {
    queues: Vec<&'static str>,
    filter: Document,
}

impl FunboostQuery {
    fn of(case: &Case, now: f64) -> FunboostQuery {
        let q = &case.query;
        let mut filter = Document::new();
        if let Some(prefix) = &q.task_id_prefix {
            // funboost's task id search is this alone.
            filter.insert("task_id", doc! { "$regex": format!("^{prefix}") });
        } else {
            let from = match q.range.as_deref() {
                Some("1h") => now - 3_600.0,
                _ => now - 30.0 * 86_400.0,
            };
            filter.insert("time_start", doc! { "$gt": from, "$lt": now });
            if q.state.as_deref() == Some("failed") {
                filter.insert("success", false);
            }
            if let Some(text) = &q.q {
                filter.insert("params_str", doc! { "$regex": text });
            }
        }
        let queues = match &q.queue {
            Some(one) => BENCH_QUEUES.into_iter().filter(|b| b == one).collect(),
            None => BENCH_QUEUES.to_vec(),
        };
        FunboostQuery { queues, filter }
    }

    async fn run(&self, m: &MongoStore, page: u64) -> anyhow::Result<usize> {
        let mut rows = 0;
        for queue in &self.queues {
            let coll = m.records().collection::<Document>(queue);
            let mut cursor = coll
                .find(self.filter.clone())
                .sort(doc! { "time_start": -1 })
                .skip(page * u64::from(PAGE))
                .limit(i64::from(PAGE))
                .await?;
            while cursor.advance().await? {
                rows += 1;
            }
            coll.count_documents(self.filter.clone()).await?;
        }
        Ok(rows)
    }
}
