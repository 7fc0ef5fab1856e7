//! Wire and domain types shared by every taskdeck crate.
//!
//! Serde only (plus optional OpenAPI derives), so it compiles to wasm for the browser as well
//! as for the server and the workers.

pub mod control;
pub mod event;
pub mod failures;
pub mod health;
pub mod heartbeat;
pub mod overview;
pub mod queue;
pub mod series;
pub mod task;

pub use health::{BusKind, Check, Health, HealthChecks, HealthStatus, StoreKind, VersionInfo};
