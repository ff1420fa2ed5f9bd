//! Header rules over real HTTP, one test per rule: what the upstream receives and what
//! the client gets back.

use crate::support::*;

async fn setup() -> (Upstream, RunningRelay) {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |_| {})).await;
    (up, relay)
}

/// Sends `GET /products/1` with `extra` header lines; gives the upstream's view.
async fn upstream_view(extra: &str) -> Recorded {
    let (up, relay) = setup().await;
    let res = get(relay.addr, "/products/1", extra).await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    relay.stop().await;
    up.last()
}

fn values(rec: &Recorded, name: &str) -> Vec<String> {
    rec.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn end_to_end_headers_are_forwarded_unchanged() {
    let rec = upstream_view(
        "Accept: application/json\nUser-Agent: test/1\nX-Custom: a\nX-Custom: b\n\
         X-Forwarded-Authorization: Bearer client\nCookie: c=1\nX-Cloud-Trace-Context: abc/1",
    )
    .await;
    assert_eq!(values(&rec, "accept"), ["application/json"]);
    assert_eq!(values(&rec, "user-agent"), ["test/1"]);
    assert_eq!(values(&rec, "x-custom"), ["a", "b"]);
    // An identity header, on a route that takes no user token: dropped (the cases are in
    // `admission.rs`).
    assert!(values(&rec, "x-forwarded-authorization").is_empty());
    assert_eq!(values(&rec, "cookie"), ["c=1"]);
    assert_eq!(values(&rec, "x-cloud-trace-context"), ["abc/1"]);
}

#[tokio::test]
async fn connection_and_the_headers_it_names_are_stripped() {
    let rec =
        upstream_view("Connection: x-secret-hop, keep-alive\nX-Secret-Hop: 1\nX-Kept: 1").await;
    assert!(values(&rec, "x-secret-hop").is_empty());
    assert!(
        values(&rec, "connection")
            .iter()
            .all(|v| !v.contains("x-secret-hop"))
    );
    assert_eq!(values(&rec, "x-kept"), ["1"]);
}

#[tokio::test]
async fn fixed_hop_by_hop_headers_are_stripped() {
    let rec = upstream_view(
        "Keep-Alive: timeout=5\nTE: trailers\nTrailer: X-Checksum\nUpgrade: websocket\n\
         Proxy-Authorization: Basic Zm9vOmJhcg==\nProxy-Connection: keep-alive\nProxy-Whatever: 1",
    )
    .await;
    for name in [
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "proxy-whatever",
    ] {
        assert!(values(&rec, name).is_empty(), "{name} reached the upstream");
    }
}

#[tokio::test]
async fn a_chunked_body_arrives_whole_and_transfer_encoding_is_the_relays_own() {
    let (up, relay) = setup().await;
    let head = "PUT /products/5 HTTP/1.1\nHost: relay.test\nTransfer-Encoding: chunked";
    let res = raw(relay.addr, head, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    let rec = up.last();
    assert_eq!(&rec.body[..], b"hello world");
    assert!(values(&rec, "content-length").is_empty() || values(&rec, "content-length") == ["11"]);
    relay.stop().await;
}

#[tokio::test]
async fn the_api_key_header_is_stripped_in_any_case() {
    let rec = upstream_view("X-API-KEY: secret-key").await;
    assert!(values(&rec, "x-api-key").is_empty());
    let rec = upstream_view("x-api-key: secret-key").await;
    assert!(values(&rec, "x-api-key").is_empty());
}

#[tokio::test]
async fn the_api_key_query_parameter_is_stripped() {
    let (up, relay) = setup().await;
    let res = get(
        relay.addr,
        "/products/1?limit=5&key=secret-key&offset=1",
        "",
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    assert_eq!(up.last().target, "/products/1?limit=5&offset=1");
    let res = get(relay.addr, "/products/1?key=secret-key", "").await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    assert_eq!(up.last().target, "/products/1");
    let res = get(relay.addr, "/products/1?monkey=1", "").await;
    assert_eq!(res.status, 200, "{}", res.body_str());
    assert_eq!(up.last().target, "/products/1?monkey=1");
    relay.stop().await;
}

#[tokio::test]
async fn a_configured_api_key_header_is_stripped_instead() {
    let up = upstream(0).await;
    let relay = relay(config(&up.url(), |c| {
        c.api_key_header = "x-goog-api-key".parse().unwrap();
    }))
    .await;
    get(
        relay.addr,
        "/products",
        "X-Goog-Api-Key: k\nX-Api-Key: other",
    )
    .await;
    let rec = up.last();
    assert!(values(&rec, "x-goog-api-key").is_empty());
    assert_eq!(values(&rec, "x-api-key"), ["other"]);
    relay.stop().await;
}

#[tokio::test]
async fn authorization_is_stripped() {
    let rec = upstream_view("Authorization: Bearer google-signed-token").await;
    assert!(values(&rec, "authorization").is_empty());
}

#[tokio::test]
async fn host_is_the_upstreams_and_x_forwarded_host_the_clients() {
    let (up, relay) = setup().await;
    get(relay.addr, "/products", "").await;
    let rec = up.last();
    assert_eq!(values(&rec, "host"), [up.addr.to_string()]);
    assert_eq!(values(&rec, "x-forwarded-host"), ["relay.test"]);
    // An existing X-Forwarded-Host (set by the front end) is kept.
    get(
        relay.addr,
        "/products",
        "X-Forwarded-Host: api.shop.example",
    )
    .await;
    assert_eq!(values(&up.last(), "x-forwarded-host"), ["api.shop.example"]);
    relay.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_gets_the_peer_appended() {
    let rec = upstream_view("").await;
    assert_eq!(values(&rec, "x-forwarded-for"), ["127.0.0.1"]);
    let rec = upstream_view("X-Forwarded-For: 203.0.113.7, 10.0.0.1").await;
    assert_eq!(
        values(&rec, "x-forwarded-for"),
        ["203.0.113.7, 10.0.0.1, 127.0.0.1"]
    );
    let rec = upstream_view("X-Forwarded-For: 203.0.113.7\nX-Forwarded-For: 198.51.100.2").await;
    assert_eq!(
        values(&rec, "x-forwarded-for"),
        ["203.0.113.7, 198.51.100.2, 127.0.0.1"]
    );
}

#[tokio::test]
async fn x_forwarded_proto_is_kept_when_sane_else_http() {
    assert_eq!(
        values(&upstream_view("").await, "x-forwarded-proto"),
        ["http"]
    );
    assert_eq!(
        values(
            &upstream_view("X-Forwarded-Proto: https").await,
            "x-forwarded-proto"
        ),
        ["https"]
    );
    assert_eq!(
        values(
            &upstream_view("X-Forwarded-Proto: gopher").await,
            "x-forwarded-proto"
        ),
        ["http"]
    );
}

#[tokio::test]
async fn a_sane_request_id_is_kept_end_to_end() {
    let (up, relay) = setup().await;
    let res = get(relay.addr, "/products", "X-Request-Id: abc-123_DEF.4:5").await;
    assert_eq!(res.header("x-request-id"), Some("abc-123_DEF.4:5"));
    assert_eq!(values(&up.last(), "x-request-id"), ["abc-123_DEF.4:5"]);
    relay.stop().await;
}

#[tokio::test]
async fn a_missing_or_insane_request_id_is_replaced_by_a_generated_one() {
    let (up, relay) = setup().await;
    let long = "a".repeat(129);
    for extra in [
        String::new(),
        "X-Request-Id: has space".to_owned(),
        "X-Request-Id: <script>".to_owned(),
        format!("X-Request-Id: {long}"),
        "X-Request-Id: a\nX-Request-Id: b".to_owned(),
    ] {
        let res = get(relay.addr, "/products", &extra).await;
        let id = res
            .header("x-request-id")
            .expect("no request id")
            .to_owned();
        assert_eq!(id.len(), 32, "{extra:?} gave {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(values(&up.last(), "x-request-id"), [id]);
    }
    // Fresh ids differ.
    let a = get(relay.addr, "/products", "").await;
    let b = get(relay.addr, "/products", "").await;
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
    // Relay-made errors carry the id too.
    let res = get(relay.addr, "/nope", "X-Request-Id: err-1").await;
    assert_eq!(res.status, 404);
    assert_eq!(res.header("x-request-id"), Some("err-1"));
    relay.stop().await;
}

#[tokio::test]
async fn response_hop_by_hop_headers_are_stripped_and_the_rest_passes() {
    let (_up, relay) = setup().await;
    let res = get(relay.addr, "/products", "").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-upstream"), Some("yes"));
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("keep-alive"), None);
    assert_eq!(res.header("proxy-foo"), None);
    assert_eq!(
        res.header("x-resp-hop"),
        None,
        "a header named by Connection passed"
    );
    relay.stop().await;
}

#[tokio::test]
async fn request_bodies_are_forwarded() {
    let (up, relay) = setup().await;
    let body = br#"{"name":"Ann","rate":5}"#;
    let res = send(
        relay.addr,
        "POST",
        "/products/3/reviews",
        "Content-Type: application/json",
        body,
    )
    .await;
    assert_eq!(res.status, 200);
    let rec = up.last();
    assert_eq!(&rec.body[..], body);
    assert_eq!(values(&rec, "content-length"), [body.len().to_string()]);
    assert_eq!(values(&rec, "content-type"), ["application/json"]);
    relay.stop().await;
}

/// `FORWARD_AUTHORIZATION` (an existing service that checks its users' tokens itself),
/// on the relay's own HTTP/1.1 path and on the general path (HTTP/1.0): the one
/// `X-Forwarded-Authorization` arrives as `Authorization`; the gateway's token, the API
/// key and `X-Forwarded-Authorization` itself never do; with two copies or none, no
/// `Authorization`. Off (the default), none in any case.
#[tokio::test]
async fn forward_authorization_hands_the_clients_credential_over_on_both_paths() {
    let gateway = "Authorization: Bearer gateway-id-token\nX-Api-Key: k-1";
    let cases: [(&str, bool, Vec<&str>); 5] = [
        (
            "X-Forwarded-Authorization: Bearer user-1",
            true,
            vec!["Bearer user-1"],
        ),
        (
            "x-forwarded-authorization: Basic dXNlcjpwdw==",
            true,
            vec!["Basic dXNlcjpwdw=="],
        ),
        (
            "X-Forwarded-Authorization: Bearer user-1\nX-Forwarded-Authorization: Bearer forged",
            true,
            vec![],
        ),
        ("X-Other: 1", true, vec![]),
        ("X-Forwarded-Authorization: Bearer user-1", false, vec![]),
    ];
    for (extra, on, expected) in cases {
        let up = upstream(0).await;
        let relay = relay(config(&up.url(), |c| c.forward_authorization = on)).await;
        for version in ["HTTP/1.1", "HTTP/1.0"] {
            let head = format!("GET /products/1 {version}\nHost: relay.test\n{gateway}\n{extra}");
            let res = raw(relay.addr, &head, b"").await;
            assert_eq!(res.status, 200, "{version} {extra}: {}", res.body_str());
            let rec = up.last();
            assert_eq!(
                values(&rec, "authorization"),
                expected,
                "{version}, forward_authorization {on}, {extra}"
            );
            assert!(
                values(&rec, "x-forwarded-authorization").is_empty(),
                "{version} {extra}"
            );
            assert!(values(&rec, "x-api-key").is_empty(), "{version} {extra}");
        }
        relay.stop().await;
    }
}
