//! Concurrent load through the relay: many keep-alive client connections at once, every
//! request answered correctly, none lost or duplicated.

use std::sync::Arc;

use crate::support::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

const CONNECTIONS: usize = 32;
const REQUESTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_keep_alive_connections_all_succeed() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let next = next.clone();
        let addr = relay.addr;
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= REQUESTS {
                    break;
                }
                // Alternate reads and writes with bodies, each with its own id.
                let (method, path, body) = if i % 4 == 3 {
                    (
                        "POST",
                        format!("/products/{i}/reviews"),
                        format!("{{\"n\":{i}}}"),
                    )
                } else {
                    ("GET", format!("/products/{i}"), String::new())
                };
                let req = Request::builder()
                    .method(method)
                    .uri(path.parse::<Uri>().unwrap())
                    .header("host", "relay.test")
                    .header("x-request-id", format!("load-{i}"))
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                assert_eq!(res.status(), 200, "request {i}");
                assert_eq!(res.headers()["x-request-id"], format!("load-{i}").as_str());
                let got = res.into_body().collect().await.unwrap().to_bytes();
                let json: serde_json::Value = serde_json::from_slice(&got).unwrap();
                assert_eq!(json["body_len"], body.len(), "request {i}");
                done.push(i);
            }
            done
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..REQUESTS).collect::<Vec<_>>());
    let mut seen: Vec<String> = up
        .recorded()
        .iter()
        .map(|r| r.headers["x-request-id"].to_str().unwrap().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), REQUESTS, "requests lost or duplicated upstream");
    relay.stop().await;
}
