//! taskdeck's desired state of a queue: what its control plane wants every taskdeck consumer of
//! the queue to do. Each change gets the next version; consumers report the version they
//! applied in their heartbeats, so the dashboard can say how many have applied a command.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Desired {
    /// 0 until the control plane sets anything.
    pub version: u64,
    pub paused: bool,
    /// Tasks per second (shared by the queue's consumers when they use distributed QPS);
    /// `None`: each consumer's own setting.
    pub qps: Option<f64>,
    /// Tasks at once per consumer; `None`: each consumer's own setting.
    pub concurrency: Option<u32>,
}
