//! Request ids and the one log line per request.
//!
//! The id is kept in a task-local for the request's lifetime, so an error rendered anywhere
//! below can carry it without threading it through every function. Logs name the route
//! template, never the raw path or query: paths hold plates and the WebSocket query may hold
//! an API key.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument;

use crate::{
    app::AppState,
    error::ApiError,
    telemetry::{errors::ErrorKind, metrics::method_label, traces},
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The trace a request belongs to, when traces are exported.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Keeps a client's id of 1–64 characters from `[A-Za-z0-9._-]`; anything else is replaced.
fn acceptable(value: &HeaderValue) -> Option<String> {
    let value = value.to_str().ok()?;
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then(|| value.to_owned())
}

/// Header limits answered with a problem+json `431` (the listener's own, higher limits answer
/// a bare one): as many headers, and as many bytes of them, as common proxies allow.
const MAX_HEADERS: usize = 100;
const MAX_HEADER_BYTES: usize = 32 * 1024;

fn headers_too_large(headers: &axum::http::HeaderMap) -> bool {
    headers.len() > MAX_HEADERS
        || headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
            > MAX_HEADER_BYTES
}

pub async fn request_context(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(acceptable)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    // Methods outside the known set are logged and counted as `other`: a client could
    // otherwise mint a new metric series, or put anything into a log line, per request.
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        route = %route,
    );
    let trace_id = state
        .traced
        .then(|| traces::continue_trace(&span, request.headers()))
        .flatten();
    let limit = state.request_timeout;
    // Maintenance (purge, clear, backup) runs to completion: cutting a purge of a million
    // rows off half-way helps nobody.
    let timed = !route.starts_with("/api/v1/maintenance/");
    let handling_id = id.clone();
    let handling_span = span.clone();
    let handled = async move {
        if headers_too_large(request.headers()) {
            return ApiError::HeadersTooLarge.into_response();
        }
        // The handler runs as a task of its own, so that neither a client that goes away nor
        // the request timeout can cancel it half-way: a transaction interrupted between its
        // `BEGIN` and the driver's bookkeeping would otherwise be left open on a pooled
        // connection, holding its locks for whoever uses that connection next.
        let mut handler = tokio::spawn(
            REQUEST_ID.scope(handling_id, next.run(request).instrument(handling_span)),
        );
        let finished = if timed {
            tokio::time::timeout(limit, &mut handler).await.ok()
        } else {
            Some((&mut handler).await)
        };
        match finished {
            Some(Ok(response)) => response,
            Some(Err(panicked)) => {
                ApiError::Internal(format!("a request handler failed: {panicked}")).into_response()
            }
            // Past the timeout the client gets its answer; the work finishes on its own.
            None => ApiError::Timeout.into_response(),
        }
    };
    let mut response = REQUEST_ID
        .scope(id.clone(), handled.instrument(span.clone()))
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status();
    state
        .metrics
        .http_request(method, &route, status.as_u16(), elapsed);
    if status == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        state.metrics.error(ErrorKind::Request);
    }
    if state.traced {
        traces::record_status(&span, status);
    }
    let latency_ms = elapsed * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms,
            "request completed"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if let Some(value) = trace_id.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(TRACE_ID_HEADER, value);
    }
    response
}

/// The span of the handler alone (inside authentication, rate limiting and the body limit),
/// added to the routes only when traces are exported.
pub async fn handler_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(target: traces::SPANS, "handler");
    next.run(request).instrument(span).await
}
