//! The HTTP surface: REST API under `/api/v1`, health, the server-rendered UI and its assets.

mod api;
mod error;
mod events;
mod export;
mod live;
mod queues;
mod tasks;
mod workers;

use crate::services::Services;
use app::backend::SharedBackend;
use axum::extract::FromRef;
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Arc<Services>,
    pub live: Arc<crate::live::Live>,
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
    Router::new()
        .merge(api::router())
        .leptos_routes_with_context(&state, routes, provide_backend.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_backend, app::shell))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
