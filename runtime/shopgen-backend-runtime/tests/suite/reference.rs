//! The reference scenario against the real `shop-backend` process, on a SQLite file
//! and on PostgreSQL: the exact body of `GET /products`, the same bytes on both;
//! embedded relations in a constant number of queries (and one for a cached repeat); paging by `Link` headers.

use crate::support::{Http, Postgres, Server};
use serde_json::json;

const EXPECTED: &str = concat!(
    r#"{"products":["#,
    r#"{"title":"Veranda Symphony","price":"83.84","reviews":[{"id":4,"name":"Ann","message":"Smooth, \"nutty\" ✓","rate":2}]},"#,
    r#"{"title":"Major Cake","price":"12.50","reviews":["#,
    r#"{"id":1,"name":"Bo","message":"One","rate":5},"#,
    r#"{"id":2,"name":"Cy","message":"Two","rate":4},"#,
    r#"{"id":3,"name":"Di","message":"Three","rate":1}]},"#,
    r#"{"title":"Empty Cup","price":"0.00","reviews":[]}"#,
    r#"]}"#
);

/// Creates the reference data through the API and returns `GET /products`'s body.
fn reference(server: &Server) -> String {
    let http = Http::default();
    let created = http.json(
        "POST",
        &server.url("/products"),
        &json!({"title": "Veranda Symphony", "price": "83.84"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("location").as_deref(), Some("/products/1"));
    assert_eq!(
        created.body,
        r#"{"product":{"title":"Veranda Symphony","price":"83.84","reviews":[]}}"#
    );
    // The Rails-style wrapper is accepted too; "12.5" is stored at the column's scale.
    let created = http.json(
        "POST",
        &server.url("/products"),
        &json!({"product": {"title": "Major Cake", "price": "12.5"}}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    for (name, message, rate) in [("Bo", "One", 5), ("Cy", "Two", 4)] {
        let r = http.json(
            "POST",
            &server.url("/products/2/reviews"),
            &json!({"name": name, "message": message, "rate": rate}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = http.json(
        "POST",
        &server.url("/reviews"),
        &json!({"name": "Di", "message": "Three", "rate": 1, "product_id": 2}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/reviews/3"));
    assert_eq!(
        r.body,
        r#"{"review":{"id":3,"name":"Di","message":"Three","rate":1}}"#
    );
    let r = http.json(
        "POST",
        &server.url("/products/1/reviews"),
        &json!({"name": "Ann", "message": "Smooth, \"nutty\" ✓", "rate": 2}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = http.json(
        "POST",
        &server.url("/products"),
        &json!({"title": "Empty Cup", "price": "0"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let list = http.get(&server.url("/products"));
    assert_eq!(list.status, 200);
    assert_eq!(
        list.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(list.header("link"), None, "one page only");
    let one = http.get(&server.url("/products/1"));
    assert_eq!(one.status, 200);
    assert_eq!(
        one.body,
        r#"{"product":{"title":"Veranda Symphony","price":"83.84","reviews":[{"id":4,"name":"Ann","message":"Smooth, \"nutty\" ✓","rate":2}]}}"#
    );
    list.body
}

#[test]
fn reference_body_is_exact_and_identical_on_sqlite_and_postgres() {
    let sqlite = Server::sqlite();
    let sqlite_body = reference(&sqlite);
    assert_eq!(sqlite_body, EXPECTED);

    let pg = Postgres::shared();
    let postgres = Server::start(&pg.fresh_database(), &[]);
    let postgres_body = reference(&postgres);
    assert_eq!(postgres_body.as_bytes(), sqlite_body.as_bytes());
}

/// Embedded reviews cost one query however many products there are. Each `GET` also
/// reads the table versions once (the response cache); a repeated `GET` with nothing
/// written in between is answered from the cache with that one statement.
fn constant_queries(server: &Server) {
    let http = Http::default();
    let mut counts = Vec::new();
    for round in 0..3 {
        for i in 0..(round * 10 + 1) {
            let p = http.json(
                "POST",
                &server.url("/products"),
                &json!({"title": format!("p{round}-{i}"), "price": "1.00"}),
            );
            assert_eq!(p.status, 201);
            let id = p.header("location").expect("location");
            for _ in 0..3 {
                let r = http.json(
                    "POST",
                    &server.url(&format!("{id}/reviews")),
                    &json!({"name": "n", "message": "m", "rate": 3}),
                );
                assert_eq!(r.status, 201);
            }
        }
        let before = http.queries(server);
        let list = http.get(&server.url("/products?limit=1000"));
        assert_eq!(list.status, 200);
        let after = http.queries(server);
        let products = list.json()["products"].as_array().expect("array").len();
        counts.push((products, after - before));
        let again = http.get(&server.url("/products?limit=1000"));
        assert_eq!(again.body, list.body);
        assert_eq!(http.queries(server) - after, 1, "a repeated GET /products");
    }
    for (products, queries) in &counts {
        assert_eq!(
            *queries, 3,
            "{products} products took {queries} queries: {counts:?}"
        );
    }
    let before = http.queries(server);
    assert_eq!(http.get(&server.url("/products/2")).status, 200);
    assert_eq!(http.queries(server) - before, 3, "GET /products/{{id}}");
    let before = http.queries(server);
    assert_eq!(http.get(&server.url("/products/2")).status, 200);
    assert_eq!(
        http.queries(server) - before,
        1,
        "a repeated GET /products/{{id}}"
    );
}

#[test]
fn embedded_relations_load_in_constant_queries_on_sqlite() {
    constant_queries(&Server::sqlite());
}

#[test]
fn embedded_relations_load_in_constant_queries_on_postgres() {
    let pg = Postgres::shared();
    constant_queries(&Server::start(&pg.fresh_database(), &[]));
}

/// Walks `Link: rel="next"` until the end; every product once, in id order.
fn paging(server: &Server) {
    let http = Http::default();
    for i in 0..7 {
        let p = http.json(
            "POST",
            &server.url("/products"),
            &json!({"title": format!("t{i}"), "price": "2.00"}),
        );
        assert_eq!(p.status, 201);
    }
    let mut next = Some("/products?limit=3".to_string());
    let mut titles = Vec::new();
    let mut pages = 0;
    while let Some(path) = next {
        let page = http.get(&server.url(&path));
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        for p in page.json()["products"].as_array().expect("array") {
            titles.push(p["title"].as_str().expect("title").to_string());
        }
        next = page.header("link").map(|link| {
            let rest = link.strip_prefix('<').expect("<");
            let (target, rel) = rest.split_once('>').expect(">");
            assert_eq!(rel, "; rel=\"next\"");
            target.to_string()
        });
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(titles, (0..7).map(|i| format!("t{i}")).collect::<Vec<_>>());
    let desc = http.get(&server.url("/products?sort=-id&limit=2"));
    assert_eq!(
        desc.header("link").as_deref(),
        Some("</products?limit=2&offset=2&sort=-id>; rel=\"next\"")
    );
    assert_eq!(desc.json()["products"][0]["title"], "t6");
}

#[test]
fn paging_follows_link_headers_on_sqlite() {
    paging(&Server::sqlite());
}

#[test]
fn paging_follows_link_headers_on_postgres() {
    let pg = Postgres::shared();
    paging(&Server::start(&pg.fresh_database(), &[]));
}
