//! Conditional GETs against the real `shop-backend` process, on a SQLite file and on
//! PostgreSQL: a strong `ETag` on list and get answers, `304` with no body for a
//! matching `If-None-Match`, a different tag after a write, the same tag for the same
//! bytes on both engines, and `Cache-Control` (`no-store` unless `CACHE_CONTROL_ROUTES`
//! names the route).

use crate::support::{Http, Postgres, Server};
use serde_json::json;

fn conditional_gets(server: &Server) -> Vec<String> {
    let http = Http::default();
    let created = http.json(
        "POST",
        &server.url("/products"),
        &json!({"title": "Veranda Symphony", "price": "83.84"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("etag"), None, "only GET answers carry a tag");
    assert_eq!(created.header("cache-control").as_deref(), Some("no-store"));
    let mut tags = Vec::new();
    for path in ["/products", "/products/1"] {
        let first = http.get(&server.url(path));
        assert_eq!(first.status, 200);
        let tag = first.header("etag").expect("ETag");
        assert!(
            tag.len() == 34 && tag.starts_with('"') && tag.ends_with('"'),
            "a strong tag: {tag}"
        );
        assert_eq!(first.header("cache-control").as_deref(), Some("no-store"));
        let exact = shopgen_backend_runtime::conditional::etag(first.body.as_bytes());
        assert_eq!(
            Some(tag.as_str()),
            exact.to_str().ok(),
            "the tag of the bytes"
        );
        // Same bytes, same tag (the second answer comes from the response cache).
        let again = http.get(&server.url(path));
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("etag"), Some(tag.clone()));
        // A matching If-None-Match: 304, no body, the same validators.
        for inm in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".into(),
        ] {
            let not_modified = http.send(
                "GET",
                &server.url(path),
                None,
                None,
                &[("if-none-match", &inm)],
            );
            assert_eq!(not_modified.status, 304, "{path} {inm}");
            assert!(not_modified.body.is_empty());
            assert_eq!(not_modified.header("etag"), Some(tag.clone()));
            assert_eq!(
                not_modified.header("cache-control").as_deref(),
                Some("no-store")
            );
        }
        let stale = http.send(
            "GET",
            &server.url(path),
            None,
            None,
            &[("if-none-match", "\"other\"")],
        );
        assert_eq!(stale.status, 200);
        assert_eq!(stale.body, first.body);
        tags.push(tag);
    }
    // A write changes what both routes return, so both tags change.
    let review = http.json(
        "POST",
        &server.url("/products/1/reviews"),
        &json!({"name": "Ann", "message": "Smooth", "rate": 5}),
    );
    assert_eq!(review.status, 201, "{}", review.body);
    for (path, old) in ["/products", "/products/1"].iter().zip(&tags) {
        let after = http.send(
            "GET",
            &server.url(path),
            None,
            None,
            &[("if-none-match", old)],
        );
        assert_eq!(
            after.status, 200,
            "{path}: a write must invalidate the old tag"
        );
        assert_ne!(after.header("etag").as_ref(), Some(old));
    }
    // Errors are never tagged, and never stored.
    let missing = http.get(&server.url("/products/99"));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("etag"), None);
    assert_eq!(missing.header("cache-control").as_deref(), Some("no-store"));
    tags
}

#[test]
fn etags_and_304_on_sqlite_and_postgres_agree() {
    let sqlite = Server::sqlite();
    let on_sqlite = conditional_gets(&sqlite);
    let pg = Postgres::shared();
    let postgres = Server::start(&pg.fresh_database(), &[]);
    let on_postgres = conditional_gets(&postgres);
    assert_eq!(
        on_sqlite, on_postgres,
        "the same bytes give the same tag on both engines"
    );
}

#[test]
fn cache_control_follows_the_route_policies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let server = Server::start(
        &url,
        &[(
            "CACHE_CONTROL_ROUTES",
            "/products=public, max-age=60;/products/{id}=private, max-age=0",
        )],
    );
    let http = Http::default();
    let created = http.json(
        "POST",
        &server.url("/products"),
        &json!({"title": "Veranda Symphony", "price": "83.84"}),
    );
    assert_eq!(created.header("cache-control").as_deref(), Some("no-store"));
    let list = http.get(&server.url("/products"));
    assert_eq!(
        list.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
    let one = http.get(&server.url("/products/1"));
    assert_eq!(
        one.header("cache-control").as_deref(),
        Some("private, max-age=0")
    );
    let tag = one.header("etag").expect("ETag");
    let not_modified = http.send(
        "GET",
        &server.url("/products/1"),
        None,
        None,
        &[("if-none-match", &tag)],
    );
    assert_eq!(not_modified.status, 304);
    assert_eq!(
        not_modified.header("cache-control").as_deref(),
        Some("private, max-age=0")
    );
    // Routes without a policy keep no-store.
    let reviews = http.get(&server.url("/products/1/reviews"));
    assert_eq!(reviews.status, 200);
    assert_eq!(reviews.header("cache-control").as_deref(), Some("no-store"));
}

/// Concurrent misses of one list after a write are built once and shared, and every
/// answer holds the write: the response cache coalesces the rebuild without ever
/// answering from before the write.
#[test]
fn concurrent_misses_after_a_write_share_one_build_and_all_see_the_write() {
    let pg = Postgres::shared();
    let server = Server::start(&pg.fresh_database(), &[]);
    let http = Http::default();
    for p in 1..=20 {
        let created = http.json(
            "POST",
            &server.url("/products"),
            &json!({"title": format!("Blend {p}"), "price": "9.99"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let url = server.url("/products");
    for round in 0..10 {
        let message = format!("written before round {round}");
        let review = http.json(
            "POST",
            &server.url("/products/1/reviews"),
            &json!({"name": "Ada", "message": message, "rate": 5}),
        );
        assert_eq!(review.status, 201, "{}", review.body);
        let start = std::sync::Arc::new(std::sync::Barrier::new(16));
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let (url, start) = (url.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    Http::default().get(&url)
                })
            })
            .collect();
        for reader in readers {
            let answer = reader.join().expect("reader");
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert!(
                answer.body.contains(&message),
                "round {round}: an answer without the write just acknowledged"
            );
        }
    }
    let metrics = http.get(&server.url("/metrics")).body;
    let shared = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"shopgen_response_cache_total{result="shared"} "#))
        .map_or(0.0, |n| n.trim().parse::<f64>().expect("number"));
    assert!(
        shared > 0.0,
        "no miss was answered by another request's build:\n{metrics}"
    );
}
