//! Failure handling over real HTTP: dead and slow upstreams, the retry rule, the body
//! limit, and the upstream's own errors passing through.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::*;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_dead_upstream_gives_502_json() {
    let dead = dead_addr().await;
    let relay = relay(config(&format!("http://{dead}"), |_| {})).await;
    let res = get(relay.addr, "/products", "X-Request-Id: dead-1").await;
    assert_eq!(res.status, 502);
    assert_eq!(res.error_code().as_deref(), Some("bad_gateway"));
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("x-request-id"), Some("dead-1"));
    // POST too (not retried, same answer).
    let res = send(relay.addr, "POST", "/products/1/reviews", "", b"{}").await;
    assert_eq!(res.status, 502);
    relay.stop().await;
}

#[tokio::test]
async fn a_slow_upstream_gives_504_json_at_the_deadline() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| {
        c.upstream_timeout = Duration::from_millis(300);
    }))
    .await;
    let started = Instant::now();
    let res = get(relay.addr, "/products?delay_ms=3000", "").await;
    let took = started.elapsed();
    assert_eq!(res.status, 504);
    assert_eq!(res.error_code().as_deref(), Some("gateway_timeout"));
    assert!(
        took >= Duration::from_millis(290),
        "answered after {took:?}"
    );
    assert!(
        took < Duration::from_millis(2000),
        "answered after {took:?}"
    );
    // Within the deadline it is fine.
    let res = get(relay.addr, "/products?delay_ms=50", "").await;
    assert_eq!(res.status, 200);
    relay.stop().await;
}

#[tokio::test]
async fn a_body_stalled_past_the_deadline_is_cut_off() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| {
        c.upstream_timeout = Duration::from_millis(300);
    }))
    .await;
    let started = Instant::now();
    let res = get(relay.addr, "/products?size=100000&stall_ms=3000", "").await;
    assert!(started.elapsed() < Duration::from_millis(2000));
    // The head was already sent: the client sees a 200 whose body is incomplete.
    assert_eq!(res.status, 200);
    assert!(res.body.len() < 100_000, "got {} bytes", res.body.len());
    // Without the stall the whole body arrives.
    let res = get(relay.addr, "/products?size=100000", "").await;
    assert_eq!(res.body.len(), 100_000);
    relay.stop().await;
}

#[tokio::test]
async fn idempotent_requests_are_retried_once_after_a_connection_failure() {
    for method in ["GET", "DELETE", "PUT"] {
        let up = upstream(1).await;
        let relay = relay(config(&up.url(), |_| {})).await;
        let res = send(relay.addr, method, "/products/1", "", b"").await;
        assert_eq!(res.status, 200, "{method}: {}", res.body_str());
        assert_eq!(up.connections.load(Ordering::SeqCst), 2, "{method}");
        assert_eq!(up.count(), 1, "{method}");
        relay.stop().await;
    }
}

#[tokio::test]
async fn retry_happens_only_once() {
    let up = upstream(2).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let res = get(relay.addr, "/products", "").await;
    assert_eq!(res.status, 502);
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    assert_eq!(up.count(), 0);
    relay.stop().await;
}

#[tokio::test]
async fn post_and_patch_are_never_retried() {
    // With and without a body: an empty body could be replayed, and still is not.
    for (method, target) in [("POST", "/products/1/reviews"), ("PATCH", "/products/1")] {
        for body in [&b""[..], &b"{\"a\":1}"[..]] {
            let up = upstream(1).await;
            let relay = relay(config(&up.url(), |_| {})).await;
            let res = send(relay.addr, method, target, "", body).await;
            assert_eq!(res.status, 502, "{method}");
            assert_eq!(res.error_code().as_deref(), Some("bad_gateway"));
            assert_eq!(
                up.connections.load(Ordering::SeqCst),
                1,
                "{method} with {} body bytes was retried",
                body.len()
            );
            relay.stop().await;
        }
    }
}

#[tokio::test]
async fn a_content_length_over_the_limit_gets_413_without_reading_the_body() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| c.max_body_bytes = 1024)).await;
    // Announce 10 MB, send only the headers, and expect the answer at once.
    let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    stream
        .write_all(
            b"PUT /products/1 HTTP/1.1\r\nHost: r\r\nContent-Length: 10000000\r\n\
              X-Request-Id: big-1\r\n\r\n",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let res = read_response(&mut stream).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(res.status, 413);
    assert_eq!(res.error_code().as_deref(), Some("payload_too_large"));
    assert_eq!(res.header("connection"), Some("close"));
    assert_eq!(res.header("x-request-id"), Some("big-1"));
    assert_eq!(up.count(), 0);
    // At the limit exactly it passes.
    let res = send(relay.addr, "PUT", "/products/1", "", &[b'a'; 1024]).await;
    assert_eq!(res.status, 200);
    assert_eq!(up.last().body.len(), 1024);
    relay.stop().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| c.max_body_bytes = 1024)).await;
    let chunk = format!("{:x}\r\n{}\r\n", 600, "b".repeat(600));
    let body = format!("{chunk}{chunk}{chunk}0\r\n\r\n");
    for (method, target) in [("POST", "/products/1/reviews"), ("PUT", "/products/1")] {
        let head = format!("{method} {target} HTTP/1.1\nHost: r\nTransfer-Encoding: chunked");
        let res = raw(relay.addr, &head, body.as_bytes()).await;
        assert_eq!(res.status, 413, "{method}: {}", res.body_str());
        assert_eq!(res.error_code().as_deref(), Some("payload_too_large"));
        assert_eq!(res.header("connection"), Some("close"));
        // The upstream never got a complete body.
        assert!(
            up.recorded().iter().all(|r| &r.body[..] == b"<aborted>"),
            "{method}: a body over the limit reached the upstream whole"
        );
    }
    // Under the limit, chunked passes whole.
    let small = format!("{chunk}0\r\n\r\n");
    let head = "POST /products/1/reviews HTTP/1.1\nHost: r\nTransfer-Encoding: chunked";
    let res = raw(relay.addr, head, small.as_bytes()).await;
    assert_eq!(res.status, 200);
    assert_eq!(up.last().body.len(), 600);
    relay.stop().await;
}

#[tokio::test]
async fn upstream_errors_pass_through_unchanged() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    for status in [400u16, 404, 409, 422, 500, 502, 503] {
        let res = get(relay.addr, &format!("/products/1?status={status}"), "").await;
        assert_eq!(res.status, status);
        assert_eq!(res.header("x-upstream"), Some("yes"), "{status}");
        // The upstream's own body, not the relay's error shape.
        assert_eq!(res.json()["upstream"], serde_json::json!(true), "{status}");
        assert_eq!(res.error_code(), None);
    }
    // Never retried: a 5xx is an answer, not a connection failure.
    assert_eq!(up.count(), 7);
    relay.stop().await;
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| c.max_body_bytes = 8 << 20)).await;
    let res = get(relay.addr, "/products?size=5000000", "").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body.len(), 5_000_000);
    let body = vec![b'z'; 3_000_000];
    let res = send(relay.addr, "PUT", "/products/2", "", &body).await;
    assert_eq!(res.status, 200);
    assert_eq!(up.last().body.len(), 3_000_000);
    relay.stop().await;
}

/// An upstream that reads a request head, answers 413 at once and closes without
/// reading the body (the kernel then resets the connection); its port.
async fn early_answering_upstream() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
                        .await
                        .unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let body = r#"{"error":{"code":"too_large"}}"#;
                let answer = format!(
                    "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                // Dropped with the body unread: a reset, not a clean close.
            });
        }
    });
    port
}

#[tokio::test]
async fn an_upstream_answering_before_the_body_is_read_is_passed_on() {
    let port = early_answering_upstream().await;
    let relay = relay(config(&format!("http://127.0.0.1:{port}"), |c| {
        c.max_body_bytes = 64 * 1024 * 1024;
    }))
    .await;
    // More body than the socket buffers hold, sent while the relay forwards it.
    let body = vec![b'x'; 16 * 1024 * 1024];
    let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let head = format!(
        "PUT /products/1 HTTP/1.1\r\nHost: r\r\nContent-Length: {}\r\nX-Request-Id: early-1\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        // The relay stops reading once the upstream has answered: errors are expected.
        let _ = writer.write_all(&body).await;
        writer
    });
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut raw),
    )
    .await;
    let res = parse_response(&raw);
    assert_eq!(res.status, 413, "{}", res.body_str());
    assert_eq!(res.body_str(), r#"{"error":{"code":"too_large"}}"#);
    assert_eq!(res.header("connection"), Some("close"));
    assert_eq!(res.header("x-request-id"), Some("early-1"));
    sender.abort();
    relay.stop().await;
}
