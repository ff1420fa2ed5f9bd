//! Admission on both HTTP paths: every case of one table is sent as raw bytes over
//! loopback three times, once on the relay's own HTTP/1.1 path and twice in forms the
//! relay hands to the general path (hyper): as HTTP/1.0, and with an absolute-form
//! target. Each path must give the case's expected answer, and the same answer as the
//! others: status, JSON body, `content-type`, CORS headers, and whether (and as what)
//! the request reached the upstream. Where hyper's parser refuses a request before the
//! relay sees it, the general path's answer is hyper's plain 400 and only the status
//! is compared.

use crate::support::*;
use shopgen_relay_runtime::AllowedInvokers;
use shopgen_relay_runtime::CorsPolicy;
use shopgen_relay_runtime::{Method, PublicRoute};

const GATEWAY: &str = "shop-api-gateway@acme.iam.gserviceaccount.com";
const SHOP: &str = "https://shop.example.com";
/// The body limit the relay under test runs with.
const LIMIT: usize = 64;

/// The suite's routes and one whose callers sign in with a user token.
static ROUTES: &[PublicRoute] = &[
    PublicRoute::new(Method::Get, "/products", "listProducts"),
    PublicRoute::new(Method::Get, "/products/{id}", "getProduct"),
    PublicRoute::new(Method::Post, "/products/{id}/reviews", "createReview"),
    PublicRoute::new(Method::Head, "/products", "headProducts"),
    PublicRoute::new(Method::Get, "/account/orders", "listMyOrders").user_token(),
];

/// Headers the upstream may see only as a case expects: the identity headers, and the
/// caller's tokens (never forwarded).
const IDENTITY: &[&str] = &[
    "authorization",
    "x-serverless-authorization",
    "x-forwarded-authorization",
    "x-apigateway-api-userinfo",
    "x-endpoint-api-userinfo",
    "x-goog-iap-jwt-assertion",
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
];

/// How a request is put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// HTTP/1.1, origin-form target: the relay's own path.
    Own,
    /// HTTP/1.0: the general path.
    Http10,
    /// HTTP/1.1 with an absolute-form target: the general path.
    Absolute,
}

const FORMS: [Form; 3] = [Form::Own, Form::Http10, Form::Absolute];

/// Who the request says it comes from.
#[derive(Debug, Clone, Copy)]
enum Caller {
    /// API Gateway's account, in `Authorization`.
    Gateway,
    /// API Gateway's account, in `X-Serverless-Authorization`.
    GatewayServerless,
    /// Another account Cloud Run let in (a project Owner, say).
    Other,
    /// A forged gateway token in `Authorization`, next to the real (other) token Cloud
    /// Run checked in `X-Serverless-Authorization`.
    Forged,
    /// No token at all.
    Nobody,
}

/// What the relay must do with a case.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Forward it: the upstream receives this target.
    Forward(&'static str),
    /// Answer it itself with this status and (for errors) this error code.
    Answer(u16, Option<&'static str>),
}

struct Case {
    name: &'static str,
    method: &'static str,
    target: &'static str,
    caller: Caller,
    /// Extra header lines.
    headers: &'static [&'static str],
    body: &'static [u8],
    expect: Expect,
    /// The [`IDENTITY`] headers the upstream receives when it is forwarded (in any order).
    identity: &'static [(&'static str, &'static str)],
    /// Whether the answer carries `access-control-allow-origin`.
    cors: bool,
    /// hyper's parser, in front of the general path, refuses the request (a plain 400)
    /// before the relay sees it; the own path must refuse it too.
    hyper_refuses: bool,
}

const fn case(name: &'static str, method: &'static str, target: &'static str) -> Case {
    Case {
        name,
        method,
        target,
        caller: Caller::Gateway,
        headers: &[],
        body: b"",
        expect: Expect::Answer(0, None),
        identity: &[],
        cors: false,
        hyper_refuses: false,
    }
}

impl Case {
    const fn caller(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }
    const fn headers(mut self, headers: &'static [&'static str]) -> Self {
        self.headers = headers;
        self
    }
    const fn body(mut self, body: &'static [u8]) -> Self {
        self.body = body;
        self
    }
    const fn forward(mut self, target: &'static str) -> Self {
        self.expect = Expect::Forward(target);
        self
    }
    const fn answer(mut self, status: u16, code: Option<&'static str>) -> Self {
        self.expect = Expect::Answer(status, code);
        self
    }
    const fn identity(mut self, identity: &'static [(&'static str, &'static str)]) -> Self {
        self.identity = identity;
        self
    }
    const fn cors(mut self) -> Self {
        self.cors = true;
        self
    }
    const fn hyper_refuses(mut self) -> Self {
        self.hyper_refuses = true;
        self
    }
}

const ORIGIN: &str = "Origin: https://shop.example.com";
const PREFLIGHT_GET: &[&str] = &[ORIGIN, "Access-Control-Request-Method: GET"];

/// The user's token as API Gateway passes it on, and the verified claims.
const USER: &str = "X-Forwarded-Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln";
const USER_TOKEN: (&str, &str) = (
    "x-forwarded-authorization",
    "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln",
);
const USERINFO: &str = "X-Apigateway-Api-Userinfo: eyJzdWIiOiJ1MSJ9";
const USER_CLAIMS: (&str, &str) = ("x-apigateway-api-userinfo", "eyJzdWIiOiJ1MSJ9");
/// Identity headers of other Google front ends, which the relay never forwards.
const OTHER_FRONT_ENDS: [&str; 4] = [
    "X-Endpoint-Api-Userinfo: eyJzdWIiOiJhZG1pbiJ9",
    "X-Goog-Iap-Jwt-Assertion: eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    "X-Goog-Authenticated-User-Email: accounts.google.com:admin@example.com",
    "X-Goog-Authenticated-User-Id: accounts.google.com:1",
];

fn cases() -> Vec<Case> {
    let long_path: &'static str = Box::leak(format!("/products/{}", "a".repeat(2100)).into());
    let long_query: &'static str = Box::leak(format!("/products?q={}", "q".repeat(9000)).into());
    vec![
        // CORS preflights on public paths: answered by the relay, whoever asks.
        case("preflight, allowed origin", "OPTIONS", "/products")
            .headers(PREFLIGHT_GET)
            .caller(Caller::Nobody)
            .answer(204, None)
            .cors(),
        case("preflight, other origin", "OPTIONS", "/products")
            .headers(&[
                "Origin: https://evil.example",
                "Access-Control-Request-Method: GET",
            ])
            .answer(403, Some("cors_rejected")),
        case("preflight, method the path lacks", "OPTIONS", "/products")
            .headers(&[ORIGIN, "Access-Control-Request-Method: DELETE"])
            .answer(403, Some("cors_rejected")),
        case("plain OPTIONS on a public path", "OPTIONS", "/products").answer(204, None),
        case("preflight on an unlisted path", "OPTIONS", "/orders")
            .headers(PREFLIGHT_GET)
            .answer(404, Some("not_found")),
        case(
            "preflight on an unlisted path, no token",
            "OPTIONS",
            "/orders",
        )
        .headers(PREFLIGHT_GET)
        .caller(Caller::Nobody)
        .answer(403, Some("forbidden")),
        // The route table.
        case("unknown route", "GET", "/orders").answer(404, Some("not_found")),
        case("method the path lacks", "POST", "/products").answer(404, Some("not_found")),
        case("HEAD where only GET is public", "HEAD", "/products/1").answer(404, None),
        case("unlisted method", "TRACE", "/products").answer(404, Some("not_found")),
        case("dot segment", "GET", "/products/../admin").answer(400, Some("invalid_path")),
        case("encoded slash", "GET", "/products/1%2F2").answer(400, Some("invalid_path")),
        case("empty segment", "GET", "/products//reviews").answer(400, Some("invalid_path")),
        case("path too long", "GET", long_path).answer(414, Some("uri_too_long")),
        // The caller.
        case("gateway in Authorization", "GET", "/products/7").forward("/products/7"),
        case(
            "gateway in X-Serverless-Authorization",
            "GET",
            "/products/7",
        )
        .caller(Caller::GatewayServerless)
        .forward("/products/7"),
        case("another caller", "GET", "/products/7")
            .caller(Caller::Other)
            .answer(403, Some("forbidden")),
        case("no token", "GET", "/products/7")
            .caller(Caller::Nobody)
            .headers(&[ORIGIN])
            .answer(403, Some("forbidden")),
        case("forged Authorization", "GET", "/products/7")
            .caller(Caller::Forged)
            .answer(403, Some("forbidden")),
        case("no token, unknown route", "GET", "/orders")
            .caller(Caller::Nobody)
            .answer(403, Some("forbidden")),
        case("no token, invalid path", "GET", "/products/../admin")
            .caller(Caller::Nobody)
            .answer(403, Some("forbidden")),
        // The health check needs no token.
        case("health check, no token", "GET", "/healthz")
            .caller(Caller::Nobody)
            .answer(200, None),
        case("HEAD health check, no token", "HEAD", "/healthz")
            .caller(Caller::Nobody)
            .answer(200, None),
        case("health check with a query", "GET", "/healthz?x=1")
            .caller(Caller::Nobody)
            .answer(200, None),
        case("POST to the health path", "POST", "/healthz").answer(404, Some("not_found")),
        case("POST to the health path, no token", "POST", "/healthz")
            .caller(Caller::Nobody)
            .answer(403, Some("forbidden")),
        // Limits on an admitted route.
        case("query too long", "GET", long_query)
            .headers(&[ORIGIN])
            .answer(414, Some("uri_too_long"))
            .cors(),
        case(
            "declared body over the limit",
            "POST",
            "/products/7/reviews",
        )
        .headers(&[ORIGIN])
        .body(&[b'x'; LIMIT + 1])
        .answer(413, Some("payload_too_large"))
        .cors(),
        case("body at the limit", "POST", "/products/7/reviews")
            .body(&[b'x'; LIMIT])
            .forward("/products/7/reviews"),
        // Admitted.
        case("GET", "GET", "/products?limit=5").forward("/products?limit=5"),
        case("GET from an allowed page", "GET", "/products")
            .headers(&[ORIGIN])
            .forward("/products")
            .cors(),
        case("POST with a body", "POST", "/products/7/reviews")
            .body(b"{\"rating\":5}")
            .forward("/products/7/reviews"),
        case("HEAD route", "HEAD", "/products").forward("/products"),
        // A fragment is not part of the target (hyper drops it): what is decided on and
        // forwarded is the target before it.
        case("fragment", "GET", "/products#top").forward("/products"),
        case("fragment after a query", "GET", "/products?limit=5#top").forward("/products?limit=5"),
        case(
            "fragment hiding a dot segment",
            "GET",
            "/products#/../admin",
        )
        .forward("/products"),
        case("fragment hiding a route", "GET", "/orders#/../products")
            .answer(404, Some("not_found")),
        // Characters URL writers always escape.
        case("quote in the query", "GET", "/products?q=\"a\"")
            .answer(400, Some("invalid_path"))
            .hyper_refuses(),
        case(
            "angle brackets in the query, no token",
            "GET",
            "/products?q=<a>",
        )
        .caller(Caller::Nobody)
        .answer(400, Some("invalid_path"))
        .hyper_refuses(),
        case("backtick in the path", "GET", "/products/`1`")
            .answer(400, Some("invalid_path"))
            .hyper_refuses(),
        case("quote in the path", "GET", "/products/\"1\"").answer(400, Some("invalid_path")),
        case("brace in the path, no token", "GET", "/products/{x}")
            .caller(Caller::Nobody)
            .answer(400, Some("invalid_path")),
        case(
            "backtick and braces in the query",
            "GET",
            "/products?q=`{a}`",
        )
        .forward("/products?q=`{a}`"),
        case(
            "the key parameter is not forwarded",
            "GET",
            "/products?key=k&limit=5",
        )
        .forward("/products?limit=5"),
        // A route that takes a user token: exactly one passed on by the gateway.
        case("signed-in user", "GET", "/account/orders")
            .headers(&[USER, USERINFO])
            .forward("/account/orders")
            .identity(&[USER_TOKEN, USER_CLAIMS]),
        case("user token without claims", "GET", "/account/orders")
            .headers(&[USER])
            .forward("/account/orders")
            .identity(&[USER_TOKEN]),
        case("no user token", "GET", "/account/orders")
            .headers(&[ORIGIN, USERINFO])
            .answer(401, Some("unauthenticated"))
            .cors(),
        case("user token not bearer", "GET", "/account/orders")
            .headers(&["X-Forwarded-Authorization: Basic dXNlcjpwdw=="])
            .answer(401, Some("unauthenticated")),
        case("two user tokens", "GET", "/account/orders")
            .headers(&[
                USER,
                "X-Forwarded-Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln",
                USERINFO,
            ])
            .answer(400, Some("duplicate_identity")),
        case("two sets of claims", "GET", "/account/orders")
            .headers(&[
                ORIGIN,
                USER,
                USERINFO,
                "X-Apigateway-Api-Userinfo: eyJzdWIiOiJhZG1pbiJ9",
            ])
            .answer(400, Some("duplicate_identity"))
            .cors(),
        case(
            "signed-in user with other front ends' headers",
            "GET",
            "/account/orders",
        )
        .headers(&[
            OTHER_FRONT_ENDS[0],
            USER,
            OTHER_FRONT_ENDS[1],
            USERINFO,
            OTHER_FRONT_ENDS[2],
            OTHER_FRONT_ENDS[3],
        ])
        .forward("/account/orders")
        .identity(&[USER_TOKEN, USER_CLAIMS]),
        case("user token, another caller", "GET", "/account/orders")
            .caller(Caller::Other)
            .headers(&[USER, USERINFO])
            .answer(403, Some("forbidden")),
        case(
            "preflight on a user-token route",
            "OPTIONS",
            "/account/orders",
        )
        .headers(PREFLIGHT_GET)
        .caller(Caller::Nobody)
        .answer(204, None)
        .cors(),
        // Any other route: the identity headers never reach the upstream.
        case(
            "forged user on a route without tokens",
            "GET",
            "/products/7",
        )
        .headers(&[
            USER,
            USERINFO,
            OTHER_FRONT_ENDS[0],
            OTHER_FRONT_ENDS[1],
            OTHER_FRONT_ENDS[2],
            OTHER_FRONT_ENDS[3],
        ])
        .forward("/products/7"),
        case(
            "forged users in any case on a route without tokens",
            "GET",
            "/products",
        )
        .headers(&[
            "x-forwarded-authorization: Bearer a",
            "X-FORWARDED-AUTHORIZATION: Bearer b",
            "x-apigateway-api-userinfo: e30",
            "X-Apigateway-API-Userinfo: e30",
        ])
        .forward("/products"),
        case("forged user in a POST", "POST", "/products/7/reviews")
            .headers(&[USER, USERINFO])
            .body(b"{}")
            .forward("/products/7/reviews"),
    ]
}

/// The request's bytes in `form` (each request closes its connection).
fn request(form: Form, case: &Case) -> Vec<u8> {
    let (target, version) = match form {
        Form::Own => (case.target.to_owned(), "HTTP/1.1"),
        Form::Http10 => (case.target.to_owned(), "HTTP/1.0"),
        Form::Absolute => (format!("http://relay.test{}", case.target), "HTTP/1.1"),
    };
    let mut head = format!("{} {target} {version}\r\nHost: relay.test\r\n", case.method);
    let gateway = bearer(GATEWAY, "111");
    let other = bearer("owner@example.com", "42");
    match case.caller {
        Caller::Gateway => head.push_str(&format!("Authorization: {gateway}\r\n")),
        Caller::GatewayServerless => {
            head.push_str(&format!("X-Serverless-Authorization: {gateway}\r\n"));
        }
        Caller::Other => head.push_str(&format!("Authorization: {other}\r\n")),
        Caller::Forged => head.push_str(&format!(
            "Authorization: {gateway}\r\nX-Serverless-Authorization: {other}\r\n"
        )),
        Caller::Nobody => {}
    }
    for line in case.headers {
        head.push_str(line);
        head.push_str("\r\n");
    }
    if !case.body.is_empty() || case.method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", case.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(case.body);
    bytes
}

/// What a client and the upstream saw of one request.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    content_type: Option<String>,
    cache_control: Option<String>,
    /// The headers that carry a CORS or routing decision.
    decision_headers: Vec<(String, String)>,
    body: String,
    /// The target the upstream received, if the request reached it.
    forwarded: Option<String>,
    /// The [`IDENTITY`] headers the upstream received, sorted, if it was reached.
    identity: Vec<(String, String)>,
}

async fn send_case(relay: &RunningRelay, up: &Upstream, form: Form, case: &Case) -> Seen {
    let before = up.count();
    let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let bytes = request(form, case);
    // The relay may answer (413) and close before reading the body.
    let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &bytes).await;
    let res = read_response(&mut stream).await;
    let after = up.count();
    assert!(after - before <= 1, "{}: sent more than once", case.name);
    let recorded = (after > before).then(|| up.last());
    let mut identity = recorded.as_ref().map_or_else(Vec::new, |rec| {
        rec.headers
            .iter()
            .filter(|(n, _)| IDENTITY.contains(&n.as_str()))
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect()
    });
    identity.sort();
    let forwarded = recorded.map(|rec| rec.target);
    let mut decision_headers: Vec<(String, String)> = res
        .headers
        .iter()
        .filter(|(n, _)| {
            n.starts_with("access-control-")
                || n == "vary"
                || n == "allow"
                || n == "www-authenticate"
        })
        .cloned()
        .collect();
    decision_headers.sort();
    Seen {
        status: res.status,
        content_type: res.header("content-type").map(str::to_owned),
        cache_control: res.header("cache-control").map(str::to_owned),
        decision_headers,
        body: res.body_str().to_owned(),
        forwarded,
        identity,
    }
}

#[tokio::test]
async fn every_case_gets_the_same_decision_on_both_paths() {
    let up = upstream(0).await;
    let policy = CorsPolicy::new(
        &[SHOP.to_string()],
        &["x-api-key".into(), "content-type".into()],
        &["x-request-id".into()],
        600,
        false,
    )
    .unwrap();
    let relay = relay_with(
        ROUTES,
        config(&up.url(), |c| {
            c.cors = Some(policy);
            c.allowed_invokers = AllowedInvokers::parse(&format!("{GATEWAY},111"));
            c.max_body_bytes = LIMIT as u64;
        }),
    )
    .await;
    let mut failures = Vec::new();
    for case in cases() {
        let mut seen = Vec::new();
        for form in FORMS {
            let s = send_case(&relay, &up, form, &case).await;
            let problem = if case.hyper_refuses && form != Form::Own {
                (s.status != 400 || s.forwarded.is_some())
                    .then(|| "expected hyper's 400".to_owned())
            } else {
                check(&case, &s)
            };
            if let Some(problem) = problem {
                failures.push(format!("{} ({form:?}): {problem}\n    {s:?}", case.name));
            }
            seen.push((form, s));
        }
        let (_, own) = &seen[0];
        for (form, other) in &seen[1..] {
            let differs = if case.hyper_refuses {
                other.status != own.status
            } else {
                other != own
            };
            if differs {
                failures.push(format!(
                    "{}: {form:?} differs from the own path\n    own:   {own:?}\n    {form:?}: {other:?}",
                    case.name
                ));
            }
        }
    }
    relay.stop().await;
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// What is wrong with `seen` for `case`, if anything.
fn check(case: &Case, seen: &Seen) -> Option<String> {
    match case.expect {
        Expect::Forward(target) => {
            if seen.status != 200 || seen.forwarded.as_deref() != Some(target) {
                return Some(format!("expected {target} forwarded"));
            }
            let mut want: Vec<(String, String)> = case
                .identity
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            want.sort();
            if seen.identity != want {
                return Some(format!("expected the upstream to see {want:?}"));
            }
        }
        Expect::Answer(status, code) => {
            if seen.status != status {
                return Some(format!("expected {status}"));
            }
            if seen.forwarded.is_some() {
                return Some("reached the upstream".into());
            }
            let json: Option<serde_json::Value> = serde_json::from_str(&seen.body).ok();
            let got = json
                .as_ref()
                .and_then(|v| v["error"]["code"].as_str())
                .map(str::to_owned);
            if case.method != "HEAD" && got.as_deref() != code {
                return Some(format!("expected error code {code:?}"));
            }
            if code.is_some() && seen.content_type.as_deref() != Some("application/json") {
                return Some("an error without content-type: application/json".into());
            }
            let challenge = seen
                .decision_headers
                .iter()
                .find(|(n, _)| n == "www-authenticate");
            let want = (status == 401).then_some("Bearer");
            if challenge.map(|(_, v)| v.as_str()) != want {
                return Some(format!("expected www-authenticate {want:?}"));
            }
        }
    }
    let has_cors = seen
        .decision_headers
        .iter()
        .any(|(n, _)| n == "access-control-allow-origin");
    (has_cors != case.cors).then(|| format!("CORS headers: expected {}", case.cors))
}
