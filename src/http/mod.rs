//! The HTTP layer: routes, extractors, authentication and request context.

mod audit;
pub mod auth;
pub mod extract;
mod health;
mod maintenance;
pub mod openapi;
mod query_params;
pub mod request_context;
mod retention;
mod search_ws;

pub mod vehicles;

use axum::{Router, extract::DefaultBodyLimit, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{app::AppState, error::ApiError};

/// Request bodies over this size are refused with 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The whole router, with the OpenAPI document built from the same routes it serves.
pub fn router(state: AppState) -> Router {
    let (routes, document) = api_routes().split_for_parts();
    routes
        .merge(SwaggerUi::new(openapi::DOCS_PATH).url(openapi::DOCUMENT_PATH, document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers below wrap every route and the fallbacks; the last added runs first.
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_context::request_context))
        .with_state(state)
}

/// The documented routes; also used to build the OpenAPI document without a server.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(vehicles::router())
        .merge(retention::router())
        .merge(maintenance::router())
        .merge(audit::router())
        .merge(search_ws::router())
        .merge(health::router())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such resource".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A panic is a bug: it is logged, and the client gets the same opaque 500 as any other
/// unexpected failure while the server keeps serving.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::Internal("a request handler panicked".into()).into_response()
}
