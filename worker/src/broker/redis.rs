//! funboost's REDIS_ACK_ABLE broker, key for key (protocol notes §2.1–2.10): the queue is a
//! list; a pull moves messages atomically into the zset `<queue>__unack_id_<consumer>`
//! (score = pull time), registered in `funboost_unack_registry:<queue>`; an ack is a `ZREM` of
//! the exact string; heartbeats go to funboost's three sets; messages of consumers without a
//! heartbeat for 25 s are pushed back under funboost's own lock key. Use the Redis database
//! funboost uses (its `REDIS_DB`, 7 by default): `redis://host:6379/7`. The same holds for
//! funboost's priority layouts: REDIS_PRIORITY's lists `q:N` … `q` and REDIS_ZSET_PRIORITY's
//! zset `q` (see [`Layout`]).

use super::{
    with_priority, Broker, BrokerError, HeartbeatReply, Heartbeats, Layout, Placement, Queue,
    PURGE_AFTER, SCAN_WAITING,
};
use crate::heartbeat::Heartbeat;
use crate::message::Message;
use async_trait::async_trait;
use futures_util::StreamExt;
use protocol::control::Desired;
use protocol::overview::{BrokerQueue, BrokerQueues};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;

pub const ALL_QUEUES: &str = "funboost_all_queue_names";
pub const ALL_IPS: &str = "funboost_all_ips";
pub const QUEUE_PARAMS: &str = "funboost_queue__consumer_parmas";
pub const PAUSE_FLAG: &str = "funboost_pause_flag";
pub const MSG_COUNT_MAP: &str = "funboost_queue__msg_count_map";
pub const ALL_PROJECTS: &str = "funboost_all_project_names";

/// The queues of a funboost project.
pub fn project_key(project: &str) -> String {
    format!("funboost.project_name:{project}")
}

pub fn unack_key(queue: &str, consumer: &str) -> String {
    format!("{queue}__unack_id_{consumer}")
}
pub fn unack_registry(queue: &str) -> String {
    format!("funboost_unack_registry:{queue}")
}
pub fn heartbeat_str(queue: &str) -> String {
    format!("funboost_hearbeat_queue__str:{queue}")
}
pub fn heartbeat_dict(queue: &str) -> String {
    format!("funboost_hearbeat_queue__dict:{queue}")
}
pub fn heartbeat_server(ip: &str) -> String {
    format!("funboost_hearbeat_server__dict:{ip}")
}
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

/// Counts and deletes the queue's lists (or zset) in one step: nothing published in between is
/// lost uncounted.
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local n = 0
for _, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  if t == 'list' then n = n + redis.call('LLEN', k) elseif t == 'zset' then n = n + redis.call('ZCARD', k) end
  redis.call('DEL', k)
end
return n",
    )
});

/// Finds the waiting message of a task id (ARGV[1]) among the first ARGV[2] entries of each
/// list or zset (KEYS): `{key, raw}`, or nil.
static FIND_WAITING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local id, cap = ARGV[1], tonumber(ARGV[2])
for _, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  local from = 0
  while from < cap and (t == 'list' or t == 'zset') do
    local msgs
    if t == 'list' then msgs = redis.call('LRANGE', k, from, from + 999) else msgs = redis.call('ZREVRANGE', k, from, from + 999) end
    if #msgs == 0 then break end
    for _, m in ipairs(msgs) do
      if string.find(m, id, 1, true) then
        local ok, d = pcall(cjson.decode, m)
        if ok and type(d) == 'table' and type(d.extra) == 'table' and d.extra.task_id == id then return {k, m} end
      end
    end
    from = from + #msgs
  end
end
return nil",
    )
});

/// Takes ARGV[1] out of KEYS[1] (if still there) and puts ARGV[2] into KEYS[2]: `lpush`,
/// `rpush`, `zadd` with score ARGV[4], or nowhere (`out`). 1 when moved.
static MOVE_WAITING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local removed
if redis.call('TYPE', KEYS[1]).ok == 'zset' then removed = redis.call('ZREM', KEYS[1], ARGV[1]) else removed = redis.call('LREM', KEYS[1], 1, ARGV[1]) end
if removed == 0 then return 0 end
if ARGV[3] == 'lpush' then redis.call('LPUSH', KEYS[2], ARGV[2])
elseif ARGV[3] == 'rpush' then redis.call('RPUSH', KEYS[2], ARGV[2])
elseif ARGV[3] == 'zadd' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2]) end
return 1",
    )
});

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
fn desired_of(fields: &HashMap<String, String>) -> Desired {
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty());
    Desired {
        version: get("version").and_then(|v| v.parse().ok()).unwrap_or(0),
        paused: get("paused").is_some_and(|v| v == "1"),
        qps: get("qps").and_then(|v| v.parse().ok()),
        concurrency: get("concurrency").and_then(|v| v.parse().ok()),
    }
}

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

    /// Redis's own clock: funboost stamps heartbeats with it, so hosts' clocks do not matter.
    async fn redis_time(&self) -> Result<f64, BrokerError> {
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

    async fn move_waiting(
        &self,
        queue: &Queue,
        task_id: &str,
        to: Placement,
    ) -> Result<Option<String>, BrokerError> {
        let mut conn = self.conn.clone();
        let mut find = FIND_WAITING.prepare_invoke();
        for list in queue.lists() {
            find.key(list);
        }
        let found: Option<(String, String)> = find
            .arg(task_id)
            .arg(SCAN_WAITING)
            .invoke_async(&mut conn)
            .await?;
        let Some((from, raw)) = found else {
            return Ok(None);
        };
        let (new, to_key, mode, score) = match (to, queue.layout) {
            (Placement::Front, Layout::Lists { .. }) => {
                (raw.clone(), queue.lists()[0].clone(), "lpush", 0.0)
            }
            (Placement::Front, Layout::Zset) => {
                let top: Vec<(String, f64)> = conn.zrevrange_withscores(&from, 0, 0).await?;
                let score = top.first().map_or(0.0, |t| t.1) + 1.0;
                let new = with_priority(&raw, Layout::Zset, score).unwrap_or_else(|| raw.clone());
                (new, from.clone(), "zadd", score)
            }
            (Placement::Out, _) => (raw.clone(), from.clone(), "out", 0.0),
            (Placement::Priority(p), layout) => {
                let Some(new) = with_priority(&raw, layout, p) else {
                    return Err(BrokerError::NoPriorities);
                };
                let to_key = queue.list_of(&new);
                match layout {
                    Layout::Zset => (new, to_key, "zadd", p),
                    Layout::Lists { .. } => (new, to_key, "rpush", 0.0),
                }
            }
        };
        let moved: i64 = MOVE_WAITING
            .key(&from)
            .key(&to_key)
            .arg(&raw)
            .arg(&new)
            .arg(mode)
            .arg(score)
            .invoke_async(&mut conn)
            .await?;
        Ok((moved == 1).then_some(raw))
    }

    async fn peek_waiting(
        &self,
        queue: &Queue,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, BrokerError> {
        let mut conn = self.conn.clone();
        let keys = queue.lists();
        let zset = queue.layout == Layout::Zset;
        let mut sizes = redis::pipe();
        for k in &keys {
            if zset {
                sizes.zcard(k);
            } else {
                sizes.llen(k);
            }
        }
        let sizes: Vec<u64> = sizes.query_async(&mut conn).await?;
        // Each key's slice of [offset, offset + limit), read in one round trip.
        let mut reads = redis::pipe();
        let mut read_keys = Vec::new();
        let (mut skip, mut want) = (offset, limit);
        for (k, n) in keys.iter().zip(sizes) {
            if want == 0 {
                break;
            }
            if skip >= n {
                skip -= n;
                continue;
            }
            let (start, stop) = (skip as isize, (skip + want.min(n - skip)) as isize - 1);
            if zset {
                reads.zrevrange(k, start, stop);
            } else {
                reads.lrange(k, start, stop);
            }
            read_keys.push(k.clone());
            want -= want.min(n - skip);
            skip = 0;
        }
        if read_keys.is_empty() {
            return Ok(Vec::new());
        }
        let read: Vec<Vec<String>> = reads.query_async(&mut conn).await?;
        Ok(read_keys
            .into_iter()
            .zip(read)
            .flat_map(|(k, msgs)| msgs.into_iter().map(move |m| (k.clone(), m)))
            .collect())
    }

    async fn clear(&self, queue: &Queue) -> Result<u64, BrokerError> {
        let mut script = CLEAR.prepare_invoke();
        for list in queue.lists() {
            script.key(list);
        }
        Ok(script.invoke_async(&mut self.conn.clone()).await?)
    }

    async fn desired(&self, queue: &str) -> Result<Desired, BrokerError> {
        let fields: HashMap<String, String> = self.conn.clone().hgetall(desired_key(queue)).await?;
        Ok(desired_of(&fields))
    }

    async fn queues(&self) -> Result<BrokerQueues, BrokerError> {
        let conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.smembers(ALL_QUEUES)
            .hgetall(QUEUE_PARAMS)
            .hgetall(PAUSE_FLAG)
            .smembers(ALL_PROJECTS)
            .cmd("TIME");
        type First = (
            Vec<String>,
            HashMap<String, String>,
            HashMap<String, String>,
            Vec<String>,
            (u64, u64),
        );
        let (mut names, params, flags, projects, (s, us)): First =
            pipe.query_async(&mut conn.clone()).await?;
        let now = s as f64 + us as f64 / 1e6;
        names.sort();
        if names.is_empty() {
            return Ok(BrokerQueues {
                now,
                queues: Vec::new(),
            });
        }
        let layouts: Vec<Queue> = names
            .iter()
            .map(|q| {
                let p = params.get(q).and_then(|p| serde_json::from_str(p).ok());
                Queue::from_params(q, p.as_ref())
            })
            .collect();
        // Independent reads, pipelined on the one multiplexed connection at once.
        let project_sets = async {
            if projects.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = redis::pipe();
            for p in &projects {
                pipe.smembers(project_key(p));
            }
            pipe.query_async::<Vec<Vec<String>>>(&mut conn.clone())
                .await
        };
        let sizes = async {
            let mut pipe = redis::pipe();
            for q in &layouts {
                for key in q.lists() {
                    match q.layout {
                        Layout::Lists { .. } => pipe.llen(key),
                        Layout::Zset => pipe.zcard(key),
                    };
                }
            }
            pipe.query_async::<Vec<u64>>(&mut conn.clone()).await
        };
        // The head of a list is its oldest message; a priority zset is ordered by priority,
        // so it has no head to read.
        let heads = async {
            let mut pipe = redis::pipe();
            let mut any = false;
            for q in layouts.iter().filter(|q| q.layout != Layout::Zset) {
                for key in q.lists() {
                    pipe.lindex(key, 0);
                    any = true;
                }
            }
            // redis-rs refuses an empty pipeline.
            if !any {
                return Ok(Vec::new());
            }
            pipe.query_async::<Vec<Option<String>>>(&mut conn.clone())
                .await
        };
        let registries = async {
            let mut pipe = redis::pipe();
            for q in &names {
                pipe.smembers(unack_registry(q));
            }
            pipe.query_async::<Vec<Vec<String>>>(&mut conn.clone())
                .await
        };
        let desired = async {
            let mut pipe = redis::pipe();
            for q in &names {
                pipe.hgetall(desired_key(q));
            }
            pipe.query_async::<Vec<HashMap<String, String>>>(&mut conn.clone())
                .await
        };
        let (project_sets, sizes, heads, registered, desired) =
            tokio::try_join!(project_sets, sizes, heads, registries, desired)?;
        let unack_keys: Vec<&String> = registered.iter().flatten().collect();
        let held: Vec<u64> = if unack_keys.is_empty() {
            Vec::new()
        } else {
            let mut pipe = redis::pipe();
            for k in &unack_keys {
                pipe.zcard(*k);
            }
            pipe.query_async(&mut conn.clone()).await?
        };
        let mut project_of: HashMap<&str, &str> = HashMap::new();
        for (p, members) in projects.iter().zip(&project_sets) {
            for q in members {
                project_of.insert(q.as_str(), p.as_str());
            }
        }
        let (mut at, mut head_at, mut held_at) = (0, 0, 0);
        let mut queues = Vec::with_capacity(names.len());
        for (i, q) in layouts.iter().enumerate() {
            let keys = q.lists().len();
            let waiting = sizes[at..at + keys].iter().sum();
            at += keys;
            let heads = match q.layout {
                Layout::Lists { .. } => &heads[head_at..head_at + keys],
                Layout::Zset => &[][..],
            };
            head_at += heads.len();
            let oldest_waiting = heads
                .iter()
                .flatten()
                .filter_map(|raw| Message::parse(raw.clone(), now).ok())
                .map(|m| m.publish_time)
                .reduce(f64::min);
            let n = registered[i].len();
            let in_flight = held[held_at..held_at + n].iter().sum();
            held_at += n;
            queues.push(BrokerQueue {
                queue: q.name.clone(),
                project: project_of.get(q.name.as_str()).map(|p| (*p).to_owned()),
                broker_kind: Some(q.broker_kind().to_owned()),
                waiting,
                in_flight,
                oldest_waiting,
                paused_flag: flags.get(&q.name).is_some_and(|f| f.trim() == "1"),
                desired: desired_of(&desired[i]),
                params: params.get(&q.name).cloned(),
            });
        }
        Ok(BrokerQueues { now, queues })
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

    async fn heartbeats(&self) -> Result<Heartbeats, BrokerError> {
        let mut conn = self.conn.clone();
        let queues: Vec<String> = conn.smembers(ALL_QUEUES).await?;
        let mut sets: Vec<Vec<String>> = Vec::new();
        if !queues.is_empty() {
            let mut pipe = redis::pipe();
            for q in &queues {
                pipe.smembers(heartbeat_dict(q));
            }
            sets = pipe.query_async(&mut conn).await?;
        }
        let now = self.redis_time().await?;
        let mut beats = Vec::new();
        for (queue, members) in queues.iter().zip(sets) {
            for member in members {
                match Heartbeat::from_json(&member) {
                    Ok(hb) => beats.push(hb),
                    Err(e) => tracing::debug!(%queue, error = %e, "unreadable heartbeat skipped"),
                }
            }
        }
        Ok(Heartbeats { now, beats })
    }
}
