//! Retention: old task records, dead letters and chart buckets are deleted in small chunks,
//! so no delete holds a lock for long and ingest keeps flowing meanwhile (MongoDB: one
//! `delete_many` per collection, which locks documents, not collections).

use super::Store;
use protocol::series::Grain;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long chart buckets of each grain are kept.
pub const STATS_KEEP: [(Grain, Duration); 4] = [
    (Grain::Second, Duration::from_secs(2 * 3_600)),
    (Grain::Minute, Duration::from_secs(3 * 86_400)),
    (Grain::Hour, Duration::from_secs(90 * 86_400)),
    (Grain::Day, Duration::from_secs(5 * 365 * 86_400)),
];
/// How long the audit log is kept: security events are looked back on a year and more later.
pub const AUDIT_KEEP: Duration = Duration::from_secs(400 * 86_400);
/// Rows one delete statement takes at most.
pub(super) const CHUNK: i64 = 5_000;
const EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub tasks: u64,
    pub dead_letters: u64,
    pub buckets: u64,
    /// Audit entries and commands.
    pub history: u64,
}

/// The chart counters to delete: `(table, grain, first bucket kept)`. Each grain is kept for
/// its own time; failure counters of a grain without one, as long as task records.
pub(super) fn bucket_cutoffs(now: f64, retention: Duration) -> Vec<(&'static str, Grain, i64)> {
    let keep = |grain: Grain| {
        STATS_KEEP
            .iter()
            .find(|(g, _)| *g == grain)
            .map_or(retention, |(_, k)| *k)
    };
    let cutoff = |grain| (now - keep(grain).as_secs_f64()).floor() as i64;
    let stats = STATS_KEEP
        .iter()
        .map(|(grain, _)| ("task_stats", *grain, cutoff(*grain)));
    let failures = crate::model::failures::FAILURE_GRAINS
        .into_iter()
        .map(|grain| ("failure_stats", grain, cutoff(grain)));
    stats.chain(failures).collect()
}

/// Prunes every minute until `shutdown`.
pub async fn run(store: Store, retention: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
        match store.prune(crate::model::now_epoch(), retention).await {
            Ok(p) if p != Pruned::default() => {
                tracing::info!(
                    tasks = p.tasks,
                    dead_letters = p.dead_letters,
                    buckets = p.buckets,
                    history = p.history,
                    "retention pruned old data"
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "retention pass failed; retrying in a minute")
            }
        }
        if let Err(e) = store.purge_sessions(crate::model::now_epoch() as i64).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot remove expired sessions");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::TaskRecord;
    use crate::store::DeadLetter;
    use crate::store::StoreUrl;
    use protocol::event::TaskEvent;

    const DAY: f64 = 86_400.0;

    fn record(id: &str, at: f64) -> TaskRecord {
        let e = TaskEvent::from_json(serde_json::json!({
            "task_id": id, "queue_name": "q", "state": "success", "time_start": at, "time_end": at, "time_cost": 0.1
        }))
        .unwrap();
        TaskRecord::from_event(e, at)
    }

    async fn prunes_old_rows_only(store: Store) {
        let now = 1_795_000_000.0;
        let records: Vec<_> = (0..12_000)
            .map(|i| {
                record(
                    &format!("t{i}"),
                    if i < 11_000 {
                        now - 10.0 * DAY
                    } else {
                        now - 60.0
                    },
                )
            })
            .collect();
        let dead = vec![
            DeadLetter {
                received_at: now - 9.0 * DAY,
                source: "http".into(),
                error: "e".into(),
                payload: "{}".into(),
            },
            DeadLetter {
                received_at: now,
                source: "http".into(),
                error: "e".into(),
                payload: "{}".into(),
            },
        ];
        store.write_batch(&records, &dead).await.unwrap();
        if let Some(m) = store.mongo() {
            // MongoDB records carry their write time (`utime`), as funboost's do: the old ones
            // were written ten days ago. Without the TTL index, as on servers that have none:
            // its monitor (every 60 s) would otherwise delete some of them before the prune.
            use mongodb::bson::{doc, DateTime, Document};
            let ten_days_ago = DateTime::from_millis(((now - 10.0 * DAY) * 1_000.0) as i64);
            let records = m.records().collection::<Document>("q");
            records.drop_index("utime_1").await.unwrap();
            records
                .update_many(
                    doc! { "time_start": { "$lt": now - DAY } },
                    doc! { "$set": { "utime": ten_days_ago } },
                )
                .await
                .unwrap();
        }
        // Audit entries are kept 400 days, commands as long as task records.
        for (i, at) in [now - 401.0 * DAY, now - 10.0 * DAY]
            .into_iter()
            .enumerate()
        {
            let entry = protocol::auth::AuditEntry {
                at,
                actor: "user:a".into(),
                action: "pause".into(),
                target: format!("q{i}"),
                outcome: "ok".into(),
                detail: String::new(),
                ip: String::new(),
            };
            store.audit(&entry).await.unwrap();
        }
        for (id, at) in [("old", now - 10.0 * DAY), ("new", now - 60.0)] {
            let command = crate::store::CommandRow {
                id: id.into(),
                requested_at: at,
                sent_at: Some(at),
                actor: "user:a".into(),
                action: protocol::control::Action::Pause,
                queue: "q".into(),
                task_id: None,
                version: None,
                outcome: None,
                detail: String::new(),
            };
            store.put_command(&command).await.unwrap();
        }
        let pruned = store
            .prune(now, Duration::from_secs(7 * 86_400))
            .await
            .unwrap();
        assert_eq!(pruned.tasks, 11_000, "in chunks of {CHUNK}");
        assert_eq!(pruned.dead_letters, 1);
        assert_eq!(pruned.history, 2, "one audit entry, one command");
        let audit = store.audit_log("", None, 10).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].target, "q1");
        let commands = store.commands(None, None, 10).await.unwrap();
        assert_eq!(commands.len(), 1);
        assert_eq!(commands[0].id, "new");
        // Ten-day-old second and minute buckets go; hour (90 d) and day (5 y) buckets stay.
        assert!(pruned.buckets > 0);
        let page = store
            .list_tasks(&Default::default(), &protocol::task::PageAt::First, 500)
            .await
            .unwrap();
        assert_eq!(page.tasks.len(), 500);
        let old_day = (now - 10.0 * DAY).floor() as i64 / 86_400 * 86_400;
        let rows = store
            .stat_rows("q", Grain::Day, old_day, old_day + 86_400)
            .await
            .unwrap();
        assert!(
            rows.iter().any(|r| r.1 == 2 && r.3 == 11_000),
            "day counters survive: {rows:?}"
        );
        let rows = store
            .stat_rows("q", Grain::Minute, old_day, old_day + 86_400)
            .await
            .unwrap();
        assert!(rows.is_empty(), "old minute counters are gone");
        let rows = store
            .stat_rows("q", Grain::Hour, old_day, old_day + 86_400)
            .await
            .unwrap();
        assert!(!rows.is_empty(), "hour counters are kept 90 days");
        assert_eq!(
            store
                .prune(now, Duration::from_secs(7 * 86_400))
                .await
                .unwrap(),
            Pruned::default()
        );
    }

    #[tokio::test]
    async fn sqlite_prunes_old_rows_only() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        prunes_old_rows_only(
            Store::open(&StoreUrl::Sqlite(url), Duration::from_secs(7 * 86_400))
                .await
                .unwrap(),
        )
        .await;
    }

    #[tokio::test]
    async fn mongodb_prunes_old_rows_only() {
        let base = std::env::var("TEST_MONGODB_URL").expect("TEST_MONGODB_URL (make test sets it)");
        let name = format!("taskdeck_retention_{}", std::process::id());
        let store = Store::open(
            &StoreUrl::Mongodb(format!("{}/{name}", base.trim_end_matches('/'))),
            Duration::from_secs(7 * 86_400),
        )
        .await
        .unwrap();
        prunes_old_rows_only(store.clone()).await;
        if let Some(m) = store.mongo() {
            m.records().drop().await.unwrap();
            m.own().drop().await.unwrap();
        }
    }

    #[tokio::test]
    async fn postgres_prunes_old_rows_only() {
        let admin_url =
            std::env::var("TEST_POSTGRES_URL").expect("TEST_POSTGRES_URL (make test sets it)");
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
        let name = format!("taskdeck_retention_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
        let store = Store::open(&StoreUrl::Postgres(url), Duration::from_secs(7 * 86_400))
            .await
            .unwrap();
        prunes_old_rows_only(store.clone()).await;
        store.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
    }
}
