//! Users, API tokens and the audit log: admins only (the gate in `auth::guard` checks the role
//! before these run; each handler also names who acted, for the audit log).

use super::error::{JsonBody, Query};
use super::AppState;
use crate::auth::guard::Caller;
use app::backend::Backend;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::auth::{AuditPage, CreatedToken, NewToken, TokenInfo, UserChange, UserInfo};
use protocol::ServiceError;
use serde::Deserialize;

/// Every user, by name.
#[utoipa::path(get, path = "/users", tag = "admin",
    responses((status = 200, body = Vec<UserInfo>), (status = 403, description = "Not an admin", body = super::error::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
) -> Result<Json<Vec<UserInfo>>, ServiceError> {
    Ok(Json(Backend::users(&*state.services).await?))
}

/// Creates a user (role and password required) or changes an existing one's role or password.
/// An admin cannot take away their own admin role, so there is always one. A new password
/// ends the user's other sessions.
#[utoipa::path(put, path = "/users/{name}", tag = "admin", request_body = UserChange,
    params(("name" = String, Path, description = "1–64 letters, digits, `.`, `_`, `-`, `@`")),
    responses(
        (status = 200, body = UserInfo),
        (status = 400, body = super::error::ErrorBody),
    ))]
pub async fn put_user(
    State(state): State<AppState>,
    who: Caller,
    session: tower_sessions::Session,
    Path(name): Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<UserInfo>, ServiceError> {
    let user = state.auth.put_user(who.requester(), &name, &change).await?;
    // Every session of this user started with the old password ends at its next request;
    // the one that changed its own password stays signed in.
    if who.requester().user == Some(name.as_str()) && change.password.is_some() {
        crate::auth::guard::keep_password(&session, &user.password_hash)
            .await
            .map_err(|e| ServiceError::unavailable(format!("the session store failed: {e}")))?;
    }
    Ok(Json(user.info()))
}

/// Removes a user; their sessions end with their next request.
#[utoipa::path(delete, path = "/users/{name}", tag = "admin",
    params(("name" = String, Path)),
    responses((status = 204), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    who: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ServiceError> {
    state.auth.remove_user(who.requester(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every API token, newest first (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "admin", responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<Vec<TokenInfo>>, ServiceError> {
    Ok(Json(Backend::tokens(&*state.services).await?))
}

/// Creates a token; the answer holds its value, shown this once.
#[utoipa::path(post, path = "/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = super::error::ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    who: Caller,
    JsonBody(new): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ServiceError> {
    let created = state.auth.create_token(who.requester(), &new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a token at once on this instance, within 30 s on the others.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_token(
    State(state): State<AppState>,
    who: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ServiceError> {
    state.auth.revoke_token(who.requester(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries whose actor, action, target, outcome or detail contains this (any case).
    #[serde(default)]
    text: String,
    /// Entries before this time (epoch seconds): the previous page's `next_before`.
    before: Option<f64>,
    /// Entries per page, 1–500 (default 100).
    limit: Option<u32>,
}

/// The audit log: every sign-in, sign-out, refusal, token and user change and command.
#[utoipa::path(get, path = "/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = super::error::ErrorBody)))]
pub async fn audit_log(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ServiceError> {
    let page = Backend::audit(&*state.services, &q.text, q.before, q.limit.unwrap_or(100)).await?;
    Ok(Json(page))
}
