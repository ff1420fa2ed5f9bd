//! HTTP caching of GET answers: a strong `ETag` on every successful `GET`,
//! `304 Not Modified` for a matching `If-None-Match`, and `Cache-Control` on every
//! response.
//!
//! A layer over the whole router (see `server`), so every route of every generated
//! backend gets it without generated code:
//!
//! * The `ETag` (on `GET`; a `HEAD` answer gets the `Cache-Control` only) is a strong
//!   validator of the exact body bytes: the first 128 bits of
//!   their SHA-256, as 32 hex digits in quotes. Equal bytes give equal tags on either
//!   engine and on every replica (no per-process state), and any change of the body —
//!   a write, another page, another sort — gives another tag.
//! * `If-None-Match` is compared weakly (RFC 9110 13.1.2: `W/"x"` matches `"x"`), `*`
//!   matches any current answer. A match gives `304` with no body, and the `ETag`,
//!   `Cache-Control` and `Vary` the `200` would have carried.
//! * `Cache-Control`: the route's policy from `CACHE_CONTROL_ROUTES` (the spec's
//!   `cache = { max_age, public }`, e.g. `public, max-age=60`) on its successful GET
//!   answers; `no-store` on everything else, so a spec that says nothing gets nothing
//!   cached anywhere.

use std::collections::BTreeMap;

use axum::body::{Body, HttpBody as _};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Why `CACHE_CONTROL_ROUTES` does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CachePolicyError {
    /// A rule without `=`.
    #[error("`{0}` is not ROUTE=CACHE-CONTROL")]
    NotARule(String),
    /// A route that is not a path.
    #[error("`{0}` is not a route path")]
    NotARoute(String),
    /// A value that cannot be a header's.
    #[error("`{0}` is not a header value")]
    NotAHeaderValue(String),
}

/// `Cache-Control` by route template (`/products/{id}`), for successful GETs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePolicies {
    by_route: BTreeMap<String, Policy>,
}

/// A route's `Cache-Control`, as configured and as sent with an answer for one
/// verified caller (turned `private`, [`crate::identity`]), both worked out once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    shared: HeaderValue,
    per_caller: HeaderValue,
}

impl CachePolicies {
    /// Parses `CACHE_CONTROL_ROUTES`: `;`-separated `ROUTE=VALUE` rules, e.g.
    /// `/products=public, max-age=60;/products/{id}=public, max-age=60`.
    pub fn parse(s: &str) -> Result<Self, CachePolicyError> {
        let mut by_route = BTreeMap::new();
        for rule in s.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let Some((route, value)) = rule.split_once('=') else {
                return Err(CachePolicyError::NotARule(rule.to_string()));
            };
            let route = route.trim();
            if !route.starts_with('/') {
                return Err(CachePolicyError::NotARoute(route.to_string()));
            }
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| CachePolicyError::NotAHeaderValue(value.trim().to_string()))?;
            let per_caller = crate::identity::private(&value);
            by_route.insert(
                route.to_string(),
                Policy {
                    shared: value,
                    per_caller,
                },
            );
        }
        Ok(CachePolicies { by_route })
    }

    /// The route's policy (`no-store` for a route without one), the `private` form
    /// when the answer is for one verified caller.
    fn for_route(&self, route: Option<&str>, per_caller: bool) -> HeaderValue {
        match route.and_then(|r| self.by_route.get(r)) {
            Some(policy) if per_caller => policy.per_caller.clone(),
            Some(policy) => policy.shared.clone(),
            None => HeaderValue::from_static("no-store"),
        }
    }
}

/// The strong entity tag of a body: `"` + 32 hex digits of its SHA-256 + `"`.
pub fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let mut s = String::with_capacity(34);
    s.push('"');
    push_hex(&mut s, &digest[..16]);
    s.push('"');
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Appends `bytes` as lowercase hex digits.
pub(crate) fn push_hex(s: &mut String, bytes: &[u8]) {
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
}

/// Whether `If-None-Match` (every occurrence) matches `tag`, by weak comparison.
pub fn none_match(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let want = opaque(tag.to_str().unwrap_or(""));
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || opaque(t) == want)
}

/// The layer: see the module documentation.
pub async fn conditional(
    axum::extract::State(policies): axum::extract::State<std::sync::Arc<CachePolicies>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    // Cheap clones: the route is shared, and the request headers are kept only when
    // there is a condition to answer.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let conditions = req
        .headers()
        .contains_key(header::IF_NONE_MATCH)
        .then(|| req.headers().clone());
    let mut response = next.run(req).await;
    let per_caller = response
        .extensions()
        .get::<crate::identity::PerCaller>()
        .is_some();
    if per_caller {
        // An answer for one verified caller: no shared cache may keep it (its
        // `Cache-Control` turns `private` below), and a private one keeps it per token.
        response
            .headers_mut()
            .append(header::VARY, crate::identity::vary());
    }
    let ok = response.status() == StatusCode::OK;
    if !ok || !matches!(method, Method::GET | Method::HEAD) {
        return with_cache_control(response, HeaderValue::from_static("no-store"));
    }
    let policy = policies.for_route(route.as_ref().map(MatchedPath::as_str), per_caller);
    if method == Method::HEAD {
        // axum drops a HEAD answer's body before this layer sees it, so there are no
        // bytes to tag: the policy only.
        return with_cache_control(response, policy);
    }
    let (mut parts, body) = response.into_parts();
    // A body in memory that has its tag (a cached response) is passed on as it is;
    // otherwise the bytes are read (and the tag computed if there is none).
    let tagged = parts.headers.get(header::ETAG).cloned();
    let (tag, body) = match tagged {
        Some(tag) if body.size_hint().exact().is_some() => (tag, body),
        tagged => match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => (tagged.unwrap_or_else(|| etag(&bytes)), Body::from(bytes)),
            Err(e) => {
                return ApiError::Internal(format!("response body: {e}")).into_response();
            }
        },
    };
    parts.headers.insert(header::ETAG, tag.clone());
    parts.headers.insert(header::CACHE_CONTROL, policy);
    if conditions.is_some_and(|c| none_match(&c, &tag)) {
        let mut not_modified = Response::new(Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        for name in [
            header::ETAG,
            header::CACHE_CONTROL,
            header::VARY,
            header::CONTENT_LOCATION,
            header::DATE,
            header::EXPIRES,
        ] {
            for v in parts.headers.get_all(&name) {
                not_modified.headers_mut().append(name.clone(), v.clone());
            }
        }
        return not_modified;
    }
    Response::from_parts(parts, body)
}

fn with_cache_control(mut response: Response, value: HeaderValue) -> Response {
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_strong_and_follow_the_bytes() {
        let a = etag(b"{\"products\":[]}");
        assert_eq!(a.len(), 34);
        assert!(a.to_str().unwrap().starts_with('"'));
        assert_eq!(a, etag(b"{\"products\":[]}"));
        assert_ne!(a, etag(b"{\"products\":[{}]}"));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = etag(b"x");
        let t = tag.to_str().unwrap().to_owned();
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(none_match(&h(&t), &tag));
        assert!(none_match(&h(&format!("W/{t}")), &tag));
        assert!(none_match(&h(&format!("\"other\", {t}")), &tag));
        assert!(none_match(&h("*"), &tag));
        assert!(!none_match(&h("\"other\""), &tag));
        assert!(!none_match(&HeaderMap::new(), &tag));
    }

    #[test]
    fn policies_parse_and_default_to_no_store() {
        let p =
            CachePolicies::parse("/products=public, max-age=60; /products/{id}=private, max-age=0")
                .unwrap();
        assert_eq!(p.for_route(Some("/products"), false), "public, max-age=60");
        assert_eq!(p.for_route(Some("/products"), true), "private, max-age=60");
        assert_eq!(
            p.for_route(Some("/products/{id}"), false),
            "private, max-age=0"
        );
        assert_eq!(p.for_route(Some("/reviews"), false), "no-store");
        assert_eq!(p.for_route(Some("/reviews"), true), "no-store");
        assert_eq!(p.for_route(None, false), "no-store");
        assert_eq!(
            CachePolicies::parse("products").map_err(|e| e.to_string()),
            Err("`products` is not ROUTE=CACHE-CONTROL".to_string())
        );
        assert_eq!(
            CachePolicies::parse("products=x"),
            Err(CachePolicyError::NotARoute("products".into()))
        );
        assert_eq!(
            CachePolicies::parse("/products=a\nb"),
            Err(CachePolicyError::NotAHeaderValue("a\nb".into()))
        );
        assert_eq!(CachePolicies::parse("").unwrap(), CachePolicies::default());
    }
}
