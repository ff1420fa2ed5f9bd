//! Check: the only stage that rejects a spec for what it *means*.
//!
//! Stage two of `parse → check → lower → emit`. Takes the [`Spec`] as written and
//! returns every problem at once: missing keys, unusable or colliding names, undefined
//! references, impossible constraints, values that would break a downstream limit
//! (Kubernetes, Google Cloud). When it returns no diagnostics, lowering cannot fail.

mod deploy;
mod fields;
mod identity;
pub mod idents;
pub mod lints;
mod operations;
mod resources;
mod upstream;

pub use deploy::parse_cidr;
use deploy::{
    check_budget, check_consumers, check_cors, check_database, check_gateway, check_gcp,
    check_quota, check_range_overlaps, check_relay,
};
pub(crate) use fields::is_enum_value;
pub use fields::{fits_decimal, parse_decimal};
pub use resources::check_model;
use resources::check_resources;
pub(crate) use upstream::{is_upstream_param_name, is_upstream_segment, is_wire_name};

use std::ops::Range;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::diagnostics::{Code, Diagnostic, did_you_mean};
use crate::model::names::{DerivedNames, names, plural_of, pluralize};
use crate::spec::{
    ClusterSpec, DatabaseSpec, EgressSpec, FieldSpec, ResourceSpec, Scalar, Sp, Spec, StateSpec,
    keys,
};
use idents::{ident_problem, is_dns_label, keyword};

/// Whether `s` matches a fixed pattern; each pattern is compiled once per process.
fn matches(pattern: &'static str, s: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<HashMap<&'static str, regex::Regex>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let re = cache
        .entry(pattern)
        .or_insert_with(|| regex::Regex::new(pattern).expect("shopgen's own patterns compile"));
    re.is_match(s)
}

/// Exposure words a route accepts.
pub const EXPOSURES: &[&str] = &["public", "internal", "off"];
/// `on_delete` words.
pub const ON_DELETE: &[&str] = &["cascade", "restrict", "set_null"];

struct Checker<'s> {
    spec: &'s Spec,
    diags: Vec<Diagnostic>,
    /// Item paths the parser already reported as written with the wrong type: they are
    /// present, so they are not reported again as missing.
    mistyped: std::collections::BTreeSet<String>,
}

impl Checker<'_> {
    fn err(
        &mut self,
        code: Code,
        span: Range<usize>,
        path: impl Into<String>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::new(code, span, path, msg).hint(hint));
    }
}

/// Checks a parsed spec, given the parser's own diagnostics (`shape`); an empty
/// result, with an empty `shape`, means it lowers.
pub fn check(spec: &Spec, shape: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut c = Checker {
        spec,
        diags: Vec::new(),
        mistyped: shape
            .iter()
            .filter(|d| d.code == Code::E0103)
            .map(|d| d.path.clone())
            .collect(),
    };
    check_service(&mut c);
    check_gcp(&mut c);
    check_gateway(&mut c);
    check_cors(&mut c);
    check_consumers(&mut c);
    check_quota(&mut c);
    identity::check_identity(&mut c);
    check_relay(&mut c);
    check_budget(&mut c);
    check_database(&mut c);
    check_range_overlaps(&mut c);
    check_resources(&mut c);
    upstream::check_upstream(&mut c);
    let resources = spec
        .resources
        .iter()
        .map(|r| names(&r.name.value).snake)
        .collect();
    operations::check_operations(&mut c, &resources);
    c.diags
}

/// Checks the name of a resource, field or relation (`what`); returns its snake form
/// when usable. Shared by the resource and field checks, so it lives here, with the
/// checker, and neither of those modules depends on the other for it.
fn ident(c: &mut Checker, name: &Sp<String>, path: &str, what: &str) -> Option<String> {
    if let Some((msg, hint)) = ident_problem(&name.value) {
        c.err(
            Code::E0202,
            name.span.clone(),
            path,
            format!("{what} name {msg}"),
            hint,
        );
        return None;
    }
    let snake = names(&name.value).snake;
    if let Some(kind) = keyword(&snake) {
        c.err(
            Code::E0203,
            name.span.clone(),
            path,
            format!("{what} name `{}` is {kind}", name.value),
            format!("choose another name, e.g. `{snake}_value` or a more specific word"),
        );
        return None;
    }
    Some(snake)
}

fn missing(c: &mut Checker, span: Range<usize>, path: &str, key: &str, hint: &str) {
    if c.mistyped.contains(&crate::spec::reader::join(path, key)) {
        return;
    }
    c.err(
        Code::E0201,
        span,
        path,
        format!("missing required key `{key}`"),
        hint,
    );
}

fn range(c: &mut Checker, v: &Option<Sp<i64>>, path: &str, lo: i64, hi: i64) {
    if let Some(v) = v
        && (v.value < lo || v.value > hi)
    {
        c.err(
            Code::E0223,
            v.span.clone(),
            path,
            format!("{} is out of range", v.value),
            format!("use a value from {lo} to {hi}"),
        );
    }
}

fn quantity(c: &mut Checker, v: &Option<Sp<String>>, path: &str, memory: bool) {
    let Some(v) = v else { return };
    let ok = if memory {
        matches(r"^[1-9][0-9]*(Ki|Mi|Gi|Ti)$", &v.value)
    } else {
        matches(r"^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$", &v.value)
    };
    if !ok {
        let hint = if memory {
            "write a Kubernetes memory quantity such as \"128Mi\" or \"1Gi\""
        } else {
            "write a CPU quantity such as \"250m\" or \"1\""
        };
        c.err(
            Code::E0227,
            v.span.clone(),
            path,
            format!("`{}` is not a valid quantity", v.value),
            hint,
        );
    }
}

fn check_service(c: &mut Checker) {
    let s = &c.spec.service;
    let doc = c.spec.span.start..c.spec.span.start;
    if !s.present {
        c.err(
            Code::E0201,
            doc,
            "service",
            "missing required table `[service]`",
            "add `[service]` with at least `name = \"my-api\"`",
        );
        return;
    }
    match &s.name {
        None => missing(
            c,
            s.span.clone(),
            "service",
            "name",
            "add `name = \"my-api\"` to `[service]`",
        ),
        Some(name) => {
            if !is_dns_label(&name.value) {
                c.err(
                    Code::E0219,
                    name.span.clone(),
                    "service.name",
                    format!("`{}` is not a DNS-1123 label", name.value),
                    "use lower-case letters, digits and `-`, starting with a letter and not ending with `-`",
                );
            } else {
                let derived = DerivedNames::new(&name.value);
                for d in derived.limits() {
                    if d.value.len() > d.max || d.value.len() < d.min {
                        let room = d.max as i64 - (d.value.len() as i64 - name.value.len() as i64);
                        let hint = if d.value.len() > d.max {
                            format!("shorten `service.name` to at most {room} characters")
                        } else {
                            format!(
                                "lengthen `service.name`: the {} must have at least {} characters",
                                d.what, d.min
                            )
                        };
                        c.err(
                            Code::E0219,
                            name.span.clone(),
                            "service.name",
                            format!(
                                "the {} `{}` would be {} characters; the limit is {}–{}",
                                d.what,
                                d.value,
                                d.value.len(),
                                d.min,
                                d.max
                            ),
                            hint,
                        );
                    }
                }
            }
        }
    }
    if let Some(ns) = &s.namespace
        && (!is_dns_label(&ns.value) || ns.value.len() > 63)
    {
        c.err(
            Code::E0219,
            ns.span.clone(),
            "service.namespace",
            format!("`{}` is not a valid Kubernetes namespace", ns.value),
            "use a DNS-1123 label of at most 63 characters: lower-case letters, digits and `-`",
        );
    }
    range(c, &s.port, "service.port", 1024, 65535);
    range(c, &s.service_port, "service.service_port", 1, 65535);
    range(c, &s.replicas, "service.replicas", 1, 1000);
    range(c, &s.min_replicas, "service.min_replicas", 1, 1000);
    range(c, &s.max_replicas, "service.max_replicas", 1, 1000);
    range(
        c,
        &s.target_cpu_percent,
        "service.target_cpu_percent",
        1,
        100,
    );
    range(c, &s.drain_seconds, "service.drain_seconds", 1, 600);
    range(
        c,
        &s.request_timeout_ms,
        "service.request_timeout_ms",
        *crate::model::budget::SPEC_KEY_MS.start(),
        *crate::model::budget::SPEC_KEY_MS.end(),
    );
    range(
        c,
        &s.database_acquire_timeout_ms,
        "service.database_acquire_timeout_ms",
        *crate::model::budget::SPEC_KEY_MS.start(),
        *crate::model::budget::SPEC_KEY_MS.end(),
    );
    range(
        c,
        &s.max_body_bytes,
        "service.max_body_bytes",
        1024,
        32 * 1024 * 1024,
    );
    if let (Some(lo), Some(hi)) = (&s.min_replicas, &s.max_replicas)
        && lo.value > hi.value
    {
        c.err(
            Code::E0209,
            lo.span.clone(),
            "service.min_replicas",
            format!(
                "min_replicas ({}) is greater than max_replicas ({})",
                lo.value, hi.value
            ),
            "make `min_replicas` at most `max_replicas`",
        );
    }
    quantity(c, &s.cpu_request, "service.cpu_request", false);
    quantity(c, &s.cpu_limit, "service.cpu_limit", false);
    quantity(c, &s.memory_request, "service.memory_request", true);
    quantity(c, &s.memory_limit, "service.memory_limit", true);
}
