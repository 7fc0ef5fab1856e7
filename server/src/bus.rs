//! The control bus between taskdeck instances and workers: Redis in production, in-process in
//! the embedded mode.

use crate::broker::Dashboard;
use protocol::BusKind;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use taskdeck_worker::{Broker, Controller, MemoryBroker, RedisBroker};

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The broker is where workers (the demo fleet's, funboost's, taskdeck's) keep their queues,
/// heartbeats and control flags.
#[derive(Clone)]
pub enum Bus {
    Memory(MemoryBroker),
    /// Connects lazily and reconnects by itself, so a Redis that goes away and comes back
    /// needs no restart of taskdeck. The client reaches funboost's RPC results.
    Redis(ConnectionManager, RedisBroker, Box<redis::Client>),
}

impl Bus {
    /// The in-process bus without `redis_url`; with it, Redis, whose database `rpc_db` holds
    /// funboost's RPC results.
    pub fn open(redis_url: Option<&str>, rpc_db: u8) -> anyhow::Result<Bus> {
        let Some(url) = redis_url else {
            return Ok(Bus::Memory(MemoryBroker::new()));
        };
        let client = redis::Client::open(url)?;
        let info = client.get_connection_info().clone();
        let rpc_settings = info.redis_settings().clone().set_db(i64::from(rpc_db));
        let rpc = info.set_redis_settings(rpc_settings);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(PROBE_TIMEOUT))
            .set_response_timeout(Some(PROBE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        Ok(Bus::Redis(
            ConnectionManager::new_lazy_with_config(client, config)?,
            RedisBroker::new(url)?,
            Box::new(redis::Client::open(rpc)?),
        ))
    }

    /// As a consumer (and a producer) sees it.
    pub fn broker(&self) -> Arc<dyn Broker> {
        match self {
            Bus::Memory(broker) => Arc::new(broker.clone()),
            Bus::Redis(_, broker, _) => Arc::new(broker.clone()),
        }
    }

    /// What a control plane writes for the consumers (pause flags, kills, desired state).
    pub fn controller(&self) -> Arc<dyn Controller> {
        match self {
            Bus::Memory(broker) => Arc::new(broker.clone()),
            Bus::Redis(_, broker, _) => Arc::new(broker.clone()),
        }
    }

    /// The dashboard's reads and writes of every queue.
    pub fn dashboard(&self) -> Arc<dyn Dashboard> {
        match self {
            Bus::Memory(broker) => Arc::new(broker.clone()),
            Bus::Redis(_, broker, _) => Arc::new(broker.clone()),
        }
    }

    pub fn kind(&self) -> BusKind {
        match self {
            Bus::Memory(_) => BusKind::Memory,
            Bus::Redis(..) => BusKind::Redis,
        }
    }

    pub async fn ping(&self) -> Result<(), String> {
        match self {
            Bus::Memory(_) => Ok(()),
            Bus::Redis(manager, ..) => {
                let mut conn = manager.clone();
                let ping = redis::cmd("PING");
                match tokio::time::timeout(PROBE_TIMEOUT, ping.query_async::<String>(&mut conn))
                    .await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
                }
            }
        }
    }

    /// Every consumer heard from recently (funboost's and taskdeck's), by the broker's clock;
    /// those silent longer than `drop_after` are left out.
    pub async fn fleet(
        &self,
        drop_after: Duration,
    ) -> Result<protocol::heartbeat::Fleet, protocol::ServiceError> {
        let seen =
            self.dashboard().heartbeats().await.map_err(|e| {
                protocol::ServiceError::unavailable(format!("the broker failed: {e}"))
            })?;
        Ok(protocol::heartbeat::Fleet::build(
            seen.now,
            drop_after.as_secs_f64(),
            seen.beats,
        ))
    }

    /// Shares a bulk command's progress with the other instances on the same Redis (kept a
    /// day); nothing to share in the embedded mode's single process.
    pub async fn share_bulk(&self, bulk: &protocol::control::Bulk) -> Result<(), String> {
        let Bus::Redis(manager, ..) = self else {
            return Ok(());
        };
        let json = serde_json::to_string(bulk).map_err(|e| e.to_string())?;
        redis::cmd("SET")
            .arg(bulk_key(&bulk.id))
            .arg(json)
            .arg("EX")
            .arg(BULK_KEPT_S)
            .query_async::<()>(&mut manager.clone())
            .await
            .map_err(|e| e.to_string())
    }

    /// A bulk command's progress as another instance last shared it.
    pub async fn shared_bulk(&self, id: &str) -> Result<Option<protocol::control::Bulk>, String> {
        let Bus::Redis(manager, ..) = self else {
            return Ok(None);
        };
        let json: Option<String> = redis::cmd("GET")
            .arg(bulk_key(id))
            .query_async(&mut manager.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}

impl Bus {
    /// funboost's RPC result of `task_id` (its status dict), when one arrives within `wait`,
    /// read the way funboost's `AsyncResult` does: taken with `BLPOP` on a connection of its own,
    /// then pushed back with its expiry so other readers still find it. `Ok(None)` on the
    /// in-process bus, which has none.
    pub async fn rpc_result(
        &self,
        task_id: &str,
        wait: Duration,
    ) -> Result<Option<serde_json::Value>, redis::RedisError> {
        let Bus::Redis(_, _, rpc) = self else {
            return Ok(None);
        };
        let mut conn = rpc.get_multiplexed_async_connection().await?;
        let taken: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(task_id)
            .arg(wait.as_secs_f64().max(0.01))
            .query_async(&mut conn)
            .await?;
        let Some((_, raw)) = taken else {
            return Ok(None);
        };
        let status: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
        let expire = status
            .get("rpc_result_expire_seconds")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1_800);
        redis::pipe()
            .lpush(task_id, &raw)
            .ignore()
            .expire(task_id, expire as i64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(Some(status))
    }
}

/// How long a bulk command's shared progress stays readable.
const BULK_KEPT_S: u64 = 86_400;

fn bulk_key(id: &str) -> String {
    format!("taskdeck:bulk:{id}")
}
