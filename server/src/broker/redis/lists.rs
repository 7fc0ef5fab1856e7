//! Waiting messages of list and zset queues (funboost's REDIS, REDIS_ACK_ABLE, REDIS_PRIORITY,
//! reids_ack_using_timeout and REDIS_ZSET_PRIORITY): read page by page across the priority
//! lists, found and moved by Lua scripts in one step each.

use crate::broker::{with_priority, Moved, Placement, SCAN_WAITING};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;
use taskdeck_worker::{BrokerError, Layout, Queue};

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

pub async fn move_waiting(
    mut conn: ConnectionManager,
    queue: &Queue,
    task_id: &str,
    to: Placement,
) -> Result<Moved, BrokerError> {
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

pub async fn peek_waiting(
    mut conn: ConnectionManager,
    queue: &Queue,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, String)>, BrokerError> {
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

pub async fn clear(mut conn: ConnectionManager, queue: &Queue) -> Result<u64, BrokerError> {
    let mut script = CLEAR.prepare_invoke();
    for list in queue.lists() {
        script.key(list);
    }
    Ok(script.invoke_async(&mut conn).await?)
}
