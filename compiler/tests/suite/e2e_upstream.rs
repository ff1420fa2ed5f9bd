//! End-to-end: an existing service shopgen did not generate, behind the local API
//! Gateway emulator and the generated relay (`shopgen up specs/legacy.toml --upstream
//! URL`).
//!
//! The upstream is a small Python HTTP server (`python3`, standard library only)
//! written by the test: it serves the reference document's shape with its own caching
//! headers, answers the spec's `health_path`, and records every request it receives
//! (method, target, every header as received) in a file the test reads. So the test
//! sees what a service in another language sees: the bytes the client gets back, and
//! the headers the relay hands over.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::chain::wait_listening;
use crate::support::run::shopgen_exe;
use crate::support::up::{Up, free_port};
use crate::support::{http, shopgen};

/// The upstream's answer to `GET /api/v1/products`, byte for byte.
const PRODUCTS: &str = r#"{"products":[{"title":"Veranda Symphony","price":"83.84","reviews":[{"name":"Edsger Dijkstra","message":"Too bitter for me.","rate":2}]}]}"#;
/// Its caching headers.
const ETAG: &str = "\"products-v1-5f2a\"";
const CACHE_CONTROL: &str = "public, max-age=60";

/// The Python service: `python3 upstream.py LOG` prints `PORT <n>` once it listens.
const UPSTREAM_PY: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
PRODUCTS = sys.argv[2].encode()
ETAG = sys.argv[3]
CACHE_CONTROL = sys.argv[4]

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "target": self.path,
                                "headers": [[k, v] for k, v in self.headers.items()],
                                "body": body}) + "\n")

    def do_GET(self):
        if self.path == "/up":
            return self.answer(200, b'{"status":"up"}')
        self.record()
        path = self.path.split("?")[0]
        if path == "/api/v1/products":
            return self.answer(200, PRODUCTS, [("ETag", ETAG), ("Cache-Control", CACHE_CONTROL),
                                               ("X-Served-By", "rails-stand-in")])
        parts = path.split("/")
        if len(parts) == 6 and parts[1:4] == ["api", "v1", "products"] and parts[5] == "reviews":
            body = json.dumps({"product_id": int(parts[4]), "reviews": []}).encode()
            return self.answer(200, body, [("Cache-Control", "no-store")])
        self.answer(404, b'{"error":"not found"}')

    def do_POST(self):
        self.record()
        self.answer(201, b'{"id":1}')

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A request the Python service received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Received {
    /// Every value of header `name` (any case), in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The Python service, stopped when dropped.
struct PythonUpstream {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl PythonUpstream {
    fn start() -> PythonUpstream {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("upstream.py");
        std::fs::write(&script, UPSTREAM_PY).expect("write the script");
        let log = dir.path().join("requests.jsonl");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&log)
            .args([PRODUCTS, ETAG, CACHE_CONTROL])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (it is on every machine shopgen's CI uses)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the upstream's first line");
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the upstream printed {line:?}"));
        PythonUpstream {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in order.
    fn received(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                Received {
                    method: v["method"].as_str().unwrap_or_default().to_string(),
                    target: v["target"].as_str().unwrap_or_default().to_string(),
                    headers: v["headers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|h| {
                            (
                                h[0].as_str().unwrap_or_default().to_string(),
                                h[1].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// The last request received, waiting briefly for the service's log write.
    fn last(&self, count_before: usize) -> Received {
        let started = Instant::now();
        loop {
            let all = self.received();
            if all.len() > count_before {
                return all[all.len() - 1].clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the upstream received nothing new"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for PythonUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The legacy relay on its own, in front of `upstream_port`, with `env` added.
fn start_relay(exe: &Path, upstream_port: u16, env: &[(&str, &str)]) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(exe)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("UPSTREAM_URL", format!("http://127.0.0.1:{upstream_port}"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the relay");
    wait_listening(port, "the relay");
    (child, port)
}

#[test]
fn an_existing_python_service_behind_the_gateway_and_the_relay() {
    let mut upstream = PythonUpstream::start();
    let up = Up::spawn_upstream(shopgen([
        "up",
        "specs/legacy.toml",
        "--upstream",
        &upstream.url(),
        "--api-key",
        "k-legacy",
    ]));
    let key = ("x-api-key", "k-legacy");

    // The public route with the key: the upstream's bytes and caching headers, unchanged.
    let a = http("GET", up.gateway, "/api/v1/products", &[key], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, PRODUCTS);
    assert_eq!(a.header("etag"), Some(ETAG));
    assert_eq!(a.header("cache-control"), Some(CACHE_CONTROL));
    assert_eq!(a.header("x-served-by"), Some("rails-stand-in"));
    assert_eq!(
        a.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(a.header("x-request-id").is_some(), "{a:?}");

    // Without the key, or with a wrong one: the gateway's answers; nothing reaches it.
    let before = upstream.received().len();
    let a = http("GET", up.gateway, "/api/v1/products", &[], None);
    assert_eq!(a.status, 401, "{a:?}");
    let a = http(
        "GET",
        up.gateway,
        "/api/v1/products",
        &[("x-api-key", "nope")],
        None,
    );
    assert_eq!(a.status, 400, "{a:?}");

    // An internal route: the gateway does not list it, the relay refuses it.
    let body = r#"{"name":"Sneaky","message":"hi","rate":5}"#;
    let a = http(
        "POST",
        up.gateway,
        "/api/v1/products/42/reviews",
        &[key],
        Some(body),
    );
    assert!(matches!(a.status, 404 | 405), "{a:?}");
    let a = http(
        "POST",
        up.relay,
        "/api/v1/products/42/reviews",
        &[],
        Some(body),
    );
    assert_eq!(a.status, 404, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "not_found");

    // Path tricks: refused by the relay as for a generated backend (never normalised),
    // and the upstream's own spelling is matched exactly (`/API/...` is not a route).
    // The gateway (like ESPv2) may resolve dot segments first; whatever it forwards,
    // the upstream gets nothing but a public route's path.
    for (target, status) in [
        ("/api/v1/products/%2e%2e/reviews", 400),
        ("/api/v1/products/42/../../products", 400),
        ("/api/v1//products", 400),
        ("/api/v1/products%2F42/reviews", 400),
        ("/API/v1/products", 404),
        ("/api/v1/products/", 404),
        ("/up", 404),
    ] {
        let a = http("GET", up.relay, target, &[], None);
        assert_eq!(a.status, status, "GET {target} on the relay: {a:?}");
        let a = http("GET", up.gateway, target, &[key], None);
        assert!(
            matches!(a.status, 400 | 404) || (a.status == 200 && a.body == PRODUCTS),
            "GET {target} through the gateway: {a:?}"
        );
    }
    let reached: Vec<Received> = upstream.received().split_off(before);
    assert!(
        reached
            .iter()
            .all(|r| r.method == "GET" && r.target == "/api/v1/products"),
        "a path trick reached the upstream: {reached:?}"
    );
    let before = upstream.received().len();

    // What the upstream sees: the relay's headers (request id, forwarded-for), the
    // client's own Authorization (`forward_authorization = true` in the spec), and none
    // of the API key, the gateway's token, hop-by-hop or proxy headers.
    let a = http(
        "GET",
        up.gateway,
        "/api/v1/products/42/reviews",
        &[
            key,
            ("Authorization", "Bearer user-token-1"),
            ("X-Request-Id", "legacy-trace-7"),
            ("Connection", "close, X-Hop"),
            ("X-Hop", "secret"),
            ("Proxy-Authorization", "Basic cHJveHk6cHc="),
        ],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, r#"{"product_id": 42, "reviews": []}"#);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let got = upstream.last(before);
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("GET", "/api/v1/products/42/reviews")
    );
    assert_eq!(got.all("authorization"), ["Bearer user-token-1"], "{got:?}");
    assert_eq!(got.all("x-request-id"), ["legacy-trace-7"], "{got:?}");
    let xff = got.all("x-forwarded-for");
    assert!(xff.len() == 1 && xff[0].ends_with("127.0.0.1"), "{got:?}");
    for absent in [
        "x-api-key",
        "x-forwarded-authorization",
        "x-hop",
        "proxy-authorization",
        "x-apigateway-api-userinfo",
    ] {
        assert!(
            got.all(absent).is_empty(),
            "{absent} reached the upstream: {got:?}"
        );
    }
    assert!(
        !got.headers.iter().any(|(_, v)| v.contains("k-legacy")),
        "the API key reached the upstream: {got:?}"
    );

    // No client Authorization: none reaches the upstream (never the gateway's token).
    let before = upstream.received().len();
    let a = http("GET", up.gateway, "/api/v1/products?page=2", &[key], None);
    assert_eq!(a.status, 200, "{a:?}");
    let got = upstream.last(before);
    assert_eq!(got.target, "/api/v1/products?page=2");
    assert!(got.all("authorization").is_empty(), "{got:?}");

    // SIGTERM stops the gateway and the relay; the upstream is the user's and runs on.
    up.stop();
    assert!(upstream.alive(), "shopgen up stopped the user's service");
}

/// `forward_authorization` off (the relay's default) and on with an ambiguous header:
/// the generated relay of specs/legacy.toml, as `shopgen up` built it, called the way
/// API Gateway calls it (its own token in `Authorization`, the client's moved to
/// `X-Forwarded-Authorization`).
#[test]
fn the_clients_authorization_reaches_the_upstream_only_when_the_spec_says_so() {
    let status = crate::support::cargo_in(&crate::support::repo())
        .args(["build", "-p", "legacy-relay"])
        .status()
        .expect("cargo build");
    assert!(status.success());
    let relay_exe = shopgen_exe().with_file_name("legacy-relay");
    let upstream = PythonUpstream::start();
    let gateway_like = [
        ("Authorization", "Bearer gateway-signed-id-token"),
        ("X-Forwarded-Authorization", "Bearer user-token-2"),
    ];

    // Off: neither the gateway's token nor the client's reaches the upstream.
    let (mut relay, port) = start_relay(&relay_exe, upstream.port, &[]);
    let before = upstream.received().len();
    let a = http("GET", port, "/api/v1/products", &gateway_like, None);
    assert_eq!(a.status, 200, "{a:?}");
    let got = upstream.last(before);
    assert!(got.all("authorization").is_empty(), "{got:?}");
    assert!(got.all("x-forwarded-authorization").is_empty(), "{got:?}");
    let _ = relay.kill();
    let _ = relay.wait();

    // On: the client's credential as `Authorization`, once; two copies of
    // `X-Forwarded-Authorization` (which one the gateway wrote cannot be told): none.
    let (mut relay, port) = start_relay(
        &relay_exe,
        upstream.port,
        &[("FORWARD_AUTHORIZATION", "true")],
    );
    let before = upstream.received().len();
    let a = http("GET", port, "/api/v1/products", &gateway_like, None);
    assert_eq!(a.status, 200, "{a:?}");
    let got = upstream.last(before);
    assert_eq!(got.all("authorization"), ["Bearer user-token-2"], "{got:?}");
    assert!(got.all("x-forwarded-authorization").is_empty(), "{got:?}");
    let before = upstream.received().len();
    let a = http(
        "GET",
        port,
        "/api/v1/products",
        &[
            gateway_like[0],
            ("X-Forwarded-Authorization", "Bearer forged"),
            gateway_like[1],
        ],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let got = upstream.last(before);
    assert!(got.all("authorization").is_empty(), "{got:?}");
    assert!(got.all("x-forwarded-authorization").is_empty(), "{got:?}");
    let _ = relay.kill();
    let _ = relay.wait();
}
