//! The upstream's response on the relay's own path: its head read (interim answers
//! skipped) and rewritten for the client, with the CORS headers, and its body passed
//! on unchanged, or chunked when the upstream ends it by closing.
//!
//! Takes the upstream connection of a [`Conn`] after its request was sent; gives the
//! response head, then whether the response reached the client whole.

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::h1::{self, Framing, Kind};
use crate::reply::Reject;

use super::io::{is_reset, read_more, until};
use super::request::Failure;
use super::{Conn, push_date, push_field, push_passed_fields};

impl Conn {
    /// Reads the upstream's response head into `upbuf` (skipping interim 1xx answers).
    pub(super) async fn read_response_head(
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
    pub(super) async fn forward_response(
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
        push_passed_fields(
            out,
            &self.upbuf,
            &self.upfields,
            res.names_headers,
            |kind, _| match kind {
                Kind::TransferEncoding
                | Kind::Connection
                | Kind::Upgrade
                | Kind::HopByHop
                | Kind::RequestId => Some(false),
                Kind::ContentLength => {
                    Some(!matches!(res.framing, Framing::Chunked | Framing::Close))
                }
                _ => None,
            },
            // Replaced by the CORS headers below.
            |name| cors_sets && cors.is_some_and(|c| c.sets_header(name)),
        );
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
}
