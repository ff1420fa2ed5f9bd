//! Test harness: a recording upstream, an in-process relay in front of it, and a raw
//! HTTP/1.1 client that sends request targets byte for byte (so no client library
//! normalises the paths under test). Everything listens on 127.0.0.1 only.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::HeaderMap;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use shopgen_relay_runtime::{Method, PublicRoute, Relay, RelayConfig, UpstreamUrl, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The route table most tests use.
pub static ROUTES: &[PublicRoute] = &[
    PublicRoute::new(Method::Get, "/products", "listProducts"),
    PublicRoute::new(Method::Get, "/products/{id}", "getProduct"),
    PublicRoute::new(Method::Get, "/products/{id}/reviews", "listReviews"),
    PublicRoute::new(Method::Post, "/products/{id}/reviews", "createReview"),
    PublicRoute::new(Method::Put, "/products/{id}", "replaceProduct"),
    PublicRoute::new(Method::Patch, "/products/{id}", "updateProduct"),
    PublicRoute::new(Method::Delete, "/products/{id}", "deleteProduct"),
    PublicRoute::new(Method::Head, "/products", "headProducts"),
];

/// What the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The request target as received (path and query).
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A running upstream that records every request.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> Recorded {
        self.recorded()
            .pop()
            .expect("the upstream received no request")
    }
}

/// Starts a recording upstream. Its behaviour is chosen per request by query
/// parameters: `status=N`, `delay_ms=N` (before the head), `stall_ms=N` (between the
/// first and second half of the body), `size=N` (body length), `etag=V` (answers carry
/// `ETag: "V"` and `Cache-Control: private, max-age=0`; a request whose
/// `If-None-Match` is `"V"` gets `304` with no body). The first
/// `drop_first` connections are accepted and closed without an answer.
pub async fn upstream(drop_first: usize) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let up = Upstream {
        addr,
        requests: requests.clone(),
        connections: connections.clone(),
    };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = connections.fetch_add(1, Ordering::SeqCst);
            if n < drop_first {
                drop(stream);
                continue;
            }
            let requests = requests.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let requests = requests.clone();
                    async move { Ok::<_, Infallible>(answer(req, requests).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    up
}

fn query_params(target: &str) -> HashMap<String, String> {
    target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn answer(req: Request<Incoming>, requests: Arc<Mutex<Vec<Recorded>>>) -> Response<TestBody> {
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let params = query_params(&target);
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        // The relay aborted the body (e.g. over the limit): record what arrived as empty.
        Err(_) => Bytes::from_static(b"<aborted>"),
    };
    requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        target: target.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let get = |k: &str| params.get(k).and_then(|v| v.parse::<u64>().ok());
    if let Some(ms) = get("delay_ms") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let etag = params.get("etag").map(|v| format!("\"{v}\""));
    let not_modified = etag.is_some()
        && parts
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            == etag.as_deref();
    let status = if not_modified {
        304
    } else {
        get("status").map_or(200, |s| s as u16)
    };
    let payload = match get("size") {
        _ if not_modified => Bytes::new(),
        Some(n) => Bytes::from(vec![b'x'; n as usize]),
        None => Bytes::from(format!(
            "{{\"upstream\":true,\"method\":\"{}\",\"body_len\":{}}}",
            parts.method,
            body.len()
        )),
    };
    let half = payload.len() / 2;
    let test_body = TestBody {
        first: Some(payload.slice(..half)),
        rest: Some(payload.slice(half..)),
        stall: get("stall_ms").map(|ms| Box::pin(tokio::time::sleep(Duration::from_millis(ms)))),
    };
    let mut res = Response::new(test_body);
    *res.status_mut() = StatusCode::from_u16(status).unwrap();
    let h = res.headers_mut();
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert("content-length", payload.len().into());
    h.insert("x-upstream", "yes".parse().unwrap());
    h.insert("keep-alive", "timeout=5".parse().unwrap());
    h.insert("proxy-foo", "1".parse().unwrap());
    h.insert("connection", "x-resp-hop".parse().unwrap());
    h.insert("x-resp-hop", "1".parse().unwrap());
    if let Some(tag) = etag {
        h.insert("etag", tag.parse().unwrap());
        h.insert("cache-control", "private, max-age=0".parse().unwrap());
    }
    if not_modified {
        h.remove("content-length");
        h.remove("content-type");
    }
    res
}

/// A body in two halves, optionally with a pause between them.
pub struct TestBody {
    first: Option<Bytes>,
    rest: Option<Bytes>,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if let Some(stall) = self.stall.as_mut() {
            if stall.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.stall = None;
        }
        Poll::Ready(self.rest.take().map(|b| Ok(Frame::data(b))))
    }
}

/// A relay running in this process.
pub struct RunningRelay {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningRelay {
    /// Stops accepting, drains and waits for the relay to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

/// A config for `upstream_url` with defaults, changed by `tweak`.
pub fn config(upstream_url: &str, tweak: impl FnOnce(&mut RelayConfig)) -> RelayConfig {
    let mut config = RelayConfig::new(upstream_url.parse::<UpstreamUrl>().unwrap());
    config.access_log = false;
    tweak(&mut config);
    config
}

/// Starts a relay for [`ROUTES`] in front of `upstream_url`.
pub async fn relay(config: RelayConfig) -> RunningRelay {
    relay_with(ROUTES, config).await
}

/// Starts a relay for `routes`.
pub async fn relay_with(routes: &'static [PublicRoute], config: RelayConfig) -> RunningRelay {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let relay = Arc::new(Relay::new("test-relay", routes, config).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, relay, async {
        let _ = stopped.await;
    }));
    RunningRelay {
        addr,
        stop: Some(stop),
        task,
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body_str()))
    }

    /// The relay's error code, if the body has the relay's error shape.
    pub fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(v["error"]["code"].as_str()?.to_owned())
    }
}

/// Sends `head` (request line and headers, CRLF-separated, without the final blank
/// line) plus `Connection: close`, then `body`, and reads the whole response.
pub async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = head.trim_end().replace('\n', "\r\n").replace("\r\r", "\r");
    req.push_str("\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    // The relay may answer (413) and close before reading the body; ignore write errors.
    let _ = stream.write_all(body).await;
    read_response(&mut stream).await
}

/// Reads one response until the connection closes.
pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> RawResponse {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(buf)));
    let head = std::str::from_utf8(&buf[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = std::str::from_utf8(&data[..end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[end + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `GET target` with a Host header and extra header lines.
pub async fn get(addr: SocketAddr, target: &str, extra: &str) -> RawResponse {
    let head = format!("GET {target} HTTP/1.1\nHost: relay.test\n{extra}");
    raw(addr, &head, b"").await
}

/// A request with a method, target, extra headers and a body (sent with Content-Length).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra: &str,
    body: &[u8],
) -> RawResponse {
    let head = format!(
        "{method} {target} HTTP/1.1\nHost: relay.test\nContent-Length: {}\n{extra}",
        body.len()
    );
    raw(addr, &head, body).await
}

/// An address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// Unpadded base64url, as JWT segments are written.
pub fn b64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An `Authorization` value carrying an ID token for `email` (unique id `sub`), as
/// Cloud Run forwards it after verifying it (signature removed).
pub fn bearer(email: &str, sub: &str) -> String {
    let claims = format!(
        r#"{{"aud":"https://shop-api-relay-x.a.run.app","email":"{email}","email_verified":true,"iss":"https://accounts.google.com","sub":"{sub}"}}"#
    );
    format!(
        "Bearer {}.{}.SIGNATURE_REMOVED_BY_GOOGLE",
        b64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64url(claims.as_bytes())
    )
}
