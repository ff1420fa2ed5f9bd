//! Test support shared by shopgen's test suites (a dev-dependency only).
//!
//! - [`Postgres`]: a throwaway PostgreSQL cluster (`initdb` into a temp dir, random
//!   port, as the `postgres` user when running as root), stopped on drop; either one
//!   per caller ([`Postgres::start`]) or one shared by the tests of a test binary
//!   ([`Postgres::shared`]), each test getting its own database
//!   ([`Postgres::fresh_database`]). `SHOPGEN_TEST_POSTGRES_URL` points the tests at an
//!   existing server instead.
//! - [`free_port`]: a loopback port nobody listens on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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
pub fn pg_bin(name: &str) -> Option<PathBuf> {
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

    /// Starts a cluster of its own (or, with `SHOPGEN_TEST_POSTGRES_URL`, uses that
    /// server); stopped on drop.
    pub fn start() -> Postgres {
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

    /// `program` run as the cluster's owner (`runuser -u postgres` when running as root).
    pub fn command(&self, program: &Path) -> Command {
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// The URL of the cluster's `postgres` database (the admin connection).
    pub fn url(&self) -> String {
        match &self.external {
            Some(url) => url.clone(),
            None => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
        }
    }

    /// A new, empty database in the cluster; its URL.
    pub fn fresh_database(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("shop_test_{}_{n}", std::process::id());
        let admin = self.url();
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

/// Runs a command; panics with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
