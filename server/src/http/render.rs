//! Pages render to the end even when their client leaves.
//!
//! A page renders inside its request's reactive owner; suspense boundaries resolve in effects
//! that run on other worker threads. When a client disconnects mid-render, hyper drops the
//! response future or its body, which disposes the owner while such an effect may still run
//! and read the request's signals — a panic ("already disposed", "expected context"). Rendering
//! in a task of its own and draining an abandoned body lets every render end normally, then
//! dispose; the cost is finishing a page nobody reads (a few milliseconds).

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// An abandoned render is drained for at most this long.
const DRAIN_FOR: Duration = Duration::from_secs(30);

pub async fn to_completion(req: Request, next: Next) -> Response {
    let rendering = tokio::spawn(next.run(req));
    match rendering.await {
        Ok(response) => response.map(|body| Body::new(Drained(Some(body)))),
        Err(e) => {
            tracing::error!(error = %e, "a page's render failed");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A body that, dropped before its end, is read to its end in the background.
struct Drained(Option<Body>);

impl HttpBody for Drained {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(body) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) {
            self.0 = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0.as_ref().map(HttpBody::size_hint).unwrap_or_default()
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        let Some(mut body) = self.0.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                use http_body_util::BodyExt;
                let drain = async { while let Some(Ok(_)) = body.frame().await {} };
                let _ = tokio::time::timeout(DRAIN_FOR, drain).await;
            });
        }
    }
}
