//! Message framing on the relay's own HTTP/1.1 path, byte for byte over loopback: a raw
//! client sends exact bytes, a raw upstream answers exact bytes, and both sides check
//! what arrived. Covers the smuggling defences, the head limits, the header-read
//! timeout, chunked and close-delimited bodies, `HEAD`/204/304, `Expect:
//! 100-continue`, HTTP/1.0, `Connection: close`, pipelining and the retry on a
//! kept-alive connection the upstream closed; and a property test: random requests and
//! responses, cut into random pieces, arrive exactly as framed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{ROUTES, config, relay};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One message as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    /// The start line.
    start: String,
    /// Header fields, names lower-cased, in order.
    headers: Vec<(String, String)>,
    /// The body bytes exactly as framed on the wire (chunk framing included).
    raw_body: Vec<u8>,
    /// The body's content (chunk framing removed).
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn status(&self) -> u16 {
        self.start.split(' ').nth(1).unwrap().parse().unwrap()
    }

    fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(v["error"]["code"].as_str()?.to_owned())
    }
}

/// How a body is delimited, as the test reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimit {
    None,
    Length(usize),
    Chunked,
    Close,
}

/// Reads one message from `stream` (leftover bytes stay in `buf`). `no_body`: the
/// answer to a HEAD, or a request without framing headers. `None` at a clean end of
/// stream before any byte.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    is_response: bool,
    no_body: bool,
) -> Option<Message> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("timed out reading a head")
            .unwrap_or(0);
        if n == 0 {
            assert!(
                buf.is_empty(),
                "truncated head: {:?}",
                String::from_utf8_lossy(buf)
            );
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end - 4].to_vec()).unwrap();
    buf.drain(..head_end);
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let status: Option<u16> =
        is_response.then(|| start.split(' ').nth(1).unwrap().parse().unwrap());
    let delimit = if no_body || status.is_some_and(|s| s < 200 || s == 204 || s == 304) {
        Delimit::None
    } else if find("transfer-encoding").is_some() {
        Delimit::Chunked
    } else if let Some(n) = find("content-length") {
        Delimit::Length(n.parse().unwrap())
    } else if is_response {
        Delimit::Close
    } else {
        Delimit::None
    };
    let mut raw_body = Vec::new();
    let mut body = Vec::new();
    match delimit {
        Delimit::None => {}
        Delimit::Length(n) => {
            while buf.len() < n {
                assert!(fill(stream, buf).await > 0, "body truncated");
            }
            raw_body = buf.drain(..n).collect();
            body = raw_body.clone();
        }
        Delimit::Close => {
            while fill(stream, buf).await > 0 {}
            raw_body = std::mem::take(buf);
            body = raw_body.clone();
        }
        Delimit::Chunked => {
            // A plain reading of the chunked format, independent of the relay's.
            let mut at = 0;
            loop {
                let line_end = loop {
                    if let Some(i) = buf[at..].windows(2).position(|w| w == b"\r\n") {
                        break at + i;
                    }
                    assert!(fill(stream, buf).await > 0, "chunked body truncated");
                };
                let line = std::str::from_utf8(&buf[at..line_end]).unwrap();
                let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                    .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
                at = line_end + 2;
                if size == 0 {
                    // Trailers, then the blank line.
                    loop {
                        let end = loop {
                            if let Some(i) = buf[at..].windows(2).position(|w| w == b"\r\n") {
                                break at + i;
                            }
                            assert!(fill(stream, buf).await > 0, "trailers truncated");
                        };
                        let empty = end == at;
                        at = end + 2;
                        if empty {
                            break;
                        }
                    }
                    break;
                }
                while buf.len() < at + size + 2 {
                    assert!(fill(stream, buf).await > 0, "chunk truncated");
                }
                body.extend_from_slice(&buf[at..at + size]);
                assert_eq!(&buf[at + size..at + size + 2], b"\r\n");
                at += size + 2;
            }
            raw_body = buf.drain(..at).collect();
        }
    }
    Some(Message {
        start,
        headers,
        raw_body,
        body,
    })
}

/// Reads more bytes into `buf`; 0 at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> usize {
    let mut chunk = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
        .await
        .expect("timed out reading a body")
        .unwrap_or(0);
    buf.extend_from_slice(&chunk[..n]);
    n
}

/// What the scripted upstream answers: raw bytes, in pieces, then whether to close.
#[derive(Debug, Clone, Default)]
struct Answer {
    pieces: Vec<Vec<u8>>,
    close: bool,
}

impl Answer {
    fn whole(bytes: impl Into<Vec<u8>>) -> Self {
        Answer {
            pieces: vec![bytes.into()],
            close: false,
        }
    }
}

/// An upstream that records every request as read off the wire and answers from a
/// script (a default `200 ok` when the script is empty).
#[derive(Clone)]
struct Scripted {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Message>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    connections: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = Scripted {
            addr: listener.local_addr().unwrap(),
            requests: Arc::default(),
            answers: Arc::default(),
            connections: Arc::default(),
        };
        let this = up.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                this.connections.fetch_add(1, Ordering::SeqCst);
                let this = this.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while let Some(req) = read_message(&mut stream, &mut buf, false, false).await {
                        this.requests.lock().unwrap().push(req);
                        let answer =
                            this.answers.lock().unwrap().pop_front().unwrap_or_else(|| {
                                Answer::whole(
                                    &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"[..],
                                )
                            });
                        for piece in &answer.pieces {
                            if stream.write_all(piece).await.is_err() {
                                return;
                            }
                            tokio::task::yield_now().await;
                        }
                        if answer.close {
                            return;
                        }
                    }
                });
            }
        });
        up
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn script(&self, answer: Answer) {
        self.answers.lock().unwrap().push_back(answer);
    }

    fn requests(&self) -> Vec<Message> {
        self.requests.lock().unwrap().clone()
    }
}

/// Sends `bytes` on a new connection and reads one response (or `None` if the relay
/// closed without one).
async fn exchange(addr: SocketAddr, bytes: &[u8], head: bool) -> (Option<Message>, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let res = read_message(&mut stream, &mut buf, true, head).await;
    (res, stream)
}

/// Whether the relay closes `stream` (reads to the end within 5 s).
async fn closes(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await,
        Ok(Ok(_)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn ambiguous_framing_is_refused_before_the_upstream() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    for bad in [
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n",
        "GET /products HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
        "GET /products HTTP/1.1\r\nHost: a\r\nBad Name: a\r\n\r\n",
        "GET /products HTTP/9.9\r\nHost: a\r\n\r\n",
    ] {
        let (res, mut stream) = exchange(relay.addr, bad.as_bytes(), false).await;
        let res = res.unwrap_or_else(|| panic!("no answer to {bad:?}"));
        assert_eq!(res.status(), 400, "{bad:?}");
        assert_eq!(res.error_code().as_deref(), Some("bad_request"), "{bad:?}");
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.header("connection"), Some("close"));
        assert!(res.header("x-request-id").is_some());
        assert!(
            closes(&mut stream).await,
            "{bad:?} left the connection open"
        );
    }
    // All of them were refused before a byte reached the upstream.
    assert!(up.requests().is_empty(), "{:?}", up.requests());
    relay.stop().await;
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let big = format!(
        "GET /products HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let many: String = (0..120).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let many = format!("GET /products HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    for req in [big, many] {
        let (res, mut stream) = exchange(relay.addr, req.as_bytes(), false).await;
        let res = res.unwrap();
        assert_eq!(res.status(), 431);
        assert_eq!(res.error_code().as_deref(), Some("header_too_large"));
        assert!(closes(&mut stream).await);
    }
    assert!(up.requests().is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn a_head_that_does_not_finish_in_time_closes_the_connection() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |c| {
        c.header_read_timeout = Duration::from_millis(300);
    }))
    .await;
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    stream
        .write_all(b"GET /products HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(up.requests().is_empty());
    // A complete head in time is served, also after an idle keep-alive pause longer than
    // the head timeout.
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    let mut buf = Vec::new();
    for _ in 0..2 {
        stream
            .write_all(b"GET /products HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let res = read_message(&mut stream, &mut buf, true, false)
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    relay.stop().await;
}

#[tokio::test]
async fn chunked_bodies_pass_through_unchanged_both_ways() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let chunked = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
    up.script(Answer {
        pieces: vec![
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n3\r\nab"
                .to_vec(),
            b"c\r\n0\r\n\r\n".to_vec(),
        ],
        close: false,
    });
    let mut req =
        b"POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    req.extend_from_slice(chunked);
    let (res, _stream) = exchange(relay.addr, &req, false).await;
    let res = res.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.raw_body, b"3\r\nabc\r\n0\r\n\r\n");
    assert_eq!(res.header("transfer-encoding"), Some("chunked"));
    assert_eq!(res.header("x-up"), Some("1"));
    let sent = &up.requests()[0];
    assert_eq!(sent.start, "POST /products/1/reviews HTTP/1.1");
    assert_eq!(sent.raw_body, chunked);
    assert_eq!(sent.body, b"hello, world");
    assert_eq!(sent.header("content-length"), None);
    relay.stop().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |c| c.max_body_bytes = 10)).await;
    let req = b"POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n";
    let (res, mut stream) = exchange(relay.addr, req, false).await;
    let res = res.unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.error_code().as_deref(), Some("payload_too_large"));
    assert!(closes(&mut stream).await);
    relay.stop().await;
}

#[tokio::test]
async fn close_delimited_upstream_bodies_reach_the_client_chunked() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    up.script(Answer {
        pieces: vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ".to_vec(),
            b"second".to_vec(),
        ],
        close: true,
    });
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    let mut buf = Vec::new();
    stream
        .write_all(b"GET /products HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let res = read_message(&mut stream, &mut buf, true, false)
        .await
        .unwrap();
    assert_eq!(res.header("transfer-encoding"), Some("chunked"));
    assert_eq!(res.body, b"first second");
    // The client connection stays usable; the next request opens a new upstream one.
    stream
        .write_all(b"GET /products HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let res = read_message(&mut stream, &mut buf, true, false)
        .await
        .unwrap();
    assert_eq!((res.status(), res.body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    relay.stop().await;
}

#[tokio::test]
async fn bodiless_answers_have_no_body_and_keep_the_connection() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    up.script(Answer::whole(
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"[..],
    ));
    up.script(Answer::whole(&b"HTTP/1.1 204 No Content\r\n\r\n"[..]));
    up.script(Answer::whole(
        &b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"[..],
    ));
    up.script(Answer::whole(
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..],
    ));
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    let mut buf = Vec::new();
    for (req, head, status, body) in [
        ("HEAD /products", true, 200, &b""[..]),
        ("DELETE /products/1", false, 204, b""),
        ("GET /products/1", false, 304, b""),
        ("GET /products/2", false, 200, b"hi"),
    ] {
        stream
            .write_all(format!("{req} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let res = read_message(&mut stream, &mut buf, true, head)
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{req}");
        assert_eq!(res.body, body, "{req}");
        if head {
            assert_eq!(res.header("content-length"), Some("1234"));
        }
    }
    assert!(buf.is_empty(), "bytes after the responses: {buf:?}");
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
    relay.stop().await;
}

#[tokio::test]
async fn expect_100_continue_is_answered_by_the_relay() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    stream
        .write_all(
            b"PUT /products/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    let interim = read_message(&mut stream, &mut buf, true, false)
        .await
        .unwrap();
    assert_eq!(interim.status(), 100);
    stream.write_all(b"hello").await.unwrap();
    let res = read_message(&mut stream, &mut buf, true, false)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent = &up.requests()[0];
    assert_eq!(sent.body, b"hello");
    assert_eq!(sent.header("expect"), None);
    relay.stop().await;
}

#[tokio::test]
async fn http_1_0_and_connection_close_end_the_connection() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let (res, mut stream) = exchange(
        relay.addr,
        b"GET /products HTTP/1.0\r\nHost: a\r\n\r\n",
        false,
    )
    .await;
    let res = res.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.start.starts_with("HTTP/1."));
    assert_eq!(res.body, b"ok");
    assert!(closes(&mut stream).await);
    let (res, mut stream) = exchange(
        relay.addr,
        b"GET /products HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    let res = res.unwrap();
    assert_eq!(res.header("connection"), Some("close"));
    assert!(closes(&mut stream).await);
    // The upstream saw HTTP/1.1 both times, without the client's Connection header.
    for r in up.requests() {
        assert!(r.start.ends_with("HTTP/1.1"), "{}", r.start);
        assert_eq!(r.header("connection"), None);
    }
    relay.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    for i in 0..3 {
        let body = format!("r{i}");
        up.script(Answer::whole(format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )));
    }
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    stream
        .write_all(
            b"GET /products/1 HTTP/1.1\r\nHost: a\r\n\r\n\
              PUT /products/2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
              GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /products/3 HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut got = Vec::new();
    for _ in 0..4 {
        let res = read_message(&mut stream, &mut buf, true, false)
            .await
            .unwrap();
        got.push((res.status(), String::from_utf8(res.body).unwrap()));
    }
    assert_eq!(got[0], (200, "r0".into()));
    assert_eq!(got[1], (200, "r1".into()));
    assert_eq!(got[2].0, 404);
    assert_eq!(got[3], (200, "r2".into()));
    let targets: Vec<_> = up.requests().iter().map(|r| r.start.clone()).collect();
    assert_eq!(
        targets,
        [
            "GET /products/1 HTTP/1.1",
            "PUT /products/2 HTTP/1.1",
            "GET /products/3 HTTP/1.1"
        ]
    );
    assert_eq!(up.requests()[1].body, b"abc");
    relay.stop().await;
}

#[tokio::test]
async fn a_kept_alive_connection_the_upstream_closed_is_replaced() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    // The upstream answers and then closes without saying so.
    up.script(Answer {
        pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na".to_vec()],
        close: true,
    });
    up.script(Answer {
        pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb".to_vec()],
        close: true,
    });
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    let mut buf = Vec::new();
    for (req, body) in [
        ("GET /products/1 HTTP/1.1\r\nHost: a\r\n\r\n", "a"),
        ("GET /products/1 HTTP/1.1\r\nHost: a\r\n\r\n", "b"),
        (
            "POST /products/1/reviews HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
            "ok",
        ),
    ] {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stream.write_all(req.as_bytes()).await.unwrap();
        let res = read_message(&mut stream, &mut buf, true, false)
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{req}");
        assert_eq!(res.body, body.as_bytes(), "{req}");
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 3);
    relay.stop().await;
}

#[tokio::test]
async fn a_truncated_upstream_body_closes_the_client_connection() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    up.script(Answer {
        pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf".to_vec()],
        close: true,
    });
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    stream
        .write_all(b"GET /products HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("half"), "{text}");
    relay.stop().await;
}

#[tokio::test]
async fn upgrades_are_served_by_the_general_path() {
    let up = Scripted::start().await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let (res, _stream) = exchange(
        relay.addr,
        b"GET /products HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(res.unwrap().status(), 200);
    let sent = &up.requests()[0];
    assert_eq!(sent.header("upgrade"), None);
    assert_eq!(sent.header("connection"), None);
    relay.stop().await;
}

// --- property: random messages in random pieces arrive exactly as framed ------------

/// How a generated body is framed.
#[derive(Debug, Clone)]
enum Framed {
    Length,
    /// Chunk sizes (the body is cut into these, the rest in one last chunk).
    Chunked(Vec<usize>),
    /// Responses only: until the upstream closes.
    Close,
}

fn frame(body: &[u8], framed: &Framed) -> (String, Vec<u8>) {
    match framed {
        Framed::Length => (format!("Content-Length: {}\r\n", body.len()), body.to_vec()),
        Framed::Close => (String::new(), body.to_vec()),
        Framed::Chunked(sizes) => {
            let mut out = Vec::new();
            let mut rest = body;
            for &size in sizes {
                if rest.is_empty() {
                    break;
                }
                let n = size.clamp(1, rest.len());
                out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            if !rest.is_empty() {
                out.extend_from_slice(format!("{:X};x=y\r\n", rest.len()).as_bytes());
                out.extend_from_slice(rest);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            ("Transfer-Encoding: chunked\r\n".into(), out)
        }
    }
}

/// `bytes` cut at the given fractions.
fn cut(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    at.dedup();
    let mut pieces = Vec::new();
    let mut last = 0;
    for a in at.into_iter().chain([bytes.len()]) {
        if a > last {
            pieces.push(bytes[last..a].to_vec());
            last = a;
        }
    }
    pieces
}

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    target: String,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
    req_framing: Framed,
    req_cuts: Vec<usize>,
    status: u16,
    res_body: Vec<u8>,
    res_framing: Framed,
    res_cuts: Vec<usize>,
}

fn framed(allow_close: bool) -> impl Strategy<Value = Framed> {
    let chunked = prop::collection::vec(1usize..700, 0..5).prop_map(Framed::Chunked);
    if allow_close {
        prop_oneof![Just(Framed::Length), chunked, Just(Framed::Close)].boxed()
    } else {
        prop_oneof![Just(Framed::Length), chunked].boxed()
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["GET", "PUT", "DELETE", "POST"]),
        (1u32..100_000, prop::option::of("[a-z]{1,8}=[a-z0-9]{0,8}")),
        prop::collection::vec(("x-[a-z]{1,12}", "[ -~]{0,40}"), 0..6),
        prop::collection::vec(any::<u8>(), 0..3000),
        framed(false),
        prop::collection::vec(0usize..10_000, 0..6),
        prop::sample::select(vec![200u16, 201, 400, 404, 500]),
        prop::collection::vec(any::<u8>(), 0..3000),
        framed(true),
        prop::collection::vec(0usize..10_000, 0..6),
    )
        .prop_map(
            |(
                method,
                (id, query),
                extra,
                body,
                req_framing,
                req_cuts,
                status,
                res_body,
                res_framing,
                res_cuts,
            )| {
                let path = if method == "POST" {
                    format!("/products/{id}/reviews")
                } else {
                    format!("/products/{id}")
                };
                let target = match query {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                // Header values without surrounding whitespace (it is not part of a value),
                // one of each name.
                let mut seen = std::collections::HashSet::new();
                let extra = extra
                    .into_iter()
                    .filter(|(n, _)| seen.insert(n.clone()))
                    .map(|(n, v)| (n, v.trim().to_owned()))
                    .collect();
                Case {
                    method,
                    target,
                    extra,
                    body,
                    req_framing,
                    req_cuts,
                    status,
                    res_body,
                    res_framing,
                    res_cuts,
                }
            },
        )
}

async fn check(addr: SocketAddr, up: &Scripted, case: &Case) -> Result<(), TestCaseError> {
    let before = up.requests().len();
    // The request.
    let (framing_line, wire_body) = frame(&case.body, &case.req_framing);
    let mut req = format!(
        "{} {} HTTP/1.1\r\nHost: shop.test\r\n",
        case.method, case.target
    );
    for (n, v) in &case.extra {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&framing_line);
    req.push_str("\r\n");
    let mut req = req.into_bytes();
    req.extend_from_slice(&wire_body);
    // The response.
    let (res_framing_line, res_wire_body) = frame(&case.res_body, &case.res_framing);
    let mut res = format!(
        "HTTP/1.1 {} Whatever\r\nX-Up: 1\r\n{res_framing_line}\r\n",
        case.status
    )
    .into_bytes();
    res.extend_from_slice(&res_wire_body);
    up.script(Answer {
        pieces: cut(&res, &case.res_cuts),
        close: matches!(case.res_framing, Framed::Close),
    });

    let mut stream = TcpStream::connect(addr).await.unwrap();
    for piece in cut(&req, &case.req_cuts) {
        stream.write_all(&piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut buf = Vec::new();
    let got = read_message(&mut stream, &mut buf, true, false)
        .await
        .expect("a response");

    // The upstream received the request exactly as framed.
    let requests = up.requests();
    prop_assert_eq!(requests.len(), before + 1);
    let sent = &requests[before];
    prop_assert_eq!(
        &sent.start,
        &format!("{} {} HTTP/1.1", case.method, case.target)
    );
    prop_assert_eq!(&sent.raw_body, &wire_body);
    prop_assert_eq!(&sent.body, &case.body);
    for (n, v) in &case.extra {
        prop_assert_eq!(sent.header(n), Some(v.as_str()), "{}", n);
    }
    prop_assert_eq!(sent.header("x-forwarded-host"), Some("shop.test"));
    prop_assert_eq!(sent.header("x-forwarded-for"), Some("127.0.0.1"));

    // The client received the response exactly as framed (close-delimited: chunked).
    prop_assert_eq!(got.status(), case.status);
    prop_assert_eq!(got.header("x-up"), Some("1"));
    prop_assert_eq!(&got.body, &case.res_body);
    match case.res_framing {
        Framed::Close => prop_assert_eq!(got.header("transfer-encoding"), Some("chunked")),
        _ => prop_assert_eq!(&got.raw_body, &res_wire_body),
    }
    prop_assert!(buf.is_empty());
    Ok(())
}

#[test]
fn random_messages_in_random_pieces_arrive_exactly_as_framed() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (up, relay) = runtime.block_on(async {
        let up = Scripted::start().await;
        let relay = crate::support::relay_with(ROUTES, config(&up.url(), |_| {})).await;
        (up, relay)
    });
    let addr = relay.addr;
    let config = ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(case in case())| {
        runtime.block_on(check(addr, &up, &case))?;
    });
    runtime.block_on(relay.stop());
}
