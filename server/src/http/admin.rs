//! Users, API tokens and the audit log: admins only (the gate in `auth::guard` checks the role
//! before these run; each handler also names who acted, for the audit log).

use super::error::{JsonBody, Query};
use super::AppState;
use crate::auth::guard::Caller;
use crate::auth::{password, tokens, Principal};
use crate::store::{Token, User};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::auth::{AuditPage, CreatedToken, NewToken, TokenInfo, UserChange, UserInfo};
use protocol::ServiceError;
use serde::Deserialize;

fn store_error(e: anyhow::Error) -> ServiceError {
    tracing::error!(error = %format!("{e:#}"), "store error");
    ServiceError::unavailable("the store does not answer; try again")
}

/// Every user, by name.
#[utoipa::path(get, path = "/users", tag = "admin",
    responses((status = 200, body = Vec<UserInfo>), (status = 403, description = "Not an admin", body = super::error::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
) -> Result<Json<Vec<UserInfo>>, ServiceError> {
    let users = state.auth.store.users().await.map_err(store_error)?;
    Ok(Json(users.into_iter().map(User::info).collect()))
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
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if !valid_name {
        return Err(ServiceError::invalid(
            "a user name is 1–64 letters, digits, `.`, `_`, `-` or `@`",
        ));
    }
    if let Some(p) = &change.password {
        password::policy(p).map_err(ServiceError::invalid)?;
    }
    let own = matches!(&who.principal, Principal::User { name: me, .. } if *me == name);
    if own
        && change
            .role
            .is_some_and(|r| r != protocol::auth::Role::Admin)
    {
        return Err(ServiceError::invalid(
            "you cannot take away your own admin role; another admin can",
        ));
    }
    let store = &state.auth.store;
    let existing = store.user(&name).await.map_err(store_error)?;
    let now = crate::model::now_epoch();
    let user = match existing {
        Some(u) => User {
            password_hash: change
                .password
                .as_deref()
                .map(password::hash)
                .unwrap_or(u.password_hash),
            role: change.role.unwrap_or(u.role),
            updated_at: now,
            ..u
        },
        None => {
            let (Some(role), Some(p)) = (change.role, change.password.as_deref()) else {
                return Err(ServiceError::invalid(
                    "a new user needs `role` and `password`",
                ));
            };
            User {
                name: name.clone(),
                password_hash: password::hash(p),
                role,
                created_at: now,
                updated_at: now,
            }
        }
    };
    store.put_user(&user, false).await.map_err(store_error)?;
    // Every session of this user started with the old password ends at its next request;
    // the one that changed its own password stays signed in.
    if own && change.password.is_some() {
        crate::auth::guard::keep_password(&session, &user.password_hash)
            .await
            .map_err(store_error)?;
    }
    let mut what = Vec::new();
    if let Some(r) = change.role {
        what.push(format!("role {r}"));
    }
    if change.password.is_some() {
        what.push("password".to_owned());
    }
    state
        .auth
        .audit(
            &who.actor,
            "user.put",
            &name,
            "ok",
            &what.join(", "),
            &who.ip,
        )
        .await;
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
    if matches!(&who.principal, Principal::User { name: me, .. } if *me == name) {
        return Err(ServiceError::invalid(
            "you cannot remove yourself; another admin can",
        ));
    }
    if !state
        .auth
        .store
        .delete_user(&name)
        .await
        .map_err(store_error)?
    {
        return Err(ServiceError::not_found(format!("no user `{name}`")));
    }
    state
        .auth
        .audit(&who.actor, "user.delete", &name, "ok", "", &who.ip)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every API token, newest first (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "admin", responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<Vec<TokenInfo>>, ServiceError> {
    let all = state.auth.store.tokens().await.map_err(store_error)?;
    Ok(Json(all.into_iter().map(Token::info).collect()))
}

/// Creates a token; the answer holds its value, shown this once.
#[utoipa::path(post, path = "/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = super::error::ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    who: Caller,
    JsonBody(new): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ServiceError> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ServiceError::invalid("a token's name is 1–100 characters"));
    }
    let scopes = protocol::auth::Scope::parse_list(
        &new.scopes
            .iter()
            .map(|s| s.code())
            .collect::<Vec<_>>()
            .join(","),
    )
    .map_err(ServiceError::invalid)?;
    let (token, value) = tokens::create(&state.auth.store, name, scopes, &who.actor)
        .await
        .map_err(store_error)?;
    let detail = format!("{name} ({})", protocol::auth::Scope::join(&token.scopes));
    state
        .auth
        .audit(
            &who.actor,
            "token.create",
            &token.id,
            "ok",
            &detail,
            &who.ip,
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: token.info(),
            value,
        }),
    ))
}

/// Revokes a token at once on this instance, within 30 s on the others.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_token(
    State(state): State<AppState>,
    who: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ServiceError> {
    if !state
        .auth
        .store
        .delete_token(&id)
        .await
        .map_err(store_error)?
    {
        return Err(ServiceError::not_found(format!("no token `{id}`")));
    }
    state.auth.forget_token(&id);
    state
        .auth
        .audit(&who.actor, "token.delete", &id, "ok", "", &who.ip)
        .await;
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
    let page =
        app::backend::Backend::audit(&*state.services, &q.text, q.before, q.limit.unwrap_or(100))
            .await?;
    Ok(Json(page))
}
