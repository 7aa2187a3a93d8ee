//! What the request context and the API guard share as tower services wrapping a route.

use std::convert::Infallible;

use axum::{extract::Request, response::Response};
use tower::{Service, ServiceExt};

/// The service made ready is the one that serves this call; its clone stays for the next
/// (tower's convention: a clone has not been made ready).
pub fn take_ready<S: Clone>(inner: &mut S) -> S {
    let ready = inner.clone();
    std::mem::replace(inner, ready)
}

/// The route's answer to `request`: a route cannot fail.
pub async fn call_route<S>(route: S, request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    answer_of(route.oneshot(request)).await
}

/// The answer of a route's future, which cannot fail.
pub async fn answer_of(route: impl Future<Output = Result<Response, Infallible>>) -> Response {
    match route.await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
