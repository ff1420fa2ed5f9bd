//! End-user JWTs over real HTTP: keys made fresh by each test (RSA 2048 through the
//! `openssl` command, P-256 through ring), a JWKS served on 127.0.0.1 or read from a
//! file, the gateway, and the recording upstream.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use shopgen_gateway_local::{Gateway, GatewayDocument, JwksSource};
use shopgen_testkit::tokens::{Signer, jwks};
use tokio::net::TcpListener;

use crate::support::{Log, call, config, json, ok_json, start, upstream};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "app-1";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Good claims: the issuer, the audience, an hour to live.
fn claims() -> Value {
    let now = now();
    json!({"iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "iat": now, "exp": now + 3600,
           "email": "ada@example.com"})
}

fn with(claims: Value, key: &str, value: Value) -> Value {
    let mut c = claims;
    c[key] = value;
    c
}

/// A JWKS server on 127.0.0.1 answering with the current text; counts its fetches.
struct JwksServer {
    addr: SocketAddr,
    text: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(text: String) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let text = Arc::new(Mutex::new(text));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (t, f) = (text.clone(), fetches.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (t, f) = (t.clone(), f.clone());
                let service = service_fn(move |_req| {
                    f.fetch_add(1, Ordering::SeqCst);
                    let body = t.lock().expect("lock").clone();
                    async move {
                        let mut r = Response::new(Full::new(Bytes::from(body)));
                        r.headers_mut()
                            .insert("content-type", "application/json".parse().expect("hv"));
                        Ok::<_, Infallible>(r)
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        JwksServer {
            addr,
            text,
            fetches,
        }
    }

    fn set(&self, text: String) {
        *self.text.lock().expect("lock") = text;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn swagger(jwks_uri: &str) -> String {
    format!(
        r#"
swagger: "2.0"
info: {{title: t, version: "1"}}
x-google-backend:
  address: http://placeholder.invalid
  path_translation: APPEND_PATH_TO_ADDRESS
securityDefinitions:
  api_key: {{type: apiKey, name: x-api-key, in: header}}
  users:
    type: oauth2
    flow: implicit
    authorizationUrl: ""
    x-google-issuer: {ISSUER}
    x-google-jwks_uri: {jwks_uri}
    x-google-audiences: "other-app, {AUDIENCE}"
security:
- users: []
paths:
  /token:
    get: {{operationId: token}}
  /both:
    get:
      operationId: both
      security: [{{api_key: [], users: []}}]
  /either:
    get:
      operationId: either
      security: [{{api_key: []}}, {{users: []}}]
  /open:
    get:
      operationId: open
      security: []
"#
    )
}

fn openapi3(jwks_uri: &str) -> String {
    format!(
        r#"
openapi: "3.0.3"
info: {{title: t, version: "1"}}
paths:
  /token:
    get:
      operationId: token
      security:
      - users: []
  /both:
    get:
      operationId: both
      security:
      - api_key: []
        users: []
components:
  securitySchemes:
    api_key: {{type: apiKey, in: header, name: x-api-key}}
    users:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: ""
          scopes: {{}}
      x-google-auth:
        issuer: {ISSUER}
        jwksUri: {jwks_uri}
        audiences: [{AUDIENCE}]
x-google-api-management:
  backends:
    relay:
      address: http://placeholder.invalid
      pathTranslation: APPEND_PATH_TO_ADDRESS
x-google-backend: relay
"#
    )
}

/// The gateway for `doc` in front of a fresh recording upstream, with `jwks` as local
/// overrides.
async fn gateway(
    doc: &str,
    jwks: &BTreeMap<String, JwksSource>,
) -> (SocketAddr, Log, tokio::sync::oneshot::Sender<()>) {
    let (up, seen) = upstream(Duration::ZERO, ok_json).await;
    let doc = GatewayDocument::parse(doc).expect("document");
    let gateway = Gateway::new(&doc, config(&["good-key"], format!("http://{up}")))
        .expect("gateway")
        .with_jwks_override(jwks)
        .expect("overrides");
    let (addr, stop) = start(gateway).await;
    (addr, seen, stop)
}

/// GET `path` with `headers`; the status and the `message` of a gateway answer.
async fn get(gw: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let (s, _, b) = call(Method::GET, format!("http://{gw}{path}"), headers).await;
    let message = if s == StatusCode::OK {
        String::new()
    } else {
        assert_eq!(json(&b)["code"], s.as_u16(), "{b}");
        json(&b)["message"].as_str().expect("message").to_string()
    };
    (s, message)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn rs256_tokens_against_a_served_jwks() {
    let old = Signer::rsa("rsa-1");
    let server = JwksServer::start(jwks(&[&old])).await;
    let doc = swagger(&format!("http://{}/jwks.json", server.addr));
    let (gw, seen, _stop) = gateway(&doc, &BTreeMap::new()).await;

    // A valid token passes; the backend gets its payload, never the client's copy.
    let token = old.token(&claims());
    let auth = bearer(&token);
    let (s, _) = get(
        gw,
        "/token",
        &[
            ("authorization", &auth),
            ("x-apigateway-api-userinfo", "eyJzdWIiOiJhZG1pbiJ9"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 1);
        let h = &seen[0].headers;
        let payload = token.split('.').nth(1).expect("payload");
        let userinfo: Vec<_> = h.get_all("x-apigateway-api-userinfo").iter().collect();
        assert_eq!(userinfo.len(), 1);
        assert_eq!(userinfo[0], payload);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(claims["email"], "ada@example.com");
        // API Gateway signs its own call to the backend; the user's token moves.
        assert_eq!(h["x-forwarded-authorization"], auth.as_str());
        assert_ne!(h["authorization"], auth.as_str());
    }
    assert_eq!(server.fetches(), 1, "the JWKS is cached");

    // Within the 60 s leeway, and beyond it.
    let t = now();
    let ok = [
        with(claims(), "exp", json!(t - 30)),
        with(claims(), "nbf", json!(t + 30)),
        with(claims(), "aud", json!(["x", AUDIENCE])),
    ];
    for c in ok {
        let (s, m) = get(gw, "/token", &[("authorization", &bearer(&old.token(&c)))]).await;
        assert_eq!(s, StatusCode::OK, "{c}: {m}");
    }
    let other = Signer::rsa("rsa-1");
    let refused = [
        (
            old.token(&with(claims(), "exp", json!(t - 120))),
            "Jwt is expired",
        ),
        (
            old.token(&with(claims(), "nbf", json!(t + 120))),
            "Jwt not yet valid",
        ),
        (
            old.token(&with(claims(), "iss", json!("https://evil.example"))),
            "Jwt issuer is not configured",
        ),
        (
            old.token(&with(claims(), "aud", json!("app-2"))),
            "Audiences in Jwt are not allowed",
        ),
        // The same kid, another key: the signature does not verify.
        (other.token(&claims()), "Jwt verification fails"),
        (
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(claims().to_string())
            ),
            "Jwt header [alg] is not supported",
        ),
        (
            "not-a-jwt".to_string(),
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
        ),
    ];
    let before = seen.lock().expect("lock").len();
    for (token, message) in &refused {
        let (s, m) = get(gw, "/token", &[("authorization", &bearer(token))]).await;
        assert_eq!((s, m.as_str()), (StatusCode::UNAUTHORIZED, *message));
    }
    let (s, m) = get(gw, "/token", &[]).await;
    assert_eq!(
        (s, m.as_str()),
        (StatusCode::UNAUTHORIZED, "Jwt is missing")
    );
    let (s, m) = get(gw, "/token", &[("authorization", "Basic dXNlcjpwdw==")]).await;
    assert_eq!(
        (s, m.as_str()),
        (StatusCode::UNAUTHORIZED, "Jwt is missing")
    );
    assert_eq!(
        seen.lock().expect("lock").len(),
        before,
        "nothing refused reached the backend"
    );
    assert_eq!(server.fetches(), 1);

    // An unknown kid: the JWKS is fetched once more (the keys are older than the
    // cooldown, `shopgen_jwt::KID_REFETCH_COOLDOWN`), then 401.
    tokio::time::sleep(shopgen_jwt::KID_REFETCH_COOLDOWN).await;
    let stranger = Signer::rsa("rsa-9");
    let (s, m) = get(
        gw,
        "/token",
        &[("authorization", &bearer(&stranger.token(&claims())))],
    )
    .await;
    assert_eq!(
        (s, m.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "Jwks doesn't have key to match kid or alg from Jwt"
        )
    );
    assert_eq!(server.fetches(), 2);

    // Rotation: the provider publishes a new key; a token signed by it verifies at once,
    // and so do tokens of the old key still in the set (once the keys fetched for the
    // unknown kid are older than the cooldown).
    tokio::time::sleep(shopgen_jwt::KID_REFETCH_COOLDOWN).await;
    let new = Signer::rsa("rsa-2");
    server.set(jwks(&[&old, &new]));
    for key in [&new, &old] {
        let (s, m) = get(
            gw,
            "/token",
            &[("authorization", &bearer(&key.token(&claims())))],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{}: {m}", key.kid());
    }
    assert_eq!(server.fetches(), 3);

    // A keyless, tokenless operation: the client's claims header is dropped there too.
    let (s, _) = get(
        gw,
        "/open",
        &[("x-apigateway-api-userinfo", "eyJzdWIiOiJhZG1pbiJ9")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let seen = seen.lock().expect("lock");
    assert!(
        seen.last()
            .expect("seen")
            .headers
            .get("x-apigateway-api-userinfo")
            .is_none()
    );
}

#[tokio::test]
async fn key_and_token_key_or_token() {
    let key = Signer::ec("ec-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let doc = swagger(&format!("http://{}/jwks.json", server.addr));
    let (gw, seen, _stop) = gateway(&doc, &BTreeMap::new()).await;
    let auth = bearer(&key.token(&claims()));
    let api_key = ("x-api-key", "good-key");
    let token = ("authorization", auth.as_str());
    let missing_key = "UNAUTHENTICATED: Method doesn't allow unregistered callers (callers \
                       without established identity). Please use API Key or other form of API \
                       consumer identity to call this API.";

    // AND: either alone is refused.
    assert_eq!(
        get(gw, "/both", &[api_key]).await,
        (StatusCode::UNAUTHORIZED, "Jwt is missing".into())
    );
    assert_eq!(
        get(gw, "/both", &[token]).await,
        (StatusCode::UNAUTHORIZED, missing_key.into())
    );
    let (s, m) = get(gw, "/both", &[("x-api-key", "bad"), token]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{m}");
    assert_eq!(get(gw, "/both", &[api_key, token]).await.0, StatusCode::OK);
    assert!(
        seen.lock()
            .expect("lock")
            .last()
            .expect("seen")
            .headers
            .contains_key("x-apigateway-api-userinfo")
    );

    // OR: either suffices; neither is refused; a bad token is named.
    assert_eq!(get(gw, "/either", &[api_key]).await.0, StatusCode::OK);
    assert!(
        !seen
            .lock()
            .expect("lock")
            .last()
            .expect("seen")
            .headers
            .contains_key("x-apigateway-api-userinfo")
    );
    assert_eq!(get(gw, "/either", &[token]).await.0, StatusCode::OK);
    assert!(
        seen.lock()
            .expect("lock")
            .last()
            .expect("seen")
            .headers
            .contains_key("x-apigateway-api-userinfo")
    );
    assert_eq!(get(gw, "/either", &[]).await.0, StatusCode::UNAUTHORIZED);
    let expired = bearer(&key.token(&with(claims(), "exp", json!(now() - 600))));
    assert_eq!(
        get(gw, "/either", &[("authorization", &expired)]).await,
        (StatusCode::UNAUTHORIZED, "Jwt is expired".into())
    );
    assert_eq!(seen.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn openapi3_es256_from_a_jwks_file() {
    let dir = std::env::temp_dir().join(format!("shopgen-gw-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("jwks.json");
    let first = Signer::ec("ec-1");
    std::fs::write(&file, jwks(&[&first])).expect("write");
    // The jwks_uri would fail: the file is what counts.
    let doc = openapi3("http://127.0.0.1:9/jwks.json");
    let overrides = BTreeMap::from([(ISSUER.to_string(), JwksSource::File(file.clone()))]);
    let (gw, seen, _stop) = gateway(&doc, &overrides).await;

    let token = first.token(&claims());
    assert_eq!(
        get(gw, "/token", &[("authorization", &bearer(&token))])
            .await
            .0,
        StatusCode::OK
    );
    let payload = token.split('.').nth(1).expect("payload").to_string();
    assert_eq!(
        seen.lock().expect("lock")[0].headers["x-apigateway-api-userinfo"],
        payload.as_str()
    );

    // An ES256 key cannot check an RS256 token, nor any other alg.
    for alg in ["RS256", "HS256", "none"] {
        let forged = first.sign(json!({"alg": alg}), &claims());
        let (s, m) = get(gw, "/token", &[("authorization", &bearer(&forged))]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{alg}");
        let expected = if alg == "RS256" {
            "Jwt verification fails"
        } else {
            "Jwt header [alg] is not supported"
        };
        assert_eq!(m, expected, "{alg}");
    }
    let (s, m) = get(gw, "/both", &[("authorization", &bearer(&token))]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{m}");
    assert!(m.starts_with("UNAUTHENTICATED"), "{m}");

    // Rotation through the file: the new kid makes the emulator read it again.
    let second = Signer::ec("ec-2");
    std::fs::write(&file, jwks(&[&second])).expect("write");
    assert_eq!(
        get(
            gw,
            "/token",
            &[("authorization", &bearer(&second.token(&claims())))]
        )
        .await
        .0,
        StatusCode::OK
    );
    // An override naming no provider is a configuration error.
    let doc = GatewayDocument::parse(&openapi3("http://127.0.0.1:9/jwks.json")).expect("doc");
    let err = Gateway::new(&doc, config(&[], "http://127.0.0.1:9".into()))
        .expect("gateway")
        .with_jwks_override(&BTreeMap::from([(
            "nobody".to_string(),
            JwksSource::Json("{}".into()),
        )]))
        .expect_err("unknown provider");
    assert!(err.to_string().contains("`nobody`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
