//! A stand-in OTLP/HTTP collector for `bench/traces.py`: accepts every export at once and
//! counts requests and bytes, so the benchmark measures what exporting costs the service,
//! not what a collector costs.
//!
//!   cargo run --release --example otlp_sink -- ADDRESS
//!
//! `GET /stats` answers `{"requests": N, "bytes": N}`.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{Json, Router, body::Bytes, extract::State, routing::get, routing::post};

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    bytes: AtomicU64,
}

async fn export(State(counts): State<Arc<Counts>>, body: Bytes) -> Vec<u8> {
    counts.requests.fetch_add(1, Ordering::Relaxed);
    counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    // An empty `ExportTraceServiceResponse`: everything accepted.
    Vec::new()
}

async fn stats(State(counts): State<Arc<Counts>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "requests": counts.requests.load(Ordering::Relaxed),
        "bytes": counts.bytes.load(Ordering::Relaxed),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4318".into());
    let app = Router::new()
        .route("/v1/traces", post(export))
        .route("/stats", get(stats))
        .with_state(Arc::new(Counts::default()));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, app).await
}
