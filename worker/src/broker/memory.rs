//! The in-process broker of the embedded mode and of tests: the same semantics as the Redis
//! one (in-flight sets, orphan requeue, pause flag, kill requests), held in memory.

use super::{Broker, BrokerError, Controller, HeartbeatReply, Queue, ALIVE_FOR, PURGE_AFTER};
use crate::heartbeat::Heartbeat;
use crate::host::now;
use async_trait::async_trait;
use protocol::control::Desired;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// What the in-process broker holds, readable by a dashboard in the same process (funboost's
/// keys play this part on Redis).
#[derive(Default)]
pub struct MemoryState {
    /// Waiting messages by key (`q`, `q:3`, or the zset `q`, kept by score), head first.
    pub queues: HashMap<String, VecDeque<String>>,
    /// (queue, consumer) → messages pulled and not yet acknowledged.
    pub in_flight: HashMap<(String, String), Vec<String>>,
    /// funboost's pause flags.
    pub paused: HashSet<String>,
    /// queue → task ids asked to stop.
    pub kills: HashMap<String, HashSet<String>>,
    /// queue → consumer identification → last heartbeat.
    pub heartbeats: HashMap<String, HashMap<String, Heartbeat>>,
    /// The parameters each queue's consumers registered.
    pub params: HashMap<String, serde_json::Value>,
    /// taskdeck's desired state of each queue.
    pub desired: HashMap<String, Desired>,
    wakeups: HashMap<String, watch::Sender<u64>>,
}

/// The in-process broker: clones share one state.
#[derive(Clone, Default)]
pub struct MemoryBroker {
    inner: Arc<Mutex<MemoryState>>,
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> MemoryBroker {
        MemoryBroker::default()
    }

    /// The state, locked while the guard lives (a poisoned lock is taken over: the state is
    /// plain data, valid after any panic).
    pub fn state(&self) -> MutexGuard<'_, MemoryState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryState) -> T) -> T {
        f(&mut self.state())
    }

    /// Empties the queue's waiting messages and returns them: what an in-process queue loses
    /// when its process ends.
    pub fn discard_waiting(&self, queue: &Queue) -> Vec<String> {
        self.with(|i| {
            let mut gone = Vec::new();
            for list in queue.lists() {
                if let Some(q) = i.queues.get_mut(&list) {
                    gone.extend(q.drain(..));
                }
            }
            gone
        })
    }

    /// Messages held in consumers' in-flight sets for `queue`.
    pub fn in_flight(&self, queue: &str) -> usize {
        self.with(|i| {
            i.in_flight
                .iter()
                .filter(|((q, _), _)| q == queue)
                .map(|(_, v)| v.len())
                .sum()
        })
    }
}

fn remove_one(v: &mut Vec<String>, raw: &str) -> bool {
    match v.iter().position(|m| m == raw) {
        Some(p) => {
            v.remove(p);
            true
        }
        None => false,
    }
}

impl MemoryState {
    /// Adds a waiting message at the tail of its list, or by score in a zset queue (highest
    /// first, first come first among equals), so a pull always takes from the front.
    pub fn put(&mut self, queue: &Queue, raw: String) {
        let waiting = self.queues.entry(queue.list_of(&raw)).or_default();
        match queue.score_of(&raw) {
            None => waiting.push_back(raw),
            Some(score) => {
                let at = waiting.partition_point(|m| queue.score_of(m).is_some_and(|s| s >= score));
                waiting.insert(at, raw);
            }
        }
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn register(
        &self,
        hb: &Heartbeat,
        params: &serde_json::Value,
    ) -> Result<(), BrokerError> {
        self.with(|i| {
            i.params.insert(hb.queue_name.clone(), params.clone());
            i.queues.entry(hb.queue_name.clone()).or_default();
            i.in_flight
                .entry((hb.queue_name.clone(), hb.consumer_identification.clone()))
                .or_default();
        });
        Ok(())
    }

    async fn pull(
        &self,
        queue: &Queue,
        consumer: &str,
        max: usize,
    ) -> Result<Vec<String>, BrokerError> {
        Ok(self.with(|i| {
            let mut taken = Vec::new();
            for list in queue.lists() {
                let q = i.queues.entry(list).or_default();
                let n = (max - taken.len()).min(q.len());
                taken.extend(q.drain(..n));
                if taken.len() == max {
                    break;
                }
            }
            i.in_flight
                .entry((queue.name.clone(), consumer.to_owned()))
                .or_default()
                .extend(taken.iter().cloned());
            taken
        }))
    }

    async fn ack(&self, queue: &str, consumer: &str, raws: &[String]) -> Result<(), BrokerError> {
        self.with(|i| {
            if let Some(v) = i
                .in_flight
                .get_mut(&(queue.to_owned(), consumer.to_owned()))
            {
                for raw in raws {
                    remove_one(v, raw);
                }
            }
        });
        Ok(())
    }

    async fn requeue(&self, queue: &Queue, consumer: &str, raw: &str) -> Result<(), BrokerError> {
        self.with(|i| {
            let held = i
                .in_flight
                .get_mut(&(queue.name.clone(), consumer.to_owned()))
                .is_some_and(|v| remove_one(v, raw));
            if held {
                i.put(queue, raw.to_owned());
            }
        });
        Ok(())
    }

    async fn publish(&self, queue: &Queue, raw: &str) -> Result<(), BrokerError> {
        self.with(|i| i.put(queue, raw.to_owned()));
        Ok(())
    }

    async fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply, BrokerError> {
        let t = now();
        Ok(self.with(|i| {
            let beats = i.heartbeats.entry(hb.queue_name.clone()).or_default();
            beats.retain(|_, h| t - h.hearbeat_timestamp < PURGE_AFTER);
            beats.insert(hb.consumer_identification.clone(), hb.clone());
            HeartbeatReply {
                live_consumers: beats
                    .values()
                    .filter(|h| t - h.hearbeat_timestamp < ALIVE_FOR)
                    .count() as u64,
            }
        }))
    }

    async fn unregister(&self, hb: &Heartbeat) -> Result<(), BrokerError> {
        self.with(|i| {
            if let Some(beats) = i.heartbeats.get_mut(&hb.queue_name) {
                beats.remove(&hb.consumer_identification);
            }
            let key = (hb.queue_name.clone(), hb.consumer_identification.clone());
            if i.in_flight.get(&key).is_some_and(Vec::is_empty) {
                i.in_flight.remove(&key);
            }
        });
        Ok(())
    }

    async fn paused(&self, queue: &str) -> Result<bool, BrokerError> {
        Ok(self.with(|i| i.paused.contains(queue)))
    }

    async fn take_kills(
        &self,
        queue: &str,
        task_ids: &[String],
    ) -> Result<Vec<String>, BrokerError> {
        Ok(self.with(|i| {
            let Some(kills) = i.kills.get_mut(queue) else {
                return Vec::new();
            };
            task_ids
                .iter()
                .filter(|id| kills.remove(id.as_str()))
                .cloned()
                .collect()
        }))
    }

    async fn requeue_orphans(&self, q: &Queue) -> Result<usize, BrokerError> {
        let t = now();
        let queue = q.name.as_str();
        Ok(self.with(|i| {
            let alive: HashSet<String> = i
                .heartbeats
                .get(queue)
                .map(|m| {
                    m.iter()
                        .filter(|(_, h)| t - h.hearbeat_timestamp < ALIVE_FOR)
                        .map(|(id, _)| id.clone())
                        .collect()
                })
                .unwrap_or_default();
            let orphaned: Vec<(String, String)> = i
                .in_flight
                .keys()
                .filter(|(q, c)| q == queue && !alive.contains(c))
                .cloned()
                .collect();
            let mut moved = 0;
            for key in orphaned {
                let messages = i.in_flight.remove(&key).unwrap_or_default();
                moved += messages.len();
                for raw in messages {
                    i.put(q, raw);
                }
            }
            moved
        }))
    }

    async fn waiting(&self, queue: &Queue) -> Result<u64, BrokerError> {
        Ok(self.with(|i| {
            queue
                .lists()
                .iter()
                .map(|l| i.queues.get(l).map_or(0, |q| q.len() as u64))
                .sum()
        }))
    }

    async fn desired(&self, queue: &str) -> Result<Desired, BrokerError> {
        Ok(self.with(|i| i.desired.get(queue).cloned().unwrap_or_default()))
    }

    async fn control_wakeups(&self, queue: &str) -> Result<watch::Receiver<u64>, BrokerError> {
        Ok(self.with(|i| {
            i.wakeups
                .entry(queue.to_owned())
                .or_insert_with(|| watch::channel(0).0)
                .subscribe()
        }))
    }
}

#[async_trait]
impl Controller for MemoryBroker {
    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), BrokerError> {
        self.with(|i| {
            if paused {
                i.paused.insert(queue.to_owned());
            } else {
                i.paused.remove(queue);
            }
        });
        Ok(())
    }

    async fn request_kill(&self, queue: &str, task_id: &str) -> Result<(), BrokerError> {
        self.with(|i| {
            i.kills
                .entry(queue.to_owned())
                .or_default()
                .insert(task_id.to_owned());
        });
        Ok(())
    }

    async fn set_desired(&self, queue: &str, desired: &Desired) -> Result<u64, BrokerError> {
        Ok(self.with(|i| {
            let version = i.desired.get(queue).map_or(0, |d| d.version) + 1;
            i.desired.insert(
                queue.to_owned(),
                Desired {
                    version,
                    ..desired.clone()
                },
            );
            i.wakeups
                .entry(queue.to_owned())
                .or_insert_with(|| watch::channel(0).0)
                .send_replace(version);
            version
        }))
    }
}
