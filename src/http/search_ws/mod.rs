//! `GET /api/v1/ws/vehicles/search`: the live search over WebSocket (API.md §5).

mod protocol;
mod session;
mod slots;

use axum::{
    extract::{State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use slots::ConnectionSlots;
use slots::Refusal;

use crate::{
    app::AppState,
    error::{ApiError, Problem},
    http::{api_guard::Bucket, auth::Viewer},
};

/// Bytes read from the socket at a time; larger messages still arrive whole.
const READ_BUFFER: usize = 8 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live_search))
}

/// Live search: send `{"type": "search", "id", "query", "limit"}` and receive `results`, then
/// `added` / `removed` as matching vehicles come and go, until the next search. Also `ping` →
/// `pong`; bad frames get an `error` frame; frames over 4 KiB close the connection with 1009;
/// shutdown closes it with 1001; revocation or expiry of the key closes it with 1008. The key
/// goes in `X-API-Key`, `Authorization: Bearer` or `?api_key=`; without a valid one the
/// upgrade is refused with 401.
#[utoipa::path(get, path = "/api/v1/ws/vehicles/search", tag = "search",
    params(("api_key" = Option<String>, Query, description = "API key, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This API key has as many live-search connections open as it may", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many live-search connections", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn live_search(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    bucket: Option<axum::Extension<Bucket>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|_| ApiError::UpgradeRequired)?;
    // Authenticated now: from here on the connection answers to the active keys read after
    // this instant.
    let authenticated_at = tokio::time::Instant::now();
    let slot = state
        .connections
        .take(caller.key_id)
        .map_err(|refusal| match refusal {
            Refusal::ServerFull => ApiError::Unavailable(
                "too many live-search connections are open; retry later".into(),
            ),
            Refusal::KeyFull => ApiError::TooMany(format!(
                "this API key has {} live-search connections open, as many as it may",
                state.websocket.max_connections_per_key
            )),
        })?;
    Ok(upgrade
        // The transport's own limit sits above ours so that an oversize frame is read and
        // answered with 1009 rather than failing inside the protocol library.
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        // The library's default buffers (128 KiB each way) are most of what an idle
        // connection costs; client frames are at most 4 KiB and the send side writes every
        // frame out as it is queued, so small buffers cost nothing in throughput.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            let bucket = bucket.map(|axum::Extension(Bucket(b))| b);
            let owner = session::Owner {
                key_id: caller.key_id,
                role: caller.role,
                expires_at: caller.expires_at,
                authenticated_at,
                bucket,
            };
            session::run(socket, state, owner).await;
            drop(slot);
        }))
}
