//! Time as taskdeck records it: epoch seconds (UTC) as `f64`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in epoch seconds.
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}
