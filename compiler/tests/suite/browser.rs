//! A real browser against `shopgen up`: the worked example of docs/api.md ("Calling
//! the API from a web page").
//!
//! The reference spec, with `[gateway] cors` naming one local origin and
//! `cache = { max_age = 0 }` on products, is built in a scratch workspace (this
//! repository's runtime crates, lock file and target directory) and run with
//! `shopgen up` on free ports. Two page servers on 127.0.0.1 are two origins: the
//! allowed one and another. Headless Chromium, driven over the DevTools protocol (its
//! websocket), loads the same page from each; the page calls the local gateway with
//! `fetch(…, {headers: {"X-API-KEY": …}})` (a request that needs a CORS preflight) and
//! reports what it got. Checked:
//!
//! - the allowed origin gets the product list, and can read the exposed `ETag`;
//! - the other origin's `fetch` fails in the browser (`TypeError`): the relay refuses
//!   its preflight without CORS headers;
//! - the preflights went through the gateway to the relay, and the backend's access
//!   log has no `OPTIONS` at all;
//! - a second load of the allowed page revalidates (`If-None-Match` on the wire, `304`
//!   from the backend; the page still sees `200` from the browser's cache).
//!
//! Chromium is the Debian package `chromium` (`.ci/run` installs it; `SHOPGEN_CHROMIUM`
//! names another binary). Without it the test fails when `CI` is set and otherwise
//! skips with a message on stderr. Every wait is bounded; `shopgen up` and the browser
//! (its whole process group) are stopped when the test ends, failed or not.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::tool::tool_named;
use crate::support::up::{Up, stop_group};
use crate::support::{http, project, shop_src};

/// How long the browser may take to start, and any one DevTools command.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
const API_KEY: &str = "browser-test-key";

/// The Chromium binary: `SHOPGEN_CHROMIUM`, else the first of the usual names on PATH
/// (`support::tool`: `None` after saying so when there is none and `CI` is not set).
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SHOPGEN_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    tool_named(
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
        "apt-get install chromium (.ci/run does), or set SHOPGEN_CHROMIUM",
    )
}

/// The reference spec with CORS for `origin` and products revalidated on every use.
fn spec_with_cors(origin: &str) -> String {
    let shop = shop_src();
    let edits = [
        (
            "openapi = \"3.0\"\n",
            format!(
                "openapi = \"3.0\"\ncors = {{ allowed_origins = [\"{origin}\"], max_age = 600 }}\n\
                 quota = {{ requests_per_minute = 600 }}\n"
            ),
        ),
        (
            "routes = { list = \"public\", get = \"public\" }\n",
            "routes = { list = \"public\", get = \"public\" }\ncache = { max_age = 0 }\n".into(),
        ),
    ];
    let mut spec = shop;
    for (from, to) in edits {
        assert!(
            spec.contains(from),
            "specs/shop.toml no longer has {from:?}"
        );
        spec = spec.replacen(from, &to, 1);
    }
    spec
}

/// The JSON log lines of one service (`backend`, `relay`, `gateway`) after the
/// start-up.
fn log(up: &Up, service: &str) -> Vec<Value> {
    let prefix = format!("{service} | ");
    up.output()
        .iter()
        .skip(up.start_up)
        .filter_map(|l| l.trim_start().strip_prefix(&prefix))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// (method, path, status) of each request in the backend's access log.
fn backend_requests(up: &Up) -> Vec<(String, String, u64)> {
    log(up, "backend")
        .iter()
        .filter(|l| l["message"] == "request" || l["fields"]["message"] == "request")
        .map(|l| {
            let f = if l.get("method").is_some() {
                l
            } else {
                &l["fields"]
            };
            (
                f["method"].as_str().unwrap_or_default().to_string(),
                f["path"].as_str().unwrap_or_default().to_string(),
                f["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Serves `page` for `GET /page.html` (and 404 for anything else) on 127.0.0.1, from a
/// thread that lives as long as the test process; its port.
fn page_server(listener: TcpListener, page: &'static str) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/");
                let (status, body) = if path.starts_with("/page.html") {
                    ("200 OK", page)
                } else {
                    ("404 Not Found", "not found")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
}

/// The page: calls `<api>/products` with the key, keeps what happened in
/// `window.done` (a promise of a JSON string) and in `#result`.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title></head>
<body><pre id="result">pending</pre>
<script>
window.done = (async () => {
  const q = new URLSearchParams(location.search);
  let out;
  try {
    const r = await fetch(q.get("api") + "/products", { headers: { "X-API-KEY": q.get("key") } });
    const body = await r.json();
    out = { ok: true, status: r.status, etag: r.headers.get("ETag"),
            titles: body.products.map((p) => p.title) };
  } catch (e) {
    out = { ok: false, error: e.name + ": " + e.message };
  }
  const text = JSON.stringify(out);
  document.getElementById("result").textContent = text;
  return text;
})();
</script></body></html>
"#;

/// A minimal websocket client (RFC 6455): text frames out (masked), frames in.
struct WebSocket {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl WebSocket {
    fn connect(url: &str) -> WebSocket {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_once('/').expect("a path");
        let stream = TcpStream::connect(host).expect("connect to DevTools");
        stream
            .set_read_timeout(Some(BROWSER_TIMEOUT))
            .expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        write!(
            writer,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: c2hvcGdlbi1icm93c2VyLXQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("handshake");
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).expect("handshake answer");
        assert!(status.contains(" 101 "), "websocket handshake: {status}");
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).expect("handshake header");
            if line.trim().is_empty() {
                break;
            }
        }
        WebSocket { reader, writer }
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = std::process::id().to_be_bytes();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame).expect("websocket write");
    }

    fn send(&mut self, text: &str) {
        self.send_frame(0x1, text.as_bytes());
    }

    /// The next text message (fragments joined; pings answered).
    fn recv(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head).expect("websocket read");
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let masked = head[1] & 0x80 != 0;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.reader.read_exact(&mut b).expect("length");
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.reader.read_exact(&mut b).expect("length");
                len = u64::from_be_bytes(b);
            }
            let mut mask = [0u8; 4];
            if masked {
                self.reader.read_exact(&mut mask).expect("mask");
            }
            let mut payload = vec![0u8; usize::try_from(len).expect("frame size")];
            self.reader.read_exact(&mut payload).expect("payload");
            if masked {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            match opcode {
                0x0..=0x2 => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return String::from_utf8(message).expect("UTF-8 message");
                    }
                }
                0x8 => panic!("DevTools closed the websocket"),
                0x9 => self.send_frame(0xA, &payload),
                _ => {}
            }
        }
    }
}

/// Headless Chromium in its own process group, with a fresh profile, driven over the
/// DevTools protocol; killed (with its helpers) when dropped.
struct Browser {
    child: Child,
    ws: WebSocket,
    next_id: u64,
    /// Every event received so far.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Containers often give /dev/shm only 64 MiB: shared memory goes to /tmp.
                "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        // The browser says where DevTools listens on stderr; the rest of stderr is logged.
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                } else if !line.contains("dbus") {
                    eprintln!("[chromium] {line}");
                }
            }
        });
        let browser_url = match rx.recv_timeout(BROWSER_TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                stop_group(&mut child, Duration::from_secs(1));
                panic!("Chromium did not open DevTools within {BROWSER_TIMEOUT:?}");
            }
        };
        let port: u16 = browser_url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("DevTools URL {browser_url}"));
        let targets: Value = serde_json::from_str(&http("GET", port, "/json/list", &[], None).body)
            .expect("JSON target list");
        let page = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .unwrap_or_else(|| panic!("no page target in {targets}"));
        let ws = WebSocket::connect(page["webSocketDebuggerUrl"].as_str().expect("ws URL"));
        let mut browser = Browser {
            child,
            ws,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        browser.call("Page.enable", json!({}));
        browser.call("Network.enable", json!({}));
        browser
    }

    /// Sends a command and waits for its answer (events meanwhile are kept).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.ws
            .send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let message: Value = serde_json::from_str(&self.ws.recv()).expect("DevTools JSON");
            if message["id"] == id {
                assert!(
                    message.get("error").is_none(),
                    "{method}: {}",
                    message["error"]
                );
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    /// Waits for an event named `method` after the first `from` events.
    fn wait_event(&mut self, method: &str, from: usize) {
        let started = Instant::now();
        while !self.events[from..].iter().any(|e| e["method"] == method) {
            assert!(
                started.elapsed() < BROWSER_TIMEOUT,
                "no {method} within {BROWSER_TIMEOUT:?}"
            );
            let message: Value = serde_json::from_str(&self.ws.recv()).expect("DevTools JSON");
            self.events.push(message);
        }
    }

    /// Loads `url`, waits for its load event and for `window.done`; the page's result.
    fn load(&mut self, url: &str) -> Value {
        let from = self.events.len();
        let navigated = self.call("Page.navigate", json!({"url": url}));
        assert!(navigated.get("errorText").is_none(), "{url}: {navigated}");
        self.wait_event("Page.loadEventFired", from);
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": "window.done", "awaitPromise": true, "returnByValue": true}),
        );
        let text = result["result"]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("the page gave no result: {result}"));
        // The same result is in the DOM.
        let dom = self.call(
            "Runtime.evaluate",
            json!({"expression": "document.getElementById('result').textContent", "returnByValue": true}),
        );
        assert_eq!(dom["result"]["value"], text);
        serde_json::from_str(text).expect("the page's JSON")
    }

    /// The request headers the browser put on the wire for `url` (lowercase names),
    /// per request, in order, from the events after the first `from`.
    fn sent_headers(&self, url: &str, from: usize) -> Vec<BTreeMap<String, String>> {
        let ids: Vec<&Value> = self.events[from..]
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter(|e| e["params"]["request"]["url"] == url)
            .map(|e| &e["params"]["requestId"])
            .collect();
        self.events[from..]
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSentExtraInfo")
            .filter(|e| ids.contains(&&e["params"]["requestId"]))
            .map(|e| {
                e["params"]["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").into()))
                    .collect()
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(5));
    }
}

#[test]
fn a_page_on_an_allowed_origin_calls_the_gateway_and_revalidates() {
    let Some(chromium) = chromium() else {
        return;
    };
    // The two origins: ports held from now on, so the spec can name the allowed one.
    let allowed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let other = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let allowed_origin = format!("http://127.0.0.1:{}", allowed.local_addr().unwrap().port());
    let other_origin = format!("http://127.0.0.1:{}", other.local_addr().unwrap().port());
    page_server(allowed, PAGE);
    page_server(other, PAGE);

    let ws = project()
        .workspace(&["generated/*/backend", "generated/*/relay"])
        .runner()
        .file("specs/shop.toml", spec_with_cors(&allowed_origin))
        .repo_file("specs/shop.seed.json")
        .build();
    let cwd = ws.root();
    let build = ws.shopgen(["build", "specs/shop.toml"]).run();
    assert!(build.success(), "{}", build.stderr);

    let db = format!("sqlite://{}", cwd.join("shop.db").display());
    let up = Up::spawn(
        ws.shopgen(["up", "specs/shop.toml", "--api-key", API_KEY])
            .args(["--seed", "specs/shop.seed.json", "--database-url", &db]),
        None,
    );
    let gateway = up.gateway;

    let mut browser = Browser::start(&chromium);
    let api = format!("http://127.0.0.1:{gateway}");
    let products = format!("{api}/products");
    let query = format!("?api={api}&key={API_KEY}");
    let seeded: Vec<Value> = {
        let seed: Value = serde_json::from_str(
            &std::fs::read_to_string(cwd.join("specs/shop.seed.json")).expect("seed"),
        )
        .expect("seed JSON");
        seed["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| p["title"].clone())
            .collect()
    };

    // 1. The allowed origin gets the product list and can read the tag.
    let first = browser.load(&format!("{allowed_origin}/page.html{query}"));
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["status"], 200, "{first}");
    assert_eq!(first["titles"].as_array().expect("titles"), &seeded);
    let etag = first["etag"]
        .as_str()
        .expect("the ETag is exposed to the page");
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    // 2. Another origin: the preflight is refused, so fetch fails in the browser.
    let refused = browser.load(&format!("{other_origin}/page.html{query}"));
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("TypeError")),
        "{refused}"
    );

    // 3. A second load of the allowed page revalidates: If-None-Match on the wire, 304
    //    from the backend, 200 with the same list for the page.
    let from = browser.events.len();
    let second = browser.load(&format!("{allowed_origin}/page.html{query}"));
    assert_eq!(second["ok"], true, "{second}");
    assert_eq!(second["status"], 200, "{second}");
    assert_eq!(second["titles"], first["titles"]);
    assert_eq!(second["etag"], first["etag"]);
    let sent = browser.sent_headers(&products, from);
    assert!(
        sent.iter()
            .any(|h| h.get("if-none-match").map(String::as_str) == Some(etag)),
        "the second load sends If-None-Match: {etag}; sent {sent:?}"
    );

    // What each hop saw (the logs arrive through pipes: wait for them, boundedly).
    let started = Instant::now();
    while log(&up, "relay")
        .iter()
        .filter(|l| l.get("preflight").is_some())
        .count()
        < 2
        || backend_requests(&up)
            .iter()
            .filter(|(_, p, _)| p == "/products")
            .count()
            < 2
    {
        if started.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let backend = backend_requests(&up);
    assert!(
        backend.iter().all(|(method, _, _)| method != "OPTIONS"),
        "a preflight reached the backend: {backend:?}"
    );
    let lists: Vec<u64> = backend
        .iter()
        .filter(|(m, p, _)| m == "GET" && p == "/products")
        .map(|(_, _, s)| *s)
        .collect();
    assert_eq!(
        lists,
        [200, 304],
        "the first load gets the body, the second a 304 (the refused origin never calls)"
    );
    let gateway_options: Vec<(String, u64)> = log(&up, "gateway")
        .iter()
        .filter(|l| l["method"] == "OPTIONS")
        .map(|l| {
            (
                l["operation"].as_str().unwrap_or_default().to_string(),
                l["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        gateway_options,
        [
            ("preflightListProducts".to_string(), 204),
            ("preflightListProducts".to_string(), 403)
        ],
        "both preflights went through the gateway, keyless, once each (the browser caches \
         the allowed one for max_age)"
    );
    let relay = log(&up, "relay");
    let preflights: Vec<(String, String)> = relay
        .iter()
        .filter_map(|l| {
            Some((
                l["preflight"].as_str()?.to_string(),
                l["status"].to_string(),
            ))
        })
        .collect();
    assert!(
        preflights.iter().any(|(o, s)| o == "allowed" && s == "204"),
        "the relay answered the allowed origin's preflight: {preflights:?}"
    );
    assert!(
        preflights.iter().any(|(o, s)| o != "allowed" && s == "403"),
        "the relay refused the other origin's preflight: {preflights:?}"
    );
    drop(browser);
    drop(up);
}
