//! The HTTP surface: REST API under `/api/v1`, health, the server-rendered UI and its assets.

mod admin;
mod api;
mod control;
pub(crate) mod error;
mod events;
mod export;
mod live;
mod queues;
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
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Arc<Services>,
    pub live: Arc<crate::live::Live>,
    pub auth: Arc<Auth>,
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub fn router(state: AppState) -> Router {
    let backend: SharedBackend = state.services.clone();
    let provide_backend = move || provide_context(backend.clone());
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
    Router::new()
        .route("/login", get(auth::login::page).post(auth::login::sign_in))
        .route("/logout", post(auth::login::sign_out))
        .merge(api::router())
        .leptos_routes_with_context(&state, routes, provide_backend.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_backend, app::shell))
        .layer(guard)
        .layer(sessions)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
