//! Run async Rust functions as queue consumers that funboost and taskdeck both understand.
//!
//! The consumer runtime arrives with the worker issue; this crate already fixes the
//! dependency rule: workers depend on `protocol` only, never on the server or the UI.

pub use protocol;
