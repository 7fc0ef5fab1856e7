//! What every answer passes through on its way in and out: request paths the guard and the
//! router could read differently are refused before either sees them, and every answer leaves
//! with the headers that keep browsers from misreading it.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderValue, StatusCode};
use percent_encoding::percent_decode;

/// How many times a path is percent-decoded when looking for dot segments: `%252e` is `%2e`
/// once decoded, and some layer somewhere may decode again.
const DECODE_ROUNDS: usize = 3;

/// Why a request path is refused, if it is: a `.` or `..` segment in any encoding or case
/// (`/pkg/../tasks`, `/pkg/%2e%2E/tasks`, `/pkg/..%2ftasks`, `/pkg/..\tasks`), or a control
/// character. Such a path can mean one thing to the gate and another to whatever resolves it
/// later, so it means nothing here.
pub fn odd_path(path: &str) -> Option<&'static str> {
    let mut text: Vec<u8> = path.as_bytes().to_vec();
    for _ in 0..=DECODE_ROUNDS {
        let dots = text
            .split(|b| *b == b'/' || *b == b'\\')
            .any(|segment| segment == b"." || segment == b"..");
        if dots {
            return Some("a path with `.` or `..` segments");
        }
        if text.iter().any(|b| *b < 0x20 || *b == 0x7f) {
            return Some("a path with control characters");
        }
        let decoded: Vec<u8> = percent_decode(&text).collect();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    None
}

/// Refuses (400) requests whose path [`odd_path`] names, before the gate or the router.
pub async fn refuse_odd_paths(req: Request, next: Next) -> Response {
    if let Some(why) = odd_path(req.uri().path()) {
        return (
            StatusCode::BAD_REQUEST,
            [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            format!("taskdeck does not serve {why}\n"),
        )
            .into_response();
    }
    next.run(req).await
}

/// The policy of answers that are not pages (JSON, text, files): nothing in them may run.
const NON_PAGE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers every answer carries: a content security policy (pages set their own,
/// with the nonce of their inline scripts), `nosniff`, no framing, no referrer to other
/// sites, HSTS when taskdeck is reached over HTTPS, and `no-store` unless the answer said how
/// it may be cached (static assets do).
pub async fn security_headers(secure: bool, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NON_PAGE_POLICY),
        );
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused_in_every_encoding() {
        for path in [
            "/pkg/../tasks",
            "/pkg/./x",
            "/..",
            "/pkg/%2e%2e/tasks",
            "/pkg/%2E%2e/tasks",
            "/pkg/.%2E/tasks",
            "/pkg/%252e%252e/tasks",
            "/pkg/..%2ftasks",
            "/pkg/..%2Ftasks",
            "/pkg/..%5ctasks",
            "/pkg/..\\tasks",
            "/vendor/%2e/x",
            "/queues/%00",
            "/tasks/a%0Ab",
        ] {
            assert!(odd_path(path).is_some(), "{path}");
        }
        for path in [
            "/",
            "/tasks",
            "/tasks/...",
            "/queues/a.b",
            "/pkg/taskdeck.0123456789abcdef.js",
            "/queues/%E4%BD%A0%E5%A5%BD",
            "/tasks/a%2Fb",
            "//tasks",
            "/queues/.hidden",
        ] {
            assert_eq!(odd_path(path), None, "{path}");
        }
    }
}
