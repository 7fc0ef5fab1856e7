//! How a funboost queue keeps its messages, from the `broker_kind` its consumers registered
//! (protocol notes §2.9–2.10, funboost 55's `BrokerEnum`): which Redis keys hold what waits,
//! where taken messages are kept, and so what the dashboard can do with them. A kind taskdeck
//! does not read (RabbitMQ, Kafka, …) is known from what its workers report.

use protocol::queue::Abilities;
use serde_json::Value;
use taskdeck_worker::Queue;

/// How a queue keeps its waiting messages.
#[derive(Clone, Debug, PartialEq)]
pub enum Keeping {
    /// Lists `q:N` … `q:1`, `q`, taken from the head, highest priority first: `REDIS`,
    /// `REDIS_ACK_ABLE`, `REDIS_PRIORITY`, `reids_ack_using_timeout` (sic).
    Lists { max_priority: u8, taken: Taken },
    /// `RedisBrpopLpush`: one list, producers push on the left, consumers take from the right.
    TailList,
    /// `REDIS_ZSET_PRIORITY`: one zset, the highest score taken first.
    PriorityZset,
    /// `REDIS_ZSET_DELAY`: one zset scored by due time.
    DelayZset,
    /// `REDIS_STREAM`: a stream read through a consumer group.
    Stream {
        /// The group funboost's consumers read through (`funboost_group` by default).
        group: String,
    },
    /// `REDIS_PUBSUB`: nothing is kept; a message nobody listens to is gone.
    NotKept,
    /// A broker that is not Redis: its workers report the backlog.
    Elsewhere,
}

/// Where a list queue's taken (unacknowledged) messages are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// `REDIS`: in the workers' memory only.
    Untracked,
    /// One zset per consumer, `<q>__unack_id_<consumer>`, listed in `funboost_unack_registry:<q>`.
    UnackZsets,
    /// One zset, `<q>__unack_using_timeout`, put back after `ack_timeout`.
    TimeoutZset,
}

/// A queue with its kind, as the dashboard acts on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Kind {
    /// The `broker_kind` as registered (`None`: none registered; read as a plain list).
    pub broker_kind: Option<String>,
    pub keeping: Keeping,
}

impl Kind {
    /// The kind funboost's consumer parameters name; a queue without parameters (events only,
    /// or registered by an older worker) is read as funboost's default, a REDIS_ACK_ABLE list.
    pub fn of(params: Option<&Value>) -> Kind {
        let broker_kind = params
            .and_then(|p| p.get("broker_kind"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let exclusive = |key: &str| {
            params
                .and_then(|p| p.get("broker_exclusive_config"))
                .and_then(|c| c.get(key))
        };
        let keeping = match broker_kind.as_deref() {
            None | Some("REDIS_ACK_ABLE") => Keeping::Lists {
                max_priority: 0,
                taken: Taken::UnackZsets,
            },
            Some("REDIS") => Keeping::Lists {
                max_priority: 0,
                taken: Taken::Untracked,
            },
            Some("REDIS_PRIORITY") => Keeping::Lists {
                max_priority: exclusive("x-max-priority")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(u64::from(u8::MAX)) as u8,
                taken: Taken::UnackZsets,
            },
            Some("reids_ack_using_timeout" | "REIDS_ACK_USING_TIMEOUT") => Keeping::Lists {
                max_priority: 0,
                taken: Taken::TimeoutZset,
            },
            Some("RedisBrpopLpush") => Keeping::TailList,
            Some("REDIS_ZSET_PRIORITY") => Keeping::PriorityZset,
            Some("REDIS_ZSET_DELAY") => Keeping::DelayZset,
            Some("REDIS_STREAM") => Keeping::Stream {
                group: exclusive("group")
                    .and_then(Value::as_str)
                    .unwrap_or("funboost_group")
                    .to_owned(),
            },
            Some("REDIS_PUBSUB") => Keeping::NotKept,
            Some(_) => Keeping::Elsewhere,
        };
        Kind {
            broker_kind,
            keeping,
        }
    }

    /// The queue as the worker crate's list and zset operations take it, where they apply.
    pub fn lists(&self, name: &str) -> Option<Queue> {
        match self.keeping {
            Keeping::Lists { max_priority, .. } => Some(Queue::with_priorities(name, max_priority)),
            Keeping::PriorityZset => Some(Queue::zset(name)),
            _ => None,
        }
    }

    /// What the dashboard can do with the waiting messages of this kind.
    pub fn abilities(&self) -> Abilities {
        let kind = self.broker_kind.as_deref().unwrap_or("REDIS_ACK_ABLE");
        let not_here = |what: &str| Some(format!("{kind} queues: {what}"));
        match &self.keeping {
            Keeping::Lists { taken, .. } => Abilities {
                browse: None,
                reorder: None,
                clear: None,
                publish: None,
                requeue: match taken {
                    Taken::UnackZsets => None,
                    Taken::Untracked => {
                        not_here("taken messages live only in the workers' memory; none can be put back")
                    }
                    Taken::TimeoutZset => not_here(
                        "their consumers put back what was not acknowledged within `ack_timeout`",
                    ),
                },
            },
            Keeping::PriorityZset => Abilities::default(),
            Keeping::Stream { .. } => Abilities {
                browse: None,
                publish: None,
                reorder: not_here("a stream has no priorities and no front but the oldest entry"),
                clear: None,
                requeue: not_here(
                    "their consumers claim the pending entries of stopped consumers themselves",
                ),
            },
            Keeping::TailList => Abilities {
                publish: None,
                ..unable(not_here(
                    "taskdeck does not yet browse lists taken from the tail",
                ))
            },
            Keeping::DelayZset => Abilities {
                publish: None,
                ..unable(not_here(
                    "taskdeck does not yet browse messages waiting for their due time",
                ))
            },
            Keeping::NotKept => Abilities {
                publish: None,
                ..unable(not_here("nothing waits: messages are not kept"))
            },
            Keeping::Elsewhere => unable(Some(format!(
                "{kind} keeps its messages outside Redis; taskdeck shows the backlog its workers report"
            ))),
        }
    }
}

/// Nothing can be done, for one reason.
fn unable(why: Option<String>) -> Abilities {
    Abilities {
        browse: why.clone(),
        reorder: why.clone(),
        clear: why.clone(),
        requeue: why.clone(),
        publish: why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_funboost_kind_is_read_as_it_keeps_its_messages() {
        let kind = |k: &str| Kind::of(Some(&json!({"broker_kind": k}))).keeping;
        assert_eq!(
            Kind::of(None).keeping,
            Keeping::Lists {
                max_priority: 0,
                taken: Taken::UnackZsets
            }
        );
        assert_eq!(
            kind("REDIS"),
            Keeping::Lists {
                max_priority: 0,
                taken: Taken::Untracked
            }
        );
        assert_eq!(
            kind("reids_ack_using_timeout"),
            Keeping::Lists {
                max_priority: 0,
                taken: Taken::TimeoutZset
            }
        );
        assert_eq!(kind("RedisBrpopLpush"), Keeping::TailList);
        assert_eq!(kind("REDIS_ZSET_DELAY"), Keeping::DelayZset);
        assert_eq!(kind("REDIS_PUBSUB"), Keeping::NotKept);
        assert_eq!(kind("RABBITMQ_AMQPSTORM"), Keeping::Elsewhere);
        assert_eq!(
            kind("REDIS_STREAM"),
            Keeping::Stream {
                group: "funboost_group".into()
            }
        );
        let custom = Kind::of(Some(&json!({
            "broker_kind": "REDIS_STREAM", "broker_exclusive_config": {"group": "g2"}
        })));
        assert_eq!(custom.keeping, Keeping::Stream { group: "g2".into() });
        let levels = Kind::of(Some(&json!({
            "broker_kind": "REDIS_PRIORITY", "broker_exclusive_config": {"x-max-priority": 4}
        })));
        assert_eq!(levels.lists("q"), Some(Queue::with_priorities("q", 4)));
    }

    #[test]
    fn what_a_kind_cannot_do_says_why() {
        let kind = |k: &str| Kind::of(Some(&json!({"broker_kind": k}))).abilities();
        assert_eq!(kind("REDIS_ACK_ABLE"), Abilities::default());
        let rabbit = kind("RABBITMQ_AMQPSTORM");
        assert!(rabbit.browse.unwrap().contains("outside Redis"));
        let stream = kind("REDIS_STREAM");
        assert_eq!((stream.browse, stream.clear), (None, None));
        assert!(stream.reorder.is_some() && stream.requeue.is_some());
        assert!(kind("REDIS").requeue.unwrap().contains("workers' memory"));
    }
}
