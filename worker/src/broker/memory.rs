//! The in-process broker of the embedded mode and of tests: the same semantics as the Redis
//! one (in-flight sets, orphan requeue, pause flag, kill requests), held in memory.

use super::{
    Broker, BrokerError, HeartbeatReply, Heartbeats, Layout, Queue, ALIVE_FOR, PURGE_AFTER,
};
use crate::heartbeat::Heartbeat;
use crate::host::now;
use crate::message::Message;
use async_trait::async_trait;
use protocol::control::Desired;
use protocol::overview::{BrokerQueue, BrokerQueues};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

#[derive(Default)]
struct Inner {
    queues: HashMap<String, VecDeque<String>>,
    /// (queue, consumer) → messages pulled and not yet acknowledged.
    in_flight: HashMap<(String, String), Vec<String>>,
    paused: HashSet<String>,
    kills: HashMap<String, HashSet<String>>,
    /// queue → consumer identification → last heartbeat.
    heartbeats: HashMap<String, HashMap<String, Heartbeat>>,
    params: HashMap<String, serde_json::Value>,
    desired: HashMap<String, Desired>,
    wakeups: HashMap<String, watch::Sender<u64>>,
}

#[derive(Clone, Default)]
pub struct MemoryBroker {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryBroker {
    pub fn new() -> MemoryBroker {
        MemoryBroker::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
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

impl Inner {
    /// Adds a waiting message at the tail of its list, or by score in a zset queue (highest
    /// first, first come first among equals), so a pull always takes from the front.
    fn put(&mut self, queue: &Queue, raw: String) {
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

    async fn move_waiting(
        &self,
        queue: &Queue,
        task_id: &str,
        to: super::Placement,
    ) -> Result<Option<String>, BrokerError> {
        use super::{with_priority, Placement};
        let t = now();
        self.with(|i| {
            let found = queue.lists().into_iter().find_map(|list| {
                let at = i
                    .queues
                    .get(&list)?
                    .iter()
                    .take(super::SCAN_WAITING)
                    .position(|m| {
                        crate::message::Message::parse(m.clone(), t)
                            .is_ok_and(|m| m.task_id == task_id)
                    })?;
                Some((list, at))
            });
            let Some((list, at)) = found else {
                return Ok(None);
            };
            let raw = i
                .queues
                .get_mut(&list)
                .and_then(|q| q.remove(at))
                .expect("found above");
            let was = raw.clone();
            match (to, queue.layout) {
                (Placement::Front, Layout::Lists { .. }) => {
                    i.queues
                        .entry(queue.lists()[0].clone())
                        .or_default()
                        .push_front(raw);
                }
                (Placement::Front, Layout::Zset) => {
                    let top = i
                        .queues
                        .get(&list)
                        .and_then(|q| q.front())
                        .and_then(|m| queue.score_of(m))
                        .unwrap_or(0.0);
                    let new = with_priority(&raw, Layout::Zset, top + 1.0).unwrap_or(raw);
                    i.put(queue, new);
                }
                (Placement::Out, _) => {}
                (Placement::Priority(p), layout) => match with_priority(&raw, layout, p) {
                    Some(new) => i.put(queue, new),
                    None => {
                        i.queues.entry(list).or_default().insert(at, raw);
                        return Err(BrokerError::NoPriorities);
                    }
                },
            }
            Ok(Some(was))
        })
    }

    async fn peek_waiting(
        &self,
        queue: &Queue,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, BrokerError> {
        let (mut skip, limit) = (offset as usize, limit as usize);
        Ok(self.with(|i| {
            let mut out = Vec::new();
            for list in queue.lists() {
                let Some(q) = i.queues.get(&list) else {
                    continue;
                };
                if skip >= q.len() {
                    skip -= q.len();
                    continue;
                }
                let room = limit - out.len();
                out.extend(
                    q.iter()
                        .skip(skip)
                        .take(room)
                        .map(|m| (list.clone(), m.clone())),
                );
                skip = 0;
                if out.len() >= limit {
                    break;
                }
            }
            out
        }))
    }

    async fn clear(&self, queue: &Queue) -> Result<u64, BrokerError> {
        Ok(self.discard_waiting(queue).len() as u64)
    }

    async fn queues(&self) -> Result<BrokerQueues, BrokerError> {
        let t = now();
        Ok(self.with(|i| {
            let mut names: Vec<String> = i.params.keys().cloned().collect();
            names.sort();
            let queues = names
                .into_iter()
                .map(|name| {
                    let params = i.params.get(&name);
                    let q = Queue::from_params(&name, params);
                    let lists: Vec<_> = q.lists().iter().filter_map(|l| i.queues.get(l)).collect();
                    // As on Redis: the head of each list is its oldest message.
                    let oldest_waiting = match q.layout {
                        Layout::Lists { .. } => lists
                            .iter()
                            .filter_map(|l| l.front())
                            .filter_map(|raw| Message::parse(raw.clone(), t).ok())
                            .map(|m| m.publish_time)
                            .reduce(f64::min),
                        Layout::Zset => None,
                    };
                    BrokerQueue {
                        project: None,
                        broker_kind: Some(q.broker_kind().to_owned()),
                        waiting: lists.iter().map(|l| l.len() as u64).sum(),
                        in_flight: i
                            .in_flight
                            .iter()
                            .filter(|((qn, _), _)| *qn == name)
                            .map(|(_, v)| v.len() as u64)
                            .sum(),
                        oldest_waiting,
                        paused_flag: i.paused.contains(&name),
                        desired: i.desired.get(&name).cloned().unwrap_or_default(),
                        params: params.map(|p| p.to_string()),
                        queue: name,
                    }
                })
                .collect();
            BrokerQueues { now: t, queues }
        }))
    }

    async fn desired(&self, queue: &str) -> Result<Desired, BrokerError> {
        Ok(self.with(|i| i.desired.get(queue).cloned().unwrap_or_default()))
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

    async fn control_wakeups(&self, queue: &str) -> Result<watch::Receiver<u64>, BrokerError> {
        Ok(self.with(|i| {
            i.wakeups
                .entry(queue.to_owned())
                .or_insert_with(|| watch::channel(0).0)
                .subscribe()
        }))
    }

    async fn heartbeats(&self) -> Result<Heartbeats, BrokerError> {
        let beats = self.with(|i| {
            i.heartbeats
                .values()
                .flat_map(|m| m.values())
                .cloned()
                .collect()
        });
        Ok(Heartbeats { now: now(), beats })
    }
}
