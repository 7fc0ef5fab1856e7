//! REST routes. Every route is declared with `utoipa::path`, so `/api/v1/openapi.json` is
//! generated from the same code that serves the requests.

use super::error::ErrorBody;
use super::AppState;
use app::backend::Backend;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{any, get};
use axum::{Json, Router};
use protocol::ServiceError;
use protocol::{Health, VersionInfo};
use std::sync::{Arc, LazyLock};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "taskdeck",
        description = "Real-time dashboard and control plane for distributed function workers."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Every route but `/healthz` needs an API token (`Authorization: Bearer td_…`) or a signed-in
/// session (whose changes also carry `x-csrf-token`).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("taskdeck API token (td_…)")
                        .build(),
                ),
            );
        }
        openapi.security = Some(vec![SecurityRequirement::new(
            "token",
            Vec::<String>::new(),
        )]);
    }
}

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .routes(routes!(version))
                .routes(routes!(super::events::post_events))
                .routes(routes!(super::queues::series))
                .routes(routes!(super::queues::list_queues))
                .routes(routes!(super::queues::queue_page))
                .routes(routes!(super::queues::overview))
                .routes(routes!(super::live::live))
                .routes(routes!(super::tasks::list_tasks))
                .routes(routes!(super::tasks::get_task))
                .routes(routes!(super::tasks::failures))
                .routes(routes!(super::export::export_tasks))
                .routes(routes!(super::workers::list_workers))
                .routes(routes!(super::admin::list_users))
                .routes(routes!(super::admin::put_user, super::admin::delete_user))
                .routes(routes!(
                    super::admin::list_tokens,
                    super::admin::create_token
                ))
                .routes(routes!(super::admin::delete_token))
                .routes(routes!(super::admin::audit_log))
                .routes(routes!(super::control::pause))
                .routes(routes!(super::control::resume))
                .routes(routes!(super::control::kill))
                .routes(routes!(super::control::revoke))
                .routes(routes!(super::control::limits))
                .routes(routes!(super::control::retry))
                .routes(routes!(super::control::clear))
                .routes(routes!(super::control::requeue))
                .routes(routes!(super::control::priority))
                .routes(routes!(super::control::delete))
                .routes(routes!(super::control::publish))
                .routes(routes!(super::control::dead_letters))
                .routes(routes!(super::control::redrive))
                .routes(routes!(super::control::discard))
                .routes(routes!(super::control::waiting))
                .routes(routes!(super::control::bulk))
                .routes(routes!(super::control::bulk_progress))
                .routes(routes!(super::control::commands)),
        )
}

static OPENAPI: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
    let (_, mut api) = documented().split_for_parts();
    api.info.version = crate::services::VERSION.to_owned();
    api
});

/// Largest JSON body a route takes (a bulk command names up to 10,000 task ids of up to 256
/// bytes each). Events have their own limit (`events::MAX_BODY`).
pub const JSON_BODY_MAX: usize = 4 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    let (router, _) = documented().split_for_parts();
    router
        .layer(axum::extract::DefaultBodyLimit::max(JSON_BODY_MAX))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(super::events::metrics))
        .route("/api/v1/{*rest}", any(api_not_found))
}

/// Reachability of the store and the bus, each probed with a real round trip.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    responses(
        (status = 200, description = "Every dependency answered", body = Health),
        (status = 503, description = "At least one dependency is down; `checks` says which", body = Health),
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = state.services.health().await;
    let status = match health.status {
        protocol::HealthStatus::Ok => StatusCode::OK,
        protocol::HealthStatus::Down => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(health))
}

/// The running taskdeck's version and API version.
#[utoipa::path(
    get,
    path = "/version",
    tag = "system",
    responses((status = 200, body = VersionInfo))
)]
async fn version(State(state): State<AppState>) -> Json<VersionInfo> {
    Json(Arc::clone(&state.services).version())
}

/// This document.
async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&OPENAPI)
}

async fn api_not_found(uri: Uri) -> ServiceError {
    ServiceError::not_found(format!("no API route {uri}; see /api/v1/openapi.json"))
}
