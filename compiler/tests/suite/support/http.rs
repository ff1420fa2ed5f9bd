//! The tests' one HTTP client: one HTTP/1.1 exchange at a time over a plain socket on
//! 127.0.0.1, so nothing between the test and the server rewrites what is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

/// How long one read from the server may block.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A response, fully read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 exchange with `127.0.0.1:port` and `Connection: close`; a body is sent
/// as JSON. The answer's body is read by its `Content-Length`, de-chunked, or read to
/// the end of the connection.
pub fn http(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|e| panic!("connect to port {port}: {e}"));
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Some(b) => req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )),
        None => req.push_str("\r\n"),
    }
    stream.write_all(req.as_bytes()).expect("write");

    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read the head");
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if n == 0 || line.is_empty() {
            break;
        }
        head.push(line);
    }
    let status = head
        .first()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers: Vec<(String, String)> = head[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let chunked = find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length = find("content-length").and_then(|v| v.parse::<usize>().ok());
    let mut raw = Vec::new();
    let bodiless = method == "HEAD" || status == 204 || status == 304;
    match length {
        _ if bodiless => {}
        Some(n) if !chunked => {
            raw.resize(n, 0);
            reader.read_exact(&mut raw).expect("read the body");
        }
        _ => {
            reader.read_to_end(&mut raw).expect("read the body");
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let body = if chunked { dechunk(&text) } else { text };
    Answer {
        status,
        headers,
        body,
    }
}

/// The payload of a chunked body.
pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
