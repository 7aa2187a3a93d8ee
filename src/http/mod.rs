//! The HTTP layer: routes, extractors, authentication and request context.

pub mod api_guard;
mod audit;
pub mod auth;
mod client_ip;
pub mod extract;
mod header_deadline;
mod health;
mod keys;
mod maintenance;
mod metrics;
mod occupancy;
pub mod openapi;
pub mod page;
mod query_params;
pub mod request_context;
mod retention;
mod rfc3339;
mod route_service;
mod search_ws;
pub mod server;
mod subjects;

pub mod vehicles;
mod watchlist;

pub use search_ws::ConnectionSlots;

mod cors;

use axum::{
    Router,
    http::{HeaderValue, header},
    middleware,
    routing::get,
};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{app::AppState, config::Settings, error::ApiError};

/// Request bodies over this size are refused with 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The whole router, with the OpenAPI document built from the same routes it serves.
/// `/metrics` is on it unless the settings give metrics their own address.
pub fn router(state: AppState, settings: &Settings) -> Router {
    let (api, mut document) = guarded_routes().split_for_parts();
    let (health, health_document) = health::router().split_for_parts();
    document.merge(health_document);
    openapi::add_common_responses(&mut document);
    openapi::add_links(&mut document);
    let docs =
        Router::from(SwaggerUi::new(openapi::DOCS_PATH).url(openapi::DOCUMENT_PATH, document))
            .layer(SetResponseHeaderLayer::overriding(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DOCS_CSP),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ));
    // The API, its document (under `/api/v1`, with the docs page it belongs to) and every path
    // no route matches (an unknown `/api/v1` path is an API response) go through the guard;
    // health checks, the page and metrics have no use for it, and skip the layer, which is a
    // clone, a boxed future and an allocation of every request it sees (`bench/README.md`).
    let api = guarded(
        api.merge(docs)
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed),
        &state,
    );
    let mut open = health.merge(page::router());
    if settings.metrics_bind.is_none() {
        open = open.route("/metrics", get(metrics::metrics));
    }
    let open = handler_spans(open.method_not_allowed_fallback(method_not_allowed), &state);
    around_every_route(api.merge(open), &state, &settings.cors_origins).with_state(state)
}

/// The router that serves only `/metrics`, for `PARKING_METRICS_BIND`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}

/// The docs page loads only its own scripts and styles (vendored, no CDN).
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// The middleware every route goes through. Layers added later run first: the request
/// context (id, log line, metrics, timeout, panics, `nosniff`) is outermost, then CORS, then
/// the `/api/v1` guard (caller, rate limit). Bodies are limited where they are read
/// (`extract::JsonBody`).
pub fn with_middleware(
    router: Router<AppState>,
    state: &AppState,
    cors_origins: &[String],
) -> Router<AppState> {
    around_every_route(guarded(router, state), state, cors_origins)
}

/// Routes behind the `/api/v1` guard (which sends any other path straight on).
fn guarded(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    handler_spans(router, state).layer(api_guard::ApiGuardLayer(state.clone()))
}

/// The handler's own span, when traces are exported.
fn handler_spans(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    if state.traced {
        router.layer(middleware::from_fn(request_context::handler_span))
    } else {
        router
    }
}

/// CORS, then the request context, around every route, guarded or not.
fn around_every_route(
    router: Router<AppState>,
    state: &AppState,
    cors_origins: &[String],
) -> Router<AppState> {
    let router = match cors::layer(cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(request_context::RequestContextLayer(state.clone()))
}

/// The documented routes; also used to build the OpenAPI document without a server.
pub fn api_routes() -> OpenApiRouter<AppState> {
    guarded_routes().merge(health::router())
}

/// The documented routes under `/api/v1`.
fn guarded_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(vehicles::router())
        .merge(retention::router())
        .merge(occupancy::router())
        .merge(watchlist::router())
        .merge(subjects::router())
        .merge(maintenance::router())
        .merge(audit::router())
        .merge(keys::router())
        .merge(search_ws::router())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such resource".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
