//! The messages waiting in a queue's broker keys, read the way its consumers take them, with
//! what taskdeck knows of each task. funboost records a task only when it starts, so this is
//! the one place a message nobody has taken yet can be seen (and moved, revoked or deleted).

use super::{Control, ServiceError};
use crate::broker::Target;

/// Where funboost's consumers put what failed for good (`is_push_to_dlx_queue_when_retry_max_times`):
/// the queue `<queue>_dlx`, published with the queue's own broker kind.
pub(crate) fn dead_letter_queue(queue: &str, params: Option<&Value>) -> Target {
    Target::of(&format!("{queue}_dlx"), params)
}
use futures_util::stream::{self, StreamExt};
use protocol::control::{WaitingMessage, WaitingPage, WAITING_PAGE_MAX, WAITING_PARAMS_MAX};
use serde_json::Value;
use taskdeck_worker::Layout;

/// Record lookups in flight at once for one page.
const LOOKUPS: usize = 16;

/// One waiting message as the page shows it; the record state is filled in afterwards.
fn describe(position: u64, key: String, raw: &str, layout: Layout) -> WaitingMessage {
    let body: Option<serde_json::Map<String, Value>> = serde_json::from_str(raw).ok();
    let extra = body.as_ref().and_then(|b| b.get("extra"));
    // Read where funboost's publishers put it, as the worker reads it.
    let priority = taskdeck_worker::Message::parse(raw.to_owned(), 0.0)
        .ok()
        .and_then(|m| match layout {
            Layout::Zset => Some(m.zset_priority()),
            Layout::Lists { .. } => Some(m.priority()).filter(|p| *p > 0).map(f64::from),
        });
    let params = match &body {
        Some(b) => {
            let kwargs: serde_json::Map<String, Value> = b
                .iter()
                .filter(|(k, _)| k.as_str() != "extra")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kwargs).to_string()
        }
        // Not funboost's JSON: shown as it is.
        None => raw.to_owned(),
    };
    WaitingMessage {
        position,
        key,
        task_id: extra
            .and_then(|e| e.get("task_id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        publish_time: extra
            .and_then(|e| e.get("publish_time"))
            .and_then(Value::as_f64),
        priority,
        params: protocol::cut(params, WAITING_PARAMS_MAX),
        size: raw.len() as u64,
        state: None,
    }
}

impl Control {
    /// `limit` messages waiting in `queue` from `offset` (0 is taken next), with how many wait
    /// in all and each task's recorded state.
    pub async fn waiting_messages(
        &self,
        queue: &str,
        offset: u64,
        limit: u32,
    ) -> Result<WaitingPage, ServiceError> {
        let params = self.known_queue(queue).await?;
        let page = self
            .messages_of(&Target::of(queue, params.as_ref()), offset, limit)
            .await?;
        Ok(page)
    }

    /// The messages funboost dead-lettered from `queue` (`<queue>_dlx`, kept as the queue keeps
    /// its own), as `waiting_messages` shows a queue's.
    pub async fn dead_letters(
        &self,
        queue: &str,
        offset: u64,
        limit: u32,
    ) -> Result<WaitingPage, ServiceError> {
        let params = self.known_queue(queue).await?;
        let mut page = self
            .messages_of(&dead_letter_queue(queue, params.as_ref()), offset, limit)
            .await?;
        page.queue = queue.to_owned();
        Ok(page)
    }

    async fn messages_of(
        &self,
        target: &Target,
        offset: u64,
        limit: u32,
    ) -> Result<WaitingPage, ServiceError> {
        if !(1..=WAITING_PAGE_MAX).contains(&limit) {
            return Err(ServiceError::invalid(format!(
                "`limit` is 1–{WAITING_PAGE_MAX}"
            )));
        }
        if let Some(why) = target.kind.abilities().browse {
            return Err(ServiceError::unsupported(why));
        }
        let queue = target.name.as_str();
        // Where priorities are read from in each message.
        let layout = target
            .lists()
            .map_or(Layout::Lists { max_priority: 0 }, |q| q.layout);
        let failed = |e: taskdeck_worker::BrokerError| {
            ServiceError::unavailable(format!("the broker failed: {e}"))
        };
        let dashboard = self.bus.dashboard();
        let (total, page) = tokio::join!(
            dashboard.count_waiting(target),
            dashboard.peek_waiting(target, offset, u64::from(limit))
        );
        let mut messages: Vec<WaitingMessage> = page
            .map_err(failed)?
            .into_iter()
            .enumerate()
            .map(|(i, (key, raw))| describe(offset + i as u64, key, &raw, layout))
            .collect();
        let ids: Vec<Option<String>> = messages.iter().map(|m| m.task_id.clone()).collect();
        let states: Vec<_> = stream::iter(ids)
            .map(|id| async move {
                match id {
                    Some(id) => self
                        .store
                        .get_task(&id)
                        .await
                        .map(|t| t.map(|t| t.summary.state)),
                    None => Ok(None),
                }
            })
            .buffered(LOOKUPS)
            .collect()
            .await;
        for (m, state) in messages.iter_mut().zip(states) {
            m.state =
                state.map_err(|e| ServiceError::unavailable(format!("the store failed: {e:#}")))?;
        }
        Ok(WaitingPage {
            queue: queue.to_owned(),
            now: crate::model::now_epoch(),
            layout: target
                .kind
                .broker_kind
                .clone()
                .unwrap_or_else(|| "REDIS_ACK_ABLE".into()),
            total: total.map_err(failed)?,
            offset,
            messages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_shown_with_its_priority_params_and_size() {
        let raw = r#"{"x":1,"extra":{"task_id":"t1","publish_time":1795423726.17,"other_extra_params":{"priroty":3}}}"#;
        let m = describe(4, "q:3".into(), raw, Layout::Lists { max_priority: 4 });
        assert_eq!(m.task_id.as_deref(), Some("t1"));
        assert_eq!(m.priority, Some(3.0));
        assert_eq!(m.params, r#"{"x":1}"#);
        assert_eq!(m.publish_time, Some(1795423726.17));
        assert_eq!((m.position, m.size), (4, raw.len() as u64));

        let zset = r#"{"extra":{"task_id":"z","other_extra_params":{"for_broker_redis_zset_priority":{"priority":2.5}}}}"#;
        assert_eq!(
            describe(0, "q".into(), zset, Layout::Zset).priority,
            Some(2.5)
        );

        let junk = describe(0, "q".into(), "not json", Layout::Lists { max_priority: 0 });
        assert_eq!((junk.task_id, junk.params.as_str()), (None, "not json"));

        let long = format!(r#"{{"s":"{}","extra":{{}}}}"#, "é".repeat(5_000));
        let m = describe(0, "q".into(), &long, Layout::Lists { max_priority: 0 });
        assert!(m.params.len() <= WAITING_PARAMS_MAX + '…'.len_utf8() && m.params.ends_with('…'));
    }
}
