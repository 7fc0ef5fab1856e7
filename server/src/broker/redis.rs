//! The dashboard's side of funboost's Redis keys (protocol notes §2.1–2.10): every queue's
//! backlog, in-flight count, pause flag and project in a few pipelined round trips, the
//! heartbeats, and the waiting messages, found and moved by Lua scripts in one step each.

use super::{with_priority, Dashboard, Heartbeats, Moved, Placement, SCAN_WAITING};
use async_trait::async_trait;
use protocol::overview::{BrokerQueue, BrokerQueues};
use redis::{AsyncCommands, Script};
use std::collections::HashMap;
use std::sync::LazyLock;
use taskdeck_worker::broker::redis::{
    desired_key, desired_of, heartbeat_dict, project_key, unack_registry, ALL_PROJECTS, ALL_QUEUES,
    PAUSE_FLAG, QUEUE_PARAMS,
};
use taskdeck_worker::heartbeat::Heartbeat;
use taskdeck_worker::{BrokerError, Layout, Message, Queue, RedisBroker};

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

#[async_trait]
impl Dashboard for RedisBroker {
    async fn move_waiting(
        &self,
        queue: &Queue,
        task_id: &str,
        to: Placement,
    ) -> Result<Moved, BrokerError> {
        let mut conn = self.connection();
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
            return Ok(Moved::NotWaiting);
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
                    return Ok(Moved::NoPriorities);
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
        // Taken by a consumer between the search and the move: no longer waiting.
        Ok(if moved == 1 {
            Moved::Done(raw)
        } else {
            Moved::NotWaiting
        })
    }

    async fn peek_waiting(
        &self,
        queue: &Queue,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, BrokerError> {
        let mut conn = self.connection();
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
        Ok(script.invoke_async(&mut self.connection()).await?)
    }

    async fn queues(&self) -> Result<BrokerQueues, BrokerError> {
        let conn = self.connection();
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

    async fn heartbeats(&self) -> Result<Heartbeats, BrokerError> {
        let mut conn = self.connection();
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
