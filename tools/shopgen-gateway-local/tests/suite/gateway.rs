//! The emulator over real HTTP on 127.0.0.1: a client, the gateway, and an upstream
//! that records what it received.

use std::collections::BTreeSet;
use std::time::Duration;

use hyper::{Method, StatusCode};
use shopgen_gateway_local::{Gateway, GatewayConfig, GatewayDocument};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::{Log, call, config, json, ok_json, start};

const SHOP_GATEWAY: &str = include_str!("../../../../generated/shop/openapi/gateway.yaml");

const SWAGGER: &str = r#"
swagger: "2.0"
info: {title: t, version: "1"}
x-google-backend:
  address: http://placeholder.invalid
  path_translation: APPEND_PATH_TO_ADDRESS
  deadline: 15.0
securityDefinitions:
  key_q: {type: apiKey, name: api_key, in: query}
security:
- key_q: []
paths:
  /things:
    get: {operationId: listThings}
  "/things/{id}":
    get:
      operationId: getThing
      x-google-backend:
        address: http://placeholder.invalid/lookup
        path_translation: CONSTANT_ADDRESS
  /open:
    get:
      operationId: open
      security: []
"#;

/// An upstream that answers 200 `{"ok":true}` after `delay`, recording each request.
async fn upstream(delay: Duration) -> (std::net::SocketAddr, Log) {
    crate::support::upstream(delay, ok_json).await
}

/// Starts the gateway for `doc` in front of `backend`; returns its address and a stop handle.
async fn gateway(
    doc: &str,
    backend: String,
    deadline: Option<Duration>,
) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let doc = GatewayDocument::parse(doc).expect("document");
    let config = GatewayConfig {
        deadline_override: deadline,
        ..config(&["good-key"], backend)
    };
    start(Gateway::new(&doc, config).expect("gateway")).await
}

#[tokio::test]
async fn shop_document_rejections_match_api_gateway() {
    let (up, seen) = upstream(Duration::ZERO).await;
    let (gw, _stop) = gateway(SHOP_GATEWAY, format!("http://{up}"), None).await;

    let (s, h, b) = call(Method::GET, format!("http://{gw}/products"), &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(json(&b)["code"], 401);
    assert_eq!(
        json(&b)["message"],
        "UNAUTHENTICATED: Method doesn't allow unregistered callers (callers without established \
         identity). Please use API Key or other form of API consumer identity to call this API."
    );

    let (s, _, b) = call(
        Method::GET,
        format!("http://{gw}/products"),
        &[("x-api-key", "bad")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        json(&b),
        serde_json::json!({"code": 400, "message": "INVALID_ARGUMENT: API key not valid. Please pass a valid API key."})
    );

    // Unlisted paths: 404 before any key check, key or not.
    for path in [
        "/orders",
        "/Products",
        "/products/1/reviews",
        "/products/1/x",
        "/",
    ] {
        let (s, _, b) = call(
            Method::GET,
            format!("http://{gw}{path}"),
            &[("x-api-key", "good-key")],
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            json(&b),
            serde_json::json!({"code": 404, "message": "The current request is not defined by this API."}),
            "{path}"
        );
    }
    let (s, _, _) = call(Method::GET, format!("http://{gw}/orders"), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "404 comes before the key check");

    // A listed path with an unlisted method: ESPv2's 405.
    let (s, _, b) = call(
        Method::POST,
        format!("http://{gw}/products"),
        &[("x-api-key", "good-key")],
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(&b)["code"], 405);
    assert!(
        json(&b)["message"]
            .as_str()
            .is_some_and(|m| m.contains("url template \"/products\"")),
        "{b}"
    );
    let (s, _, _) = call(Method::DELETE, format!("http://{gw}/products/3"), &[]).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    assert!(
        seen.lock().expect("lock").is_empty(),
        "nothing rejected reached the backend"
    );
}

#[tokio::test]
async fn shop_document_forwards_like_api_gateway() {
    let (up, seen) = upstream(Duration::ZERO).await;
    let (gw, _stop) = gateway(SHOP_GATEWAY, format!("http://{up}"), None).await;

    let (s, _, b) = call(
        Method::GET,
        format!("http://{gw}/products?limit=5"),
        &[
            ("X-API-KEY", "good-key"),
            ("authorization", "Bearer client-token"),
            ("x-request-id", "req-123"),
            ("x-forwarded-for", "203.0.113.9"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "drop me"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, r#"{"ok":true}"#);
    // The key may also come as `?key=`, and the trailing slash is tolerated.
    let (s, _, _) = call(
        Method::GET,
        format!("http://{gw}/products/7/?key=good-key"),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Dot segments and double slashes are normalised before matching.
    let (s, _, _) = call(
        Method::GET,
        format!("http://{gw}//products/../products/8"),
        &[("x-api-key", "good-key")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    let first = &seen[0];
    assert_eq!(first.method, Method::GET);
    assert_eq!(first.path_and_query, "/products?limit=5");
    assert_eq!(
        first.headers["x-api-key"], "good-key",
        "API Gateway forwards the key"
    );
    let auth = first.headers["authorization"].to_str().expect("ascii");
    assert!(
        auth.starts_with("Bearer ") && auth != "Bearer client-token",
        "{auth}"
    );
    assert_eq!(auth.split('.').count(), 3, "a JWT-shaped token: {auth}");
    assert_eq!(
        first.headers["x-forwarded-authorization"],
        "Bearer client-token"
    );
    assert_eq!(first.headers["x-request-id"], "req-123");
    assert_eq!(first.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(first.headers["host"], up.to_string());
    assert!(
        !first.headers.contains_key("x-hop"),
        "hop-by-hop headers are removed"
    );
    assert!(first.body.is_empty());
    assert_eq!(seen[1].path_and_query, "/products/7/?key=good-key");
    assert_eq!(seen[2].path_and_query, "/products/8");
}

#[tokio::test]
async fn deadline_gives_504_and_a_dead_backend_503() {
    let (slow, _) = upstream(Duration::from_secs(3)).await;
    let (gw, _stop) = gateway(
        SHOP_GATEWAY,
        format!("http://{slow}"),
        Some(Duration::from_millis(300)),
    )
    .await;
    let started = std::time::Instant::now();
    let (s, _, b) = call(
        Method::GET,
        format!("http://{gw}/products"),
        &[("x-api-key", "good-key")],
    )
    .await;
    assert_eq!(s, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        json(&b),
        serde_json::json!({"code": 504, "message": "upstream request timeout"})
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // A port nobody listens on.
    let dead = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let (gw, _stop2) = gateway(SHOP_GATEWAY, format!("http://{dead_addr}"), None).await;
    let (s, _, b) = call(
        Method::GET,
        format!("http://{gw}/products"),
        &[("x-api-key", "good-key")],
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(&b)["code"], 503);
}

#[tokio::test]
async fn swagger2_query_key_security_off_and_constant_address() {
    let (up, seen) = upstream(Duration::ZERO).await;
    let (gw, _stop) = gateway(SWAGGER, format!("http://{up}/base"), None).await;

    // The scheme names the `api_key` query parameter; a header does not count.
    let (s, _, _) = call(
        Method::GET,
        format!("http://{gw}/things"),
        &[("x-api-key", "good-key")],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = call(
        Method::GET,
        format!("http://{gw}/things?api_key=good-key"),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // `security: []`: no key asked for.
    let (s, _, _) = call(Method::GET, format!("http://{gw}/open"), &[]).await;
    assert_eq!(s, StatusCode::OK);
    // CONSTANT_ADDRESS: the address as is, path parameters in the query.
    let (s, _, _) = call(
        Method::GET,
        format!("http://{gw}/things/42?api_key=good-key"),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let seen = seen.lock().expect("lock").clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.path_and_query.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/base/things?api_key=good-key",
            "/base/open",
            "/base?api_key=good-key&id=42"
        ]
    );
}

#[test]
fn the_shop_document_needs_an_address_override() {
    let doc = GatewayDocument::parse(SHOP_GATEWAY).expect("the generated document parses");
    let config = GatewayConfig {
        api_keys: BTreeSet::new(),
        backend_override: None,
        deadline_override: None,
        access_log: None,
    };
    let err = Gateway::new(&doc, config).expect_err("placeholder address");
    assert!(err.to_string().contains("Terraform placeholder"), "{err}");
}
