//! The dashboard's broker reads and writes, the same on both buses: the in-process broker, and
//! funboost's keys in a real Redis (TEST_REDIS_URL, set by `make test`).

use super::{with_priority, Dashboard, Moved, Placement, Target};
use redis::AsyncCommands;
use serde_json::json;
use taskdeck_worker::broker::redis::{unack_key, unack_registry};
use taskdeck_worker::{Broker, Controller, Layout, MemoryBroker, Queue, RedisBroker};

/// The test Redis, database 7 (funboost's).
fn url() -> String {
    let base = std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL (make test sets it)");
    let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
    format!("{server}/7")
}

async fn conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A queue name no other test (or earlier run) uses.
fn queue(name: &str) -> String {
    format!("{name}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A message as funboost's publisher writes it.
fn funboost_message(i: usize) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let t = taskdeck_worker::host::now();
    format!(r#"{{"x":{i},"extra":{{"task_id":"{id}","publish_time":{t:.4}}}}}"#)
}

/// A funboost message with this task id and (when given) priority, as its publishers write it
/// for `layout`.
fn message_with_priority(id: &str, layout: Layout, priority: Option<f64>) -> String {
    let raw = serde_json::json!({"id": id, "extra": {"task_id": id}}).to_string();
    match priority {
        Some(p) => with_priority(&raw, layout, p).unwrap(),
        None => raw,
    }
}

/// What the broker holds waiting in `queue`, as task ids in the order they would be taken.
async fn waiting_ids(broker: &dyn Dashboard, queue: &Target) -> Vec<String> {
    broker
        .peek_waiting(queue, 0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, raw)| {
            serde_json::from_str::<serde_json::Value>(&raw).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Browsing, moving and deleting waiting messages, the same on every broker: priority levels
/// are read highest first, pages cross from one level's key to the next, a deleted message is
/// gone for good and a second delete finds nothing.
async fn browse_move_and_delete_waiting<B: Dashboard + Broker>(broker: &B, name: &str) {
    let levels = Target::of(
        &format!("{name}_levels"),
        Some(
            &json!({"broker_kind": "REDIS_PRIORITY", "broker_exclusive_config": {"x-max-priority": 4}}),
        ),
    );
    let layout = levels.lists().unwrap().layout;
    for (id, p) in [("a", None), ("b", None), ("c", Some(2.0)), ("d", Some(9.0))] {
        Dashboard::publish_to(broker, &levels, &message_with_priority(id, layout, p))
            .await
            .unwrap();
    }
    assert_eq!(waiting_ids(broker, &levels).await, ["d", "c", "a", "b"]);
    let page = broker.peek_waiting(&levels, 1, 2).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [format!("{}:2", levels.name), levels.name.clone()],
        "{page:?}"
    );
    assert!(page[1].1.contains(r#""id":"a""#), "{page:?}");
    assert_eq!(broker.peek_waiting(&levels, 3, 5).await.unwrap().len(), 1);
    assert!(broker.peek_waiting(&levels, 4, 5).await.unwrap().is_empty());

    assert!(matches!(
        broker.move_waiting(&levels, "a", Placement::Out).await.unwrap(),
        Moved::Done(raw) if raw.contains(r#""id":"a""#)
    ));
    assert_eq!(
        broker
            .move_waiting(&levels, "a", Placement::Out)
            .await
            .unwrap(),
        Moved::NotWaiting,
        "already gone"
    );
    assert!(matches!(
        broker
            .move_waiting(&levels, "b", Placement::Front)
            .await
            .unwrap(),
        Moved::Done(_)
    ));
    assert_eq!(waiting_ids(broker, &levels).await, ["b", "d", "c"]);
    assert_eq!(Dashboard::count_waiting(broker, &levels).await.unwrap(), 3);

    let zset = Target::of(
        &format!("{name}_zset"),
        Some(&json!({"broker_kind": "REDIS_ZSET_PRIORITY"})),
    );
    for (id, p) in [("z1", 1.0), ("z5", 5.0), ("z3", 3.0)] {
        Dashboard::publish_to(
            broker,
            &zset,
            &message_with_priority(id, Layout::Zset, Some(p)),
        )
        .await
        .unwrap();
    }
    assert_eq!(waiting_ids(broker, &zset).await, ["z5", "z3", "z1"]);
    assert!(matches!(
        broker
            .move_waiting(&zset, "z1", Placement::Front)
            .await
            .unwrap(),
        Moved::Done(_)
    ));
    assert!(matches!(
        broker
            .move_waiting(&zset, "z3", Placement::Out)
            .await
            .unwrap(),
        Moved::Done(_)
    ));
    assert_eq!(waiting_ids(broker, &zset).await, ["z1", "z5"]);
    assert!(matches!(
        broker
            .move_waiting(&zset, "z5", Placement::Priority(0.5))
            .await
            .unwrap(),
        Moved::Done(_)
    ));
    assert_eq!(waiting_ids(broker, &zset).await, ["z1", "z5"]);
    let top = broker.peek_waiting(&zset, 0, 1).await.unwrap();
    assert!(
        top[0].1.contains(r#""priority":6"#),
        "above the old top score: {top:?}"
    );
}

#[tokio::test]
async fn waiting_messages_move_to_the_front_or_to_another_priority() {
    let broker = MemoryBroker::new();
    let plain = Queue::plain("q");
    let plain_t = Target::of("q", Some(&json!({"broker_kind": "REDIS_ACK_ABLE"})));
    for i in 0..3 {
        let raw = json!({"i": i, "extra": {"task_id": format!("t{i}")}}).to_string();
        broker.publish(&plain, &raw).await.unwrap();
    }
    assert!(matches!(
        broker
            .move_waiting(&plain_t, "t2", Placement::Front)
            .await
            .unwrap(),
        Moved::Done(_)
    ));
    let pulled = broker.pull(&plain, "c", 3).await.unwrap();
    assert!(pulled[0].contains("\"t2\""), "{pulled:?}");
    assert_eq!(
        broker
            .move_waiting(&plain_t, "t2", Placement::Front)
            .await
            .unwrap(),
        Moved::NotWaiting,
        "in flight, not waiting"
    );
    broker
        .publish(&plain, &json!({"extra": {"task_id": "t9"}}).to_string())
        .await
        .unwrap();
    assert_eq!(
        broker
            .move_waiting(&plain_t, "t9", Placement::Priority(2.0))
            .await
            .unwrap(),
        Moved::NoPriorities,
        "a plain queue has no priorities"
    );
    assert_eq!(
        broker.waiting(&plain).await.unwrap(),
        1,
        "a refused move loses nothing"
    );

    let levels = Queue::with_priorities("p", 4);
    let levels_t = Target::of(
        "p",
        Some(
            &json!({"broker_kind": "REDIS_PRIORITY", "broker_exclusive_config": {"x-max-priority": 4}}),
        ),
    );
    broker
        .publish(&levels, &json!({"extra": {"task_id": "a"}}).to_string())
        .await
        .unwrap();
    broker
        .publish(&levels, &json!({"extra": {"task_id": "b"}}).to_string())
        .await
        .unwrap();
    assert!(matches!(
        broker
            .move_waiting(&levels_t, "b", Placement::Priority(3.0))
            .await
            .unwrap(),
        Moved::Done(_)
    ));
    let first = broker.pull(&levels, "c", 1).await.unwrap();
    assert!(
        first[0].contains("\"b\"") && first[0].contains("\"priroty\":3"),
        "{first:?}"
    );
}

#[tokio::test]
async fn waiting_messages_are_browsed_moved_and_deleted() {
    browse_move_and_delete_waiting(&MemoryBroker::new(), "q").await;
}

#[tokio::test]
async fn reads_every_queues_backlog_in_flight_pause_and_project_from_funboosts_keys() {
    let (lists, zset) = (queue("facts_lists"), queue("facts_zset"));
    let project = queue("shop");
    let mut c = conn().await;
    // Published in 2023: the oldest waiting message, at the head of the plain list.
    let old = r#"{"x":1,"secs":0,"extra":{"task_id":"t-old","publish_time":1700000000.5}}"#;
    let newer = funboost_message(2);
    let held = funboost_message(3);
    let params =
        r#"{"broker_kind":"REDIS_PRIORITY","broker_exclusive_config":{"x-max-priority":2}}"#;
    let mut pipe = redis::pipe();
    pipe.sadd("funboost_all_queue_names", &lists)
        .sadd("funboost_all_queue_names", &zset)
        .hset("funboost_queue__consumer_parmas", &lists, params)
        .hset(
            "funboost_queue__consumer_parmas",
            &zset,
            r#"{"broker_kind":"REDIS_ZSET_PRIORITY"}"#,
        )
        .rpush(format!("{lists}:2"), &newer)
        .rpush(&lists, old)
        .sadd(unack_registry(&lists), unack_key(&lists, "c1"))
        .zadd(unack_key(&lists, "c1"), &held, 1.0)
        .zadd(&zset, &newer, 5.0)
        .hset("funboost_pause_flag", &zset, "1")
        .sadd("funboost_all_project_names", &project)
        .sadd(format!("funboost.project_name:{project}"), &lists);
    pipe.query_async::<()>(&mut c).await.unwrap();
    let broker = RedisBroker::new(&url()).unwrap();
    let desired = protocol::control::Desired {
        paused: true,
        ..Default::default()
    };
    broker.set_desired(&lists, &desired).await.unwrap();

    let seen = broker.queues().await.unwrap();
    assert!(seen.now > 1.7e9);
    let find = |q: &str| seen.queues.iter().find(|b| b.queue == q).unwrap().clone();
    let l = find(&lists);
    assert_eq!(l.broker_kind.as_deref(), Some("REDIS_PRIORITY"));
    assert_eq!((l.waiting, l.in_flight), (Some(2), Some(1)), "{l:?}");
    let oldest = l.oldest_waiting.unwrap();
    assert_eq!(
        oldest, 1700000000.5,
        "the head of the plain list is the oldest"
    );
    assert_eq!(l.project.as_deref(), Some(project.as_str()));
    assert!(!l.paused_flag);
    assert!(l.desired.paused && l.desired.version >= 1);
    let z = find(&zset);
    assert_eq!(z.broker_kind.as_deref(), Some("REDIS_ZSET_PRIORITY"));
    assert_eq!((z.waiting, z.in_flight), (Some(1), Some(0)));
    assert!(z.paused_flag && z.project.is_none());
    assert_eq!(z.oldest_waiting, None, "a priority zset has no age order");
}

#[tokio::test]
async fn waiting_messages_are_browsed_moved_and_deleted_in_funboosts_keys() {
    let broker = RedisBroker::new(&url()).unwrap();
    browse_move_and_delete_waiting(&broker, &queue("browse")).await;
}

/// Registers `name` in funboost's registries with these consumer parameters.
async fn register(
    c: &mut redis::aio::MultiplexedConnection,
    name: &str,
    params: serde_json::Value,
) {
    let mut pipe = redis::pipe();
    pipe.sadd("funboost_all_queue_names", name).hset(
        "funboost_queue__consumer_parmas",
        name,
        params.to_string(),
    );
    pipe.query_async::<()>(c).await.unwrap();
}

/// A mixed fleet in one database: a list queue, a stream queue, a RabbitMQ queue whose workers
/// report its backlog, and a queue whose key has another type than its kind keeps — each is
/// read its own way, and the odd one only notes its trouble in its own row.
#[tokio::test]
async fn every_kind_is_read_its_own_way_and_one_odd_key_fails_only_its_own_row() {
    let (list, stream, rabbit, odd) = (
        queue("kinds_list"),
        queue("kinds_stream"),
        queue("kinds_rabbit"),
        queue("kinds_odd"),
    );
    let mut c = conn().await;
    register(&mut c, &list, json!({"broker_kind": "REDIS_ACK_ABLE"})).await;
    register(&mut c, &stream, json!({"broker_kind": "REDIS_STREAM"})).await;
    register(
        &mut c,
        &rabbit,
        json!({"broker_kind": "RABBITMQ_AMQPSTORM"}),
    )
    .await;
    register(&mut c, &odd, json!({"broker_kind": "REDIS_ACK_ABLE"})).await;
    let broker = RedisBroker::new(&url()).unwrap();
    let list_t = Target::of(&list, Some(&json!({"broker_kind": "REDIS_ACK_ABLE"})));
    for i in 0..3 {
        broker
            .publish_to(&list_t, &funboost_message(i))
            .await
            .unwrap();
    }
    let stream_t = Target::of(&stream, Some(&json!({"broker_kind": "REDIS_STREAM"})));
    let mut ids = Vec::new();
    for i in 0..4 {
        let raw = funboost_message(i);
        ids.push(
            serde_json::from_str::<serde_json::Value>(&raw).unwrap()["extra"]["task_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        broker.publish_to(&stream_t, &raw).await.unwrap();
    }
    // A funboost consumer has taken the first entry: pending, not waiting.
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("funboost_group")
        .arg("0")
        .query_async::<()>(&mut c)
        .await
        .unwrap();
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("funboost_group")
        .arg("c1")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async::<redis::Value>(&mut c)
        .await
        .unwrap();
    let now = taskdeck_worker::host::now();
    let report =
        json!({"msg_num_in_broker": 17, "last_get_msg_num_ts": now - 40.0, "report_ts": now - 2.0});
    let _: () = c
        .hset("funboost_queue__msg_count_map", &rabbit, report.to_string())
        .await
        .unwrap();
    redis::cmd("XADD")
        .arg(&odd)
        .arg("*")
        .arg("")
        .arg("{}")
        .query_async::<()>(&mut c)
        .await
        .unwrap();

    let seen = broker.queues().await.unwrap();
    let row = |q: &str| seen.queues.iter().find(|b| b.queue == q).unwrap().clone();
    let l = row(&list);
    assert_eq!((l.waiting, l.in_flight, l.note), (Some(3), Some(0), None));
    let s = row(&stream);
    assert_eq!(
        (s.broker_kind.as_deref(), s.waiting, s.in_flight),
        (Some("REDIS_STREAM"), Some(3), Some(1)),
        "{s:?}"
    );
    assert!(
        s.oldest_waiting.is_some(),
        "the next undelivered entry's publish time"
    );
    let r = row(&rabbit);
    assert_eq!(
        (r.waiting, r.in_flight, r.backlog),
        (
            Some(17),
            None,
            protocol::overview::Backlog::Reported { at: now - 40.0 }
        )
    );
    let o = row(&odd);
    assert_eq!(o.waiting, None);
    assert!(o.note.unwrap().contains("is a stream, not the list"));

    // The stream's waiting entries: browsed in delivery order, one deleted, the rest cleared;
    // the pending one is left to its consumer.
    let page = broker.peek_waiting(&stream_t, 0, 10).await.unwrap();
    assert_eq!(page.len(), 3);
    assert!(page[0].1.contains(&ids[1]), "{page:?}");
    assert_eq!(
        broker
            .move_waiting(&stream_t, &ids[0], Placement::Out)
            .await
            .unwrap(),
        Moved::NotWaiting,
        "delivered: in flight, not waiting"
    );
    assert!(matches!(
        broker.move_waiting(&stream_t, &ids[2], Placement::Out).await.unwrap(),
        Moved::Done(raw) if raw.contains(&ids[2])
    ));
    assert_eq!(
        broker
            .move_waiting(&stream_t, &ids[1], Placement::Front)
            .await
            .unwrap(),
        Moved::NoPriorities
    );
    assert_eq!(broker.clear(&stream_t).await.unwrap(), 2);
    assert_eq!(broker.count_waiting(&stream_t).await.unwrap(), 0);
    let pending: (u64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(&stream)
        .arg("funboost_group")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(pending.0, 1, "the consumer's entry stays");
}
