//! Hostile events on every store, over HTTP and the Redis stream: text a store cannot hold is
//! made storable when the event is read (the same way everywhere), and an event the store
//! still refuses is isolated from its batch and dead-lettered with the store's message while
//! the rest of the batch commits and every sender is answered.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How the test makes the store refuse one event: a constraint on `tasks` for the SQL stores,
/// a queue name that is not a valid MongoDB collection name for MongoDB (funboost's layout
/// keeps each queue in a collection of that name).
enum Kind {
    Sqlite,
    Postgres(PgDb),
    Mongo(MongoDb),
}

/// The queue of the event the store refuses.
fn poison_queue(kind: &Kind) -> &'static str {
    match kind {
        Kind::Mongo(_) => "system.poison",
        _ => "poison",
    }
}

async fn refuse_poison(kind: &Kind, dir: &std::path::Path) {
    match kind {
        Kind::Sqlite => {
            let db = sqlite(dir).await;
            sqlx::query(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON tasks WHEN NEW.queue = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poison refused by a test trigger'); END",
            )
            .execute(&db)
            .await
            .unwrap();
        }
        Kind::Postgres(pg) => {
            let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
            sqlx::query("ALTER TABLE tasks ADD CONSTRAINT refuse_poison CHECK (queue <> 'poison')")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        Kind::Mongo(_) => {}
    }
}

async fn sqlite(dir: &std::path::Path) -> sqlx::SqlitePool {
    let path = dir.join("data/taskdeck.db");
    sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap()
}

/// Dead letters (source, error, payload) whose payload names `task`.
async fn dead_letters(kind: &Kind, dir: &std::path::Path, task: &str) -> Vec<(String, String)> {
    let like = format!("%{task}%");
    match kind {
        Kind::Sqlite => {
            sqlx::query_as("SELECT source, error FROM dead_letters WHERE payload LIKE ?1")
                .bind(like)
                .fetch_all(&sqlite(dir).await)
                .await
                .unwrap()
        }
        Kind::Postgres(pg) => {
            let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
            let rows =
                sqlx::query_as("SELECT source, error FROM dead_letters WHERE payload LIKE $1")
                    .bind(like)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            pool.close().await;
            rows
        }
        Kind::Mongo(m) => {
            use mongodb::bson::{doc, Document};
            let client = mongodb::Client::with_uri_str(service_url("TEST_MONGODB_URL"))
                .await
                .unwrap();
            let coll = client
                .database(&format!("{}_taskdeck", m.name))
                .collection::<Document>("dead_letters");
            let mut out = Vec::new();
            let mut cursor = coll
                .find(doc! { "payload": { "$regex": regex_escape(task) } })
                .await
                .unwrap();
            while cursor.advance().await.unwrap() {
                let d = cursor.deserialize_current().unwrap();
                out.push((
                    d.get_str("source").unwrap_or_default().to_owned(),
                    d.get_str("error").unwrap_or_default().to_owned(),
                ));
            }
            out
        }
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\^$.|?*+()[]{}".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// One batch: plain tasks, tasks carrying U+0000 in text and payloads, and one the store
/// refuses. `tag` keeps the ids of the HTTP and stream rounds apart.
fn batch(kind: &Kind, tag: &str) -> Vec<Value> {
    let finish = json!({"state": "failed", "run_times": 1, "time_end": 1_795_000_001.0,
        "exception_type": "ValueError"});
    let mut events = Vec::new();
    for i in 0..5 {
        let mut e = event(&format!("{tag}-ok{i}"), "plain", finish.clone());
        e["exception_msg"] = json!(format!("plain {i}"));
        events.push(e);
    }
    let mut nul = event(&format!("{tag}-nul"), "plain", finish.clone());
    nul["exception_msg"] = json!("a\u{0}b");
    nul["params"] = json!({"k\u{0}": "v\u{0}", "lone": "\u{FFFD}"});
    nul["host_name"] = json!("h\u{0}");
    nul["user_context"] = json!({"\u{0}": ["\u{0}"]});
    events.push(nul);
    events.push(event(&format!("{tag}-poison"), poison_queue(kind), finish));
    events
}

/// The checks after one round: everything but the refused event stored (U+0000 as U+FFFD),
/// the refused one dead-lettered with the store's reason, nothing stored for it.
async fn check_round(td: &Taskdeck, kind: &Kind, dir: &std::path::Path, tag: &str) {
    for i in 0..5 {
        let (status, task) = get_json(&format!("{}/api/v1/tasks/{tag}-ok{i}", td.url)).await;
        assert_eq!(status, 200, "{task}");
        assert_eq!(task["state"], "failed");
    }
    let (status, task) = get_json(&format!("{}/api/v1/tasks/{tag}-nul", td.url)).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["exception_msg"], "a\u{FFFD}b", "{task}");
    assert_eq!(task["host_name"], "h\u{FFFD}", "{task}");
    let params: Value = serde_json::from_str(task["params"].as_str().unwrap()).unwrap();
    assert_eq!(
        params,
        json!({"k\u{FFFD}": "v\u{FFFD}", "lone": "\u{FFFD}"})
    );
    assert!(!task.to_string().contains("\\u0000"), "{task}");
    let (status, _) = get_json(&format!("{}/api/v1/tasks/{tag}-poison", td.url)).await;
    assert_eq!(status, 404, "the refused event is not a task");
    let deadline = Instant::now() + Duration::from_secs(10);
    let letters = loop {
        let letters = dead_letters(kind, dir, &format!("{tag}-poison")).await;
        if !letters.is_empty() || Instant::now() > deadline {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(letters.len(), 1, "{letters:?}");
    let (source, error) = &letters[0];
    assert_eq!(source, "store");
    assert!(
        error.starts_with("the store refused this event:"),
        "{error}"
    );
    let reason = match kind {
        Kind::Sqlite => "poison refused by a test trigger",
        Kind::Postgres(_) => "refuse_poison",
        Kind::Mongo(_) => "namespace",
    };
    assert!(error.to_lowercase().contains(reason), "{error}");
}

async fn scenario(kind: Kind, redis_db_index: u8) {
    let dir = tempfile::tempdir().unwrap();
    let (redis_url, mut conn) = fresh_redis(redis_db_index).await;
    let mut args = vec!["--redis", redis_url.as_str()];
    let store;
    match &kind {
        Kind::Sqlite => {}
        Kind::Postgres(pg) => {
            store = pg.url.clone();
            args.extend(["--store", store.as_str()]);
        }
        Kind::Mongo(m) => {
            store = m.url.clone();
            args.extend(["--store", store.as_str()]);
        }
    }
    let td = Taskdeck::start(dir.path(), &args);
    refuse_poison(&kind, dir.path()).await;

    // Over HTTP: answered as soon as the batch is written, not after the store's retries.
    let started = Instant::now();
    let body = Value::Array(batch(&kind, "http")).to_string();
    let (status, report) = post(&td.url, body).await;
    assert_eq!(status, 202, "{report}");
    assert_eq!(report["accepted"], 7, "{report}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the sender waited {:?}",
        started.elapsed()
    );
    check_round(&td, &kind, dir.path(), "http").await;

    // Over the Redis stream: the same, and every entry is acknowledged and removed.
    let mut pipe = redis::pipe();
    for e in batch(&kind, "stream") {
        pipe.cmd("XADD")
            .arg("taskdeck:events")
            .arg("*")
            .arg("event")
            .arg(e.to_string())
            .ignore();
    }
    pipe.query_async::<()>(&mut conn).await.unwrap();
    wait_stream_empty(&mut conn).await;
    check_round(&td, &kind, dir.path(), "stream").await;
    let metrics = metrics(&td.url).await;
    assert!(
        metrics.contains("taskdeck_ingest_events_refused_total 2"),
        "{metrics}"
    );
    assert!(
        !td.log().contains("retrying"),
        "a refused batch is not retried"
    );
    drop(td);
    match kind {
        Kind::Sqlite => {}
        Kind::Postgres(pg) => pg.drop().await,
        Kind::Mongo(m) => m.drop().await,
    }
}

#[tokio::test]
async fn poison_events_on_sqlite_are_isolated() {
    scenario(Kind::Sqlite, 1).await;
}

#[tokio::test]
async fn poison_events_on_postgres_are_isolated() {
    scenario(Kind::Postgres(PgDb::new("poison").await), 2).await;
}

#[tokio::test]
async fn poison_events_on_mongodb_are_isolated() {
    scenario(Kind::Mongo(MongoDb::new("poison")), 4).await;
}
