//! One client connection on the relay's own HTTP/1.1 path.
//!
//! One task per client connection, with one read buffer for the client, one for the
//! connection's own upstream connection and one for the heads it writes, all reused
//! from request to request. A request head is parsed in place ([`crate::h1`]), decided
//! by [`crate::admission`] (as on the general path), rewritten (the same header rules
//! as [`crate::headers`]) and written to the upstream together with the body bytes
//! already read, in one write; the response head is parsed in place, rewritten and
//! written to the client together with the body bytes already read. Bodies then pass
//! through unchanged (`Content-Length`, or chunked with [`h1::Chunked`] finding the
//! end); an upstream body delimited by the connection's end is sent to the client
//! chunked. Pipelined requests are answered in order.
//!
//! What this path does not handle itself, the connection hands, with every byte read
//! so far, to the general path (hyper's server and [`Relay::handle`]) for the rest of
//! its life: HTTP/1.0 clients, `Upgrade` and request targets that are not in origin
//! form. Everything the relay answers for an API call, CORS preflights included, stays
//! here.
//!
//! Limits and deadlines:
//! * a request head must be complete within
//!   [`crate::RelayConfig::header_read_timeout`] of its first byte
//!   and fit in [`h1::MAX_HEAD_BYTES`] (else 431); an idle keep-alive connection is
//!   closed after [`IDLE_TIMEOUT`];
//! * one deadline per exchange ([`crate::RelayConfig::upstream_timeout`]) from the
//!   moment the head arrived, covering the request body, the connection, a retry, the
//!   response head (504 when it passes before the head) and the response body (the
//!   client connection is closed when it passes mid-body);
//! * deadlines are checked against one timer per connection and direction that is only
//!   re-armed when it fires early, not set up for every request.
//!
//! Retry: an idempotent request whose whole body had been read is sent once more, on a
//! new connection, when the upstream connection could not be opened or failed before
//! any byte of a response (a kept-alive connection the upstream had closed).
//!
//! The connection loop (reading heads, handing a connection over) is here; the rest
//! along its seams:
//! * `request`: a request decided by admission, its upstream head and body, the
//!   exchange with the upstream (deadline, retry);
//! * `response`: the upstream's response head read and rewritten, its body passed on;
//! * `local`: the answers the relay writes itself (errors, the health check,
//!   preflights);
//! * `io`: timers, reads, the gentle close and the hand-over stream.

mod io;
mod local;
mod request;
mod response;

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::h1::{self, Field, HeadError, Kind, RequestHead};
use crate::headers;
use crate::proxy::Relay;
use crate::reply::Reject;
use crate::upstream::UpstreamSlot;

use self::io::{Rewind, Timer, read_more, until};

/// How long a keep-alive client connection may stay idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Initial size of the read buffers.
const READ_CHUNK: usize = 16 * 1024;

/// How one request ended for its connection.
enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close the connection.
    Close,
    /// Give the connection to the general path.
    Handoff,
}

/// The connection's upstream connection.
struct Upstream {
    stream: TcpStream,
    last_used: Instant,
}

/// A client connection on the relay's own path.
pub(crate) struct Conn {
    relay: Arc<Relay>,
    client: TcpStream,
    peer: SocketAddr,
    /// Client bytes not yet consumed; a request starts at 0.
    buf: Vec<u8>,
    fields: Vec<Field>,
    /// Heads being written.
    out: Vec<u8>,
    upstream: Option<Upstream>,
    upbuf: Vec<u8>,
    upfields: Vec<Field>,
    client_timer: Timer,
    exchange_timer: Timer,
    shutdown: watch::Receiver<bool>,
    /// The request's id.
    rid: Vec<u8>,
    /// The request's `Origin`, when it had one.
    origin: Option<Vec<u8>>,
    /// The request's path, for the log.
    path: String,
    /// For the log line of an answer to a failed exchange: the time spent on the
    /// upstream and whether the request was sent twice.
    failed_at_upstream: Option<(f64, bool)>,
    /// The connection closes after an answer while the client may still be sending:
    /// close gently (see [`Conn::linger_close`]).
    linger: bool,
}

/// Serves one client connection: on the relay's own path, then (if it hands over) on
/// the general path.
pub(crate) async fn serve_connection(
    relay: Arc<Relay>,
    client: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    watcher: Watcher,
) {
    let mut conn = Conn {
        relay,
        client,
        peer,
        buf: Vec::with_capacity(READ_CHUNK),
        fields: Vec::with_capacity(32),
        out: Vec::with_capacity(1024),
        upstream: None,
        upbuf: Vec::new(),
        upfields: Vec::new(),
        client_timer: Timer::new(),
        exchange_timer: Timer::new(),
        shutdown,
        rid: Vec::with_capacity(64),
        origin: None,
        path: String::new(),
        failed_at_upstream: None,
        linger: false,
    };
    let next = conn.run().await;
    if conn.linger {
        conn.linger_close().await;
    }
    if let Next::Handoff = next {
        let Conn {
            relay,
            client,
            peer,
            buf,
            ..
        } = conn;
        general_path(relay, Rewind::new(buf, client), peer, watcher).await;
    }
}

/// The general path: hyper's HTTP/1 server and [`Relay::handle`].
async fn general_path(relay: Arc<Relay>, io: Rewind, peer: SocketAddr, watcher: Watcher) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(relay.config().header_read_timeout)
        .keep_alive(true);
    let upstream = UpstreamSlot::new();
    let service = service_fn({
        let upstream = upstream.clone();
        move |req| {
            let relay = relay.clone();
            let upstream = upstream.clone();
            async move { Ok::<_, std::convert::Infallible>(relay.handle(req, peer, &upstream).await) }
        }
    });
    let conn = http.serve_connection(TokioIo::new(io), service);
    let conn = Box::pin(watcher.watch(conn));
    let _ = upstream.drive(conn).await;
}

impl Conn {
    async fn run(&mut self) -> Next {
        loop {
            let head = match self.read_head().await {
                Ok(Some(head)) => head,
                Ok(None) => return Next::Close,
                Err(e) => {
                    let reject = match e {
                        HeadError::TooLarge => Reject::HeaderTooLarge,
                        HeadError::Malformed => Reject::Malformed("the request is malformed"),
                        HeadError::Framing(reason) => Reject::Malformed(reason),
                    };
                    self.rid.clear();
                    self.rid.extend_from_slice(&headers::new_request_id_bytes());
                    self.path.clear();
                    self.local_reply(
                        reject,
                        None,
                        false,
                        Instant::now(),
                        "-",
                        &e.to_string(),
                        true,
                    )
                    .await;
                    return Next::Close;
                }
            };
            match self.request(head).await {
                Next::KeepAlive if !*self.shutdown.borrow() => {}
                Next::KeepAlive | Next::Close => return Next::Close,
                Next::Handoff => return Next::Handoff,
            }
        }
    }

    /// Reads until a whole request head is in the buffer. `Ok(None)`: the connection
    /// ended, idled out, took too long to send a head, or the server is shutting down.
    async fn read_head(&mut self) -> Result<Option<RequestHead>, HeadError> {
        let header_timeout = self.relay.config().header_read_timeout;
        let mut deadline = None;
        loop {
            if !self.buf.is_empty()
                && let Some(head) = h1::parse_request(&self.buf, &mut self.fields)?
            {
                return Ok(Some(head));
            }
            let read = if self.buf.is_empty() {
                if *self.shutdown.borrow() {
                    return Ok(None);
                }
                let idle = Instant::now() + IDLE_TIMEOUT;
                let shutdown = &mut self.shutdown;
                let read = read_more(&mut self.client, &mut self.buf);
                let mut read = pin!(read);
                let mut stop = pin!(shutdown.changed());
                let timer = &mut self.client_timer;
                poll_fn(|cx| {
                    if let Poll::Ready(r) = read.as_mut().poll(cx) {
                        return Poll::Ready(Some(r));
                    }
                    if stop.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    timer.poll_expired(cx, idle).map(|()| None)
                })
                .await
            } else {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + header_timeout);
                until(
                    &mut self.client_timer,
                    deadline,
                    read_more(&mut self.client, &mut self.buf),
                )
                .await
            };
            match read {
                Some(Ok(0) | Err(_)) | None => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Appends the fields of a head parsed from `buf` that are passed on. A field whose
/// kind has a rule of its own (`by_kind`, given the kind and the name, gives `Some`) is
/// kept as that says; any other
/// is kept unless the head's `Connection` field names it (hop-by-hop, looked up only
/// when `names_headers`) or `drop_name` drops it.
fn push_passed_fields(
    out: &mut Vec<u8>,
    buf: &[u8],
    fields: &[Field],
    names_headers: bool,
    by_kind: impl Fn(Kind, &[u8]) -> Option<bool>,
    drop_name: impl Fn(&[u8]) -> bool,
) {
    for f in fields {
        let name = f.name.of(buf);
        let keep = by_kind(f.kind, name).unwrap_or_else(|| {
            let hop = names_headers && h1::named_by_connection(buf, fields, name);
            !hop && !drop_name(name)
        });
        if keep {
            push_field(out, f.name.of(buf), f.value.of(buf));
        }
    }
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends a `date` field (the formatted date is cached per thread and second).
fn push_date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = secs;
            }
        }
        if cached.0 == secs {
            out.extend_from_slice(b"date: ");
            out.extend_from_slice(&cached.1);
            out.extend_from_slice(b"\r\n");
        }
    });
}
