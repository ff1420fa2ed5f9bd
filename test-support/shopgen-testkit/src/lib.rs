//! Test support shared by shopgen's test suites (a dev-dependency only).
//!
//! - [`Postgres`]: a throwaway PostgreSQL cluster (`initdb` into a temp dir, random
//!   port, as the `postgres` user when running as root), stopped on drop; either one
//!   per caller ([`Postgres::start`]) or one shared by the tests of a test binary
//!   ([`Postgres::shared`]), each test getting its own database
//!   ([`Postgres::fresh_database`]). `SHOPGEN_TEST_POSTGRES_URL` points the tests at an
//!   existing server instead.
//! - [`Postgres::start_tls`]: the same with `ssl = on` and TCP clients admitted over
//!   TLS only (`hostssl` in `pg_hba.conf`), its server certificate issued by a
//!   throwaway CA made with `openssl` ([`Postgres::ca_cert`]).
//! - [`free_port`]: a loopback port nobody listens on.
//! - [`tokens`]: signing keys for end-user JWTs, their JWKS, and tokens they sign.

pub mod tokens;

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
    tls: Option<Tls>,
    /// The server's options but its port (`pg_ctl start -o`), to start it again after
    /// a stop.
    options: String,
}

/// The certificate files of a TLS-only cluster.
struct Tls {
    ca_cert: PathBuf,
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
                tls: None,
                options: String::new(),
            };
        }
        Postgres::start_local(false)
    }

    /// Starts a cluster of its own even when `SHOPGEN_TEST_POSTGRES_URL` is set: for
    /// tests that stop and start the server ([`Postgres::server_stop`]).
    pub fn start_own() -> Postgres {
        Postgres::start_local(false)
    }

    /// Starts a cluster of its own that TCP clients reach over TLS only: `ssl = on`
    /// with a server certificate for `localhost` and `127.0.0.1` issued by a
    /// throwaway CA ([`Postgres::ca_cert`]), and a `pg_hba.conf` whose only TCP entry
    /// is `hostssl`, so a plain connection is refused. (Never the external server of
    /// `SHOPGEN_TEST_POSTGRES_URL`: its TLS setup is unknown.) Needs `openssl`.
    pub fn start_tls() -> Postgres {
        Postgres::start_local(true)
    }

    /// The CA certificate (PEM) that issued the server certificate of a
    /// [`Postgres::start_tls`] cluster: `sslrootcert` for `verify-ca`/`verify-full`.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_cert.as_path())
    }

    fn start_local(tls: bool) -> Postgres {
        let (Some(initdb), Some(_)) = (pg_bin("initdb"), pg_bin("pg_ctl")) else {
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
        let mut pg = Postgres {
            dir: Some(dir),
            port,
            external: None,
            as_postgres_user: root,
            tls: None,
            options: String::new(),
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
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            path_str(&run)
        );
        if tls {
            let dir = pg.dir.as_ref().expect("own cluster").path().join("tls");
            let files = make_certificates(&dir);
            if root {
                // The server reads its key as the postgres user, which must own it.
                run_ok(
                    Command::new("chown")
                        .arg("-R")
                        .arg("postgres:postgres")
                        .arg(&dir),
                );
            }
            // Local (socket) connections for the harness's own psql; TCP over TLS only.
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            )
            .expect("pg_hba.conf");
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                path_str(&files.server_cert),
                path_str(&files.server_key)
            ));
            pg.tls = Some(Tls {
                ca_cert: files.ca_cert,
            });
        }
        pg.options = options;
        // The port was free when it was picked, but another test's process may take it
        // before the server binds it: then the server does not start, and another port
        // is tried.
        for attempt in 1.. {
            match pg.try_server_start() {
                Ok(()) => break,
                Err(why) if attempt < 3 => {
                    eprintln!("PostgreSQL did not start on port {}: {why}", pg.port);
                    pg.port = free_port();
                }
                Err(why) => panic!("PostgreSQL did not start: {why}"),
            }
        }
        pg
    }

    /// Stops the server (`pg_ctl stop -m fast`: open connections are closed), as an
    /// outage would. Only for a cluster of its own.
    pub fn server_stop(&self) {
        let (data, _) = self.own_paths();
        let pg_ctl = pg_bin("pg_ctl").expect("pg_ctl");
        run_ok(
            self.command(&pg_ctl)
                .args(["-D", path_str(&data), "-m", "fast", "-w", "stop"]),
        );
    }

    /// Starts the server again on the same port, with the same data (after
    /// [`Postgres::server_stop`]).
    pub fn server_start(&self) {
        if let Err(why) = self.try_server_start() {
            panic!("PostgreSQL did not start: {why}");
        }
    }

    /// `pg_ctl start` on the cluster's port; the server's log when it does not start.
    fn try_server_start(&self) -> Result<(), String> {
        let (data, run) = self.own_paths();
        let pg_ctl = pg_bin("pg_ctl").expect("pg_ctl");
        let log = run.join("log");
        let options = format!("-p {} {}", self.port, self.options);
        let out = self
            .command(&pg_ctl)
            .args(["-D", path_str(&data), "-l", path_str(&log), "-w", "-o"])
            .args([options.as_str(), "start"])
            .output()
            .expect("run pg_ctl");
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// The data and run folders of a cluster of its own.
    fn own_paths(&self) -> (PathBuf, PathBuf) {
        let dir = self
            .dir
            .as_ref()
            .expect("a cluster of its own (not SHOPGEN_TEST_POSTGRES_URL)")
            .path();
        (dir.join("data"), dir.join("run"))
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

/// The files [`make_certificates`] writes.
struct CertFiles {
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

/// A throwaway CA (self-signed) and a server certificate it issues for `localhost`
/// and `127.0.0.1` (P-256 keys, valid two days), written into `dir` with `openssl`.
/// The server certificate is a leaf (`CA:FALSE`, `serverAuth`): rustls refuses a CA
/// certificate presented as a server's.
fn make_certificates(dir: &Path) -> CertFiles {
    std::fs::create_dir_all(dir).expect("tls dir");
    let f = |name: &str| dir.join(name);
    let openssl = || {
        let mut c = Command::new("openssl");
        c.current_dir(dir);
        c
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run_ok(openssl().args(["req", "-x509"]).args(ec).args([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=shopgen test CA",
    ]));
    run_ok(openssl().args(["req"]).args(ec).args([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]));
    std::fs::write(
        f("server.ext"),
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost, IP:127.0.0.1\n",
    )
    .expect("server.ext");
    run_ok(openssl().args([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]));
    use std::os::unix::fs::PermissionsExt;
    // PostgreSQL refuses a key that others can read.
    std::fs::set_permissions(f("server.key"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod server.key");
    CertFiles {
        ca_cert: f("ca.crt"),
        server_cert: f("server.crt"),
        server_key: f("server.key"),
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
