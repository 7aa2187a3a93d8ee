//! The accept loop: HTTP/1 and HTTP/2 over hyper, with the limits `axum::serve` does not
//! expose — a deadline for request headers (slow clients cannot hold connections), a cap on
//! open connections per client address, and an accept loop that survives running out of
//! file descriptors.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo, http::Version};
use futures_util::FutureExt;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::{
    api_guard::is_api_path,
    header_deadline::{HeaderDeadline, TrackedBody, WatchedIo},
};

/// Request headers beyond what `http::header_limits` answers with a problem+json `431` are
/// refused by hyper itself (a bare `431`); these bound what one connection can make us buffer.
const HARD_MAX_HEADERS: usize = 256;
const HARD_MAX_HEADER_BYTES: usize = 128 * 1024;

/// Limits of the listener, from the settings.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A connection that has not sent a request's complete headers this long after it began
    /// sending them (or after its previous response) is closed.
    pub header_read_timeout: Duration,
    /// Open connections per client address; `0`: no cap. Trusted proxies are exempt, since
    /// every client behind them shares their address.
    pub per_address: usize,
    pub trusted_proxies: Arc<Vec<IpNet>>,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits
/// for in-flight requests (upgraded connections are closed by their own handlers).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    // No timer for HTTP/1: hyper would then arm its own header deadline for every request
    // (30 s unless told otherwise); `HeaderDeadline` keeps one per connection instead.
    builder
        .http1()
        .max_headers(HARD_MAX_HEADERS)
        .max_buf_size(HARD_MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(HARD_MAX_HEADER_BYTES as u32)
        .enable_connect_protocol();
    let open = OpenConnections::default();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_error_logged: Option<tokio::time::Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(&error, &mut last_error_logged).await;
                    continue;
                }
            },
        };
        let exempt = limits.per_address == 0
            || limits
                .trusted_proxies
                .iter()
                .any(|net| net.contains(&peer.ip()));
        let Some(slot) = open.take(
            peer.ip(),
            if exempt {
                usize::MAX
            } else {
                limits.per_address
            },
        ) else {
            // Closing at once frees the descriptor for everyone else.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let deadline = HeaderDeadline::new(limits.header_read_timeout);
        let service = service_fn({
            let deadline = deadline.clone();
            move |mut request: hyper::Request<Incoming>| {
                let busy = deadline.request(request.version() == Version::HTTP_2);
                // The peer's address is for the API guard's per-address budget alone. Other
                // requests (health checks above all) go without it: their extensions then fit
                // the map's first allocation, which a fourth entry would grow
                // (`bench/README.md`).
                if is_api_path(request.uri().path()) {
                    request.extensions_mut().insert(ConnectInfo(peer));
                }
                router.clone().oneshot(request).map(|answered| {
                    answered.map(|response| response.map(|body| TrackedBody::new(body, busy)))
                })
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(
                WatchedIo::new(TokioIo::new(stream), deadline.clone()),
                service,
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(error) = ended {
                    tracing::debug!(%error, "connection ended with an error");
                },
                // Dropping the connection closes it, as hyper's own deadline would.
                () = deadline.missed() => {
                    tracing::debug!("connection closed: no request headers within the deadline");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Accepting fails for reasons that pass — most often no file descriptor is free until some
/// connection closes. Wait a moment instead of spinning or giving up, and log at most once a
/// second.
async fn pause_after_accept_error(
    error: &io::Error,
    last_logged: &mut Option<tokio::time::Instant>,
) {
    let now = tokio::time::Instant::now();
    if last_logged.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
        tracing::warn!(%error, "cannot accept a connection; retrying");
        *last_logged = Some(now);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Open connections per client address.
#[derive(Clone, Default)]
struct OpenConnections(Arc<Mutex<HashMap<IpAddr, usize>>>);

struct Slot {
    open: OpenConnections,
    address: IpAddr,
}

impl OpenConnections {
    fn take(&self, address: IpAddr, max: usize) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            open: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, as servers commonly do:
/// the default soft limit (often 1,024) is far below what a service holding many idle
/// WebSockets needs. Returns the limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}
