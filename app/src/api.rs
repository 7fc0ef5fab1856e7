//! Server functions: thin calls into the [`crate::backend::Backend`] service layer.

use leptos::prelude::*;
use protocol::Health;

#[server(prefix = "/api/ui", endpoint = "system_status")]
pub async fn system_status() -> Result<Health, ServerFnError> {
    let backend = crate::backend::use_backend()?;
    Ok(backend.health().await)
}
