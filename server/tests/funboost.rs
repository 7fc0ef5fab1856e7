//! A real funboost 55 worker with contrib/funboost's one-line mixin streams its records —
//! running and finished — into taskdeck through Redis.

mod common;

use common::*;
use redis::AsyncCommands;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn funboost_workers_stream_running_and_final_records_with_the_mixin() {
    let base = service_url("TEST_REDIS_URL");
    let server = base.rsplit_once('/').unwrap().0.to_owned();
    let (host, port) = server
        .trim_start_matches("redis://")
        .rsplit_once(':')
        .unwrap();
    let bus = format!("{server}/15");
    let mut r = redis::Client::open(bus.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("FLUSHDB").query_async(&mut r).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--redis", &bus]);

    let queue = format!("fb_mixin_{}", std::process::id());
    let mut broker = redis::Client::open(format!("{server}/7"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for i in 0..6 {
        let fail = i == 5;
        let msg = format!(
            r#"{{"x":{i},"y":1,"fail":{fail},"extra":{{"task_id":"{queue}-{i}","publish_time":{:.4}}}}}"#,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        );
        let _: () = broker.rpush(&queue, msg).await.unwrap();
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/funboost-venv/bin/python");
    assert!(
        python.is_file(),
        "{} missing: run scripts/ensure-tools.sh --test",
        python.display()
    );
    let mut peer = Command::new(python)
        .arg(root.join("scripts/funboost_peer.py"))
        .args(["taskdeck", &queue, "-", "8"])
        .env("FUNBOOST_REDIS_HOST", host)
        .env("FUNBOOST_REDIS_PORT", port)
        .env("TASKDECK_REDIS_URL", &bus)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(40);
    let tasks = loop {
        let (_, page) = get_json(&format!("{}/api/v1/tasks?queue={queue}", td.url)).await;
        let tasks = page["tasks"].as_array().cloned().unwrap_or_default();
        let finals = tasks.iter().filter(|t| t["state"] != "running").count();
        if finals == 6 {
            break tasks;
        }
        assert!(
            Instant::now() < deadline,
            "{finals} of 6 final; log:\n{}",
            td.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = peer.wait();
    for t in &tasks {
        let i: usize = t["task_id"]
            .as_str()
            .unwrap()
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if i == 5 {
            assert_eq!(t["state"], "failed", "{t}");
            assert_eq!(t["exception_type"], "ValueError");
            assert_eq!(t["exception_msg"], "cannot add 5");
        } else {
            assert_eq!(t["state"], "success", "{t}");
            assert_eq!(t["function"], "add");
            let (_, detail) = get_json(&format!(
                "{}/api/v1/tasks/{}",
                td.url,
                t["task_id"].as_str().unwrap()
            ))
            .await;
            assert_eq!(detail["result"], (i + 1).to_string(), "{detail}");
        }
    }
    // Each task sent its "running" record too: two events per task arrived over Redis.
    let metrics = reqwest::get(format!("{}/metrics", td.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("taskdeck_ingest_events_received_total{source=\"redis\"} 12"),
        "{metrics}"
    );
}
