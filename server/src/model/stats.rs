//! Pre-aggregated chart counters, maintained at write time: per queue, per time bucket of
//! each grain, the final states reached and log-scale histograms of run and wait time.
//!
//! Stored as rows `(queue, grain, bucket, metric, idx) → (count, total)` and incremented by
//! upsert, so concurrent writers (several taskdeck instances) add up instead of overwriting.

use foldhash::{HashMap, HashMapExt};
use protocol::event::TaskState;
use protocol::series::{Grain, Latency, Series, SeriesPoint};
use std::collections::BTreeMap;

/// Metric codes of the stats rows. State counts use the state's own code (2..=6).
pub const METRIC_RUN_HIST: i16 = 10;
pub const METRIC_WAIT_HIST: i16 = 11;
/// `count` = tasks with a run (wait) time, `total` = the sum of those times in seconds.
pub const METRIC_RUN_SUM: i16 = 20;
pub const METRIC_WAIT_SUM: i16 = 21;

/// Histogram: bucket `i` holds durations up to `HIST_MIN · 2^(i/3)`; 96 buckets reach from
/// 0.1 ms to about 4 days with at most 26 % between bounds (quantiles within ±13 %). The
/// last bucket also takes everything longer.
pub const HIST_BUCKETS: i16 = 96;
pub const HIST_MIN: f64 = 0.000_1;

pub fn hist_index(seconds: f64) -> i16 {
    if seconds <= HIST_MIN {
        return 0;
    }
    let i = (3.0 * (seconds / HIST_MIN).log2()).ceil();
    (i as i16).clamp(0, HIST_BUCKETS - 1)
}

pub fn hist_upper_bound(idx: i16) -> f64 {
    HIST_MIN * 2f64.powf(f64::from(idx) / 3.0)
}

/// Longest sample message of a failure group kept (characters in SQL, bytes on MongoDB).
pub const SAMPLE_MSG: usize = 300;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatKey {
    pub queue: String,
    pub grain: Grain,
    /// Bucket start, epoch seconds.
    pub bucket: i64,
    pub metric: i16,
    pub idx: i16,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StatValue {
    pub count: i64,
    pub total: f64,
}

/// What the counters need of a task that just reached a final state.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub task_id: String,
    pub queue: String,
    pub state: TaskState,
    /// When it finished (or, lacking that, its sort time), epoch seconds.
    pub at: f64,
    pub cost: Option<f64>,
    pub wait: Option<f64>,
    /// For the failure counters; only kept when the state is not a success.
    pub exception_type: Option<String>,
    pub exception_msg: Option<String>,
}

impl Finished {
    pub fn of(r: &super::record::TaskRecord) -> Finished {
        let failed = r.state.text_indexed();
        Finished {
            task_id: r.task_id.clone(),
            exception_type: r.exception_type.clone().filter(|_| failed),
            exception_msg: r
                .exception_msg
                .clone()
                .filter(|_| failed)
                .map(|m| protocol::cut(m, SAMPLE_MSG)),
            queue: r.queue.clone(),
            state: r.state,
            at: r.end_time.unwrap_or_else(|| r.sort_time()),
            cost: r.cost,
            wait: r.wait(),
        }
    }
}

/// The increments for tasks that just reached a final state. Each task is counted exactly
/// once: the stores only report records whose write moved them into a final state.
pub fn increments(newly_final: &[Finished]) -> Vec<(StatKey, StatValue)> {
    // Keyed by the borrowed queue name: a batch adds ~20 increments per task into a few
    // hundred distinct keys, so owned keys are made once per key, not once per increment.
    let mut acc: HashMap<(&str, Grain, i64, i16, i16), StatValue> = HashMap::new();
    for r in newly_final {
        debug_assert!(r.state.is_final());
        let at = r.at.floor() as i64;
        let run = r
            .cost
            .filter(|_| r.state != TaskState::Revoked)
            .map(|cost| (hist_index(cost), cost));
        let wait = r.wait.map(|wait| (hist_index(wait), wait));
        for grain in Grain::ALL {
            let width = grain.seconds();
            let bucket = at.div_euclid(width) * width;
            let mut add = |metric: i16, idx: i16, total: f64| {
                let v = acc
                    .entry((r.queue.as_str(), grain, bucket, metric, idx))
                    .or_default();
                v.count += 1;
                v.total += total;
            };
            add(r.state.code(), 0, 0.0);
            if let Some((idx, cost)) = run {
                add(METRIC_RUN_HIST, idx, 0.0);
                add(METRIC_RUN_SUM, 0, cost);
            }
            if let Some((idx, wait)) = wait {
                add(METRIC_WAIT_HIST, idx, 0.0);
                add(METRIC_WAIT_SUM, 0, wait);
            }
        }
    }
    let mut out: Vec<_> = acc
        .into_iter()
        .map(|((queue, grain, bucket, metric, idx), v)| {
            let key = StatKey {
                queue: queue.to_owned(),
                grain,
                bucket,
                metric,
                idx,
            };
            (key, v)
        })
        .collect();
    // A stable order keeps concurrent writers from deadlocking on the same rows.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The `q`-quantile (0..1) of a histogram given as `(idx, count)` pairs: the upper bound of
/// the bucket where the cumulative count reaches `q` of the total.
pub fn quantile(hist: &[(i16, i64)], q: f64) -> Option<f64> {
    let total: i64 = hist.iter().map(|(_, c)| c).sum();
    if total == 0 {
        return None;
    }
    let mut sorted = hist.to_vec();
    sorted.sort_unstable();
    let target = (q * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (idx, count) in sorted {
        seen += count;
        if seen >= target {
            return Some(hist_upper_bound(idx));
        }
    }
    None
}

/// One stats row as the stores return it: `(bucket, metric, idx, count, total)`.
pub type StatRow = (i64, i16, i16, i64, f64);

/// Turns the stats rows of one queue and grain into a continuous series over `[from, to)`.
pub fn assemble(queue: &str, grain: Grain, from: i64, to: i64, rows: &[StatRow]) -> Series {
    let width = grain.seconds();
    let first = from.div_euclid(width) * width;
    let mut by_bucket: BTreeMap<i64, Vec<&StatRow>> = BTreeMap::new();
    for row in rows {
        by_bucket.entry(row.0).or_default().push(row);
    }
    let mut points = Vec::new();
    let mut t = first;
    while t < to {
        let mut p = SeriesPoint {
            t,
            ..Default::default()
        };
        let (mut run_hist, mut wait_hist) = (Vec::new(), Vec::new());
        let (mut run_sum, mut wait_sum) = ((0, 0.0), (0, 0.0));
        for &&(_, metric, idx, count, total) in
            by_bucket.get(&t).map(Vec::as_slice).unwrap_or_default()
        {
            match metric {
                METRIC_RUN_HIST => run_hist.push((idx, count)),
                METRIC_WAIT_HIST => wait_hist.push((idx, count)),
                METRIC_RUN_SUM => run_sum = (count, total),
                METRIC_WAIT_SUM => wait_sum = (count, total),
                m => match TaskState::from_code(m) {
                    Some(TaskState::Success) => p.success += count,
                    Some(TaskState::Failed) => p.failed += count,
                    Some(TaskState::Killed) => p.killed += count,
                    Some(TaskState::Revoked) => p.revoked += count,
                    Some(TaskState::Expired) => p.expired += count,
                    _ => {}
                },
            }
        }
        p.run = latency(&run_hist, run_sum);
        p.wait = latency(&wait_hist, wait_sum);
        points.push(p);
        t += width;
    }
    Series {
        queue: queue.to_owned(),
        grain,
        from: first,
        to,
        points,
    }
}

fn latency(hist: &[(i16, i64)], (n, total): (i64, f64)) -> Latency {
    Latency {
        p50: quantile(hist, 0.50),
        p95: quantile(hist, 0.95),
        p99: quantile(hist, 0.99),
        avg: (n > 0).then(|| total / n as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bounds_are_tight_and_monotonic() {
        for s in [
            0.000_05, 0.000_1, 0.001, 0.0123, 0.5, 1.0, 7.3, 3_600.0, 300_000.0,
        ] {
            let i = hist_index(s);
            assert!(s <= hist_upper_bound(i) * 1.000_001, "{s} above its bucket");
            if i > 0 && i < HIST_BUCKETS - 1 {
                assert!(s > hist_upper_bound(i - 1), "{s} belongs lower");
                assert!(hist_upper_bound(i) / s < 1.27);
            }
        }
        assert_eq!(hist_index(1e9), HIST_BUCKETS - 1);
    }

    #[test]
    fn quantiles_come_within_a_bucket_of_the_truth() {
        let times: Vec<f64> = (1..=1000).map(|i| i as f64 / 1000.0).collect();
        let mut hist: HashMap<i16, i64> = HashMap::new();
        for t in &times {
            *hist.entry(hist_index(*t)).or_default() += 1;
        }
        let hist: Vec<_> = hist.into_iter().collect();
        for (q, truth) in [(0.5, 0.5), (0.95, 0.95), (0.99, 0.99)] {
            let est = quantile(&hist, q).unwrap();
            assert!(est >= truth && est / truth < 1.27, "p{q}: {est} vs {truth}");
        }
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn increments_assemble_into_a_continuous_series() {
        let finished = [
            Finished {
                task_id: "t".into(),
                exception_type: None,
                exception_msg: None,
                queue: "q".into(),
                state: TaskState::Success,
                at: 125.2,
                cost: Some(0.5),
                wait: Some(0.1),
            },
            Finished {
                task_id: "t".into(),
                exception_type: None,
                exception_msg: None,
                queue: "q".into(),
                state: TaskState::Success,
                at: 126.9,
                cost: Some(1.5),
                wait: None,
            },
            Finished {
                task_id: "t".into(),
                exception_type: None,
                exception_msg: None,
                queue: "q".into(),
                state: TaskState::Failed,
                at: 185.0,
                cost: Some(2.0),
                wait: Some(0.3),
            },
        ];
        let rows: Vec<StatRow> = increments(&finished)
            .into_iter()
            .filter(|(k, _)| k.grain == Grain::Minute)
            .map(|(k, v)| (k.bucket, k.metric, k.idx, v.count, v.total))
            .collect();
        let s = assemble("q", Grain::Minute, 60, 240, &rows);
        let summary: Vec<_> = s
            .points
            .iter()
            .map(|p| (p.t, p.success, p.failed))
            .collect();
        assert_eq!(summary, [(60, 0, 0), (120, 2, 0), (180, 0, 1)]);
        let busy = &s.points[1];
        assert_eq!(busy.run.avg, Some(1.0));
        assert!(busy.run.p50.unwrap() >= 0.5 && busy.run.p50.unwrap() < 0.5 * 1.27);
        assert!(busy.run.p99.unwrap() >= 1.5 && busy.run.p99.unwrap() < 1.5 * 1.27);
        assert_eq!(busy.wait.avg, Some(0.1));
        assert_eq!(s.points[0].run, Latency::default());
    }
}
