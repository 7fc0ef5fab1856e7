//! Waiting messages of funboost's `REDIS_STREAM` queues: entries `XADD q * "" <json>` read by
//! the consumer group (`funboost_group`). An entry waits until the group delivers it (after
//! the group's last-delivered id); delivered ones are pending (in flight) until acknowledged,
//! and funboost deletes them then. Each operation is one Lua script, so an entry a consumer
//! reads meanwhile is never deleted from under it.

use crate::broker::Moved;
use redis::aio::ConnectionManager;
use redis::Script;
use std::sync::LazyLock;
use taskdeck_worker::BrokerError;

/// Finds where the undelivered entries of KEYS[1] start for the group ARGV[1]: the exclusive
/// start for XRANGE, the group's pending count and its lag (nil when Redis cannot tell).
const START: &str = r"
local function start(k, group)
  local t = redis.call('TYPE', k).ok
  if t ~= 'stream' and t ~= 'none' then
    return redis.error_reply('`' .. k .. '` is a ' .. t .. ', not a stream')
  end
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', k)
  if ok then
    for _, g in ipairs(groups) do
      local f = {}
      for j = 1, #g, 2 do f[g[j]] = g[j + 1] end
      if f['name'] == group then
        return '(' .. f['last-delivered-id'], tonumber(f['pending']) or 0, tonumber(f['lag'])
      end
    end
  end
  return '-', 0, nil
end
local function body(fields)
  for j = 1, #fields, 2 do if fields[j] == '' then return fields[j + 1] end end
  return fields[2] or ''
end
";

static WAITING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{START}
local from, pending, lag = start(KEYS[1], ARGV[1])
if type(from) == 'table' then return from end
if lag then return lag end
return math.max(redis.call('XLEN', KEYS[1]) - pending, 0)"
    ))
});

/// ARGV: group, offset, limit → the raw messages.
static PEEK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{START}
local from = start(KEYS[1], ARGV[1])
if type(from) == 'table' then return from end
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {{}}
local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', offset + limit)
for i = offset + 1, #entries do table.insert(out, body(entries[i][2])) end
return out"
    ))
});

/// ARGV: group, task id, how many entries to search → the deleted message, or nil.
static TAKE_OUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{START}
local from = start(KEYS[1], ARGV[1])
if type(from) == 'table' then return from end
local id, cap, seen = ARGV[2], tonumber(ARGV[3]), 0
while seen < cap do
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 1000)
  if #entries == 0 then return nil end
  for _, e in ipairs(entries) do
    local m = body(e[2])
    if string.find(m, id, 1, true) then
      local ok, d = pcall(cjson.decode, m)
      if ok and type(d) == 'table' and type(d.extra) == 'table' and d.extra.task_id == id then
        redis.call('XDEL', KEYS[1], e[1])
        return m
      end
    end
  end
  seen = seen + #entries
  from = '(' .. entries[#entries][1]
end
return nil"
    ))
});

/// ARGV: group → how many undelivered entries were deleted.
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{START}
local from = start(KEYS[1], ARGV[1])
if type(from) == 'table' then return from end
local n = 0
while true do
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 1000)
  if #entries == 0 then return n end
  local ids = {{}}
  for _, e in ipairs(entries) do table.insert(ids, e[1]) end
  n = n + redis.call('XDEL', KEYS[1], unpack(ids))
  from = '(' .. entries[#entries][1]
end"
    ))
});

/// Entries the group has not delivered yet.
pub async fn waiting(
    mut conn: ConnectionManager,
    key: &str,
    group: &str,
) -> Result<u64, BrokerError> {
    Ok(WAITING.key(key).arg(group).invoke_async(&mut conn).await?)
}

/// Up to `limit` undelivered entries from `offset`, oldest (next delivered) first.
pub async fn peek(
    mut conn: ConnectionManager,
    key: &str,
    group: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, String)>, BrokerError> {
    let raws: Vec<String> = PEEK
        .key(key)
        .arg(group)
        .arg(offset)
        .arg(limit)
        .invoke_async(&mut conn)
        .await?;
    Ok(raws.into_iter().map(|r| (key.to_owned(), r)).collect())
}

/// Deletes the undelivered entry of `task_id`.
pub async fn take_out(
    mut conn: ConnectionManager,
    key: &str,
    group: &str,
    task_id: &str,
) -> Result<Moved, BrokerError> {
    let raw: Option<String> = TAKE_OUT
        .key(key)
        .arg(group)
        .arg(task_id)
        .arg(crate::broker::SCAN_WAITING)
        .invoke_async(&mut conn)
        .await?;
    Ok(raw.map_or(Moved::NotWaiting, Moved::Done))
}

/// Deletes every undelivered entry; pending ones (being run) stay.
pub async fn clear(
    mut conn: ConnectionManager,
    key: &str,
    group: &str,
) -> Result<u64, BrokerError> {
    Ok(CLEAR.key(key).arg(group).invoke_async(&mut conn).await?)
}
