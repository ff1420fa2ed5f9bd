//! Header rules: what the relay removes, adds and keeps on the way to the upstream and
//! on the way back, and the request id.
//!
//! Towards the upstream ([`prepare_request_headers`]):
//! * removed: hop-by-hop headers (`Connection` and every header it names, `Keep-Alive`,
//!   `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`), `Expect` (the relay
//!   answers it itself), the API-key header, `Authorization` (API Gateway's Google-signed
//!   token is for the relay, not the backend), and `Host` (replaced by the upstream's);
//! * `X-Forwarded-For`: the peer address appended to any existing list;
//! * `X-Forwarded-Proto`: kept when it is `http` or `https` (Cloud Run's front end sets
//!   it), else `http`;
//! * `X-Forwarded-Host`: kept when present, else the client's `Host`;
//! * `X-Request-Id`: the request's id (see [`request_id`]);
//! * the identity headers ([`IDENTITY_HEADERS`], [`forwards_identity_header`]): on a
//!   route that takes a user token, the one `X-Forwarded-Authorization` (the user's
//!   token, which API Gateway verified and moved there) and the one
//!   `X-Apigateway-Api-Userinfo` (the verified claims) that admission let through are
//!   forwarded; on every other route any copy of them is removed, since only the
//!   gateway, on a token route, puts them there. The headers other Google front ends
//!   use for a verified user (`X-Endpoint-Api-Userinfo` from Cloud Endpoints' ESP,
//!   `X-Goog-Iap-Jwt-Assertion` and `X-Goog-Authenticated-User-Email` / `-Id` from
//!   Identity-Aware Proxy) are removed on every route: API Gateway never sets them
//!   towards the relay, so a copy is a client's, and a backend (or a library in it)
//!   written for those front ends could take it for a user;
//! * with `FORWARD_AUTHORIZATION` (an existing service that checks its users'
//!   tokens itself): the client's own credential, which API Gateway moved to
//!   `X-Forwarded-Authorization` when it put its Google-signed token in
//!   `Authorization`, is sent as `Authorization` when there is exactly one, on every
//!   route ([`client_authorization`]); `X-Forwarded-Authorization` itself is not
//!   forwarded then. Never the API key, never the gateway's token: both are removed
//!   above;
//! * everything else is forwarded unchanged.
//!
//! Back to the client ([`prepare_response_headers`]): hop-by-hop headers removed,
//! `X-Request-Id` set; everything else (status, other headers) passes through.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::HeaderMap;
use hyper::header::{self, HeaderName, HeaderValue};

/// The request id header, set on the upstream request and on every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header Cloud Run checks in preference to `Authorization` (see `caller`).
pub static X_SERVERLESS_AUTHORIZATION: HeaderName =
    HeaderName::from_static("x-serverless-authorization");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// Where API Gateway puts the client's own `Authorization` (the user's token) when it
/// calls the relay with its own.
pub static X_FORWARDED_AUTHORIZATION: HeaderName =
    HeaderName::from_static("x-forwarded-authorization");
/// The claims of the user's token as API Gateway verified them (base64url JSON).
pub static X_APIGATEWAY_API_USERINFO: HeaderName =
    HeaderName::from_static("x-apigateway-api-userinfo");

/// The request headers a backend could read as a user's identity, each with whether
/// it is forwarded on a route that takes a user token (see the module docs). Every
/// other route forwards none of them.
pub static IDENTITY_HEADERS: [(HeaderName, bool); 6] = [
    (HeaderName::from_static("x-forwarded-authorization"), true),
    (HeaderName::from_static("x-apigateway-api-userinfo"), true),
    (HeaderName::from_static("x-endpoint-api-userinfo"), false),
    (HeaderName::from_static("x-goog-iap-jwt-assertion"), false),
    (
        HeaderName::from_static("x-goog-authenticated-user-email"),
        false,
    ),
    (
        HeaderName::from_static("x-goog-authenticated-user-id"),
        false,
    ),
];

/// Whether `name` (any case) is one of the [`IDENTITY_HEADERS`].
pub fn is_identity_header(name: &[u8]) -> bool {
    // All of them start with `x-` and are 23 to 31 bytes long: most names are not
    // compared at all.
    (23..=31).contains(&name.len())
        && name[..2].eq_ignore_ascii_case(b"x-")
        && IDENTITY_HEADERS
            .iter()
            .any(|(h, _)| name.eq_ignore_ascii_case(h.as_str().as_bytes()))
}

/// Whether the identity header `name` (any case) is forwarded on a route that takes a
/// user token (`user_token`) or not; `None` when `name` is not an identity header. The
/// one rule both HTTP paths apply (admission has already refused a token route's
/// request with more than one copy of a forwarded one).
pub fn forwards_identity_header(name: &[u8], user_token: bool) -> Option<bool> {
    if !is_identity_header(name) {
        return None;
    }
    Some(
        user_token
            && IDENTITY_HEADERS
                .iter()
                .any(|(h, fwd)| *fwd && name.eq_ignore_ascii_case(h.as_str().as_bytes())),
    )
}

/// The client's credential to hand the upstream as `Authorization` when
/// `FORWARD_AUTHORIZATION` is on: the one `X-Forwarded-Authorization` value; `None`
/// when there is none or more than one (which one the gateway wrote could not be
/// told). The rule both HTTP paths apply.
pub fn client_authorization<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    match (values.next(), values.next()) {
        (Some(v), None) if !v.is_empty() => Some(v),
        _ => None,
    }
}

/// Longest incoming request id kept as is.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request's id: the incoming `X-Request-Id` when it is sane (1 to
/// [`MAX_REQUEST_ID_LEN`] characters from `A-Z a-z 0-9 - _ . : / + = @`, one header),
/// else a new one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    let mut values = headers.get_all(&X_REQUEST_ID).iter();
    if let (Some(v), None) = (values.next(), values.next())
        && is_sane_request_id(v.as_bytes())
    {
        return v.clone();
    }
    new_request_id()
}

/// Whether an incoming request id is kept (see [`request_id`]).
pub fn is_sane_request_id(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= MAX_REQUEST_ID_LEN
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:/+=@".contains(c))
}

/// A fresh request id: 32 lowercase hex digits, unique within the process and, from a
/// per-process random seed, across instances.
pub fn new_request_id() -> HeaderValue {
    let buf = new_request_id_bytes();
    HeaderValue::from_bytes(&buf).unwrap_or(HeaderValue::from_static("0"))
}

/// [`new_request_id`] as bytes, without allocating.
pub fn new_request_id_bytes() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // The standard library seeds RandomState from the OS's random source.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(u64::from(std::process::id()));
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = mix(seed ^ n.rotate_left(32));
    let lo = mix(hi ^ n);
    let mut buf = [0u8; 32];
    for (i, byte) in buf.iter_mut().enumerate() {
        let word = if i < 16 { hi } else { lo };
        let nibble = (word >> ((15 - (i % 16)) * 4)) & 0xf;
        *byte = b"0123456789abcdef"[nibble as usize];
    }
    buf
}

/// splitmix64's finaliser: spreads a counter over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Removes the hop-by-hop headers (RFC 9110 7.6.1): those named in `Connection`,
/// `Connection` itself, `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`
/// and every `Proxy-*`.
///
/// One pass over the names present finds them (most requests carry none), rather than
/// one hash lookup per name on the list.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let mut remove: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    remove.extend(headers.keys().filter(|k| is_hop_by_hop(k)).cloned());
    for name in remove {
        headers.remove(name);
    }
}

/// Whether `name` is hop-by-hop by itself (not counting the names `Connection` lists).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    *name == header::CONNECTION
        || *name == header::TE
        || *name == header::TRAILER
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
        || *name == KEEP_ALIVE
        || name.as_str().starts_with("proxy-")
}

/// Rewrites a request's headers for the upstream (see the module docs); `user_token`
/// when the request's route takes a user token.
pub fn prepare_request_headers(
    headers: &mut HeaderMap,
    api_key_header: &HeaderName,
    upstream_host: &HeaderValue,
    peer: IpAddr,
    request_id: HeaderValue,
    user_token: bool,
) {
    strip_hop_by_hop(headers);
    headers.remove(header::EXPECT);
    headers.remove(header::AUTHORIZATION);
    headers.remove(&X_SERVERLESS_AUTHORIZATION);
    headers.remove(api_key_header);
    for (name, _) in &IDENTITY_HEADERS {
        if forwards_identity_header(name.as_str().as_bytes(), user_token) == Some(false) {
            headers.remove(name);
        }
    }

    let client_host = headers.insert(header::HOST, upstream_host.clone());
    if !headers.contains_key(&X_FORWARDED_HOST)
        && let Some(host) = client_host
    {
        headers.insert(X_FORWARDED_HOST.clone(), host);
    }

    let proto_ok = {
        let mut values = headers.get_all(&X_FORWARDED_PROTO).iter();
        matches!(
            (values.next(), values.next()),
            (Some(v), None) if v == "http" || v == "https"
        )
    };
    if !proto_ok {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }

    let mut peer_text = [0u8; 64];
    let peer_text = format_ip(peer, &mut peer_text);
    let xff = match headers.entry(X_FORWARDED_FOR.clone()) {
        header::Entry::Vacant(_) => HeaderValue::from_str(peer_text),
        header::Entry::Occupied(entry) => {
            let (_, old) = entry.remove_entry_mult();
            let mut joined = String::with_capacity(64);
            for v in old {
                if let Ok(v) = v.to_str() {
                    let v = v.trim();
                    if !v.is_empty() {
                        joined.push_str(v);
                        joined.push_str(", ");
                    }
                }
            }
            joined.push_str(peer_text);
            HeaderValue::from_str(&joined)
        }
    };
    if let Ok(xff) = xff {
        headers.insert(X_FORWARDED_FOR.clone(), xff);
    }

    headers.insert(X_REQUEST_ID.clone(), request_id);
}

/// Rewrites an upstream response's headers for the client (see the module docs).
pub fn prepare_response_headers(headers: &mut HeaderMap, request_id: HeaderValue) {
    strip_hop_by_hop(headers);
    headers.insert(X_REQUEST_ID.clone(), request_id);
}

/// A request's header fields as one of the relay's two HTTP paths holds them: a
/// [`HeaderMap`] on the general path, [`crate::h1::HeadFields`] on its own path. The
/// rules that read request headers ([`crate::admission`], the CORS preflight, the caller
/// check) read them through this, so both paths give them the same view: values as
/// received without surrounding whitespace, in order, names compared in any case.
pub trait Fields {
    /// The values of every field called `name`, in the order received.
    fn values<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = &'s [u8]>;

    /// The first value of `name`.
    fn first<'s>(&'s self, name: &'s HeaderName) -> Option<&'s [u8]> {
        self.values(name).next()
    }

    /// The value of `name` when the head has exactly one such field.
    fn single<'s>(&'s self, name: &'s HeaderName) -> Option<&'s [u8]> {
        let mut all = self.values(name);
        match (all.next(), all.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    }
}

impl Fields for HeaderMap {
    fn values<'s>(&'s self, name: &'s HeaderName) -> impl Iterator<Item = &'s [u8]> {
        self.get_all(name).iter().map(HeaderValue::as_bytes)
    }
}

/// Whether a header value is visible ASCII and tabs (what [`HeaderValue::to_str`]
/// accepts).
pub fn is_visible_ascii(v: &[u8]) -> bool {
    v.iter().all(|b| *b == b'\t' || (0x20..0x7f).contains(b))
}

pub(crate) fn format_ip(ip: IpAddr, buf: &mut [u8; 64]) -> &str {
    use std::io::Write;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if let IpAddr::V4(v4) = ip {
        // Dotted decimal by hand: the formatting machinery costs more than the rest of
        // this function.
        let mut len = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            if octet >= 100 {
                buf[len] = b'0' + octet / 100;
                len += 1;
            }
            if octet >= 10 {
                buf[len] = b'0' + octet / 10 % 10;
                len += 1;
            }
            buf[len] = b'0' + octet % 10;
            len += 1;
        }
        return std::str::from_utf8(&buf[..len]).unwrap_or("");
    }
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{ip}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    std::str::from_utf8(&buf[..len]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_hex() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn addresses_format_as_usual() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.0.9",
            "::1",
            "2001:db8::7",
        ] {
            let mut buf = [0u8; 64];
            assert_eq!(format_ip(ip.parse().unwrap(), &mut buf), ip);
        }
        let mut buf = [0u8; 64];
        assert_eq!(
            format_ip("::ffff:1.2.3.4".parse().unwrap(), &mut buf),
            "1.2.3.4"
        );
    }

    #[test]
    fn every_hop_by_hop_header_goes_and_nothing_else() {
        let mut h = HeaderMap::new();
        for name in [
            "keep-alive",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "proxy-authenticate",
            "proxy-connection",
        ] {
            h.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.append("accept", HeaderValue::from_static("a"));
        h.append("accept", HeaderValue::from_static("b"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 3, "{h:?}");
        assert_eq!(h.get_all("accept").iter().count(), 2);
        // Nothing to remove: unchanged.
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }

    #[test]
    fn connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("proxy-foo", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
