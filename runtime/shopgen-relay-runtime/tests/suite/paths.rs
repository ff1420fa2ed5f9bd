//! The allowlist over real HTTP: which requests reach the upstream, with exactly which
//! path, and what every path trick gets instead (never forwarded).

use crate::support::*;

/// Sends `GET target` and asserts the status, the relay's error code, and that the
/// upstream saw nothing.
async fn refused(relay: &RunningRelay, up: &Upstream, method: &str, target: &str, status: u16) {
    let before = up.count();
    let res = send(relay.addr, method, target, "", b"").await;
    assert_eq!(res.status, status, "{method} {target}: {}", res.body_str());
    let expected_code = match status {
        400 => "invalid_path",
        404 => "not_found",
        414 => "uri_too_long",
        other => panic!("unexpected {other}"),
    };
    let code = if method == "HEAD" {
        assert!(res.body.is_empty(), "HEAD answered with a body");
        Some(expected_code.to_owned())
    } else {
        res.error_code()
    };
    assert_eq!(
        code.as_deref(),
        Some(expected_code),
        "{method} {target}: {}",
        res.body_str()
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(up.count(), before, "{method} {target} reached the upstream");
}

async fn forwarded(relay: &RunningRelay, up: &Upstream, method: &str, target: &str) -> Recorded {
    let res = send(relay.addr, method, target, "", b"").await;
    assert_eq!(res.status, 200, "{method} {target}: {}", res.body_str());
    assert_eq!(res.header("x-upstream"), Some("yes"));
    let rec = up.last();
    assert_eq!(rec.method, method);
    rec
}

async fn setup() -> (Upstream, RunningRelay) {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    (up, relay)
}

#[tokio::test]
async fn public_routes_pass_with_the_exact_path_and_query() {
    let (up, relay) = setup().await;
    assert_eq!(
        forwarded(&relay, &up, "GET", "/products").await.target,
        "/products"
    );
    assert_eq!(
        forwarded(&relay, &up, "GET", "/products/42").await.target,
        "/products/42"
    );
    assert_eq!(
        forwarded(&relay, &up, "GET", "/products/42/reviews?limit=5&b=%2F&c")
            .await
            .target,
        "/products/42/reviews?limit=5&b=%2F&c"
    );
    // An escaped character in a parameter is forwarded as sent, not decoded.
    assert_eq!(
        forwarded(&relay, &up, "GET", "/products/4%32").await.target,
        "/products/4%32"
    );
    for method in ["PUT", "PATCH", "DELETE"] {
        assert_eq!(
            forwarded(&relay, &up, method, "/products/7").await.target,
            "/products/7"
        );
    }
    relay.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_404_from_the_relay() {
    let (up, relay) = setup().await;
    refused(&relay, &up, "GET", "/admin", 404).await;
    refused(&relay, &up, "GET", "/", 404).await;
    refused(&relay, &up, "GET", "/products/42/reviews/1", 404).await;
    refused(&relay, &up, "GET", "/productsx", 404).await;
    // Known path, method not public (API Gateway answers 404 here too).
    refused(&relay, &up, "POST", "/products", 404).await;
    refused(&relay, &up, "DELETE", "/products", 404).await;
    refused(&relay, &up, "HEAD", "/products/1", 404).await;
    refused(&relay, &up, "OPTIONS", "/products/1", 404).await;
    refused(&relay, &up, "TRACE", "/products/1", 404).await;
    relay.stop().await;
}

#[tokio::test]
async fn matching_is_case_sensitive_and_literal() {
    let (up, relay) = setup().await;
    refused(&relay, &up, "GET", "/PRODUCTS", 404).await;
    refused(&relay, &up, "GET", "/Products/42", 404).await;
    refused(&relay, &up, "GET", "/products/42/REVIEWS", 404).await;
    // An escaped letter is not the letter.
    refused(&relay, &up, "GET", "/%70roducts", 404).await;
    refused(&relay, &up, "GET", "/products/42/%72eviews", 404).await;
    relay.stop().await;
}

#[tokio::test]
async fn trailing_slash_and_empty_params_do_not_match() {
    let (up, relay) = setup().await;
    refused(&relay, &up, "GET", "/products/", 404).await;
    refused(&relay, &up, "GET", "/products/42/", 404).await;
    refused(&relay, &up, "GET", "/products/42/reviews/", 404).await;
    // `{id}` empty in the middle is a `//`, refused as ambiguous.
    refused(&relay, &up, "GET", "/products//reviews", 400).await;
    relay.stop().await;
}

#[tokio::test]
async fn double_slashes_are_refused() {
    let (up, relay) = setup().await;
    refused(&relay, &up, "GET", "//products", 400).await;
    refused(&relay, &up, "GET", "/products//42", 400).await;
    refused(&relay, &up, "GET", "//products/42", 400).await;
    relay.stop().await;
}

#[tokio::test]
async fn dot_segments_are_refused_plain_and_encoded() {
    let (up, relay) = setup().await;
    for target in [
        "/products/../admin",
        "/products/..",
        "/products/./42",
        "/./products",
        "/products/%2e%2e/admin",
        "/products/%2E%2E",
        "/products/.%2e",
        "/products/%2e",
        "/products/42/%2e%2e/%2e%2e/admin",
    ] {
        refused(&relay, &up, "GET", target, 400).await;
    }
    relay.stop().await;
}

#[tokio::test]
async fn encoded_slashes_backslashes_and_controls_are_refused() {
    let (up, relay) = setup().await;
    for target in [
        "/products%2F42",
        "/products%2f42",
        "/products/42%2Freviews",
        "/products/42%5Creviews",
        "/products/%00",
        "/products/42%0d%0aX-Injected:%201",
        "/products/%zz",
        "/products/4%2",
    ] {
        refused(&relay, &up, "GET", target, 400).await;
    }
    // A raw backslash is either refused by the HTTP parser (plain 400) or by the matcher
    // (JSON 400): in both cases not forwarded.
    let before = up.count();
    let res = get(relay.addr, "/products\\..\\admin", "").await;
    assert_eq!(res.status, 400);
    assert_eq!(up.count(), before);
    relay.stop().await;
}

#[tokio::test]
async fn overlong_paths_and_queries_get_414() {
    let (up, relay) = setup().await;
    let long_id = "a".repeat(2100);
    refused(&relay, &up, "GET", &format!("/products/{long_id}"), 414).await;
    let long_query = "q".repeat(9000);
    refused(
        &relay,
        &up,
        "GET",
        &format!("/products?x={long_query}"),
        414,
    )
    .await;
    // Just under the path limit still passes.
    let id = "b".repeat(2048 - "/products/".len());
    let rec = forwarded(&relay, &up, "GET", &format!("/products/{id}")).await;
    assert_eq!(rec.target.len(), 2048);
    relay.stop().await;
}

#[tokio::test]
async fn odd_request_targets_are_not_forwarded() {
    let (up, relay) = setup().await;
    let before = up.count();
    let res = raw(relay.addr, "OPTIONS * HTTP/1.1\nHost: relay.test", b"").await;
    assert_eq!(res.status, 400);
    assert_eq!(res.error_code().as_deref(), Some("invalid_path"));
    // Absolute form: only the path counts, and it still goes to the configured upstream.
    let res = raw(
        relay.addr,
        "GET http://evil.example/admin HTTP/1.1\nHost: evil.example",
        b"",
    )
    .await;
    assert_eq!(res.status, 404);
    assert_eq!(up.count(), before);
    let res = raw(
        relay.addr,
        "GET http://evil.example/products HTTP/1.1\nHost: evil.example",
        b"",
    )
    .await;
    assert_eq!(res.status, 200);
    let rec = up.last();
    assert_eq!(rec.target, "/products");
    assert_eq!(
        rec.headers["host"].to_str().unwrap(),
        up.addr.to_string().as_str()
    );
    relay.stop().await;
}

#[tokio::test]
async fn head_on_a_public_head_route_keeps_the_upstreams_length() {
    let (up, relay) = setup().await;
    let res = raw(
        relay.addr,
        "HEAD /products?size=1234 HTTP/1.1\nHost: r",
        b"",
    )
    .await;
    assert_eq!(res.status, 200);
    assert!(res.body.is_empty());
    assert_eq!(res.header("content-length"), Some("1234"));
    assert_eq!(up.last().method, "HEAD");
    relay.stop().await;
}

#[tokio::test]
async fn a_base_path_is_prefixed() {
    let up = upstream(0).await;
    let relay = relay(config(&format!("{}/api/v1/", up.url()), |_| {})).await;
    let res = get(relay.addr, "/products/9?x=1", "").await;
    assert_eq!(res.status, 200);
    assert_eq!(up.last().target, "/api/v1/products/9?x=1");
    relay.stop().await;
}

#[tokio::test]
async fn healthz_is_answered_by_the_relay() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    let res = get(relay.addr, "/healthz", "").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), serde_json::json!({"status": "ok"}));
    assert!(res.header("x-request-id").is_some());
    let res = raw(relay.addr, "HEAD /healthz HTTP/1.1\nHost: r", b"").await;
    assert_eq!(res.status, 200);
    assert!(res.body.is_empty());
    let res = send(relay.addr, "POST", "/healthz", "", b"").await;
    assert_eq!(res.status, 404);
    assert_eq!(up.count(), 0, "the health check reached the upstream");
    // It answers even with the upstream down.
    let relay2 = relay_with(
        ROUTES,
        config(&format!("http://{}", dead_addr().await), |_| {}),
    )
    .await;
    assert_eq!(get(relay2.addr, "/healthz", "").await.status, 200);
    relay.stop().await;
    relay2.stop().await;
}
