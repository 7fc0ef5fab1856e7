//! The task model: the record of a task and the rule that merges events into it, the
//! counters kept at write time (chart statistics, failure groups), and the clock. Pure: it
//! imports nothing of taskdeck but `protocol`, so every other module may use it.

pub mod clock;
pub mod failures;
pub mod record;
pub mod stats;

pub use clock::now_epoch;
