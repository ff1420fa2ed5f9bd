//! The listener: accepts connections, serves HTTP/1.1 with keep-alive (each connection
//! on the relay's own path, the `conn` module, which hands unusual ones to hyper's
//! server and [`Relay::handle`]), and drains on shutdown. HTTP/1.1 only: it is what
//! Cloud Run sends a container unless end-to-end HTTP/2 is switched on, which shopgen
//! does not do.
//!
//! Takes a bound [`TcpListener`], a relay and a shutdown future; gives back when the
//! shutdown future has fired and every connection has finished (or the drain timeout has
//! passed). On shutdown the listener closes at once, idle keep-alive connections close,
//! and in-flight requests run to completion.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use shopgen_process::stdout_lines;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::log::{Line, Severity, Value};
use crate::proxy::Relay;

/// Open client connections, and a wake-up when the last one closes.
#[derive(Default)]
struct Open {
    count: AtomicUsize,
    none_left: Notify,
}

/// Counts one connection while it lives.
struct Counted(Arc<Open>);

impl Counted {
    fn new(open: &Arc<Open>) -> Self {
        open.count.fetch_add(1, Ordering::AcqRel);
        Counted(open.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_left.notify_waiters();
        }
    }
}

impl Open {
    async fn all_closed(&self) {
        loop {
            let notified = self.none_left.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Serves `relay` on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, relay: Arc<Relay>, shutdown: impl Future<Output = ()>) {
    // Connections handed to the general path (hyper) drain through `graceful`; every
    // connection, on either path, watches `stop` and is counted in `open`.
    let graceful = GracefulShutdown::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let open = Arc::new(Open::default());
    tokio::pin!(shutdown);
    stdout_lines::start_batching();
    let flusher = tokio::spawn(stdout_lines::flusher());
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
        let counted = Counted::new(&open);
        let relay = relay.clone();
        let stopped = stopped.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            crate::conn::serve_connection(relay, stream, peer, stopped, watcher).await;
            drop(counted);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let in_flight = open.count.load(Ordering::Acquire);
    let drain = relay.config().drain_timeout;
    Line::new(Severity::Info, "shutting down")
        .field("connections", Value::U64(in_flight as u64))
        .emit();
    tokio::select! {
        () = async {
            graceful.shutdown().await;
            open.all_closed().await;
        } => {}
        () = tokio::time::sleep(drain) => {
            Line::new(Severity::Warning, "drain timed out; closing remaining connections")
                .field("drain_timeout_ms", Value::U64(drain.as_millis() as u64))
                .emit();
        }
    }
    flusher.abort();
    stdout_lines::stop_batching();
}
