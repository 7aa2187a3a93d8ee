//! The header deadline: an HTTP/1 connection that has not sent a request's complete headers
//! within the deadline after it opened, or after its previous response ended, is closed.
//!
//! hyper keeps such a deadline itself (`header_read_timeout`), but arms a timer of its own for
//! every request: a boxed sleep registered in the runtime's timer wheel while the headers are
//! read and removed once they are in, about a thousand of a health check's 21,000 instructions
//! (`bench/README.md`). Here one timer serves the connection's whole life: a request marks the
//! connection busy when its headers are in, the end of its response marks it idle, and the
//! timer, when it fires, either closes a connection idle for too long or sleeps until the
//! earliest moment it could be. A response ends when hyper drops its body and the socket has
//! taken every byte: hyper is done with a body it was handed whole long before a slow client
//! has read it.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use hyper::{
    body::{Body as HttpBody, Frame, SizeHint},
    rt::{Read, ReadBufCursor, Write},
};
use tokio::time::Instant;

/// One connection's deadline.
#[derive(Clone)]
pub struct HeaderDeadline(Arc<Shared>);

struct Shared {
    timeout: Duration,
    opened: Instant,
    /// Requests whose headers are in and whose response has not ended.
    busy: AtomicUsize,
    /// When the last response ended, in nanoseconds after `opened`.
    idle_since: AtomicU64,
    /// The socket refused the last write: an answer is still on its way to the client.
    blocked: AtomicBool,
    /// HTTP/2 multiplexes requests and has no deadline for headers, as with hyper's own.
    exempt: AtomicBool,
}

impl HeaderDeadline {
    /// The deadline of a connection opened now.
    pub fn new(timeout: Duration) -> Self {
        Self(Arc::new(Shared {
            timeout,
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            blocked: AtomicBool::new(false),
            exempt: AtomicBool::new(false),
        }))
    }

    /// A request's headers are in: the connection is busy until the returned guard (carried
    /// by the response's body) is dropped.
    pub fn request(&self, http2: bool) -> Busy {
        if http2 {
            self.0.exempt.store(true, Ordering::Relaxed);
        }
        self.0.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Completes once the connection has missed its deadline; never for an exempt one.
    pub async fn missed(self) {
        let shared = &*self.0;
        let sleep = tokio::time::sleep(shared.timeout);
        tokio::pin!(sleep);
        loop {
            sleep.as_mut().await;
            if shared.exempt.load(Ordering::Relaxed) {
                return std::future::pending().await;
            }
            let now = Instant::now();
            let due = if shared.busy.load(Ordering::Acquire) > 0
                || shared.blocked.load(Ordering::Acquire)
            {
                now + shared.timeout
            } else {
                shared.opened
                    + Duration::from_nanos(shared.idle_since.load(Ordering::Acquire))
                    + shared.timeout
            };
            if due <= now {
                return;
            }
            sleep.as_mut().reset(due);
        }
    }
}

impl Shared {
    /// Recorded before the connection is marked idle, so that a timer which sees it idle also
    /// sees since when.
    fn active_until_now(&self) {
        let since = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.idle_since.fetch_max(since, Ordering::Release);
    }

    /// A write was tried: refused (`pending`) or taken.
    fn wrote(&self, pending: bool) {
        if pending {
            self.blocked.store(true, Ordering::Release);
        } else if self.blocked.load(Ordering::Relaxed) {
            self.active_until_now();
            self.blocked.store(false, Ordering::Release);
        }
    }
}

/// A request in progress on its connection.
pub struct Busy(HeaderDeadline);

impl Drop for Busy {
    fn drop(&mut self) {
        let shared = &*self.0.0;
        shared.active_until_now();
        shared.busy.fetch_sub(1, Ordering::Release);
    }
}

/// A connection's socket, telling its deadline whether the client keeps up with the answers.
pub struct WatchedIo<T> {
    io: T,
    deadline: HeaderDeadline,
}

impl<T> WatchedIo<T> {
    pub fn new(io: T, deadline: HeaderDeadline) -> Self {
        Self { io, deadline }
    }
}

impl<T: Read + Unpin> Read for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.deadline.0.wrote(written.is_pending());
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.deadline.0.wrote(written.is_pending());
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A response's body that keeps its request's connection busy until hyper has written it and
/// drops it.
pub struct TrackedBody<B> {
    body: B,
    _busy: Busy,
}

impl<B> TrackedBody<B> {
    pub fn new(body: B, busy: Busy) -> Self {
        Self { body, _busy: busy }
    }
}

impl<B: HttpBody + Unpin> HttpBody for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_misses_its_deadline_one_timeout_after_its_last_response() {
        let deadline = HeaderDeadline::new(Duration::from_secs(5));
        let started = Instant::now();
        let watched = tokio::spawn(deadline.clone().missed());
        tokio::time::sleep(Duration::from_secs(3)).await;
        let busy = deadline.request(false);
        // A request in progress holds the connection however long it takes.
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(!watched.is_finished());
        drop(busy);
        watched.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(28));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_the_socket_has_not_taken_yet_holds_the_connection() {
        let deadline = HeaderDeadline::new(Duration::from_secs(5));
        let started = Instant::now();
        let watched = tokio::spawn(deadline.clone().missed());
        drop(deadline.request(false));
        deadline.0.wrote(true);
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert!(!watched.is_finished());
        deadline.0.wrote(false);
        watched.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(17));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_never_sends_headers_misses_its_deadline() {
        let started = Instant::now();
        HeaderDeadline::new(Duration::from_secs(5)).missed().await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_has_no_header_deadline() {
        let deadline = HeaderDeadline::new(Duration::from_secs(5));
        drop(deadline.request(true));
        let missed = tokio::time::timeout(Duration::from_secs(60), deadline.missed()).await;
        assert!(missed.is_err());
    }
}
