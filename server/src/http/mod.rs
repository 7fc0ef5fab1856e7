//! The HTTP surface: REST API under `/api/v1`, health, the server-rendered UI and its assets.

mod admin;
mod api;
pub mod assets;

mod control;
pub mod edge;
pub(crate) mod error;
mod events;
mod export;
mod live;
mod queues;
mod render;
mod tasks;
mod workers;

use crate::auth::{self, sessions::StoreSessions, Auth};
use crate::services::Services;
use app::backend::SharedBackend;
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Arc<Services>,
    pub live: Arc<crate::live::Live>,
    pub auth: Arc<Auth>,
    pub site: assets::Site,
    pub trusted_proxies: Arc<crate::auth::client::TrustedProxies>,
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for auth::login::LoginState {
    fn from_ref(state: &AppState) -> Self {
        auth::login::LoginState {
            auth: state.auth.clone(),
            css: state.site.names.css.as_str().into(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Everything taskdeck serves. Requests pass, outermost first: the trace; the refusal of
/// paths the gate and the router could read differently (`edge`); the security headers;
/// then either the static assets (their own file service, outside the gate) or the sessions,
/// compression and the gate in front of the API, the sign-in page and the pages.
pub fn router(state: AppState) -> Router {
    let backend: SharedBackend = state.services.clone();
    let names = state.site.names.clone();
    let provide_backend = move || {
        provide_context(backend.clone());
        provide_context(names.clone());
    };
    let routes = generate_route_list(app::App);
    let shell = {
        let options = state.leptos_options.clone();
        move || app::shell(options.clone())
    };
    let sessions = SessionManagerLayer::new(StoreSessions(state.auth.store.clone()))
        .with_name("taskdeck_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.auth.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(auth::SESSION_IDLE.as_secs() as i64),
        ));
    let guard = axum::middleware::from_fn_with_state(state.auth.clone(), auth::guard);
    // Any other path: the app's "not found" page, behind the gate like every page.
    let not_found =
        leptos_axum::render_app_async_with_context(provide_backend.clone(), shell.clone());
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, provide_backend, shell)
        .fallback(move |req: axum::extract::Request| not_found(req))
        .layer(axum::middleware::from_fn(render::to_completion));
    let gated = Router::new()
        .route("/login", get(auth::login::page).post(auth::login::sign_in))
        .route("/logout", post(auth::login::sign_out))
        .merge(api::router())
        .merge(pages)
        .layer(guard)
        // Pages and JSON; never the live streams (`text/event-stream` is left alone).
        .layer(CompressionLayer::new())
        .layer(sessions);
    let secure = state.auth.secure_cookies;
    let trusted = state.trusted_proxies.clone();
    state
        .site
        .router()
        .merge(gated)
        .layer(axum::middleware::from_fn(move |req, next| {
            crate::auth::client::remember(trusted.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            edge::security_headers(secure, req, next)
        }))
        .layer(axum::middleware::from_fn(edge::refuse_odd_paths))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
