//! `shopgen init` end to end: the starter spec it writes builds, passes `check`, and
//! serves through `shopgen up`, with requests through the local gateway.
//!
//! The starter lives in a scratch workspace that links this repository's runtime
//! crates (with this workspace's lock file and target directory, so dependencies are
//! reused), laid out like a user's checkout: `specs/`, `generated/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a first `cargo build` of the generated crates may take on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(1500);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn shopgen(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shopgen"));
    c.current_dir(cwd);
    c
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// A workspace whose members are the generated crates under `generated/`, with this
/// repository's `[workspace.package]` and `[workspace.dependencies]` (path
/// dependencies made absolute).
fn scratch_workspace() -> tempfile::TempDir {
    let root = repo();
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut ws = manifest["workspace"].as_table().unwrap().clone();
    ws.insert(
        "members".into(),
        toml::Value::Array(vec![
            "generated/*/backend".into(),
            "generated/*/relay".into(),
        ]),
    );
    ws.remove("exclude");
    let deps = ws
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
        .unwrap();
    for (_, dep) in deps.iter_mut() {
        if let Some(path) = dep.get_mut("path") {
            let abs = root.join(path.as_str().unwrap());
            *path = toml::Value::String(abs.display().to_string());
        }
    }
    let mut top = toml::Table::new();
    top.insert("workspace".into(), toml::Value::Table(ws));
    if let Some(profile) = manifest.get("profile") {
        top.insert("profile".into(), profile.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        toml::to_string(&top).unwrap(),
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    std::fs::copy(
        root.join("rust-toolchain.toml"),
        dir.path().join("rust-toolchain.toml"),
    )
    .unwrap();
    dir
}

fn http(method: &str, port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        let mut out = String::new();
        let mut s = body;
        while let Some((size, rest)) = s.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || rest.len() < n {
                break;
            }
            out.push_str(&rest[..n]);
            s = rest[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    (status, body)
}

fn post_json(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw)
}

/// `shopgen up`, stopped (SIGTERM, then SIGKILL) when dropped.
struct Up {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Up {
    fn wait_for_line(&mut self, needle: &str) {
        let started = Instant::now();
        loop {
            if self
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "shopgen up exited ({status}):\n{}",
                    self.lines.lock().unwrap().join("\n")
                );
            }
            assert!(started.elapsed() < START_TIMEOUT, "no {needle:?} in time");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let pid = libc::pid_t::try_from(self.child.id()).unwrap();
            // SAFETY: `kill` has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn the_starter_spec_builds_checks_and_serves_through_the_local_gateway() {
    let ws = scratch_workspace();
    let cwd = ws.path();

    let init = shopgen(cwd)
        .args([
            "init",
            "inventory",
            "--gcp-project",
            "acme-inventory",
            "--region",
            "europe-west1",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&init.stderr).into_owned();
    assert!(init.status.success(), "{said}");
    assert!(
        said.contains("cargo run -p shopgen -- build specs/inventory.toml"),
        "{said}"
    );
    assert!(
        said.contains("cargo run -p shopgen --features up -- up specs/inventory.toml"),
        "{said}"
    );
    let spec = std::fs::read_to_string(cwd.join("specs/inventory.toml")).unwrap();
    assert!(spec.contains("project = \"acme-inventory\""), "{spec}");
    assert!(spec.contains("region = \"europe-west1\""), "{spec}");

    // It refuses to overwrite.
    std::fs::write(cwd.join("specs/inventory.toml"), "# mine\n").unwrap();
    let again = shopgen(cwd).args(["init", "inventory"]).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(cwd.join("specs/inventory.toml")).unwrap(),
        "# mine\n"
    );
    std::fs::write(cwd.join("specs/inventory.toml"), &spec).unwrap();

    let build = shopgen(cwd)
        .args(["build", "specs/inventory.toml"])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let check = shopgen(cwd)
        .args(["check", "specs/inventory.toml"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let (gateway, relay, backend) = (free_port(), free_port(), free_port());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let mut child = shopgen(cwd)
        .args(["up", "specs/inventory.toml", "--api-key", "k1"])
        .args(["--gateway-port", &gateway.to_string()])
        .args(["--relay-port", &relay.to_string()])
        .args(["--backend-port", &backend.to_string()])
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("SHOPGEN_API_KEYS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("[up] {line}");
                lines.lock().unwrap().push(line);
            }
        });
    }
    let mut up = Up { child, lines };
    up.wait_for_line("Ctrl-C stops all three.");

    // Create through the internal API (inside the cluster), read through the gateway.
    let (status, raw) = post_json(
        backend,
        "/items",
        r#"{"name":"Lantern","description":"Brass, 30 cm"}"#,
    );
    assert_eq!(status, 201, "{raw}");
    let (status, body) = http("GET", gateway, "/items", &[("X-API-KEY", "k1")]);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["items"][0]["name"], "Lantern", "{body}");
    assert_eq!(json["items"][0]["description"], "Brass, 30 cm", "{body}");
    // No key: 401. Internal routes are not reachable through the gateway.
    assert_eq!(http("GET", gateway, "/items", &[]).0, 401);
    let (status, _) = http("GET", gateway, "/items/1", &[("X-API-KEY", "k1")]);
    assert!(
        matches!(status, 404 | 405),
        "GET /items/1 through the gateway: {status}"
    );
    let (status, _) = http("POST", gateway, "/items", &[("X-API-KEY", "k1")]);
    assert!(
        matches!(status, 404 | 405),
        "POST /items through the gateway: {status}"
    );
    drop(up);
}
