//! The upstream side of one client connection: at most one keep-alive HTTP/1.1
//! connection to the upstream, opened on the first request that needs it and driven by
//! the same task that serves the client connection.
//!
//! Requests on one client connection come one after the other (HTTP/1.1), so one
//! upstream connection per client connection is all they need, and no pool is involved:
//! no lock shared between connections, no lookup, no task of its own for the upstream
//! connection, no hand-over between tasks for each request and response. The client
//! connection's task polls both connections ([`UpstreamSlot::drive`]); a request written
//! by the proxy is sent to the upstream in the same poll, and the upstream's answer
//! reaches the proxy without waking another task.
//!
//! An upstream connection is dropped, and the next request opens a new one, when it
//! fails or closes, when an exchange on it did not finish (deadline, error), and when it
//! has been idle for [`IDLE_TIMEOUT`]. It closes with its client connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service as _;

use crate::body::UpstreamBody;

/// An idle upstream connection older than this is not reused (a new one is opened).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

type Connection = http1::Connection<TokioIo<TcpStream>, UpstreamBody>;

/// Why an exchange with the upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The connection could not be opened.
    #[error("cannot connect to the upstream")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The exchange failed on an open connection.
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

#[derive(Default)]
struct Slot {
    sender: Option<http1::SendRequest<UpstreamBody>>,
    connection: Option<Pin<Box<Connection>>>,
    last_used: Option<Instant>,
}

/// The upstream connection of one client connection (shared by its request handler
/// and the task that drives both connections).
#[derive(Default)]
pub struct UpstreamSlot {
    slot: Mutex<Slot>,
}

impl std::fmt::Debug for UpstreamSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSlot")
            .field("open", &self.lock().sender.is_some())
            .finish()
    }
}

impl UpstreamSlot {
    /// An empty slot: no upstream connection yet.
    pub fn new() -> Arc<Self> {
        Arc::new(UpstreamSlot::default())
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the upstream connection (an exchange on it did not finish cleanly).
    pub fn reset(&self) {
        let mut slot = self.lock();
        slot.sender = None;
        slot.connection = None;
    }

    /// Sends `req` (origin-form URI) on the open connection, or on a new one to
    /// `authority` opened with `connector`, and waits for the response head.
    pub async fn send(
        &self,
        connector: &HttpConnector,
        authority: &Uri,
        req: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let reusable = {
            let mut slot = self.lock();
            let fresh = slot.last_used.is_some_and(|t| t.elapsed() < IDLE_TIMEOUT);
            match slot.sender.take() {
                Some(sender) if fresh && !sender.is_closed() => Some(sender),
                _ => {
                    slot.connection = None;
                    None
                }
            }
        };
        let mut sender = match reusable {
            Some(sender) => sender,
            None => self.open(connector, authority).await?,
        };
        if !sender.is_ready() {
            // The previous response has just ended; the connection turns idle when the
            // driving task polls it next.
            sender.ready().await?;
        }
        let response = sender.send_request(req);
        {
            let mut slot = self.lock();
            slot.sender = Some(sender);
            slot.last_used = Some(Instant::now());
        }
        response.await.map_err(UpstreamError::from)
    }

    async fn open(
        &self,
        connector: &HttpConnector,
        authority: &Uri,
    ) -> Result<http1::SendRequest<UpstreamBody>, UpstreamError> {
        let io = connector
            .clone()
            .call(authority.clone())
            .await
            .map_err(|e| UpstreamError::Connect(Box::new(e)))?;
        let (sender, connection) = http1::handshake(io).await?;
        self.lock().connection = Some(Box::pin(connection));
        Ok(sender)
    }

    /// Polls the upstream connection, if any; drops it once it has ended.
    fn poll_connection(&self, cx: &mut Context<'_>) {
        let mut slot = self.lock();
        if let Some(connection) = slot.connection.as_mut()
            && connection.as_mut().poll(cx).is_ready()
        {
            slot.connection = None;
            slot.sender = None;
        }
    }

    /// Runs `client` (the client connection) and this upstream connection in one task,
    /// until the client connection ends; the upstream connection is closed then.
    pub fn drive<F: Future + Unpin>(self: Arc<Self>, client: F) -> Drive<F> {
        Drive { slot: self, client }
    }
}

/// The future of [`UpstreamSlot::drive`].
pub struct Drive<F> {
    slot: Arc<UpstreamSlot>,
    client: F,
}

impl<F: Future + Unpin> Future for Drive<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // The upstream first (it hands responses and body bytes to the handler), then
        // the client connection (which may write a new request into the upstream
        // connection), then the upstream again to send that request out at once.
        this.slot.poll_connection(cx);
        if let Poll::Ready(out) = Pin::new(&mut this.client).poll(cx) {
            this.slot.reset();
            return Poll::Ready(out);
        }
        this.slot.poll_connection(cx);
        Poll::Pending
    }
}
