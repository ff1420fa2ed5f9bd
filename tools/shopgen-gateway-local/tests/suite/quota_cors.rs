//! Quota, CORS preflights and conditional GETs through the emulator, over real HTTP on
//! 127.0.0.1, for documents in both dialects shaped like shopgen's.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};
use shopgen_gateway_local::{Gateway, GatewayDocument};
use tokio::sync::oneshot;

use crate::support::{Log, Seen, call, config, start};

const OAS3: &str = r#"
openapi: "3.0.3"
info: {title: shop-api, version: "1"}
paths:
  /products:
    get:
      operationId: listProducts
      x-google-quota: {metricCosts: {shop-api-requests: 2}}
      responses: {"200": {description: ok}}
    options:
      operationId: preflightListProducts
      security: []
      responses: {"204": {description: ok}}
  "/products/{id}":
    get:
      operationId: getProduct
      x-google-quota: {metricCosts: {shop-api-requests: 1}}
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    api_key: {type: apiKey, in: header, name: x-api-key}
security:
- api_key: []
x-google-api-management:
  backends:
    relay: {address: "https://${relay_host}", jwtAudience: "https://${relay_host}", pathTranslation: APPEND_PATH_TO_ADDRESS, deadline: 15.0, protocol: http/1.1}
  metrics:
    shop-api-requests: {displayName: shop-api requests}
  quota:
    limits:
      shop-api-requests-per-minute: {metric: shop-api-requests, values: 5}
x-google-backend: relay
"#;

const SWAGGER: &str = r#"
swagger: "2.0"
info: {title: shop-api, version: "1"}
x-google-backend: {address: "https://${relay_host}", jwt_audience: "https://${relay_host}", path_translation: APPEND_PATH_TO_ADDRESS, deadline: 15.0, protocol: http/1.1}
securityDefinitions:
  api_key: {type: apiKey, name: x-api-key, in: header}
security:
- api_key: []
x-google-management:
  metrics:
  - {name: shop-api-requests, displayName: shop-api requests, valueType: INT64, metricKind: DELTA}
  quota:
    limits:
    - {name: shop-api-requests-per-minute, metric: shop-api-requests, unit: "1/min/{project}", values: {STANDARD: 5}}
paths:
  /products:
    get:
      operationId: listProducts
      x-google-quota: {metricCosts: {shop-api-requests: 2}}
      responses: {"200": {description: ok}}
    options:
      operationId: preflightListProducts
      security: []
      responses: {"204": {description: ok}}
  "/products/{id}":
    get:
      operationId: getProduct
      x-google-quota: {metricCosts: {shop-api-requests: 1}}
      responses: {"200": {description: ok}}
"#;

/// An upstream standing in for the relay: `OPTIONS` gets 204 with a CORS header; a GET
/// gets `ETag: "v1"` and `Cache-Control: private, max-age=0`, or 304 when
/// `If-None-Match` names that tag. It records each request.
async fn upstream() -> (SocketAddr, Log) {
    crate::support::upstream(Duration::ZERO, relay_like).await
}

fn relay_like(req: &Seen) -> Response<Full<Bytes>> {
    let inm = if_none_match(req);
    let mut r = Response::new(Full::new(Bytes::new()));
    if req.method == Method::OPTIONS {
        *r.status_mut() = StatusCode::NO_CONTENT;
        r.headers_mut().insert(
            "access-control-allow-origin",
            "https://shop.example.com".parse().expect("hv"),
        );
    } else if inm.as_deref() == Some("\"v1\"") {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r.headers_mut()
            .insert("etag", "\"v1\"".parse().expect("hv"));
    } else {
        *r.body_mut() = Full::new(Bytes::from_static(b"{\"products\":[]}"));
        r.headers_mut()
            .insert("etag", "\"v1\"".parse().expect("hv"));
        r.headers_mut()
            .insert("cache-control", "private, max-age=0".parse().expect("hv"));
    }
    r
}

/// The request's `If-None-Match`, if any.
fn if_none_match(req: &Seen) -> Option<String> {
    req.headers
        .get("if-none-match")
        .map(|v| v.to_str().unwrap_or("").to_string())
}

async fn gateway(
    doc: &str,
    backend: SocketAddr,
    window: Duration,
) -> (SocketAddr, oneshot::Sender<()>) {
    let doc = GatewayDocument::parse(doc).expect("document");
    let gateway = Gateway::new(
        &doc,
        config(&["key-a", "key-b"], format!("http://{backend}")),
    )
    .expect("gateway")
    .with_quota_window(window);
    start(gateway).await
}

#[tokio::test]
async fn the_quota_is_enforced_per_key_with_api_gateways_429_and_resets() {
    for doc in [OAS3, SWAGGER] {
        let (up, seen) = upstream().await;
        let (gw, _stop) = gateway(doc, up, Duration::from_secs(3)).await;
        let get = |key: &'static str, path: &'static str| async move {
            call(
                Method::GET,
                format!("http://{gw}{path}"),
                &[("x-api-key", key)],
            )
            .await
        };
        // Wait for the start of a window, so the calls below share one.
        tokio::time::sleep(Duration::from_millis(3050)).await;
        // Limit 5: /products costs 2, /products/{id} costs 1.
        assert_eq!(get("key-a", "/products").await.0, StatusCode::OK);
        assert_eq!(get("key-a", "/products").await.0, StatusCode::OK);
        assert_eq!(get("key-a", "/products/1").await.0, StatusCode::OK);
        let (status, headers, body) = get("key-a", "/products").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "5 + 2 > 5: {body}");
        assert_eq!(headers["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["code"], 429);
        let message = body["message"].as_str().expect("message");
        assert!(
            message.starts_with("RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'shop-api-requests' and limit 'shop-api-requests-per-minute' of service 'shop-api'"),
            "{message}"
        );
        assert_eq!(
            seen.lock().expect("lock").len(),
            3,
            "a refused call is not forwarded"
        );
        // All 5 units are used: not even a call costing 1 fits in this window.
        assert_eq!(
            get("key-a", "/products/1").await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        // Another key is another consumer.
        assert_eq!(get("key-b", "/products").await.0, StatusCode::OK);
        // Keyless preflights are never charged, and pass even when the key is exhausted.
        for _ in 0..10 {
            let (status, headers, _) = call(
                Method::OPTIONS,
                format!("http://{gw}/products"),
                &[
                    ("origin", "https://shop.example.com"),
                    ("access-control-request-method", "GET"),
                ],
            )
            .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            assert_eq!(
                headers["access-control-allow-origin"], "https://shop.example.com",
                "the relay's CORS headers pass through"
            );
        }
        // The next window starts from zero.
        tokio::time::sleep(Duration::from_millis(3100)).await;
        assert_eq!(get("key-a", "/products").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn options_without_an_operation_is_405_and_conditional_gets_pass_through() {
    for doc in [OAS3, SWAGGER] {
        let (up, seen) = upstream().await;
        let (gw, _stop) = gateway(doc, up, Duration::from_secs(60)).await;
        // No `options` operation on /products/{id}: API Gateway's 405, never forwarded.
        let (status, _, body) = call(
            Method::OPTIONS,
            format!("http://{gw}/products/1"),
            &[("origin", "https://shop.example.com")],
        )
        .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(seen.lock().expect("lock").is_empty());
        // ETag and Cache-Control come back unchanged; If-None-Match goes up unchanged,
        // and the 304 comes back with no body.
        let (status, headers, _) = call(
            Method::GET,
            format!("http://{gw}/products"),
            &[("x-api-key", "key-a")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["etag"], "\"v1\"");
        assert_eq!(headers["cache-control"], "private, max-age=0");
        let (status, headers, body) = call(
            Method::GET,
            format!("http://{gw}/products"),
            &[("x-api-key", "key-a"), ("if-none-match", "\"v1\"")],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(headers["etag"], "\"v1\"");
        assert!(body.is_empty());
        let inm: Vec<Option<String>> = seen
            .lock()
            .expect("lock")
            .iter()
            .map(if_none_match)
            .collect();
        assert_eq!(inm, [None, Some("\"v1\"".to_string())]);
    }
}

#[test]
fn costs_on_undefined_metrics_and_odd_units_are_refused() {
    let bad = OAS3.replace(
        "{metricCosts: {shop-api-requests: 1}}",
        "{metricCosts: {nope: 1}}",
    );
    let err = GatewayDocument::parse(&bad).expect_err("undefined metric");
    assert!(
        err.to_string().contains("`nope` is not a defined metric"),
        "{err}"
    );
    let bad = SWAGGER.replace("1/min/{project}", "1/d/{project}");
    let err = GatewayDocument::parse(&bad).expect_err("daily unit");
    assert!(err.to_string().contains("1/min/{project}"), "{err}");
    let doc = GatewayDocument::parse(SWAGGER).expect("valid");
    assert_eq!(doc.quota_limits.len(), 1);
    assert_eq!(doc.quota_limits[0].per_minute, 5);
    assert_eq!(
        doc.operations[0].metric_costs,
        [("shop-api-requests".to_string(), 2)]
    );
}
