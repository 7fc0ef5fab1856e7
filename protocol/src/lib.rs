//! Wire and domain types shared by every taskdeck crate.
//!
//! Serde only (plus, for the server, optional OpenAPI derives and the HTTP answer of an error),
//! so it compiles to wasm for the browser as well as for the server and the workers.

#![warn(missing_docs)]

pub mod auth;
pub mod control;
pub mod error;
pub mod event;
pub mod failures;
pub mod health;
pub mod heartbeat;
pub mod overview;
pub mod queue;
pub mod rest;
pub mod series;
pub mod state;
pub mod task;
pub mod text;

pub use error::{ErrorKind, ServiceError};
pub use health::{BusKind, Check, Health, HealthChecks, HealthStatus, StoreKind, VersionInfo};

/// `s` cut to at most `max` bytes on a character boundary, with "…" when something was cut.
pub fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        s.push('…');
    }
    s
}
