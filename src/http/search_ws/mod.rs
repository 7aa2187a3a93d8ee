//! `GET /api/v1/ws/vehicles/search`: the live search over WebSocket (API.md §5).

mod protocol;
mod session;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    extract::{
        FromRequestParts, State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection,
    },
    http::request::Parts,
    response::Response,
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    error::{ApiError, Problem},
    http::{api_guard::Bucket, auth, extract::RawQuery},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live_search))
}

/// Browsers cannot set headers on a WebSocket, so the key may come as `?api_key=`. The query
/// string is never logged.
#[derive(Deserialize)]
struct KeyParam {
    api_key: Option<String>,
}

/// Counts a connection for as long as it lives.
struct ConnectionSlot(Arc<AtomicUsize>);

impl ConnectionSlot {
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        let taken = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
            (open < max).then_some(open + 1)
        });
        taken.ok().map(|_| Self(counter.clone()))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Live search: send `{"type": "search", "id", "query", "limit"}` and receive `results`, then
/// `added` / `removed` as matching vehicles come and go, until the next search. Also `ping` →
/// `pong`; bad frames get an `error` frame; frames over 4 KiB close the connection with 1009;
/// shutdown closes it with 1001. The key goes in `X-API-Key`, `Authorization: Bearer` or
/// `?api_key=`; without a valid one the upgrade is refused with 401.
#[utoipa::path(get, path = "/api/v1/ws/vehicles/search", tag = "search",
    params(("api_key" = Option<String>, Query, description = "API key, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many live-search connections", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn live_search(
    State(state): State<AppState>,
    bucket: Option<axum::Extension<Bucket>>,
    RawQuery(params): RawQuery<KeyParam>,
    parts: UpgradeParts,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let key = auth::presented_key(&parts.0).or(params.api_key.as_deref());
    auth::authenticate(&state, key).await?;
    let upgrade = upgrade.map_err(|_| ApiError::UpgradeRequired)?;
    let slot = ConnectionSlot::take(&state.connections, state.websocket.max_connections)
        .ok_or_else(|| ApiError::Unavailable("too many live-search connections".into()))?;
    Ok(upgrade
        // The transport's own limit sits above ours so that an oversize frame is read and
        // answered with 1009 rather than failing inside the protocol library.
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let bucket = bucket.map(|axum::Extension(Bucket(b))| b);
            session::run(socket, state, bucket).await;
            drop(slot);
        }))
}

/// The request's headers, for the API key.
struct UpgradeParts(Parts);

impl<S: Send + Sync> FromRequestParts<S> for UpgradeParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.clone()))
    }
}
