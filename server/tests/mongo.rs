//! The MongoDB store: funboost's layout, the state machine over records funboost wrote
//! itself, and the same reads as the SQL stores, against a real MongoDB-protocol server.

mod common;

use common::*;
use mongodb::bson::{doc, Document};
use serde_json::json;

fn database(tag: &str) -> String {
    format!("td_{tag}_{}", std::process::id())
}

fn url(db: &str) -> String {
    format!("{}/{db}", service_url("TEST_MONGODB_URL"))
}

#[tokio::test]
async fn records_use_funboost_layout_and_follow_the_state_machine() {
    let db = database("layout");
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &url(&db)]);
    let events = json!([
        event("a", "q1", json!({"run_status": "running", "run_times": 1})),
        event("a", "q1", json!({"run_status": "finish", "success": false, "run_times": 2,
            "exception": "ValueError    bad n", "time_end": 1_795_000_002.5, "time_cost": 2.0,
            "msg_dict": {"n": 1, "extra": {"task_id": "a"}}})),
        event("b", "q1", json!({"state": "success", "time_end": 1_795_000_001.0, "time_cost": 0.5, "result": {"ok": true}})),
        {"queue_name": "q1", "state": "running"},
    ]);
    let (status, report) = post(&td.url, events.to_string()).await;
    assert_eq!(
        (
            status,
            report["accepted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (202, Some(3), Some(1)),
        "{report}"
    );
    // A late running event and a duplicate change nothing.
    let late = json!([
        event("b", "q1", json!({"run_status": "running"})),
        event("a", "q1", json!({"run_status": "running", "run_times": 3}))
    ]);
    assert_eq!(post(&td.url, late.to_string()).await.0, 202);
    // A requeued task (pending again after an attempt) leaves "running".
    let requeue = [
        json!([event(
            "r",
            "q1",
            json!({"state": "running", "run_times": 1})
        )]),
        json!([event(
            "r",
            "q1",
            json!({"state": "pending", "run_times": 1})
        )]),
    ];
    for events in requeue {
        assert_eq!(post(&td.url, events.to_string()).await.0, 202);
    }
    // A final event without a count leaves the attempts reached.
    for events in [
        json!([event(
            "k",
            "q1",
            json!({"state": "running", "run_times": 3})
        )]),
        json!([event("k", "q1", json!({"state": "killed"}))]),
    ] {
        assert_eq!(post(&td.url, events.to_string()).await.0, 202);
    }

    let client = mongodb::Client::with_uri_str(service_url("TEST_MONGODB_URL"))
        .await
        .unwrap();
    let coll = client.database(&db).collection::<Document>("q1");
    let a = coll
        .find_one(doc! { "_id": "a" })
        .await
        .unwrap()
        .expect("record a");
    let r = coll
        .find_one(doc! { "_id": "r" })
        .await
        .unwrap()
        .expect("record r");
    assert_eq!(r.get_str("state").unwrap(), "pending", "{r}");
    let k = coll.find_one(doc! { "_id": "k" }).await.unwrap().unwrap();
    assert_eq!(k.get_str("state").unwrap(), "killed", "{k}");
    assert_eq!(k.get_i64("run_times").unwrap(), 3, "{k}");
    assert_eq!(a.get_str("run_status").unwrap(), "finish");
    assert!(!a.get_bool("success").unwrap());
    assert_eq!(a.get_str("exception").unwrap(), "ValueError    bad n");
    assert_eq!(a.get_str("exception_type").unwrap(), "ValueError");
    assert_eq!(a.get_i64("run_times").unwrap(), 2);
    let int = |d: &Document, k: &str| {
        d.get(k)
            .and_then(|v| v.as_i64().or(v.as_i32().map(i64::from)))
    };
    assert_eq!(int(a.get_document("params").unwrap(), "n"), Some(1));
    assert_eq!(
        int(a.get_document("msg_dict").unwrap(), "n").unwrap(),
        1,
        "unknown fields kept at the top level"
    );
    assert!(a.get_datetime("utime").is_ok() && a.get_datetime("insert_time").is_ok());
    let b = coll.find_one(doc! { "_id": "b" }).await.unwrap().unwrap();
    assert_eq!(b.get_str("state").unwrap(), "success");
    let mut names = Vec::new();
    let mut indexes = coll.list_indexes().await.unwrap();
    while indexes.advance().await.unwrap() {
        let index = indexes.deserialize_current().unwrap();
        names.push(index.options.and_then(|o| o.name).unwrap_or_default());
    }
    for name in [
        "queue_name_1",
        "insert_time_str_-1",
        "success_1",
        "time_cost_-1",
        "utime_1",
        "td_time",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "index {name} missing: {names:?}"
        );
    }

    // Reads through the API, counters counted once.
    let (_, detail) = get_json(&format!("{}/api/v1/tasks/a", td.url)).await;
    assert_eq!(detail["state"], "failed");
    let day = 1_795_000_000 / 86_400 * 86_400;
    let (status, series) = get_json(&format!(
        "{}/api/v1/queues/q1/series?grain=day&from={day}&to={}",
        td.url,
        day + 86_400
    ))
    .await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(
        (
            series["points"][0]["success"].as_i64(),
            series["points"][0]["failed"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let dead = client
        .database(&format!("{db}_taskdeck"))
        .collection::<Document>("dead_letters");
    assert_eq!(dead.count_documents(doc! {}).await.unwrap(), 1);
    client.database(&db).drop().await.unwrap();
    client
        .database(&format!("{db}_taskdeck"))
        .drop()
        .await
        .unwrap();
}

#[tokio::test]
async fn records_funboost_wrote_itself_are_read_and_respected() {
    let db = database("legacy");
    let client = mongodb::Client::with_uri_str(service_url("TEST_MONGODB_URL"))
        .await
        .unwrap();
    let coll = client.database(&db).collection::<Document>("legacy_q");
    // As funboost's own status saver writes them: no taskdeck fields at all.
    coll.insert_many([
        doc! { "_id": "f1", "task_id": "f1", "queue_name": "legacy_q", "function": "f", "params": {"x": 1}, "params_str": "{\"x\":1}",
               "run_status": "finish", "success": false, "run_times": 1, "exception": "KeyError    'k'", "exception_type": "KeyError",
               "exception_msg": "'k'", "time_start": 1_795_000_000.0, "time_end": 1_795_000_001.0, "time_cost": 1.0, "result": "FUNC_RUN_ERROR" },
        doc! { "_id": "f2", "task_id": "f2", "queue_name": "legacy_q", "function": "f", "params": {"x": 2}, "params_str": "{\"x\":2}",
               "run_status": "running", "success": false, "run_times": 1, "exception": "", "time_start": 1_795_000_010.0 },
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &url(&db)]);

    let (status, page) = get_json(&format!(
        "{}/api/v1/tasks?queue=legacy_q&state=failed",
        td.url
    ))
    .await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<_> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["f1"]);
    assert_eq!(page["tasks"][0]["exception_type"], "KeyError");
    let (_, running) = get_json(&format!("{}/api/v1/tasks?state=running", td.url)).await;
    assert_eq!(running["tasks"][0]["task_id"], "f2");

    // A stale running event does not reopen funboost's finished record; a finish for its
    // running record does apply.
    let events = json!([
        {"task_id": "f1", "queue_name": "legacy_q", "run_status": "running", "run_times": 2},
        {"task_id": "f2", "queue_name": "legacy_q", "run_status": "finish", "success": true, "time_end": 1_795_000_011.0, "time_cost": 1.0},
    ]);
    assert_eq!(post(&td.url, events.to_string()).await.0, 202);
    let (_, f1) = get_json(&format!("{}/api/v1/tasks/f1", td.url)).await;
    assert_eq!(
        (f1["state"].as_str(), f1["run_times"].as_u64()),
        (Some("failed"), Some(1))
    );
    let (_, f2) = get_json(&format!("{}/api/v1/tasks/f2", td.url)).await;
    assert_eq!(f2["state"], "success");
    assert_eq!(
        f2["params"], r#"{"x":2}"#,
        "funboost's fields survive the update"
    );
    let (_, queues) = get_json(&format!("{}/api/v1/queues", td.url)).await;
    assert!(
        queues
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["queue"] == "legacy_q"),
        "{queues}"
    );
    client.database(&db).drop().await.unwrap();
    client
        .database(&format!("{db}_taskdeck"))
        .drop()
        .await
        .unwrap();
}
