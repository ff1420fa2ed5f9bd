//! The proxy engine: one request in, one response out.
//!
//! Takes a client request and its peer address; decides with [`crate::admission`] (the
//! function the relay's own HTTP/1.1 path calls too), rewrites the headers, forwards
//! over the client connection's own keep-alive HTTP/1.1 connection to the upstream (see
//! [`crate::upstream`]), retries once when that is safe, and maps failures to the
//! relay's JSON errors (see `reply`). Writes one JSON log line per request.
//!
//! * Deadline: one per exchange ([`RelayConfig::upstream_timeout`]), from the moment the
//!   request arrives, covering connection, retry, response head and response body. Before
//!   the head it gives 504; during the body it aborts the client connection (the status
//!   has already been sent).
//! * Retry: only for idempotent methods (`GET HEAD PUT DELETE OPTIONS`), only once, only
//!   after a connection failure (refused, reset, connect timeout, or closed before any
//!   response), and only if the request body was never read (empty bodies always
//!   qualify). `POST` and `PATCH` are never retried.
//! * Body limit: a `Content-Length` over [`RelayConfig::max_body_bytes`] gets 413 before a
//!   byte of body is read; a chunked body is counted as it streams and fails the upstream
//!   request when it passes the limit, which gives 413 too. Both close the connection.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::body::{Body, Incoming};
use hyper::header::HeaderValue;
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::{Request, Response, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::admission::{Admission, Head, admit};
use crate::body::{ResponseBody, UpstreamBody, UpstreamBodyError};
use crate::config::RelayConfig;
use crate::cors::{self, Preflight};
use crate::headers;
use crate::log::{Line, Severity, Value};
use crate::reply::{self, Reject};
use crate::route::{Method, PublicRoute, RouteTable, RouteTableError};
use crate::upstream::{UpstreamError, UpstreamSlot};

/// Why a relay could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The public route table is not usable.
    #[error(transparent)]
    Routes(#[from] RouteTableError),
    /// The upstream's address does not make a URI.
    #[error("the upstream address {0} does not make a URI: {1}")]
    Upstream(String, hyper::http::Error),
}

/// The relay: its routes, its configuration and how it connects to the upstream.
#[derive(Debug)]
pub struct Relay {
    service: &'static str,
    routes: RouteTable,
    config: RelayConfig,
    connector: HttpConnector,
    /// `http://host:port` of the upstream, what the connector connects to.
    upstream_base: Uri,
}

/// How the upstream exchange ended, before it becomes a response.
enum Outcome {
    Response(Response<Incoming>),
    Reject(Reject, String),
}

/// The outcome with what the log line reports about it.
struct Exchanged {
    outcome: Outcome,
    /// Time spent on the upstream, in milliseconds.
    upstream_ms: f64,
    /// Whether the request was sent a second time.
    retried: bool,
}

/// What is known about a request being forwarded, for its response and log line.
struct Forwarding {
    route: &'static PublicRoute,
    /// The client's `Origin`, for the CORS headers of the response.
    origin: Option<HeaderValue>,
    client_uri: Uri,
    head: bool,
    request_id: HeaderValue,
    start: Instant,
}

impl Relay {
    /// A relay for these routes and settings. Must be called inside a Tokio runtime's
    /// context only when requests are served; building it needs none.
    pub fn new(
        service: &'static str,
        routes: &'static [PublicRoute],
        config: RelayConfig,
    ) -> Result<Self, RelayError> {
        let routes = RouteTable::new(routes)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.enforce_http(true);
        let upstream_base = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(config.upstream.authority().clone())
            .path_and_query("/")
            .build()
            .map_err(|e| RelayError::Upstream(config.upstream.authority().to_string(), e))?;
        Ok(Relay {
            service,
            routes,
            config,
            connector,
            upstream_base,
        })
    }

    /// The service name given at start.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The configuration.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// Answers one request from `peer`, forwarding it (if it is to be forwarded) over
    /// `upstream`, the client connection's upstream connection.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        upstream: &UpstreamSlot,
    ) -> Response<ResponseBody> {
        let start = Instant::now();
        let (mut parts, body) = req.into_parts();
        let request_id = headers::request_id(&parts.headers);
        let head = parts.method == hyper::Method::HEAD;
        let limit = self.config.max_body_bytes;
        let hint = body.size_hint();
        let admission = admit(
            &self.routes,
            &self.config,
            &Head {
                method: &parts.method,
                path: parts.uri.path(),
                query: parts.uri.query(),
                body_len: hint.exact(),
                fields: &parts.headers,
            },
        );
        let route = match admission {
            Admission::Admit { route } => route,
            Admission::Health => return health(self, &parts, request_id, start),
            Admission::Preflight { methods, answer } => {
                return self.preflight(&parts, &methods, answer, request_id, start);
            }
            Admission::Reject {
                reject,
                route,
                detail,
            } => return self.reject(&parts, route, reject, request_id, start, detail),
        };

        let Some(uri) = self.upstream_uri(&parts.uri) else {
            return self.reject(
                &parts,
                Some(route),
                Reject::InvalidPath("the path cannot be forwarded"),
                request_id,
                start,
                "",
            );
        };
        let client_uri = std::mem::replace(&mut parts.uri, uri);
        let origin = parts.headers.get(hyper::header::ORIGIN).cloned();
        let client_authorization = if self.config.forward_authorization {
            headers::client_authorization(
                parts
                    .headers
                    .get_all(&headers::X_FORWARDED_AUTHORIZATION)
                    .iter()
                    .map(|v| v.as_bytes()),
            )
            .and_then(|v| hyper::header::HeaderValue::from_bytes(v).ok())
        } else {
            None
        };
        headers::prepare_request_headers(
            &mut parts.headers,
            &self.config.api_key_header,
            self.config.upstream.host_header(),
            peer.ip(),
            request_id.clone(),
            route.takes_user_token(),
        );
        if self.config.forward_authorization {
            parts.headers.remove(&headers::X_FORWARDED_AUTHORIZATION);
            if let Some(v) = client_authorization {
                parts.headers.insert(hyper::header::AUTHORIZATION, v);
            }
        }
        parts.version = Version::HTTP_11;
        parts.extensions = hyper::http::Extensions::new();
        let forwarding = Forwarding {
            route,
            origin,
            client_uri,
            head,
            request_id,
            start,
        };

        let retryable = route.method().is_idempotent();
        let parked = if body.is_end_stream() {
            None
        } else if retryable {
            Some(Arc::new(Mutex::new(Some(body))))
        } else {
            // Not retryable: stream it directly.
            let upstream_body = UpstreamBody::streamed(body, limit);
            let req = Request::from_parts(parts, upstream_body);
            let exchanged = self.exchange(upstream, req, None, None, start).await;
            return self.finish(exchanged, forwarding);
        };
        let upstream_body = match &parked {
            None => UpstreamBody::Empty,
            Some(p) => UpstreamBody::parked(p.clone(), hint, limit),
        };
        let retry_head = retryable.then(|| {
            (
                parts.method.clone(),
                parts.uri.clone(),
                parts.headers.clone(),
            )
        });
        let req = Request::from_parts(parts, upstream_body);
        let exchanged = self
            .exchange(upstream, req, retry_head, parked, start)
            .await;
        self.finish(exchanged, forwarding)
    }

    /// Sends the request (and the retry, if any) under the deadline.
    async fn exchange(
        &self,
        upstream: &UpstreamSlot,
        req: Request<UpstreamBody>,
        retry_head: Option<(hyper::Method, Uri, hyper::HeaderMap)>,
        parked: Option<Arc<Mutex<Option<Incoming>>>>,
        start: Instant,
    ) -> Exchanged {
        let limit = self.config.max_body_bytes;
        let deadline = tokio::time::Instant::from_std(start + self.config.upstream_timeout);
        let upstream_start = Instant::now();
        let mut retried = false;
        let attempt = async {
            let first = self.send(upstream, req).await;
            let error = match first {
                Ok(res) => return Ok(res),
                Err(e) => e,
            };
            upstream.reset();
            let Some((method, uri, headers)) = retry_head else {
                return Err(error);
            };
            if !is_connection_failure(&error) {
                return Err(error);
            }
            let body = match &parked {
                None => UpstreamBody::Empty,
                Some(slot) => match slot.lock().ok().and_then(|mut b| b.take()) {
                    Some(body) => UpstreamBody::streamed(body, limit),
                    // The first attempt already read the body: it cannot be replayed.
                    None => return Err(error),
                },
            };
            retried = true;
            let mut req = Request::new(body);
            *req.method_mut() = method;
            *req.uri_mut() = uri;
            *req.headers_mut() = headers;
            self.send(upstream, req).await
        };
        let result = tokio::time::timeout_at(deadline, attempt).await;
        if !matches!(result, Ok(Ok(_))) {
            // The connection is in an unknown state (or mid-exchange, at the deadline).
            upstream.reset();
        }
        let upstream_ms = upstream_start.elapsed().as_secs_f64() * 1000.0;
        let outcome = match result {
            Ok(Ok(res)) => Outcome::Response(res),
            Ok(Err(e)) => {
                let detail = error_chain(&e);
                let reject = match find_source::<UpstreamBodyError>(&e) {
                    Some(UpstreamBodyError::TooLarge(_)) => Reject::PayloadTooLarge,
                    Some(UpstreamBodyError::Client(_)) => Reject::BadRequest,
                    None => Reject::BadGateway,
                };
                Outcome::Reject(reject, detail)
            }
            Err(_) => Outcome::Reject(
                Reject::GatewayTimeout,
                format!(
                    "no response within {} ms",
                    self.config.upstream_timeout.as_millis()
                ),
            ),
        };
        Exchanged {
            outcome,
            upstream_ms,
            retried,
        }
    }

    fn send(
        &self,
        upstream: &UpstreamSlot,
        req: Request<UpstreamBody>,
    ) -> impl Future<Output = Result<Response<Incoming>, UpstreamError>> {
        upstream.send(&self.connector, &self.upstream_base, req)
    }

    /// Turns the exchange's outcome into the client's response, and logs it.
    fn finish(&self, exchanged: Exchanged, forwarding: Forwarding) -> Response<ResponseBody> {
        let Exchanged {
            outcome,
            upstream_ms,
            retried,
        } = exchanged;
        let Forwarding {
            route,
            origin,
            client_uri,
            head,
            request_id,
            start,
        } = forwarding;
        let (res, error) = match outcome {
            Outcome::Response(res) => {
                let (mut parts, body) = res.into_parts();
                headers::prepare_response_headers(&mut parts.headers, request_id.clone());
                let body = if body.is_end_stream() {
                    ResponseBody::empty()
                } else {
                    let deadline =
                        tokio::time::Instant::from_std(start + self.config.upstream_timeout);
                    ResponseBody::Upstream {
                        inner: body,
                        deadline: Box::pin(tokio::time::sleep_until(deadline)),
                    }
                };
                (Response::from_parts(parts, body), None)
            }
            Outcome::Reject(reject, detail) => {
                (reject.response(request_id.clone(), head), Some(detail))
            }
        };
        let mut res = res;
        if let Some(cors) = &self.config.cors {
            cors.decorate(origin.as_ref(), res.headers_mut());
        }
        if self.config.access_log {
            let status = res.status().as_u16();
            let severity = if error.is_some() {
                Severity::Warning
            } else {
                Severity::Info
            };
            let mut line = access_line(
                severity,
                route.method().as_str(),
                Some(route),
                client_uri.path(),
                status,
                &request_id,
                start,
            )
            .field("upstream_ms", Value::Millis(upstream_ms));
            if retried {
                line = line.str("retried", "true");
            }
            if let Some(error) = &error {
                line = line.str("error", error);
            }
            line.emit_batched();
        }
        res
    }

    fn reject(
        &self,
        parts: &hyper::http::request::Parts,
        route: Option<&'static PublicRoute>,
        reject: Reject,
        request_id: HeaderValue,
        start: Instant,
        detail: &str,
    ) -> Response<ResponseBody> {
        let head = parts.method == hyper::Method::HEAD;
        if self.config.access_log {
            let path = parts.uri.path();
            let path = path.get(..256).unwrap_or(path);
            let mut line = access_line(
                Severity::Info,
                parts.method.as_str(),
                route,
                path,
                reject.status().as_u16(),
                &request_id,
                start,
            )
            .str("reject", reject.code());
            if !detail.is_empty() {
                line = line.str("error", detail);
            }
            line.emit_batched();
        }
        let mut res = reject.response(request_id, head);
        if route.is_some()
            && let Some(cors) = &self.config.cors
        {
            cors.decorate(parts.headers.get(hyper::header::ORIGIN), res.headers_mut());
        }
        res
    }

    /// Answers an `OPTIONS` request on a public path locally, as admission decided
    /// (see [`crate::cors`]): the upstream never sees a preflight.
    fn preflight(
        &self,
        parts: &hyper::http::request::Parts,
        methods: &[Method],
        answer: Preflight,
        request_id: HeaderValue,
        start: Instant,
    ) -> Response<ResponseBody> {
        let (res, outcome) = match answer {
            Preflight::Allowed(h) => {
                let mut res = Response::new(ResponseBody::empty());
                *res.status_mut() = hyper::StatusCode::NO_CONTENT;
                *res.headers_mut() = h;
                (res, "allowed")
            }
            Preflight::Plain => {
                let mut res = Response::new(ResponseBody::empty());
                *res.status_mut() = hyper::StatusCode::NO_CONTENT;
                res.headers_mut()
                    .insert(hyper::header::ALLOW, cors::allow_value(methods, true));
                (res, "not a preflight")
            }
            Preflight::Refused(reason) => (reply::cors_refused(reason, request_id.clone()), reason),
        };
        let mut res = res;
        res.headers_mut()
            .insert(headers::X_REQUEST_ID.clone(), request_id.clone());
        if self.config.access_log {
            access_line(
                Severity::Info,
                "OPTIONS",
                None,
                parts.uri.path(),
                res.status().as_u16(),
                &request_id,
                start,
            )
            .str("preflight", outcome)
            .emit_batched();
        }
        res
    }

    /// The upstream request target (origin form: the connection is the upstream's): the
    /// base path, then the client's raw path and query, less the
    /// `key` query parameter (API Gateway also accepts the API key as `?key=`; like the
    /// key header, it is a credential for the gateway, never for the backend).
    fn upstream_uri(&self, client: &Uri) -> Option<Uri> {
        let base = self.config.upstream.base_path();
        let stripped = client.query().and_then(strip_api_key_param);
        let path_and_query = if base.is_empty() && stripped.is_none() {
            client.path_and_query().cloned()?
        } else {
            let path = client.path();
            let query = match &stripped {
                Some(q) => q.as_str(),
                None => client.query().unwrap_or(""),
            };
            let mut s = String::with_capacity(base.len() + path.len() + query.len() + 1);
            s.push_str(base);
            s.push_str(path);
            if !query.is_empty() {
                s.push('?');
                s.push_str(query);
            }
            PathAndQuery::try_from(s).ok()?
        };
        Some(Uri::from(path_and_query))
    }
}

fn health(
    relay: &Relay,
    parts: &hyper::http::request::Parts,
    request_id: HeaderValue,
    start: Instant,
) -> Response<ResponseBody> {
    let head = parts.method == hyper::Method::HEAD;
    if relay.config.access_log {
        access_line(
            Severity::Info,
            parts.method.as_str(),
            None,
            parts.uri.path(),
            200,
            &request_id,
            start,
        )
        .emit_batched();
    }
    reply::health(request_id, head)
}

fn access_line(
    severity: Severity,
    method: &str,
    route: Option<&PublicRoute>,
    path: &str,
    status: u16,
    request_id: &HeaderValue,
    start: Instant,
) -> Line {
    access_line_str(
        severity,
        method,
        route,
        path,
        status,
        request_id.to_str().unwrap_or("-"),
        start,
    )
}

/// The access log line's common fields.
pub(crate) fn access_line_str(
    severity: Severity,
    method: &str,
    route: Option<&PublicRoute>,
    path: &str,
    status: u16,
    request_id: &str,
    start: Instant,
) -> Line {
    let mut line = Line::new(severity, "request")
        .str("method", method)
        .str("route", route.map_or("-", |r| r.path_template()));
    if let Some(route) = route {
        line = line.str("operation", route.operation_id());
    }
    line.str("path", path)
        .field("status", Value::U64(u64::from(status)))
        .str("request_id", request_id)
        .field(
            "latency_ms",
            Value::Millis(start.elapsed().as_secs_f64() * 1000.0),
        )
}

/// Whether the upstream exchange failed at the connection level before any response:
/// the connection could not be opened, or it was closed or reset before a response.
fn is_connection_failure(e: &UpstreamError) -> bool {
    let h = match e {
        UpstreamError::Connect(_) => return true,
        UpstreamError::Http(h) => h,
    };
    if find_source::<UpstreamBodyError>(e).is_some() {
        return false;
    }
    if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
        return true;
    }
    find_source::<std::io::Error>(e).is_some_and(|io| {
        matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
        )
    })
}

fn find_source<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut s = e.to_string();
    let mut current = e.source();
    while let Some(err) = current {
        s.push_str(": ");
        s.push_str(&err.to_string());
        current = err.source();
    }
    s
}

/// The query without its `key` parameters, or `None` when it has none (the common
/// case: nothing is allocated).
pub(crate) fn strip_api_key_param(query: &str) -> Option<String> {
    let is_key = |pair: &str| pair == "key" || pair.starts_with("key=");
    if !query.split('&').any(is_key) {
        return None;
    }
    Some(
        query
            .split('&')
            .filter(|pair| !is_key(pair))
            .collect::<Vec<_>>()
            .join("&"),
    )
}

#[cfg(test)]
mod key_param_tests {
    use super::strip_api_key_param;

    #[test]
    fn strips_only_the_key_parameter() {
        assert_eq!(strip_api_key_param("limit=5"), None);
        assert_eq!(strip_api_key_param("monkey=1&keys=2"), None);
        assert_eq!(strip_api_key_param("key=abc").as_deref(), Some(""));
        assert_eq!(strip_api_key_param("key").as_deref(), Some(""));
        assert_eq!(
            strip_api_key_param("limit=5&key=abc&offset=10").as_deref(),
            Some("limit=5&offset=10")
        );
        assert_eq!(
            strip_api_key_param("key=a&key=b&x=1").as_deref(),
            Some("x=1")
        );
    }
}
