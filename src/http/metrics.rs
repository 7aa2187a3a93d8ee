//! `GET /metrics`: Prometheus text exposition.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{app::AppState, search::Window, telemetry::metrics::Snapshot};

pub async fn metrics(State(state): State<AppState>) -> Response {
    let parked = state.live.search(None, Window::default(), 0, 0).hits.total;
    let snapshot = Snapshot {
        vehicles_parked: parked as u64,
        websocket_connections: state.connections.open() as u64,
        pools: state.store.pool_usage(),
    };
    let body = state.metrics.render(&snapshot);
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
