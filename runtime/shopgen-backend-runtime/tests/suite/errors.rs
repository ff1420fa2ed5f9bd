//! Every validation rule and error status of the generated shop backend, on a SQLite
//! file and on PostgreSQL: 404, 405, 400, 413, 415, 422 (naming each failing field),
//! partial updates, cascading deletes, request ids, health, metrics and the API
//! document.

use crate::support::{Http, Postgres, Server};
use serde_json::{Value, json};

fn fields(reply: &crate::support::Reply) -> Vec<String> {
    let body = reply.json();
    body["error"]["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("no fields: {}", reply.body))
        .keys()
        .cloned()
        .collect()
}

fn assert_error(reply: &crate::support::Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{}", reply.body);
    assert_eq!(body["error"]["status"], status);
    assert!(body["error"]["message"].is_string());
}

/// A payload with one field changed (or removed, for `Value::Null` with `remove`).
fn product_with(key: &str, value: Value) -> Value {
    let mut p = json!({"title": "Veranda Symphony", "price": "83.84"});
    p[key] = value;
    p
}

fn review_with(key: &str, value: Value) -> Value {
    let mut r = json!({"name": "Ann", "message": "Good", "rate": 3});
    r[key] = value;
    r
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().expect("object").remove(key);
    v
}

fn all_rules(server: &Server) {
    let http = Http::default();
    let post = |path: &str, body: &Value| http.json("POST", &server.url(path), body);
    assert_eq!(
        post("/products", &product_with("title", json!("A"))).status,
        201
    );

    // 422: each rule of each product field.
    let invalid_products = [
        (
            "title",
            without(product_with("title", Value::Null), "title"),
        ),
        ("title", product_with("title", Value::Null)),
        ("title", product_with("title", json!(12))),
        ("title", product_with("title", json!("x".repeat(121)))),
        ("title", product_with("title", json!("nul\u{0}byte"))),
        (
            "price",
            without(product_with("price", Value::Null), "price"),
        ),
        ("price", product_with("price", json!(83.84))),
        ("price", product_with("price", json!("-0.01"))),
        ("price", product_with("price", json!("1.234"))),
        ("price", product_with("price", json!("123456789.00"))),
        ("price", product_with("price", json!("12,50"))),
        ("price", product_with("price", json!("1e3"))),
        ("price", product_with("price", json!(""))),
        ("colour", product_with("colour", json!("red"))),
        ("id", product_with("id", json!(7))),
    ];
    for (field, body) in &invalid_products {
        let r = post("/products", body);
        assert_error(&r, 422, "invalid");
        assert_eq!(fields(&r), vec![field.to_string()], "{body}");
    }
    // Limits are inclusive and count characters, not bytes.
    let ok = post("/products", &product_with("title", json!("é".repeat(120))));
    assert_eq!(ok.status, 201, "{}", ok.body);
    let ok = post("/products", &product_with("price", json!("99999999.99")));
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.json()["product"]["price"], "99999999.99");
    // Every failing field at once.
    let r = post(
        "/products",
        &json!({"title": 1, "price": "-1", "extra": true}),
    );
    assert_error(&r, 422, "invalid");
    assert_eq!(fields(&r), vec!["extra", "price", "title"]);

    // 422: each rule of each review field, flat and nested.
    let invalid_reviews = [
        ("name", without(review_with("name", Value::Null), "name")),
        ("name", review_with("name", json!("n".repeat(81)))),
        ("message", review_with("message", json!("m".repeat(4001)))),
        ("message", review_with("message", json!(["m"]))),
        ("rate", review_with("rate", json!(0))),
        ("rate", review_with("rate", json!(6))),
        ("rate", review_with("rate", json!("3"))),
        ("rate", review_with("rate", json!(3.5))),
        ("rate", without(review_with("rate", Value::Null), "rate")),
        ("product_id", review_with("product_id", json!(1))),
    ];
    for (field, body) in &invalid_reviews {
        let r = post("/products/1/reviews", body);
        assert_error(&r, 422, "invalid");
        assert_eq!(fields(&r), vec![field.to_string()], "{body}");
    }
    let ok = post(
        "/products/1/reviews",
        &review_with("message", json!("m".repeat(4000))),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
    // Flat create: the foreign key is required and must exist.
    let r = post("/reviews", &review_with("rate", json!(3)));
    assert_error(&r, 422, "invalid");
    assert_eq!(fields(&r), vec!["product_id"]);
    let r = post("/reviews", &review_with("product_id", json!(999)));
    assert_error(&r, 422, "invalid");
    assert_eq!(
        r.json()["error"]["fields"]["product_id"][0],
        "product 999 does not exist"
    );
    let r = post("/reviews", &review_with("product_id", json!(0)));
    assert_error(&r, 422, "invalid");

    // 404s.
    for path in [
        "/products/999",
        "/products/abc",
        "/products/0",
        "/products/-1",
        "/reviews/999",
        "/nope",
        "/products/1/x",
    ] {
        assert_error(&http.get(&server.url(path)), 404, "not_found");
    }
    assert_error(
        &http.get(&server.url("/products/999/reviews")),
        404,
        "not_found",
    );
    assert_error(
        &post("/products/999/reviews", &review_with("rate", json!(1))),
        404,
        "not_found",
    );
    assert_error(
        &http.json(
            "PATCH",
            &server.url("/products/999"),
            &json!({"title": "x"}),
        ),
        404,
        "not_found",
    );
    assert_error(
        &http.send("DELETE", &server.url("/products/999"), None, None, &[]),
        404,
        "not_found",
    );

    // 405: PUT is not enabled for products.
    assert_error(
        &http.json(
            "PUT",
            &server.url("/products/1"),
            &product_with("title", json!("x")),
        ),
        405,
        "method_not_allowed",
    );

    // 415, 400, 413.
    let raw = |ct: Option<&str>, body: &[u8]| {
        http.send(
            "POST",
            &server.url("/products"),
            ct,
            Some(body.to_vec()),
            &[],
        )
    };
    let valid = br#"{"title":"t","price":"1.00"}"#;
    assert_error(&raw(None, valid), 415, "unsupported_media_type");
    assert_error(
        &raw(Some("text/plain"), valid),
        415,
        "unsupported_media_type",
    );
    assert_eq!(
        raw(Some("application/json; charset=utf-8"), valid).status,
        201
    );
    assert_error(
        &raw(Some("application/json"), b"{\"title\":"),
        400,
        "malformed_json",
    );
    assert_error(
        &raw(Some("application/json"), b"[1,2]"),
        400,
        "malformed_json",
    );
    assert_error(&raw(Some("application/json"), b""), 400, "malformed_json");
    assert_error(
        &raw(Some("application/json"), b"\xff\xfe"),
        400,
        "malformed_json",
    );
    let big = format!(r#"{{"title":"{}","price":"1.00"}}"#, "x".repeat(1 << 20));
    assert_error(
        &raw(Some("application/json"), big.as_bytes()),
        413,
        "payload_too_large",
    );

    // 400: query parameters.
    for q in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "offset=-1",
        "sort=title",
        "sort=id,id",
        "colour=red",
        "limit=1&limit=2",
    ] {
        let r = http.get(&server.url(&format!("/products?{q}")));
        assert_error(&r, 400, "bad_query");
    }
    assert_eq!(
        http.get(&server.url("/products?limit=1000&offset=5&sort=-id"))
            .status,
        200
    );

    // PATCH changes only what it names; `{}` changes nothing.
    let before = http.get(&server.url("/products/1")).json();
    let r = http.json(
        "PATCH",
        &server.url("/products/1"),
        &json!({"price": "7.5"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["product"]["price"], "7.50");
    assert_eq!(r.json()["product"]["title"], before["product"]["title"]);
    let r = http.json("PATCH", &server.url("/products/1"), &json!({}));
    assert_eq!(r.status, 200);
    let r = http.json("PATCH", &server.url("/products/1"), &json!({"title": null}));
    assert_error(&r, 422, "invalid");
    assert_eq!(fields(&r), vec!["title"]);
    let r = http.json(
        "PATCH",
        &server.url("/reviews/1"),
        &json!({"product_id": 999}),
    );
    assert_error(&r, 422, "invalid");

    // DELETE: 204, then gone; reviews go with their product (on_delete = cascade).
    let review = http.get(&server.url("/reviews/1"));
    assert_eq!(review.status, 200);
    let r = http.send("DELETE", &server.url("/products/1"), None, None, &[]);
    assert_eq!(r.status, 204);
    assert_eq!(r.body, "");
    assert_error(&http.get(&server.url("/products/1")), 404, "not_found");
    assert_error(&http.get(&server.url("/reviews/1")), 404, "not_found");
}

#[test]
fn every_rule_and_status_on_sqlite() {
    all_rules(&Server::sqlite());
}

#[test]
fn every_rule_and_status_on_postgres() {
    let pg = Postgres::shared();
    all_rules(&Server::start(&pg.fresh_database(), &[]));
}

#[test]
fn request_ids_logs_health_metrics_and_api_document() {
    let server = Server::sqlite();
    let http = Http::default();
    let r = http.send(
        "GET",
        &server.url("/healthz"),
        None,
        None,
        &[("x-request-id", "abc-123")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id").as_deref(), Some("abc-123"));
    let generated = http
        .get(&server.url("/products"))
        .header("x-request-id")
        .expect("id");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    // Version 4 (random) UUIDs, each one new.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let id = http
            .get(&server.url("/healthz"))
            .header("x-request-id")
            .expect("id");
        let parsed = uuid::Uuid::parse_str(&id).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4, "{id}");
        assert!(seen.insert(id.clone()), "{id} twice");
    }
    let r = http.get(&server.url("/readyz"));
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"database":"reachable","status":"ready"}"#)
    );

    let metrics = http.get(&server.url("/metrics")).body;
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/products",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket"),
        "{metrics}"
    );

    let doc = http.get(&server.url("/openapi.json"));
    assert_eq!(doc.status, 200);
    let yaml = include_str!("../../../../generated/shop/openapi/api.yaml");
    let expected: Value = serde_saphyr::from_str(yaml).expect("api.yaml");
    assert_eq!(doc.json(), expected);
    assert!(doc.json()["paths"]["/products"]["get"].is_object());

    let log = server.log_text();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["path"] == "/healthz")
        .unwrap_or_else(|| panic!("no JSON access log line:\n{log}"));
    assert_eq!(line["span"]["request_id"], "abc-123");
    assert_eq!(line["status"], 200);
    assert_eq!(line["level"], "INFO");
}

#[test]
fn help_lists_every_setting_and_migrate_exits() {
    let out = std::process::Command::new(crate::support::binary("shop-backend"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for setting in [
        "PORT",
        "HOST",
        "DATABASE_URL",
        "DATABASE_MAX_CONNECTIONS",
        "DATABASE_CONNECT_TIMEOUT_SECONDS",
        "DATABASE_ACQUIRE_TIMEOUT_MS",
        "SQLITE_SYNCHRONOUS",
        "MAX_BODY_BYTES",
        "DRAIN_SECONDS",
        "REQUEST_TIMEOUT_MS",
        "[default: 12000]",
        "[default: 5000]",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "migrate",
        "[default: 3000]",
        "[default: sqlite://shop.db]",
    ] {
        assert!(help.contains(setting), "--help lacks {setting}:\n{help}");
    }
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("m.db");
    let out = std::process::Command::new(crate::support::binary("shop-backend"))
        .arg("migrate")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(db.exists());
    let out = std::process::Command::new(crate::support::binary("shop-backend"))
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("DATABASE_URL must start with"));
}
