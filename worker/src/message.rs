//! funboost's message: one flat JSON object, the function's keyword arguments at the top level
//! plus an `extra` object (`task_id`, `publish_time`, `publish_time_format`, optional
//! per-message overrides). A message built here is consumed by funboost workers unchanged, and
//! a message published by funboost is consumed here unchanged.

use serde_json::{Map, Value};

/// A message as pulled from the queue. `raw` is kept byte for byte: acknowledging removes
/// exactly that string from the consumer's in-flight set.
#[derive(Clone, Debug)]
pub struct Message {
    /// The message as it was pulled.
    pub raw: String,
    /// `extra.task_id`; a new one when the producer gave none.
    pub task_id: String,
    /// Keyword arguments of the call (everything but `extra`).
    pub kwargs: Map<String, Value>,
    /// funboost's `extra` object (task id, publish time, per-message overrides).
    pub extra: Map<String, Value>,
    /// Epoch seconds; filled in with the pull time when the producer gave none.
    pub publish_time: f64,
}

impl Message {
    /// Parses a pulled message. A message without `extra` (or without some of its fields) is
    /// valid, as in funboost: the missing fields are filled in.
    pub fn parse(raw: String, now: f64) -> Result<Message, String> {
        let value: Value = serde_json::from_str(&raw).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(mut kwargs) = value else {
            return Err("a message must be a JSON object".into());
        };
        let mut extra = match kwargs.remove("extra") {
            Some(Value::Object(extra)) => extra,
            Some(_) => return Err("`extra` must be an object".into()),
            None => Map::new(),
        };
        let task_id = match extra.get("task_id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => {
                let id = new_task_id();
                extra.insert("task_id".into(), id.clone().into());
                extra.insert("is_auto_fill_extra".into(), true.into());
                id
            }
        };
        let publish_time = match extra.get("publish_time").and_then(Value::as_f64) {
            Some(t) => t,
            None => {
                extra.insert("publish_time".into(), now.into());
                now
            }
        };
        Ok(Message {
            raw,
            task_id,
            kwargs,
            extra,
            publish_time,
        })
    }

    /// A new message for `kwargs`, as funboost's publisher writes it.
    pub fn build(kwargs: Map<String, Value>, options: &PublishOptions) -> Message {
        let now = crate::host::now();
        let publish_time = (now * 10_000.0).round() / 10_000.0;
        let task_id = options.task_id.clone().unwrap_or_else(new_task_id);
        let mut extra = Map::new();
        extra.insert("task_id".into(), task_id.clone().into());
        extra.insert("publish_time".into(), publish_time.into());
        extra.insert(
            "publish_time_format".into(),
            crate::host::local_time(now).into(),
        );
        let overrides: [(&str, Option<Value>); 3] = [
            ("max_retry_times", options.max_retries.map(Value::from)),
            (
                "function_timeout",
                options.timeout.map(|d| d.as_secs_f64().into()),
            ),
            (
                "msg_expire_seconds",
                options.expire_after.map(|d| d.as_secs_f64().into()),
            ),
        ];
        for (key, value) in overrides {
            if let Some(v) = value {
                extra.insert(key.into(), v);
            }
        }
        if let Some(p) = options.priority.filter(|p| *p > 0) {
            extra.insert(
                "other_extra_params".into(),
                serde_json::json!({ "priroty": p }),
            );
        }
        if let Some(p) = options.zset_priority {
            extra.insert(
                "other_extra_params".into(),
                serde_json::json!({ "for_broker_redis_zset_priority": { "priority": p } }),
            );
        }
        for (key, value) in &options.extra {
            if !extra.contains_key(key) {
                extra.insert(key.clone(), value.clone());
            }
        }
        let mut body = kwargs.clone();
        body.insert("extra".into(), Value::Object(extra.clone()));
        Message {
            raw: Value::Object(body).to_string(),
            task_id,
            kwargs,
            extra,
            publish_time,
        }
    }

    /// A numeric per-message override from `extra`. funboost ignores falsy overrides (0 means
    /// "use the consumer's setting"), and so does this.
    pub fn option(&self, key: &str) -> Option<f64> {
        self.extra
            .get(key)
            .and_then(Value::as_f64)
            .filter(|v| *v > 0.0)
    }

    /// funboost's REDIS_PRIORITY level (`extra.other_extra_params.priroty`, sic).
    pub fn priority(&self) -> u8 {
        self.extra
            .get("other_extra_params")
            .and_then(|o| o.get("priroty"))
            .and_then(Value::as_u64)
            .map_or(0, |p| p.min(u8::MAX as u64) as u8)
    }

    /// funboost's REDIS_ZSET_PRIORITY score
    /// (`extra.other_extra_params.for_broker_redis_zset_priority.priority`, 0 when absent).
    pub fn zset_priority(&self) -> f64 {
        self.extra
            .get("other_extra_params")
            .and_then(|o| o.get("for_broker_redis_zset_priority"))
            .and_then(|o| o.get("priority"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    }

    /// The whole message as funboost's records carry it (`msg_dict`).
    pub fn msg_dict(&self) -> Value {
        let mut body = self.kwargs.clone();
        body.insert("extra".into(), Value::Object(self.extra.clone()));
        Value::Object(body)
    }
}

/// Per-message choices a producer can make; unset ones fall back to the consumer's settings.
#[derive(Clone, Debug, Default)]
pub struct PublishOptions {
    /// Publish under this task id instead of a new one.
    pub task_id: Option<String>,
    /// Retries of this message (funboost's `max_retry_times` in `extra`).
    pub max_retries: Option<u32>,
    /// Run time limit of this message (funboost's `function_timeout` in `extra`).
    pub timeout: Option<std::time::Duration>,
    /// Expire the message after this long waiting (funboost's `msg_expire_seconds` in `extra`).
    pub expire_after: Option<std::time::Duration>,
    /// funboost REDIS_PRIORITY level (1..=max priority); 0 or none is the plain queue.
    pub priority: Option<u8>,
    /// The queue's highest priority (funboost's `x-max-priority`): higher levels are capped.
    pub max_priority: Option<u8>,
    /// Publish to funboost's REDIS_ZSET_PRIORITY layout with this score (higher runs first).
    pub zset_priority: Option<f64>,
    /// Further `extra` keys funboost reads (`is_using_rpc_mode`, `countdown`,
    /// `user_extra_info`, …); the id and publish time are always the publisher's own.
    pub extra: Map<String, Value>,
}

/// funboost's task ids are UUIDv7 strings: unique and ordered by creation time.
pub fn new_task_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_funboost_message_and_keeps_it_byte_for_byte() {
        let raw = r#"{"x":0,"sleep_s":0.0,"fail":false,"extra":{"task_id":"01a20792-0327-75e5-ba48-61f61b27fb16","publish_time":1795423339.3036,"publish_time_format":"2026-11-23 16:42:19"}}"#;
        let m = Message::parse(raw.to_owned(), 1.0).unwrap();
        assert_eq!(m.raw, raw);
        assert_eq!(m.task_id, "01a20792-0327-75e5-ba48-61f61b27fb16");
        assert_eq!(m.publish_time, 1795423339.3036);
        assert_eq!(m.kwargs.len(), 3);
        assert_eq!(m.kwargs["fail"], json!(false));
    }

    #[test]
    fn fills_in_a_missing_extra_like_funboost() {
        let m = Message::parse(r#"{"x":1}"#.to_owned(), 42.5).unwrap();
        assert_eq!(m.publish_time, 42.5);
        assert_eq!(m.extra["is_auto_fill_extra"], json!(true));
        assert_eq!(m.task_id.len(), 36);
    }

    #[test]
    fn rejects_what_is_not_a_message() {
        assert!(Message::parse("[1]".into(), 0.0).is_err());
        assert!(Message::parse("{".into(), 0.0).is_err());
        assert!(Message::parse(r#"{"extra":3}"#.into(), 0.0).is_err());
    }

    #[test]
    fn built_messages_round_trip_and_ignore_falsy_overrides() {
        let mut kwargs = Map::new();
        kwargs.insert("order_id".into(), json!(7));
        let options = PublishOptions {
            max_retries: Some(0),
            priority: Some(3),
            ..Default::default()
        };
        let built = Message::build(kwargs, &options);
        let parsed = Message::parse(built.raw.clone(), 0.0).unwrap();
        assert_eq!(parsed.task_id, built.task_id);
        assert_eq!(parsed.kwargs["order_id"], json!(7));
        assert_eq!(parsed.priority(), 3);
        assert_eq!(parsed.option("max_retry_times"), None);
        assert!(parsed.extra["publish_time_format"].as_str().unwrap().len() == 19);
    }
}
