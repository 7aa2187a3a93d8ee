//! Request ids and the one log line per request.
//!
//! The request's id, method and route are kept for its lifetime in a task-local
//! (`telemetry::request_scope`). Logs name the route template, never the raw path or query:
//! paths hold plates and the WebSocket query may hold an API key.

use std::{
    convert::Infallible,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::{
    app::AppState,
    error::ApiError,
    http::route_service::answer_of,
    telemetry::{
        errors::ErrorKind,
        metrics::method_label,
        request_scope::{RequestId, RequestScope, request_spans},
        traces,
    },
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The header names as parsed names: looked up or inserted by text, a name is parsed again
/// each time (870 of a health check's instructions, `bench/README.md`).
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
const TRACE_ID: HeaderName = HeaderName::from_static(TRACE_ID_HEADER);
const PANICKED: &str = "a request handler panicked";
/// The trace a request belongs to, when traces are exported.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

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

/// Gives every route its request context.
#[derive(Clone)]
pub struct RequestContextLayer(pub AppState);

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> RequestContext<S> {
        RequestContext {
            state: self.0.clone(),
            inner,
        }
    }
}

/// A route with its request context. A service of its own rather than `middleware::from_fn`,
/// which would box the route once more and go through `Next` for every request: 400 of a
/// health check's instructions, 700 of a read by plate (`bench/README.md`).
#[derive(Clone)]
pub struct RequestContext<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for RequestContext<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let opened = Opened::new(&self.state, &request);
        // The route is called here, on the service made ready, rather than cloned into the
        // future to be called there: a route clones itself for every call anyway, so the clone
        // was a second one, with its allocations (`bench/README.md`). Calling a route only
        // makes its future; nothing of the handler runs before the future is polled below.
        // The handler's future is boxed where it is made, in the request's scope and span:
        // the request context's own future then holds a pointer to it rather than carrying
        // it, and is not copied whole, route and request included, each time it moves.
        let handler = (!headers_too_large(request.headers())).then(|| {
            let handler = answer_of(self.inner.call(request));
            Box::pin(
                opened
                    .scope
                    .clone()
                    .scope(handler.instrument(opened.span.clone())),
            )
        });
        Box::pin(request_context(self.state.clone(), opened, handler))
    }
}

/// What the request context takes from the request before the route has it.
struct Opened {
    started: Instant,
    scope: RequestScope,
    span: tracing::Span,
    trace_id: Option<String>,
}

impl Opened {
    fn new(state: &AppState, request: &Request) -> Self {
        let started = Instant::now();
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(RequestId::from_client)
            .unwrap_or_else(RequestId::generate);
        // Methods outside the known set are logged and counted as `other`: a client could
        // otherwise mint a new metric series, or put anything into a log line, per request.
        let method = method_label(request.method());
        let scope = RequestScope::new(
            id,
            method,
            request.extensions().get::<MatchedPath>().cloned(),
        );
        // The request's span, when something reads it (traces, span filters, pretty logs). Its
        // text is recorded as text, not through `Display`: the log writes it as it is, without
        // the formatting machinery (200 of a health check's instructions, with the message
        // below).
        let span = if request_spans() {
            tracing::info_span!(
                "request",
                request_id = id.as_str(),
                method,
                route = scope.route()
            )
        } else {
            tracing::Span::none()
        };
        let trace_id = state
            .traced
            .then(|| traces::continue_trace(&span, request.headers()))
            .flatten();
        Self {
            started,
            scope,
            span,
            trace_id,
        }
    }
}

/// Runs `handler` (in the request's scope and span already; `None`: the request's headers were
/// over the limit), then logs, counts and labels its answer.
async fn request_context<H>(
    state: AppState,
    opened: Opened,
    handler: Option<Pin<Box<H>>>,
) -> Result<Response, Infallible>
where
    H: Future<Output = Response> + Send + 'static,
{
    let Opened {
        started,
        scope,
        span,
        trace_id,
    } = opened;
    let (id, method) = (scope.id, scope.method);
    let route = scope.route();
    // An answer made here rather than by the handler is made inside the request's span and
    // scope, as the handler's are.
    let answer =
        |error: ApiError| span.in_scope(|| scope.clone().sync_scope(|| error.into_response()));
    let mut response = match handler {
        None => answer(ApiError::HeadersTooLarge),
        Some(mut handler) => {
            // A handler that waits runs as a task of its own, so that neither a client that
            // goes away nor the request timeout can cancel it half-way: a transaction
            // interrupted between its `BEGIN` and the driver's bookkeeping would otherwise be
            // left open on a pooled connection, holding its locks for whoever uses that
            // connection next. It is polled once here first: one that answers at once (a
            // health check, a read from memory) cannot be interrupted, and needs no task,
            // timer or wake-up. A panic ends the handler alone, polled here or in its task.
            let first = std::future::poll_fn(|cx| {
                Poll::Ready(catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))))
            })
            .await;
            let finished = match first {
                Ok(Poll::Ready(response)) => Some(Ok(response)),
                Err(_) => Some(Err(PANICKED)),
                Ok(Poll::Pending) => {
                    let mut handler = tokio::spawn(handler);
                    // Maintenance (purge, clear, backup) runs to completion: cutting a purge
                    // of a million rows off half-way helps nobody.
                    let joined = if route.starts_with("/api/v1/maintenance/") {
                        Some((&mut handler).await)
                    } else {
                        tokio::time::timeout(state.request_timeout, &mut handler)
                            .await
                            .ok()
                    };
                    joined.map(|joined| {
                        joined.map_err(|failed| {
                            if failed.is_panic() {
                                PANICKED
                            } else {
                                "a request handler was cancelled"
                            }
                        })
                    })
                }
            };
            match finished {
                Some(Ok(response)) => response,
                // The panic's own message is not repeated: it may hold anything the handler
                // held.
                Some(Err(failed)) => answer(ApiError::Internal(failed.into())),
                // Past the timeout the client gets its answer; the work finishes on its own.
                None => answer(ApiError::Timeout),
            }
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status();
    state
        .metrics
        .http_request(method, route, status.as_u16(), elapsed);
    if status == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        state.metrics.error(ErrorKind::Request);
    }
    if state.traced {
        traces::record_status(&span, status);
    }
    let latency_ms = elapsed * 1000.0;
    span.in_scope(|| {
        scope.sync_scope(|| {
            // The message as text rather than format arguments, for the same reason as the
            // span's fields.
            tracing::info!(
                message = "request completed",
                status = status.as_u16(),
                latency_ms
            );
        })
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(value) = trace_id.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(TRACE_ID, value);
    }
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// The span of the handler alone (inside authentication, rate limiting and the body limit),
/// added to the routes only when traces are exported.
pub async fn handler_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(target: traces::SPANS, "handler");
    next.run(request).instrument(span).await
}
