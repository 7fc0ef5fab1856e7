//! Failure counters, maintained at write time beside the chart counters: per queue, final
//! state and exception type, per minute and per hour — how many tasks ended that way, when the
//! first and last did, and the latest one as a sample. The failures view reads a range of
//! them, so its cost follows the number of groups, never the number of failed tasks.

use super::stats::Finished;
pub use super::stats::SAMPLE_MSG;
use foldhash::{HashMap, HashMapExt};
use protocol::event::TaskState;
use protocol::failures::{FailureFilter, FailureGroup, FailureGroups};
use protocol::series::Grain;
use std::collections::BTreeMap;

/// The grains failures are counted at: minutes for ranges up to 6 h, hours beyond.
pub const FAILURE_GRAINS: [Grain; 2] = [Grain::Minute, Grain::Hour];

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureKey {
    pub queue: String,
    pub state: TaskState,
    /// Empty when the task carried none.
    pub exception_type: String,
    pub grain: Grain,
    pub bucket: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FailureValue {
    pub count: i64,
    pub first_at: f64,
    pub last_at: f64,
    pub sample_task_id: String,
    pub sample_msg: Option<String>,
}

/// A counter row as the stores return it.
pub type FailureRow = (FailureKey, FailureValue);

/// The increments for tasks that just reached a final state without success.
pub fn increments(newly_final: &[Finished]) -> Vec<FailureRow> {
    let mut acc: HashMap<FailureKey, FailureValue> = HashMap::new();
    for r in newly_final.iter().filter(|r| r.state.text_indexed()) {
        let at = r.at.floor() as i64;
        for grain in FAILURE_GRAINS {
            let width = grain.seconds();
            let key = FailureKey {
                queue: r.queue.clone(),
                state: r.state,
                exception_type: r.exception_type.clone().unwrap_or_default(),
                grain,
                bucket: at.div_euclid(width) * width,
            };
            let sample = FailureValue {
                count: 1,
                first_at: r.at,
                last_at: r.at,
                sample_task_id: r.task_id.clone(),
                sample_msg: r.exception_msg.clone(),
            };
            acc.entry(key)
                .and_modify(|v| merge(v, &sample))
                .or_insert(sample);
        }
    }
    let mut out: Vec<_> = acc.into_iter().collect();
    // A stable order keeps concurrent writers from deadlocking on the same rows.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Adds `more` into `into`; the later task becomes the sample.
pub fn merge(into: &mut FailureValue, more: &FailureValue) {
    into.count += more.count;
    into.first_at = into.first_at.min(more.first_at);
    if more.last_at >= into.last_at {
        into.last_at = more.last_at;
        into.sample_task_id.clone_from(&more.sample_task_id);
        into.sample_msg.clone_from(&more.sample_msg);
    }
}

/// Groups the counter rows of `filter`'s grain and range, most frequent first (then the most
/// recent), each with a series over every bucket of the range.
pub fn assemble(filter: &FailureFilter, rows: Vec<FailureRow>) -> FailureGroups {
    let width = filter.grain.seconds();
    let buckets = filter.buckets();
    let mut groups: BTreeMap<(String, TaskState, String), (FailureValue, Vec<i64>)> =
        BTreeMap::new();
    for (k, v) in rows {
        let slot = (k.bucket - filter.from).div_euclid(width);
        if k.grain != filter.grain || slot < 0 || slot as usize >= buckets {
            continue;
        }
        let (total, series) = groups
            .entry((k.queue, k.state, k.exception_type))
            .or_insert_with(|| {
                (
                    FailureValue {
                        count: 0,
                        ..v.clone()
                    },
                    vec![0; buckets],
                )
            });
        series[slot as usize] += v.count;
        merge(total, &v);
    }
    let mut groups: Vec<FailureGroup> = groups
        .into_iter()
        .map(
            |((queue, state, exception_type), (v, series))| FailureGroup {
                queue,
                state,
                exception_type,
                count: v.count,
                first_at: v.first_at,
                last_at: v.last_at,
                sample_task_id: v.sample_task_id,
                sample_msg: v.sample_msg,
                series,
            },
        )
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_at.total_cmp(&a.last_at)));
    FailureGroups {
        grain: filter.grain,
        from: filter.from,
        to: filter.to,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(task: &str, queue: &str, exc: Option<&str>, at: f64) -> Finished {
        Finished {
            task_id: task.into(),
            queue: queue.into(),
            state: if exc.is_some() {
                TaskState::Failed
            } else {
                TaskState::Killed
            },
            at,
            cost: None,
            wait: None,
            exception_type: exc.map(str::to_owned),
            exception_msg: exc.map(|e| format!("{e} in {task}")),
        }
    }

    #[test]
    fn groups_count_each_failure_once_per_grain_with_the_latest_as_sample() {
        let t = 1_795_000_000.0; // a whole hour
        let mut finished = vec![
            failed("a1", "q", Some("KeyError"), t + 10.0),
            failed("a2", "q", Some("KeyError"), t + 130.0),
            failed("a3", "q", Some("KeyError"), t + 70.0),
            failed("b1", "q", None, t + 5.0),
            failed("c1", "r", Some("KeyError"), t + 5.0),
        ];
        finished.push(Finished {
            state: TaskState::Success,
            ..failed("ok", "q", None, t)
        });
        let rows = increments(&finished);
        let minute: Vec<_> = rows
            .iter()
            .filter(|(k, _)| k.grain == Grain::Minute)
            .collect();
        assert_eq!(
            minute.len(),
            5,
            "q/KeyError in 3 minutes, q/killed, r/KeyError"
        );
        let hour: Vec<_> = rows
            .iter()
            .filter(|(k, _)| k.grain == Grain::Hour)
            .collect();
        assert_eq!(hour.len(), 3);
        let q_key = hour
            .iter()
            .find(|(k, _)| k.queue == "q" && k.exception_type == "KeyError")
            .unwrap();
        assert_eq!(
            (q_key.1.count, q_key.1.first_at, q_key.1.last_at),
            (3, t + 10.0, t + 130.0)
        );
        assert_eq!(q_key.1.sample_task_id, "a2");

        let filter = protocol::failures::FailureQuery {
            range: Some("1h".into()),
            queue: None,
        }
        .parse(t + 600.0)
        .unwrap();
        let groups = assemble(&filter, rows);
        assert_eq!(groups.grain, Grain::Minute);
        let top = &groups.groups[0];
        assert_eq!(
            (top.queue.as_str(), top.exception_type.as_str(), top.count),
            ("q", "KeyError", 3)
        );
        assert_eq!(top.sample_msg.as_deref(), Some("KeyError in a2"));
        assert_eq!(top.series.len(), filter.buckets());
        assert_eq!(top.series.iter().sum::<i64>(), 3);
        let last_three = &top.series[top.series.len() - 11..top.series.len() - 8];
        assert_eq!(last_three, [1, 1, 1], "minutes 0, 1 and 2 of the hour");
        let killed = groups
            .groups
            .iter()
            .find(|g| g.state == TaskState::Killed)
            .unwrap();
        assert_eq!((killed.exception_type.as_str(), killed.count), ("", 1));
    }
}
