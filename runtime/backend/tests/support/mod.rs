//! Helpers for the tests that run the generated shop backend as a real process.
//!
//! - [`binary`]: the built `shop-backend` next to this test executable
//!   (`cargo build --workspace` builds it; a clear failure when it is missing);
//! - [`Server`]: the backend on a free loopback port, killed on drop, its log kept;
//! - [`Postgres`]: a throwaway PostgreSQL cluster (`initdb` into a temp dir, random
//!   port, as the `postgres` user when running as root), shared by the tests of one
//!   test binary and stopped when the last one is done; each test gets its own
//!   database. `SHOPGEN_TEST_POSTGRES_URL` points the tests at an existing server
//!   instead.

#![allow(dead_code)]

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
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

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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

/// A throwaway PostgreSQL cluster.
pub struct Postgres {
    dir: Option<tempfile::TempDir>,
    pub port: u16,
    external: Option<String>,
    as_postgres_user: bool,
}

static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
static DATABASES: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `initdb` and friends: on PATH, or in Debian's versioned directory.
fn pg_bin(name: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.exists() {
                return Some(p);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop()
}

impl Postgres {
    /// The cluster shared by this test binary, started on first use.
    pub fn shared() -> Arc<Postgres> {
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pg) = slot.upgrade() {
            return pg;
        }
        let pg = Arc::new(Postgres::start());
        *slot = Arc::downgrade(&pg);
        pg
    }

    fn start() -> Postgres {
        if let Ok(url) = std::env::var("SHOPGEN_TEST_POSTGRES_URL") {
            return Postgres {
                dir: None,
                port: 0,
                external: Some(url),
                as_postgres_user: false,
            };
        }
        let (Some(initdb), Some(pg_ctl)) = (pg_bin("initdb"), pg_bin("pg_ctl")) else {
            panic!(
                "\n\nPostgreSQL server binaries (initdb, pg_ctl) are not installed: \
                 `apt-get install -y postgresql` (or set SHOPGEN_TEST_POSTGRES_URL).\n"
            );
        };
        let root = is_root();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let run = dir.path().join("run");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::create_dir_all(&run).expect("run dir");
        if root {
            // The postgres user must be able to enter the directory and own data/run.
            run_ok(Command::new("chmod").arg("755").arg(dir.path()));
            run_ok(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&data)
                    .arg(&run),
            );
        }
        let port = free_port();
        let pg = Postgres {
            dir: Some(dir),
            port,
            external: None,
            as_postgres_user: root,
        };
        run_ok(pg.command(&initdb).args([
            "-D",
            path_str(&data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        ]));
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            path_str(&run)
        );
        run_ok(pg.command(&pg_ctl).args([
            "-D",
            path_str(&data),
            "-l",
            path_str(&run.join("log")),
            "-w",
            "-o",
            &options,
            "start",
        ]));
        pg
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn admin_url(&self) -> String {
        match &self.external {
            Some(url) => url.clone(),
            None => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
        }
    }

    /// A new, empty database in the cluster; its URL.
    pub fn fresh_database(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("shop_test_{}_{n}", std::process::id());
        let admin = self.admin_url();
        run_ok(Command::new("psql").args([
            admin.as_str(),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ]));
        match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("bad admin url {admin}"),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let (Some(dir), Some(pg_ctl)) = (&self.dir, pg_bin("pg_ctl")) {
            let data = dir.path().join("data");
            let _ = self
                .command(&pg_ctl)
                .args(["-D", path_str(&data), "-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
