//! Admission: what the relay does with a request, decided from its head alone.
//!
//! Takes a request head as either HTTP path parsed it ([`Head`]: method, raw path and
//! query, header fields, declared body length), the route table and the configuration;
//! gives an [`Admission`]: forward on a public route, answer the health check, answer a
//! CORS preflight, or refuse with one of the relay's errors. It is a plain function,
//! with no I/O and no state, and both HTTP paths (the relay's own, `conn`, and the
//! general one, [`crate::proxy`]) call it for every request and only turn its decision
//! into bytes; a rule added here (an identity rule, say) holds on both.
//! `tests/suite/admission.rs` sends one table of cases through both paths.
//!
//! The steps, in order (the first that decides wins):
//!
//! 1. **The target's characters.** A path with `"`, `<`, `>`, `` ` ``, `{` or `}`, or a
//!    query with `"`, `<` or `>`, is refused (400 `invalid_path`): URL writers always
//!    escape them (the WHATWG URL standard's percent-encode sets), and HTTP parsers
//!    disagree about them (hyper's, on the general path, refuses some before the relay
//!    sees the request), so both paths refuse them first, whoever calls.
//! 2. **CORS preflight.** An `OPTIONS` on a public path, with a CORS policy, is answered
//!    by the relay as [`CorsPolicy::preflight`] decides, whoever calls: a preflight
//!    never reaches the upstream, browsers send it without credentials, and the answer
//!    tells no more than API Gateway's keyless `options` operation does.
//! 3. **The caller.** With `ALLOWED_INVOKERS`, any request but the health check whose
//!    verified caller is not listed is refused (403 `forbidden`, see [`crate::caller`]),
//!    before the route table says anything about the path.
//! 4. **The route table** ([`RouteTable::classify`]): the health check; 404 for no
//!    public route; 400 for an ambiguous path; 414 for a long one.
//! 5. **The user**, on a route that takes a user token
//!    ([`PublicRoute::takes_user_token`]) only: API Gateway has verified the user's
//!    token and passes it on in `X-Forwarded-Authorization` (its own token for the
//!    relay takes `Authorization`), with the verified claims in
//!    `X-Apigateway-Api-Userinfo`. More than one of either is refused (400
//!    `duplicate_identity`): the gateway sends one, so a second is a client's, and the
//!    backend must not have to choose. Then the request must carry a `Bearer`
//!    credential in `X-Forwarded-Authorization` (the scheme in any case, a token68
//!    value), else 401 `unauthenticated` (a token the gateway accepted from elsewhere,
//!    `?access_token=` say, never reaches the backend, which verifies the user from
//!    this header itself). The token is not verified here: that is the gateway's and
//!    the backend's work; this step only makes sure the backend gets exactly one to
//!    verify. What is forwarded of these headers, on this route and on others, is
//!    [`crate::headers`]'s rule.
//! 6. **The query's length**: over [`MAX_QUERY_BYTES`], 414.
//! 7. **The declared body length**: a `Content-Length` over
//!    [`RelayConfig::max_body_bytes`], 413 before a byte of it is read. (A chunked body
//!    is counted as it streams, by each path.)
//!
//! Refusals from steps 5 to 7 name the matched route, so their answers carry the CORS
//! headers a page needs to read them; the others do not.
//!
//! A fragment (`#…`) never belongs in a request target. hyper's parser drops it, and
//! the general path cannot see it; so the relay's own path reads a target the same way
//! ([`split_target`]) and forwards only what was decided on.

use crate::caller::verified_credential;
use crate::config::RelayConfig;
use crate::cors::{CorsPolicy, Preflight};
use crate::headers::{Fields, X_APIGATEWAY_API_USERINFO, X_FORWARDED_AUTHORIZATION};
use crate::reply::Reject;
use crate::route::{Method, PublicRoute, RouteTable, Verdict};

/// Longest query string the relay accepts, in bytes; longer ones get 414.
pub const MAX_QUERY_BYTES: usize = 8192;

/// What admission reads of a request, as either HTTP path parsed it.
pub struct Head<'a, F: ?Sized> {
    /// The method.
    pub method: &'a hyper::Method,
    /// The target's path, raw (never decoded), without the query (see
    /// `split_target`).
    pub path: &'a str,
    /// The query, without the `?`, when the target has one.
    pub query: Option<&'a str>,
    /// The body's length when the head says it: `Some(0)` without a body, `Some(n)` for
    /// `Content-Length: n`, `None` for a chunked body.
    pub body_len: Option<u64>,
    /// The header fields.
    pub fields: &'a F,
}

/// What the relay does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Forward it to the upstream: it is a call of this public route.
    Admit {
        /// The route it matched.
        route: &'static PublicRoute,
    },
    /// Answer the relay's health check.
    Health,
    /// Answer an `OPTIONS` on a public path locally.
    Preflight {
        /// The methods of the path's public routes, in table order.
        methods: Vec<Method>,
        /// The CORS policy's answer.
        answer: Preflight,
    },
    /// Refuse it with the relay's own error.
    Reject {
        /// Which error.
        reject: Reject,
        /// The public route the request matched, when it did (its answer then carries
        /// CORS headers).
        route: Option<&'static PublicRoute>,
        /// What the access log says about it, or empty.
        detail: &'static str,
    },
}

impl Admission {
    fn reject(reject: Reject) -> Self {
        Admission::Reject {
            reject,
            route: None,
            detail: "",
        }
    }
}

/// Decides what the relay does with a request (see the module docs for the steps).
pub fn admit<F: Fields + ?Sized>(
    routes: &RouteTable,
    config: &RelayConfig,
    head: &Head<'_, F>,
) -> Admission {
    if let Err(reason) = check_target_characters(head.path, head.query) {
        return Admission::reject(Reject::InvalidPath(reason));
    }
    if *head.method == hyper::Method::OPTIONS
        && let Some(cors) = &config.cors
        && let Some(admission) = preflight(routes, cors, head)
    {
        return admission;
    }
    let verdict = routes.classify(head.method, head.path);
    if !matches!(verdict, Verdict::Health)
        && let Some(allowed) = &config.allowed_invokers
        && !allowed.allows_token(verified_credential(head.fields))
    {
        return Admission::reject(Reject::Forbidden);
    }
    let route = match verdict {
        Verdict::Forward(route) => route,
        Verdict::Health => return Admission::Health,
        Verdict::NotFound => return Admission::reject(Reject::NotFound),
        Verdict::Invalid(reason) => return Admission::reject(Reject::InvalidPath(reason)),
        Verdict::TooLong => return Admission::reject(Reject::UriTooLong),
    };
    if route.takes_user_token()
        && let Err((reject, detail)) = check_user(head.fields)
    {
        return Admission::Reject {
            reject,
            route: Some(route),
            detail,
        };
    }
    if head.query.is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
        return Admission::Reject {
            reject: Reject::UriTooLong,
            route: Some(route),
            detail: "",
        };
    }
    if head.body_len.is_some_and(|n| n > config.max_body_bytes) {
        return Admission::Reject {
            reject: Reject::PayloadTooLarge,
            route: Some(route),
            detail: "content-length over the limit",
        };
    }
    Admission::Admit { route }
}

/// Step 5 (see the module docs): one `Bearer` credential in `X-Forwarded-Authorization`
/// and at most one `X-Apigateway-Api-Userinfo`.
fn check_user<F: Fields + ?Sized>(fields: &F) -> Result<(), (Reject, &'static str)> {
    if fields.values(&X_FORWARDED_AUTHORIZATION).nth(1).is_some() {
        return Err((
            Reject::DuplicateIdentity,
            "more than one x-forwarded-authorization",
        ));
    }
    if fields.values(&X_APIGATEWAY_API_USERINFO).nth(1).is_some() {
        return Err((
            Reject::DuplicateIdentity,
            "more than one x-apigateway-api-userinfo",
        ));
    }
    match fields.first(&X_FORWARDED_AUTHORIZATION) {
        None => Err((Reject::Unauthenticated, "no x-forwarded-authorization")),
        Some(v) if !is_bearer_credential(v) => Err((
            Reject::Unauthenticated,
            "x-forwarded-authorization is not a bearer token",
        )),
        Some(_) => Ok(()),
    }
}

/// Whether `v` is `Bearer <token68>` (RFC 6750 2.1; the scheme in any case, RFC 9110
/// 11.1).
fn is_bearer_credential(v: &[u8]) -> bool {
    let Some((scheme, rest)) = v.split_at_checked(6) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return false;
    }
    let token = rest.trim_ascii_start();
    let body_len = token.len() - token.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0
        && token[..body_len]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
}

/// The answer to an `OPTIONS` request when its path is a public one.
fn preflight<F: Fields + ?Sized>(
    routes: &RouteTable,
    cors: &CorsPolicy,
    head: &Head<'_, F>,
) -> Option<Admission> {
    let methods = routes.methods_at(head.path);
    if methods.is_empty() {
        return None;
    }
    let answer = cors.preflight(head.fields, &methods);
    Some(Admission::Preflight { methods, answer })
}

/// A request target in origin form (`/path?query#fragment`) as both HTTP paths read
/// it: the path up to the first `?`, the query after it, and nothing from the first
/// `#` on (as hyper's parser reads it).
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = target.find('#').map_or(target, |at| &target[..at]);
    match target.find('?') {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    }
}

/// Refuses the characters of step 1 (see the module docs).
fn check_target_characters(path: &str, query: Option<&str>) -> Result<(), &'static str> {
    if path
        .bytes()
        .any(|b| matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}'))
    {
        return Err("the path has a character that must be percent-encoded");
    }
    if query.is_some_and(|q| q.bytes().any(|b| matches!(b, b'"' | b'<' | b'>'))) {
        return Err("the query has a character that must be percent-encoded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hyper::HeaderMap;
    use hyper::header::{HeaderName, HeaderValue};

    use super::*;
    use crate::caller::AllowedInvokers;
    use crate::caller::test_tokens::verified_token;
    use crate::h1::{self, Framing, HeadFields};

    static ROUTES: &[PublicRoute] = &[
        PublicRoute::new(Method::Get, "/products", "listProducts"),
        PublicRoute::new(Method::Get, "/products/{id}", "getProduct"),
        PublicRoute::new(Method::Post, "/products/{id}/reviews", "createReview"),
        PublicRoute::new(Method::Get, "/account", "getAccount").user_token(),
    ];

    const GATEWAY: &str = "gateway@p.iam.gserviceaccount.com";
    const SHOP: &str = "https://shop.example.com";

    fn config() -> RelayConfig {
        let mut c = RelayConfig::new("http://10.0.0.1".parse().unwrap());
        c.max_body_bytes = 100;
        c.allowed_invokers = AllowedInvokers::parse(GATEWAY);
        c.cors = Some(
            CorsPolicy::new(&[SHOP.to_string()], &["x-api-key".into()], &[], 600, false).unwrap(),
        );
        c
    }

    /// What a case must come to, in short.
    #[derive(Debug, PartialEq, Eq)]
    enum Want {
        Admit(&'static str),
        Health,
        PreflightAllowed,
        PreflightRefused,
        PreflightPlain,
        /// The error code, and whether the answer names the route (CORS headers).
        Reject(&'static str, bool),
    }

    fn short(a: &Admission) -> Want {
        match a {
            Admission::Admit { route } => Want::Admit(route.operation_id()),
            Admission::Health => Want::Health,
            Admission::Preflight { answer, .. } => match answer {
                Preflight::Allowed(_) => Want::PreflightAllowed,
                Preflight::Refused(_) => Want::PreflightRefused,
                Preflight::Plain => Want::PreflightPlain,
            },
            Admission::Reject { reject, route, .. } => Want::Reject(reject.code(), route.is_some()),
        }
    }

    /// Decides `head` (a request line and header lines, `\n`-separated) with the
    /// header fields read both ways: parsed by the relay's own parser, and as hyper's
    /// `HeaderMap`. Both must agree.
    fn decide(config: &RelayConfig, head: &str) -> Admission {
        let routes = RouteTable::new(ROUTES).unwrap();
        let text = format!("{}\r\n\r\n", head.replace('\n', "\r\n"));
        let buf = text.as_bytes();
        let mut fields = Vec::new();
        let parsed = h1::parse_request(buf, &mut fields).unwrap().unwrap();
        let method = hyper::Method::from_bytes(parsed.method.of(buf)).unwrap();
        let target = std::str::from_utf8(parsed.target.of(buf)).unwrap();
        let (path, query) = split_target(target);
        let body_len = match parsed.framing {
            Framing::None => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked | Framing::Close => None,
        };
        let own = admit(
            &routes,
            config,
            &Head {
                method: &method,
                path,
                query,
                body_len,
                fields: &HeadFields::new(buf, &fields),
            },
        );
        let mut map = HeaderMap::new();
        for f in &fields {
            map.append(
                HeaderName::from_bytes(f.name.of(buf)).unwrap(),
                HeaderValue::from_bytes(f.value.of(buf)).unwrap(),
            );
        }
        let general = admit(
            &routes,
            config,
            &Head {
                method: &method,
                path,
                query,
                body_len,
                fields: &map,
            },
        );
        assert_eq!(own, general, "{head}: the two header views disagree");
        own
    }

    #[test]
    fn the_table() {
        let gw = format!("Authorization: {}", verified_token(GATEWAY));
        let gw_serverless = format!("X-Serverless-Authorization: {}", verified_token(GATEWAY));
        let owner = verified_token("owner@example.com");
        let forged = format!(
            "Authorization: {}\nX-Serverless-Authorization: {owner}",
            verified_token(GATEWAY)
        );
        let preflight = format!("Origin: {SHOP}\nAccess-Control-Request-Method: GET");
        let long_path = format!("/products/{}", "a".repeat(2100));
        let long_query = format!("/products?q={}", "q".repeat(MAX_QUERY_BYTES));
        let just_query = format!("/products?q={}", "q".repeat(MAX_QUERY_BYTES - 2));
        let at_limit = format!("{gw}\nContent-Length: 100");
        let over_limit = format!("{gw}\nContent-Length: 101");
        let chunked = format!("{gw}\nTransfer-Encoding: chunked");
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let user = |lines: &str| leak(format!("{gw}\n{lines}"));
        const XFA: &str = "X-Forwarded-Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln";
        const INFO: &str = "X-Apigateway-Api-Userinfo: eyJzdWIiOiJ1MSJ9";
        let signed_in = user(&format!("{XFA}\n{INFO}"));
        let long_account_query = format!("/account?q={}", "q".repeat(MAX_QUERY_BYTES + 1));
        let cases: Vec<(&str, String, &str, Want)> = vec![
            // Preflights: answered whoever calls.
            (
                "OPTIONS",
                "/products".into(),
                &preflight,
                Want::PreflightAllowed,
            ),
            (
                "OPTIONS",
                "/products/1".into(),
                "Origin: https://evil.example\nAccess-Control-Request-Method: GET",
                Want::PreflightRefused,
            ),
            (
                "OPTIONS",
                "/products".into(),
                "Origin: https://shop.example.com\nAccess-Control-Request-Method: POST",
                Want::PreflightRefused,
            ),
            (
                "OPTIONS",
                "/products".into(),
                "Origin: https://shop.example.com\nAccess-Control-Request-Method: GET\n\
                 Access-Control-Request-Headers: x-api-key, x-debug",
                Want::PreflightRefused,
            ),
            (
                "OPTIONS",
                "/products".into(),
                "Origin: https://shop.example.com\nOrigin: https://shop.example.com\n\
                 Access-Control-Request-Method: GET",
                Want::PreflightPlain,
            ),
            ("OPTIONS", "/products".into(), "", Want::PreflightPlain),
            // OPTIONS elsewhere is an unlisted method, behind the caller check.
            (
                "OPTIONS",
                "/orders".into(),
                &preflight,
                Want::Reject("forbidden", false),
            ),
            (
                "OPTIONS",
                "/healthz".into(),
                &gw,
                Want::Reject("not_found", false),
            ),
            // The caller.
            ("GET", "/products/1".into(), &gw, Want::Admit("getProduct")),
            (
                "GET",
                "/products/1".into(),
                &gw_serverless,
                Want::Admit("getProduct"),
            ),
            (
                "GET",
                "/products/1".into(),
                "",
                Want::Reject("forbidden", false),
            ),
            (
                "GET",
                "/products/1".into(),
                "Authorization: Bearer garbage",
                Want::Reject("forbidden", false),
            ),
            (
                "GET",
                "/products/1".into(),
                &forged,
                Want::Reject("forbidden", false),
            ),
            (
                "GET",
                "/orders".into(),
                "",
                Want::Reject("forbidden", false),
            ),
            (
                "GET",
                "/products/../x".into(),
                "",
                Want::Reject("forbidden", false),
            ),
            (
                "GET",
                long_path.clone(),
                "",
                Want::Reject("forbidden", false),
            ),
            // The health check needs no token; other methods on it are not it.
            ("GET", "/healthz".into(), "", Want::Health),
            ("HEAD", "/healthz?probe=1".into(), "", Want::Health),
            (
                "POST",
                "/healthz".into(),
                "",
                Want::Reject("forbidden", false),
            ),
            (
                "POST",
                "/healthz".into(),
                &gw,
                Want::Reject("not_found", false),
            ),
            // The route table.
            (
                "GET",
                "/orders".into(),
                &gw,
                Want::Reject("not_found", false),
            ),
            (
                "POST",
                "/products".into(),
                &gw,
                Want::Reject("not_found", false),
            ),
            (
                "TRACE",
                "/products".into(),
                &gw,
                Want::Reject("not_found", false),
            ),
            (
                "GET",
                "/products/../x".into(),
                &gw,
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                "/products/a%2Fb".into(),
                &gw,
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                long_path.clone(),
                &gw,
                Want::Reject("uri_too_long", false),
            ),
            // The target's characters come first, whoever calls.
            (
                "GET",
                "/products?q=\"a\"".into(),
                "",
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                "/products?q=<a>".into(),
                &gw,
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                "/products/`1`".into(),
                "",
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                "/products/{1}".into(),
                &gw,
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                "/healthz?x=<".into(),
                "",
                Want::Reject("invalid_path", false),
            ),
            (
                "GET",
                "/products?q=`{a}`|^".into(),
                &gw,
                Want::Admit("listProducts"),
            ),
            // A fragment is not part of what is decided on.
            (
                "GET",
                "/products#x".into(),
                &gw,
                Want::Admit("listProducts"),
            ),
            (
                "GET",
                "/products#/../admin".into(),
                &gw,
                Want::Admit("listProducts"),
            ),
            (
                "GET",
                "/orders#/../products".into(),
                &gw,
                Want::Reject("not_found", false),
            ),
            (
                "GET",
                "/products?q=1#\"".into(),
                &gw,
                Want::Admit("listProducts"),
            ),
            // The query's length.
            ("GET", just_query, &gw, Want::Admit("listProducts")),
            ("GET", long_query, &gw, Want::Reject("uri_too_long", true)),
            // The declared body length.
            (
                "POST",
                "/products/1/reviews".into(),
                &at_limit,
                Want::Admit("createReview"),
            ),
            (
                "POST",
                "/products/1/reviews".into(),
                &over_limit,
                Want::Reject("payload_too_large", true),
            ),
            // Chunked: counted as it streams, not here.
            (
                "POST",
                "/products/1/reviews".into(),
                &chunked,
                Want::Admit("createReview"),
            ),
            // The user, on a route that takes a user token.
            (
                "GET",
                "/account".into(),
                signed_in,
                Want::Admit("getAccount"),
            ),
            (
                "GET",
                "/account".into(),
                user(XFA),
                Want::Admit("getAccount"),
            ),
            (
                "GET",
                "/account".into(),
                user("x-forwarded-authorization: bEaReR  abc-._~+/xyz=="),
                Want::Admit("getAccount"),
            ),
            (
                "GET",
                "/account".into(),
                &gw,
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                user(INFO),
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                leak(format!(
                    "Authorization: Bearer user-token\nX-Serverless-Authorization: {}",
                    verified_token(GATEWAY)
                )),
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                user("X-Forwarded-Authorization: Basic dXNlcjpwdw=="),
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                user("X-Forwarded-Authorization: Bearer"),
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                user("X-Forwarded-Authorization: Bearer ="),
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                user("X-Forwarded-Authorization: Bearer a, Bearer b"),
                Want::Reject("unauthenticated", true),
            ),
            (
                "GET",
                "/account".into(),
                user(leak(format!(
                    "{XFA}\nX-Forwarded-Authorization: Bearer other"
                ))),
                Want::Reject("duplicate_identity", true),
            ),
            (
                "GET",
                "/account".into(),
                user("X-Forwarded-Authorization: Bearer a\nX-Forwarded-Authorization:"),
                Want::Reject("duplicate_identity", true),
            ),
            (
                "GET",
                "/account".into(),
                user(leak(format!(
                    "{XFA}\n{INFO}\nX-APIGATEWAY-API-USERINFO: e30"
                ))),
                Want::Reject("duplicate_identity", true),
            ),
            (
                "GET",
                "/account".into(),
                user(leak(format!("{INFO}\n{INFO}"))),
                Want::Reject("duplicate_identity", true),
            ),
            // The caller comes first; the user before the limits.
            (
                "GET",
                "/account".into(),
                leak(format!("{XFA}\n{INFO}")),
                Want::Reject("forbidden", false),
            ),
            (
                "GET",
                long_account_query,
                &gw,
                Want::Reject("unauthenticated", true),
            ),
            // Other routes do not read the identity headers (the paths drop them).
            (
                "GET",
                "/products/1".into(),
                user(leak(format!("{XFA}\n{XFA}\n{INFO}\n{INFO}"))),
                Want::Admit("getProduct"),
            ),
        ];
        let config = config();
        for (method, target, headers, want) in &cases {
            let head = format!("{method} {target} HTTP/1.1\nHost: relay\n{headers}");
            let head = head.trim_end();
            assert_eq!(&short(&decide(&config, head)), want, "{head}");
        }
    }

    #[test]
    fn without_a_list_or_a_policy_the_steps_are_skipped() {
        let mut config = config();
        config.allowed_invokers = None;
        config.cors = None;
        let want = [
            ("GET /products/1 HTTP/1.1", Want::Admit("getProduct")),
            ("GET /orders HTTP/1.1", Want::Reject("not_found", false)),
            (
                "OPTIONS /products HTTP/1.1\nOrigin: https://shop.example.com\n\
                 Access-Control-Request-Method: GET",
                Want::Reject("not_found", false),
            ),
        ];
        for (head, want) in want {
            assert_eq!(short(&decide(&config, head)), want, "{head}");
        }
    }

    #[test]
    fn a_target_is_read_up_to_its_fragment() {
        assert_eq!(split_target("/a"), ("/a", None));
        assert_eq!(split_target("/a?"), ("/a", Some("")));
        assert_eq!(split_target("/a?b=1?c"), ("/a", Some("b=1?c")));
        assert_eq!(split_target("/a#b?c"), ("/a", None));
        assert_eq!(split_target("/a?b#c?d"), ("/a", Some("b")));
        assert_eq!(split_target("#x"), ("", None));
    }
}
