//! End-user identity: the backend verifies the user token itself.
//!
//! API Gateway verifies a route's user token before the request reaches the relay,
//! and tells the backend the token's payload in `X-Apigateway-Api-Userinfo`. That
//! header is not signed, and the backend's Kubernetes Service answers any pod of the
//! cluster, so a header alone never makes a user here: the backend reads the original
//! token, which the relay forwards as the one `X-Forwarded-Authorization: Bearer …`
//! header ([`TOKEN_HEADER`]), and verifies it again with the same rules as the
//! gateway ([`shopgen_jwt`]: `iss`, `aud`, `exp`/`nbf` with 60 s of leeway, an
//! RS256/ES256 signature from the provider's JWKS, cached for five minutes, fetched
//! again for an unknown `kid`, and used for a day past the five minutes while the
//! provider cannot be reached). `X-Apigateway-Api-Userinfo` is never read.
//!
//! A generated `main` registers its [`Identity`] (the spec's providers and which
//! routes take a user token from which of them) with [`register`]; the server then
//! wraps the generated routes in this module's layer:
//!
//! - a route that takes no user token runs as before, with no caller;
//! - a route that does answers `401` (JSON, `WWW-Authenticate: Bearer`) unless the
//!   request's token verifies for one of its providers and names a subject (`sub`);
//!   the handler then runs with the [`Caller`], which operations and hooks read from
//!   their context ([`crate::extension::Context::caller`]).
//!
//! Responses to user-token routes are never shared between callers: the response
//! cache ([`crate::cache`]) is skipped for them, and their `Cache-Control` is made
//! `private` with `Vary: Authorization, X-Forwarded-Authorization`
//! ([`crate::conditional`]).
//!
//! The keys come from each provider's `jwks_uri`, so backend pods need egress to the
//! JWKS host (docs/deploy.md). `IDENTITY_JWKS_FILES` (`PROVIDER=FILE;…`) reads a
//! provider's keys from a local file instead; `shopgen up --jwks` sets it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use shopgen_jwt::{JwksSource, JwtError, JwtLocation, Verifier};

use crate::error::ApiError;

/// The header the backend reads the user token from: the relay's
/// `X-Forwarded-Authorization: Bearer <token>`.
pub const TOKEN_HEADER: HeaderName = HeaderName::from_static("x-forwarded-authorization");

/// The 401 message when a request carries no token at all.
pub const MISSING: &str = "this route needs a user token: send it as `X-Forwarded-Authorization: Bearer <token>` (the relay forwards the `Authorization` the gateway verified)";

/// One issuer of user tokens, as the spec declares it (`[gateway.identity.NAME]`).
#[derive(Debug)]
pub struct Provider {
    /// The spec's name (`firebase`).
    pub name: &'static str,
    /// The `iss` tokens must carry.
    pub issuer: &'static str,
    /// Where the provider publishes its keys.
    pub jwks_uri: &'static str,
    /// The accepted `aud` values (the spec requires at least one).
    pub audiences: &'static [&'static str],
}

/// A route that takes a user token.
#[derive(Debug)]
pub struct UserTokenRoute {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// The route's path template, as the route table writes it (`/me`,
    /// `/products/{id}`).
    pub path: &'static str,
    /// The providers whose tokens it takes, any one (their [`Provider::name`]).
    pub providers: &'static [&'static str],
}

/// What a generated backend tells the runtime about end-user identity.
#[derive(Debug)]
pub struct Identity {
    pub providers: &'static [Provider],
    pub routes: &'static [UserTokenRoute],
}

static REGISTERED: OnceLock<&'static Identity> = OnceLock::new();

/// Called by the generated `main` before [`crate::server::run`] when the spec declares
/// identity providers; a second call is ignored.
pub fn register(identity: &'static Identity) {
    let _ = REGISTERED.set(identity);
}

/// The caller a verified user token names.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    provider: &'static str,
    subject: String,
    claims: Map<String, Value>,
}

impl Caller {
    /// The token's `sub`: the user's stable id at the provider.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// The token's `email` claim, when it has one (whether the provider verified it
    /// is in the `email_verified` claim).
    pub fn email(&self) -> Option<&str> {
        self.claims.get("email").and_then(Value::as_str)
    }
    /// Every claim of the token, as it carried them.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
    /// The spec's name of the provider that issued the token.
    pub fn provider(&self) -> &str {
        self.provider
    }
    /// A caller made by code, not by a token: for extension crates' own tests.
    pub fn for_tests(provider: &'static str, subject: &str, claims: Map<String, Value>) -> Caller {
        Caller::new(provider, subject.to_string(), claims)
    }

    /// The caller `subject` of `provider`, with the token's claims.
    fn new(provider: &'static str, subject: String, claims: Map<String, Value>) -> Caller {
        Caller {
            provider,
            subject,
            claims,
        }
    }
}

tokio::task_local! {
    /// The verified caller of the request this task serves.
    static CALLER: Option<Arc<Caller>>;
}

/// The current request's verified caller; `None` on routes that take no user token
/// and outside a request.
pub fn current_caller() -> Option<Arc<Caller>> {
    CALLER.try_with(Clone::clone).ok().flatten()
}

/// The owner value of the current caller: the verified token's `claim` (`sub`, the
/// subject, or another claim holding a string), for an owned route. A caller without
/// it (or with a value longer than an owner column holds) is 401: the rows of this
/// resource belong to the user that claim names.
pub fn owner(claim: &str) -> Result<String, ApiError> {
    let Some(caller) = current_caller() else {
        return Err(ApiError::Unauthorized(MISSING.to_string()));
    };
    let value = if claim == "sub" {
        Some(caller.subject())
    } else {
        caller.claims().get(claim).and_then(Value::as_str)
    };
    match value {
        Some(v) if !v.is_empty() && v.chars().count() <= OWNER_MAX_CHARS => Ok(v.to_string()),
        _ => Err(ApiError::Unauthorized(format!(
            "the user token carries no usable `{claim}` claim (a string of 1 to \
             {OWNER_MAX_CHARS} characters), which names the owner of this resource's rows"
        ))),
    }
}

/// The length of an owner column (`VARCHAR(255)`).
pub const OWNER_MAX_CHARS: usize = 255;

/// The verifier and the route table, built once at start.
#[derive(Debug)]
pub(crate) struct Gate {
    verifier: Verifier,
    /// (method, path template) → provider names.
    routes: HashMap<(Method, &'static str), &'static [&'static str]>,
}

/// `IDENTITY_JWKS_FILES`: `;`-separated `PROVIDER=FILE` rules.
pub(crate) fn parse_jwks_files(s: &str) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    for rule in s.split(';').map(str::trim).filter(|r| !r.is_empty()) {
        let Some((name, file)) = rule.split_once('=') else {
            return Err(format!("`{rule}` is not PROVIDER=FILE"));
        };
        out.insert(name.trim().to_string(), PathBuf::from(file.trim()));
    }
    Ok(out)
}

/// The gate for the registered identity; `None` when the spec has no providers. A
/// local JWKS file for a provider the spec does not declare is an error.
pub(crate) fn gate(jwks_files: &BTreeMap<String, PathBuf>) -> Result<Option<Arc<Gate>>, String> {
    let Some(identity) = REGISTERED.get() else {
        return match jwks_files.keys().next() {
            Some(name) => Err(format!(
                "IDENTITY_JWKS_FILES names `{name}`, but this service has no identity providers"
            )),
            None => Ok(None),
        };
    };
    gate_for(identity, jwks_files).map(Some)
}

/// The gate for `identity`.
fn gate_for(
    identity: &'static Identity,
    jwks_files: &BTreeMap<String, PathBuf>,
) -> Result<Arc<Gate>, String> {
    for name in jwks_files.keys() {
        if !identity.providers.iter().any(|p| p.name == name) {
            return Err(format!(
                "IDENTITY_JWKS_FILES names `{name}`, which is not an identity provider of this service"
            ));
        }
    }
    let providers = identity
        .providers
        .iter()
        .map(|p| shopgen_jwt::Provider {
            name: p.name.to_string(),
            issuer: p.issuer.to_string(),
            jwks_uri: p.jwks_uri.to_string(),
            audiences: Some(p.audiences.iter().map(|a| a.to_string()).collect()),
            locations: vec![JwtLocation::Header {
                name: TOKEN_HEADER,
                value_prefix: "Bearer ".into(),
            }],
            jwks: jwks_files.get(p.name).cloned().map(JwksSource::File),
        })
        .collect();
    let mut routes = HashMap::new();
    for r in identity.routes {
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", r.method))?;
        routes.insert((method, r.path), r.providers);
    }
    Ok(Arc::new(Gate {
        verifier: Verifier::new(providers),
        routes,
    }))
}

/// Why the request carries no caller: 401 with `WWW-Authenticate: Bearer`, plus
/// `error="invalid_token"` when a token was presented (RFC 6750 section 3.1).
///
/// When the provider's keys cannot be read (its JWKS host unreachable, a bad key file),
/// the token was not judged: that is the backend's outage, not the caller's fault, so
/// it answers 503 with `Retry-After` like an unreachable database, and logs why.
fn refusal(error: JwtError) -> Response {
    if error.is_missing() {
        return ApiError::Unauthorized(MISSING.to_string()).into_response();
    }
    if error.is_key_source() {
        tracing::warn!(
            reason = error.message(),
            "user token not checked: the identity provider's keys could not be read"
        );
        return ApiError::Unavailable(format!(
            "the user token cannot be checked now: {}",
            error.message()
        ))
        .into_response();
    }
    invalid(format!("the user token is not valid: {}", error.message()))
}

/// A 401 for a token that was presented but makes no caller.
fn invalid(message: String) -> Response {
    let mut response = ApiError::Unauthorized(message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// The middleware around the generated routes (see the module docs).
pub(crate) async fn layer(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    // axum answers `HEAD` with the `GET` handler, so it needs what `GET` needs.
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let providers = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| gate.routes.get(&(method, p.as_str())))
        .copied();
    let Some(providers) = providers else {
        // No caller: `current_caller` is `None` outside a scope.
        return next.run(req).await;
    };
    // Several tokens in the header would leave the choice of identity to whoever
    // reads them; the relay never forwards more than one.
    if req.headers().get_all(&TOKEN_HEADER).iter().count() > 1 {
        return invalid(
            "the request carries more than one X-Forwarded-Authorization header".into(),
        );
    }
    let mut failure: Option<JwtError> = None;
    let mut caller = None;
    for &name in providers {
        match gate.verifier.verify(name, req.headers(), None).await {
            Ok(verified) => {
                caller = Some((name, verified.claims));
                break;
            }
            // A token refused by one provider may suit another; the most telling
            // reason is kept (a bad token says more than a missing one).
            Err(e) => {
                if failure.is_none_or(JwtError::is_missing) {
                    failure = Some(e);
                }
            }
        }
    }
    let Some((provider, claims)) = caller else {
        return refusal(failure.unwrap_or(JwtError::Missing));
    };
    let Some(subject) = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return invalid("the user token names no subject (`sub`)".into());
    };
    let caller = Arc::new(Caller::new(provider, subject.to_string(), claims));
    let mut req = req;
    req.extensions_mut().insert(PerCaller);
    let mut response = CALLER.scope(Some(caller), next.run(req)).await;
    response.extensions_mut().insert(PerCaller);
    response
}

/// Marks a request (for the response cache) and its response (for
/// `Cache-Control`) as answered for one caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerCaller;

/// The `Vary` of a per-caller answer: the header a client's token travels in, and the
/// one an in-cluster caller's does.
pub(crate) fn vary() -> HeaderValue {
    HeaderValue::from_static("Authorization, X-Forwarded-Authorization")
}

/// A `Cache-Control` policy made fit for one caller's answer: `public` becomes
/// `private` (RFC 9111 5.2.2.7: a shared cache must not store it), `no-store` stays.
pub(crate) fn private(policy: &HeaderValue) -> HeaderValue {
    let text = policy.to_str().unwrap_or("no-store");
    if text.split(',').any(|d| d.trim() == "no-store") {
        return policy.clone();
    }
    let rest: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && *d != "public" && *d != "private")
        .collect();
    let value = std::iter::once("private")
        .chain(rest)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("private"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;
    use shopgen_testkit::tokens::{Signer, jwks};
    use tower::ServiceExt;

    static TEST_IDENTITY: Identity = Identity {
        providers: &[Provider {
            name: "firebase",
            issuer: "https://securetoken.google.com/p",
            jwks_uri: "https://keys.invalid/jwks",
            audiences: &["p"],
        }],
        routes: &[UserTokenRoute {
            method: "GET",
            path: "/me",
            providers: &["firebase"],
        }],
    };

    /// `/me` answers the caller's subject (or `-`), `/open` takes no token.
    fn app(gate: Arc<Gate>) -> Router {
        let me = || async { current_caller().map_or("-".to_string(), |c| c.subject().to_string()) };
        Router::new()
            .route("/me", get(me))
            .route("/open", get(me))
            .route_layer(axum::middleware::from_fn_with_state(gate, layer))
    }

    async fn call(
        app: &Router,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
    ) -> (u16, String, Option<String>) {
        let mut req = axum::http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap_or("").to_string());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            challenge,
        )
    }

    #[tokio::test]
    async fn only_a_token_that_verifies_makes_a_caller() {
        let dir = std::env::temp_dir().join(format!("shopgen-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let signing = Signer::ec("k");
        let file = dir.join("jwks.json");
        std::fs::write(&file, jwks(&[&signing])).expect("jwks");
        let files = BTreeMap::from([("firebase".to_string(), file)]);
        let app = app(gate_for(&TEST_IDENTITY, &files).expect("gate"));
        assert!(
            gate_for(
                &TEST_IDENTITY,
                &BTreeMap::from([("google".to_string(), PathBuf::from("x"))])
            )
            .is_err()
        );

        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let claims = |sub: Option<&str>| {
            let mut c =
                json!({"iss": "https://securetoken.google.com/p", "aud": "p", "exp": now + 600});
            if let Some(sub) = sub {
                c["sub"] = json!(sub);
            }
            c
        };
        let bearer = |t: String| ("x-forwarded-authorization", format!("Bearer {t}"));
        let alice = signing.token(&claims(Some("alice")));

        assert_eq!(
            call(&app, "GET", "/me", &[bearer(alice.clone())]).await.1,
            "alice"
        );
        // The gateway's unsigned header is no identity.
        let userinfo = (
            "x-apigateway-api-userinfo",
            URL_SAFE_NO_PAD.encode(claims(Some("mallory")).to_string()),
        );
        let (status, _, challenge) =
            call(&app, "GET", "/me", std::slice::from_ref(&userinfo)).await;
        assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
        // A token another key signed, one without `sub`, two tokens: refused as invalid.
        let other = Signer::ec("k").token(&claims(Some("mallory")));
        let no_subject = signing.token(&claims(None));
        for headers in [
            vec![bearer(other)],
            vec![bearer(no_subject)],
            vec![
                bearer(alice.clone()),
                bearer(signing.token(&claims(Some("bob")))),
            ],
            vec![("authorization", format!("Bearer {alice}"))],
        ] {
            let (status, body, challenge) = call(&app, "GET", "/me", &headers).await;
            assert_eq!(status, 401, "{headers:?}: {body}");
            assert!(body.contains("\"unauthorized\""), "{body}");
            assert!(
                challenge.is_some_and(|c| c.starts_with("Bearer")),
                "{headers:?}"
            );
        }
        // HEAD runs the GET handler, so it needs the token as well.
        assert_eq!(
            call(&app, "HEAD", "/me", std::slice::from_ref(&userinfo))
                .await
                .0,
            401
        );
        // Keys that cannot be read judge no token: 503 and Retry-After, never a 401
        // that would send a signed-in user to sign in again.
        let lost = BTreeMap::from([("firebase".to_string(), dir.join("missing.json"))]);
        let down = self::app(gate_for(&TEST_IDENTITY, &lost).expect("gate"));
        let resp = down
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/me")
                    .header("x-forwarded-authorization", format!("Bearer {alice}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        // A route that takes no token runs with no caller, whatever the headers say.
        assert_eq!(
            call(&app, "GET", "/open", &[bearer(alice), userinfo])
                .await
                .1,
            "-"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn jwks_files_parse_and_refuse_rules_without_a_file() {
        let files = parse_jwks_files(" firebase=/k/a.json ; google=/k/b.json;").expect("parses");
        assert_eq!(files.len(), 2);
        assert_eq!(files["firebase"], PathBuf::from("/k/a.json"));
        assert!(parse_jwks_files("firebase").is_err());
        assert!(parse_jwks_files("").expect("empty").is_empty());
    }

    #[test]
    fn shared_policies_become_private() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(private(&v("public, max-age=60")), v("private, max-age=60"));
        assert_eq!(private(&v("no-store")), v("no-store"));
        assert_eq!(private(&v("max-age=5")), v("private, max-age=5"));
    }

    #[tokio::test]
    async fn the_owner_is_the_callers_claim_or_a_401() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "sub": "alice",
            "email": "alice@example.com",
            "groups": ["a"],
            "long": "x".repeat(OWNER_MAX_CHARS + 1),
        }))
        .expect("an object");
        let alice = Arc::new(Caller::for_tests("firebase", "alice", claims));
        let as_alice = |claim: &'static str| {
            let alice = alice.clone();
            CALLER.scope(Some(alice), async move { owner(claim) })
        };
        assert_eq!(as_alice("sub").await.expect("sub"), "alice");
        assert_eq!(as_alice("email").await.expect("email"), "alice@example.com");
        for claim in ["groups", "missing", "long"] {
            assert!(
                matches!(as_alice(claim).await, Err(ApiError::Unauthorized(_))),
                "{claim}"
            );
        }
        // No verified caller (a route without a user token): never an owner.
        let none = CALLER.scope(None, async { owner("sub") }).await;
        assert!(matches!(none, Err(ApiError::Unauthorized(_))));
    }
}
