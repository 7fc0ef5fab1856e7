//! The dashboard's side of the in-process broker: the same answers as on Redis, read from
//! its state.

use super::{with_priority, Dashboard, Heartbeats, Moved, Placement, Target, SCAN_WAITING};
use async_trait::async_trait;
use protocol::overview::{BrokerQueue, BrokerQueues};
use taskdeck_worker::host::now;
use taskdeck_worker::{Broker, BrokerError, Layout, MemoryBroker, Message, Queue};

#[async_trait]
impl Dashboard for MemoryBroker {
    async fn move_waiting(
        &self,
        target: &Target,
        task_id: &str,
        to: Placement,
    ) -> Result<Moved, BrokerError> {
        let queue = &target.lists().ok_or_else(|| target.refused())?;
        let t = now();
        let mut i = self.state();
        {
            let found = queue.lists().into_iter().find_map(|list| {
                let at = i
                    .queues
                    .get(&list)?
                    .iter()
                    .take(SCAN_WAITING)
                    .position(|m| {
                        Message::parse(m.clone(), t).is_ok_and(|m| m.task_id == task_id)
                    })?;
                Some((list, at))
            });
            let Some((list, at)) = found else {
                return Ok(Moved::NotWaiting);
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
                        return Ok(Moved::NoPriorities);
                    }
                },
            }
            Ok(Moved::Done(was))
        }
    }

    async fn peek_waiting(
        &self,
        target: &Target,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, String)>, BrokerError> {
        let queue = target.lists().ok_or_else(|| target.refused())?;
        let (mut skip, limit) = (offset as usize, limit as usize);
        let i = self.state();
        Ok({
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
        })
    }

    async fn clear(&self, target: &Target) -> Result<u64, BrokerError> {
        let queue = target.lists().ok_or_else(|| target.refused())?;
        Ok(self.discard_waiting(&queue).len() as u64)
    }

    async fn count_waiting(&self, target: &Target) -> Result<u64, BrokerError> {
        let queue = target.lists().ok_or_else(|| target.refused())?;
        Broker::waiting(self, &queue).await
    }

    async fn publish_to(&self, target: &Target, raw: &str) -> Result<(), BrokerError> {
        let queue = target.lists().ok_or_else(|| target.refused())?;
        Broker::publish(self, &queue, raw).await
    }

    async fn queues(&self) -> Result<BrokerQueues, BrokerError> {
        let t = now();
        let i = self.state();
        Ok({
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
                        waiting: Some(lists.iter().map(|l| l.len() as u64).sum()),
                        in_flight: Some(
                            i.in_flight
                                .iter()
                                .filter(|((qn, _), _)| *qn == name)
                                .map(|(_, v)| v.len() as u64)
                                .sum(),
                        ),
                        oldest_waiting,
                        paused_flag: i.paused.contains(&name),
                        desired: i.desired.get(&name).cloned().unwrap_or_default(),
                        params: params.map(|p| p.to_string()),
                        queue: name,
                        ..Default::default()
                    }
                })
                .collect();
            BrokerQueues { now: t, queues }
        })
    }

    async fn heartbeats(&self) -> Result<Heartbeats, BrokerError> {
        let beats = self
            .state()
            .heartbeats
            .values()
            .flat_map(|m| m.values())
            .cloned()
            .collect();
        Ok(Heartbeats { now: now(), beats })
    }
}
