//! The answers the relay writes itself on its own path: its JSON errors, the health
//! check and the answer to a CORS preflight, each with its log line.
//!
//! Takes what admission (or a failed exchange) decided; gives the bytes of the answer,
//! written to the client, and whether the connection can carry another request (only
//! when the request's body has been read whole).

use hyper::header::HeaderMap;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::cors::{self, Preflight};
use crate::h1::{self, Framing, RequestHead};
use crate::log::{Severity, Value};
use crate::proxy::access_line_str;
use crate::reply::{self, Reject};
use crate::route::{Method, PublicRoute};

use super::{Conn, Next, push_date, push_field};

impl Conn {
    /// The health check's answer.
    pub(super) async fn health(
        &mut self,
        head: &RequestHead,
        method: &str,
        start: Instant,
    ) -> Next {
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
    pub(super) async fn preflight(
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
    pub(super) async fn reject(
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
    pub(super) async fn local_reply(
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
        if let Some(challenge) = reject.challenge() {
            push_field(&mut self.out, b"www-authenticate", challenge.as_bytes());
        }
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
