//! What the gateway's tests share: an upstream that records each request it gets, the
//! emulator served on a free port, and one HTTP client call.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use shopgen_gateway_local::{Gateway, GatewayConfig, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the upstream saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Every request an upstream received, in order.
pub type Log = Arc<Mutex<Vec<Seen>>>;

/// An upstream on 127.0.0.1 that records each request, waits `delay`, and answers
/// with `answer(&request)`.
pub async fn upstream(
    delay: Duration,
    answer: fn(&Seen) -> Response<Full<Bytes>>,
) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Log = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let record = record.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let request = Seen {
                            method: parts.method,
                            path_and_query: parts
                                .uri
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            headers: parts.headers,
                            body,
                        };
                        let response = answer(&request);
                        record.lock().expect("lock").push(request);
                        tokio::time::sleep(delay).await;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// 200 `{"ok":true}` as JSON, whatever was asked.
pub fn ok_json(_: &Seen) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")));
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("hv"));
    r
}

/// A configuration with `keys` as the valid API keys and every call going to `backend`.
pub fn config(keys: &[&str], backend: String) -> GatewayConfig {
    GatewayConfig {
        api_keys: keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
        backend_override: Some(backend),
        deadline_override: None,
        access_log: None,
    }
}

/// Serves `gateway` on a free port of 127.0.0.1 until the sender is used or dropped.
pub async fn start(gateway: Gateway) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, Arc::new(gateway), async {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// One request with an empty body; the status, headers and body of the answer.
pub async fn call(
    method: Method,
    url: String,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
