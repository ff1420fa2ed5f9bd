//! Settings: the relay's command line and environment ([`Settings`], parsed by clap, so
//! `--help` lists every one) and the validated configuration the engine runs with
//! ([`RelayConfig`]).
//!
//! Every value is checked while parsing, so a bad setting stops the process before it
//! binds, with clap's message naming the setting and exit code 2.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};
use hyper::http::uri::{Authority, Uri};

use crate::caller::AllowedInvokers;
use crate::cors::{CorsPolicy, CorsPolicyError};
use shopgen_facts::relay::env;

/// Default deadline for one upstream exchange, in milliseconds: the relay's share of
/// the deadline budget for API Gateway's default deadline (the generated Terraform and
/// `shopgen up` set the spec's own).
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 =
    shopgen_facts::budget::DEFAULT_RELAY_UPSTREAM_TIMEOUT_MS as u64;
/// Default deadline for opening a TCP connection to the upstream, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Default largest request body, in bytes (1 MiB): the shop's JSON bodies are a few KB,
/// and API Gateway's own cap is 32 MB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Default name of the API-key header, which the relay never forwards.
pub const DEFAULT_API_KEY_HEADER: &str = "x-api-key";
/// Default time a client may take to send a request head, from its first byte.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed to in-flight requests after SIGTERM (Cloud Run gives 10 s).
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 9_000;

/// The relay's settings, from flags or (as Cloud Run passes them) the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    about = "shopgen relay: forwards the spec's public routes from API Gateway to the \
             private upstream, and nothing else",
    version
)]
pub struct Settings {
    /// Address to listen on (all interfaces on Cloud Run).
    #[arg(long, env = env::HOST, default_value = "0.0.0.0")]
    pub host: IpAddr,

    /// Port to listen on (Cloud Run sets PORT); 0 picks a free port.
    #[arg(long, env = env::PORT, default_value_t = shopgen_facts::relay::CONTAINER_PORT)]
    pub port: u16,

    /// Upstream base URL, plain http, e.g. http://10.20.0.5 (the internal load balancer);
    /// may carry a base path.
    #[arg(long, env = env::UPSTREAM_URL)]
    pub upstream_url: UpstreamUrl,

    /// Deadline for one upstream exchange (response head and body), in milliseconds;
    /// past it the client gets 504.
    #[arg(long, env = env::UPSTREAM_TIMEOUT_MS, default_value_t = DEFAULT_UPSTREAM_TIMEOUT_MS,
          value_parser = parse_millis)]
    pub upstream_timeout_ms: u64,

    /// Deadline for opening a connection to the upstream, in milliseconds.
    #[arg(long, env = "CONNECT_TIMEOUT_MS", default_value_t = DEFAULT_CONNECT_TIMEOUT_MS,
          value_parser = parse_millis)]
    pub connect_timeout_ms: u64,

    /// Largest request body forwarded, in bytes; larger ones get 413.
    #[arg(long, env = env::MAX_BODY_BYTES, default_value_t = DEFAULT_MAX_BODY_BYTES,
          value_parser = parse_body_limit)]
    pub max_body_bytes: u64,

    /// Header carrying the client's API key; stripped before forwarding.
    #[arg(long, env = env::API_KEY_HEADER, default_value = DEFAULT_API_KEY_HEADER,
          value_parser = parse_header_name)]
    pub api_key_header: HeaderName,

    /// Time allowed to in-flight requests after SIGTERM or Ctrl-C, in milliseconds.
    #[arg(long, env = "DRAIN_TIMEOUT_MS", default_value_t = DEFAULT_DRAIN_TIMEOUT_MS,
          value_parser = parse_millis)]
    pub drain_timeout_ms: u64,

    /// Event loops serving requests, one thread each (like nginx's workers); 1 (the
    /// default, right for a 1-vCPU Cloud Run instance) runs everything on the main
    /// thread. More share the port; the kernel spreads the connections over them.
    #[arg(long, env = "WORKER_THREADS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub worker_threads: u16,

    /// Write one JSON line per request to stdout (startup and errors are always logged).
    #[arg(long, env = "ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub access_log: bool,

    /// Web origins allowed to call the public routes, comma-separated
    /// (`https://shop.example.com,http://localhost:5173`), or `*`; unset: no CORS, and
    /// `OPTIONS` is not answered.
    #[arg(long, env = env::CORS_ALLOWED_ORIGINS, value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Request headers a page may send (the API key header and Content-Type among
    /// them), comma-separated.
    #[arg(
        long,
        env = env::CORS_ALLOWED_HEADERS,
        value_delimiter = ',',
        default_value = "content-type,x-api-key"
    )]
    pub cors_allowed_headers: Vec<String>,

    /// Response headers a page may read, comma-separated.
    #[arg(
        long,
        env = env::CORS_EXPOSE_HEADERS,
        value_delimiter = ',',
        default_value = "etag,link,x-request-id"
    )]
    pub cors_expose_headers: Vec<String>,

    /// Seconds a browser may cache a preflight answer.
    #[arg(long, env = env::CORS_MAX_AGE, default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub cors_max_age: u32,

    /// Allow cookies and HTTP authentication in cross-origin calls (never with `*`).
    #[arg(long, env = env::CORS_ALLOW_CREDENTIALS, default_value_t = false,
          action = clap::ArgAction::Set)]
    pub cors_allow_credentials: bool,
    /// Comma-separated service-account emails or unique ids allowed to call the relay
    /// (API Gateway's account); other callers get 403. Empty: every caller Cloud Run
    /// lets in (local stacks only).
    #[arg(long, env = env::ALLOWED_INVOKERS, default_value = "")]
    pub allowed_invokers: String,
    /// Hand the client's own `Authorization` (which API Gateway moves to
    /// `X-Forwarded-Authorization` when it signs its call to the relay) to the upstream
    /// as `Authorization`: for an upstream that checks its users' tokens itself. Off:
    /// the upstream gets no `Authorization` at all.
    #[arg(long, env = env::FORWARD_AUTHORIZATION, default_value_t = false,
          action = clap::ArgAction::Set)]
    pub forward_authorization: bool,
}

impl Settings {
    /// The CORS policy these settings describe; `None` without allowed origins.
    pub fn cors_policy(&self) -> Result<Option<CorsPolicy>, CorsPolicyError> {
        let origins: Vec<String> = self
            .cors_allowed_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            return Ok(None);
        }
        CorsPolicy::new(
            &origins,
            &self.cors_allowed_headers,
            &self.cors_expose_headers,
            self.cors_max_age,
            self.cors_allow_credentials,
        )
        .map(Some)
    }

    /// The engine configuration these settings describe (an invalid CORS policy,
    /// which [`Settings::cors_policy`] reports, is left out).
    pub fn relay_config(&self) -> RelayConfig {
        RelayConfig {
            cors: self.cors_policy().ok().flatten(),
            upstream: self.upstream_url.clone(),
            upstream_timeout: Duration::from_millis(self.upstream_timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            max_body_bytes: self.max_body_bytes,
            api_key_header: self.api_key_header.clone(),
            drain_timeout: Duration::from_millis(self.drain_timeout_ms),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            access_log: self.access_log,
            allowed_invokers: AllowedInvokers::parse(&self.allowed_invokers),
            forward_authorization: self.forward_authorization,
        }
    }
}

/// What the engine runs with.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where requests go.
    pub upstream: UpstreamUrl,
    /// Deadline for one upstream exchange (response head and body).
    pub upstream_timeout: Duration,
    /// Deadline for opening a connection to the upstream.
    pub connect_timeout: Duration,
    /// Largest request body forwarded.
    pub max_body_bytes: u64,
    /// The API-key header, never forwarded.
    pub api_key_header: HeaderName,
    /// Time allowed to in-flight requests at shutdown.
    pub drain_timeout: Duration,
    /// Time a client may take to send a request head, from its first byte; past it the
    /// connection is closed.
    pub header_read_timeout: Duration,
    /// Whether to write one JSON line per request.
    pub access_log: bool,
    /// Which web origins may call, and how; `None`: no CORS.
    pub cors: Option<CorsPolicy>,
    /// Who may call the relay (see `crate::caller`); `None` lets every caller in.
    pub allowed_invokers: Option<AllowedInvokers>,
    /// Whether the client's `X-Forwarded-Authorization` reaches the upstream as
    /// `Authorization` (see `crate::headers`).
    pub forward_authorization: bool,
}

impl RelayConfig {
    /// The defaults, for the given upstream.
    pub fn new(upstream: UpstreamUrl) -> Self {
        RelayConfig {
            upstream,
            upstream_timeout: Duration::from_millis(DEFAULT_UPSTREAM_TIMEOUT_MS),
            connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            api_key_header: HeaderName::from_static(DEFAULT_API_KEY_HEADER),
            drain_timeout: Duration::from_millis(DEFAULT_DRAIN_TIMEOUT_MS),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            access_log: true,
            cors: None,
            allowed_invokers: None,
            forward_authorization: false,
        }
    }
}

/// A validated upstream base URL: `http`, a host and optional port, an optional base
/// path without a trailing slash; no user info, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    authority: Authority,
    host_header: HeaderValue,
    base_path: String,
}

/// Why an upstream URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UpstreamUrlError {
    /// Not a URL at all.
    #[error("not a URL ({0})")]
    Syntax(String),
    /// Not plain http.
    #[error(
        "the scheme must be http (the upstream is the internal load balancer inside the \
         VPC; https upstreams are not supported)"
    )]
    Scheme,
    /// No host.
    #[error("the URL needs a host, e.g. http://10.20.0.5")]
    NoHost,
    /// `user:pass@`.
    #[error("the URL must not carry user info")]
    UserInfo,
    /// `?…`.
    #[error("the URL must not carry a query")]
    Query,
    /// An unsafe base path.
    #[error("the base path must be plain segments, without `//`, dot segments or escapes")]
    BasePath,
}

impl FromStr for UpstreamUrl {
    type Err = UpstreamUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains('#') {
            return Err(UpstreamUrlError::Syntax("a fragment is not allowed".into()));
        }
        let uri: Uri = s
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| UpstreamUrlError::Syntax(e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(UpstreamUrlError::Scheme),
            None => {
                return Err(UpstreamUrlError::Syntax(
                    "expected http://host[:port]".into(),
                ));
            }
        }
        let authority = uri.authority().cloned().ok_or(UpstreamUrlError::NoHost)?;
        if authority.as_str().contains('@') {
            return Err(UpstreamUrlError::UserInfo);
        }
        if authority.host().is_empty() {
            return Err(UpstreamUrlError::NoHost);
        }
        if uri.query().is_some() {
            return Err(UpstreamUrlError::Query);
        }
        let path = uri.path().trim_end_matches('/');
        if !path.is_empty() {
            let ok = path[1..].split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c))
            });
            if !ok {
                return Err(UpstreamUrlError::BasePath);
            }
        }
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|e| UpstreamUrlError::Syntax(e.to_string()))?;
        Ok(UpstreamUrl {
            authority,
            host_header,
            base_path: path.to_owned(),
        })
    }
}

impl UpstreamUrl {
    /// `host[:port]`.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The `Host` header sent upstream.
    pub fn host_header(&self) -> &HeaderValue {
        &self.host_header
    }

    /// The base path prefixed to every forwarded path: empty, or `/a/b`.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }
}

impl std::fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

fn parse_millis(s: &str) -> Result<u64, String> {
    let ms: u64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of milliseconds"))?;
    if ms == 0 || ms > 3_600_000 {
        return Err("must be between 1 and 3600000 milliseconds".into());
    }
    Ok(ms)
}

fn parse_body_limit(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of bytes"))?;
    if n == 0 {
        return Err("must be at least 1 byte".into());
    }
    Ok(n)
}

fn parse_header_name(s: &str) -> Result<HeaderName, String> {
    let name = HeaderName::from_str(s).map_err(|_| format!("`{s}` is not a header name"))?;
    if matches!(
        name.as_str(),
        "host" | "content-length" | "content-type" | "x-request-id"
    ) {
        return Err(format!(
            "`{s}` is needed by the backend; pick another header"
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let u: UpstreamUrl = "http://10.20.0.5".parse().unwrap();
        assert_eq!(u.authority().as_str(), "10.20.0.5");
        assert_eq!(u.base_path(), "");
        let u: UpstreamUrl = "http://backend:3000/api/v1/".parse().unwrap();
        assert_eq!(u.host_header(), "backend:3000");
        assert_eq!(u.base_path(), "/api/v1");
        assert_eq!(u.to_string(), "http://backend:3000/api/v1");
        for (bad, err) in [
            ("https://10.0.0.1", UpstreamUrlError::Scheme),
            ("ftp://10.0.0.1", UpstreamUrlError::Scheme),
            ("http://u:p@10.0.0.1", UpstreamUrlError::UserInfo),
            ("http://10.0.0.1/?a=1", UpstreamUrlError::Query),
            ("http://10.0.0.1/a/../b", UpstreamUrlError::BasePath),
            ("http://10.0.0.1//a", UpstreamUrlError::BasePath),
            ("http://10.0.0.1/a%2fb", UpstreamUrlError::BasePath),
        ] {
            assert_eq!(bad.parse::<UpstreamUrl>(), Err(err), "{bad}");
        }
        for bad in ["10.0.0.1", "", "http://", "not a url", "http://a/#x"] {
            assert!(bad.parse::<UpstreamUrl>().is_err(), "{bad}");
        }
    }
}
