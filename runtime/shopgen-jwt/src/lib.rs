//! End-user JWTs, verified as API Gateway verifies them: one verifier for shopgen's
//! local gateway emulator (`tools/shopgen-gateway-local`, which checks the token a
//! client sends) and for the generated backend (`shopgen-backend-runtime`, which
//! checks the same token again, as the relay forwards it in
//! `X-Forwarded-Authorization`, so a caller inside the cluster cannot choose an
//! identity either).
//!
//! API Gateway runs ESPv2, which hands each JWT provider of the document to Envoy's
//! `jwt_authn` filter; that filter checks a token with Google's `jwt_verify_lib`. What
//! this crate does, in the filter's order (Envoy's
//! `source/extensions/filters/http/jwt_authn/authenticator.cc`, `startVerify`):
//!
//! 1. find the token in the provider's locations ([`JwtLocation`]; API Gateway's
//!    defaults are `Authorization: Bearer`, `X-Goog-Iap-Jwt-Assertion`,
//!    `?access_token=`, [`JwtLocation::defaults`]); none → `Jwt is missing`;
//! 2. parse it: three base64url parts, a JSON header whose `alg` is one this crate
//!    verifies (`RS256`, `ES256`; `none` and any other → `Jwt header [alg] is not
//!    supported`), a JSON payload;
//! 3. `iss` must equal the provider's issuer → else `Jwt issuer is not configured`;
//! 4. `nbf`/`exp` with [`CLOCK_SKEW`] of leeway → `Jwt not yet valid` / `Jwt is
//!    expired`;
//! 5. `aud` must hold one of the provider's audiences → else `Audiences in Jwt are not
//!    allowed` (the caller decides the audiences: the emulator applies ESPv2's default
//!    `https://<service name>` when its document names none, see
//!    [`Provider::audiences`]);
//! 6. the signature, with the JWKS keys whose `kid` (when both have one) and `alg`
//!    (when the key has one) match the token's, as `verifyJwtWithoutTimeChecking` in
//!    `jwt_verify_lib/src/verify.cc` selects them: no such key → `Jwks doesn't have key
//!    to match kid or alg from Jwt`; keys, but none verifies → `Jwt verification
//!    fails`.
//!
//! The messages are `jwt_verify_lib`'s `getStatusString` (`src/status.cc`), which
//! ESPv2 answers as `{"code":401,"message":"<text>"}` (its integration tests, e.g.
//! `tests/integration_test/jwt_auth_integration_test`).
//!
//! The JWKS comes from the provider's `jwks_uri` (http:// or https://, Mozilla's
//! roots) or from a local file or JSON text configured per provider
//! ([`JwksSource`]). It is cached for [`JWKS_CACHE`] (API Gateway "caches the JWKS
//! for five minutes"); past that, the cached keys are still used while they are
//! loaded again beside the request, and while they cannot be, for
//! [`JWKS_STALE_IF_ERROR`] at most, so neither the refresh every five minutes nor a
//! provider's outage of less than a day holds up or refuses a request. They are
//! loaded again, and waited for, when a token names a `kid` the cached set
//! lacks, so a provider's new signing key is picked up by its first token; from a
//! `jwks_uri`, only when the cached set is at least [`KID_REFETCH_COOLDOWN`] old, so
//! tokens with made-up `kid`s cannot make the verifier fetch for every request (a
//! local source is read again each time). A request whose keys are cached never waits
//! for a load. One load per provider runs at a time, on a task of its own (a request
//! that gives up does not cut it short); a request that needs keys waits for the load
//! in progress and takes its outcome, and for [`FAILED_REFETCH`] after a failed load,
//! requests get the keys still usable, or its failure, without loading again (a token
//! whose `kid` the keys lack gets the failure: it is not judged). So with
//! the provider unreachable, a request waits for one fetch timeout at most
//! ([`JWKS_FETCH_TIMEOUT`]), not for the timeouts of every request before it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;

/// Where a request may carry a JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtLocation {
    /// A header, with the prefix its value starts with (`Bearer ` for
    /// `Authorization`; empty for none).
    Header {
        name: HeaderName,
        value_prefix: String,
    },
    /// A query parameter.
    Query(String),
}

impl JwtLocation {
    /// ESPv2's default locations: `defaultJwtLocations` in its
    /// `src/go/configgenerator/filtergen/jwt_authn.go` (GoogleCloudPlatform/esp-v2).
    pub fn defaults() -> Vec<JwtLocation> {
        vec![
            JwtLocation::Header {
                name: http::header::AUTHORIZATION,
                value_prefix: "Bearer ".into(),
            },
            JwtLocation::Header {
                name: HeaderName::from_static("x-goog-iap-jwt-assertion"),
                value_prefix: String::new(),
            },
            JwtLocation::Query("access_token".into()),
        ]
    }
}

/// One issuer of tokens, as a verifier checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The name requests are verified for ([`Verifier::verify`]).
    pub name: String,
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// Where the provider's JSON Web Key Set is published.
    pub jwks_uri: String,
    /// The accepted `aud` values; `None`: no audience check.
    pub audiences: Option<Vec<String>>,
    /// Where the token is looked for, in order.
    pub locations: Vec<JwtLocation>,
    /// Where the keys come from instead of `jwks_uri`.
    pub jwks: Option<JwksSource>,
}

/// The leeway on `exp` and `nbf`: Envoy's default `clock_skew_seconds`, 60 seconds
/// (`kClockSkewInSecond` in `jwt_verify_lib/jwt.h`; ESPv2 does not change it).
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// How long a fetched JWKS is used before it is fetched again (API Gateway's five
/// minutes; ESPv2's `--jwks_cache_duration_in_s` default is 300).
pub const JWKS_CACHE: Duration = Duration::from_secs(300);

/// How long past [`JWKS_CACHE`] a provider's keys are still used while they cannot
/// be fetched again: a day, the `stale-if-error=86400` Auth0 sends with its JWKS
/// (RFC 5861). Within it, a request is verified with the keys it has and the keys
/// are fetched again beside it; past it, with no fetch succeeding, tokens are not
/// judged at all.
pub const JWKS_STALE_IF_ERROR: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a JWKS fetch may take.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// How old a `jwks_uri`'s cached keys must be before a token with a `kid` they lack
/// makes the verifier fetch them again. Libraries differ: panva/jose waits 30 s after
/// any fetch (`cooldownDuration`); Envoy fetches only when its cache expires. One
/// second keeps a rotated key working at once (its first token fetches) while tokens
/// with made-up `kid`s cost the provider one fetch a second at most.
pub const KID_REFETCH_COOLDOWN: Duration = Duration::from_secs(1);

/// How long after a failed JWKS load requests get that failure at once, without
/// loading again.
pub const FAILED_REFETCH: Duration = Duration::from_secs(1);

/// The largest JWKS a verifier reads.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Where a provider's keys come from instead of its `jwks_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS file, read again whenever the keys are (re)loaded.
    File(PathBuf),
    /// The JWKS JSON text itself.
    Json(String),
}

/// Why a token was refused: one of `jwt_verify_lib`'s statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Missing,
    BadFormat,
    HeaderBadBase64,
    HeaderBadJson,
    HeaderBadAlg,
    AlgNotImplemented,
    HeaderBadKid,
    PayloadBadBase64,
    PayloadBadJson,
    IssNotString,
    AudNotString,
    ExpNotInteger,
    NbfNotInteger,
    SignatureBadBase64,
    UnknownIssuer,
    NotYetValid,
    Expired,
    AudienceNotAllowed,
    VerificationFails,
    KidAlgMismatch,
    JwksParse,
    JwksNoKeys,
    JwksBadKeys,
    JwksNoValidKeys,
    JwksFetchFail,
}

impl JwtError {
    /// The text, as `jwt_verify_lib`'s `getStatusString` gives it.
    pub fn message(self) -> &'static str {
        match self {
            JwtError::Missing => "Jwt is missing",
            JwtError::BadFormat => {
                "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
            }
            JwtError::HeaderBadBase64 => "Jwt header is an invalid Base64url encoded",
            JwtError::HeaderBadJson => "Jwt header is an invalid JSON",
            JwtError::HeaderBadAlg => "Jwt header [alg] field is required and must be a string",
            JwtError::AlgNotImplemented => "Jwt header [alg] is not supported",
            JwtError::HeaderBadKid => "Jwt header [kid] field is not a string",
            JwtError::PayloadBadBase64 => "Jwt payload is an invalid Base64url encoded",
            JwtError::PayloadBadJson => "Jwt payload is an invalid JSON",
            JwtError::IssNotString => "Jwt payload [iss] field is not a string",
            JwtError::AudNotString => "Jwt payload [aud] field is not a string or string list",
            JwtError::ExpNotInteger => "Jwt payload [exp] field is not an integer",
            JwtError::NbfNotInteger => "Jwt payload [nbf] field is not an integer",
            JwtError::SignatureBadBase64 => "Jwt signature is an invalid Base64url encoded",
            JwtError::UnknownIssuer => "Jwt issuer is not configured",
            JwtError::NotYetValid => "Jwt not yet valid",
            JwtError::Expired => "Jwt is expired",
            JwtError::AudienceNotAllowed => "Audiences in Jwt are not allowed",
            JwtError::VerificationFails => "Jwt verification fails",
            JwtError::KidAlgMismatch => "Jwks doesn't have key to match kid or alg from Jwt",
            JwtError::JwksParse => "Jwks is an invalid JSON",
            JwtError::JwksNoKeys => "Jwks does not have [keys] field",
            JwtError::JwksBadKeys => "[keys] in Jwks is not an array",
            JwtError::JwksNoValidKeys => "Jwks doesn't have any valid public key",
            JwtError::JwksFetchFail => "Jwks remote fetch is failed",
        }
    }

    /// Whether the request simply carried no token.
    pub fn is_missing(self) -> bool {
        self == JwtError::Missing
    }

    /// The provider's keys could not be had (fetch failed, or not a usable JWKS): the
    /// token was not judged at all. API Gateway answers these 401 too; a backend that
    /// checks again after the gateway answers 503, since the fault is not the caller's.
    pub fn is_key_source(self) -> bool {
        matches!(
            self,
            JwtError::JwksFetchFail
                | JwtError::JwksParse
                | JwtError::JwksNoKeys
                | JwtError::JwksBadKeys
                | JwtError::JwksNoValidKeys
        )
    }
}

/// The algorithms this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

/// A parsed, not yet verified token.
#[derive(Debug)]
struct Token<'a> {
    /// `header.payload`, the signed bytes.
    signed: &'a str,
    payload_b64: &'a str,
    payload: serde_json::Map<String, Value>,
    alg: Alg,
    kid: Option<String>,
    iss: String,
    aud: Vec<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    signature: Vec<u8>,
}

fn parse_token(token: &str) -> Result<Token<'_>, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::BadFormat);
    };
    let header = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| JwtError::HeaderBadBase64)?;
    let header: Value = serde_json::from_slice(&header).map_err(|_| JwtError::HeaderBadJson)?;
    let Value::Object(header) = header else {
        return Err(JwtError::HeaderBadJson);
    };
    let alg = match header.get("alg") {
        Some(Value::String(a)) => match a.as_str() {
            "RS256" => Alg::Rs256,
            "ES256" => Alg::Es256,
            _ => return Err(JwtError::AlgNotImplemented),
        },
        _ => return Err(JwtError::HeaderBadAlg),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwtError::HeaderBadKid),
    };
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| JwtError::PayloadBadBase64)?;
    let payload: Value = serde_json::from_slice(&payload).map_err(|_| JwtError::PayloadBadJson)?;
    let Value::Object(payload) = payload else {
        return Err(JwtError::PayloadBadJson);
    };
    let iss = match payload.get("iss") {
        None => String::new(),
        Some(Value::String(i)) => i.clone(),
        Some(_) => return Err(JwtError::IssNotString),
    };
    let aud = match payload.get("aud") {
        None => Vec::new(),
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| a.as_str().map(str::to_string).ok_or(JwtError::AudNotString))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::AudNotString),
    };
    let time = |name: &str, err: JwtError| match payload.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or(err),
    };
    let exp = time("exp", JwtError::ExpNotInteger)?;
    let nbf = time("nbf", JwtError::NbfNotInteger)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::SignatureBadBase64)?;
    Ok(Token {
        signed: &token[..h.len() + 1 + p.len()],
        payload_b64: p,
        payload,
        alg,
        kid,
        iss,
        aud,
        exp,
        nbf,
        signature,
    })
}

/// One public key of a JWKS.
#[derive(Debug, Clone)]
struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key: KeyMaterial,
}

#[derive(Debug, Clone)]
enum KeyMaterial {
    /// Big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed SEC1 point `04 || x || y`.
    P256(Vec<u8>),
}

impl Jwk {
    /// Whether the key's type fits the algorithm (an RS256 token is never checked
    /// with an EC key, nor ES256 with an RSA one).
    fn verifies(&self, alg: Alg, signed: &[u8], sig: &[u8]) -> bool {
        match (&self.key, alg) {
            (KeyMaterial::Rsa { n, e }, Alg::Rs256) => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, sig)
                .is_ok(),
            (KeyMaterial::P256(point), Alg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// Reads a JWKS (`{"keys":[…]}`); keys of other types (or malformed ones) are
/// skipped, as `jwt_verify_lib` skips them, but a set with no usable key is refused.
fn parse_jwks(text: &[u8]) -> Result<Vec<Jwk>, JwtError> {
    let value: Value = serde_json::from_slice(text).map_err(|_| JwtError::JwksParse)?;
    let keys = match value.get("keys") {
        None => return Err(JwtError::JwksNoKeys),
        Some(Value::Array(k)) => k,
        Some(_) => return Err(JwtError::JwksBadKeys),
    };
    let b64 = |k: &Value, f: &str| {
        k.get(f)
            .and_then(Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
    };
    let mut out = Vec::new();
    for k in keys {
        let key = match k.get("kty").and_then(Value::as_str) {
            Some("RSA") => match (b64(k, "n"), b64(k, "e")) {
                (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => KeyMaterial::Rsa { n, e },
                _ => continue,
            },
            Some("EC") if k.get("crv").and_then(Value::as_str) == Some("P-256") => {
                match (b64(k, "x"), b64(k, "y")) {
                    (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                        let mut point = Vec::with_capacity(65);
                        point.push(4);
                        point.extend_from_slice(&x);
                        point.extend_from_slice(&y);
                        KeyMaterial::P256(point)
                    }
                    _ => continue,
                }
            }
            _ => continue,
        };
        out.push(Jwk {
            kid: k.get("kid").and_then(Value::as_str).map(str::to_string),
            alg: k.get("alg").and_then(Value::as_str).map(str::to_string),
            key,
        });
    }
    if out.is_empty() {
        return Err(JwtError::JwksNoValidKeys);
    }
    Ok(out)
}

/// A token that passed: what the backend is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The payload exactly as the token carried it (base64url, no padding): the value
    /// of `X-Apigateway-Api-Userinfo`.
    pub payload_b64: String,
    /// The decoded claims.
    pub claims: serde_json::Map<String, Value>,
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A provider with its effective audiences, its key source and its cached keys.
struct ProviderState {
    provider: Provider,
    /// Read and written under a short lock, never held across a load: a request whose
    /// keys are cached never waits for a load.
    cache: std::sync::Mutex<Cache>,
    /// Held by the one load of the provider's keys in progress.
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// A provider's keys and when they were loaded, and the last failed load.
#[derive(Default)]
struct Cache {
    keys: Option<(Instant, Arc<Vec<Jwk>>)>,
    failed: Option<(Instant, JwtError)>,
}

/// What a request does for its keys.
enum Keys {
    Use(Arc<Vec<Jwk>>),
    Fail(JwtError),
    /// Use these keys, past [`JWKS_CACHE`], and have them loaded again beside the
    /// request.
    Refresh(Arc<Vec<Jwk>>),
    /// Wait for a load.
    Load,
}

/// How long keys are used: fresh ([`JWKS_CACHE`]), then stale while they cannot be
/// loaded again ([`JWKS_STALE_IF_ERROR`]). Shorter in tests.
#[derive(Debug, Clone, Copy)]
struct Lifetimes {
    fresh: Duration,
    stale: Duration,
}

impl Cache {
    /// The keys to use, the failure to give, or a load to make, for a request that
    /// needs the keys (`force`d: a token names a `kid` they lack) of a provider whose
    /// keys come from a `remote` `jwks_uri` or not.
    fn decide(&self, remote: bool, force: bool, life: Lifetimes) -> Keys {
        let aged = |limit: Duration| {
            self.keys
                .as_ref()
                .filter(|(at, _)| at.elapsed() < limit)
                .map(|(at, keys)| (at.elapsed(), keys.clone()))
        };
        let fresh = aged(life.fresh);
        let usable = aged(life.fresh.saturating_add(life.stale));
        let cooling = remote
            && fresh
                .as_ref()
                .is_some_and(|(age, _)| *age < KID_REFETCH_COOLDOWN);
        if let Some((_, keys)) = fresh.clone()
            && (!force || cooling)
        {
            return Keys::Use(keys);
        }
        if let Some((at, error)) = self.failed
            && at.elapsed() < FAILED_REFETCH
        {
            // A `kid` the keys lack could be a new key: the token is not judged.
            return match usable {
                Some((_, keys)) if !force => Keys::Use(keys),
                _ => Keys::Fail(error),
            };
        }
        match usable {
            Some((_, keys)) if fresh.is_none() && !force => Keys::Refresh(keys),
            _ => Keys::Load,
        }
    }
}

impl ProviderState {
    fn decide(&self, force: bool, life: Lifetimes) -> Keys {
        match self.cache.lock() {
            Ok(cache) => cache.decide(self.provider.jwks.is_none(), force, life),
            Err(_) => Keys::Fail(JwtError::JwksFetchFail),
        }
    }
}

/// The JWT providers of a document, ready to verify tokens.
pub struct Verifier {
    providers: BTreeMap<String, Arc<ProviderState>>,
    client: HttpsClient,
    /// [`JWKS_FETCH_TIMEOUT`] (shorter in tests).
    fetch_timeout: Duration,
    life: Lifetimes,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Prepares `providers` (each by its [`Provider::name`]); no key is loaded yet.
    pub fn new(providers: Vec<Provider>) -> Verifier {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let providers = providers
            .into_iter()
            .map(|provider| {
                let name = provider.name.clone();
                let state = ProviderState {
                    provider,
                    cache: std::sync::Mutex::new(Cache::default()),
                    loading: Arc::new(tokio::sync::Mutex::new(())),
                };
                (name, Arc::new(state))
            })
            .collect();
        Verifier {
            providers,
            client,
            fetch_timeout: JWKS_FETCH_TIMEOUT,
            life: Lifetimes {
                fresh: JWKS_CACHE,
                stale: JWKS_STALE_IF_ERROR,
            },
        }
    }

    /// Verifies the token a request carries for `provider` (a scheme name), at the
    /// current time.
    pub async fn verify(
        &self,
        provider: &str,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Verified, JwtError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.verify_at(provider, headers, query, now).await
    }

    /// [`Verifier::verify`] at `now` (seconds since the epoch).
    async fn verify_at(
        &self,
        provider: &str,
        headers: &HeaderMap,
        query: Option<&str>,
        now: u64,
    ) -> Result<Verified, JwtError> {
        // A requirement names a provider the document declared (checked on reading);
        // an unknown name can only be a configuration slip, and is refused.
        let state = self
            .providers
            .get(provider)
            .ok_or(JwtError::UnknownIssuer)?;
        let raw = find_token(&state.provider.locations, headers, query).ok_or(JwtError::Missing)?;
        let token = parse_token(&raw)?;
        if token.iss != state.provider.issuer {
            return Err(JwtError::UnknownIssuer);
        }
        let skew = CLOCK_SKEW.as_secs();
        if let Some(nbf) = token.nbf
            && now.saturating_add(skew) < nbf
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(exp) = token.exp
            && now > exp.saturating_add(skew)
        {
            return Err(JwtError::Expired);
        }
        if let Some(allowed) = &state.provider.audiences
            && !token.aud.iter().any(|a| allowed.contains(a))
        {
            return Err(JwtError::AudienceNotAllowed);
        }
        let mut refreshed = false;
        loop {
            let keys = self.keys(state, refreshed).await?;
            let candidates: Vec<&Jwk> = keys
                .iter()
                .filter(|k| match (&token.kid, &k.kid) {
                    (Some(t), Some(k)) => t == k,
                    _ => true,
                })
                .filter(|k| k.alg.as_deref().is_none_or(|a| a == token.alg.name()))
                .collect();
            if candidates.is_empty() {
                // A kid the cached set lacks: the provider may have rotated its keys.
                if !refreshed && token.kid.is_some() {
                    refreshed = true;
                    continue;
                }
                return Err(JwtError::KidAlgMismatch);
            }
            if candidates
                .iter()
                .any(|k| k.verifies(token.alg, token.signed.as_bytes(), &token.signature))
            {
                return Ok(Verified {
                    payload_b64: token.payload_b64.to_string(),
                    claims: token.payload,
                });
            }
            return Err(JwtError::VerificationFails);
        }
    }

    /// The provider's keys: cached, or loaded when the cache is empty or older than
    /// [`JWKS_CACHE`] plus [`JWKS_STALE_IF_ERROR`], or when `force`d (a `kid` the keys
    /// lack; from a `jwks_uri`, when they were loaded [`KID_REFETCH_COOLDOWN`] ago or
    /// more). Keys past [`JWKS_CACHE`] but within [`JWKS_STALE_IF_ERROR`] are used at
    /// once, and loaded again beside the request. Within [`FAILED_REFETCH`] of a
    /// failed load, at once, the keys still usable or that failure (always the failure
    /// when `force`d: a new key may be what the token names). One load per
    /// provider at a time: a request that needs one waits for the load in progress
    /// and takes its outcome. The load runs on a task of its own, so a request that
    /// gives up (its client gone, its timeout passed) does not cut it short for the
    /// requests after it.
    async fn keys(
        &self,
        state: &Arc<ProviderState>,
        force: bool,
    ) -> Result<Arc<Vec<Jwk>>, JwtError> {
        match state.decide(force, self.life) {
            Keys::Use(keys) => return Ok(keys),
            Keys::Fail(error) => return Err(error),
            Keys::Refresh(keys) => {
                // A load in progress already brings them; otherwise start one.
                if let Ok(loading) = Arc::clone(&state.loading).try_lock_owned()
                    && let Keys::Refresh(_) = state.decide(force, self.life)
                {
                    drop(self.start_load(state, loading));
                }
                return Ok(keys);
            }
            Keys::Load => {}
        }
        let loading = Arc::clone(&state.loading).lock_owned().await;
        match state.decide(force, self.life) {
            Keys::Use(keys) => Ok(keys),
            Keys::Fail(error) => Err(error),
            Keys::Refresh(keys) => {
                drop(self.start_load(state, loading));
                Ok(keys)
            }
            Keys::Load => self
                .start_load(state, loading)
                .await
                .unwrap_or(Err(JwtError::JwksFetchFail)),
        }
    }

    /// Loads the provider's keys on a task of its own, holding `loading` until the
    /// cache has its outcome.
    fn start_load(
        &self,
        state: &Arc<ProviderState>,
        loading: tokio::sync::OwnedMutexGuard<()>,
    ) -> tokio::task::JoinHandle<Result<Arc<Vec<Jwk>>, JwtError>> {
        let state = Arc::clone(state);
        let client = self.client.clone();
        let timeout = self.fetch_timeout;
        tokio::spawn(async move {
            let loaded = load(&state.provider, &client, timeout).await;
            let mut cache = state.cache.lock().map_err(|_| JwtError::JwksFetchFail)?;
            let outcome = match loaded {
                Ok(keys) => {
                    let keys = Arc::new(keys);
                    cache.keys = Some((Instant::now(), keys.clone()));
                    cache.failed = None;
                    Ok(keys)
                }
                Err(error) => {
                    cache.failed = Some((Instant::now(), error));
                    Err(error)
                }
            };
            drop(loading);
            outcome
        })
    }
}

/// Reads a provider's JWKS from where it comes from.
async fn load(
    provider: &Provider,
    client: &HttpsClient,
    timeout: Duration,
) -> Result<Vec<Jwk>, JwtError> {
    let text = match &provider.jwks {
        Some(JwksSource::Json(text)) => Bytes::from(text.clone().into_bytes()),
        Some(JwksSource::File(path)) => tokio::fs::read(path)
            .await
            .map(Bytes::from)
            .map_err(|_| JwtError::JwksFetchFail)?,
        None => fetch(client, &provider.jwks_uri, timeout).await?,
    };
    parse_jwks(&text)
}

async fn fetch(client: &HttpsClient, uri: &str, timeout: Duration) -> Result<Bytes, JwtError> {
    let uri: Uri = uri.parse().map_err(|_| JwtError::JwksFetchFail)?;
    let req = Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|_| JwtError::JwksFetchFail)?;
    let call = async {
        let resp = client
            .request(req)
            .await
            .map_err(|_| JwtError::JwksFetchFail)?;
        if !resp.status().is_success() {
            return Err(JwtError::JwksFetchFail);
        }
        Limited::new(resp.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|_| JwtError::JwksFetchFail)
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| JwtError::JwksFetchFail)?
}

/// The token from the first location that has one. A header location's prefix is
/// matched without regard to case (`bearer x` is `Bearer x`).
pub fn find_token(
    locations: &[JwtLocation],
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<String> {
    for location in locations {
        let found = match location {
            JwtLocation::Header { name, value_prefix } => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    let head = v.get(..value_prefix.len())?;
                    head.eq_ignore_ascii_case(value_prefix)
                        .then(|| v[value_prefix.len()..].trim().to_string())
                })
                .filter(|t| !t.is_empty()),
            JwtLocation::Query(name) => query.and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, v)| k == name && !v.is_empty())
                    .map(|(_, v)| v.into_owned())
            }),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_get_jwt_verify_lib_statuses() {
        assert_eq!(parse_token("a.b").err(), Some(JwtError::BadFormat));
        assert_eq!(parse_token("a.b.c.d").err(), Some(JwtError::BadFormat));
        assert_eq!(parse_token("!.b.c").err(), Some(JwtError::HeaderBadBase64));
        let h = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let none = format!("{}.{}.", h(r#"{"alg":"none"}"#), h("{}"));
        assert_eq!(parse_token(&none).err(), Some(JwtError::AlgNotImplemented));
        let hs = format!("{}.{}.", h(r#"{"alg":"HS256"}"#), h("{}"));
        assert_eq!(parse_token(&hs).err(), Some(JwtError::AlgNotImplemented));
        let no_alg = format!("{}.{}.", h(r#"{"typ":"JWT"}"#), h("{}"));
        assert_eq!(parse_token(&no_alg).err(), Some(JwtError::HeaderBadAlg));
        let bad_exp = format!("{}.{}.", h(r#"{"alg":"RS256"}"#), h(r#"{"exp":"soon"}"#));
        assert_eq!(parse_token(&bad_exp).err(), Some(JwtError::ExpNotInteger));
        let ok = format!(
            "{}.{}.",
            h(r#"{"alg":"ES256","kid":"k1"}"#),
            h(r#"{"iss":"i","aud":["a","b"],"exp":5}"#)
        );
        let t = parse_token(&ok).expect("parses");
        assert_eq!(t.alg, Alg::Es256);
        assert_eq!(t.kid.as_deref(), Some("k1"));
        assert_eq!(t.aud, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(t.exp, Some(5));
        assert_eq!(t.signed.len(), ok.len() - 1);
    }

    #[test]
    fn jwks_without_usable_keys_is_refused() {
        assert_eq!(parse_jwks(b"nope").err(), Some(JwtError::JwksParse));
        assert_eq!(parse_jwks(b"{}").err(), Some(JwtError::JwksNoKeys));
        assert_eq!(
            parse_jwks(br#"{"keys":{}}"#).err(),
            Some(JwtError::JwksBadKeys)
        );
        assert_eq!(
            parse_jwks(br#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).err(),
            Some(JwtError::JwksNoValidKeys)
        );
    }

    #[test]
    fn tokens_are_found_in_the_listed_places() {
        let mut h = HeaderMap::new();
        let loc = JwtLocation::defaults();
        assert_eq!(find_token(&loc, &h, None), None);
        assert_eq!(
            find_token(&loc, &h, Some("access_token=t%2B1")),
            Some("t+1".into())
        );
        h.insert("authorization", "Basic abc".parse().expect("hv"));
        assert_eq!(find_token(&loc, &h, None), None);
        h.insert("authorization", "bearer tok".parse().expect("hv"));
        assert_eq!(find_token(&loc, &h, None), Some("tok".into()));
    }

    /// The JWKS a provider publishes: one P-256 key, `k1`.
    fn published_jwks() -> String {
        use shopgen_testkit::tokens::{Signer, jwks};
        jwks(&[&Signer::ec("k1")])
    }

    /// What a test JWKS server does with a connection.
    #[derive(Clone, Copy)]
    enum Serve {
        /// Answers the JWKS after a pause.
        After(Duration),
        /// Accepts and never answers.
        Never,
    }

    /// A JWKS server on loopback that serves its `n`-th connection as `plan(n)` says
    /// (from 0); its URL and how many connections it took.
    async fn jwks_server(
        plan: impl Fn(usize) -> Serve + Send + 'static,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let jwks = published_jwks();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        let taken = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&taken);
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let Serve::After(pause) = plan(n) else {
                    held.push(socket);
                    continue;
                };
                let jwks = jwks.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    tokio::time::sleep(pause).await;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{jwks}",
                        jwks.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        (url, taken)
    }

    /// A plan for [`jwks_server`]: the first connection gets the JWKS at once, every
    /// later one `then`.
    fn answers_once_then(then: Serve) -> impl Fn(usize) -> Serve + Send + 'static {
        move |n| {
            if n == 0 {
                Serve::After(Duration::ZERO)
            } else {
                then
            }
        }
    }

    const ISSUER: &str = "https://issuer.example";

    fn verifier(jwks_uri: String, fetch_timeout: Duration) -> Verifier {
        let mut verifier = Verifier::new(vec![Provider {
            name: "p".into(),
            issuer: ISSUER.into(),
            jwks_uri,
            audiences: None,
            locations: JwtLocation::defaults(),
            jwks: None,
        }]);
        verifier.fetch_timeout = fetch_timeout;
        verifier
    }

    /// A request carrying an ES256 token of the issuer with key id `kid` (its
    /// signature is not the key's).
    fn bearer(kid: &str) -> HeaderMap {
        let h = |json: String| URL_SAFE_NO_PAD.encode(json);
        let token = format!(
            "{}.{}.{}",
            h(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#)),
            h(format!(r#"{{"iss":"{ISSUER}","sub":"u"}}"#)),
            URL_SAFE_NO_PAD.encode([7u8; 64])
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        headers
    }

    /// Tokens naming `kid`s the keys lack (a rotation, or made up) fetch the keys again
    /// once per cooldown, not once per request.
    #[tokio::test]
    async fn tokens_with_unknown_kids_do_not_make_a_fetch_each() {
        let (url, fetches) = jwks_server(|_| Serve::After(Duration::ZERO)).await;
        let fetched = || fetches.load(std::sync::atomic::Ordering::SeqCst);
        let verifier = verifier(url, JWKS_FETCH_TIMEOUT);
        for i in 0..20 {
            let headers = bearer(&format!("made-up-{i}"));
            let outcome = verifier.verify("p", &headers, None).await;
            assert_eq!(outcome.err(), Some(JwtError::KidAlgMismatch));
        }
        // The first load only: the keys are newer than the cooldown.
        assert_eq!(fetched(), 1);
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        assert_eq!(fetched(), 1);
        tokio::time::sleep(KID_REFETCH_COOLDOWN).await;
        for i in 0..5 {
            let headers = bearer(&format!("made-up-again-{i}"));
            let outcome = verifier.verify("p", &headers, None).await;
            assert_eq!(outcome.err(), Some(JwtError::KidAlgMismatch));
        }
        assert_eq!(
            fetched(),
            2,
            "a cooldown later, an unknown kid fetches once again"
        );
    }

    /// With the provider unreachable (it accepts and never answers), requests that
    /// arrive together wait for one fetch, not for one after another; a second later
    /// the keys are fetched again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_provider_costs_each_request_one_fetch_timeout_at_most() {
        let (url, fetches) = jwks_server(|_| Serve::Never).await;
        let timeout = Duration::from_millis(300);
        let verifier = Arc::new(verifier(url, timeout));
        let started = Instant::now();
        let requests: Vec<_> = (0..5)
            .map(|_| {
                let verifier = Arc::clone(&verifier);
                tokio::spawn(async move {
                    let outcome = verifier.verify("p", &bearer("k1"), None).await;
                    (outcome.err(), started.elapsed())
                })
            })
            .collect();
        for request in requests {
            let (error, took) = request.await.expect("request");
            assert_eq!(error, Some(JwtError::JwksFetchFail));
            assert!(took < timeout * 2, "took {took:?}");
        }
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(FAILED_REFETCH).await;
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::JwksFetchFail));
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// A request whose keys are cached does not wait for a load in progress (here one
    /// for an unknown kid, against a provider that stopped answering).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_keys_do_not_wait_for_a_load() {
        let (url, _) = jwks_server(answers_once_then(Serve::Never)).await;
        let verifier = Arc::new(verifier(url, Duration::from_secs(3)));
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        tokio::time::sleep(KID_REFETCH_COOLDOWN).await;
        let stuck = tokio::spawn({
            let verifier = Arc::clone(&verifier);
            async move { verifier.verify("p", &bearer("rotated"), None).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(
            !stuck.is_finished(),
            "the load for the unknown kid is still waiting"
        );
        assert_eq!(
            stuck.await.expect("request").err(),
            Some(JwtError::JwksFetchFail)
        );
    }

    /// A request that gives up while its load is in progress (its client gone) does
    /// not cut the load short: the next request takes that load's keys, with no
    /// fetch of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_gives_up_does_not_cut_its_load_short() {
        let (url, fetches) = jwks_server(|_| Serve::After(Duration::from_millis(400))).await;
        let verifier = Arc::new(verifier(url, JWKS_FETCH_TIMEOUT));
        let gave_up = tokio::time::timeout(
            Duration::from_millis(100),
            verifier.verify("p", &bearer("k1"), None),
        )
        .await;
        assert!(gave_up.is_err(), "the first request gave up");
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// Keys past their cache time are used at once while they are fetched again
    /// beside the request: no request waits for the provider every five minutes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_past_their_cache_time_are_used_while_fetched_again() {
        let (url, fetches) =
            jwks_server(answers_once_then(Serve::After(Duration::from_secs(1)))).await;
        let fetched = || fetches.load(std::sync::atomic::Ordering::SeqCst);
        let mut verifier = verifier(url, JWKS_FETCH_TIMEOUT);
        verifier.life.fresh = Duration::from_millis(300);
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let started = Instant::now();
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "waited {:?} for the slow fetch",
            started.elapsed()
        );
        // One fetch beside the requests, however many come while it runs, and none
        // of them waits for it.
        for _ in 0..5 {
            let started = Instant::now();
            let outcome = verifier.verify("p", &bearer("k1"), None).await;
            assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
            assert!(started.elapsed() < Duration::from_millis(500));
        }
        let loaded_at = || {
            let cache = verifier.providers["p"].cache.lock().expect("cache");
            cache.keys.as_ref().map(|(at, _)| *at)
        };
        let first = loaded_at();
        let waiting = Instant::now();
        while loaded_at() == first {
            assert!(waiting.elapsed() < Duration::from_secs(5), "never reloaded");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(fetched(), 2);
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        assert_eq!(fetched(), 2, "the keys fetched beside are fresh");
    }

    /// With the provider gone after a first fetch, its keys are still used for
    /// [`JWKS_STALE_IF_ERROR`] past their cache time, fetched again beside the
    /// requests once a [`FAILED_REFETCH`], and no longer used after it; a token whose
    /// `kid` they lack meanwhile is not judged (503), not refused (401).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_is_ridden_out_on_the_keys_had_for_a_bounded_time() {
        let (url, fetches) = jwks_server(answers_once_then(Serve::Never)).await;
        let fetched = || fetches.load(std::sync::atomic::Ordering::SeqCst);
        let mut verifier = verifier(url, Duration::from_millis(200));
        verifier.life = Lifetimes {
            fresh: Duration::from_secs(1),
            stale: Duration::from_secs(3),
        };
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::VerificationFails));
        let loaded = {
            let cache = verifier.providers["p"].cache.lock().expect("cache");
            cache.keys.as_ref().map(|(at, _)| *at).expect("keys")
        };
        // Waits until `ms` after the keys were loaded, then verifies a token of `kid`,
        // quickly.
        let at = |ms: u64, kid: &'static str| {
            let verifier = &verifier;
            async move {
                let when = Duration::from_millis(ms);
                tokio::time::sleep(when.saturating_sub(loaded.elapsed())).await;
                let started = Instant::now();
                let outcome = verifier.verify("p", &bearer(kid), None).await;
                let took = started.elapsed();
                assert!(took < Duration::from_millis(150), "{ms} ms: took {took:?}");
                outcome.err()
            }
        };
        // Past the cache time: the keys had, and a fetch beside (it fails).
        assert_eq!(at(1200, "k1").await, Some(JwtError::VerificationFails));
        // Within a second of its failure: the keys had, no fetch; an unknown kid is
        // not judged.
        assert_eq!(at(1700, "k1").await, Some(JwtError::VerificationFails));
        assert_eq!(at(1700, "rotated").await, Some(JwtError::JwksFetchFail));
        assert_eq!(fetched(), 2);
        // A second after it: the keys had, and another fetch beside.
        assert_eq!(at(2800, "k1").await, Some(JwtError::VerificationFails));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(fetched(), 3);
        // Past a stale time alone, within the cache and stale times together.
        assert_eq!(at(3400, "k1").await, Some(JwtError::VerificationFails));
        // Past both: not judged.
        tokio::time::sleep(Duration::from_millis(4500).saturating_sub(loaded.elapsed())).await;
        let outcome = verifier.verify("p", &bearer("k1"), None).await;
        assert_eq!(outcome.err(), Some(JwtError::JwksFetchFail));
    }
}
