//! The request path through the emulated gateway: match, API key, backend call.
//!
//! Takes one client request; gives the backend's response or one of the gateway's
//! own answers ([`Reject`]), in ESPv2's order: the route match first (404/405, before
//! any key check), then end-user JWTs (401, see [`crate::jwt`]: Envoy's `jwt_authn`
//! filter runs before ESPv2's service control), then the API key (401 missing, 400 not
//! valid), then the quota (429, see [`crate::quota`]), then the backend
//! call under the operation's deadline (504), with one retry when the connection
//! cannot be opened (ESPv2's route retry policy is `connect-failure`, one retry), else
//! 503.
//!
//! What the backend receives, as from API Gateway:
//! - the path per `path_translation`: `APPEND_PATH_TO_ADDRESS` appends the normalised
//!   request path and query to the address; `CONSTANT_ADDRESS` sends to the address and
//!   moves path parameters into the query string;
//! - `Authorization: Bearer <token>`: API Gateway mints a Google-signed ID token for the
//!   backend; here a JWT-shaped token with `alg: none`, the configured audience, and a
//!   signature that is literally `not-signed` (it proves nothing and must never be
//!   accepted as a credential). The client's own `Authorization`, if any, moves to
//!   `X-Forwarded-Authorization`. With `disable_auth`, neither happens;
//! - the API key header and query parameter, unchanged (API Gateway forwards them; the
//!   relay strips the header);
//! - `X-Apigateway-Api-Userinfo`: the payload of the verified end-user JWT, base64url
//!   without padding, exactly as the token carried it (ESPv2 sets its JWT providers'
//!   `forward_payload_header` to `<prefix>API-UserInfo`, `jwt_authn.go`, with
//!   `pad_forward_payload_header` off by default; API Gateway's prefix is
//!   `X-Apigateway-`). A copy the client sent is always dropped, verified token or
//!   not, so a backend can trust the header;
//! - `X-Forwarded-For` with the client's address appended, `X-Forwarded-Proto`, `Host`
//!   set to the backend's authority, and every other end-to-end header (including
//!   `X-Request-Id`) unchanged; hop-by-hop headers are removed both ways.
//!
//! Bodies are buffered both ways: API Gateway does not stream, and caps bodies at
//! 32 MB.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme, Uri};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::document::{
    Backend, GatewayDocument, JwtProvider, KeyLocation, KeyRequirement, Operation, PathTranslation,
    Requirement,
};
use crate::jwt::{JwksSource, JwtError, UnknownProvider, Verifier};
use crate::quota::QuotaCounter;
use crate::reply::Reject;
use crate::route::normalize;
use shopgen_relay_runtime::strip_hop_by_hop;

/// API Gateway's quota window: limits are per minute.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(60);

/// API Gateway's request and response body limit (32 MB).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The query parameter API Gateway also reads an API key from (besides the place
/// the document's security scheme names).
pub const KEY_QUERY_PARAMETER: &str = "key";

static X_FORWARDED_AUTHORIZATION: HeaderName = HeaderName::from_static("x-forwarded-authorization");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// The header API Gateway forwards a verified JWT's payload in.
pub static X_APIGATEWAY_API_USERINFO: HeaderName =
    HeaderName::from_static("x-apigateway-api-userinfo");

/// What a log line receives for each request.
pub type LogSink = std::sync::Arc<dyn Fn(String) + Send + Sync>;

/// How the emulator runs a document.
#[derive(Clone)]
pub struct GatewayConfig {
    /// The valid API keys (what the project's API keys would be).
    pub api_keys: BTreeSet<String>,
    /// Replaces every backend address of the document (for a local relay:
    /// `http://127.0.0.1:8081`). Without it, addresses must be plain `http://` URLs
    /// without placeholders.
    pub backend_override: Option<String>,
    /// Overrides every operation's deadline.
    pub deadline_override: Option<Duration>,
    /// Where one JSON line per request goes; `None` for no access log.
    pub access_log: Option<LogSink>,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("api_keys", &self.api_keys.len())
            .field("backend_override", &self.backend_override)
            .field("deadline_override", &self.deadline_override)
            .field("access_log", &self.access_log.is_some())
            .finish()
    }
}

/// Why a document and a configuration cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A backend address the emulator cannot call.
    #[error("backend address `{address}`: {reason}")]
    Address { address: String, reason: String },
    /// A local JWKS given for a provider the document does not declare.
    #[error("JWKS override: {0}")]
    JwksOverride(#[from] UnknownProvider),
}

/// A backend ready to call: where to connect and what to send.
#[derive(Debug, Clone)]
struct Target {
    authority: Authority,
    base_path: String,
    translation: PathTranslation,
    deadline: Duration,
    /// `Authorization` value, or `None` with `disable_auth`.
    token: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
struct Route {
    op: Operation,
    target: Target,
}

/// The emulated gateway for one document.
pub struct Gateway {
    routes: Vec<Route>,
    quota: QuotaCounter,
    /// The service name quota errors name (the document's title).
    service: String,
    fallback: Option<Target>,
    config: GatewayConfig,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The document's JWT providers and host, kept for [`Gateway::with_jwks_override`].
    providers: Vec<JwtProvider>,
    host: Option<String>,
    verifier: Verifier,
}

/// What a request proved about its caller.
#[derive(Debug, Default)]
struct Authorized {
    /// The valid API key it carried, when one was asked for.
    key: Option<String>,
    /// The verified JWT payload (base64url) for `X-Apigateway-Api-Userinfo`.
    userinfo: Option<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.routes)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Prepares `doc` for serving: resolves every backend (after the override).
    pub fn new(doc: &GatewayDocument, config: GatewayConfig) -> Result<Gateway, GatewayError> {
        let resolve = |b: &Backend| target(b, &config);
        let routes = doc
            .operations
            .iter()
            .map(|op| {
                Ok(Route {
                    op: op.clone(),
                    target: resolve(&op.backend)?,
                })
            })
            .collect::<Result<Vec<_>, GatewayError>>()?;
        let fallback = match (&doc.default_backend, doc.allow_all) {
            (Some(b), true) => Some(resolve(b)?),
            _ => None,
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let verifier = Verifier::new(&doc.jwt_providers, doc.host.as_deref(), &BTreeMap::new())?;
        Ok(Gateway {
            routes,
            quota: QuotaCounter::new(doc.quota_limits.clone(), QUOTA_WINDOW),
            service: doc.title.clone(),
            fallback,
            config,
            client,
            providers: doc.jwt_providers.clone(),
            host: doc.host.clone(),
            verifier,
        })
    }

    /// The same gateway taking the keys of some JWT providers from local JWKS instead
    /// of their `jwks_uri`: `overrides` maps a provider, by security scheme name or by
    /// issuer, to a file or to the JWKS JSON (see [`crate::jwt`]).
    pub fn with_jwks_override(
        mut self,
        overrides: &BTreeMap<String, JwksSource>,
    ) -> Result<Gateway, GatewayError> {
        self.verifier = Verifier::new(&self.providers, self.host.as_deref(), overrides)?;
        Ok(self)
    }

    /// The same gateway with quota windows of `window` instead of one minute (tests).
    pub fn with_quota_window(mut self, window: Duration) -> Gateway {
        self.quota = QuotaCounter::new(self.quota_limits().to_vec(), window);
        self
    }

    fn quota_limits(&self) -> &[crate::quota::QuotaLimit] {
        self.quota.limits()
    }

    /// The configuration this gateway runs with.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Handles one request from `peer`.
    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let method = req.method().clone();
        let raw_path = req.uri().path().to_string();
        let (response, operation) = match self.route(&req) {
            Err(reject) => (reject.response(), None),
            Ok((route_target, op, path)) => {
                let name = op.and_then(|o| o.operation_id.clone());
                let checked = match op {
                    Some(o) => match self.authorize(o, &req).await {
                        Ok(auth) => self.charge(o, auth.key.as_deref()).map(|()| auth),
                        Err(reject) => Err(reject),
                    },
                    None => Ok(Authorized::default()),
                };
                let outcome = match checked {
                    Err(reject) => reject.response(),
                    Ok(auth) => {
                        self.forward(req, route_target, op, &path, peer.ip(), auth.userinfo)
                            .await
                    }
                };
                (outcome, name)
            }
        };
        if let Some(sink) = &self.config.access_log {
            let line = serde_json::json!({
                "component": "gateway",
                "method": method.as_str(),
                "path": raw_path,
                "operation": operation,
                "status": response.status().as_u16(),
                "latency_ms": (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
            });
            sink(line.to_string());
        }
        response
    }

    /// The operation (or `x-google-allow: all` fallback) for a request, with its
    /// normalised path.
    #[allow(clippy::type_complexity)]
    fn route(
        &self,
        req: &Request<Incoming>,
    ) -> Result<(&Target, Option<&Operation>, String), Reject> {
        let path = normalize(req.uri().path()).ok_or(Reject::NotDefined)?;
        let mut template_hit: Option<&str> = None;
        for route in &self.routes {
            if route.op.template.matches(&path).is_some() {
                if route.op.method == req.method() {
                    return Ok((&route.target, Some(&route.op), path));
                }
                template_hit.get_or_insert(route.op.template.as_str());
            }
        }
        if let Some(fallback) = &self.fallback {
            return Ok((fallback, None, path));
        }
        Err(match template_hit {
            Some(t) => Reject::MethodNotAllowed(t.to_string()),
            None => Reject::NotDefined,
        })
    }

    /// The operation's `security`: without JWT schemes, the API key check alone (as
    /// before JWTs were emulated); with them, each requirement object in turn (its JWTs
    /// first, as Envoy's `jwt_authn` runs before service control, then its key), the
    /// first one met letting the request through. When none is met, the answer is the
    /// first failure that is not a missing credential, else the first failure: a
    /// token that is present but wrong says more than one that is absent.
    async fn authorize(
        &self,
        op: &Operation,
        req: &Request<Incoming>,
    ) -> Result<Authorized, Reject> {
        if op.security.iter().all(|r| r.jwt.is_empty()) {
            let key = self.check_key(&op.key, req)?;
            return Ok(Authorized {
                key,
                userinfo: None,
            });
        }
        let is_missing =
            |r: &Reject| matches!(r, Reject::MissingKey | Reject::Jwt(JwtError::Missing));
        let mut failure: Option<Reject> = None;
        for requirement in &op.security {
            match self.satisfy(op, requirement, req).await {
                Ok(auth) => return Ok(auth),
                Err(reject) => {
                    let better = match &failure {
                        None => true,
                        Some(f) => is_missing(f) && !is_missing(&reject),
                    };
                    if better {
                        failure = Some(reject);
                    }
                }
            }
        }
        Err(failure.unwrap_or(Reject::Jwt(JwtError::Missing)))
    }

    /// One requirement object: every JWT provider it names, then its API key.
    async fn satisfy(
        &self,
        op: &Operation,
        requirement: &Requirement,
        req: &Request<Incoming>,
    ) -> Result<Authorized, Reject> {
        let mut auth = Authorized::default();
        for provider in &requirement.jwt {
            let verified = self
                .verifier
                .verify(provider, req.headers(), req.uri().query())
                .await
                .map_err(Reject::Jwt)?;
            auth.userinfo.get_or_insert(verified.payload_b64);
        }
        if requirement.api_key {
            auth.key = Some(self.check_key(&op.key, req)?.ok_or(Reject::MissingKey)?);
        }
        Ok(auth)
    }

    /// ESPv2's service-control check, against the configured key set; gives the valid
    /// key the caller presented, if any.
    fn check_key(
        &self,
        requirement: &KeyRequirement,
        req: &Request<Incoming>,
    ) -> Result<Option<String>, Reject> {
        let (locations, optional) = match requirement {
            KeyRequirement::None => return Ok(None),
            KeyRequirement::Required(l) => (l, false),
            KeyRequirement::Optional(l) => (l, true),
        };
        match find_key(locations, req.headers(), req.uri().query()) {
            None if optional => Ok(None),
            None => Err(Reject::MissingKey),
            Some(key) if self.config.api_keys.contains(&key) => Ok(Some(key)),
            Some(_) => Err(Reject::InvalidKey),
        }
    }

    /// ESPv2's quota allocation: the operation's costs, charged to the key. A call
    /// without a key (a keyless operation) has no consumer and is not charged.
    fn charge(&self, op: &Operation, key: Option<&str>) -> Result<(), Reject> {
        let Some(key) = key else {
            return Ok(());
        };
        self.quota
            .charge(key, &op.metric_costs)
            .map_err(|e| Reject::QuotaExceeded {
                metric: e.metric,
                limit: e.limit,
                service: self.service.clone(),
            })
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        target: &Target,
        op: Option<&Operation>,
        path: &str,
        peer: IpAddr,
        userinfo: Option<String>,
    ) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Reject::PayloadTooLarge.response();
            }
            // The client went away or sent a broken body; Envoy answers 400.
            Err(_) => {
                let mut r = Response::new(Full::new(Bytes::from_static(b"Bad Request")));
                *r.status_mut() = hyper::StatusCode::BAD_REQUEST;
                return r;
            }
        };
        let uri = match upstream_uri(target, op, path, parts.uri.query()) {
            Some(uri) => uri,
            None => return Reject::NotDefined.response(),
        };
        let mut headers = parts.headers;
        prepare_request_headers(&mut headers, target, peer);
        if let Some(v) = userinfo.and_then(|u| HeaderValue::from_str(&u).ok()) {
            headers.insert(X_APIGATEWAY_API_USERINFO.clone(), v);
        }
        let deadline = self.config.deadline_override.unwrap_or(target.deadline);
        let call = async {
            let mut retried = false;
            loop {
                let mut upstream = Request::new(Full::new(body.clone()));
                *upstream.method_mut() = parts.method.clone();
                *upstream.uri_mut() = uri.clone();
                *upstream.headers_mut() = headers.clone();
                match self.client.request(upstream).await {
                    Ok(resp) => {
                        let (mut rparts, rbody) = resp.into_parts();
                        let bytes = match Limited::new(rbody, MAX_BODY_BYTES).collect().await {
                            Ok(b) => b.to_bytes(),
                            Err(_) => return Err(Reject::Unreachable),
                        };
                        strip_hop_by_hop(&mut rparts.headers);
                        rparts.headers.remove(header::CONTENT_LENGTH);
                        return Ok(Response::from_parts(rparts, Full::new(bytes)));
                    }
                    Err(e) if e.is_connect() && !retried => retried = true,
                    Err(_) => return Err(Reject::Unreachable),
                }
            }
        };
        match tokio::time::timeout(deadline, call).await {
            Ok(Ok(response)) => response,
            Ok(Err(reject)) => reject.response(),
            Err(_) => Reject::Timeout.response(),
        }
    }
}

/// Resolves a document backend (with the override) into a [`Target`].
fn target(backend: &Backend, config: &GatewayConfig) -> Result<Target, GatewayError> {
    let address = config
        .backend_override
        .clone()
        .unwrap_or_else(|| backend.address.clone());
    let fail = |reason: &str| GatewayError::Address {
        address: address.clone(),
        reason: reason.to_string(),
    };
    if address.contains("${") {
        return Err(fail(
            "holds a Terraform placeholder; give the local address of the backend (the relay) \
             as an override",
        ));
    }
    let uri: Uri = address.parse().map_err(|_| fail("not a URL"))?;
    if uri.scheme() != Some(&Scheme::HTTP) {
        return Err(fail(
            "the local emulator calls its backend over plain http://; override the address",
        ));
    }
    let authority = uri.authority().cloned().ok_or_else(|| fail("no host"))?;
    if uri.query().is_some() {
        return Err(fail("an address has no query string"));
    }
    let base_path = uri.path().trim_end_matches('/').to_string();
    let token = if backend.disable_auth {
        None
    } else {
        let audience = match (&config.backend_override, &backend.jwt_audience) {
            (None, Some(aud)) => aud.clone(),
            _ => address.trim_end_matches('/').to_string(),
        };
        HeaderValue::from_str(&format!("Bearer {}", fake_id_token(&audience))).ok()
    };
    Ok(Target {
        authority,
        base_path,
        translation: backend.path_translation,
        deadline: backend.deadline,
        token,
    })
}

/// The backend URI for a request.
fn upstream_uri(
    target: &Target,
    op: Option<&Operation>,
    path: &str,
    query: Option<&str>,
) -> Option<Uri> {
    let path_and_query = match target.translation {
        PathTranslation::AppendPathToAddress => {
            let mut p = format!("{}{}", target.base_path, path);
            if let Some(q) = query {
                p.push('?');
                p.push_str(q);
            }
            p
        }
        PathTranslation::ConstantAddress => {
            let mut p = if target.base_path.is_empty() {
                "/".to_string()
            } else {
                target.base_path.clone()
            };
            let mut pairs: Vec<String> = query
                .filter(|q| !q.is_empty())
                .map(|q| vec![q.to_string()])
                .unwrap_or_default();
            if let Some(op) = op {
                for (name, value) in op.template.matches(path).unwrap_or_default() {
                    pairs.push(format!("{name}={value}"));
                }
            }
            if !pairs.is_empty() {
                p.push('?');
                p.push_str(&pairs.join("&"));
            }
            p
        }
    };
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(target.authority.clone())
        .path_and_query(PathAndQuery::try_from(path_and_query).ok()?)
        .build()
        .ok()
}

/// The API key a request carries, from the first listed place that has one, then
/// from the `key` query parameter.
pub fn find_key(
    locations: &[KeyLocation],
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<String> {
    // `application/x-www-form-urlencoded`, as API Gateway reads `?key=`: `+` is a
    // space, `%XX` a byte; a malformed escape (`%4`, `%zz`, `%+1`) stays as it is.
    let from_query = |name: &str| {
        form_urlencoded::parse(query?.as_bytes())
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.into_owned())
    };
    for location in locations {
        let found = match location {
            KeyLocation::Header(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            KeyLocation::Query(name) => from_query(name),
        };
        if found.is_some() {
            return found;
        }
    }
    from_query(KEY_QUERY_PARAMETER)
}

/// Rewrites the client's headers for the backend (see the module docs).
fn prepare_request_headers(headers: &mut HeaderMap, target: &Target, peer: IpAddr) {
    strip_hop_by_hop(headers);
    headers.remove(&X_APIGATEWAY_API_USERINFO);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::EXPECT);
    if let Some(token) = &target.token {
        if let Some(client_auth) = headers.remove(header::AUTHORIZATION) {
            headers.insert(X_FORWARDED_AUTHORIZATION.clone(), client_auth);
        }
        headers.insert(header::AUTHORIZATION, token.clone());
    }
    if let Ok(host) = HeaderValue::from_str(target.authority.as_str()) {
        headers.insert(header::HOST, host);
    }
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let xff = match headers
        .get(&X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    {
        Some(existing) => format!("{}, {peer}", existing.trim()),
        None => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(X_FORWARDED_FOR.clone(), v);
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
}

/// A JWT-shaped stand-in for the Google-signed ID token API Gateway sends its backend:
/// `alg: none`, the audience, a fixed local issuer, and the signature `not-signed`.
pub fn fake_id_token(audience: &str) -> String {
    let header = r#"{"alg":"none","typ":"JWT","kid":"shopgen-gateway-local"}"#;
    let claims = serde_json::json!({
        "aud": audience,
        "email": "gateway@shopgen-gateway-local.invalid",
        "iss": "shopgen-gateway-local",
        "sub": "shopgen-gateway-local",
    })
    .to_string();
    format!(
        "{}.{}.{}",
        base64url(header.as_bytes()),
        base64url(claims.as_bytes()),
        base64url(b"not-signed")
    )
}

/// Base64url without padding (RFC 4648 §5), as JWTs use.
fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn keys_from_header_then_query() {
        let mut h = HeaderMap::new();
        let loc = [KeyLocation::Header(HeaderName::from_static("x-api-key"))];
        assert_eq!(find_key(&loc, &h, None), None);
        assert_eq!(find_key(&loc, &h, Some("key=a%2Bb")), Some("a+b".into()));
        assert_eq!(find_key(&loc, &h, Some("key=")), None);
        assert_eq!(find_key(&loc, &h, Some("keys=x")), None);
        h.insert("X-API-KEY", HeaderValue::from_static("k1"));
        assert_eq!(find_key(&loc, &h, Some("key=k2")), Some("k1".into()));
    }

    #[test]
    fn query_keys_are_form_decoded_and_malformed_escapes_stay_literal() {
        let h = HeaderMap::new();
        let loc = [KeyLocation::Query("api_key".into())];
        let key = |q: &str| find_key(&loc, &h, Some(q));
        assert_eq!(key("api_key=a+b%20c"), Some("a b c".into()));
        // An escape at the very end is decoded too.
        assert_eq!(key("api_key=k%41"), Some("kA".into()));
        // Not hex digits: no byte is made up (`%+1` is not 0x01, `% 1` neither).
        assert_eq!(key("api_key=%+1"), Some("% 1".into()));
        assert_eq!(key("api_key=%-1"), Some("%-1".into()));
        assert_eq!(key("api_key=%zz"), Some("%zz".into()));
        assert_eq!(key("api_key=k%4"), Some("k%4".into()));
        assert_eq!(key("api_key=k%"), Some("k%".into()));
        // A byte sequence that is not UTF-8 becomes U+FFFD, never a panic.
        assert_eq!(key("api_key=%FF"), Some("\u{FFFD}".into()));
        // The parameter name is decoded as well; the first non-empty value wins.
        assert_eq!(key("api%5Fkey=x&api_key=y"), Some("x".into()));
        assert_eq!(key("api_key=&api_key=y"), Some("y".into()));
        // Falls back to `key`.
        assert_eq!(key("key=z"), Some("z".into()));
    }

    #[test]
    fn fake_token_is_a_three_part_unsigned_jwt() {
        let t = fake_id_token("http://127.0.0.1:8081");
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], base64url(b"not-signed"));
    }
}
