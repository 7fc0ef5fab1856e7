//! The one gate every request passes: who is asking, may they, and did a session's change
//! come from taskdeck's own pages (CSRF token).

use super::{need_of, Auth, Need, Principal};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Method};
use protocol::auth::Me;
use protocol::ServiceError;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_sessions::Session;

/// Session keys.
pub const USER: &str = "user";
pub const CSRF: &str = "csrf";
const SEEN: &str = "seen";
/// A mark of the password the session was started with: a session whose user's password
/// changed since (a reset by an admin, a change elsewhere) ends at its next request.
const PASSWORD: &str = "pw";
/// A session's expiry is pushed forward (one store write) at most this often.
const TOUCH_EVERY: i64 = 300;
/// The header pages send their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is asking, as the gate found them; every route here runs behind it.
pub struct Caller {
    pub principal: Principal,
    pub actor: String,
    pub ip: String,
}

impl Caller {
    /// As the services take it.
    pub fn requester(&self) -> super::Requester<'_> {
        super::Requester {
            actor: &self.actor,
            ip: &self.ip,
            user: match &self.principal {
                Principal::User { name, .. } => Some(name),
                Principal::Token { .. } => None,
            },
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Caller, ServiceError> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ServiceError::unauthorized("sign in first"))?;
        Ok(Caller {
            actor: principal.actor(),
            ip: client_ip(&parts.extensions),
            principal,
        })
    }
}

/// The client's address: as `auth::client` read it (through trusted proxies), else the peer.
pub fn client_ip(req_ext: &http::Extensions) -> String {
    req_ext
        .get::<super::client::ClientAddr>()
        .map(|c| c.0.to_string())
        .or_else(|| {
            req_ext
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_default()
}

pub async fn guard(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let Some(need) = need_of(req.method(), &path) else {
        return next.run(req).await;
    };
    let ip = client_ip(req.extensions());
    let api = path.starts_with("/api/") || path == "/metrics";
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());

    let (principal, session_csrf) = if let Some(presented) = bearer {
        match auth.verify_token(&presented).await {
            Ok(Some(token)) => {
                let now = crate::model::now_epoch();
                if auth.should_touch(&token.id, now) {
                    // Off the request's path: a slow or absent store does not delay it.
                    let (store, id) = (auth.store.clone(), token.id.clone());
                    tokio::spawn(async move {
                        if let Err(e) = store.touch_token(&id, now).await {
                            tracing::debug!(error = %format!("{e:#}"), "cannot record a token's use");
                        }
                    });
                }
                let p = Principal::Token {
                    id: token.id,
                    name: token.name,
                    scopes: token.scopes,
                };
                (p, None)
            }
            Ok(None) => {
                auth.audit(
                    super::ANONYMOUS,
                    "token.use",
                    &path,
                    "denied",
                    // The id is not secret and says which token a script still uses.
                    &match super::tokens::split(&presented) {
                        Some((id, _)) => format!(
                            "unknown or revoked token {}",
                            crate::store::cut(id.to_owned(), 40)
                        ),
                        None => "not a taskdeck token".to_owned(),
                    },
                    &ip,
                )
                .await;
                return unauthorized("the bearer token is unknown or revoked");
            }
            Err(e) => return store_down(e),
        }
    } else {
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            return unauthorized("sign in first");
        };
        match session_user(&auth, &session).await {
            Ok(Some((p, csrf))) => (p, Some(csrf)),
            Ok(None) if api => {
                return unauthorized(
                    "sign in, or send an API token as `Authorization: Bearer td_…`",
                )
            }
            Ok(None) => return to_login(&req),
            Err(e) => return store_down(e),
        }
    };

    if !principal.allows(need) {
        auth.audit(
            &principal.actor(),
            &format!("{} {path}", req.method()),
            &path,
            "denied",
            &format!("needs {need:?}"),
            &ip,
        )
        .await;
        return ServiceError::forbidden(match need {
            Need::Ingest => {
                "posting task events needs an API token with the `ingest` scope".to_owned()
            }
            Need::Admin => "only admins may do this".to_owned(),
            Need::Control => {
                "sending commands needs the operator or admin role (tokens: the `control` scope)"
                    .to_owned()
            }
            Need::Read => "this token has no `read` scope".to_owned(),
            Need::Any => unreachable!("every principal passes `Any`"),
        })
        .into_response();
    }

    // A session's change must prove it came from one of taskdeck's pages; the sign-out form
    // carries its token in the body, checked where the form is read.
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let Some(expected) = &session_csrf {
        if !safe && path != "/logout" && !csrf_matches(req.headers().get(CSRF_HEADER), expected) {
            auth.audit(
                &principal.actor(),
                &format!("{} {path}", req.method()),
                &path,
                "denied",
                "missing or wrong CSRF token",
                &ip,
            )
            .await;
            return ServiceError::forbidden(format!(
                "missing or wrong CSRF token: send the page's token in the `{CSRF_HEADER}` header"
            ))
            .into_response();
        }
        if let Principal::User { name, role } = &principal {
            req.extensions_mut().insert(Me {
                name: name.clone(),
                role: *role,
                csrf: expected.clone(),
            });
        }
    }
    req.extensions_mut().insert(protocol::auth::Access {
        read: principal.allows(Need::Read),
        control: principal.allows(Need::Control),
        admin: principal.allows(Need::Admin),
    });
    req.extensions_mut().insert(principal);
    next.run(req).await
}

pub fn csrf_matches(presented: Option<&HeaderValue>, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    presented.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        !expected.is_empty() && bool::from(v.as_bytes().ct_eq(expected.as_bytes()))
    })
}

/// The session's user as stored now: a deleted user's session ends; a changed role applies
/// at once.
async fn session_user(
    auth: &Auth,
    session: &Session,
) -> anyhow::Result<Option<(Principal, String)>> {
    let Some(name) = session.get::<String>(USER).await? else {
        return Ok(None);
    };
    let Some(user) = auth.store.user(&name).await? else {
        session.flush().await?;
        return Ok(None);
    };
    if session.get::<String>(PASSWORD).await?.as_deref()
        != Some(&password_mark(&user.password_hash))
    {
        session.flush().await?;
        return Ok(None);
    }
    let csrf = session.get::<String>(CSRF).await?.unwrap_or_default();
    let now = crate::model::now_epoch() as i64;
    if session
        .get::<i64>(SEEN)
        .await?
        .is_none_or(|seen| now - seen >= TOUCH_EVERY)
    {
        // Modified → saved with a new expiry: the idle limit counts from the last use.
        session.insert(SEEN, now).await?;
    }
    Ok(Some((
        Principal::User {
            name: user.name,
            role: user.role,
        },
        csrf,
    )))
}

/// Starts a signed-in session: a new id (no fixation), the user, a fresh CSRF token.
pub async fn begin(session: &Session, user: &crate::store::User) -> anyhow::Result<()> {
    session.cycle_id().await?;
    session.insert(USER, &user.name).await?;
    keep_password(session, &user.password_hash).await?;
    session.insert(CSRF, super::password::random_hex()).await?;
    session
        .insert(SEEN, crate::model::now_epoch() as i64)
        .await?;
    Ok(())
}

/// Marks `session` as started with the password `hash` (the user's current one): after
/// signing in, and for the session that changed its own password, which stays signed in.
pub async fn keep_password(session: &Session, hash: &str) -> anyhow::Result<()> {
    session.insert(PASSWORD, password_mark(hash)).await?;
    Ok(())
}

/// Enough of a digest of the password hash to tell a change; it says nothing of the password.
fn password_mark(hash: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(hash.as_bytes())[..8])
}

fn unauthorized(message: &str) -> Response {
    let mut response = ServiceError::unauthorized(message).into_response();
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"taskdeck\""),
    );
    response
}

fn store_down(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "cannot check credentials");
    ServiceError::unavailable("cannot check credentials: the store does not answer").into_response()
}

/// Pages send the browser to sign in and come back; anything that is not a page navigation
/// gets a plain 401.
fn to_login(req: &Request) -> Response {
    let wants_html = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !wants_html || req.method() != Method::GET {
        return unauthorized("sign in first");
    }
    let next = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = if next == "/" {
        "/login".to_owned()
    } else {
        format!(
            "/login?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
        )
    };
    Redirect::to(&target).into_response()
}
