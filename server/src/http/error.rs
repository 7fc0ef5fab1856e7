//! How errors and rejected requests look on the wire. Every handler answers errors as a
//! `protocol::ServiceError` (one status per kind, `{"error": {"code", "message"}}`); the
//! extractors here turn what axum cannot read into the same shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use protocol::ServiceError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Every API error: `{"error": {"code": "...", "message": "..."}}` (the OpenAPI schema of
/// what `ServiceError` answers).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable reason, e.g. `not_found`.
    pub code: &'static str,
    pub message: String,
}

/// The query string as `T`; a malformed one is a `400` in the API's error shape.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ServiceError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ServiceError::invalid(e.body_text()))
    }
}

/// A JSON body as `T`; a malformed one is a `400` in the API's error shape.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ServiceError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ServiceError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| JsonBody(j.0))
            .map_err(|e| match e {
                axum::extract::rejection::JsonRejection::BytesRejection(b)
                    if b.status() == http::StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ServiceError::too_large(b.body_text())
                }
                e => ServiceError::invalid(e.body_text()),
            })
    }
}
