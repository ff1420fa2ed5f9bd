//! The listener: accepts connections, serves HTTP/1.1 with keep-alive through the
//! [`Relay`], and drains on shutdown. HTTP/1.1 only: it is what Cloud Run sends a
//! container unless end-to-end HTTP/2 is switched on, which shopgen does not do.
//!
//! Takes a bound [`TcpListener`], a relay and a shutdown future; gives back when the
//! shutdown future has fired and every connection has finished (or the drain timeout has
//! passed). On shutdown the listener closes at once, idle keep-alive connections close,
//! and in-flight requests run to completion.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::log::{Line, Severity, Value};
use crate::proxy::Relay;
use crate::upstream::UpstreamSlot;

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `relay` on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, relay: Arc<Relay>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let flusher = tokio::spawn(crate::log::flusher());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    Line::new(Severity::Error, "accept failed")
                        .str("error", &e.to_string())
                        .emit();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let relay = relay.clone();
        // The client connection's own upstream connection, driven by the same task.
        let upstream = UpstreamSlot::new();
        let service = service_fn({
            let upstream = upstream.clone();
            move |req| {
                let relay = relay.clone();
                let upstream = upstream.clone();
                async move { Ok::<_, Infallible>(relay.handle(req, peer, &upstream).await) }
            }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = Box::pin(graceful.watch(conn));
        tokio::spawn(async move {
            let _ = upstream.drive(conn).await;
        });
    }
    drop(listener);
    let in_flight = graceful.count();
    let drain = relay.config().drain_timeout;
    Line::new(Severity::Info, "shutting down")
        .field("connections", Value::U64(in_flight as u64))
        .emit();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            Line::new(Severity::Warning, "drain timed out; closing remaining connections")
                .field("drain_timeout_ms", Value::U64(drain.as_millis() as u64))
                .emit();
        }
    }
    flusher.abort();
    crate::log::flush();
}

/// Completes on SIGTERM (what Cloud Run and Kubernetes send) or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
