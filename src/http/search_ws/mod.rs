//! `GET /api/v1/ws/vehicles/search`: the live search over WebSocket (API.md §5).

mod protocol;
mod session;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    extract::{State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    error::{ApiError, Problem},
    http::{api_guard::Bucket, auth::Operator},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live_search))
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
    _caller: Operator,
    bucket: Option<axum::Extension<Bucket>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|_| ApiError::UpgradeRequired)?;
    let slot = ConnectionSlot::take(&state.connections, state.websocket.max_connections)
        .ok_or_else(|| {
            ApiError::Unavailable("too many live-search connections are open; retry later".into())
        })?;
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
