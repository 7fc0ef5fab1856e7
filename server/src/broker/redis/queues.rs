//! Every queue on one page, read the way each queue's kind keeps its messages: one Lua script
//! per queue (pipelined, one round trip) checks each key's type before it counts, so a key of
//! an unexpected type — a `REDIS_STREAM` queue's stream next to list queues — is named in that
//! queue's note and never fails another queue's read. Brokers that are not Redis are known
//! from the backlog their workers report (`funboost_queue__msg_count_map`), under funboost's
//! own freshness rule.

use crate::broker::{Keeping, Kind, Taken};
use protocol::overview::{Backlog, BrokerQueue, BrokerQueues};
use redis::aio::ConnectionManager;
use redis::Script;
use std::collections::HashMap;
use std::sync::LazyLock;
use taskdeck_worker::broker::redis::{
    desired_key, desired_of, project_key, unack_registry, ALL_PROJECTS, ALL_QUEUES, MSG_COUNT_MAP,
    PAUSE_FLAG, QUEUE_PARAMS,
};
use taskdeck_worker::{BrokerError, Message};

/// One queue's state: `{waiting, taken, heads, note}` (`-1`: unknown). KEYS: the keys messages
/// wait under, then (when ARGV[2] is `registry` or `timeout`) the key of the taken ones. ARGV:
/// how messages wait (`lists`, `tail`, `zset`, `stream`), how taken ones are kept (`none`,
/// `registry`, `timeout`, `stream`), the number of waiting keys, the stream's group.
static QUEUE_STATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local keeping, taken_in, n, group = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local expect = ({lists = 'list', tail = 'list', zset = 'zset', stream = 'stream'})[keeping]
local waiting, taken, heads, notes = 0, -1, {}, {}
for i = 1, n do
  local k = KEYS[i]
  local t = redis.call('TYPE', k).ok
  if t == 'none' then
  elseif t ~= expect then
    waiting = -1
    table.insert(notes, '`' .. k .. '` is a ' .. t .. ', not the ' .. expect .. ' this kind keeps its messages in')
  elseif t == 'list' then
    if waiting >= 0 then waiting = waiting + redis.call('LLEN', k) end
    local h = redis.call('LINDEX', k, keeping == 'tail' and -1 or 0)
    if h then table.insert(heads, h) end
  elseif t == 'zset' then
    if waiting >= 0 then waiting = waiting + redis.call('ZCARD', k) end
  elseif t == 'stream' then
    local len = redis.call('XLEN', k)
    local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', k)
    local found = nil
    if ok then
      for _, g in ipairs(groups) do
        local f = {}
        for j = 1, #g, 2 do f[g[j]] = g[j + 1] end
        if f['name'] == group then found = f end
      end
    end
    local from = '-'
    if found then
      taken = tonumber(found['pending']) or 0
      local lag = tonumber(found['lag'])
      if lag then waiting = lag else waiting = math.max(len - taken, 0) end
      from = '(' .. found['last-delivered-id']
    else
      taken = 0
      waiting = len
    end
    local first = redis.call('XRANGE', k, from, '+', 'COUNT', 1)
    if first[1] then
      local fields = first[1][2]
      for j = 1, #fields, 2 do if fields[j] == '' then table.insert(heads, fields[j + 1]) end end
    end
  end
end
if taken_in == 'registry' then
  local r = KEYS[n + 1]
  local t = redis.call('TYPE', r).ok
  taken = 0
  if t == 'set' then
    for _, u in ipairs(redis.call('SMEMBERS', r)) do
      local ut = redis.call('TYPE', u).ok
      if ut == 'zset' then taken = taken + redis.call('ZCARD', u)
      elseif ut == 'list' then taken = taken + redis.call('LLEN', u) end
    end
  elseif t ~= 'none' then
    taken = -1
    table.insert(notes, '`' .. r .. '` is a ' .. t .. ', not a set')
  end
elseif taken_in == 'timeout' then
  local z = KEYS[n + 1]
  local t = redis.call('TYPE', z).ok
  if t == 'zset' then taken = redis.call('ZCARD', z) elseif t == 'none' then taken = 0 end
end
return {waiting, taken, heads, table.concat(notes, '; ')}",
    )
});

/// How long a backlog reported by workers stays believed (funboost's `get_msg_num`: the
/// report younger than 15 s, the count itself younger than 20 minutes).
const REPORT_FRESH_S: f64 = 15.0;
const COUNT_FRESH_S: f64 = 1_200.0;

/// The backlog the workers of a queue on another broker last reported.
fn reported(value: Option<&String>, now: f64) -> (Option<u64>, Backlog) {
    let Some(v) = value.and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok()) else {
        return (
            None,
            Backlog::Unknown {
                why: "no worker of the queue has reported its backlog".into(),
            },
        );
    };
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    let (count, counted_at, report) = (
        f("msg_num_in_broker"),
        f("last_get_msg_num_ts"),
        f("report_ts"),
    );
    match (count, counted_at, report) {
        (Some(n), Some(at), Some(report))
            if report > now - REPORT_FRESH_S && at > now - COUNT_FRESH_S && n >= 0.0 =>
        {
            (Some(n as u64), Backlog::Reported { at })
        }
        (Some(n), _, _) if n < 0.0 => (
            None,
            Backlog::Unknown {
                why: "its workers cannot count this broker's backlog".into(),
            },
        ),
        (_, _, Some(report)) => (
            None,
            Backlog::Unknown {
                why: format!(
                    "its workers last reported {:.0} s ago: no live worker to ask",
                    (now - report).max(0.0)
                ),
            },
        ),
        _ => (
            None,
            Backlog::Unknown {
                why: "its workers' report is unreadable".into(),
            },
        ),
    }
}

/// The keys a queue's script reads, and its arguments.
fn plan(name: &str, kind: &Kind) -> Option<(Vec<String>, [String; 4])> {
    let lists = |max: u8| {
        (1..=max)
            .rev()
            .map(|p| format!("{name}:{p}"))
            .chain(std::iter::once(name.to_owned()))
            .collect::<Vec<_>>()
    };
    let (mut keys, keeping, taken, group) = match &kind.keeping {
        Keeping::Lists {
            max_priority,
            taken,
        } => (
            lists(*max_priority),
            "lists",
            match taken {
                Taken::Untracked => "none",
                Taken::UnackZsets => "registry",
                Taken::TimeoutZset => "timeout",
            },
            "",
        ),
        Keeping::TailList => (vec![name.to_owned()], "tail", "registry", ""),
        Keeping::PriorityZset | Keeping::DelayZset => {
            (vec![name.to_owned()], "zset", "registry", "")
        }
        Keeping::Stream { group } => (vec![name.to_owned()], "stream", "stream", group.as_str()),
        Keeping::NotKept | Keeping::Elsewhere => return None,
    };
    let n = keys.len();
    match taken {
        "registry" => keys.push(unack_registry(name)),
        "timeout" => keys.push(format!("{name}__unack_using_timeout")),
        _ => {}
    }
    Some((
        keys,
        [keeping.into(), taken.into(), n.to_string(), group.into()],
    ))
}

/// Every queue funboost's registries name, each read its own way.
pub async fn read(conn: ConnectionManager) -> Result<BrokerQueues, BrokerError> {
    let mut pipe = redis::pipe();
    pipe.smembers(ALL_QUEUES)
        .hgetall(QUEUE_PARAMS)
        .hgetall(PAUSE_FLAG)
        .smembers(ALL_PROJECTS)
        .hgetall(MSG_COUNT_MAP)
        .cmd("TIME");
    type First = (
        Vec<String>,
        HashMap<String, String>,
        HashMap<String, String>,
        Vec<String>,
        HashMap<String, String>,
        (u64, u64),
    );
    let (mut names, params, flags, projects, reports, (s, us)): First =
        pipe.query_async(&mut conn.clone()).await?;
    let now = s as f64 + us as f64 / 1e6;
    names.sort();
    if names.is_empty() {
        return Ok(BrokerQueues {
            now,
            queues: Vec::new(),
        });
    }
    let kinds: Vec<Kind> = names
        .iter()
        .map(|q| {
            let p = params.get(q).and_then(|p| serde_json::from_str(p).ok());
            Kind::of(p.as_ref())
        })
        .collect();
    let plans: Vec<_> = names.iter().zip(&kinds).map(|(q, k)| plan(q, k)).collect();
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
    let states = async {
        let mut pipe = redis::pipe();
        pipe.load_script(&QUEUE_STATE).ignore();
        let mut any = false;
        for (keys, args) in plans.iter().flatten() {
            let mut call = QUEUE_STATE.prepare_invoke();
            for k in keys {
                call.key(k);
            }
            for a in args {
                call.arg(a);
            }
            pipe.invoke_script(&call);
            any = true;
        }
        if !any {
            return Ok(Vec::new());
        }
        pipe.query_async::<Vec<(i64, i64, Vec<String>, String)>>(&mut conn.clone())
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
    let (project_sets, states, desired) = tokio::try_join!(project_sets, states, desired)?;
    let mut project_of: HashMap<&str, &str> = HashMap::new();
    for (p, members) in projects.iter().zip(&project_sets) {
        for q in members {
            project_of.insert(q.as_str(), p.as_str());
        }
    }
    let mut states = states.into_iter();
    let known = |n: i64| u64::try_from(n).ok();
    let queues = names
        .iter()
        .zip(&kinds)
        .zip(&plans)
        .enumerate()
        .map(|(i, ((name, kind), plan))| {
            let mut q = BrokerQueue {
                queue: name.clone(),
                project: project_of.get(name.as_str()).map(|p| (*p).to_owned()),
                broker_kind: kind.broker_kind.clone(),
                paused_flag: flags.get(name).is_some_and(|f| f.trim() == "1"),
                desired: desired_of(&desired[i]),
                params: params.get(name).cloned(),
                ..Default::default()
            };
            match (plan, &kind.keeping) {
                (Some(_), _) => {
                    let (waiting, taken, heads, note) = states.next().unwrap_or_default();
                    q.waiting = known(waiting);
                    q.in_flight = known(taken);
                    q.oldest_waiting = heads
                        .into_iter()
                        .filter_map(|raw| Message::parse(raw, now).ok())
                        .map(|m| m.publish_time)
                        .reduce(f64::min);
                    if !note.is_empty() {
                        q.backlog = Backlog::Unknown { why: note.clone() };
                        q.note = Some(note);
                    }
                }
                (None, Keeping::NotKept) => {
                    q.waiting = Some(0);
                    q.backlog = Backlog::Unknown {
                        why: "REDIS_PUBSUB keeps no messages: nothing waits".into(),
                    };
                }
                (None, _) => {
                    (q.waiting, q.backlog) = reported(reports.get(name), now);
                }
            }
            q
        })
        .collect();
    Ok(BrokerQueues { now, queues })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_backlog_is_believed_only_while_fresh() {
        let now = 1_000_000.0;
        let report = |count: f64, at: f64, report: f64| {
            format!(
                r#"{{"msg_num_in_broker": {count}, "last_get_msg_num_ts": {at}, "report_ts": {report}}}"#
            )
        };
        let fresh = report(12.0, now - 30.0, now - 5.0);
        assert_eq!(
            reported(Some(&fresh), now),
            (Some(12), Backlog::Reported { at: now - 30.0 })
        );
        let silent = report(12.0, now - 30.0, now - 60.0);
        assert!(matches!(
            reported(Some(&silent), now),
            (None, Backlog::Unknown { why }) if why.contains("60 s ago")
        ));
        let old_count = report(12.0, now - 2_000.0, now - 1.0);
        assert_eq!(reported(Some(&old_count), now).0, None);
        assert_eq!(reported(Some(&report(-1.0, now, now)), now).0, None);
        assert_eq!(reported(None, now).0, None);
    }
}
