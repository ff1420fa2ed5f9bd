//! Check: an existing-service spec (one with `[upstream]`): the table itself, what
//! such a spec cannot have, and the upstream's own spelling of its routes.
//!
//! An existing service is exposed, not generated: shopgen writes no backend, no
//! Deployment and no database for it, so the keys that configure those are refused
//! rather than silently ignored, and names and paths are checked as the upstream
//! has them (any case, any parameter name) instead of as Rust and axum need them.

use super::*;
use crate::spec::UpstreamSpec;

/// The `[service]` keys an existing service has too; every other key of
/// [`keys::SERVICE`] configures the generated backend or its Deployment.
const SHARED_SERVICE_KEYS: &[&str] = &["name", "namespace", "port", "service_port"];

pub(super) fn check_upstream(c: &mut Checker) {
    let Some(u) = &c.spec.upstream else { return };
    check_table(c, u);
    let spec = c.spec;
    let not_here = |c: &mut Checker, span: Range<usize>, path: &str, what: &str, hint: &str| {
        c.err(
            Code::E0271,
            span,
            path,
            format!("{what} does not apply to an existing service (`[upstream]`)"),
            hint,
        );
    };
    for r in &spec.resources {
        not_here(
            c,
            r.name.span.clone(),
            &r.path,
            "a resource",
            "an existing service serves its own data: describe its routes as `[operations.NAME]`, or remove `[upstream]` to have shopgen generate a backend",
        );
    }
    if let Some(span) = &spec.database_span {
        not_here(
            c,
            span.clone(),
            "database",
            "`[database]`",
            "remove `[database]`: the existing service keeps its own database",
        );
    }
    if let Some(cl) = &spec.gcp.cluster
        && let Some(create) = &cl.create
        && create.value
    {
        not_here(
            c,
            create.span.clone(),
            "gcp.cluster.create",
            "`create = true`",
            "an existing service runs in an existing cluster: remove `create` and name that cluster with `name` and `location`",
        );
    }
    let s = &spec.service;
    let set: [(&str, Option<Range<usize>>); 12] = [
        ("replicas", s.replicas.as_ref().map(|v| v.span.clone())),
        (
            "min_replicas",
            s.min_replicas.as_ref().map(|v| v.span.clone()),
        ),
        (
            "max_replicas",
            s.max_replicas.as_ref().map(|v| v.span.clone()),
        ),
        (
            "target_cpu_percent",
            s.target_cpu_percent.as_ref().map(|v| v.span.clone()),
        ),
        (
            "cpu_request",
            s.cpu_request.as_ref().map(|v| v.span.clone()),
        ),
        (
            "memory_request",
            s.memory_request.as_ref().map(|v| v.span.clone()),
        ),
        ("cpu_limit", s.cpu_limit.as_ref().map(|v| v.span.clone())),
        (
            "memory_limit",
            s.memory_limit.as_ref().map(|v| v.span.clone()),
        ),
        (
            "drain_seconds",
            s.drain_seconds.as_ref().map(|v| v.span.clone()),
        ),
        (
            "max_body_bytes",
            s.max_body_bytes.as_ref().map(|v| v.span.clone()),
        ),
        (
            "request_timeout_ms",
            s.request_timeout_ms.as_ref().map(|v| v.span.clone()),
        ),
        (
            "database_acquire_timeout_ms",
            s.database_acquire_timeout_ms
                .as_ref()
                .map(|v| v.span.clone()),
        ),
    ];
    // Every `[service]` key is either shared or refused here: a key added to the
    // spec must be sorted into one or the other.
    debug_assert_eq!(set.len() + SHARED_SERVICE_KEYS.len(), keys::SERVICE.len());
    debug_assert!(
        set.iter()
            .all(|(k, _)| keys::SERVICE.contains(k) && !SHARED_SERVICE_KEYS.contains(k))
    );
    for (key, span) in set {
        if let Some(span) = span {
            not_here(
                c,
                span,
                &format!("service.{key}"),
                &format!("`service.{key}`"),
                &format!(
                    "remove `{key}`: it configures the backend shopgen generates, and the existing service's Deployment is yours"
                ),
            );
        }
    }
}

fn check_table(c: &mut Checker, u: &UpstreamSpec) {
    match &u.selector {
        None => missing(
            c,
            u.span.clone(),
            "upstream",
            "selector",
            "add the labels of the existing pods: `selector = { app = \"legacy-api\" }`",
        ),
        Some(sel) if sel.value.is_empty() => c.err(
            Code::E0270,
            sel.span.clone(),
            "upstream.selector",
            "the selector has no labels: the load balancer would select every pod of the namespace",
            "add the labels of the existing pods: `selector = { app = \"legacy-api\" }`",
        ),
        Some(sel) => {
            for (key, value) in &sel.value {
                let path = format!("upstream.selector.{}", key.value);
                if !is_label_key(&key.value) {
                    c.err(
                        Code::E0270,
                        key.span.clone(),
                        &path,
                        format!("`{}` is not a Kubernetes label key", key.value),
                        "a label key is an optional DNS prefix and `/`, then up to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit (`app`, `app.kubernetes.io/name`)",
                    );
                }
                if !is_label_value(&value.value) {
                    c.err(
                        Code::E0270,
                        value.span.clone(),
                        &path,
                        format!("`{}` is not a Kubernetes label value", value.value),
                        "a label value is up to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
                    );
                }
            }
        }
    }
    if let Some(h) = &u.health_path
        && !is_plain_path(&h.value)
    {
        c.err(
            Code::E0270,
            h.span.clone(),
            "upstream.health_path",
            format!("`{}` is not a path", h.value),
            "write the upstream's health endpoint as an absolute path without query: `/healthz`",
        );
    }
}

/// A Kubernetes label name part: 1–63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// A label key: `[prefix/]name`, the prefix a DNS-1123 subdomain of at most 253.
pub(crate) fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        None => is_label_name(s),
        Some((prefix, name)) => {
            prefix.len() <= 253 && prefix.split('.').all(is_dns_label) && is_label_name(name)
        }
    }
}

/// A label value: empty, or a label name part.
pub(crate) fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

/// `/` followed by path characters (RFC 3986 `pchar`s and `/`), no query or fragment.
fn is_plain_path(s: &str) -> bool {
    s.starts_with('/') && s.bytes().all(is_path_byte) && !s.contains("//")
}

/// A byte of an RFC 3986 path segment (`pchar`: unreserved, `%`, sub-delims, `:`,
/// `@`) or `/`.
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@/".contains(&b)
}

/// A literal segment of an existing service's path template: RFC 3986 path
/// characters, nothing percent-encoded (not empty, no braces: checked before).
pub(crate) fn is_upstream_segment(segment: &str) -> bool {
    segment.bytes().all(|b| is_path_byte(b) && b != b'/') && !segment.contains('%')
}

/// A path parameter's name in an existing service's template: letters, digits and
/// `_`, what the relay's route table takes.
pub(crate) fn is_upstream_param_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A name the gateway documents can print verbatim: letters, digits, `_`, `-`, `.`,
/// `$`, `[`, `]`, not starting with a digit, at most 128 bytes.
pub(crate) fn is_wire_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.$[]".contains(&b))
        && !n.as_bytes()[0].is_ascii_digit()
}

/// A field or parameter name as the upstream spells it on the wire (`productId`,
/// `page_size`, `x-total`): what the gateway documents print verbatim.
pub(super) fn wire_name(
    c: &mut Checker,
    name: &Sp<String>,
    path: &str,
    what: &str,
) -> Option<String> {
    let n = &name.value;
    if !is_wire_name(n) {
        c.err(
            Code::E0202,
            name.span.clone(),
            path,
            format!("{what} name `{n}` cannot be written in the gateway document"),
            "use the upstream's name: letters, digits, `_`, `-`, `.`, `$`, `[`, `]`, not starting with a digit",
        );
        return None;
    }
    Some(n.clone())
}
