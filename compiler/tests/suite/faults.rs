//! Faults through the whole chain, on PostgreSQL: the local gateway in front of the
//! generated relay in front of the generated backend, each a real process (the
//! gateway in this one), with faults injected the way they happen: the PostgreSQL
//! server stopped and started again, a table held by another session, the backend
//! killed, an upstream that accepts and then sends nothing.
//!
//! The timeouts are the deadline budget the model derives (`model::budget`) for a
//! 4-second gateway deadline with a 1-second acquire budget, so every failure shows
//! within a few seconds; each test checks that whatever fails answers with its own
//! status before the hop around it gives up.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shopgen::model::budget::{self, Budget, Explicit};
use shopgen_testkit::Postgres;

use crate::support::chain::{self, API_KEY, Binaries};
use crate::support::tool::run_ok;
use crate::support::up::free_port;
use crate::support::{Answer, http};

/// The chain's budget: a 4 s gateway deadline, a 1 s database acquire budget.
fn test_budget() -> Budget {
    budget::derive(
        4_000,
        Explicit {
            database_acquire_ms: Some(1_000),
            ..Explicit::default()
        },
    )
    .expect("a budget")
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// gateway → relay → backend → PostgreSQL, with the test budget.
struct Chain {
    pg: Postgres,
    database_url: String,
    binaries: Binaries,
    budget: Budget,
    backend: Child,
    backend_port: u16,
    backend_env: Vec<(&'static str, String)>,
    relay: Child,
    gateway_port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl Chain {
    fn start(backend_env: &[(&'static str, &str)]) -> Chain {
        let binaries = chain::reference_binaries();
        let pg = Postgres::start_own();
        let database_url = pg.fresh_database();
        let budget = test_budget();
        let backend_port = free_port();
        let backend_env: Vec<(&'static str, String)> = backend_env
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        let backend = start_backend(
            &binaries.backend,
            backend_port,
            &database_url,
            &budget,
            &backend_env,
        );
        let (relay, relay_port) =
            chain::start_relay(&binaries.relay, backend_port, budget.relay_upstream_ms);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let gateway_port =
            chain::start_gateway(&runtime, relay_port, Some(ms(budget.gateway_deadline_ms)));
        Chain {
            pg,
            database_url,
            binaries,
            budget,
            backend,
            backend_port,
            backend_env,
            relay,
            gateway_port,
            _runtime: runtime,
        }
    }

    /// `GET path` through the gateway, with the key; the answer and how long it took.
    fn get(&self, path: &str) -> (Answer, Duration) {
        timed_get(self.gateway_port, path)
    }

    /// `GET path` on the backend itself.
    fn backend_get(&self, path: &str) -> Answer {
        http("GET", self.backend_port, path, &[], None)
    }

    fn psql(&self, sql: &str) {
        run_ok(Command::new("psql").args([
            self.database_url.as_str(),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ]));
    }

    fn kill_backend(&mut self) {
        let _ = self.backend.kill();
        let _ = self.backend.wait();
    }

    fn restart_backend(&mut self) {
        self.kill_backend();
        self.backend = start_backend(
            &self.binaries.backend,
            self.backend_port,
            &self.database_url,
            &self.budget,
            &self.backend_env,
        );
    }

    /// Another session holds `products` (ACCESS EXCLUSIVE) until
    /// [`Lock::release`]: every statement that reads the table waits.
    fn lock_products(&self) -> Lock {
        self.lock("products", "ACCESS EXCLUSIVE")
    }

    /// Another session holds `table` in lock `mode` (`ACCESS EXCLUSIVE`: nothing
    /// reads or writes it; `EXCLUSIVE`: reads go on, writes wait) until
    /// [`Lock::release`].
    fn lock(&self, table: &str, mode: &str) -> Lock {
        let name = format!("shopgen-fault-lock-{table}");
        // The mode as `pg_locks` names it: `AccessExclusiveLock`.
        let held: String = mode
            .split(' ')
            .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
            .chain(["Lock".to_string()])
            .collect();
        let child = Command::new("psql")
            .args([
                self.database_url.as_str(),
                "-q",
                "-c",
                &format!(
                    "SET application_name = '{name}'; BEGIN; \
                     LOCK TABLE {table} IN {mode} MODE; SELECT pg_sleep(120);"
                ),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let started = Instant::now();
        loop {
            let out = Command::new("psql")
                .args([
                    self.database_url.as_str(),
                    "-tAq",
                    "-c",
                    &format!(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                         WHERE c.relname = '{table}' AND l.mode = '{held}' \
                         AND l.granted"
                    ),
                ])
                .output()
                .expect("psql");
            if String::from_utf8_lossy(&out.stdout).trim() == "1" {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no lock");
            std::thread::sleep(Duration::from_millis(50));
        }
        Lock {
            child,
            url: self.database_url.clone(),
            name,
        }
    }

    /// How many rows `table` holds.
    fn count(&self, table: &str) -> i64 {
        let out = Command::new("psql")
            .args([
                self.database_url.as_str(),
                "-tAq",
                "-c",
                &format!("SELECT count(*) FROM {table}"),
            ])
            .output()
            .expect("psql");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a count")
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        let _ = self.backend.kill();
        let _ = self.backend.wait();
        let _ = self.relay.kill();
        let _ = self.relay.wait();
        let _ = &self.pg;
    }
}

/// A session holding a table lock.
struct Lock {
    child: Child,
    url: String,
    /// The session's `application_name`.
    name: String,
}

impl Lock {
    fn release(mut self) {
        run_ok(Command::new("psql").args([
            self.url.as_str(),
            "-q",
            "-c",
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = '{}'",
                self.name
            ),
        ]));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_backend(
    exe: &Path,
    port: u16,
    database_url: &str,
    budget: &Budget,
    extra: &[(&'static str, String)],
) -> Child {
    let mut cmd = Command::new(exe);
    cmd.env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", database_url)
        .env("REQUEST_TIMEOUT_MS", budget.backend_request_ms.to_string())
        .env(
            "DATABASE_ACQUIRE_TIMEOUT_MS",
            budget.database_acquire_ms.to_string(),
        )
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start the backend");
    chain::wait_listening(port, "the backend");
    child
}

fn timed_get(port: u16, path: &str) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = http("GET", port, path, &[("x-api-key", API_KEY)], None);
    (answer, started.elapsed())
}

/// The backend's own 503: JSON, `unavailable`, `Retry-After: 2`.
fn assert_backends_503(answer: &Answer, took: Duration, within: Duration) {
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.json()["error"]["code"], "unavailable", "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("2"), "{answer:?}");
    assert!(took < within, "took {took:?}, over {within:?}");
}

#[test]
fn a_stopped_database_answers_503_with_retry_after_then_service_resumes_without_a_restart() {
    let chain = Chain::start(&[]);
    let b = chain.budget;
    chain.psql("INSERT INTO products (title, price) VALUES ('Veranda Symphony', 83.84)");
    let (a, _) = chain.get("/products");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["products"][0]["title"], "Veranda Symphony");
    let ready = chain.backend_get("/readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["database"], "reachable");

    chain.pg.server_stop();
    // Twice: the first finds the pool's connections closed, the second none at all.
    // Each answers within one acquire budget however many statements it would run
    // (the response cache's version read, the list, the reviews), well before the
    // relay's deadline.
    for _ in 0..2 {
        let (a, took) = chain.get("/products");
        assert_backends_503(&a, took, ms(b.database_acquire_ms) + ms(b.margin_ms));
    }
    // Readiness stays: the load balancer keeps the pod, clients get the 503 above.
    let ready = chain.backend_get("/readyz");
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.json()["database"], "unreachable");

    chain.pg.server_start();
    let started = Instant::now();
    loop {
        let (a, _) = chain.get("/products");
        if a.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not served again after the database came back: {a:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The cached list is checked against the database again: a row written while
    // the backend was not looking is in the next answer.
    chain.psql("INSERT INTO products (title, price) VALUES ('Garden Sonata', 12.50)");
    let (a, _) = chain.get("/products");
    assert_eq!(a.status, 200);
    let titles: Vec<String> = a.json()["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(titles, ["Veranda Symphony", "Garden Sonata"]);
    assert_eq!(chain.backend_get("/readyz").json()["database"], "reachable");
}

#[test]
fn slow_statements_get_the_backends_503_before_the_relays_deadline_and_the_excess_never_hangs() {
    // Two connections: two requests hold them, the rest wait for one.
    let chain = Chain::start(&[("DATABASE_MAX_CONNECTIONS", "2")]);
    let b = chain.budget;
    chain.psql("INSERT INTO products (title, price) VALUES ('Veranda Symphony', 83.84)");
    let lock = chain.lock_products();
    let port = chain.gateway_port;
    // Six different lists: the response cache shares one build among identical
    // misses, so each request asks for a page of its own and needs a connection.
    let requests: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || timed_get(port, &format!("/products?limit={}", 10 + i)))
        })
        .collect();
    let answers: Vec<(Answer, Duration)> = requests
        .into_iter()
        .map(|r| r.join().expect("request thread"))
        .collect();
    lock.release();
    // Every one is the backend's 503, none the relay's 504: those that held a
    // connection by the request timeout, the others by the acquire budget.
    for (a, took) in &answers {
        assert_backends_503(a, *took, ms(b.relay_upstream_ms));
    }
    let quick = answers
        .iter()
        .filter(|(_, took)| *took < ms(b.backend_request_ms))
        .count();
    assert!(
        quick >= 1,
        "no request was refused for want of a connection: {:?}",
        answers.iter().map(|(_, t)| *t).collect::<Vec<_>>()
    );
    let (a, _) = chain.get("/products");
    assert_eq!(a.status, 200, "served again once the lock is gone: {a:?}");
}

/// A create answered 503 is never committed afterwards, so a client that sends it
/// again (as `Retry-After` invites) does not write it twice. The create gets the only
/// connection late (a list that waits for a lock on `products` holds it), then waits
/// for a lock on `reviews` (reads go on); that lock goes only after the 503. With the
/// request timeout as the statement timeout, that statement (whose timeout started
/// later than the request's) would then have finished and committed.
#[test]
fn a_create_answered_503_at_the_request_timeout_is_never_committed() {
    let chain = Chain::start(&[("DATABASE_MAX_CONNECTIONS", "1")]);
    let b = chain.budget;
    chain.psql("INSERT INTO products (title, price) VALUES ('Veranda Symphony', 83.84)");
    let products = chain.lock_products();
    let reviews = chain.lock("reviews", "EXCLUSIVE");
    let port = chain.backend_port;
    // Its answer does not matter (it may lose the connection to the create before
    // its second statement and answer 503 itself): it holds the connection until
    // `products` is free.
    let list = std::thread::spawn(move || http("GET", port, "/products?limit=11", &[], None));
    std::thread::sleep(Duration::from_millis(300));
    let review = r#"{"name":"Ada","message":"Sent once.","rate":4}"#;
    let create = std::thread::spawn(move || {
        let started = Instant::now();
        let answer = http("POST", port, "/products/1/reviews", &[], Some(review));
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    products.release();
    let (answer, took) = create.join().expect("create");
    reviews.release();
    let _ = list.join();
    assert_backends_503(&answer, took, ms(b.relay_upstream_ms));
    // Long enough for the statement to have ended either way.
    std::thread::sleep(ms(b.backend_request_ms));
    assert_eq!(
        chain.count("reviews"),
        0,
        "the create answered 503 was committed"
    );
    // Sent again, it is written once.
    let again = http("POST", port, "/products/1/reviews", &[], Some(review));
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(chain.count("reviews"), 1);
}

#[test]
fn a_backend_killed_mid_request_gives_the_relays_502_and_a_restarted_one_serves() {
    let mut chain = Chain::start(&[]);
    chain.psql("INSERT INTO products (title, price) VALUES ('Veranda Symphony', 83.84)");
    let lock = chain.lock_products();
    let port = chain.gateway_port;
    let request = std::thread::spawn(move || timed_get(port, "/products"));
    std::thread::sleep(Duration::from_millis(400));
    chain.kill_backend();
    let (a, took) = request.join().expect("request thread");
    lock.release();
    assert_eq!(a.status, 502, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "bad_gateway", "{a:?}");
    assert!(took < ms(chain.budget.relay_upstream_ms), "{took:?}");

    chain.restart_backend();
    let (a, _) = chain.get("/products");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["products"][0]["title"], "Veranda Symphony");
}

#[test]
fn an_upstream_that_sends_nothing_gives_the_relays_504_before_the_gateways_deadline() {
    let b = test_budget();
    // Accepts, reads, never answers.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let upstream_port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let binaries = chain::reference_binaries();
    let (mut relay, relay_port) =
        chain::start_relay(&binaries.relay, upstream_port, b.relay_upstream_ms);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let gateway_port = chain::start_gateway(&runtime, relay_port, Some(ms(b.gateway_deadline_ms)));
    let (a, took) = timed_get(gateway_port, "/products");
    let _ = relay.kill();
    let _ = relay.wait();
    assert_eq!(a.status, 504, "{a:?}");
    // The relay's JSON, not the gateway's "upstream request timeout".
    assert_eq!(a.json()["error"]["code"], "gateway_timeout", "{a:?}");
    assert!(
        took >= ms(b.relay_upstream_ms) && took < ms(b.gateway_deadline_ms),
        "{took:?}"
    );
}
