//! The accept loop: HTTP/1.1 connections with the limits a server facing the public needs.
//!
//! - **Header read timeout.** A request's head must be complete within `header_read_timeout`,
//!   or hyper closes the connection. hyper starts that timer whenever it waits for a request
//!   head — when the connection opens and again after each answer — so the same limit closes a
//!   kept-alive connection that sends no further request: the keep-alive idle time is the
//!   header read timeout.
//! - **Idle timeout.** A connection on which no byte moves either way for `idle_timeout` is
//!   closed. This covers what the header timer does not: a client that stops reading its
//!   answers leaves hyper's writes pending forever. It must exceed the request timeout of the
//!   middleware (30 s), since a handler that is still working moves no bytes.
//! - **Connection cap.** At most `max_connections` connections are served at once. Beyond the
//!   cap the loop stops accepting, so new connections wait in the kernel's listen backlog
//!   (and the kernel refuses them once that is full) and are served as others close; a flood
//!   costs the process neither memory nor tasks.
//! - **Graceful shutdown.** On the stop signal the listeners close (new connections are
//!   refused), idle kept-alive connections are closed, and requests in flight get
//!   `drain_timeout` to finish.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection limits of [`crate::serve_with`].
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Time a client has to send a request's head (also the keep-alive idle time).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once on the main listener.
    pub max_connections: usize,
    /// Time requests in flight get to finish once the stop signal arrives.
    pub drain_timeout: Duration,
}

impl ServeConfig {
    pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
    pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    pub const DEFAULT_DRAIN_TIMEOUT_SECS: u64 = 30;
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(Self::DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(Self::DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            drain_timeout: Duration::from_secs(Self::DEFAULT_DRAIN_TIMEOUT_SECS),
        }
    }
}

/// Where to listen.
pub struct Listeners {
    pub main: TcpListener,
    /// When set, `/metrics` is served here only, and the main listener answers 404 for it,
    /// so the metrics can be kept on an address only the monitoring network reaches.
    pub metrics: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(main: TcpListener) -> Self {
        Listeners {
            main,
            metrics: None,
        }
    }
}

/// Connections the metrics listener serves at once. It has its own budget so that a main
/// listener at its cap can still be watched.
const METRICS_CONNECTIONS: usize = 16;

/// Serves `main` (and `metrics`) until `stop` completes, then drains.
pub(crate) async fn run(
    main: (TcpListener, Router),
    metrics: Option<(TcpListener, Router)>,
    config: &ServeConfig,
    stop: impl Future<Output = ()>,
) {
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let connections = Arc::new(Connections {
        http1,
        idle_timeout: config.idle_timeout,
    });
    let graceful = GracefulShutdown::new();
    {
        let main_loop = accept_loop(
            &main.0,
            &main.1,
            Arc::new(Semaphore::new(
                config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
            &connections,
            &graceful,
        );
        let metrics_loop = async {
            match &metrics {
                Some((listener, app)) => {
                    let permits = Arc::new(Semaphore::new(METRICS_CONNECTIONS));
                    accept_loop(listener, app, permits, &connections, &graceful).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop => {}
            never = main_loop => match never {},
            never = metrics_loop => match never {},
        }
    }
    // Closing the listening sockets refuses new connections from here on.
    drop(main);
    drop(metrics);
    tracing::info!(
        connections = graceful.count(),
        "stopping: finishing the requests in flight"
    );
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_timeout = ?config.drain_timeout,
            "requests still in flight after the drain timeout are cut off"
        );
    }
}

async fn accept_loop(
    listener: &TcpListener,
    app: &Router,
    permits: Arc<Semaphore>,
    connections: &Arc<Connections>,
    graceful: &GracefulShutdown,
) -> Infallible {
    loop {
        // Waiting for a permit before accepting leaves further connections in the backlog.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            // The semaphore is never closed.
            return std::future::pending().await;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        let watcher = graceful.watcher();
        let connections = connections.clone();
        let app = app.clone();
        tokio::spawn(async move {
            connections.serve(stream, peer, app, watcher).await;
            drop(permit);
        });
    }
}

/// A connection reset before it was accepted is the client's business; anything else (out
/// of file descriptors) is logged, and the loop pauses so it does not spin.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What every connection shares: one hyper builder and the idle limit.
struct Connections {
    http1: http1::Builder,
    idle_timeout: Duration,
}

impl Connections {
    async fn serve(&self, stream: TcpStream, peer: SocketAddr, app: Router, watcher: Watcher) {
        let moved = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Counted {
            inner: stream,
            moved: moved.clone(),
        });
        // One service per connection. Handlers read the peer address (the login rate limit)
        // from `ConnectInfo`, as under axum's own server.
        let service =
            TowerToHyperService::new(app.map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            }));
        let connection = watcher.watch(self.http1.serve_connection(io, service));
        tokio::select! {
            served = connection => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection closed");
                }
            }
            () = quiet_for(&moved, self.idle_timeout) => {
                tracing::debug!(%peer, "closing an idle connection");
            }
        }
    }
}

/// Completes once `moved` has not changed for `limit`. Checked four times per period, so a
/// connection is closed between one and one and a quarter periods after its last byte,
/// with one timer per connection rather than a clock read per byte.
async fn quiet_for(moved: &AtomicU64, limit: Duration) {
    let tick = (limit / 4).max(Duration::from_millis(10));
    let mut last = moved.load(Ordering::Relaxed);
    let mut quiet = Duration::ZERO;
    loop {
        tokio::time::sleep(tick).await;
        let now = moved.load(Ordering::Relaxed);
        if now == last {
            quiet += tick;
            if quiet >= limit {
                return;
            }
        } else {
            last = now;
            quiet = Duration::ZERO;
        }
    }
}

/// A socket that counts the reads and writes that moved bytes.
struct Counted {
    inner: TcpStream,
    moved: Arc<AtomicU64>,
}

impl Counted {
    fn moved(&self) {
        // Only this connection's task writes the counter: no read-modify-write needed.
        let n = self.moved.load(Ordering::Relaxed);
        self.moved.store(n.wrapping_add(1), Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() != before {
            this.moved();
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        // hyper writes head and body with one `writev` only when the socket says it can.
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn quiet_for_waits_until_nothing_moves() {
        let moved = Arc::new(AtomicU64::new(0));
        let limit = Duration::from_millis(200);
        let started = std::time::Instant::now();
        let bump = {
            let moved = moved.clone();
            async move {
                // A byte every 100 ms for 400 ms keeps the connection open.
                for _ in 0..4 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    moved.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        let ((), ()) = tokio::join!(bump, quiet_for(&moved, limit));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(400 + 200),
            "closed while bytes were moving: {waited:?}"
        );
        assert!(
            waited < Duration::from_millis(400 + 200 + 500),
            "{waited:?}"
        );
    }
}
