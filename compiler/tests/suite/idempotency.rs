//! `Idempotency-Key` on the generated creates (the backend runtime's `idempotency`):
//! the reference backend, a real process on loopback, on a SQLite file and on
//! PostgreSQL. Through the local gateway and the relay, keys are tried in the store's
//! wishlists scenario (`e2e_ownership`).

use std::process::{Child, Command, Stdio};

use shopgen_testkit::Postgres;

use crate::support::chain;
use crate::support::tool::run_ok;
use crate::support::up::free_port;
use crate::support::{Answer, http};

/// A running reference backend, killed on drop.
struct Backend {
    child: Child,
    port: u16,
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(database_url: &str) -> Backend {
    let binaries = chain::reference_binaries();
    let port = free_port();
    let child = Command::new(&binaries.backend)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", database_url)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the backend");
    chain::wait_listening(port, "the backend");
    Backend { child, port }
}

fn post(port: u16, path: &str, key: Option<&str>, body: &str) -> Answer {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    http("POST", port, path, &headers, Some(body))
}

fn count(port: u16, path: &str, list: &str) -> usize {
    let answer = http("GET", port, path, &[], None);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()[list].as_array().map_or(0, Vec::len)
}

/// What every engine must do with keys, on a backend with no rows yet.
fn keys_make_creates_safe_to_send_again(port: u16) {
    let product = r#"{"title":"Veranda Symphony","price":"83.84"}"#;
    let first = post(port, "/products", Some("order-1"), product);
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("idempotent-replayed"), None);
    // Sent again (the answer was lost, say): nothing is written, the same row answers.
    let again = post(port, "/products", Some("order-1"), product);
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(count(port, "/products", "products"), 1);

    // The same key with another body: refused, nothing written.
    let other = post(
        port,
        "/products",
        Some("order-1"),
        r#"{"title":"Another","price":"1.00"}"#,
    );
    assert_eq!(other.status, 422, "{other:?}");
    assert_eq!(other.json()["error"]["code"], "idempotency_key_reused");
    assert_eq!(count(port, "/products", "products"), 1);

    // Without a key, a create is a create each time.
    assert_eq!(post(port, "/products", None, product).status, 201);
    assert_eq!(count(port, "/products", "products"), 2);

    // Nested creates: concurrent requests with one key write one row, and all
    // answer it.
    let review = r#"{"name":"Ada","message":"Sent from a flaky network.","rate":4}"#;
    let start = std::sync::Arc::new(std::sync::Barrier::new(8));
    let answers: Vec<Answer> = (0..8)
        .map(|_| {
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                post(port, "/products/1/reviews", Some("r-1"), review)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("request"))
        .collect();
    for answer in &answers {
        assert_eq!(answer.status, 201, "{answer:?}");
        assert_eq!(answer.json(), answers[0].json());
    }
    let replayed = answers
        .iter()
        .filter(|a| a.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 7, "one create, seven repeats");
    assert_eq!(count(port, "/products/1/reviews", "reviews"), 1);

    // A key is the request's, path included: the same key and body under another
    // product is another request.
    let elsewhere = post(port, "/products/2/reviews", Some("r-1"), review);
    assert_eq!(elsewhere.status, 422, "{elsewhere:?}");
    // A nested create under a missing parent is still 404, and writes no key.
    let missing = post(port, "/products/99/reviews", Some("r-2"), review);
    assert_eq!(missing.status, 404, "{missing:?}");
    let invalid = post(port, "/products/1/reviews", Some("r-3"), r#"{"rate":9}"#);
    assert_eq!(invalid.status, 422, "{invalid:?}");
    assert_eq!(invalid.json()["error"]["code"], "invalid");
    // The key of a refused request stays free.
    assert_eq!(
        post(port, "/products/1/reviews", Some("r-3"), review).status,
        201
    );

    // A repeat of a create whose row was deleted since: 404, not marked a repeat.
    let gone = post(port, "/products", Some("gone"), product);
    assert_eq!(gone.status, 201, "{gone:?}");
    // The reference product's JSON has no `id`; its `Location` names it.
    let path = gone.header("location").expect("location").to_string();
    assert_eq!(http("DELETE", port, &path, &[], None).status, 204);
    let again = post(port, "/products", Some("gone"), product);
    assert_eq!(again.status, 404, "{again:?}");
    assert_eq!(again.header("idempotent-replayed"), None);

    // Unusable keys.
    for bad in ["", "with space", &"k".repeat(256)] {
        let answer = post(port, "/products", Some(bad), product);
        assert_eq!(answer.status, 400, "{bad:?}: {answer:?}");
        assert_eq!(answer.json()["error"]["code"], "invalid_idempotency_key");
    }
    // A route that is no create never looks at the header.
    let elsewhere = post(port, "/no-such-route", Some("with space"), product);
    assert_eq!(elsewhere.status, 404, "{elsewhere:?}");
    // The body is read as without a key: over the limit is 413.
    let large = format!(r#"{{"title":"{}","price":"1.00"}}"#, "x".repeat(2 << 20));
    let answer = post(port, "/products", Some("large"), &large);
    assert_eq!(answer.status, 413, "{answer:?}");
}

#[test]
fn a_create_sent_again_with_its_key_is_written_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = start(&format!(
        "sqlite://{}",
        dir.path().join("shop.db").display()
    ));
    keys_make_creates_safe_to_send_again(backend.port);
}

#[test]
fn a_create_sent_again_with_its_key_is_written_once_on_postgres() {
    let pg = Postgres::shared();
    let url = pg.fresh_database();
    let backend = start(&url);
    keys_make_creates_safe_to_send_again(backend.port);

    // A key a day old is forgotten: the same request creates again.
    let product = r#"{"title":"Veranda Symphony","price":"83.84"}"#;
    let before = count(backend.port, "/products", "products");
    run_ok(Command::new("psql").args([
        url.as_str(),
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-c",
        "UPDATE shopgen_idempotency_keys SET created_at = created_at - 86401 \
         WHERE key = 'order-1'",
    ]));
    let later = post(backend.port, "/products", Some("order-1"), product);
    assert_eq!(later.status, 201, "{later:?}");
    assert_eq!(later.header("idempotent-replayed"), None);
    assert_eq!(count(backend.port, "/products", "products"), before + 1);
    let again = post(backend.port, "/products", Some("order-1"), product);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), later.json());
}
