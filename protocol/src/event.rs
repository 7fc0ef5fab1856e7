//! Task status events and the task record they build.
//!
//! A funboost status dict (`FunctionResultStatus.get_status_dict`) is a valid event as it is.
//! taskdeck adds optional fields (`state`, `traceback`, `consumer_id`, `v`); fields this build
//! does not know are kept in [`TaskEvent::other`], never dropped. `docs/events.md` documents
//! the format with examples.

pub use crate::state::TaskState;
use crate::task::{Attempt, MAX_ATTEMPTS, MAX_ATTEMPT_MSG};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// Highest event-format version this build reads. Events without `v` are version 1.
pub const EVENT_FORMAT_VERSION: u64 = 1;
/// Longest accepted `task_id` / `queue_name`, in bytes.
pub const MAX_ID_LEN: usize = 256;
/// The field that lists the payloads taskdeck cut to size, with their original sizes in bytes.
pub const CUT_FIELD: &str = "taskdeck_cut";

/// One status event as it arrives: funboost's field names, all optional but the two ids.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TaskEvent {
    /// Event-format version; absent means 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v: Option<u64>,
    /// The task's id (funboost's `extra.task_id`); at most [`MAX_ID_LEN`] bytes.
    pub task_id: String,
    /// The queue it ran on; at most [`MAX_ID_LEN`] bytes.
    pub queue_name: String,
    /// taskdeck: the state outright; without it the state is read from `run_status` and `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    /// funboost: `running` or `finish`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_status: Option<String>,
    /// funboost: whether the finished run succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// The consuming function's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The call's keyword arguments, as the JSON text that was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
    /// funboost: the params as a string, when `params` is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params_str: Option<String>,
    /// The return value, as the JSON text that was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    /// funboost: the attempt number (1 for the first run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_times: Option<u32>,
    /// funboost: the exception as one string, `Type    message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// The exception's type, e.g. `ValueError`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_type: Option<String>,
    /// The exception's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_msg: Option<String>,
    /// taskdeck: the traceback of the exception.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceback: Option<String>,
    /// Epoch seconds (UTC), from the message's `extra`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_time: Option<f64>,
    /// When the run started, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_start: Option<f64>,
    /// When it ended, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_end: Option<f64>,
    /// Seconds it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_cost: Option<f64>,
    /// The host it ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// funboost: `host - pid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_process: Option<String>,
    /// The worker process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_id: Option<i64>,
    /// The thread that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<i64>,
    /// The worker's script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_name: Option<String>,
    /// taskdeck: the consumer identification that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<String>,
    /// The task's attempts so far, oldest first (taskdeck workers and the funboost mixin send
    /// them once a task is retried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<Attempt>>,
    /// Everything else (`msg_dict`, `user_context`, `insert_time_str`, fields of newer
    /// formats, …), kept as the JSON text it came as.
    #[serde(flatten)]
    pub other: OtherFields,
}

/// Fields of an event taskdeck has no column for, in arrival order, values as raw JSON.
#[derive(Clone, Debug, Default)]
pub struct OtherFields(pub Vec<(String, Box<RawValue>)>);

impl OtherFields {
    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Whether `key` is there.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Drops every `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// Adds a field (replacing one of the same name) with a value to serialise.
    pub fn insert(&mut self, key: &str, value: &impl Serialize) {
        if let Ok(raw) = serde_json::value::to_raw_value(value) {
            self.remove(key);
            self.0.push((key.to_owned(), raw));
        }
    }

    /// The fields as one JSON object text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            2 + self
                .0
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>(),
        );
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Field names almost never need escaping: skip the serializer for those.
            if k.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
                out.push('"');
                out.push_str(k);
                out.push('"');
            } else {
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
            }
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        out
    }
}

impl Serialize for OtherFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Hand-written so that unknown fields and payloads are captured as raw JSON text (no value
/// trees to build and serialise again) and so that a field of the wrong type is named.
impl<'de> Deserialize<'de> for TaskEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = TaskEvent;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a task event object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TaskEvent, A::Error> {
                use serde::de::Error;
                let mut e = TaskEvent::default();
                let (mut task_id, mut queue_name) = (None, None);
                macro_rules! field {
                    ($key:expr, $expected:expr) => {
                        map.next_value().map_err(|err| {
                            A::Error::custom(format!("`{}` must be {}: {err}", $key, $expected))
                        })?
                    };
                }
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "v" => e.v = field!(key, "a positive integer"),
                        "task_id" => task_id = field!(key, "a string"),
                        "queue_name" => queue_name = field!(key, "a string"),
                        "state" => {
                            e.state = field!(
                            key,
                            "one of pending, running, success, failed, killed, revoked, expired"
                        )
                        }
                        "run_status" => e.run_status = field!(key, "a string"),
                        "success" => e.success = field!(key, "true or false"),
                        "function" => e.function = field!(key, "a string"),
                        "params" => e.params = Some(field!(key, "JSON")),
                        // funboost sends both; the text is only a copy of `params`, so it is
                        // skipped unread (a quarter of the parse time of a typical event).
                        "params_str" if e.params.is_some() => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        "params_str" => e.params_str = field!(key, "a string"),
                        "result" => e.result = Some(field!(key, "JSON")),
                        "run_times" => e.run_times = field!(key, "a non-negative integer"),
                        "exception" => e.exception = field!(key, "a string"),
                        "exception_type" => e.exception_type = field!(key, "a string"),
                        "exception_msg" => e.exception_msg = field!(key, "a string"),
                        "traceback" => e.traceback = field!(key, "a string"),
                        "publish_time" => e.publish_time = field!(key, "a number"),
                        "time_start" => e.time_start = field!(key, "a number"),
                        "time_end" => e.time_end = field!(key, "a number"),
                        "time_cost" => e.time_cost = field!(key, "a number"),
                        "host_name" => e.host_name = field!(key, "a string"),
                        "host_process" => e.host_process = field!(key, "a string"),
                        "process_id" => e.process_id = field!(key, "an integer"),
                        "thread_id" => e.thread_id = field!(key, "an integer"),
                        "script_name" => e.script_name = field!(key, "a string"),
                        "consumer_id" => e.consumer_id = field!(key, "a string"),
                        "attempts" => {
                            e.attempts = field!(
                                key,
                                "an array of {n, start, end, state, exception_type, exception_msg}"
                            )
                        }
                        _ => {
                            let value: Box<RawValue> = map.next_value()?;
                            e.other.0.push((key.into_owned(), value));
                        }
                    }
                }
                e.task_id =
                    task_id.ok_or_else(|| A::Error::custom("`task_id` is missing or empty"))?;
                e.queue_name = queue_name
                    .ok_or_else(|| A::Error::custom("`queue_name` is missing or empty"))?;
                Ok(e)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// funboost writes `""` for "none" (Mongo stores no nulls): empty text counts as absent.
fn absent_if_empty<const N: usize>(fields: [&mut Option<String>; N]) {
    for field in fields {
        if field.as_deref().is_some_and(str::is_empty) {
            *field = None;
        }
    }
}

/// Why an event was refused. The message is meant for the person who sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError(pub String);

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventError {}

impl TaskEvent {
    /// Parses and checks one event from JSON text, as every source receives it.
    pub fn from_json_str(text: &str) -> Result<TaskEvent, EventError> {
        let first = text.trim_start().chars().next();
        if first != Some('{') {
            return match serde_json::from_str::<Value>(text) {
                Ok(v) => Err(EventError(format!(
                    "an event must be a JSON object, got {}",
                    json_kind(&v)
                ))),
                Err(e) => Err(EventError(format!("not JSON: {e}"))),
            };
        }
        let mut event: TaskEvent = serde_json::from_str(text).map_err(|e| EventError(clean(e)))?;
        event.normalise();
        event.validate()?;
        event.make_storable();
        Ok(event)
    }

    /// Parses and checks one event given as a JSON value.
    pub fn from_json(value: Value) -> Result<TaskEvent, EventError> {
        TaskEvent::from_json_str(&value.to_string())
    }

    fn normalise(&mut self) {
        absent_if_empty([
            &mut self.exception,
            &mut self.exception_type,
            &mut self.exception_msg,
            &mut self.traceback,
        ]);
        // Mongo documents carry `_id` = task_id; the record has its own key.
        let id = self
            .other
            .get("_id")
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
        if id.as_deref() == Some(self.task_id.as_str()) {
            self.other.remove("_id");
        }
        if let Some(attempts) = &mut self.attempts {
            let over = attempts.len().saturating_sub(MAX_ATTEMPTS);
            attempts.drain(..over);
            for a in attempts.iter_mut() {
                absent_if_empty([&mut a.exception_type, &mut a.exception_msg]);
                a.exception_msg = a
                    .exception_msg
                    .take()
                    .map(|m| crate::cut(m, MAX_ATTEMPT_MSG));
            }
        }
        // `null` payloads are absent payloads.
        for payload in [&mut self.params, &mut self.result] {
            if payload.as_ref().is_some_and(|p| p.get() == "null") {
                *payload = None;
            }
        }
    }

    /// Applies [`crate::text`]'s rules: no U+0000, no lone surrogates, every field bounded.
    /// What was cut is listed in the `taskdeck_cut` field (`{"params": <original bytes>, …}`).
    fn make_storable(&mut self) {
        use crate::text::{storable_json, storable_key, storable_opt, Limits};
        for (field, max) in [
            (&mut self.function, Limits::NAME),
            (&mut self.exception_type, Limits::NAME),
            (&mut self.host_name, Limits::NAME),
            (&mut self.host_process, Limits::NAME),
            (&mut self.script_name, Limits::NAME),
            (&mut self.consumer_id, Limits::NAME),
            (&mut self.exception_msg, Limits::MESSAGE),
            (&mut self.exception, Limits::MESSAGE),
            (&mut self.traceback, Limits::TRACEBACK),
            (&mut self.params_str, Limits::JSON),
        ] {
            *field = storable_opt(field.take(), max);
        }
        for a in self.attempts.iter_mut().flatten() {
            a.exception_type = storable_opt(a.exception_type.take(), Limits::NAME);
            a.exception_msg = storable_opt(a.exception_msg.take(), MAX_ATTEMPT_MSG);
        }
        let mut cut: Vec<(String, usize)> = Vec::new();
        for (name, payload) in [("params", &mut self.params), ("result", &mut self.result)] {
            if let Some(raw) = payload.take() {
                let (kept, was) = storable_json(raw, Limits::JSON);
                *payload = Some(kept);
                if let Some(bytes) = was {
                    cut.push((name.to_owned(), bytes));
                }
            }
        }
        // Other fields share one budget: each value within what is left of it.
        let mut left = Limits::JSON;
        let fields = std::mem::take(&mut self.other.0);
        for (key, value) in fields {
            let key = storable_key(key);
            let budget = left.saturating_sub(key.len() + 4).max(16);
            let (kept, was) = storable_json(value, budget);
            if let Some(bytes) = was {
                cut.push((key.clone(), bytes));
            }
            left = left.saturating_sub(key.len() + kept.get().len() + 4);
            self.other.0.push((key, kept));
        }
        if !cut.is_empty() {
            let cut: serde_json::Map<String, Value> =
                cut.into_iter().map(|(k, n)| (k, Value::from(n))).collect();
            self.other.insert(CUT_FIELD, &cut);
        }
    }

    fn validate(&self) -> Result<(), EventError> {
        if let Some(v) = self.v {
            if v == 0 || v > EVENT_FORMAT_VERSION {
                return Err(EventError(format!(
                    "event format version {v} is not supported; this taskdeck reads versions 1..={EVENT_FORMAT_VERSION}"
                )));
            }
        }
        for (name, value) in [("task_id", &self.task_id), ("queue_name", &self.queue_name)] {
            if value.trim().is_empty() {
                return Err(EventError(format!("`{name}` is missing or empty")));
            }
            if value.len() > MAX_ID_LEN {
                return Err(EventError(format!(
                    "`{name}` is longer than {MAX_ID_LEN} bytes"
                )));
            }
            if crate::text::has_control(value) {
                return Err(EventError(format!(
                    "`{name}` must not contain control characters"
                )));
            }
        }
        if self.state.is_none() && self.run_status.is_none() {
            return Err(EventError(
                "the event has neither `state` nor `run_status`".into(),
            ));
        }
        if let Some(rs) = &self.run_status {
            if rs != "running" && rs != "finish" {
                return Err(EventError(format!(
                    "`run_status` must be \"running\" or \"finish\", got {rs:?}"
                )));
            }
        }
        for (name, t) in [
            ("publish_time", self.publish_time),
            ("time_start", self.time_start),
            ("time_end", self.time_end),
            ("time_cost", self.time_cost),
        ] {
            if t.is_some_and(|t| !t.is_finite() || t < 0.0) {
                return Err(EventError(format!(
                    "`{name}` must be a non-negative number of seconds"
                )));
            }
        }
        self.validate_attempts()
    }

    fn validate_attempts(&self) -> Result<(), EventError> {
        let mut last = 0;
        for (i, a) in self.attempts.iter().flatten().enumerate() {
            let bad = |why: &str| Err(EventError(format!("`attempts[{i}]`: {why}")));
            if a.n <= last {
                return bad("attempt numbers must start at 1 and rise");
            }
            last = a.n;
            if [Some(a.start), a.end]
                .into_iter()
                .flatten()
                .any(|t| !t.is_finite() || t < 0.0)
            {
                return bad("`start` and `end` must be non-negative numbers of seconds");
            }
            if a.end.is_some_and(|end| end < a.start) {
                return bad("`end` is before `start`");
            }
        }
        Ok(())
    }

    /// The state this event reports: `state` when given, else derived from funboost's
    /// `run_status` and `success` (a failed finish without an exception is a kill: that is how
    /// funboost records killed and revoked tasks).
    pub fn effective_state(&self) -> TaskState {
        if let Some(state) = self.state {
            return state;
        }
        match (self.run_status.as_deref(), self.success) {
            (Some("running"), _) => TaskState::Running,
            (_, Some(true)) => TaskState::Success,
            _ if self.exception_type.is_some() || self.exception.is_some() => TaskState::Failed,
            _ => TaskState::Killed,
        }
    }

    /// The exception class, from `exception_type` or funboost's `"<Class>    <message>"`.
    pub fn exception_class(&self) -> Option<String> {
        self.exception_type.clone().or_else(|| {
            let e = self.exception.as_deref()?;
            Some(e.split("    ").next().unwrap_or(e).trim().to_owned()).filter(|s| !s.is_empty())
        })
    }

    /// The exception's message: `exception_msg`, else what follows the type in `exception`.
    pub fn exception_message(&self) -> Option<String> {
        self.exception_msg.clone().or_else(|| {
            let e = self.exception.as_deref()?;
            e.split_once("    ").map(|(_, m)| m.trim().to_owned())
        })
    }
}

/// serde_json's message without its " at line 1 column 57" suffix when the event is one line.
fn clean(e: serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rsplit_once(" at line 1 column ") {
        Some((head, _)) => head.to_owned(),
        None => msg,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn funboost_finish() -> Value {
        json!({
            "_id": "01a2", "task_id": "01a2", "queue_name": "demo_q", "function": "demo_task",
            "msg_dict": {"x": 1, "extra": {"task_id": "01a2", "publish_time": 1795423339.3036}},
            "params": {"x": 1}, "params_str": "{\"x\":1}", "publish_time": 1795423339.3036,
            "publish_time_format": "2026-11-23 16:42:19", "result": "FUNC_RUN_ERROR",
            "success": false, "run_status": "finish", "run_times": 2,
            "exception": "ZeroDivisionError    division by zero", "exception_type": "ZeroDivisionError",
            "exception_msg": "division by zero", "rpc_chain_error_msg_dict": null,
            "time_start": 1795423339.4, "time_end": 1795423340.1, "time_cost": 0.7,
            "host_process": "vm - 902", "host_name": "vm", "process_id": 902,
            "thread_id": 140111319348944_i64, "total_thread": 12, "script_name": "worker.py",
            "script_name_long": "/srv/app/worker.py", "user_context": {}, "insert_time_str": "2026-11-23 16:42:20",
            "insert_minutes": "2026-11-23 16:42"
        })
    }

    #[test]
    fn a_funboost_status_dict_is_an_event_and_unknown_fields_are_kept() {
        let e = TaskEvent::from_json(funboost_finish()).unwrap();
        assert_eq!(e.task_id, "01a2");
        assert_eq!(e.effective_state(), TaskState::Failed);
        assert_eq!(e.exception_class().as_deref(), Some("ZeroDivisionError"));
        assert_eq!(e.run_times, Some(2));
        for kept in [
            "msg_dict",
            "publish_time_format",
            "script_name_long",
            "user_context",
            "total_thread",
        ] {
            assert!(e.other.contains_key(kept), "{kept} dropped");
        }
        assert!(!e.other.contains_key("_id"));
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["msg_dict"]["x"], 1);
        assert_eq!(back["params"]["x"], 1);
        assert!(back.get("_id").is_none());
    }

    #[test]
    fn other_fields_are_kept_as_a_json_object_whatever_their_names() {
        let text = r#"{"task_id":"t","queue_name":"q","state":"running","plain":1,"quo\"te":[2],"back\\slash\n":{"a":"b"},"ünï":"x"}"#;
        let e = TaskEvent::from_json_str(text).unwrap();
        let back: serde_json::Value = serde_json::from_str(&e.other.to_json()).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"plain": 1, "quo\"te": [2], "back\\slash\n": {"a": "b"}, "ünï": "x"})
        );
    }

    #[test]
    fn text_and_value_parsing_agree() {
        let text = funboost_finish().to_string();
        let a = serde_json::to_value(TaskEvent::from_json_str(&text).unwrap()).unwrap();
        let b = serde_json::to_value(TaskEvent::from_json(funboost_finish()).unwrap()).unwrap();
        assert_eq!(a, b);
        let bad = r#"{"task_id":"t","queue_name":"q","state":"running","run_times":"x"}"#;
        assert!(TaskEvent::from_json_str(bad)
            .unwrap_err()
            .to_string()
            .contains("`run_times`"));
        assert!(TaskEvent::from_json_str("{broken").is_err());
        assert!(TaskEvent::from_json_str("[1]")
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        assert!(
            TaskEvent::from_json_str(r#"{"task_id":"","queue_name":"q","state":"running"}"#)
                .is_err()
        );
    }

    #[test]
    fn params_str_is_read_only_when_params_is_absent() {
        let with_params = TaskEvent::from_json_str(&funboost_finish().to_string()).unwrap();
        assert_eq!(with_params.params.unwrap().get(), r#"{"x":1}"#);
        assert_eq!(with_params.params_str, None, "a copy of params, skipped");
        let alone =
            r#"{"task_id":"t","queue_name":"q","state":"running","params_str":"{\"x\":2}"}"#;
        let e = TaskEvent::from_json_str(alone).unwrap();
        assert_eq!(e.params_str.as_deref(), Some(r#"{"x":2}"#));
        // Before `params`, it is read (and checked) as it comes.
        let first =
            r#"{"task_id":"t","queue_name":"q","state":"running","params_str":7,"params":{}}"#;
        assert!(TaskEvent::from_json_str(first)
            .unwrap_err()
            .to_string()
            .contains("`params_str` must be a string"));
    }

    #[test]
    fn states_are_derived_from_funboost_fields() {
        let mut v = funboost_finish();
        v["run_status"] = json!("running");
        assert_eq!(
            TaskEvent::from_json(v.clone()).unwrap().effective_state(),
            TaskState::Running
        );
        v["run_status"] = json!("finish");
        v["success"] = json!(true);
        assert_eq!(
            TaskEvent::from_json(v.clone()).unwrap().effective_state(),
            TaskState::Success
        );
        v["success"] = json!(false);
        v["exception"] = json!("");
        v["exception_type"] = json!(null);
        v["exception_msg"] = json!(null);
        assert_eq!(
            TaskEvent::from_json(v.clone()).unwrap().effective_state(),
            TaskState::Killed
        );
        v["state"] = json!("revoked");
        assert_eq!(
            TaskEvent::from_json(v).unwrap().effective_state(),
            TaskState::Revoked
        );
    }

    #[test]
    fn malformed_events_are_refused_with_a_reason() {
        let cases = [
            (json!([1]), "JSON object"),
            (json!({"queue_name": "q", "state": "running"}), "task_id"),
            (
                json!({"task_id": "", "queue_name": "q", "state": "running"}),
                "task_id",
            ),
            (json!({"task_id": "t", "queue_name": "q"}), "run_status"),
            (
                json!({"task_id": "t", "queue_name": "q", "state": "exploded"}),
                "unknown variant",
            ),
            (
                json!({"task_id": "t", "queue_name": "q", "run_status": "done"}),
                "run_status",
            ),
            (
                json!({"task_id": "t", "queue_name": "q", "state": "running", "v": 9}),
                "version 9",
            ),
            (
                json!({"task_id": "t", "queue_name": "q", "state": "running", "time_start": -1.0}),
                "time_start",
            ),
            (
                json!({"task_id": "t", "queue_name": "q", "state": "running", "run_times": "x"}),
                "run_times",
            ),
            (
                json!({"task_id": "t".repeat(300), "queue_name": "q", "state": "running"}),
                "longer than",
            ),
        ];
        for (value, expected) in cases {
            let err = TaskEvent::from_json(value.clone()).unwrap_err().to_string();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn what_a_store_cannot_hold_is_decided_at_parse_time() {
        let text = r#"{"task_id":"t","queue_name":"q","state":"failed","exception_msg":"a\u0000b",
            "exception_type":"E\u0000","params":{"k\u0000":"v\u0000","s":"\ud800"},
            "result":"\u0000","odd\u0000":["\u0000"]}"#;
        let e = TaskEvent::from_json_str(text).unwrap();
        assert_eq!(e.exception_msg.as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(e.exception_type.as_deref(), Some("E\u{FFFD}"));
        assert_eq!(
            e.params.as_ref().unwrap().get(),
            r#"{"k\ufffd":"v\ufffd","s":"\ufffd"}"#
        );
        assert_eq!(e.result.as_ref().unwrap().get(), r#""\ufffd""#);
        let back = serde_json::to_string(&e).unwrap();
        assert!(!back.contains("\\u0000") && !back.contains('\0'), "{back}");
        assert!(e.other.contains_key("odd\u{FFFD}"));
        // Ids are refused with a reason rather than changed.
        for id in [r"a\u0000", r"a\n", r"a\u007f"] {
            let text = format!(r#"{{"task_id":"{id}","queue_name":"q","state":"running"}}"#);
            let err = TaskEvent::from_json_str(&text).unwrap_err().to_string();
            assert!(err.contains("control characters"), "{err}");
        }
    }

    #[test]
    fn every_field_is_bounded_and_cut_payloads_are_named() {
        use crate::text::Limits;
        let big = "x".repeat(Limits::JSON * 2);
        let e = TaskEvent::from_json(json!({"task_id": "t", "queue_name": "q", "state": "failed",
            "params": {"big": big}, "result": big, "traceback": big, "exception_msg": big,
            "function": big, "host_name": big, "msg_dict": {"big": big}, "other": big,
            "exception": format!("{big}    m")}))
        .unwrap();
        assert!(e.params.as_ref().unwrap().get().len() <= Limits::JSON + 8);
        assert!(e.result.as_ref().unwrap().get().len() <= Limits::JSON + 8);
        assert!(e.traceback.as_ref().unwrap().len() <= Limits::TRACEBACK + 3);
        assert!(e.exception_msg.as_ref().unwrap().len() <= Limits::MESSAGE + 3);
        assert!(e.function.as_ref().unwrap().len() <= Limits::NAME + 3);
        assert!(e.host_name.as_ref().unwrap().len() <= Limits::NAME + 3);
        assert!(e.exception_class().unwrap().len() <= Limits::MESSAGE + 3);
        assert!(
            e.other.to_json().len() <= 2 * Limits::JSON,
            "{}",
            e.other.to_json().len()
        );
        let cut: Value = serde_json::from_str(e.other.get(CUT_FIELD).unwrap().get()).unwrap();
        assert_eq!(cut["params"], Limits::JSON * 2 + 10);
        assert!(cut["result"].as_u64().unwrap() > Limits::JSON as u64);
        assert!(cut["msg_dict"].is_u64() && cut["other"].is_u64(), "{cut}");
    }

    #[test]
    fn state_codes_round_trip_and_finals_rank_highest() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::from_code(s.code()), Some(s));
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
            assert_eq!(s.is_final(), s.rank() == 2);
        }
        assert!(TaskState::Running.rank() > TaskState::Pending.rank());
        // (stored rank, runs) → (newer rank, runs)
        assert!(TaskState::advances(0, 0, 1, 1), "pending → running");
        assert!(TaskState::advances(1, 1, 2, 1), "running → final");
        assert!(!TaskState::advances(2, 1, 1, 2), "a final state stays");
        assert!(TaskState::advances(1, 1, 1, 2), "a later attempt");
        assert!(!TaskState::advances(1, 2, 1, 2), "a duplicate");
        assert!(TaskState::advances(1, 1, 0, 1), "requeued");
        assert!(!TaskState::advances(1, 1, 0, 0), "a late publish event");
        assert!(!TaskState::advances(1, 3, 0, 2), "an older requeue");
    }

    #[test]
    fn attempts_are_read_cut_to_size_and_checked() {
        let event = |attempts: Value| {
            TaskEvent::from_json(
                json!({"task_id": "t", "queue_name": "q", "state": "running",
                "run_times": 2, "attempts": attempts}),
            )
        };
        let e = event(json!([
            {"n": 1, "start": 10.0, "end": 10.5, "state": "failed", "exception_type": "IOError",
             "exception_msg": "x".repeat(3000)},
            {"n": 2, "start": 11.0, "exception_type": ""}
        ]))
        .unwrap();
        let a = e.attempts.as_deref().unwrap();
        assert_eq!(a[0].state, Some(TaskState::Failed));
        assert_eq!(a[0].run(), Some(0.5));
        assert_eq!(
            a[0].exception_msg.as_deref().unwrap().len(),
            MAX_ATTEMPT_MSG + '…'.len_utf8()
        );
        assert_eq!((a[1].end, a[1].exception_type.as_deref()), (None, None));
        let many: Vec<Value> = (1..=150).map(|n| json!({"n": n, "start": n})).collect();
        let kept = event(Value::Array(many)).unwrap().attempts.unwrap();
        assert_eq!((kept.len(), kept[0].n), (MAX_ATTEMPTS, 51));
        for (bad, why) in [
            (json!([{"n": 0, "start": 1}]), "attempt numbers"),
            (
                json!([{"n": 2, "start": 1}, {"n": 1, "start": 2}]),
                "attempt numbers",
            ),
            (json!([{"n": 1, "start": 5, "end": 4}]), "`end` is before"),
            (json!([{"n": 1, "start": -1}]), "non-negative"),
            (json!([{"n": 1}]), "`attempts` must be"),
            (json!({"n": 1}), "`attempts` must be"),
        ] {
            let err = event(bad.clone()).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}

/// Whatever a sender puts in an event, parsing never panics, and what it accepts is storable.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value: deep nesting, every kind of number, strings with control characters,
    /// U+0000 and text outside the basic plane.
    fn json_value() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            any::<String>(),
            "[\\x00-\\x1f\\u{7f}\\u{fffd}a\\\\\"]{0,8}",
            Just("\u{0}".to_owned()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            text.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((text.clone(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    const FIELDS: [&str; 14] = [
        "task_id",
        "queue_name",
        "state",
        "run_status",
        "params",
        "result",
        "exception_msg",
        "exception",
        "traceback",
        "host_name",
        "run_times",
        "time_start",
        "attempts",
        "other",
    ];

    fn event() -> impl Strategy<Value = Value> {
        prop::collection::vec((prop::sample::select(FIELDS.to_vec()), json_value()), 0..10)
            .prop_map(|fields| {
                let mut m: serde_json::Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                // Often a readable event, so the accepted path is exercised too.
                m.entry("task_id").or_insert_with(|| "t".into());
                m.entry("queue_name").or_insert_with(|| "q".into());
                m.entry("state").or_insert_with(|| "failed".into());
                Value::Object(m)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn parsing_never_panics_and_accepted_events_are_storable(e in event()) {
            let text = e.to_string();
            if let Ok(parsed) = TaskEvent::from_json_str(&text) {
                let back = serde_json::to_string(&parsed).unwrap();
                prop_assert!(!back.contains('\0'));
                prop_assert!(!back.contains("\\u0000"));
                prop_assert!(back.len() <= text.len() + 2 * crate::text::Limits::JSON);
            }
        }

        #[test]
        fn any_text_is_refused_or_read_without_panicking(text in any::<String>()) {
            let _ = TaskEvent::from_json_str(&text);
        }
    }
}
