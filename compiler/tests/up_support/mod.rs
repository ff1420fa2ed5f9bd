//! Shared harness of the tests that run `shopgen up` as real processes on 127.0.0.1:
//! free ports, a scratch workspace that links this repository's runtime crates and
//! has its runner, one HTTP/1.1 exchange at a time over a plain socket, and [`Up`], a
//! running `shopgen up` whose printed lines are collected and which is stopped when
//! dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a first `cargo build` of the generated crates may take on a busy machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(1500);

/// The line `shopgen up` prints once all three services answer.
pub const BANNER: &str = "Ctrl-C stops all three.";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate sits in the repository")
        .to_path_buf()
}

/// The target folder builds share (`CARGO_TARGET_DIR`, else the repository's).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `shopgen` in `cwd`, building into the shared target folder without the network.
pub fn shopgen(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shopgen"));
    c.current_dir(cwd)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("SHOPGEN_API_KEYS");
    c
}

/// `shopgen up`'s runner, the package `shopgen-up`: a member of every scratch
/// workspace, at the same place as in this repository.
pub const RUNNER_MEMBER: &str = "runtime/up";

/// A workspace whose members are `members`, with this repository's
/// `[workspace.package]`, `[workspace.dependencies]` (path dependencies made
/// absolute) and profiles, lock file and toolchain: builds in it reuse the shared
/// target folder and fetch nothing.
///
/// `shopgen up` builds its runner in the workspace that holds the output folder, as
/// in a checkout of shopgen, so the workspace also has [`RUNNER_MEMBER`]: a link to
/// this repository's `runtime/up`.
pub fn scratch_workspace(members: &[&str]) -> tempfile::TempDir {
    let root = repo_root();
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("Cargo.toml parses");
    let mut ws = manifest["workspace"]
        .as_table()
        .expect("[workspace]")
        .clone();
    ws.insert(
        "members".into(),
        toml::Value::Array(
            members
                .iter()
                .chain([&RUNNER_MEMBER])
                .map(|m| (*m).into())
                .collect(),
        ),
    );
    ws.remove("exclude");
    let deps = ws
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
        .expect("[workspace.dependencies]");
    for (_, dep) in deps.iter_mut() {
        if let Some(path) = dep.get_mut("path") {
            let abs = root.join(path.as_str().expect("a path"));
            *path = toml::Value::String(abs.display().to_string());
        }
    }
    let mut top = toml::Table::new();
    top.insert("workspace".into(), toml::Value::Table(ws));
    if let Some(profile) = manifest.get("profile") {
        top.insert("profile".into(), profile.clone());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        toml::to_string(&top).expect("TOML"),
    )
    .expect("write Cargo.toml");
    for file in ["Cargo.lock", "rust-toolchain.toml"] {
        std::fs::copy(root.join(file), dir.path().join(file)).expect("copy");
    }
    let runner = dir.path().join(RUNNER_MEMBER);
    std::fs::create_dir_all(runner.parent().expect("runtime/")).expect("mkdir runtime/");
    std::os::unix::fs::symlink(root.join(RUNNER_MEMBER), &runner).expect("link runtime/up");
    dir
}

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

/// One HTTP/1.1 exchange with `Connection: close`; a body is sent as JSON.
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
        .set_read_timeout(Some(Duration::from_secs(30)))
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
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
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

pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: `kill` has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// SIGTERM to the process group led by `child`, a grace period, then SIGKILL to what
/// is left of the group; reaps `child`.
pub fn stop_group(child: &mut Child, grace: Duration) {
    let pgid = libc::pid_t::try_from(child.id()).expect("pid fits");
    if matches!(child.try_wait(), Ok(None)) {
        // SAFETY: `kill` has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < grace && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Every line a child prints (stdout and stderr), collected by reader threads and
/// echoed to the test's stderr with `tag`.
pub fn collect(child: &mut Child, tag: &'static str) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                lines.lock().expect("lock").push(line);
            }
        });
    }
    lines
}

/// A running `shopgen up` in a process group of its own, with every line it printed.
/// Dropping it stops the group (SIGTERM, then SIGKILL), so a failed test leaves
/// nothing running.
pub struct Up {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub gateway: u16,
    pub relay: u16,
    pub backend: u16,
    /// How many lines came before the banner (start-up: builds, readiness, the seed).
    pub start_up: usize,
    _keep: Option<tempfile::TempDir>,
}

impl Up {
    /// Runs `cmd` (`shopgen up …`) on three free ports and waits for the banner.
    /// `keep` (a folder holding its database, say) lives as long as the `Up`.
    pub fn spawn(mut cmd: Command, keep: Option<tempfile::TempDir>) -> Up {
        let (gateway, relay, backend) = (free_port(), free_port(), free_port());
        cmd.args(["--gateway-port", &gateway.to_string()])
            .args(["--relay-port", &relay.to_string()])
            .args(["--backend-port", &backend.to_string()])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start shopgen up");
        let lines = collect(&mut child, "up");
        let mut up = Up {
            child,
            lines,
            gateway,
            relay,
            backend,
            start_up: 0,
            _keep: keep,
        };
        up.start_up = up.wait_for(&[BANNER], START_TIMEOUT);
        up
    }

    pub fn output(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }

    /// Waits until a printed line contains every one of `needles`; its index. Panics
    /// (with the output) if `shopgen up` exits first or `timeout` passes.
    pub fn wait_for(&mut self, needles: &[&str], timeout: Duration) -> usize {
        let started = Instant::now();
        loop {
            let found = self
                .output()
                .iter()
                .position(|l| needles.iter().all(|n| l.contains(n)));
            if let Some(at) = found {
                return at;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "shopgen up exited ({status}) before printing {needles:?}:\n{}",
                    self.output().join("\n")
                );
            }
            assert!(
                started.elapsed() < timeout,
                "no line with {needles:?} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first printed line containing `needle`, waiting for it as [`Up::wait_for`].
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let at = self.wait_for(&[needle], timeout);
        self.output().swap_remove(at)
    }

    /// Waits for `shopgen up` to exit; its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                std::thread::sleep(Duration::from_millis(200));
                return status.code();
            }
            assert!(
                started.elapsed() < timeout,
                "shopgen up still running after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig` to `shopgen up` itself (not its group).
    pub fn signal(&self, sig: libc::c_int) {
        signal(self.child.id(), sig);
    }

    /// Sends `sig` to the process group `shopgen up` leads, as a terminal sends Ctrl-C
    /// (SIGINT) to its foreground group.
    pub fn signal_group(&self, sig: libc::c_int) {
        let pgid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: `kill` has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }

    /// SIGTERM; `shopgen up` must stop everything and exit 0 within a minute.
    pub fn stop(mut self) {
        self.signal(libc::SIGTERM);
        assert_eq!(
            self.wait_exit(Duration::from_secs(60)),
            Some(0),
            "shopgen up exit status after SIGTERM"
        );
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(20));
    }
}
