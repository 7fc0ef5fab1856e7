//! Chart series: per-bucket counts and latency quantiles of one queue.

use serde::{Deserialize, Serialize};

/// Bucket width of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    /// One-second buckets (kept two hours).
    Second,
    /// One-minute buckets (kept three days).
    Minute,
    /// One-hour buckets (kept 90 days).
    Hour,
    /// One-day buckets (kept five years).
    Day,
}

impl Grain {
    /// Every grain, finest first.
    pub const ALL: [Grain; 4] = [Grain::Second, Grain::Minute, Grain::Hour, Grain::Day];

    /// The bucket width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Grain::Second => 1,
            Grain::Minute => 60,
            Grain::Hour => 3_600,
            Grain::Day => 86_400,
        }
    }

    /// Small stable code used in the stores.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// The grain a stored [`Grain::code`] stands for.
    pub fn from_code(code: i16) -> Option<Grain> {
        Grain::ALL.into_iter().find(|g| g.code() == code)
    }

    /// `s` as a grain, or a message naming the grains there are.
    pub fn parse(s: &str) -> Result<Grain, String> {
        Grain::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| format!("unknown grain {s:?}; expected second, minute, hour or day"))
    }

    /// The grain's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Second => "second",
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }

    /// The default window of a chart in this grain: 60 s, 60 min, 24 h, 30 days.
    pub fn default_span(self) -> i64 {
        match self {
            Grain::Second => 60,
            Grain::Minute => 3_600,
            Grain::Hour => 86_400,
            Grain::Day => 30 * 86_400,
        }
    }
}

/// Latency of the tasks finished in one bucket, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Latency {
    /// Median, from the bucket's histogram (within ±13 %).
    pub p50: Option<f64>,
    /// 95th percentile, from the histogram.
    pub p95: Option<f64>,
    /// 99th percentile, from the histogram.
    pub p99: Option<f64>,
    /// Mean (exact).
    pub avg: Option<f64>,
}

/// One bucket of a series. Buckets without any finished task are present with zeros, so a
/// chart's x axis is continuous.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    /// Bucket start, epoch seconds (UTC).
    pub t: i64,
    /// Tasks that finished with success in the bucket.
    pub success: i64,
    /// Tasks that failed in the bucket.
    pub failed: i64,
    /// Tasks killed in the bucket.
    pub killed: i64,
    /// Tasks revoked (or deleted) in the bucket.
    pub revoked: i64,
    /// Tasks that expired in the bucket.
    pub expired: i64,
    /// Run time (start → finish).
    pub run: Latency,
    /// Wait time (publish → start).
    pub wait: Latency,
}

/// Counts and latencies of one queue's finished tasks per bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    /// The queue.
    pub queue: String,
    /// Bucket width.
    pub grain: Grain,
    /// Start of the first bucket, epoch seconds.
    pub from: i64,
    /// End of the range, epoch seconds.
    pub to: i64,
    /// Every bucket from `from` to `to`, oldest first.
    pub points: Vec<SeriesPoint>,
}
