//! The operator page at `/`: plain HTML, CSS and ES modules from `web/`, embedded in the binary
//! so it works with no internet and no build step. Served with a strict Content-Security-Policy
//! (no inline script or style, nothing from another origin) and an `ETag` per file.

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use rust_embed::RustEmbed;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{app::AppState, error::ApiError};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// The page talks to its own origin only: its files, the API, and the live-search WebSocket
/// (`connect-src 'self'` covers `ws:`/`wss:` to the same host).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    // The page itself lives at `/`; only its assets are under `/assets/`.
    if path == "index.html" {
        return ApiError::NotFound("no such resource".into()).into_response();
    }
    serve(&path, &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::NotFound("no such resource".into()).into_response();
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{}\"", hex::encode(&hash[..16]));
    // Always revalidated, so a new binary's page is picked up at once; unchanged files cost
    // a 304.
    let cache = HeaderValue::from_static("no-cache");
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        file.data.into_owned(),
    )
        .into_response()
}
