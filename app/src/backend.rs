//! The one door from the UI to taskdeck's services.
//!
//! `server` implements [`Backend`] and provides it through Leptos context; server functions
//! call it exactly as the REST handlers do, so the UI and the API cannot drift apart.

use async_trait::async_trait;
use protocol::{Health, VersionInfo};
use std::sync::Arc;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Probes every dependency (store, bus) with a real round trip.
    async fn health(&self) -> Health;
    fn version(&self) -> VersionInfo;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend of the current request, provided by the server for every render and every
/// server function call.
pub fn use_backend() -> Result<SharedBackend, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<SharedBackend>()
        .ok_or_else(|| leptos::prelude::ServerFnError::new("taskdeck backend missing from context"))
}
