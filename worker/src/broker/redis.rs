//! funboost's REDIS_ACK_ABLE broker, key for key (protocol notes §2.1–2.10): the queue is a
//! list; a pull moves messages atomically into the zset `<queue>__unack_id_<consumer>`
//! (score = pull time), registered in `funboost_unack_registry:<queue>`; an ack is a `ZREM` of
//! the exact string; heartbeats go to funboost's three sets; messages of consumers without a
//! heartbeat for 25 s are pushed back under funboost's own lock key. Use the Redis database
//! funboost uses (its `REDIS_DB`, 7 by default): `redis://host:6379/7`. The same holds for
//! funboost's priority layouts: REDIS_PRIORITY's lists `q:N` … `q` and REDIS_ZSET_PRIORITY's
//! zset `q` (see [`Layout`]).

use super::{Broker, BrokerError, Controller, HeartbeatReply, Layout, Queue, PURGE_AFTER};
use crate::heartbeat::Heartbeat;
use async_trait::async_trait;
use futures_util::StreamExt;
use protocol::control::Desired;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;

/// Every queue funboost knows (a set).
pub const ALL_QUEUES: &str = "funboost_all_queue_names";
/// Every host running funboost consumers (a set).
pub const ALL_IPS: &str = "funboost_all_ips";
/// Each queue's consumer parameters as JSON (a hash; funboost's spelling).
pub const QUEUE_PARAMS: &str = "funboost_queue__consumer_parmas";
/// Each queue's pause flag, `1` or `0` (a hash).
pub const PAUSE_FLAG: &str = "funboost_pause_flag";
/// Each queue's waiting-message count as its consumers last sampled it, as JSON (a hash).
pub const MSG_COUNT_MAP: &str = "funboost_queue__msg_count_map";
/// Every funboost project (a set).
pub const ALL_PROJECTS: &str = "funboost_all_project_names";

/// The queues of a funboost project.
pub fn project_key(project: &str) -> String {
    format!("funboost.project_name:{project}")
}

/// A consumer's in-flight set: a zset of the messages it pulled, scored by pull time.
pub fn unack_key(queue: &str, consumer: &str) -> String {
    format!("{queue}__unack_id_{consumer}")
}
/// The set of a queue's in-flight sets.
pub fn unack_registry(queue: &str) -> String {
    format!("funboost_unack_registry:{queue}")
}
/// A queue's consumers as `identification&&timestamp` strings (a set).
pub fn heartbeat_str(queue: &str) -> String {
    format!("funboost_hearbeat_queue__str:{queue}")
}
/// A queue's consumers' full heartbeats as JSON (a set).
pub fn heartbeat_dict(queue: &str) -> String {
    format!("funboost_hearbeat_queue__dict:{queue}")
}
/// The full heartbeats of one host's consumers as JSON (a set).
pub fn heartbeat_server(ip: &str) -> String {
    format!("funboost_hearbeat_server__dict:{ip}")
}
/// A queue's kill requests: task id → request time (a hash).
pub fn kill_hash(queue: &str) -> String {
    format!("funboost_kill_task_hash:{queue}")
}
/// taskdeck's desired state of a queue: a hash (version, paused, qps, concurrency).
pub fn desired_key(queue: &str) -> String {
    format!("taskdeck:desired:{queue}")
}
/// Where a change of the desired state is announced (the payload is the new version).
pub fn control_channel(queue: &str) -> String {
    format!("taskdeck:control:{queue}")
}
fn requeue_lock(queue: &str) -> String {
    format!("fsdf_lock__requeue_tasks_which_unconfirmed:{queue}")
}

/// LRANGE + LTRIM + ZADD in one step, as funboost's pull script does, over the queue's lists
/// in priority order (KEYS[1] is the in-flight set, KEYS[2..] the lists).
static PULL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local want = tonumber(ARGV[1])
local taken = {}
for k = 2, #KEYS do
  local left = want - #taken
  if left <= 0 then break end
  local msgs = redis.call('LRANGE', KEYS[k], 0, left - 1)
  if #msgs > 0 then
    redis.call('LTRIM', KEYS[k], #msgs, -1)
    for _, m in ipairs(msgs) do
      redis.call('ZADD', KEYS[1], ARGV[2], m)
      taken[#taken + 1] = m
    end
  end
end
return taken",
    )
});

/// funboost's REDIS_ZSET_PRIORITY pull: the `ARGV[1]` highest scores of the zset KEYS[2]
/// move into the in-flight set KEYS[1].
static PULL_ZSET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local msgs = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
for _, m in ipairs(msgs) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], ARGV[2], m)
end
return msgs",
    )
});

/// Back to the queue (the tail of its list, or its zset with score ARGV[2] when given) only if
/// this consumer still held it: a message is never duplicated by a requeue racing an ack or
/// another requeue.
static REQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  if ARGV[2] == '' then redis.call('RPUSH', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
  return 1
end
return 0",
    )
});

/// Moves `raw` from the in-flight set `unack` back to where it waits in `queue`.
async fn requeue_from(
    conn: &mut ConnectionManager,
    queue: &Queue,
    unack: &str,
    raw: &str,
) -> Result<i64, BrokerError> {
    Ok(REQUEUE
        .key(queue.list_of(raw))
        .key(unack)
        .arg(raw)
        .arg(
            queue
                .score_of(raw)
                .map(|s| s.to_string())
                .unwrap_or_default(),
        )
        .invoke_async(conn)
        .await?)
}

/// A consumer that stopped cleanly holds nothing: its in-flight set leaves the registry.
static DROP_EMPTY_UNACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[2]) redis.call('SREM', KEYS[1], KEYS[2]) end",
    )
});

/// Next version, new fields and the announcement in one step (ARGV: paused, qps, concurrency;
/// an empty string is "not set").
static SET_DESIRED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'paused', ARGV[1], 'qps', ARGV[2], 'concurrency', ARGV[3])
redis.call('PUBLISH', KEYS[2], v)
return v",
    )
});

/// Reads the `taskdeck:desired:<queue>` hash; missing or empty fields are "not set".
pub fn desired_of(fields: &HashMap<String, String>) -> Desired {
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty());
    Desired {
        version: get("version").and_then(|v| v.parse().ok()).unwrap_or(0),
        paused: get("paused").is_some_and(|v| v == "1"),
        qps: get("qps").and_then(|v| v.parse().ok()),
        concurrency: get("concurrency").and_then(|v| v.parse().ok()),
    }
}

/// funboost's Redis layout, as consumer and as controller; clones share one connection.
#[derive(Clone)]
pub struct RedisBroker {
    conn: ConnectionManager,
    client: redis::Client,
}

impl RedisBroker {
    /// Connects lazily: a worker started while Redis is down begins consuming once it is up.
    pub fn new(url: &str) -> Result<RedisBroker, BrokerError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_max_delay(Duration::from_secs(2));
        Ok(RedisBroker {
            conn: ConnectionManager::new_lazy_with_config(client.clone(), config)?,
            client,
        })
    }

    /// The connection, for reads of funboost's keys beyond a consumer's (a dashboard's).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Redis's own clock: funboost stamps heartbeats with it, so hosts' clocks do not matter.
    pub async fn redis_time(&self) -> Result<f64, BrokerError> {
        let (s, us): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(s as f64 + us as f64 / 1e6)
    }

    /// Consumer identifications whose `…__str` heartbeat is fresher than funboost's purge age.
    async fn alive(&self, queue: &str, t: f64) -> Result<Vec<String>, BrokerError> {
        let members: Vec<String> = self.conn.clone().smembers(heartbeat_str(queue)).await?;
        Ok(members
            .iter()
            .filter_map(|m| m.rsplit_once("&&"))
            .filter(|(_, ts)| ts.parse::<f64>().is_ok_and(|ts| t - ts < PURGE_AFTER))
            .map(|(id, _)| id.to_owned())
            .collect())
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn register(
        &self,
        hb: &Heartbeat,
        params: &serde_json::Value,
    ) -> Result<(), BrokerError> {
        let mut pipe = redis::pipe();
        pipe.sadd(ALL_QUEUES, &hb.queue_name)
            .ignore()
            .sadd(ALL_IPS, &hb.computer_ip)
            .ignore()
            .hset(QUEUE_PARAMS, &hb.queue_name, params.to_string())
            .ignore()
            .sadd(
                unack_registry(&hb.queue_name),
                unack_key(&hb.queue_name, &hb.consumer_identification),
            )
            .ignore();
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    async fn pull(
        &self,
        queue: &Queue,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<String>, BrokerError> {
        let now = crate::host::now();
        let mut call = match queue.layout {
            Layout::Lists { .. } => PULL.key(unack_key(&queue.name, consumer)),
            Layout::Zset => PULL_ZSET.key(unack_key(&queue.name, consumer)),
        };
        for list in queue.lists() {
            call.key(list);
        }
        Ok(call
            .arg(max)
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await?)
    }

    async fn ack(&self, queue: &str, consumer: &str, raws: &[String]) -> Result<(), BrokerError> {
        if raws.is_empty() {
            return Ok(());
        }
        self.conn
            .clone()
            .zrem::<_, _, ()>(unack_key(queue, consumer), raws)
            .await?;
        Ok(())
    }

    async fn requeue(&self, queue: &Queue, consumer: &str, raw: &str) -> Result<(), BrokerError> {
        requeue_from(
            &mut self.conn.clone(),
            queue,
            &unack_key(&queue.name, consumer),
            raw,
        )
        .await?;
        Ok(())
    }

    async fn publish(&self, queue: &Queue, raw: &str) -> Result<(), BrokerError> {
        let mut conn = self.conn.clone();
        match queue.score_of(raw) {
            None => conn.rpush::<_, _, ()>(queue.list_of(raw), raw).await?,
            Some(score) => conn.zadd::<_, _, _, ()>(&queue.name, raw, score).await?,
        }
        Ok(())
    }

    async fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply, BrokerError> {
        let t = self.redis_time().await?;
        let mut hb = hb.clone();
        hb.hearbeat_timestamp = t;
        hb.hearbeat_datetime_str = crate::host::local_time(t);
        let mut conn = self.conn.clone();
        // Purge members that are stale or are this consumer's previous beat, then add.
        let str_key = heartbeat_str(&hb.queue_name);
        let members: Vec<String> = conn.smembers(&str_key).await?;
        let stale_str: Vec<&String> = members
            .iter()
            .filter(|m| match m.rsplit_once("&&") {
                Some((id, ts)) => {
                    id == hb.consumer_identification
                        || ts.parse::<f64>().map_or(true, |ts| t - ts > PURGE_AFTER)
                }
                None => true,
            })
            .collect();
        let mut pipe = redis::pipe();
        if !stale_str.is_empty() {
            pipe.srem(&str_key, stale_str).ignore();
        }
        pipe.sadd(&str_key, format!("{}&&{t}", hb.consumer_identification))
            .ignore();
        let json = serde_json::to_string(&hb).map_err(|e| BrokerError::Other(e.to_string()))?;
        for key in [
            heartbeat_dict(&hb.queue_name),
            heartbeat_server(&hb.computer_ip),
        ] {
            let members: Vec<String> = conn.smembers(&key).await?;
            let stale: Vec<&String> = members
                .iter()
                .filter(|m| match serde_json::from_str::<serde_json::Value>(m) {
                    Ok(v) => {
                        v.get("consumer_uuid").and_then(|u| u.as_str())
                            == Some(hb.consumer_uuid.as_str())
                            || v.get("hearbeat_timestamp")
                                .and_then(|x| x.as_f64())
                                .is_none_or(|ts| t - ts > PURGE_AFTER)
                    }
                    Err(_) => true,
                })
                .collect();
            if !stale.is_empty() {
                pipe.srem(&key, stale).ignore();
            }
            pipe.sadd(&key, &json).ignore();
        }
        let count = serde_json::json!({
            "msg_num_in_broker": hb.msg_num_in_broker,
            "last_get_msg_num_ts": t,
            "report_ts": t,
        });
        pipe.hset(MSG_COUNT_MAP, &hb.queue_name, count.to_string())
            .ignore();
        pipe.scard(&str_key);
        let (live,): (u64,) = pipe.query_async(&mut conn).await?;
        Ok(HeartbeatReply {
            live_consumers: live,
        })
    }

    async fn unregister(&self, hb: &Heartbeat) -> Result<(), BrokerError> {
        let mut conn = self.conn.clone();
        let str_key = heartbeat_str(&hb.queue_name);
        let members: Vec<String> = conn.smembers(&str_key).await?;
        let mine: Vec<&String> = members
            .iter()
            .filter(|m| {
                m.rsplit_once("&&")
                    .is_some_and(|(id, _)| id == hb.consumer_identification)
            })
            .collect();
        let mut pipe = redis::pipe();
        if !mine.is_empty() {
            pipe.srem(&str_key, mine).ignore();
        }
        for key in [
            heartbeat_dict(&hb.queue_name),
            heartbeat_server(&hb.computer_ip),
        ] {
            let members: Vec<String> = conn.smembers(&key).await?;
            let mine: Vec<&String> = members
                .iter()
                .filter(|m| {
                    serde_json::from_str::<serde_json::Value>(m)
                        .ok()
                        .and_then(|v| v.get("consumer_uuid")?.as_str().map(str::to_owned))
                        .as_deref()
                        == Some(hb.consumer_uuid.as_str())
                })
                .collect();
            if !mine.is_empty() {
                pipe.srem(&key, mine).ignore();
            }
        }
        pipe.query_async::<()>(&mut conn).await?;
        DROP_EMPTY_UNACK
            .key(unack_registry(&hb.queue_name))
            .key(unack_key(&hb.queue_name, &hb.consumer_identification))
            .invoke_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn paused(&self, queue: &str) -> Result<bool, BrokerError> {
        let flag: Option<String> = self.conn.clone().hget(PAUSE_FLAG, queue).await?;
        Ok(flag.is_some_and(|f| f.trim() == "1"))
    }

    async fn take_kills(
        &self,
        queue: &str,
        task_ids: &[String],
    ) -> Result<Vec<String>, BrokerError> {
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        let key = kill_hash(queue);
        let mut conn = self.conn.clone();
        let found: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&key)
            .arg(task_ids)
            .query_async(&mut conn)
            .await?;
        let hits: Vec<String> = task_ids
            .iter()
            .zip(found)
            .filter(|(_, v)| v.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        if !hits.is_empty() {
            conn.hdel::<_, _, ()>(&key, &hits).await?;
        }
        Ok(hits)
    }

    async fn requeue_orphans(&self, q: &Queue) -> Result<usize, BrokerError> {
        let queue = q.name.as_str();
        let mut conn = self.conn.clone();
        let locked: Option<String> = redis::cmd("SET")
            .arg(requeue_lock(queue))
            .arg(uuid::Uuid::new_v4().to_string())
            .arg("NX")
            .arg("EX")
            .arg(30)
            .query_async(&mut conn)
            .await?;
        if locked.is_none() {
            return Ok(0);
        }
        let t = self.redis_time().await?;
        let alive = self.alive(queue, t).await?;
        let registry = unack_registry(queue);
        let keys: Vec<String> = conn.smembers(&registry).await?;
        let prefix = format!("{queue}__unack_id_");
        let mut moved = 0;
        for key in keys {
            let Some(consumer) = key.strip_prefix(&prefix) else {
                continue;
            };
            if alive.iter().any(|a| a == consumer) {
                continue;
            }
            loop {
                let held: Vec<String> = conn.zrevrange(&key, 0, 1000).await?;
                if held.is_empty() {
                    break;
                }
                for raw in &held {
                    moved += requeue_from(&mut conn, q, &key, raw).await? as usize;
                }
            }
            let mut pipe = redis::pipe();
            pipe.del(&key).ignore().srem(&registry, &key).ignore();
            pipe.query_async::<()>(&mut conn).await?;
        }
        if moved > 0 {
            tracing::info!(queue, moved, "requeued messages held by stopped consumers");
        }
        Ok(moved)
    }

    async fn waiting(&self, queue: &Queue) -> Result<u64, BrokerError> {
        let mut pipe = redis::pipe();
        for list in queue.lists() {
            match queue.layout {
                Layout::Lists { .. } => pipe.llen(list),
                Layout::Zset => pipe.zcard(list),
            };
        }
        let lens: Vec<u64> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(lens.iter().sum())
    }

    async fn desired(&self, queue: &str) -> Result<Desired, BrokerError> {
        let fields: HashMap<String, String> = self.conn.clone().hgetall(desired_key(queue)).await?;
        Ok(desired_of(&fields))
    }

    async fn control_wakeups(&self, queue: &str) -> Result<watch::Receiver<u64>, BrokerError> {
        let (tx, rx) = watch::channel(0);
        let client = self.client.clone();
        let channel = control_channel(queue);
        // One subscription per consumer, re-established after Redis comes back; it ends when
        // the consumer drops the receiver.
        tokio::spawn(async move {
            loop {
                if let Ok(mut pubsub) = client.get_async_pubsub().await {
                    if pubsub.subscribe(&channel).await.is_ok() {
                        let mut messages = pubsub.on_message();
                        loop {
                            tokio::select! {
                                m = messages.next() => match m {
                                    Some(m) => {
                                        tx.send_replace(m.get_payload::<u64>().unwrap_or(0));
                                    }
                                    None => break,
                                },
                                _ = tx.closed() => return,
                            }
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }
}

#[async_trait]
impl Controller for RedisBroker {
    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), BrokerError> {
        // funboost's workers `int()` the value: exactly "1" or "0".
        self.conn
            .clone()
            .hset::<_, _, _, ()>(PAUSE_FLAG, queue, if paused { "1" } else { "0" })
            .await?;
        Ok(())
    }

    async fn request_kill(&self, queue: &str, task_id: &str) -> Result<(), BrokerError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.conn
            .clone()
            .hset::<_, _, _, ()>(kill_hash(queue), task_id, now.to_string())
            .await?;
        Ok(())
    }

    async fn set_desired(&self, queue: &str, desired: &Desired) -> Result<u64, BrokerError> {
        let text = |v: Option<String>| v.unwrap_or_default();
        Ok(SET_DESIRED
            .key(desired_key(queue))
            .key(control_channel(queue))
            .arg(if desired.paused { "1" } else { "0" })
            .arg(text(desired.qps.map(|q| q.to_string())))
            .arg(text(desired.concurrency.map(|c| c.to_string())))
            .invoke_async(&mut self.conn.clone())
            .await?)
    }
}
