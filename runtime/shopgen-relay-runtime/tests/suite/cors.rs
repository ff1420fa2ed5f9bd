//! CORS over real HTTP: the relay answers preflights itself (the upstream never sees
//! one), for public paths and allowed origins only, and adds the CORS headers to real
//! responses for allowed origins only.

use crate::support::*;
use shopgen_relay_runtime::CorsPolicy;

const SHOP: &str = "https://shop.example.com";

async fn setup(origins: &[&str], credentials: bool) -> (Upstream, RunningRelay) {
    let up = upstream(0).await;
    let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
    let policy = CorsPolicy::new(
        &origins,
        &["x-api-key".into(), "content-type".into()],
        &["etag".into(), "link".into(), "x-request-id".into()],
        600,
        credentials,
    )
    .unwrap();
    let relay = relay(config(&up.url(), |c| c.cors = Some(policy))).await;
    (up, relay)
}

fn preflight(origin: &str, method: &str, headers: &str) -> String {
    let mut extra = format!("Origin: {origin}\nAccess-Control-Request-Method: {method}\n");
    if !headers.is_empty() {
        extra.push_str(&format!("Access-Control-Request-Headers: {headers}\n"));
    }
    extra
}

#[tokio::test]
async fn an_allowed_preflight_is_answered_locally() {
    let (up, relay) = setup(&[SHOP], false).await;
    for (path, methods) in [
        ("/products", "GET, HEAD"),
        ("/products/7", "PUT, PATCH, DELETE, GET, HEAD"),
        ("/products/7/reviews", "GET, HEAD, POST"),
    ] {
        let res = send(
            relay.addr,
            "OPTIONS",
            path,
            &preflight(SHOP, "GET", "x-api-key"),
            b"",
        )
        .await;
        assert_eq!(res.status, 204, "{path}: {}", res.body_str());
        assert_eq!(res.header("access-control-allow-origin"), Some(SHOP));
        let allowed = res.header("access-control-allow-methods").unwrap();
        let mut got: Vec<&str> = allowed.split(", ").collect();
        let mut want: Vec<&str> = methods.split(", ").collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{path}");
        assert_eq!(
            res.header("access-control-allow-headers"),
            Some("content-type, x-api-key")
        );
        assert_eq!(res.header("access-control-max-age"), Some("600"));
        assert!(res.header("vary").unwrap().contains("Origin"));
        assert!(res.header("access-control-allow-credentials").is_none());
        assert!(res.body.is_empty());
    }
    // A write method on a path that has it.
    let res = send(
        relay.addr,
        "OPTIONS",
        "/products/7/reviews",
        &preflight(SHOP, "POST", "content-type, X-API-Key"),
        b"",
    )
    .await;
    assert_eq!(res.status, 204);
    assert_eq!(up.count(), 0, "a preflight never reaches the upstream");
    relay.stop().await;
}

#[tokio::test]
async fn refused_preflights_carry_no_cors_headers() {
    let (up, relay) = setup(&[SHOP, "http://localhost:5173"], false).await;
    for (origin, method, headers, why) in [
        ("https://evil.example", "GET", "x-api-key", "origin"),
        ("http://shop.example.com", "GET", "", "origin"),
        ("https://shop.example.com.evil.example", "GET", "", "origin"),
        (SHOP, "DELETE", "", "method"),
        (SHOP, "GET", "x-api-key, authorization", "header"),
    ] {
        let res = send(
            relay.addr,
            "OPTIONS",
            "/products",
            &preflight(origin, method, headers),
            b"",
        )
        .await;
        assert_eq!(res.status, 403, "{origin} {method} {headers}");
        assert_eq!(res.error_code().as_deref(), Some("cors_rejected"));
        assert!(
            res.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(why)
        );
        assert!(
            res.headers
                .iter()
                .all(|(n, _)| !n.starts_with("access-control-")),
            "{origin}: {:?}",
            res.headers
        );
    }
    // The second listed origin is allowed too.
    let res = send(
        relay.addr,
        "OPTIONS",
        "/products",
        &preflight("http://localhost:5173", "GET", ""),
        b"",
    )
    .await;
    assert_eq!(res.status, 204);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(up.count(), 0);
    relay.stop().await;
}

#[tokio::test]
async fn options_on_unlisted_paths_and_without_cors_stays_404() {
    let (up, relay) = setup(&[SHOP], false).await;
    for path in ["/orders", "/products/1/2", "/healthz"] {
        let res = send(
            relay.addr,
            "OPTIONS",
            path,
            &preflight(SHOP, "GET", ""),
            b"",
        )
        .await;
        assert_eq!(res.status, 404, "{path}");
        assert!(res.header("access-control-allow-origin").is_none());
    }
    // A plain OPTIONS (no preflight headers) on a public path lists the methods.
    let res = send(relay.addr, "OPTIONS", "/products", "", b"").await;
    assert_eq!(res.status, 204);
    assert_eq!(res.header("allow"), Some("GET, HEAD, OPTIONS"));
    relay.stop().await;
    assert_eq!(up.count(), 0);

    // Without a policy, OPTIONS is an unlisted method: 404, as before.
    let up = upstream(0).await;
    let relay = crate::support::relay(config(&up.url(), |_| {})).await;
    let res = send(
        relay.addr,
        "OPTIONS",
        "/products",
        &preflight(SHOP, "GET", ""),
        b"",
    )
    .await;
    assert_eq!(res.status, 404);
    let res = get(relay.addr, "/products", &format!("Origin: {SHOP}")).await;
    assert_eq!(res.status, 200);
    assert!(res.header("access-control-allow-origin").is_none());
    assert!(res.header("vary").is_none());
    relay.stop().await;
}

#[tokio::test]
async fn real_responses_get_cors_headers_for_allowed_origins_only() {
    let (up, relay) = setup(&[SHOP], false).await;
    let res = get(relay.addr, "/products", &format!("Origin: {SHOP}")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(
        res.header("access-control-expose-headers"),
        Some("etag, link, x-request-id")
    );
    assert_eq!(res.header("vary"), Some("Origin"));
    // The Origin header reaches the upstream unchanged (the backend may log it).
    assert_eq!(up.last().headers["origin"], SHOP);

    let res = get(relay.addr, "/products", "Origin: https://evil.example").await;
    assert_eq!(
        res.status, 200,
        "the relay does not block: the browser does"
    );
    assert!(res.header("access-control-allow-origin").is_none());
    assert!(res.header("access-control-expose-headers").is_none());
    assert_eq!(res.header("vary"), Some("Origin"));

    let res = get(relay.addr, "/products", "").await;
    assert!(res.header("access-control-allow-origin").is_none());
    assert_eq!(res.header("vary"), Some("Origin"));

    // The relay's own errors on public routes are readable by an allowed page.
    let res = get(
        relay.addr,
        "/products/1?status=404",
        &format!("Origin: {SHOP}"),
    )
    .await;
    assert_eq!(res.status, 404);
    assert_eq!(res.header("access-control-allow-origin"), Some(SHOP));
    relay.stop().await;
    let dead = dead_addr().await;
    let origins = [SHOP.to_string()];
    let policy = CorsPolicy::new(&origins, &[], &[], 0, true).unwrap();
    let failing =
        crate::support::relay(config(&format!("http://{dead}"), |c| c.cors = Some(policy))).await;
    let res = get(failing.addr, "/products", &format!("Origin: {SHOP}")).await;
    assert_eq!(res.status, 502);
    assert_eq!(res.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    failing.stop().await;
}

#[tokio::test]
async fn the_wildcard_allows_every_origin() {
    let (_up, relay) = setup(&["*"], false).await;
    let res = send(
        relay.addr,
        "OPTIONS",
        "/products",
        &preflight("https://anyone.example", "GET", "x-api-key"),
        b"",
    )
    .await;
    assert_eq!(res.status, 204);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    let res = get(relay.addr, "/products", "Origin: https://anyone.example").await;
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert!(res.header("vary").is_none());
    relay.stop().await;
}

#[tokio::test]
async fn a_browsers_revalidation_passes_through_with_cors_headers() {
    let (up, relay) = setup(&[SHOP], false).await;
    let origin = format!("Origin: {SHOP}");
    let res = get(relay.addr, "/products?etag=v1", &origin).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("etag"), Some("\"v1\""));
    assert_eq!(res.header("cache-control"), Some("private, max-age=0"));
    assert_eq!(res.header("access-control-allow-origin"), Some(SHOP));
    assert!(!res.body.is_empty());

    // The conditional request goes up unchanged; the 304 comes back with no body, the
    // same validators, and the CORS headers the browser needs to use its cached copy.
    let res = get(
        relay.addr,
        "/products?etag=v1",
        &format!("{origin}\nIf-None-Match: \"v1\""),
    )
    .await;
    assert_eq!(res.status, 304, "{}", res.body_str());
    assert!(res.body.is_empty());
    assert_eq!(res.header("etag"), Some("\"v1\""));
    assert_eq!(res.header("cache-control"), Some("private, max-age=0"));
    assert_eq!(res.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(res.header("vary"), Some("Origin"));
    assert_eq!(up.last().headers["if-none-match"], "\"v1\"");

    // A tag that no longer matches: the full answer again.
    let res = get(
        relay.addr,
        "/products?etag=v2",
        &format!("{origin}\nIf-None-Match: \"v1\""),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("etag"), Some("\"v2\""));
    assert!(!res.body.is_empty());
    relay.stop().await;
}

#[tokio::test]
async fn a_preflight_and_the_call_after_it_share_one_keep_alive_connection() {
    let (up, relay) = setup(&[SHOP], false).await;
    let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    // What a browser sends: the preflight, then the call itself on the same connection.
    let requests = format!(
        "OPTIONS /products HTTP/1.1\r\nHost: relay\r\nOrigin: {SHOP}\r\n\
         Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-api-key\r\n\r\n\
         GET /products HTTP/1.1\r\nHost: relay\r\nOrigin: {SHOP}\r\nx-api-key: k\r\n\
         Connection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, requests.as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf),
    )
    .await;
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("the preflight's answer")
        + 4;
    let first = parse_response(&buf[..end]);
    assert_eq!(first.status, 204);
    assert_eq!(first.header("access-control-allow-origin"), Some(SHOP));
    assert!(first.header("x-request-id").is_some());
    assert!(first.header("connection").is_none(), "kept alive");
    let second = parse_response(&buf[end..]);
    assert_eq!(second.status, 200, "{}", second.body_str());
    assert_eq!(second.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(up.count(), 1, "only the call reaches the upstream");
    assert_eq!(up.last().method, "GET");
    assert!(up.last().headers.get("x-api-key").is_none());
    relay.stop().await;
}
