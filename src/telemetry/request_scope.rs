//! The request being handled on this task: its id, method and route, kept in a task-local for
//! the request's lifetime.
//!
//! An error rendered anywhere below can carry the id without threading it through every
//! function, and the log line of any event in the request names the request, as the
//! `request` span's fields would. When nothing needs a `tracing` span for the request (JSON
//! logs with a plain filter, no traces: `request_spans`), no span is opened and the log line
//! reads these instead: opening, entering and closing the span was 11% of a health check's
//! instructions (`bench/README.md`).

use std::sync::atomic::{AtomicBool, Ordering};

use axum::{extract::MatchedPath, http::HeaderValue};

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// Whether requests open a `tracing` span. True until `telemetry::init` installs a subscriber
/// that needs none, so that any other subscriber (a test's) sees the spans it would expect.
static REQUEST_SPANS: AtomicBool = AtomicBool::new(true);

pub fn request_spans() -> bool {
    REQUEST_SPANS.load(Ordering::Relaxed)
}

pub(super) fn set_request_spans(needed: bool) {
    REQUEST_SPANS.store(needed, Ordering::Relaxed);
}

/// A request's id, method and route, as its log lines name it.
#[derive(Clone)]
pub struct RequestScope {
    pub id: RequestId,
    pub method: &'static str,
    route: Option<MatchedPath>,
}

impl RequestScope {
    /// `route` is the matched template; `None` for a path no route matched.
    pub fn new(id: RequestId, method: &'static str, route: Option<MatchedPath>) -> Self {
        Self { id, method, route }
    }

    /// The route template (never the raw path, which may hold a plate), or `unmatched`.
    pub fn route(&self) -> &str {
        self.route.as_ref().map_or("unmatched", MatchedPath::as_str)
    }

    /// Runs `future` with this scope as the task's request.
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        REQUEST.scope(self, future)
    }

    /// Runs `f` with this scope as the task's request.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        REQUEST.sync_scope(self, f)
    }
}

/// Calls `f` with the request being handled on this task, if any.
pub fn with_current<R>(f: impl FnOnce(&RequestScope) -> R) -> Option<R> {
    REQUEST.try_with(f).ok()
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    with_current(|request| request.id.as_str().to_owned())
}

/// A request's id: the client's, when it is 1–64 characters from `[A-Za-z0-9._-]`, or a new
/// ULID. Kept inline, so handing it to the handler's task, the log line and the response
/// allocates nothing.
#[derive(Clone, Copy)]
pub struct RequestId {
    len: u8,
    bytes: [u8; 64],
}

impl RequestId {
    pub fn generate() -> Self {
        let mut bytes = [0; 64];
        let mut text = [0; ulid::ULID_LEN];
        ulid::Ulid::new().array_to_str(&mut text);
        bytes[..ulid::ULID_LEN].copy_from_slice(&text);
        Self {
            len: ulid::ULID_LEN as u8,
            bytes,
        }
    }

    pub fn from_client(value: &HeaderValue) -> Option<Self> {
        let value = value.as_bytes();
        let ok = (1..=64).contains(&value.len())
            && value
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return None;
        }
        let mut bytes = [0; 64];
        bytes[..value.len()].copy_from_slice(value);
        Some(Self {
            len: value.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // ASCII by construction.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}
