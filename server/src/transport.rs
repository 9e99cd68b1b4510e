//! The HTTP listener: hyper with the limits `axum::serve` does not set. A request's headers must
//! arrive within `header_read_timeout` (slowloris), at most `max_buf` bytes of them are buffered
//! (hyper answers 431 beyond; the router's own, smaller limit answers 431 in JSON first), and a
//! connection with no bytes either way for `idle_timeout` is closed, unless the server itself is
//! what is slow: a handler still working, or a response body waiting for its next chunk (a large
//! export sends nothing while Postgres sorts). A client that stops reading is still cut off: then
//! the body is not waiting, the socket is. Every request carries the TCP peer as axum's
//! `ConnectInfo<SocketAddr>`.
//!
//! Shutdown is graceful: the listener closes, connections finish the request they are serving
//! (streams included) and close; [`serve`] returns when all have, or after `close_timeout`.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct TransportSettings {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// hyper's buffer for the request head; beyond it hyper itself answers 431.
    pub max_buf: usize,
}

/// Serves `router` on `listener` until `stop` resolves and every connection has closed (or
/// `close_timeout` has passed since `stop`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: TransportSettings,
    stop: impl Future<Output = ()> + Send,
    close_timeout: Duration,
) -> io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(settings.max_buf.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(settings.max_buf.max(8192) as u32);
    let builder = Arc::new(builder);
    let (drain_tx, drain_rx) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            Arc::clone(&builder),
            stream,
            peer,
            router.clone(),
            settings.idle_timeout,
            drain_rx.clone(),
        ));
    }
    drop(listener);
    drop(drain_rx);
    let _ = drain_tx.send(true);
    if tokio::time::timeout(close_timeout, drain_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("connections still open at the end of the shutdown grace");
    }
    Ok(())
}

async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    idle_timeout: Duration,
    mut drain: watch::Receiver<bool>,
) {
    let activity = Activity::new();
    let io = TokioIo::new(IdleIo {
        inner: stream,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let activity = service_activity.clone();
        let response = router.clone().oneshot(request.map(Body::new));
        async move {
            // The handler is the server's time, not the client's.
            let working = Producing::new(activity.clone(), true);
            let response = response.await?;
            drop(working);
            Ok::<_, std::convert::Infallible>(response.map(|body| ProducedBody {
                inner: body,
                waiting: Producing::new(activity, false),
            }))
        }
    });
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let deadline = closing.unwrap_or_else(|| tokio::time::Instant::now() + idle_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                break;
            }
            _ = activity.idle_for(idle_timeout), if closing.is_none() => {
                tracing::debug!(%peer, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + Duration::from_secs(5));
            }
            changed = drain.changed(), if closing.is_none() => {
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
                // Finish the request in flight (a stream may run for minutes); the caller's
                // close timeout bounds the wait.
                closing = Some(tokio::time::Instant::now() + Duration::from_secs(3600));
            }
            _ = tokio::time::sleep_until(deadline), if closing.is_some() => {
                // A closing connection that would not finish.
                break;
            }
        }
    }
}

/// The time of the last byte read or written on a connection, and how many of its requests the
/// server is still working on (a handler running, or a body waiting for its next chunk).
#[derive(Clone)]
struct Activity {
    start: Instant,
    last_ms: Arc<AtomicU64>,
    producing: Arc<AtomicUsize>,
}

/// One request the server is working on while it is set (see [`Activity`]); unset on drop.
struct Producing {
    activity: Activity,
    set: bool,
}

impl Producing {
    fn new(activity: Activity, set: bool) -> Self {
        if set {
            activity.producing.fetch_add(1, Ordering::Relaxed);
        }
        Producing { activity, set }
    }

    fn set(&mut self, set: bool) {
        if set != self.set {
            self.set = set;
            if set {
                self.activity.producing.fetch_add(1, Ordering::Relaxed);
            } else {
                self.activity.producing.fetch_sub(1, Ordering::Relaxed);
                // The wait ends now: the idle time counts from here.
                self.activity.touch();
            }
        }
    }
}

impl Drop for Producing {
    fn drop(&mut self) {
        self.set(false);
    }
}

/// A response body that marks its connection busy while it waits for its next chunk.
struct ProducedBody {
    inner: Body,
    waiting: Producing,
}

impl hyper::body::Body for ProducedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.waiting.set(polled.is_pending());
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            producing: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once no byte moved for `limit` while the server was not working on a request.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let idle = self.start.elapsed().saturating_sub(last);
            if self.producing.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(limit).await;
            } else if idle >= limit {
                return;
            } else {
                tokio::time::sleep(limit - idle).await;
            }
        }
    }
}

/// A stream that records its activity.
struct IdleIo<T> {
    inner: T,
    activity: Activity,
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::atomic::AtomicBool;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The server being slow is not the client being idle: a handler or a body that takes longer
    /// than the idle timeout still answers whole. A client that stops reading is still cut off.
    #[tokio::test]
    async fn only_the_clients_silence_is_idle() {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dropped);
        // One fallback that dispatches on the path (these are not the API's routes).
        let router = Router::new().fallback(move |uri: axum::http::Uri| {
            let flag = Arc::clone(&flag);
            async move {
                match uri.path() {
                    "/slow-handler" => {
                        // Longer than the idle timeout plus the 5 s a closing connection is given.
                        tokio::time::sleep(Duration::from_millis(6500)).await;
                        Body::from("handled")
                    }
                    "/slow-body" => {
                        let chunks =
                            futures::stream::iter(["first ", "second"]).then(|c| async move {
                                tokio::time::sleep(Duration::from_millis(3500)).await;
                                Ok::<_, std::io::Error>(bytes::Bytes::from(c))
                            });
                        Body::from_stream(chunks)
                    }
                    _ => {
                        // Drops (and sets the flag) when the connection is closed under it.
                        struct Guard(Arc<AtomicBool>);
                        impl Drop for Guard {
                            fn drop(&mut self) {
                                self.0.store(true, Ordering::SeqCst);
                            }
                        }
                        let guard = Guard(flag);
                        let chunks = futures::stream::repeat(()).map(move |()| {
                            let _ = &guard;
                            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 1 << 16]))
                        });
                        Body::from_stream(chunks)
                    }
                }
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = TransportSettings {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_buf: 16 * 1024,
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            router,
            settings,
            async {
                let _ = stop_rx.await;
            },
            Duration::from_secs(1),
        ));
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
        let handled = get("/slow-handler").await.unwrap();
        assert_eq!(handled.text().await.unwrap(), "handled");
        let body = get("/slow-body").await.unwrap();
        assert_eq!(body.text().await.unwrap(), "first second");

        // Asks for an endless body and never reads it: closed at the idle timeout.
        let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
        stalled
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let cut = async {
            while !dropped.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), cut)
            .await
            .expect("a client that stops reading is cut off");
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut rest)).await;
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
    }
}
