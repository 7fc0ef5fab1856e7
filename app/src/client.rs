//! Changes from the pages (commands, users, tokens): typed requests of `protocol::rest` sent to
//! the REST API with the session's CSRF token — the same routes scripts use, so there is one
//! way each is done, and no path or body is written by hand.

use protocol::rest::Call;
use protocol::ServiceError;

/// Sends `call` from this page: its typed answer, or the API's error.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub async fn send<C: Call>(call: &C) -> Result<C::Answer, ServiceError> {
    use wasm_bindgen::JsCast;
    let unbuildable = |_| ServiceError::invalid("the browser cannot build the request");
    let csrf = crate::me::current().map(|m| m.csrf).unwrap_or_default();
    let init = web_sys::RequestInit::new();
    init.set_method(C::METHOD.as_str());
    let headers = web_sys::Headers::new().map_err(unbuildable)?;
    headers.set("x-csrf-token", &csrf).map_err(unbuildable)?;
    headers
        .set("accept", "application/json")
        .map_err(unbuildable)?;
    if let Some(body) = call.body() {
        headers
            .set("content-type", "application/json")
            .map_err(unbuildable)?;
        init.set_body(&wasm_bindgen::JsValue::from_str(&body));
    }
    init.set_headers(&headers);
    let silent = |_| ServiceError::unavailable("taskdeck did not answer");
    let window = web_sys::window().ok_or_else(|| ServiceError::unavailable("no window"))?;
    let response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(&call.path(), &init))
            .await
            .map_err(silent)?;
    let response: web_sys::Response = response.dyn_into().map_err(silent)?;
    let text = wasm_bindgen_futures::JsFuture::from(response.text().map_err(silent)?)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    protocol::rest::answer::<C>(response.status(), &text)
}

/// Pages are rendered before anyone can click; the server never sends changes itself.
#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
pub async fn send<C: Call>(_call: &C) -> Result<C::Answer, ServiceError> {
    Err(ServiceError::invalid("changes are sent from the browser"))
}
