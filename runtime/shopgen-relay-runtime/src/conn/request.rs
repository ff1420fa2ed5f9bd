//! A request on the relay's own path, from its parsed head to the end of its exchange
//! with the upstream.
//!
//! Takes a [`RequestHead`] at the start of the connection's buffer; decides it with
//! [`crate::admission`] (a local answer goes to `local`), writes the upstream request
//! head (the rules of [`crate::headers`]) with the body bytes already read, streams the
//! rest of the body, retries once when that is safe, and hands the response to
//! `response`. Gives what the connection does next.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::admission::{self, Admission, admit, split_target};
use crate::h1::{self, Field, Framing, HeadFields, Kind, RequestHead};
use crate::headers::{self, is_visible_ascii};
use crate::log::{Severity, Value};
use crate::proxy::{access_line_str, strip_api_key_param};
use crate::reply::Reject;
use crate::route::Method;

use super::io::{closed_while_idle, is_reset, read_more, until};
use super::{Conn, Next, Upstream, push_field, push_passed_fields};

/// The upstream exchange failed; `retry` when it may be sent again.
pub(super) struct Failure {
    reject: Reject,
    detail: String,
    retry: bool,
    /// The upstream stopped taking the request body: it may have answered already.
    upstream_stopped_reading: bool,
}

impl Failure {
    pub(super) fn new(reject: Reject, detail: impl Into<String>, retry: bool) -> Self {
        Failure {
            reject,
            detail: detail.into(),
            retry,
            upstream_stopped_reading: false,
        }
    }

    /// 504: the exchange's deadline (`timeout` after the head arrived) passed.
    pub(super) fn timeout(timeout: Duration) -> Self {
        Failure::new(
            Reject::GatewayTimeout,
            format!("no response within {} ms", timeout.as_millis()),
            false,
        )
    }

    pub(super) fn no_upstream() -> Self {
        Failure::new(Reject::BadGateway, "no upstream connection", false)
    }
}

impl Conn {
    /// Answers one request whose head is at the start of the buffer.
    pub(super) async fn request(&mut self, head: RequestHead) -> Next {
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
            route.takes_user_token(),
            config.forward_authorization,
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
    user_token: bool,
    forward_authorization: bool,
) {
    let is_forwarded_authorization = |name: &[u8]| {
        name.eq_ignore_ascii_case(headers::X_FORWARDED_AUTHORIZATION.as_str().as_bytes())
    };
    let client_authorization = if forward_authorization {
        headers::client_authorization(
            fields
                .iter()
                .filter(|f| f.kind == Kind::Identity && is_forwarded_authorization(f.name.of(buf)))
                .map(|f| f.value.of(buf)),
        )
    } else {
        None
    };
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
    push_passed_fields(
        out,
        buf,
        fields,
        head.names_headers,
        |kind, name| match kind {
            Kind::TransferEncoding => Some(head.framing == Framing::Chunked),
            Kind::Connection
            | Kind::Upgrade
            | Kind::HopByHop
            | Kind::Expect
            | Kind::Authorization
            | Kind::ServerlessAuthorization
            | Kind::Host
            | Kind::ForwardedFor
            | Kind::RequestId => Some(false),
            Kind::ForwardedProto => Some(proto_ok),
            // Sent as `Authorization` instead (below).
            Kind::Identity if forward_authorization && is_forwarded_authorization(name) => {
                Some(false)
            }
            // Forwarded ones are still hop-by-hop when `Connection` names them.
            Kind::Identity => match headers::forwards_identity_header(name, user_token) {
                Some(false) => Some(false),
                _ => None,
            },
            _ => None,
        },
        |name| name.eq_ignore_ascii_case(api_key_header),
    );
    push_field(out, b"host", upstream_host);
    if let Some(v) = client_authorization {
        push_field(out, b"authorization", v);
    }
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
