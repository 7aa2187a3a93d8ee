//! What every `/api/v1` request goes through before its handler: the caller is recognised
//! once (the role extractors reuse it), and its budget is taken — per API key, or per client
//! IP before authentication — with the `RateLimit-*` headers on every response and a `429`
//! with `Retry-After` when the budget is spent.
//!
//! A tower layer rather than `middleware::from_fn`: every other request (health checks, the
//! page, the docs, metrics) goes straight to its route, while `from_fn` would clone and box
//! the route and box a future for each one: 2,300 of a health check's 42,400 instructions
//! (`bench/README.md`).

use std::{
    convert::Infallible,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use crate::{
    app::AppState,
    domain::ApiKeySecret,
    error::ApiError,
    http::{
        auth,
        client_ip::client_ip,
        route_service::{call_route, take_ready},
    },
    ratelimit::Decision,
    service::{Caller, ServiceError},
};

/// The key a request presented, checked once: `Some` when it was valid.
#[derive(Clone)]
pub struct Authenticated(pub Option<Caller>);

/// The rate-limit bucket of the caller, for the WebSocket's per-search checks.
#[derive(Clone)]
pub struct Bucket(pub String);

/// Puts every route behind the guard.
#[derive(Clone)]
pub struct ApiGuardLayer(pub AppState);

impl<S> Layer<S> for ApiGuardLayer {
    type Service = ApiGuard<S>;

    fn layer(&self, inner: S) -> ApiGuard<S> {
        ApiGuard {
            state: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct ApiGuard<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for ApiGuard<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !is_api_path(request.uri().path()) {
            return Either::Left(self.inner.call(request));
        }
        let inner = take_ready(&mut self.inner);
        let state = self.state.clone();
        // Boxed as it is, not inside another future: each layer of future is copied whole
        // when it moves (`bench/README.md`).
        Either::Right(Box::pin(api_guard(state, request, move |request| {
            call_route(inner, request)
        })))
    }
}

/// The paths the guard (and its per-address budget) is for.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/v1/")
}

/// The guard, then `next` with the request; as the service's answer (it never fails).
async fn api_guard<F>(
    state: AppState,
    request: Request,
    next: impl FnOnce(Request) -> F,
) -> Result<Response, Infallible>
where
    F: Future<Output = Response>,
{
    let (mut parts, body) = request.into_parts();
    let query_key = (parts.uri.path() == WS_PATH)
        .then(|| ws_query_key(parts.uri.query()))
        .flatten();
    let presented = auth::presented_key(&parts)
        .or(query_key.as_deref())
        .filter(|k| !k.is_empty())
        .map(|key| ApiKeySecret::from_presented(key).hash());
    let address_bucket = || format!("ip:{}", client_ip(&parts, &state.trusted_proxies));
    // A key this process recognised recently costs nothing to check. Any
    // other key is first charged to the client's address, so a stream of made-up keys is
    // refused by the limiter before it costs a database lookup each.
    let (caller, address_decision) = match presented {
        None => (None, None),
        Some(hash) => {
            let decision = if state.keys.known(&hash) {
                None
            } else {
                let decision = state.rate_limiter.check(&address_bucket()).await;
                if let Some(decision) = decision.filter(|d| !d.allowed) {
                    return Ok(refuse(&state, &decision));
                }
                state.metrics.key_lookup();
                decision
            };
            match state.keys.recognise(&hash).await {
                Ok(caller) => (caller, decision),
                Err(error) => {
                    return Ok(ApiError::from(ServiceError::from(error)).into_response());
                }
            }
        }
    };
    let bucket = match &caller {
        Some(caller) => format!("key:{}", caller.key_id),
        None => address_bucket(),
    };
    let decision = match (&caller, address_decision) {
        // Without a valid key, the address's budget has been charged already.
        (None, Some(decision)) => Some(decision),
        _ => state.rate_limiter.check(&bucket).await,
    };
    parts.extensions.insert(Authenticated(caller));
    parts.extensions.insert(Bucket(bucket));
    let mut response = match decision {
        Some(decision) if !decision.allowed => return Ok(refuse(&state, &decision)),
        _ => next(Request::from_parts(parts, body)).await,
    };
    if let Some(decision) = decision {
        add_headers(response.headers_mut(), &decision);
    }
    Ok(response)
}

/// `429` with `Retry-After` and the `RateLimit-*` headers.
fn refuse(state: &AppState, decision: &Decision) -> Response {
    state.metrics.rate_limited();
    let mut refused = ApiError::RateLimited(decision.retry_after_secs).into_response();
    let headers = refused.headers_mut();
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(decision.retry_after_secs),
    );
    add_headers(headers, decision);
    refused
}

fn add_headers(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset_secs));
}

/// The one route where a key may come in the query string.
const WS_PATH: &str = "/api/v1/ws/vehicles/search";

/// `?api_key=` is accepted for the WebSocket only (browsers cannot set its headers); elsewhere a
/// key in a URL would end up in proxies' logs.
fn ws_query_key(query: Option<&str>) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query?)
        .ok()?
        .into_iter()
        .find_map(|(name, value)| (name == "api_key").then_some(value))
}
