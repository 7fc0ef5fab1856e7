//! The dashboard's side of funboost's Redis keys (protocol notes §2.1–2.10): every queue's
//! backlog, in-flight count, pause flag and project in a few pipelined round trips, the
//! heartbeats, and the waiting messages, found and moved by Lua scripts in one step each.

mod lists;
mod queues;
mod stream;

use super::{Dashboard, Heartbeats, Keeping, Moved, Placement, Target};
use async_trait::async_trait;
use protocol::overview::BrokerQueues;
use redis::AsyncCommands;
use taskdeck_worker::broker::redis::{heartbeat_dict, ALL_QUEUES};
use taskdeck_worker::heartbeat::Heartbeat;
use taskdeck_worker::{Broker, BrokerError, RedisBroker};

#[async_trait]
impl Dashboard for RedisBroker {
    async fn count_waiting(&self, target: &Target) -> Result<u64, BrokerError> {
        match (&target.kind.keeping, target.lists()) {
            (Keeping::Stream { group }, _) => {
                stream::waiting(self.connection(), &target.name, group).await
            }
            (_, Some(queue)) => Broker::waiting(self, &queue).await,
            _ => Err(target.refused()),
        }
    }

    async fn peek_waiting(
        &self,
        target: &Target,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, BrokerError> {
        match (&target.kind.keeping, target.lists()) {
            (Keeping::Stream { group }, _) => {
                stream::peek(self.connection(), &target.name, group, offset, limit).await
            }
            (_, Some(queue)) => lists::peek_waiting(self.connection(), &queue, offset, limit).await,
            _ => Err(target.refused()),
        }
    }

    async fn move_waiting(
        &self,
        target: &Target,
        task_id: &str,
        to: Placement,
    ) -> Result<Moved, BrokerError> {
        match (&target.kind.keeping, target.lists(), to) {
            (Keeping::Stream { group }, _, Placement::Out) => {
                stream::take_out(self.connection(), &target.name, group, task_id).await
            }
            (Keeping::Stream { .. }, _, _) => Ok(Moved::NoPriorities),
            (_, Some(queue), _) => {
                lists::move_waiting(self.connection(), &queue, task_id, to).await
            }
            _ => Err(target.refused()),
        }
    }

    async fn clear(&self, target: &Target) -> Result<u64, BrokerError> {
        match (&target.kind.keeping, target.lists()) {
            (Keeping::Stream { group }, _) => {
                stream::clear(self.connection(), &target.name, group).await
            }
            (_, Some(queue)) => lists::clear(self.connection(), &queue).await,
            _ => Err(target.refused()),
        }
    }

    async fn publish_to(&self, target: &Target, raw: &str) -> Result<(), BrokerError> {
        let mut conn = self.connection();
        match (&target.kind.keeping, target.lists()) {
            (Keeping::Stream { .. }, _) => {
                redis::cmd("XADD")
                    .arg(&target.name)
                    .arg("*")
                    .arg("")
                    .arg(raw)
                    .query_async::<()>(&mut conn)
                    .await?
            }
            // Producers push on the left, consumers take from the right.
            (Keeping::TailList, _) => conn.lpush::<_, _, ()>(&target.name, raw).await?,
            (Keeping::NotKept, _) => conn.publish::<_, _, ()>(&target.name, raw).await?,
            (Keeping::DelayZset, _) => {
                conn.zadd::<_, _, _, ()>(&target.name, raw, due_time(raw))
                    .await?
            }
            (_, Some(queue)) => Broker::publish(self, &queue, raw).await?,
            _ => return Err(target.refused()),
        }
        Ok(())
    }

    async fn queues(&self) -> Result<BrokerQueues, BrokerError> {
        queues::read(self.connection()).await
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

/// When a REDIS_ZSET_DELAY message is due, as funboost's publisher scores it: its
/// `eta_timestamp`, or its publish time plus `delay_seconds`, else now.
fn due_time(raw: &str) -> f64 {
    let now = taskdeck_worker::host::now();
    let Ok(m) = taskdeck_worker::Message::parse(raw.to_owned(), now) else {
        return now;
    };
    let delay = m
        .extra
        .get("other_extra_params")
        .and_then(|o| o.get("for_broker_redis_zset_delay"));
    let field = |k: &str| {
        delay
            .and_then(|d| d.get(k))
            .and_then(serde_json::Value::as_f64)
    };
    field("eta_timestamp")
        .or_else(|| field("delay_seconds").map(|d| m.publish_time + d))
        .unwrap_or(now)
}
