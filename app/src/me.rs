//! The signed-in user. The server knows it from the request; the browser reads what the server
//! rendered into the page (`<meta name="taskdeck-me">`), so both render the same header.

use leptos::prelude::*;
use protocol::auth::Me;

pub const META: &str = "taskdeck-me";

/// Provided once by the app; `None` only when no one is signed in (never on a served page).
#[derive(Clone, Debug, PartialEq)]
pub struct SignedIn(pub Option<Me>);

pub fn use_me() -> Option<Me> {
    use_context::<SignedIn>().and_then(|s| s.0)
}

#[cfg(feature = "ssr")]
pub fn current() -> Option<Me> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Me>()
        .cloned()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub fn current() -> Option<Me> {
    let doc = web_sys::window()?.document()?;
    let el = doc
        .query_selector(&format!("meta[name=\"{META}\"]"))
        .ok()??;
    serde_json::from_str(&el.get_attribute("content")?).ok()
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
pub fn current() -> Option<Me> {
    None
}
