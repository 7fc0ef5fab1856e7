//! Why a request could not be served: one error for every service taskdeck offers, whatever
//! door it came through (REST, a page's server function, the live stream). Each kind has one
//! HTTP status and one stable code; the message is for the person who asked.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, as a program needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed or names something impossible (400, `bad_request`).
    Invalid,
    /// Nobody signed in, or the token is unknown (401).
    Unauthorized,
    /// The caller may not do this (403).
    Forbidden,
    /// The target does not exist (404).
    NotFound,
    /// The target is not in a state the request applies to (409).
    Conflict,
    /// The target cannot do it, e.g. no consumer of the queue can (409, `unsupported`).
    Unsupported,
    /// The body is too large (413).
    TooLarge,
    /// The caller used up their share; closing something of theirs helps (429).
    TooMany,
    /// A dependency does not answer; the same request may succeed later (503).
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status this kind is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Invalid => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict | ErrorKind::Unsupported => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::TooMany => 429,
            ErrorKind::Unavailable => 503,
        }
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Invalid,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unsupported,
        ErrorKind::TooLarge,
        ErrorKind::TooMany,
        ErrorKind::Unavailable,
    ];

    /// The kind a `code` names, as [`ErrorKind::code`] spells it.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind an HTTP status stands for (a 409 reads as a conflict; other 4xx as invalid,
    /// other 5xx as unavailable), for answers that do not say.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            409 => ErrorKind::Conflict,
            s if s >= 500 => ErrorKind::Unavailable,
            s => ErrorKind::ALL
                .into_iter()
                .find(|k| k.status() == s)
                .unwrap_or(ErrorKind::Invalid),
        }
    }

    /// The code in `{"error": {"code": …}}`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::TooMany => "too_many",
            ErrorKind::Unavailable => "unavailable",
        }
    }
}

/// A refused or failed request: its kind and what to tell the person who made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceError {
    /// What went wrong, as a program needs to know it.
    pub kind: ErrorKind,
    /// What went wrong, for the person who asked.
    pub message: String,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident),* $(,)?) => {
        impl ServiceError {
            $(
                $(#[$doc])*
                pub fn $name(message: impl Into<String>) -> ServiceError {
                    ServiceError { kind: ErrorKind::$kind, message: message.into() }
                }
            )*
        }
    };
}

constructors! {
    /// A malformed request, or one naming something impossible (400).
    invalid => Invalid,
    /// Nobody signed in, or an unknown token (401).
    unauthorized => Unauthorized,
    /// The caller may not do this (403).
    forbidden => Forbidden,
    /// The target does not exist (404).
    not_found => NotFound,
    /// The target's state does not allow it (409).
    conflict => Conflict,
    /// The target cannot do it (409, `unsupported`).
    unsupported => Unsupported,
    /// The body is too large (413).
    too_large => TooLarge,
    /// The caller used up their share (429).
    too_many => TooMany,
    /// A dependency does not answer (503).
    unavailable => Unavailable,
}

impl ServiceError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

/// The REST answer: the kind's status and `{"error": {"code": …, "message": …}}`.
#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for ServiceError {
    fn into_response(self) -> axum_core::response::Response {
        let body =
            serde_json::json!({"error": {"code": self.kind.code(), "message": self.message}});
        let status = http::StatusCode::from_u16(self.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            )],
            body.to_string(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_one_status_and_code() {
        let kinds = ErrorKind::ALL;
        for k in kinds {
            assert_eq!(ErrorKind::from_code(k.code()), Some(k));
        }
        assert_eq!(ErrorKind::from_status(404), ErrorKind::NotFound);
        assert_eq!(ErrorKind::from_status(418), ErrorKind::Invalid);
        let codes: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len());
        assert_eq!(ServiceError::not_found("x").status(), 404);
        assert_eq!(ServiceError::unsupported("x").status(), 409);
        assert_eq!(ServiceError::invalid("bad").to_string(), "bad");
    }
}
