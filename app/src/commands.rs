//! Changes from the pages (commands, users, tokens): a request to the REST API with the
//! session's CSRF token, the same routes scripts use, so there is one way each is done.

use protocol::control::Command;

/// What the server answered: the command as sent, or why not (its message).
pub async fn send(method: &str, path: &str, body: Option<String>) -> Result<Command, String> {
    request(method, path, body).await
}

/// A change through the REST API from this page: its JSON answer (`null` for none), or the
/// API's error message.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub async fn request<T: serde::de::DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<T, String> {
    use wasm_bindgen::JsCast;
    let csrf = crate::me::current().map(|m| m.csrf).unwrap_or_default();
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = &body {
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    let headers = web_sys::Headers::new().map_err(|_| "cannot build the request".to_owned())?;
    headers
        .set("x-csrf-token", &csrf)
        .map_err(|_| "cannot build the request".to_owned())?;
    headers
        .set("accept", "application/json")
        .map_err(|_| "cannot build the request".to_owned())?;
    if body.is_some() {
        headers
            .set("content-type", "application/json")
            .map_err(|_| "cannot build the request".to_owned())?;
    }
    init.set_headers(&headers);
    let window = web_sys::window().ok_or("no window")?;
    let response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(path, &init))
            .await
            .map_err(|_| "taskdeck did not answer".to_owned())?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "no response".to_owned())?;
    let text = wasm_bindgen_futures::JsFuture::from(
        response
            .text()
            .map_err(|_| "unreadable answer".to_owned())?,
    )
    .await
    .ok()
    .and_then(|t| t.as_string())
    .unwrap_or_default();
    if response.ok() {
        let text = if text.is_empty() {
            "null"
        } else {
            text.as_str()
        };
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        // `{"error": {"code", "message"}}`, the API's one error shape.
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {}", response.status()));
        Err(message)
    }
}

/// Pages are rendered before anyone can click; the server never sends commands itself.
#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
pub async fn request<T>(_method: &str, _path: &str, _body: Option<String>) -> Result<T, String> {
    Err("changes are sent from the browser".to_owned())
}
