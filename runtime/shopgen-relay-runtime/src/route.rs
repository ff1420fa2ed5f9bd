//! Public routes: the table the compiler emits ([`PublicRoute`]) and the strict matcher
//! ([`RouteTable`]) that decides, from a request's method and raw path, whether the relay
//! forwards it.
//!
//! Takes the raw request path exactly as received (never decoded, never normalised) and
//! gives a [`Verdict`]. The rules, each of which has a test in `tests/suite/paths.rs`:
//!
//! * Matching is on method **and** path template, case-sensitive, one whole segment per
//!   `{param}`, like API Gateway. A wrong method on a known path is a 404 too (API
//!   Gateway answers unlisted operations with 404, and the relay reveals nothing more).
//! * Literal segments compare byte for byte with the raw path: `/%70roducts` is not
//!   `/products`, `/PRODUCTS` is not `/products`, `/products/` is not `/products`.
//! * Paths that servers could read in different ways are refused with 400 rather than
//!   fixed up: dot segments (`.`, `..`, also percent-encoded), empty segments (`//`),
//!   encoded `/` or `\`, encoded control bytes, malformed `%` escapes, and any byte that
//!   is not an RFC 3986 path character.
//! * Paths longer than [`MAX_PATH_BYTES`] get 414.
//! * `GET /healthz` (and `HEAD`) is the relay's own health check.

use std::fmt;

/// Longest request path the relay accepts, in bytes; longer paths get 414.
pub const MAX_PATH_BYTES: usize = 2048;

/// The path of the relay's own health check, answered without contacting the upstream.
pub const HEALTH_PATH: &str = shopgen_facts::relay::HEALTH_PATH;

/// An HTTP method a public route can be declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method's name as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether repeating the request has the same effect as sending it once (RFC 9110
    /// 9.2.2); only these are retried after a connection failure.
    pub const fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }

    /// The route method for a request method, if routes can be declared with it.
    pub fn from_http(method: &hyper::Method) -> Option<Method> {
        Some(match *method {
            hyper::Method::GET => Method::Get,
            hyper::Method::HEAD => Method::Head,
            hyper::Method::POST => Method::Post,
            hyper::Method::PUT => Method::Put,
            hyper::Method::PATCH => Method::Patch,
            hyper::Method::DELETE => Method::Delete,
            hyper::Method::OPTIONS => Method::Options,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation the relay forwards: a method and a path template such as
/// `/products/{id}`, with the spec's operation id for logs, and whether its callers
/// sign in with a user token ([`PublicRoute::user_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicRoute {
    method: Method,
    path_template: &'static str,
    operation_id: &'static str,
    user_token: bool,
}

impl PublicRoute {
    /// A public route.
    ///
    /// # Panics
    ///
    /// If `path_template` is malformed (see `check_template`). Generated code builds
    /// its routes in a `const` item, so a malformed template is a compile error there.
    pub const fn new(
        method: Method,
        path_template: &'static str,
        operation_id: &'static str,
    ) -> Self {
        if let Err(problem) = check_template(path_template) {
            panic!("{}", problem);
        }
        PublicRoute {
            method,
            path_template,
            operation_id,
            user_token: false,
        }
    }

    /// The same route, whose callers present a user token: API Gateway verifies it and
    /// passes it on in `X-Forwarded-Authorization`, which the relay then requires and
    /// forwards (see `admission` and `headers`).
    #[must_use]
    pub const fn user_token(mut self) -> Self {
        self.user_token = true;
        self
    }

    /// Whether the route's callers present a user token (see [`PublicRoute::user_token`]).
    pub const fn takes_user_token(&self) -> bool {
        self.user_token
    }

    /// The route's method.
    pub const fn method(&self) -> Method {
        self.method
    }

    /// The route's path template, e.g. `/products/{id}`.
    pub const fn path_template(&self) -> &'static str {
        self.path_template
    }

    /// The spec's operation id, e.g. `getProduct`.
    pub const fn operation_id(&self) -> &'static str {
        self.operation_id
    }
}

/// Checks a path template: it starts with `/`, is not `/` or [`HEALTH_PATH`], has no
/// empty or dot segments, each `{param}` is a whole segment named with
/// `[A-Za-z0-9_]`, and literal segments use unreserved characters and sub-delimiters
/// only (no `%`, no braces).
pub const fn check_template(template: &str) -> Result<(), &'static str> {
    let b = template.as_bytes();
    if b.is_empty() || b[0] != b'/' {
        return Err("a path template must start with `/`");
    }
    if b.len() == 1 {
        return Err("the root path `/` cannot be a public route (API Gateway rejects it)");
    }
    if bytes_eq(b, HEALTH_PATH.as_bytes()) {
        return Err("`/healthz` is the relay's own health check");
    }
    if b.len() > MAX_PATH_BYTES {
        return Err("a path template is longer than the relay's path limit");
    }
    let mut start = 1;
    while start <= b.len() {
        let mut end = start;
        while end < b.len() && b[end] != b'/' {
            end += 1;
        }
        let len = end - start;
        if len == 0 {
            return Err("a path template has an empty segment");
        }
        if b[start] == b'{' {
            if b[end - 1] != b'}' || len < 3 {
                return Err("a `{param}` must be a whole, named segment");
            }
            let mut i = start + 1;
            while i < end - 1 {
                let c = b[i];
                if !(c.is_ascii_alphanumeric() || c == b'_') {
                    return Err("a `{param}` name may use only letters, digits and `_`");
                }
                i += 1;
            }
        } else {
            if (len == 1 && b[start] == b'.')
                || (len == 2 && b[start] == b'.' && b[start + 1] == b'.')
            {
                return Err("a path template has a dot segment");
            }
            let mut i = start;
            while i < end {
                let c = b[i];
                if c == b'%' || c == b'{' || c == b'}' || !is_pchar(c) {
                    return Err("a literal path segment has a character outside RFC 3986's");
                }
                i += 1;
            }
        }
        start = end + 1;
    }
    Ok(())
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// RFC 3986 `pchar` minus `pct-encoded`: unreserved, sub-delims, `:` and `@`.
const fn is_pchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// A route table that cannot be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteTableError {
    /// A template is malformed (only possible for routes built outside a `const`).
    #[error("public route {method} {template}: {problem}")]
    Malformed {
        /// The route's method.
        method: Method,
        /// The offending template.
        template: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Two routes with the same method match exactly the same paths.
    #[error("public routes {method} {first} and {method} {second} match the same paths")]
    Ambiguous {
        /// The routes' method.
        method: Method,
        /// The first template.
        first: &'static str,
        /// The second template.
        second: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param,
}

#[derive(Debug)]
struct CompiledRoute {
    route: &'static PublicRoute,
    segments: Box<[Segment]>,
}

/// The public routes, ready for matching.
#[derive(Debug)]
pub struct RouteTable {
    routes: Box<[CompiledRoute]>,
}

/// What the relay does with a request, decided from its method and raw path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it: it matches this public route.
    Forward(&'static PublicRoute),
    /// Answer the health check.
    Health,
    /// 404: a well-formed path that no public route (with this method) matches.
    NotFound,
    /// 400: a path that servers could read in different ways; the reason says which rule.
    Invalid(&'static str),
    /// 414: longer than [`MAX_PATH_BYTES`].
    TooLong,
}

impl RouteTable {
    /// Compiles the routes, refusing malformed templates and ambiguous pairs (same
    /// method, same shape).
    pub fn new(routes: &'static [PublicRoute]) -> Result<Self, RouteTableError> {
        let mut compiled: Vec<CompiledRoute> = Vec::with_capacity(routes.len());
        for route in routes {
            if let Err(problem) = check_template(route.path_template) {
                return Err(RouteTableError::Malformed {
                    method: route.method,
                    template: route.path_template,
                    problem,
                });
            }
            let segments: Box<[Segment]> = route.path_template[1..]
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        Segment::Param
                    } else {
                        Segment::Literal(s)
                    }
                })
                .collect();
            if let Some(other) = compiled
                .iter()
                .find(|c| c.route.method == route.method && c.segments == segments)
            {
                return Err(RouteTableError::Ambiguous {
                    method: route.method,
                    first: other.route.path_template,
                    second: route.path_template,
                });
            }
            compiled.push(CompiledRoute { route, segments });
        }
        Ok(RouteTable {
            routes: compiled.into_boxed_slice(),
        })
    }

    /// Decides what to do with a request. `path` is the raw path of the request target,
    /// without the query.
    pub fn classify(&self, method: &hyper::Method, path: &str) -> Verdict {
        if path.len() > MAX_PATH_BYTES {
            return Verdict::TooLong;
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Verdict::Invalid("the path must start with `/`");
        };
        if let Err(reason) = check_request_path(rest) {
            return Verdict::Invalid(reason);
        }
        if path == HEALTH_PATH {
            return if matches!(*method, hyper::Method::GET | hyper::Method::HEAD) {
                Verdict::Health
            } else {
                Verdict::NotFound
            };
        }
        let Some(method) = Method::from_http(method) else {
            return Verdict::NotFound;
        };
        let mut best: Option<&CompiledRoute> = None;
        for candidate in self.routes.iter() {
            if candidate.route.method != method || !segments_match(&candidate.segments, rest) {
                continue;
            }
            best = match best {
                Some(current) if !more_specific(&candidate.segments, &current.segments) => {
                    Some(current)
                }
                _ => Some(candidate),
            };
        }
        match best {
            Some(c) => Verdict::Forward(c.route),
            None => Verdict::NotFound,
        }
    }
}

impl RouteTable {
    /// The methods of the public routes whose template matches `path` (raw, without
    /// the query), in table order; empty when none does, or when the path is one
    /// [`RouteTable::classify`] would refuse.
    pub fn methods_at(&self, path: &str) -> Vec<Method> {
        let mut out = Vec::new();
        if path.len() > MAX_PATH_BYTES || path == HEALTH_PATH {
            return out;
        }
        let Some(rest) = path.strip_prefix('/') else {
            return out;
        };
        if check_request_path(rest).is_err() {
            return out;
        }
        for candidate in self.routes.iter() {
            if segments_match(&candidate.segments, rest) && !out.contains(&candidate.route.method) {
                out.push(candidate.route.method);
            }
        }
        out
    }
}

/// Whether `a` beats `b` for a path both match: at the first segment where they differ,
/// a literal beats a parameter (so `/products/search` wins over `/products/{id}`).
fn more_specific(a: &[Segment], b: &[Segment]) -> bool {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Segment::Literal(_), Segment::Param) => return true,
            (Segment::Param, Segment::Literal(_)) => return false,
            _ => {}
        }
    }
    false
}

/// Whether the path (without its leading `/`) matches the template's segments.
fn segments_match(template: &[Segment], path: &str) -> bool {
    let mut parts = path.split('/');
    for segment in template {
        let Some(part) = parts.next() else {
            return false;
        };
        match segment {
            Segment::Literal(lit) if *lit != part => return false,
            Segment::Param if part.is_empty() => return false,
            _ => {}
        }
    }
    parts.next().is_none()
}

/// Validates every segment of a request path (without its leading `/`). An empty last
/// segment (a trailing slash) is allowed here and simply matches no route.
fn check_request_path(rest: &str) -> Result<(), &'static str> {
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        if segment.is_empty() {
            if segments.peek().is_some() {
                return Err("the path has an empty segment (`//`)");
            }
            continue;
        }
        check_segment(segment.as_bytes())?;
    }
    Ok(())
}

fn check_segment(b: &[u8]) -> Result<(), &'static str> {
    let mut dots = 0usize;
    let mut decoded_len = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let decoded = if c == b'%' {
            let (Some(hi), Some(lo)) = (
                b.get(i + 1).and_then(|h| hex(*h)),
                b.get(i + 2).and_then(|h| hex(*h)),
            ) else {
                return Err("the path has a malformed percent-escape");
            };
            i += 3;
            let d = hi << 4 | lo;
            match d {
                b'/' | b'\\' => return Err("the path has an encoded slash or backslash"),
                0..=0x1f | 0x7f => return Err("the path has an encoded control character"),
                _ => d,
            }
        } else if is_pchar(c) {
            i += 1;
            c
        } else {
            return Err("the path has a character outside RFC 3986's path characters");
        };
        decoded_len += 1;
        if decoded == b'.' {
            dots += 1;
        }
    }
    if dots == decoded_len && dots <= 2 {
        return Err("the path has a dot segment (`.` or `..`, possibly encoded)");
    }
    Ok(())
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ROUTES: &[PublicRoute] = &[
        PublicRoute::new(Method::Get, "/products", "listProducts"),
        PublicRoute::new(Method::Get, "/products/{id}", "getProduct"),
        PublicRoute::new(Method::Get, "/products/search", "searchProducts"),
        PublicRoute::new(Method::Get, "/products/{id}/reviews", "listReviews"),
    ];

    fn verdict(method: hyper::Method, path: &str) -> Verdict {
        RouteTable::new(ROUTES).unwrap().classify(&method, path)
    }

    fn op(path: &str) -> Option<&'static str> {
        match verdict(hyper::Method::GET, path) {
            Verdict::Forward(r) => Some(r.operation_id()),
            _ => None,
        }
    }

    #[test]
    fn literal_beats_param_whatever_the_order() {
        assert_eq!(op("/products/search"), Some("searchProducts"));
        assert_eq!(op("/products/42"), Some("getProduct"));
        assert_eq!(op("/products/42/reviews"), Some("listReviews"));
        assert_eq!(op("/products/42/reviews/1"), None);
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_template("/products/{id}").is_ok());
        for bad in [
            "",
            "/",
            "products",
            "/products/",
            "//products",
            "/products/{}",
            "/products/{id",
            "/products/x{id}",
            "/products/{i-d}",
            "/products/%2F",
            "/products/..",
            "/healthz",
            "/pro ducts",
        ] {
            assert!(check_template(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ambiguous_routes_are_refused() {
        static DUP: &[PublicRoute] = &[
            PublicRoute::new(Method::Get, "/products/{id}", "a"),
            PublicRoute::new(Method::Get, "/products/{pid}", "b"),
        ];
        assert!(matches!(
            RouteTable::new(DUP),
            Err(RouteTableError::Ambiguous { .. })
        ));
        static SAME_PATH_OTHER_METHOD: &[PublicRoute] = &[
            PublicRoute::new(Method::Get, "/products/{id}", "a"),
            PublicRoute::new(Method::Delete, "/products/{id}", "b"),
        ];
        assert!(RouteTable::new(SAME_PATH_OTHER_METHOD).is_ok());
    }

    #[test]
    fn segment_rules() {
        for (path, ok) in [
            ("/products/a.b", true),
            ("/products/...", true),
            ("/products/a%2eb", true),
            ("/products/%41", true),
            ("/products/.", false),
            ("/products/..", false),
            ("/products/%2e", false),
            ("/products/.%2E", false),
            ("/products/a%2fb", false),
            ("/products/a%5Cb", false),
            ("/products/a%00", false),
            ("/products/a%zz", false),
            ("/products/a%2", false),
            ("/products/a\\b", false),
            ("/products/a\"b", false),
        ] {
            let v = verdict(hyper::Method::GET, path);
            assert_eq!(
                matches!(v, Verdict::Forward(_)),
                ok,
                "{path}: {v:?} (expected ok={ok})"
            );
            if !ok {
                assert!(matches!(v, Verdict::Invalid(_)), "{path}: {v:?}");
            }
        }
    }
}
