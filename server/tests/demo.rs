//! The demo fleet of the embedded mode: real in-process workers whose tasks reach the store
//! through the same ingest as any other source.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_embedded_default_runs_demo_workers_whose_tasks_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut td = Taskdeck::start(dir.path(), &["--demo"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let orders = loop {
        let (status, page) = get_json(&format!(
            "{}/api/v1/tasks?queue=orders&state=success",
            td.url
        ))
        .await;
        assert_eq!(status, 200, "{page}");
        let tasks = page["tasks"].as_array().cloned().unwrap_or_default();
        if tasks.len() >= 3 {
            break tasks;
        }
        assert!(
            Instant::now() < deadline,
            "no demo orders recorded in 30 s; log:\n{}",
            td.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for t in &orders {
        assert_eq!(t["function"], "process_order");
        assert!(t["params"].as_str().unwrap().contains("order_id"), "{t}");
    }
    let id = orders[0]["task_id"].as_str().unwrap();
    let (status, task) = get_json(&format!("{}/api/v1/tasks/{id}", td.url)).await;
    assert_eq!(status, 200);
    assert_eq!(task["state"], "success");
    assert!(
        task["result"].as_str().unwrap().contains("\"paid\""),
        "{task}"
    );
    assert!(task["cost"].as_f64().unwrap() > 0.0, "{task}");
    assert!(task["wait"].as_f64().unwrap() >= 0.0, "{task}");

    let (_, queues) = get_json(&format!("{}/api/v1/queues", td.url)).await;
    let names: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["queue"].as_str())
        .collect();
    assert!(names.contains(&"orders"), "{queues}");

    // The demo consumers heartbeat into the in-process broker like any worker.
    let (status, fleet) = get_json(&format!("{}/api/v1/workers", td.url)).await;
    assert_eq!(status, 200, "{fleet}");
    let consumers = fleet["consumers"].as_array().unwrap();
    let orders: Vec<_> = consumers
        .iter()
        .filter(|c| c["heartbeat"]["queue_name"] == "orders")
        .collect();
    assert!(!orders.is_empty(), "{fleet}");
    for c in &orders {
        assert_eq!(c["kind"], "taskdeck-rust", "{c}");
        assert_eq!(c["liveness"], "alive", "{c}");
        assert_eq!(c["heartbeat"]["consuming_function"], "process_order", "{c}");
    }

    let status = td.terminate();
    assert!(status.success(), "exit status {status}; log:\n{}", td.log());
    let log = td.log();
    assert!(log.contains("demo fleet running"), "{log}");
    assert!(log.contains("recorded as revoked"), "{log}");

    // The in-process queues ended with the process: after a restart no demo task still
    // reads as waiting or running.
    let mut td = Taskdeck::start(dir.path(), &[]);
    for state in ["pending", "running"] {
        let (status, page) = get_json(&format!("{}/api/v1/tasks?state={state}", td.url)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            page["tasks"].as_array().unwrap().len(),
            0,
            "{state}: {page}"
        );
    }
    td.terminate();
}

#[test]
fn no_demo_leaves_the_store_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut td = Taskdeck::start(dir.path(), &[]);
    std::thread::sleep(Duration::from_secs(2));
    td.terminate();
    assert!(!td.log().contains("demo fleet running"));
}
