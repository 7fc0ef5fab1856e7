//! The stored form of a task and the state machine that merges events into it.

use foldhash::{HashMap, HashMapExt};
use protocol::event::{TaskEvent, TaskState};

/// One row of the task table: the latest known state of one task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    pub task_id: String,
    pub queue: String,
    pub function: Option<String>,
    pub state: TaskState,
    pub run_times: u32,
    /// JSON text.
    pub params: Option<String>,
    /// JSON text.
    pub result: Option<String>,
    pub exception_type: Option<String>,
    pub exception_msg: Option<String>,
    pub traceback: Option<String>,
    /// Epoch seconds, UTC.
    pub publish_time: Option<f64>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    /// Run time in seconds (funboost's `time_cost`, over all attempts).
    pub cost: Option<f64>,
    pub host_name: Option<String>,
    pub process_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub script_name: Option<String>,
    pub consumer_id: Option<String>,
    /// JSON array text of the attempts the worker reported (`protocol::task::Attempt`).
    pub attempts: Option<String>,
    /// JSON object text with every other field of the event, kept as received.
    pub extra: String,
    /// When taskdeck took the event in, epoch seconds.
    pub updated_at: f64,
}

impl TaskRecord {
    pub fn from_event(event: TaskEvent, received_at: f64) -> TaskRecord {
        let state = event.effective_state();
        // Taken from funboost's `exception` text when absent: bounded like a name.
        let exception_type = event
            .exception_class()
            .map(|c| protocol::cut(c, protocol::text::Limits::NAME));
        let exception_msg = event.exception_message();
        // Raw JSON becomes the record's text without a copy.
        let raw_text = |raw: Box<serde_json::value::RawValue>| Box::<str>::from(raw).into_string();
        let params = match (event.params, event.params_str) {
            (Some(p), _) => Some(raw_text(p)),
            (None, s) => s,
        };
        let cost = event
            .time_cost
            .or_else(|| Some(event.time_end? - event.time_start?).filter(|c| *c >= 0.0));
        let host_name = event.host_name.clone().or_else(|| {
            event
                .host_process
                .as_deref()
                .and_then(|hp| hp.split(" - ").next())
                .map(str::to_owned)
        });
        let mut extra = event.other;
        if let Some(rs) = &event.run_status {
            extra.insert("run_status", rs);
        }
        if let Some(success) = &event.success {
            extra.insert("success", success);
        }
        if let Some(exception) = &event.exception {
            extra.insert("exception", exception);
        }
        TaskRecord {
            task_id: event.task_id,
            queue: event.queue_name,
            function: event.function,
            state,
            // Without a count, one run if the task got to run: a revoked or expired one never did.
            run_times: event.run_times.unwrap_or(u32::from(!matches!(
                state,
                TaskState::Pending | TaskState::Revoked | TaskState::Expired
            ))),
            params,
            result: event.result.map(raw_text),
            exception_type,
            exception_msg,
            traceback: event.traceback,
            publish_time: event.publish_time,
            start_time: event.time_start,
            end_time: event.time_end,
            cost,
            host_name,
            process_id: event.process_id,
            thread_id: event.thread_id,
            script_name: event.script_name,
            consumer_id: event.consumer_id,
            attempts: event.attempts.and_then(|a| serde_json::to_string(&a).ok()),
            extra: extra.to_json(),
            updated_at: received_at,
        }
    }

    /// Whether `newer` may replace this record: the state moves forward, or a retry of a
    /// running task reports a later attempt. A final state never changes; duplicates change
    /// nothing. Every store applies this same rule in its upsert.
    pub fn accepts(&self, newer: &TaskRecord) -> bool {
        TaskState::advances(
            self.state.rank(),
            i64::from(self.run_times),
            newer.state.rank(),
            i64::from(newer.run_times),
        )
    }

    /// Folds a later event of the same task into this one, as the stores do: the winning
    /// event's fields, the older event's where the winner has none.
    pub fn merge(&mut self, newer: TaskRecord) {
        if !self.accepts(&newer) {
            return;
        }
        let old = std::mem::replace(self, newer);
        macro_rules! keep {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = old.$f; } )* };
        }
        keep!(
            function,
            params,
            result,
            exception_type,
            exception_msg,
            traceback,
            publish_time,
            start_time,
            end_time,
            cost,
            host_name,
            process_id,
            thread_id,
            script_name,
            consumer_id,
            attempts
        );
        self.run_times = self.run_times.max(old.run_times);
    }

    /// The record as one event in taskdeck's format (for a dead letter: sent again, it
    /// records the same thing).
    pub fn to_event_json(&self) -> String {
        use serde_json::{Map, Value};
        let mut m: Map<String, Value> = serde_json::from_str(&self.extra).unwrap_or_default();
        let raw = |t: &Option<String>| {
            t.as_deref().map(|t| {
                serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::String(t.to_owned()))
            })
        };
        let fields: [(&str, Option<Value>); 20] = [
            ("task_id", Some(self.task_id.clone().into())),
            ("queue_name", Some(self.queue.clone().into())),
            ("state", Some(self.state.as_str().into())),
            ("run_times", Some(self.run_times.into())),
            ("function", self.function.clone().map(Value::from)),
            ("params", raw(&self.params)),
            ("result", raw(&self.result)),
            (
                "exception_type",
                self.exception_type.clone().map(Value::from),
            ),
            ("exception_msg", self.exception_msg.clone().map(Value::from)),
            ("traceback", self.traceback.clone().map(Value::from)),
            ("publish_time", self.publish_time.map(Value::from)),
            ("time_start", self.start_time.map(Value::from)),
            ("time_end", self.end_time.map(Value::from)),
            ("time_cost", self.cost.map(Value::from)),
            ("host_name", self.host_name.clone().map(Value::from)),
            ("process_id", self.process_id.map(Value::from)),
            ("thread_id", self.thread_id.map(Value::from)),
            ("script_name", self.script_name.clone().map(Value::from)),
            ("consumer_id", self.consumer_id.clone().map(Value::from)),
            ("attempts", raw(&self.attempts)),
        ];
        // funboost's own fields kept in `extra` would contradict `state`.
        for k in ["run_status", "success", "exception"] {
            m.remove(k);
        }
        for (k, v) in fields {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        }
        Value::Object(m).to_string()
    }

    /// Seconds between publishing and the first start.
    pub fn wait(&self) -> Option<f64> {
        Some(self.start_time? - self.publish_time?).filter(|w| *w >= 0.0)
    }

    /// The instant the record sorts by in lists: when it started, else when it was published,
    /// else when taskdeck heard of it.
    pub fn sort_time(&self) -> f64 {
        self.start_time
            .or(self.publish_time)
            .unwrap_or(self.updated_at)
    }
}

/// Reduces a batch to one record per task, in arrival order of first appearance.
pub fn reduce(records: Vec<TaskRecord>) -> Vec<TaskRecord> {
    // Slots are found on borrowed ids first, so no id is copied to key the map.
    let slots: Vec<usize> = {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        records
            .iter()
            .map(|r| {
                let next = index.len();
                *index.entry(r.task_id.as_str()).or_insert(next)
            })
            .collect()
    };
    let mut out: Vec<TaskRecord> = Vec::with_capacity(records.len());
    for (record, slot) in records.into_iter().zip(slots) {
        if slot < out.len() {
            out[slot].merge(record);
        } else {
            out.push(record);
        }
    }
    out
}

/// The task a record's message says it was published from (`msg_dict.extra.taskdeck_origin`,
/// set by a retry or a run again with changes), from the record's other fields as JSON text.
pub fn origin_of(extra: &str) -> Option<String> {
    let other: serde_json::Value = serde_json::from_str(extra).ok()?;
    other
        .pointer("/msg_dict/extra/taskdeck_origin")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

    fn record(task: &str, state: &str, run_times: u32) -> TaskRecord {
        let event = TaskEvent::from_json(json!({
            "task_id": task, "queue_name": "q", "state": state, "run_times": run_times,
            "time_start": 100.0, "publish_time": 99.5, "params": {"x": 1}
        }))
        .unwrap();
        TaskRecord::from_event(event, 1000.0)
    }

    #[test]
    fn finish_is_never_overwritten_by_a_late_running() {
        let mut r = record("t", "success", 1);
        r.merge(record("t", "running", 1));
        assert_eq!(r.state, TaskState::Success);
        let mut r = record("t", "failed", 3);
        r.merge(record("t", "running", 4));
        assert_eq!(r.state, TaskState::Failed);
        assert_eq!(r.run_times, 3);
    }

    #[test]
    fn retries_advance_run_times_and_duplicates_change_nothing() {
        let mut r = record("t", "running", 1);
        r.merge(record("t", "running", 2));
        assert_eq!(r.run_times, 2);
        r.merge(record("t", "running", 1));
        assert_eq!(r.run_times, 2);
        let before = r.clone();
        r.merge(before.clone());
        assert_eq!(r, before);
        let mut done = record("t", "failed", 2);
        done.result = Some("1".into());
        r.merge(done.clone());
        assert_eq!(r.state, TaskState::Failed);
        let mut again = done.clone();
        again.result = Some("2".into());
        r.merge(again);
        assert_eq!(r.result.as_deref(), Some("1"), "the first final event wins");
    }

    #[test]
    fn the_winner_keeps_fields_only_the_older_event_had() {
        let mut running = record("t", "running", 1);
        running.host_name = Some("h1".into());
        let mut finish = record("t", "success", 1);
        finish.host_name = None;
        finish.end_time = Some(101.0);
        running.merge(finish);
        assert_eq!(running.host_name.as_deref(), Some("h1"));
        assert_eq!(running.end_time, Some(101.0));
        assert_eq!(running.wait(), Some(0.5));
    }

    #[test]
    fn reduce_keeps_one_record_per_task() {
        let out = reduce(vec![
            record("a", "running", 1),
            record("b", "running", 1),
            record("a", "success", 1),
            record("a", "running", 1),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].task_id, "a");
        assert_eq!(out[0].state, TaskState::Success);
    }

    #[test]
    fn tasks_that_never_ran_count_no_run() {
        let runs = |state: &str| {
            let e =
                TaskEvent::from_json(json!({"task_id": "t", "queue_name": "q", "state": state}));
            TaskRecord::from_event(e.unwrap(), 10.0).run_times
        };
        for (state, n) in [
            ("pending", 0),
            ("revoked", 0),
            ("expired", 0),
            ("running", 1),
            ("success", 1),
            ("failed", 1),
            ("killed", 1),
        ] {
            assert_eq!(runs(state), n, "{state}");
        }
    }

    #[test]
    fn a_record_as_an_event_records_the_same_thing() {
        let mut r = record("t", "failed", 2);
        r.exception_type = Some("E".into());
        r.host_name = Some("h".into());
        let again = TaskRecord::from_event(
            TaskEvent::from_json_str(&r.to_event_json()).unwrap(),
            r.updated_at,
        );
        assert_eq!(again, r);
    }

    #[test]
    fn funboost_fields_map_to_columns() {
        let event = TaskEvent::from_json(json!({
            "task_id": "t", "queue_name": "q", "run_status": "finish", "success": false,
            "exception": "ValueError    bad x", "host_process": "vm - 902", "time_start": 1.0, "time_end": 3.5,
            "params_str": "{\"x\":1}", "result": null
        }))
        .unwrap();
        let r = TaskRecord::from_event(event, 10.0);
        assert_eq!(r.state, TaskState::Failed);
        assert_eq!(r.exception_type.as_deref(), Some("ValueError"));
        assert_eq!(r.exception_msg.as_deref(), Some("bad x"));
        assert_eq!(r.host_name.as_deref(), Some("vm"));
        assert_eq!(r.cost, Some(2.5));
        assert_eq!(r.params.as_deref(), Some("{\"x\":1}"));
        assert_eq!(r.result, None);
        assert_eq!(r.run_times, 1);
        let extra: Value = serde_json::from_str(&r.extra).unwrap();
        assert_eq!(extra["run_status"], "finish");
        assert_eq!(extra["success"], false);
    }
}
