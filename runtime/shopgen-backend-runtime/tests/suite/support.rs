//! Helpers for the tests that run the generated shop backend as a real process.
//!
//! - [`binary`]: the built `shop-backend` next to this test executable
//!   (`cargo build --workspace` builds it; a clear failure when it is missing);
//! - [`Server`]: the backend on a free loopback port, killed on drop, its log kept;
//! - [`Postgres`], [`free_port`]: from `shopgen-testkit` (a throwaway PostgreSQL
//!   cluster shared by the tests that run at the same time, each test with its own
//!   database).

#![allow(dead_code)]

pub use shopgen_testkit::{Postgres, free_port};

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path of a binary built in this workspace's target directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "\n\n{} is missing: build the workspace first (`cargo build --workspace`), \
         then run the tests.\n",
        path.display()
    );
    path
}

/// A running `shop-backend`.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub log: PathBuf,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts the backend on a fresh SQLite file.
    pub fn sqlite() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("shop.db").display());
        let mut server = Server::start(&url, &[]);
        server._dir = Some(dir);
        server
    }

    /// Starts the backend on `database_url` with extra environment variables.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "shop-backend-test-{}-{port}.log",
            std::process::id()
        ));
        let mut server = Server {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
            database_url: database_url.to_string(),
            _dir: None,
        };
        server.spawn(env);
        server
    }

    fn spawn(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::File::create(&self.log).expect("log file");
        let mut cmd = Command::new(binary("shop-backend"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("DATABASE_URL", &self.database_url)
            .env("LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("start shop-backend"));
        self.wait_ready();
    }

    /// Starts the same server again (same port, same database) after a stop or kill.
    pub fn restart(&mut self, env: &[(&str, &str)]) {
        self.kill();
        self.spawn(env);
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("shop-backend exited early ({status}):\n{}", self.log_text());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("shop-backend did not start listening:\n{}", self.log_text());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Sends a signal (`TERM`, `KILL`) to the server process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit; its exit code (None when killed by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "shop-backend did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A blocking HTTP exchange: (status, headers, body).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A small HTTP client over a current-thread runtime, for plain `#[test]`s.
pub struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }
}

impl Http {
    pub fn send(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.rt.block_on(async {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let mut req = self.client.request(method, url);
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(body) = body {
                req = req.body(body);
            }
            let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res.text().await.expect("body");
            Reply {
                status,
                headers,
                body,
            }
        })
    }

    pub fn get(&self, url: &str) -> Reply {
        self.send("GET", url, None, None, &[])
    }

    pub fn json(&self, method: &str, url: &str, body: &serde_json::Value) -> Reply {
        self.send(
            method,
            url,
            Some("application/json"),
            Some(serde_json::to_vec(body).expect("json")),
            &[],
        )
    }

    /// `shopgen_db_queries_total` from `/metrics`.
    pub fn queries(&self, server: &Server) -> u64 {
        let text = self.get(&server.url("/metrics")).body;
        text.lines()
            .find_map(|l| l.strip_prefix("shopgen_db_queries_total "))
            .map(|n| n.trim().parse::<f64>().expect("number") as u64)
            .unwrap_or(0)
    }
}
