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

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use hyper::header::HeaderMap;

use crate::admission::{self, Admission, admit, split_target};
use crate::cors::{self, Preflight};
use crate::h1::{self, Field, Framing, HeadError, HeadFields, Kind, RequestHead};
use crate::headers::{self, is_visible_ascii};
use crate::log::{Severity, Value};
use crate::proxy::{Relay, access_line_str, strip_api_key_param};
use crate::reply::{self, Reject};
use crate::route::{Method, PublicRoute};
use crate::upstream::UpstreamSlot;

/// How long a keep-alive client connection may stay idle between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long, and how many bytes, a closing connection reads and discards (see
/// [`Conn::linger_close`]).
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1024 * 1024;

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

/// The upstream exchange failed; `retry` when it may be sent again.
struct Failure {
    reject: Reject,
    detail: String,
    retry: bool,
    /// The upstream stopped taking the request body: it may have answered already.
    upstream_stopped_reading: bool,
}

impl Failure {
    fn new(reject: Reject, detail: impl Into<String>, retry: bool) -> Self {
        Failure {
            reject,
            detail: detail.into(),
            retry,
            upstream_stopped_reading: false,
        }
    }

    /// 504: the exchange's deadline (`timeout` after the head arrived) passed.
    fn timeout(timeout: Duration) -> Self {
        Failure::new(
            Reject::GatewayTimeout,
            format!("no response within {} ms", timeout.as_millis()),
            false,
        )
    }

    fn no_upstream() -> Self {
        Failure::new(Reject::BadGateway, "no upstream connection", false)
    }
}

/// A timer that is re-armed only when it fires before the deadline being waited for
/// (or when an earlier deadline is waited for).
struct Timer {
    sleep: Pin<Box<Sleep>>,
}

impl Timer {
    fn new() -> Self {
        Timer {
            sleep: Box::pin(tokio::time::sleep_until(far_future())),
        }
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        loop {
            match self.sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    if Instant::now() >= deadline {
                        return Poll::Ready(());
                    }
                    self.sleep.as_mut().reset(deadline);
                }
            }
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Runs `fut` until `deadline`; `None` when the deadline passed first.
async fn until<F: Future>(timer: &mut Timer, deadline: Instant, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        timer.poll_expired(cx, deadline).map(|()| None)
    })
    .await
}

/// Reads more bytes into `buf` (appending).
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    use tokio::io::AsyncReadExt as _;
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    stream.read_buf(buf).await
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
    /// Closes the client connection without losing the answer just written: a socket
    /// closed with unread input sends a reset, which can destroy the answer before the
    /// client reads it. So: end the sending side, then read and discard what the client
    /// still sends, for a short while.
    async fn linger_close(&mut self) {
        let _ = self.client.shutdown().await;
        let until_at = Instant::now() + LINGER;
        let mut discarded = 0usize;
        while discarded < LINGER_BYTES {
            self.buf.clear();
            match until(
                &mut self.client_timer,
                until_at,
                read_more(&mut self.client, &mut self.buf),
            )
            .await
            {
                Some(Ok(n)) if n > 0 => discarded += n,
                _ => return,
            }
        }
    }

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

    /// Answers one request whose head is at the start of the buffer.
    async fn request(&mut self, head: RequestHead) -> Next {
        let start = Instant::now();
        let relay = self.relay.clone();
        let config = relay.config();
        if head.minor == 0 || head.upgrade {
            return Next::Handoff;
        }
        let buf = &self.buf;
        let target = head.target.of(buf);
        if target.first() != Some(&b'/') {
            return Next::Handoff;
        }
        let Ok(target) = std::str::from_utf8(target) else {
            return Next::Handoff;
        };
        let (path, query) = split_target(target);
        // What is forwarded: the target without its fragment, as decided on.
        let query_at = query.map(|_| path.len());
        let target_len = path.len() + query.map_or(0, |q| q.len() + 1);
        let method_bytes = head.method.of(buf);
        let Ok(method) = hyper::Method::from_bytes(method_bytes) else {
            return Next::Handoff;
        };
        if method == hyper::Method::CONNECT {
            return Next::Handoff;
        }

        // What the head says, in one pass.
        let mut rid: Option<&[u8]> = None;
        let mut rid_count = 0;
        let mut origin: Option<&[u8]> = None;
        for f in &self.fields {
            match f.kind {
                Kind::RequestId => {
                    rid_count += 1;
                    rid = Some(f.value.of(buf));
                }
                Kind::Origin if origin.is_none() => origin = Some(f.value.of(buf)),
                _ => {}
            }
        }
        self.rid.clear();
        match rid {
            Some(v) if rid_count == 1 && headers::is_sane_request_id(v) => {
                self.rid.extend_from_slice(v);
            }
            _ => self.rid.extend_from_slice(&headers::new_request_id_bytes()),
        }
        self.origin = origin.map(<[u8]>::to_vec);
        self.path.clear();
        if config.access_log {
            self.path.push_str(path);
        }
        let is_head = method == hyper::Method::HEAD;
        let close = head.close;
        let admission = admit(
            relay.routes(),
            config,
            &admission::Head {
                method: &method,
                path,
                query,
                body_len: match head.framing {
                    Framing::None => Some(0),
                    Framing::Length(n) => Some(n),
                    Framing::Chunked | Framing::Close => None,
                },
                fields: &HeadFields::new(buf, &self.fields),
            },
        );
        let route = match admission {
            Admission::Admit { route } => route,
            Admission::Health => return self.health(&head, method.as_str(), start).await,
            Admission::Preflight { methods, answer } => {
                return self.preflight(&head, &methods, answer, start).await;
            }
            Admission::Reject {
                reject,
                route,
                detail,
            } => {
                return self
                    .reject(&head, method.as_str(), route, reject, start, detail)
                    .await;
            }
        };
        // Without a `key` parameter (the common case) nothing is allocated.
        let stripped = query.and_then(strip_api_key_param);

        // The upstream request head.
        // (The target was checked above: UTF-8, in origin form.)
        let buf = &self.buf;
        let target = &head.target.of(buf)[..target_len];
        let (path, query) = match query_at {
            Some(at) => (&target[..at], Some(&target[at + 1..])),
            None => (target, None),
        };
        let method_bytes = head.method.of(buf);
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(method_bytes);
        out.push(b' ');
        let base = config.upstream.base_path();
        if base.is_empty() && stripped.is_none() {
            out.extend_from_slice(target);
        } else {
            out.extend_from_slice(base.as_bytes());
            out.extend_from_slice(path);
            let query = stripped
                .as_deref()
                .map_or(query.unwrap_or(b""), str::as_bytes);
            if !query.is_empty() {
                out.push(b'?');
                out.extend_from_slice(query);
            }
        }
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_request_fields(
            out,
            buf,
            &self.fields,
            &head,
            config.api_key_header.as_str().as_bytes(),
            config.upstream.host_header().as_bytes(),
            self.peer,
            &self.rid,
        );

        // The body bytes already read go in the same write; the rest follows.
        let available = &buf[head.len..];
        let mut chunked = h1::Chunked::new();
        let (in_head, body_done) = match head.framing {
            Framing::Length(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                (n.min(available.len()), n <= available.len())
            }
            Framing::Chunked => match chunked.advance(available) {
                Ok(used) => (used, chunked.is_done()),
                Err(e) => {
                    let reject = Reject::Malformed("the chunked request body is malformed");
                    return self
                        .reject(
                            &head,
                            method.as_str(),
                            Some(route),
                            reject,
                            start,
                            &e.to_string(),
                        )
                        .await;
                }
            },
            Framing::None | Framing::Close => (0, true),
        };
        if head.framing == Framing::Chunked && chunked.data_len() > config.max_body_bytes {
            return self
                .reject(
                    &head,
                    method.as_str(),
                    Some(route),
                    Reject::PayloadTooLarge,
                    start,
                    "",
                )
                .await;
        }
        out.extend_from_slice(&available[..in_head]);
        self.buf.drain(..head.len + in_head);

        let deadline = start + config.upstream_timeout;
        let retryable = route.method().is_idempotent() && body_done;
        let upstream_start = Instant::now();
        let mut retried = false;
        let mut answered_early = false;
        let mut remaining = match head.framing {
            Framing::Length(n) => n - in_head as u64,
            _ => 0,
        };
        let exchanged = 'exchange: loop {
            let sent = self.send_head(deadline, route.method()).await;
            let sent = match sent {
                Ok(()) if !body_done => {
                    // The rest of the body, from the client to the upstream.
                    if head.expect_continue && self.buf.is_empty() {
                        let _ = self
                            .client
                            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                            .await;
                    }
                    self.forward_request_body(deadline, head.framing, &mut remaining, &mut chunked)
                        .await
                }
                other => other,
            };
            let res = match sent {
                Ok(()) => self.read_response_head(deadline, is_head).await,
                // An upstream that answers before reading the whole body (a 413 of its
                // own, say) and closes: its answer is passed on, not a 502.
                Err(f) if f.upstream_stopped_reading => {
                    match self.read_response_head(deadline, is_head).await {
                        Ok(res) => {
                            answered_early = true;
                            Ok(res)
                        }
                        Err(_) => Err(f),
                    }
                }
                Err(e) => Err(e),
            };
            match res {
                Ok(res) => break 'exchange Ok(res),
                Err(f) if f.retry && retryable && !retried => {
                    self.upstream = None;
                    retried = true;
                }
                Err(f) => break 'exchange Err(f),
            }
        };
        let upstream_ms = upstream_start.elapsed().as_secs_f64() * 1000.0;
        let res = match exchanged {
            Ok(res) => res,
            Err(f) => {
                self.upstream = None;
                let close = head.close
                    || f.reject.closes()
                    || !self.body_consumed(&head, remaining, &chunked);
                let is_head = method == hyper::Method::HEAD;
                self.failed_at_upstream = Some((upstream_ms, retried));
                self.local_reply(
                    f.reject,
                    Some(route),
                    is_head,
                    start,
                    route.method().as_str(),
                    &f.detail,
                    close,
                )
                .await;
                return if close { Next::Close } else { Next::KeepAlive };
            }
        };

        // The response. After an early answer the rest of the request body was never
        // read: both connections end with it (the client's gently).
        let closing = close || answered_early || *self.shutdown.borrow();
        let status = res.status;
        let result = self.forward_response(res, deadline, closing).await;
        if answered_early {
            self.upstream = None;
            self.linger = true;
        }
        if self.relay.config().access_log {
            let error = result.as_ref().err();
            let severity = if error.is_some() {
                Severity::Warning
            } else {
                Severity::Info
            };
            let rid = std::str::from_utf8(&self.rid).unwrap_or("-");
            let mut line = access_line_str(
                severity,
                route.method().as_str(),
                Some(route),
                &self.path,
                status,
                rid,
                start.into_std(),
            )
            .field("upstream_ms", Value::Millis(upstream_ms));
            if retried {
                line = line.str("retried", "true");
            }
            if let Some(error) = error {
                line = line.str("error", error);
            }
            line.emit_batched();
        }
        match result {
            Ok(()) if !closing => Next::KeepAlive,
            _ => Next::Close,
        }
    }

    /// Whether the request body was read to its end (so the next request can be read).
    fn body_consumed(&self, head: &RequestHead, remaining: u64, chunked: &h1::Chunked) -> bool {
        match head.framing {
            Framing::Length(_) => remaining == 0,
            Framing::Chunked => chunked.is_done(),
            Framing::None | Framing::Close => true,
        }
    }

    /// Writes `self.out` to the upstream connection (opening one if needed).
    async fn send_head(&mut self, deadline: Instant, method: Method) -> Result<(), Failure> {
        let relay = self.relay.clone();
        let config = relay.config();
        if let Some(up) = &self.upstream
            && (up.last_used.elapsed() >= crate::upstream::IDLE_TIMEOUT
                || (!method.is_idempotent() && closed_while_idle(&up.stream)))
        {
            self.upstream = None;
        }
        let reused = self.upstream.is_some();
        if self.upstream.is_none() {
            let authority = config.upstream.authority();
            let port = authority.port_u16().unwrap_or(80);
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let connect =
                tokio::time::timeout(config.connect_timeout, TcpStream::connect((host, port)));
            let stream = match until(&mut self.exchange_timer, deadline, connect).await {
                None => {
                    return Err(Failure::timeout(config.upstream_timeout));
                }
                Some(Err(_)) => {
                    return Err(Failure::new(
                        Reject::BadGateway,
                        "cannot connect to the upstream: connect timed out",
                        true,
                    ));
                }
                Some(Ok(Err(e))) => {
                    return Err(Failure::new(
                        Reject::BadGateway,
                        format!("cannot connect to the upstream: {e}"),
                        true,
                    ));
                }
                Some(Ok(Ok(s))) => s,
            };
            let _ = stream.set_nodelay(true);
            self.upstream = Some(Upstream {
                stream,
                last_used: Instant::now(),
            });
        }
        let Some(up) = self.upstream.as_mut() else {
            return Err(Failure::no_upstream());
        };
        match until(
            &mut self.exchange_timer,
            deadline,
            up.stream.write_all(&self.out),
        )
        .await
        {
            None => Err(Failure::timeout(config.upstream_timeout)),
            Some(Err(e)) => Err(Failure::new(
                Reject::BadGateway,
                format!("writing to the upstream: {e}"),
                reused || is_reset(&e),
            )),
            Some(Ok(())) => Ok(()),
        }
    }

    /// Streams the rest of a request body from the client to the upstream.
    async fn forward_request_body(
        &mut self,
        deadline: Instant,
        framing: Framing,
        remaining: &mut u64,
        chunked: &mut h1::Chunked,
    ) -> Result<(), Failure> {
        let limit = self.relay.config().max_body_bytes;
        let timeout = self.relay.config().upstream_timeout;
        loop {
            if self.buf.is_empty() {
                let read = until(
                    &mut self.client_timer,
                    deadline,
                    read_more(&mut self.client, &mut self.buf),
                )
                .await;
                match read {
                    None => {
                        return Err(Failure::timeout(timeout));
                    }
                    Some(Ok(0)) => {
                        return Err(Failure::new(
                            Reject::BadRequest,
                            "reading the request body: the client closed the connection",
                            false,
                        ));
                    }
                    Some(Err(e)) => {
                        return Err(Failure::new(
                            Reject::BadRequest,
                            format!("reading the request body: {e}"),
                            false,
                        ));
                    }
                    Some(Ok(_)) => {}
                }
            }
            let (take, done) = match framing {
                Framing::Length(_) => {
                    let take = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    *remaining -= take as u64;
                    (take, *remaining == 0)
                }
                _ => {
                    let take = chunked.advance(&self.buf).map_err(|e| {
                        Failure::new(
                            Reject::Malformed("the chunked request body is malformed"),
                            e.to_string(),
                            false,
                        )
                    })?;
                    if chunked.data_len() > limit {
                        return Err(Failure::new(
                            Reject::PayloadTooLarge,
                            format!("the request body is larger than {limit} bytes"),
                            false,
                        ));
                    }
                    (take, chunked.is_done())
                }
            };
            let Some(up) = self.upstream.as_mut() else {
                return Err(Failure::no_upstream());
            };
            let written = until(
                &mut self.exchange_timer,
                deadline,
                up.stream.write_all(&self.buf[..take]),
            )
            .await;
            self.buf.drain(..take);
            match written {
                None => {
                    return Err(Failure::timeout(timeout));
                }
                Some(Err(e)) => {
                    return Err(Failure {
                        upstream_stopped_reading: true,
                        ..Failure::new(
                            Reject::BadGateway,
                            format!("writing the request body to the upstream: {e}"),
                            false,
                        )
                    });
                }
                Some(Ok(())) => {}
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Reads the upstream's response head into `upbuf` (skipping interim 1xx answers).
    async fn read_response_head(
        &mut self,
        deadline: Instant,
        is_head: bool,
    ) -> Result<h1::ResponseHead, Failure> {
        let timeout = self.relay.config().upstream_timeout;
        self.upbuf.clear();
        let mut any = false;
        loop {
            if !self.upbuf.is_empty() {
                match h1::parse_response(&self.upbuf, &mut self.upfields, is_head) {
                    Ok(Some(res)) if res.status == 101 => {
                        return Err(Failure::new(
                            Reject::BadGateway,
                            "the upstream switched protocols",
                            false,
                        ));
                    }
                    Ok(Some(res)) if res.status < 200 => {
                        self.upbuf.drain(..res.len);
                        continue;
                    }
                    Ok(Some(res)) => return Ok(res),
                    Ok(None) => {}
                    Err(e) => {
                        return Err(Failure::new(
                            Reject::BadGateway,
                            format!("the upstream's response: {e}"),
                            false,
                        ));
                    }
                }
            }
            let Some(up) = self.upstream.as_mut() else {
                return Err(Failure::no_upstream());
            };
            let read = until(
                &mut self.exchange_timer,
                deadline,
                read_more(&mut up.stream, &mut self.upbuf),
            )
            .await;
            match read {
                None => {
                    return Err(Failure::timeout(timeout));
                }
                Some(Ok(0)) => {
                    return Err(Failure::new(
                        Reject::BadGateway,
                        "the upstream closed the connection before a complete response",
                        !any,
                    ));
                }
                Some(Err(e)) => {
                    return Err(Failure::new(
                        Reject::BadGateway,
                        format!("reading from the upstream: {e}"),
                        !any && is_reset(&e),
                    ));
                }
                Some(Ok(_)) => any = true,
            }
        }
    }

    /// Writes the response head and body to the client. An error: the response could
    /// not be completed (the client connection must close).
    async fn forward_response(
        &mut self,
        res: h1::ResponseHead,
        deadline: Instant,
        closing: bool,
    ) -> Result<(), String> {
        let relay = self.relay.clone();
        let config = relay.config();
        let reframe = res.framing == Framing::Close;
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        h1::push_decimal(out, u64::from(res.status));
        out.push(b' ');
        let reason = res.reason.of(&self.upbuf);
        if reason.is_empty() {
            let canonical = hyper::StatusCode::from_u16(res.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            out.extend_from_slice(canonical.as_bytes());
        } else {
            out.extend_from_slice(reason);
        }
        out.extend_from_slice(b"\r\n");
        let cors = config.cors.as_ref();
        let cors_sets =
            cors.is_some_and(|c| self.origin.as_deref().is_some_and(|o| c.allows_origin(o)));
        for f in &self.upfields {
            let keep = match f.kind {
                Kind::TransferEncoding
                | Kind::Connection
                | Kind::Upgrade
                | Kind::HopByHop
                | Kind::RequestId => false,
                Kind::ContentLength => !matches!(res.framing, Framing::Chunked | Framing::Close),
                _ => {
                    let name = f.name.of(&self.upbuf);
                    let hop = res.names_headers
                        && h1::named_by_connection(&self.upbuf, &self.upfields, name);
                    let replaced = cors_sets && cors.is_some_and(|c| c.sets_header(name));
                    !hop && !replaced
                }
            };
            if keep {
                push_field(out, f.name.of(&self.upbuf), f.value.of(&self.upbuf));
            }
        }
        push_field(out, b"x-request-id", &self.rid);
        if matches!(res.framing, Framing::Chunked | Framing::Close) {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        if !res.has_date {
            push_date(out);
        }
        if let Some(cors) = cors {
            cors.decorate_bytes(self.origin.as_deref(), out);
        }
        if closing {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");

        // The body bytes already read, in the same write when they are few.
        let body = &self.upbuf[res.len..];
        let mut chunked = h1::Chunked::new();
        let mut remaining = 0u64;
        let (first, done) = match res.framing {
            Framing::None => (0, true),
            Framing::Length(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                remaining = (n - n.min(body.len())) as u64;
                (n.min(body.len()), n <= body.len())
            }
            Framing::Chunked => {
                let used = chunked
                    .advance(body)
                    .map_err(|e| format!("the upstream's body: {e}"))?;
                (used, chunked.is_done())
            }
            Framing::Close => (body.len(), false),
        };
        let extra = body.len() > first;
        if reframe {
            if first > 0 {
                h1::push_hex(out, first as u64);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&body[..first]);
                out.extend_from_slice(b"\r\n");
            }
        } else if first <= 32 * 1024 {
            out.extend_from_slice(&body[..first]);
        }
        let written = self.client.write_all(&self.out).await;
        if written.is_ok() && !reframe && first > 32 * 1024 {
            let body = &self.upbuf[res.len..res.len + first];
            self.client
                .write_all(body)
                .await
                .map_err(|e| format!("writing to the client: {e}"))?;
        }
        written.map_err(|e| format!("writing to the client: {e}"))?;
        if done {
            if res.close || extra {
                self.upstream = None;
            } else if let Some(up) = self.upstream.as_mut() {
                up.last_used = Instant::now();
            }
            return Ok(());
        }

        // The rest of the body.
        let timeout = config.upstream_timeout;
        loop {
            let Some(up) = self.upstream.as_mut() else {
                return Err("no upstream connection".into());
            };
            self.upbuf.clear();
            let read = until(
                &mut self.exchange_timer,
                deadline,
                read_more(&mut up.stream, &mut self.upbuf),
            )
            .await;
            let n = match read {
                None => {
                    self.upstream = None;
                    return Err(format!(
                        "the upstream response body did not finish within {} ms",
                        timeout.as_millis()
                    ));
                }
                Some(Err(e)) => {
                    self.upstream = None;
                    return Err(format!("upstream body: {e}"));
                }
                Some(Ok(0)) => {
                    self.upstream = None;
                    if reframe {
                        self.client
                            .write_all(b"0\r\n\r\n")
                            .await
                            .map_err(|e| format!("writing to the client: {e}"))?;
                        return Ok(());
                    }
                    return Err("upstream body: the connection closed early".into());
                }
                Some(Ok(n)) => n,
            };
            let (take, done) = match res.framing {
                Framing::Length(_) => {
                    let take = usize::try_from(remaining).unwrap_or(usize::MAX).min(n);
                    remaining -= take as u64;
                    (take, remaining == 0)
                }
                Framing::Chunked => match chunked.advance(&self.upbuf) {
                    Ok(take) => (take, chunked.is_done()),
                    Err(e) => {
                        self.upstream = None;
                        return Err(format!("the upstream's body: {e}"));
                    }
                },
                _ => (n, false),
            };
            let written = if reframe {
                let mut frame = Vec::with_capacity(20);
                h1::push_hex(&mut frame, n as u64);
                frame.extend_from_slice(b"\r\n");
                let r = self.client.write_all(&frame).await;
                let r = match r {
                    Ok(()) => self.client.write_all(&self.upbuf[..n]).await,
                    e => e,
                };
                match r {
                    Ok(()) => self.client.write_all(b"\r\n").await,
                    e => e,
                }
            } else {
                self.client.write_all(&self.upbuf[..take]).await
            };
            if let Err(e) = written {
                self.upstream = None;
                return Err(format!("writing to the client: {e}"));
            }
            if done {
                if res.close || take < n {
                    self.upstream = None;
                } else if let Some(up) = self.upstream.as_mut() {
                    up.last_used = Instant::now();
                }
                return Ok(());
            }
        }
    }

    /// The health check's answer.
    async fn health(&mut self, head: &RequestHead, method: &str, start: Instant) -> Next {
        let is_head = method == "HEAD";
        let close = head.close || !self.skip_body(head);
        self.out.clear();
        write_local_head(
            &mut self.out,
            200,
            "OK",
            reply::HEALTH_BODY.len(),
            &self.rid,
            close,
        );
        self.out.extend_from_slice(b"\r\n");
        if !is_head {
            self.out.extend_from_slice(reply::HEALTH_BODY.as_bytes());
        }
        let written = self.client.write_all(&self.out).await;
        if self.relay.config().access_log {
            let rid = std::str::from_utf8(&self.rid).unwrap_or("-");
            access_line_str(
                Severity::Info,
                method,
                None,
                &self.path,
                200,
                rid,
                start.into_std(),
            )
            .emit_batched();
        }
        if written.is_err() || close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// Answers an `OPTIONS` request on a public path whose routes have `methods` as
    /// admission decided (see [`crate::cors`]), and logs it.
    async fn preflight(
        &mut self,
        head: &RequestHead,
        methods: &[Method],
        answer: Preflight,
        start: Instant,
    ) -> Next {
        let close = head.close || !self.skip_body(head);
        self.out.clear();
        let (status, outcome) = match answer {
            Preflight::Refused(reason) => {
                let body = reply::cors_refused_body(reason);
                write_local_head(
                    &mut self.out,
                    403,
                    "Forbidden",
                    body.len(),
                    &self.rid,
                    close,
                );
                self.out.extend_from_slice(b"\r\n");
                self.out.extend_from_slice(body.as_bytes());
                (403, reason)
            }
            answer => {
                let (fields, outcome) = match answer {
                    Preflight::Allowed(fields) => (fields, "allowed"),
                    _ => {
                        let mut fields = HeaderMap::new();
                        fields.insert(hyper::header::ALLOW, cors::allow_value(methods, true));
                        (fields, "not a preflight")
                    }
                };
                self.out.extend_from_slice(b"HTTP/1.1 204 No Content\r\n");
                for (name, value) in &fields {
                    push_field(&mut self.out, name.as_str().as_bytes(), value.as_bytes());
                }
                push_field(&mut self.out, b"x-request-id", &self.rid);
                push_date(&mut self.out);
                if close {
                    self.out.extend_from_slice(b"connection: close\r\n");
                }
                self.out.extend_from_slice(b"\r\n");
                (204, outcome)
            }
        };
        let written = self.client.write_all(&self.out).await;
        if self.relay.config().access_log {
            let rid = std::str::from_utf8(&self.rid).unwrap_or("-");
            access_line_str(
                Severity::Info,
                "OPTIONS",
                None,
                &self.path,
                status,
                rid,
                start.into_std(),
            )
            .str("preflight", outcome)
            .emit_batched();
        }
        if written.is_err() || close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// Answers with the relay's own error and logs it.
    async fn reject(
        &mut self,
        head: &RequestHead,
        method: &str,
        route: Option<&'static PublicRoute>,
        reject: Reject,
        start: Instant,
        detail: &str,
    ) -> Next {
        let close = head.close || reject.closes() || !self.skip_body(head);
        let is_head = method == "HEAD";
        self.local_reply(reject, route, is_head, start, method, detail, close)
            .await;
        if close { Next::Close } else { Next::KeepAlive }
    }

    /// Drops the request's head and, when it has already been read whole, its body
    /// from the buffer; `false` when the body is not all there (the connection must
    /// then close after the answer).
    fn skip_body(&mut self, head: &RequestHead) -> bool {
        let available = &self.buf[head.len..];
        let body = match head.framing {
            Framing::None | Framing::Close => 0,
            Framing::Length(n) => match usize::try_from(n) {
                Ok(n) if n <= available.len() => n,
                _ => return false,
            },
            Framing::Chunked => {
                let mut c = h1::Chunked::new();
                match c.advance(available) {
                    Ok(n) if c.is_done() => n,
                    _ => return false,
                }
            }
        };
        self.buf.drain(..head.len + body);
        true
    }

    #[allow(clippy::too_many_arguments)]
    async fn local_reply(
        &mut self,
        reject: Reject,
        route: Option<&'static PublicRoute>,
        is_head: bool,
        start: Instant,
        method: &str,
        detail: &str,
        close: bool,
    ) {
        let relay = self.relay.clone();
        let config = relay.config();
        let body = reject.body();
        let status = reject.status();
        self.out.clear();
        write_local_head(
            &mut self.out,
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len(),
            &self.rid,
            close,
        );
        if route.is_some()
            && let Some(cors) = &config.cors
        {
            cors.decorate_bytes(self.origin.as_deref(), &mut self.out);
        }
        self.out.extend_from_slice(b"\r\n");
        if !is_head {
            self.out.extend_from_slice(body.as_bytes());
        }
        let _ = self.client.write_all(&self.out).await;
        if close {
            self.linger = true;
        }
        if config.access_log {
            let path = self.path.get(..256).unwrap_or(&self.path);
            let rid = std::str::from_utf8(&self.rid).unwrap_or("-");
            let exchange = self.failed_at_upstream.take();
            let severity = if exchange.is_some() {
                Severity::Warning
            } else {
                Severity::Info
            };
            let mut line = access_line_str(
                severity,
                method,
                route,
                path,
                status.as_u16(),
                rid,
                start.into_std(),
            );
            if let Some((upstream_ms, retried)) = exchange {
                line = line.field("upstream_ms", Value::Millis(upstream_ms));
                if retried {
                    line = line.str("retried", "true");
                }
            } else {
                line = line.str("reject", reject.code());
            }
            if !detail.is_empty() {
                line = line.str("error", detail);
            }
            line.emit_batched();
        }
    }
}

/// Appends the upstream request's header fields (see [`crate::headers`] for the rules).
#[allow(clippy::too_many_arguments)]
fn write_request_fields(
    out: &mut Vec<u8>,
    buf: &[u8],
    fields: &[Field],
    head: &RequestHead,
    api_key_header: &[u8],
    upstream_host: &[u8],
    peer: SocketAddr,
    rid: &[u8],
) {
    let mut client_host: Option<&[u8]> = None;
    let mut has_forwarded_host = false;
    let mut proto_count = 0;
    let mut proto_ok = false;
    let mut has_forwarded_for = false;
    for f in fields {
        match f.kind {
            Kind::Host if client_host.is_none() => client_host = Some(f.value.of(buf)),
            Kind::ForwardedHost => has_forwarded_host = true,
            Kind::ForwardedProto => {
                proto_count += 1;
                let v = f.value.of(buf);
                proto_ok = v == b"http" || v == b"https";
            }
            Kind::ForwardedFor => has_forwarded_for = true,
            _ => {}
        }
    }
    let proto_ok = proto_ok && proto_count == 1;
    for f in fields {
        let keep = match f.kind {
            Kind::TransferEncoding => head.framing == Framing::Chunked,
            Kind::Connection
            | Kind::Upgrade
            | Kind::HopByHop
            | Kind::Expect
            | Kind::Authorization
            | Kind::ServerlessAuthorization
            | Kind::Host
            | Kind::ForwardedFor
            | Kind::RequestId => false,
            Kind::ForwardedProto => proto_ok,
            _ => {
                let name = f.name.of(buf);
                let hop = head.names_headers && h1::named_by_connection(buf, fields, name);
                !hop && !name.eq_ignore_ascii_case(api_key_header)
            }
        };
        if keep {
            push_field(out, f.name.of(buf), f.value.of(buf));
        }
    }
    push_field(out, b"host", upstream_host);
    if !has_forwarded_host && let Some(host) = client_host {
        push_field(out, b"x-forwarded-host", host);
    }
    if !proto_ok {
        out.extend_from_slice(b"x-forwarded-proto: http\r\n");
    }
    let mut peer_text = [0u8; 64];
    let peer_text = headers::format_ip(peer.ip(), &mut peer_text);
    out.extend_from_slice(b"x-forwarded-for: ");
    if has_forwarded_for {
        for f in fields.iter().filter(|f| f.kind == Kind::ForwardedFor) {
            let v = f.value.of(buf);
            if !v.is_empty() && is_visible_ascii(v) {
                out.extend_from_slice(v);
                out.extend_from_slice(b", ");
            }
        }
    }
    out.extend_from_slice(peer_text.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_field(out, b"x-request-id", rid);
    out.extend_from_slice(b"\r\n");
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The head of an answer the relay writes itself, without the blank line.
fn write_local_head(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    len: usize,
    rid: &[u8],
    close: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    h1::push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\ncache-control: no-store\r\n");
    push_field(out, b"x-request-id", rid);
    out.extend_from_slice(b"content-length: ");
    h1::push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
    push_date(out);
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
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

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Whether an idle upstream connection has been closed by the upstream (checked
/// before a request that cannot be retried is sent on it).
fn closed_while_idle(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        // End of stream, an error, or bytes nobody asked for.
        _ => true,
    }
}

/// A client connection with bytes already read in front of it.
struct Rewind {
    prefix: Vec<u8>,
    at: usize,
    inner: TcpStream,
}

impl Rewind {
    fn new(prefix: Vec<u8>, inner: TcpStream) -> Self {
        Rewind {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = (this.prefix.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
