//! CORS: which web origins may call the public routes, the relay's own answer to a
//! browser's preflight, and the headers added to real responses.
//!
//! Google API Gateway (managed ESPv2, no startup flags) has no CORS switch of its own:
//! a preflight `OPTIONS` reaches the relay only because the gateway document lists a
//! keyless `options` operation for the path, and then it arrives like any other
//! request. The relay answers it here, locally, without calling the upstream:
//!
//! * A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on a
//!   public path, from an allowed origin, for a method that path has and headers the
//!   policy allows: `204` with `Access-Control-Allow-Origin` (the origin itself, or `*`
//!   when every origin is allowed and credentials are not), `-Allow-Methods`,
//!   `-Allow-Headers`, `-Max-Age`, `-Allow-Credentials` when allowed, and `Vary`.
//! * Any other preflight on a public path: `403` `cors_rejected` with **no** CORS
//!   header, so the browser refuses the call; the message says which part failed.
//! * A plain `OPTIONS` (no preflight headers) on a public path: `204` with `Allow`.
//! * Real responses (forwarded, or the relay's own errors) to an allowed origin get
//!   `Access-Control-Allow-Origin`, `Access-Control-Expose-Headers` and, with
//!   credentials, `Access-Control-Allow-Credentials`; with a list of origins every
//!   response also says `Vary: Origin`, so a shared cache never serves one origin's
//!   answer to another. A disallowed origin gets no CORS header.
//!
//! Origins compare byte for byte with the serialised origin the browser sends
//! (`https://shop.example.com`, `http://localhost:5173`), as the Fetch standard does.
//!
//! The policy comes from the environment (`CORS_ALLOWED_ORIGINS` and friends, see
//! [`crate::config::Settings`]); without `CORS_ALLOWED_ORIGINS`, the relay does no CORS
//! at all and `OPTIONS` is a 404 like any unlisted method.

use hyper::HeaderMap;
use hyper::header::{self, HeaderName, HeaderValue};

use crate::h1::tokens;
use crate::headers::{Fields, is_visible_ascii};
use crate::route::Method;

/// Which origins may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: every origin.
    Any,
    /// These exact serialised origins.
    List(Vec<String>),
}

/// A validated CORS policy.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    origins: AllowedOrigins,
    /// Lower case, sorted.
    allowed_headers: Vec<String>,
    allowed_headers_value: HeaderValue,
    expose_headers_value: Option<HeaderValue>,
    max_age_value: HeaderValue,
    credentials: bool,
}

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CorsPolicyError {
    /// An entry of the origin list is not a serialised origin.
    #[error("`{0}` is not an origin (scheme://host[:port], no path)")]
    Origin(String),
    /// `*` together with other origins.
    #[error("`*` cannot be combined with other origins")]
    WildcardMixed,
    /// `*` with credentials, which browsers refuse.
    #[error("credentials cannot be allowed for every origin (`*`)")]
    WildcardCredentials,
    /// A header name that is not a token.
    #[error("`{0}` is not a header name")]
    Header(String),
}

/// What the relay does with an `OPTIONS` request on a public path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// Allowed: answer 204 with these headers.
    Allowed(HeaderMap),
    /// Refused: answer 403 without CORS headers; the reason is for the message.
    Refused(&'static str),
    /// Not a preflight: answer 204 with `Allow`.
    Plain,
}

impl CorsPolicy {
    /// A policy from its parts: `origins` (`*` alone, or exact origins), extra allowed
    /// request headers, exposed response headers, the preflight cache time in seconds,
    /// and whether credentials are allowed.
    pub fn new(
        origins: &[String],
        allowed_headers: &[String],
        expose_headers: &[String],
        max_age: u32,
        credentials: bool,
    ) -> Result<Self, CorsPolicyError> {
        let origins = if origins.iter().any(|o| o == "*") {
            if origins.len() > 1 {
                return Err(CorsPolicyError::WildcardMixed);
            }
            if credentials {
                return Err(CorsPolicyError::WildcardCredentials);
            }
            AllowedOrigins::Any
        } else {
            for o in origins {
                if !is_origin(o) {
                    return Err(CorsPolicyError::Origin(o.clone()));
                }
            }
            AllowedOrigins::List(origins.to_vec())
        };
        let mut allowed: Vec<String> = Vec::new();
        for h in allowed_headers {
            let lower = h.trim().to_ascii_lowercase();
            if HeaderName::from_bytes(lower.as_bytes()).is_err() {
                return Err(CorsPolicyError::Header(h.clone()));
            }
            allowed.push(lower);
        }
        allowed.sort();
        allowed.dedup();
        let mut expose: Vec<String> = Vec::new();
        for h in expose_headers {
            let lower = h.trim().to_ascii_lowercase();
            if HeaderName::from_bytes(lower.as_bytes()).is_err() {
                return Err(CorsPolicyError::Header(h.clone()));
            }
            if !expose.contains(&lower) {
                expose.push(lower);
            }
        }
        let joined = |list: &[String]| HeaderValue::from_str(&list.join(", ")).ok();
        Ok(CorsPolicy {
            origins,
            allowed_headers_value: joined(&allowed).unwrap_or_else(|| HeaderValue::from_static("")),
            allowed_headers: allowed,
            expose_headers_value: if expose.is_empty() {
                None
            } else {
                joined(&expose)
            },
            max_age_value: HeaderValue::from(max_age),
            credentials,
        })
    }

    /// The origins this policy allows.
    pub fn origins(&self) -> &AllowedOrigins {
        &self.origins
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if allowed.
    fn allow_origin(&self, origin: &[u8]) -> Option<HeaderValue> {
        match &self.origins {
            AllowedOrigins::Any => Some(HeaderValue::from_static("*")),
            AllowedOrigins::List(list) => list
                .iter()
                .any(|o| o.as_bytes() == origin)
                .then(|| HeaderValue::from_bytes(origin).ok())
                .flatten(),
        }
    }

    /// Decides an `OPTIONS` request, with these header fields, on a public path whose
    /// routes have `methods`.
    pub fn preflight<F: Fields + ?Sized>(&self, request: &F, methods: &[Method]) -> Preflight {
        let (Some(origin), Some(requested)) = (
            request.single(&header::ORIGIN),
            request.single(&header::ACCESS_CONTROL_REQUEST_METHOD),
        ) else {
            return Preflight::Plain;
        };
        let Some(allow_origin) = self.allow_origin(origin) else {
            return Preflight::Refused("this origin may not call the API");
        };
        let method_ok = methods.iter().any(|m| m.as_str().as_bytes() == requested)
            || (requested == b"HEAD" && methods.contains(&Method::Get));
        if !method_ok {
            return Preflight::Refused("the requested method is not allowed on this path");
        }
        for list in request.values(&header::ACCESS_CONTROL_REQUEST_HEADERS) {
            if !is_visible_ascii(list) {
                return Preflight::Refused("a requested header is not allowed");
            }
            for name in tokens(list) {
                if !self
                    .allowed_headers
                    .iter()
                    .any(|a| a.as_bytes().eq_ignore_ascii_case(name))
                {
                    return Preflight::Refused("a requested header is not allowed");
                }
            }
        }
        let mut h = HeaderMap::new();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            allow_value(methods, false),
        );
        if !self.allowed_headers.is_empty() {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                self.allowed_headers_value.clone(),
            );
        }
        h.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age_value.clone());
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        Preflight::Allowed(h)
    }

    /// Adds the CORS headers of a real response for a request with this `Origin`.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        if matches!(self.origins, AllowedOrigins::List(_)) {
            response.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        let Some(allow) = origin.and_then(|o| self.allow_origin(o.as_bytes())) else {
            return;
        };
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if let Some(expose) = &self.expose_headers_value {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
        if self.credentials {
            response.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

impl CorsPolicy {
    /// [`CorsPolicy::decorate`] for a response head being written as bytes: appends
    /// the header lines (CRLF-terminated) for a request whose `Origin` was `origin`.
    pub fn decorate_bytes(&self, origin: Option<&[u8]>, out: &mut Vec<u8>) {
        if matches!(self.origins, AllowedOrigins::List(_)) {
            out.extend_from_slice(b"vary: Origin\r\n");
        }
        let Some(origin) = origin.filter(|o| self.allows_origin(o)) else {
            return;
        };
        out.extend_from_slice(b"access-control-allow-origin: ");
        match self.origins {
            AllowedOrigins::Any => out.push(b'*'),
            AllowedOrigins::List(_) => out.extend_from_slice(origin),
        }
        out.extend_from_slice(b"\r\n");
        if let Some(expose) = &self.expose_headers_value {
            out.extend_from_slice(b"access-control-expose-headers: ");
            out.extend_from_slice(expose.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if self.credentials {
            out.extend_from_slice(b"access-control-allow-credentials: true\r\n");
        }
    }

    /// Whether a request with this `Origin` gets CORS headers on its response.
    pub fn allows_origin(&self, origin: &[u8]) -> bool {
        match &self.origins {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o.as_bytes() == origin),
        }
    }

    /// Whether [`CorsPolicy::decorate`] sets the response header `name` (any case) for
    /// an allowed origin, replacing the upstream's.
    pub fn sets_header(&self, name: &[u8]) -> bool {
        name.eq_ignore_ascii_case(b"access-control-allow-origin")
            || (self.expose_headers_value.is_some()
                && name.eq_ignore_ascii_case(b"access-control-expose-headers"))
            || (self.credentials && name.eq_ignore_ascii_case(b"access-control-allow-credentials"))
    }
}

/// `GET, HEAD, OPTIONS` style list of a path's methods (`HEAD` with `GET`; `OPTIONS`
/// when `with_options`).
pub fn allow_value(methods: &[Method], with_options: bool) -> HeaderValue {
    let mut names: Vec<&str> = Vec::new();
    for m in methods {
        if !names.contains(&m.as_str()) {
            names.push(m.as_str());
        }
        if *m == Method::Get && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
    }
    if with_options {
        names.push("OPTIONS");
    }
    HeaderValue::from_str(&names.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether `s` is a serialised origin: `http` or `https`, a host, an optional port,
/// nothing else.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> CorsPolicy {
        let o: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
        CorsPolicy::new(
            &o,
            &["x-api-key".into(), "Content-Type".into()],
            &["ETag".into(), "X-Request-Id".into()],
            600,
            false,
        )
        .unwrap()
    }

    fn preflight_headers(origin: &str, method: &str, headers: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_str(method).unwrap(),
        );
        if let Some(list) = headers {
            h.insert(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                HeaderValue::from_str(list).unwrap(),
            );
        }
        h
    }

    #[test]
    fn an_allowed_preflight_gets_every_header() {
        let p = policy(&["https://shop.example.com"]);
        let req = preflight_headers("https://shop.example.com", "GET", Some("X-API-KEY"));
        let Preflight::Allowed(h) = p.preflight(&req, &[Method::Get]) else {
            panic!("refused")
        };
        assert_eq!(h["access-control-allow-origin"], "https://shop.example.com");
        assert_eq!(h["access-control-allow-methods"], "GET, HEAD");
        assert_eq!(h["access-control-allow-headers"], "content-type, x-api-key");
        assert_eq!(h["access-control-max-age"], "600");
        assert!(h.get("access-control-allow-credentials").is_none());
        assert!(h["vary"].to_str().unwrap().starts_with("Origin"));
    }

    #[test]
    fn refusals_name_the_failing_part() {
        let p = policy(&["https://shop.example.com"]);
        for (req, why) in [
            (
                preflight_headers("https://evil.example", "GET", None),
                "origin",
            ),
            (
                preflight_headers("https://shop.example.com:444", "GET", None),
                "origin",
            ),
            (
                preflight_headers("http://shop.example.com", "GET", None),
                "origin",
            ),
            (
                preflight_headers("https://shop.example.com", "DELETE", None),
                "method",
            ),
            (
                preflight_headers(
                    "https://shop.example.com",
                    "GET",
                    Some("x-api-key, x-debug"),
                ),
                "header",
            ),
        ] {
            match p.preflight(&req, &[Method::Get]) {
                Preflight::Refused(reason) => assert!(reason.contains(why), "{reason}"),
                other => panic!("{req:?}: {other:?}"),
            }
        }
        assert_eq!(
            p.preflight(&HeaderMap::new(), &[Method::Get]),
            Preflight::Plain
        );
    }

    #[test]
    fn real_responses_carry_headers_only_for_allowed_origins() {
        let p = policy(&["https://shop.example.com"]);
        let mut h = HeaderMap::new();
        p.decorate(
            Some(&HeaderValue::from_static("https://shop.example.com")),
            &mut h,
        );
        assert_eq!(h["access-control-allow-origin"], "https://shop.example.com");
        assert_eq!(h["access-control-expose-headers"], "etag, x-request-id");
        assert_eq!(h["vary"], "Origin");
        let mut h = HeaderMap::new();
        p.decorate(
            Some(&HeaderValue::from_static("https://evil.example")),
            &mut h,
        );
        assert!(h.get("access-control-allow-origin").is_none());
        assert!(h.get("access-control-expose-headers").is_none());
        assert_eq!(h["vary"], "Origin", "caches must key on Origin");
        let mut h = HeaderMap::new();
        p.decorate(None, &mut h);
        assert!(h.get("access-control-allow-origin").is_none());
    }

    #[test]
    fn the_wildcard_answers_star_and_needs_no_vary() {
        let p = policy(&["*"]);
        let mut h = HeaderMap::new();
        p.decorate(
            Some(&HeaderValue::from_static("https://any.example")),
            &mut h,
        );
        assert_eq!(h["access-control-allow-origin"], "*");
        assert!(h.get("vary").is_none());
        let star = ["*".to_string()];
        assert_eq!(
            CorsPolicy::new(&star, &[], &[], 0, true).err(),
            Some(CorsPolicyError::WildcardCredentials)
        );
        let mixed = ["*".to_string(), "https://a.example".to_string()];
        assert_eq!(
            CorsPolicy::new(&mixed, &[], &[], 0, false).err(),
            Some(CorsPolicyError::WildcardMixed)
        );
        let bad = ["https://a.example/".to_string()];
        assert!(CorsPolicy::new(&bad, &[], &[], 0, false).is_err());
    }

    #[test]
    fn credentials_are_announced_when_allowed() {
        let o = ["https://shop.example.com".to_string()];
        let p = CorsPolicy::new(&o, &[], &[], 10, true).unwrap();
        let req = preflight_headers("https://shop.example.com", "GET", None);
        let Preflight::Allowed(h) = p.preflight(&req, &[Method::Get]) else {
            panic!("refused")
        };
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert!(h.get("access-control-allow-headers").is_none());
    }
}
