//! The demo fleet: four queues of in-process workers with a producer that behaves like a
//! small shop's backend — quick orders, slower e-mails with flaky SMTP, bursts of thumbnails,
//! and long reports, a few of which run away and are worth killing. Everything a user sees on
//! the first run comes from these tasks really running.

use protocol::event::{TaskEvent, TaskState};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use taskdeck_worker::{
    Broker, Emitter, MemoryBroker, Message, PublishOptions, Queue, TaskError, Worker,
};
use tokio_util::sync::CancellationToken;

pub const QUEUES: [&str; 4] = ["orders", "emails", "thumbnails", "reports"];

/// Runs the demo workers and producer until `stop`; returns once every worker has stopped
/// cleanly.
pub async fn run(broker: Arc<dyn Broker>, emitter: Emitter, stop: CancellationToken) {
    let workers = vec![
        Worker::builder("orders")
            .function("process_order")
            .concurrency(8)
            .max_retries(2)
            .retry_backoff(Duration::from_millis(300))
            .handler(process_order),
        Worker::builder("emails")
            .function("send_email")
            .concurrency(4)
            .qps(6.0)
            .max_retries(3)
            .retry_backoff(Duration::from_millis(500))
            .timeout(Duration::from_secs(5))
            .handler(send_email),
        Worker::builder("thumbnails")
            .function("resize_image")
            .concurrency(6)
            .max_retries(1)
            .expire_after(Duration::from_secs(600))
            .handler(resize_image),
        Worker::builder("reports")
            .function("build_report")
            .concurrency(2)
            .max_retries(0)
            .handler(build_report),
    ];
    // In-process queues vanish with the process: no point waiting long for tasks at exit.
    let workers = workers
        .into_iter()
        .map(|w| w.stop_grace(Duration::from_secs(2)));
    let mut handles = Vec::new();
    for w in workers {
        match w.build(broker.clone(), emitter.clone()) {
            Ok(w) => handles.push(tokio::spawn(w.run(stop.clone()))),
            Err(e) => tracing::error!(error = %e, "demo worker not started"),
        }
    }
    drop(emitter);
    produce(broker.as_ref(), &stop).await;
    for h in handles {
        let _ = h.await;
    }
}

/// Records the demo's still-waiting tasks as revoked when its in-process queues are about to
/// vanish with the process (embedded mode), so no record reads "pending" forever after a
/// restart. Call it after [`run`] returned.
pub async fn discard(broker: &MemoryBroker, emitter: &Emitter) -> usize {
    let mut discarded = 0;
    for queue in QUEUES {
        for raw in broker.discard_waiting(&Queue::plain(queue)) {
            let Ok(m) = Message::parse(raw, taskdeck_worker::host::now()) else {
                continue;
            };
            let event = TaskEvent {
                v: Some(1),
                task_id: m.task_id.clone(),
                queue_name: queue.to_owned(),
                state: Some(TaskState::Revoked),
                run_status: Some("finish".into()),
                success: Some(false),
                params: serde_json::value::to_raw_value(&m.kwargs).ok(),
                publish_time: Some(m.publish_time),
                time_end: Some(taskdeck_worker::host::now()),
                exception_type: Some("Discarded".into()),
                exception_msg: Some(
                    "taskdeck stopped: the in-process demo queue does not outlive it".into(),
                ),
                ..Default::default()
            };
            emitter.emit(&event).await;
            discarded += 1;
        }
    }
    discarded
}

/// Publishes one to two tasks a second, with a slow swell and a thumbnail burst now and then.
async fn produce(broker: &dyn Broker, stop: &CancellationToken) {
    let mut tick: u64 = 0;
    let mut order_id: u64 = 10_000;
    while !stop.is_cancelled() {
        tick += 1;
        // A four-minute swell between half and one and a half times the base rate.
        let swell = 1.0 + 0.5 * ((tick as f64) * std::f64::consts::TAU / 960.0).sin();
        let publish = |queue: &'static str, kwargs: Value| async move {
            let Value::Object(kwargs) = kwargs else {
                return;
            };
            if let Err(e) =
                taskdeck_worker::publish(broker, queue, kwargs, &PublishOptions::default()).await
            {
                tracing::warn!(queue, error = %e, "demo producer could not publish");
            }
        };
        if fastrand::f64() < 0.2 * swell {
            order_id += 1;
            publish(
                "orders",
                json!({
                    "order_id": order_id,
                    "customer": format!("customer-{:04}", fastrand::u32(1..2_000)),
                    "amount": (fastrand::f64() * 400.0 * 100.0).round() / 100.0,
                    "items": fastrand::u8(1..6),
                }),
            )
            .await;
        }
        if fastrand::f64() < 0.1 * swell {
            let templates = ["welcome", "receipt", "password_reset", "shipping_update"];
            publish(
                "emails",
                json!({
                    "to": format!("user{}@example.com", fastrand::u32(1..5_000)),
                    "template": templates[fastrand::usize(..templates.len())],
                }),
            )
            .await;
        }
        // Every ~45 s a user uploads an album: a burst of thumbnails.
        let burst = if fastrand::f64() < 1.0 / 180.0 {
            fastrand::usize(20..60)
        } else {
            usize::from(fastrand::f64() < 0.1)
        };
        for _ in 0..burst {
            publish(
                "thumbnails",
                json!({
                    "image": format!("uploads/{}.jpg", taskdeck_worker::message::new_task_id()),
                    "width": ([128, 256, 512])[fastrand::usize(..3)],
                }),
            )
            .await;
        }
        if fastrand::f64() < 0.012 {
            let kinds = ["sales", "inventory", "churn", "payouts"];
            publish(
                "reports",
                json!({
                    "kind": kinds[fastrand::usize(..kinds.len())],
                    "period": "2026-11",
                    // About one report in ten scans far too much and runs away.
                    "rows": if fastrand::f64() < 0.1 { 50_000_000 } else { fastrand::u32(10_000..400_000) },
                }),
            )
            .await;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {},
            _ = stop.cancelled() => {},
        }
    }
}

async fn work(millis: std::ops::Range<u64>) {
    tokio::time::sleep(Duration::from_millis(fastrand::u64(millis))).await;
}

#[derive(Deserialize)]
struct Order {
    order_id: u64,
    amount: f64,
    items: u8,
}

async fn process_order(_ctx: taskdeck_worker::TaskContext, o: Order) -> Result<Value, TaskError> {
    work(20..120).await;
    match fastrand::u32(0..100) {
        0 | 1 => Err(TaskError::fatal(
            "PaymentDeclined",
            format!("card declined for order {} ({:.2} EUR)", o.order_id, o.amount),
        )),
        2 => Err(TaskError::new(
            "InventoryError",
            format!("item {} of order {} is out of stock", o.items, o.order_id),
        )
        .with_traceback(format!(
            "inventory::reserve(order={})\n  warehouse::lock_shelf(shelf=B{})\n    timeout after 80 ms",
            o.order_id,
            o.items
        ))),
        _ => Ok(json!({"order_id": o.order_id, "status": "paid", "charged": o.amount})),
    }
}

#[derive(Deserialize)]
struct Email {
    to: String,
    template: String,
}

async fn send_email(ctx: taskdeck_worker::TaskContext, e: Email) -> Result<Value, TaskError> {
    work(100..600).await;
    if e.to.starts_with("user13") {
        return Err(TaskError::fatal(
            "InvalidAddress",
            format!("mailbox {} does not exist", e.to),
        ));
    }
    // The SMTP relay is flaky: first attempts fail now and then, retries mostly succeed.
    if fastrand::f64() < 0.12 / ctx.attempt as f64 {
        return Err(TaskError::new(
            "SMTPTimeout",
            "smtp.example.com:587 did not answer within 2 s",
        ));
    }
    Ok(
        json!({"to": e.to, "template": e.template, "message_id": taskdeck_worker::message::new_task_id()}),
    )
}

#[derive(Deserialize)]
struct Image {
    image: String,
    width: u32,
}

async fn resize_image(_ctx: taskdeck_worker::TaskContext, i: Image) -> Result<Value, TaskError> {
    work(30..300).await;
    if fastrand::u32(0..50) == 0 {
        return Err(TaskError::fatal(
            "ImageDecodeError",
            format!("{}: truncated JPEG data", i.image),
        ));
    }
    Ok(
        json!({"thumbnail": i.image.replace(".jpg", &format!("_{}.webp", i.width)), "bytes": fastrand::u32(4_000..60_000)}),
    )
}

#[derive(Deserialize)]
struct Report {
    kind: String,
    rows: u64,
}

async fn build_report(ctx: taskdeck_worker::TaskContext, r: Report) -> Result<Value, TaskError> {
    // About 50,000 rows a second: a runaway report runs for a quarter of an hour unless killed.
    let secs = (r.rows as f64 / 50_000.0).min(900.0);
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {},
        _ = ctx.cancelled() => return Err(TaskError::fatal("Cancelled", "report cancelled")),
    }
    Ok(
        json!({"kind": r.kind, "rows": r.rows, "file": format!("reports/{}-{}.csv", r.kind, ctx.task_id)}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Keeps every record the fleet sends, parsed as taskdeck parses them.
    #[derive(Default)]
    struct Collect(Mutex<Vec<TaskEvent>>);

    #[async_trait::async_trait]
    impl taskdeck_worker::EventSink for Collect {
        async fn send(&self, events: &[String]) -> Result<(), String> {
            let mut all = self.0.lock().unwrap();
            for e in events {
                all.push(TaskEvent::from_json_str(e).map_err(|e| e.to_string())?);
            }
            Ok(())
        }
    }

    impl Collect {
        fn of(&self, task_id: &str) -> Vec<TaskEvent> {
            let all = self.0.lock().unwrap();
            all.iter()
                .filter(|e| e.task_id == task_id)
                .cloned()
                .collect()
        }
    }

    #[tokio::test]
    async fn the_demo_records_tasks_its_in_process_queues_lose_at_exit_as_revoked() {
        let broker = MemoryBroker::new();
        let sink = Arc::new(Collect::default());
        // A runaway report (15 minutes) that is running when the fleet stops.
        let kwargs = json!({"kind": "sales", "period": "2026-11", "rows": 50_000_000});
        let long = taskdeck_worker::publish(
            &broker,
            "reports",
            kwargs.as_object().unwrap().clone(),
            &PublishOptions::default(),
        )
        .await
        .unwrap();
        let (emitter, flushed) = Emitter::start(sink.clone());
        let stop = CancellationToken::new();
        let fleet = tokio::spawn(run(Arc::new(broker.clone()), emitter.clone(), stop.clone()));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !sink
            .of(&long)
            .iter()
            .any(|e| e.state == Some(TaskState::Running))
        {
            assert!(std::time::Instant::now() < deadline, "the report never ran");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.cancel();
        fleet.await.unwrap();
        let discarded = discard(&broker, &emitter).await;
        drop(emitter);
        flushed.await.unwrap();
        assert!(discarded >= 1, "the given-back report at least");
        let last = sink.of(&long).pop().unwrap();
        assert_eq!(last.state, Some(TaskState::Revoked), "{last:?}");
        assert_eq!(last.exception_type.as_deref(), Some("Discarded"));
        for q in QUEUES {
            assert_eq!(broker.waiting(&Queue::plain(q)).await.unwrap(), 0);
        }
    }
}
