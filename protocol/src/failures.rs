//! Failure groups: tasks that finished without success over a time range, grouped by queue,
//! final state and exception type, from counters kept at write time.

use crate::event::TaskState;
use crate::series::Grain;
use crate::task::RANGES;
use serde::{Deserialize, Serialize};

/// One group: every task of `queue` that ended in `state` with `exception_type` in the range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureGroup {
    /// The queue the tasks ran on.
    pub queue: String,
    /// How they ended.
    pub state: TaskState,
    /// Empty when the tasks carried none (killed, expired, revoked without an exception).
    pub exception_type: String,
    /// Tasks in the group over the range.
    pub count: i64,
    /// When the first of them finished in the range, epoch seconds.
    pub first_at: f64,
    /// When the last of them finished, epoch seconds.
    pub last_at: f64,
    /// The latest one's task id.
    pub sample_task_id: String,
    /// The latest one's exception message, cut to about 300 characters.
    pub sample_msg: Option<String>,
    /// Count per bucket of `FailureGroups::grain`, oldest first, one per bucket of the range.
    pub series: Vec<i64>,
}

/// The failure groups of a range, most frequent first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureGroups {
    /// Bucket width of every group's series.
    pub grain: Grain,
    /// Start of the first bucket, epoch seconds.
    pub from: i64,
    /// End of the range, epoch seconds.
    pub to: f64,
    /// Most frequent first.
    pub groups: Vec<FailureGroup>,
}

/// The failures page's and `GET /api/v1/failures`' query string.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct FailureQuery {
    /// The last stretch of time up to now: 15m, 1h, 6h, 24h or 7d (default 24h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Queue names, comma-separated (default: every queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

/// The range failures are shown over unless asked otherwise.
pub const DEFAULT_FAILURE_RANGE: &str = "24h";

/// What a [`FailureQuery`] asks for, resolved against a time.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureFilter {
    /// The queues asked for (empty: every queue).
    pub queues: Vec<String>,
    /// Bucket width of the series.
    pub grain: Grain,
    /// Start of the first bucket (inclusive), epoch seconds.
    pub from: i64,
    /// End of the range, epoch seconds.
    pub to: f64,
}

impl FailureFilter {
    /// Buckets of the range, `from` to the one holding `to`.
    pub fn buckets(&self) -> usize {
        let width = self.grain.seconds();
        ((self.to.floor() as i64 - self.from).div_euclid(width) + 1).max(1) as usize
    }
}

impl FailureQuery {
    /// The filter, or what is wrong with the query. Ranges up to 6 h are counted by minute,
    /// longer ones by hour.
    pub fn parse(&self, now: f64) -> Result<FailureFilter, String> {
        let range = self
            .range
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_FAILURE_RANGE);
        let (_, seconds) = RANGES
            .iter()
            .find(|(r, _)| *r == range)
            .ok_or_else(|| format!("unknown range {range:?}; expected 15m, 1h, 6h, 24h or 7d"))?;
        let grain = if *seconds <= 6.0 * 3_600.0 {
            Grain::Minute
        } else {
            Grain::Hour
        };
        let width = grain.seconds();
        let start = (now - seconds).floor() as i64;
        Ok(FailureFilter {
            queues: self
                .queue
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned)
                .collect(),
            grain,
            // The bucket holding the start: its earlier part is counted too (the series
            // says so by starting there).
            from: start.div_euclid(width) * width,
            to: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_pick_their_grain_and_buckets() {
        let now = 1_795_000_123.0;
        let f = FailureQuery::default().parse(now).unwrap();
        assert_eq!(f.grain, Grain::Hour);
        assert_eq!(f.from, (1_795_000_123 - 86_400) / 3_600 * 3_600);
        assert_eq!(f.buckets(), 25);
        let f = FailureQuery {
            range: Some("1h".into()),
            queue: Some(" a, b ,".into()),
        }
        .parse(now)
        .unwrap();
        assert_eq!((f.grain, f.buckets()), (Grain::Minute, 61));
        assert_eq!(f.queues, ["a", "b"]);
        let err = FailureQuery {
            range: Some("2w".into()),
            queue: None,
        }
        .parse(now)
        .unwrap_err();
        assert!(err.contains("2w"), "{err}");
    }
}
