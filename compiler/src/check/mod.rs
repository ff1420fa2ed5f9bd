//! Check: the only stage that rejects a spec for what it *means*.
//!
//! Stage two of `parse → check → lower → emit`. Takes the [`Spec`] as written and
//! returns every problem at once: missing keys, unusable or colliding names, undefined
//! references, impossible constraints, values that would break a downstream limit
//! (Kubernetes, Google Cloud). When it returns no diagnostics, lowering cannot fail.

pub mod idents;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::model::names::{names, pluralize};
use crate::spec::{
    ClusterSpec, DatabaseSpec, EgressSpec, FieldSpec, ResourceSpec, Scalar, Sp, Spec, keys,
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

/// Every derived name and its platform limit, computed from the service name. Shared
/// with lowering so the two can never disagree.
pub struct DerivedName {
    pub what: &'static str,
    pub value: String,
    pub min: usize,
    pub max: usize,
}

/// The Google Cloud / Kubernetes names derived from the service name, with limits.
pub fn derived_names(service: &str) -> Vec<DerivedName> {
    let n = |what, value: String, min, max| DerivedName {
        what,
        value,
        min,
        max,
    };
    vec![
        n("Kubernetes object name", service.to_string(), 1, 63),
        n("Cloud Run service name", format!("{service}-relay"), 1, 49),
        n(
            "Serverless VPC Access connector name",
            format!("{service}-vpc"),
            1,
            25,
        ),
        n(
            "relay service account id",
            format!("{service}-relay"),
            6,
            30,
        ),
        n(
            "gateway service account id",
            format!("{service}-gateway"),
            6,
            30,
        ),
        n(
            "backend service account id",
            format!("{service}-backend"),
            6,
            30,
        ),
        n("API Gateway API id", service.to_string(), 1, 63),
        n(
            "API Gateway gateway id",
            format!("{service}-gateway"),
            1,
            63,
        ),
        n("internal address name", format!("{service}-ilb"), 1, 63),
        n(
            "Artifact Registry repository id",
            service.to_string(),
            1,
            63,
        ),
    ]
}

struct Checker<'s> {
    spec: &'s Spec,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        path: impl Into<String>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::new(code, span, path, msg).hint(hint));
    }
}

/// Checks a parsed spec; an empty result means it lowers.
pub fn check(spec: &Spec) -> Vec<Diagnostic> {
    let mut c = Checker {
        spec,
        diags: Vec::new(),
    };
    check_service(&mut c);
    check_gcp(&mut c);
    check_gateway(&mut c);
    check_relay(&mut c);
    check_database(&mut c);
    check_resources(&mut c);
    c.diags
}

fn missing(c: &mut Checker, span: Range<usize>, path: &str, key: &str, hint: &str) {
    c.err(
        "E0201",
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
            "E0223",
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
            "E0227",
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
            "E0201",
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
                    "E0219",
                    name.span.clone(),
                    "service.name",
                    format!("`{}` is not a DNS-1123 label", name.value),
                    "use lower-case letters, digits and `-`, starting with a letter and not ending with `-`",
                );
            } else {
                for d in derived_names(&name.value) {
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
                            "E0219",
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
            "E0219",
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
        &s.max_body_bytes,
        "service.max_body_bytes",
        1024,
        32 * 1024 * 1024,
    );
    if let (Some(lo), Some(hi)) = (&s.min_replicas, &s.max_replicas)
        && lo.value > hi.value
    {
        c.err(
            "E0209",
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

/// Parses `a.b.c.d/n`; returns the address as a u32 and the prefix length.
pub fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = s.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    let octets: Vec<u8> = addr
        .split('.')
        .map(|o| o.parse::<u8>().ok())
        .collect::<Option<_>>()?;
    if octets.len() != 4 || addr.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
        return None;
    }
    let ip = u32::from_be_bytes([octets[0], octets[1], octets[2], octets[3]]);
    Some((ip, len))
}

fn is_private(ip: u32) -> bool {
    let [a, b, ..] = ip.to_be_bytes();
    a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168)
}

fn cidr(c: &mut Checker, v: &Sp<String>, path: &str, prefix: Option<u8>) {
    match parse_cidr(&v.value) {
        None => c.err(
            "E0220",
            v.span.clone(),
            path,
            format!("`{}` is not an IPv4 CIDR range", v.value),
            "write it as `10.8.0.0/28`",
        ),
        Some((ip, len)) => {
            if let Some(p) = prefix
                && len != p
            {
                c.err(
                    "E0220",
                    v.span.clone(),
                    path,
                    format!("`{}` is a /{len}; this range must be a /{p}", v.value),
                    format!("Google Cloud requires exactly a /{p} here, e.g. `10.8.0.0/{p}`"),
                );
                return;
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            if ip & !mask != 0 {
                let net = std::net::Ipv4Addr::from(ip & mask);
                c.err(
                    "E0220",
                    v.span.clone(),
                    path,
                    format!("`{}` has host bits set", v.value),
                    format!("did you mean `{net}/{len}`?"),
                );
            } else if !is_private(ip) {
                c.err(
                    "E0220",
                    v.span.clone(),
                    path,
                    format!("`{}` is not a private (RFC 1918) range", v.value),
                    "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 that no subnet uses",
                );
            }
        }
    }
}

fn gcp_name(c: &mut Checker, v: &Option<Sp<String>>, path: &str) {
    if let Some(v) = v
        && (!is_dns_label(&v.value) || v.value.len() > 63)
    {
        c.err(
            "E0224",
            v.span.clone(),
            path,
            format!("`{}` is not a valid Google Cloud resource name", v.value),
            "use lower-case letters, digits and `-` (at most 63), starting with a letter",
        );
    }
}

fn check_gcp(c: &mut Checker) {
    let g = &c.spec.gcp;
    let doc = c.spec.span.start..c.spec.span.start;
    if !g.present {
        c.err(
            "E0201",
            doc,
            "gcp",
            "missing required table `[gcp]`",
            "add `[gcp]` with `project`, `region` and `cluster`",
        );
        return;
    }
    let gcp_span = g.span.clone();
    match &g.project {
        None => missing(
            c,
            gcp_span.clone(),
            "gcp",
            "project",
            "add `project = \"my-project-id\"`",
        ),
        Some(p) => {
            let ok = matches(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", &p.value);
            if !ok {
                c.err(
                    "E0224",
                    p.span.clone(),
                    "gcp.project",
                    format!("`{}` is not a Google Cloud project id", p.value),
                    "project ids are 6–30 characters: lower-case letters, digits and `-`, starting with a letter",
                );
            }
        }
    }
    match &g.region {
        None => missing(
            c,
            gcp_span.clone(),
            "gcp",
            "region",
            "add `region = \"europe-west2\"`",
        ),
        Some(r) => {
            let ok = matches(r"^[a-z]+-[a-z]+[0-9]+$", &r.value);
            if !ok {
                c.err(
                    "E0224",
                    r.span.clone(),
                    "gcp.region",
                    format!("`{}` is not a Google Cloud region", r.value),
                    "write a region such as `europe-west2` or `us-central1` (not a zone)",
                );
            }
        }
    }
    gcp_name(c, &g.network, "gcp.network");
    gcp_name(c, &g.subnetwork, "gcp.subnetwork");
    if let Some(e) = &g.egress
        && let EgressSpec::Connector {
            cidr: range_,
            min_instances,
            max_instances,
            machine_type,
        } = &e.value
    {
        cidr(c, range_, "gcp.egress.connector", Some(28));
        range(c, min_instances, "gcp.egress.min_instances", 2, 9);
        range(c, max_instances, "gcp.egress.max_instances", 3, 10);
        if let (Some(lo), Some(hi)) = (min_instances, max_instances)
            && lo.value >= hi.value
        {
            c.err(
                "E0209",
                lo.span.clone(),
                "gcp.egress.min_instances",
                format!(
                    "min_instances ({}) must be below max_instances ({})",
                    lo.value, hi.value
                ),
                "Serverless VPC Access needs max_instances > min_instances",
            );
        }
        if let Some(m) = machine_type
            && !["f1-micro", "e2-micro", "e2-standard-4"].contains(&m.value.as_str())
        {
            c.err(
                "E0224",
                m.span.clone(),
                "gcp.egress.machine_type",
                format!("`{}` is not a connector machine type", m.value),
                "use `f1-micro`, `e2-micro` or `e2-standard-4`",
            );
        }
    }
    match &g.cluster {
        None => missing(
            c,
            gcp_span,
            "gcp",
            "cluster",
            "add `cluster = { name = \"my-cluster\", location = \"europe-west2\" }` (or `create = true`)",
        ),
        Some(cl) => check_cluster(c, cl),
    }
    // Direct VPC egress puts the relay on `gcp.subnetwork`, in the relay's region; the
    // internal load balancer's address is on the same subnetwork, in the cluster's
    // region. One subnetwork cannot be in two regions.
    if let (Some(e), Some(region), Some(cl)) = (&g.egress, &g.region, &g.cluster)
        && e.value == EgressSpec::DirectVpc
        && let Some(loc) = &cl.location
    {
        let cluster_region = match loc.value.rsplit_once('-') {
            Some((head, zone)) if zone.len() == 1 => head,
            _ => loc.value.as_str(),
        };
        if cluster_region != region.value {
            c.err(
                "E0231",
                loc.span.clone(),
                "gcp.cluster.location",
                format!(
                    "with Direct VPC egress the cluster must be in the relay's region `{}`, not `{cluster_region}`",
                    region.value
                ),
                "use `egress = { connector = \"10.8.0.0/28\" }` (the load balancer then gets global access), or move the cluster",
            );
        }
    }
}

fn check_cluster(c: &mut Checker, cl: &ClusterSpec) {
    if cl.name.is_none() {
        missing(
            c,
            cl.span.clone(),
            "gcp.cluster",
            "name",
            "add `name = \"my-cluster\"`",
        );
    }
    gcp_name(c, &cl.name, "gcp.cluster.name");
    if let Some(l) = &cl.location {
        let ok = matches(r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$", &l.value);
        if !ok {
            c.err(
                "E0224",
                l.span.clone(),
                "gcp.cluster.location",
                format!("`{}` is not a region or zone", l.value),
                "write a region (`europe-west2`) or a zone (`europe-west2-a`)",
            );
        }
    }
    let create = cl.create.as_ref().is_some_and(|c| c.value);
    for (v, path, prefix) in [
        (&cl.master_cidr, "gcp.cluster.master_cidr", Some(28)),
        (&cl.pods_cidr, "gcp.cluster.pods_cidr", None),
        (&cl.services_cidr, "gcp.cluster.services_cidr", None),
        (&cl.nodes_cidr, "gcp.cluster.nodes_cidr", None),
    ] {
        if let Some(v) = v {
            if !create {
                c.err(
                    "E0207",
                    v.span.clone(),
                    path,
                    format!(
                        "`{}` only applies to a cluster shopgen creates",
                        path.rsplit('.').next().unwrap_or(path)
                    ),
                    "set `create = true`, or remove the key for an existing cluster",
                );
            } else {
                cidr(c, v, path, prefix);
            }
        }
    }
}

fn check_gateway(c: &mut Checker) {
    let g = &c.spec.gateway;
    if let Some(h) = &g.api_key_header {
        let ok = !h.value.is_empty()
            && h.value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            c.err(
                "E0222",
                h.span.clone(),
                "gateway.api_key_header",
                format!("`{}` is not a valid HTTP header name", h.value),
                "use letters, digits and `-`, e.g. `x-api-key`",
            );
        } else if ["authorization", "host", "content-type", "content-length"]
            .contains(&h.value.to_ascii_lowercase().as_str())
        {
            c.err(
                "E0222",
                h.span.clone(),
                "gateway.api_key_header",
                format!("`{}` is used by HTTP itself or by API Gateway", h.value),
                "API Gateway overwrites `Authorization`; use `x-api-key`",
            );
        }
    }
    if let Some(o) = &g.openapi
        && !["3.0", "2.0"].contains(&o.value.as_str())
    {
        c.err(
            "E0221",
            o.span.clone(),
            "gateway.openapi",
            format!("unsupported OpenAPI dialect `{}`", o.value),
            "use \"3.0\" (OpenAPI 3.0.3, the default) or \"2.0\" (Swagger 2.0)",
        );
    }
    if let Some(d) = &g.deadline
        && !(d.value > 0.0 && d.value <= 3600.0)
    {
        c.err(
            "E0223",
            d.span.clone(),
            "gateway.deadline",
            format!("deadline {} is out of range", d.value),
            "use a number of seconds above 0 and at most 3600 (API Gateway's default is 15)",
        );
    }
}

fn check_relay(c: &mut Checker) {
    let r = &c.spec.relay;
    range(c, &r.min_instances, "relay.min_instances", 0, 1000);
    range(c, &r.max_instances, "relay.max_instances", 1, 1000);
    range(c, &r.concurrency, "relay.concurrency", 1, 1000);
    range(c, &r.timeout_ms, "relay.timeout_ms", 100, 3_600_000);
    range(
        c,
        &r.max_body_bytes,
        "relay.max_body_bytes",
        1024,
        32 * 1024 * 1024,
    );
    if let (Some(lo), Some(hi)) = (&r.min_instances, &r.max_instances)
        && lo.value > hi.value
    {
        c.err(
            "E0209",
            lo.span.clone(),
            "relay.min_instances",
            format!(
                "min_instances ({}) is greater than max_instances ({})",
                lo.value, hi.value
            ),
            "make `min_instances` at most `max_instances`",
        );
    }
    if let (Some(t), Some(d)) = (&r.timeout_ms, &c.spec.gateway.deadline)
        && t.value as f64 >= d.value * 1000.0
    {
        c.err(
            "E0209",
            t.span.clone(),
            "relay.timeout_ms",
            format!("the relay's timeout ({} ms) is not below the gateway deadline ({} s)", t.value, d.value),
            "the relay must answer 504 before API Gateway gives up: lower `timeout_ms` or raise `gateway.deadline`",
        );
    }
    quantity(c, &r.cpu, "relay.cpu", false);
    quantity(c, &r.memory, "relay.memory", true);
}

fn check_database(c: &mut Checker) {
    match &c.spec.database {
        DatabaseSpec::Default => {}
        DatabaseSpec::Secret { name, key } => {
            if let Some(n) = name
                && (!is_dns_label(&n.value) || n.value.len() > 63)
            {
                c.err(
                    "E0219",
                    n.span.clone(),
                    "database.secret.name",
                    format!("`{}` is not a valid Kubernetes Secret name", n.value),
                    "use a DNS-1123 label: lower-case letters, digits and `-`",
                );
            }
            if let Some(k) = key
                && !matches(r"^[-._a-zA-Z0-9]+$", &k.value)
            {
                c.err(
                    "E0219",
                    k.span.clone(),
                    "database.secret.key",
                    format!("`{}` is not a valid Secret key", k.value),
                    "use letters, digits, `-`, `_` and `.`, e.g. `DATABASE_URL`",
                );
            }
        }
        DatabaseSpec::CloudSql {
            version,
            database,
            user,
            tier,
            ..
        } => {
            if let Some(v) = version
                && !matches(r"^POSTGRES_1[4-8]$", &v.value)
            {
                c.err(
                    "E0224",
                    v.span.clone(),
                    "database.cloud_sql.version",
                    format!("`{}` is not a supported Cloud SQL version", v.value),
                    "use POSTGRES_14 to POSTGRES_18 (the default is POSTGRES_16)",
                );
            }
            if let Some(t) = tier
                && !t.value.starts_with("db-")
            {
                c.err(
                    "E0224",
                    t.span.clone(),
                    "database.cloud_sql.tier",
                    format!("`{}` is not a Cloud SQL tier", t.value),
                    "use a tier such as `db-f1-micro` or `db-custom-1-3840`",
                );
            }
            for (v, path) in [
                (database, "database.cloud_sql.database"),
                (user, "database.cloud_sql.user"),
            ] {
                if let Some(v) = v
                    && ident_problem(&v.value).is_some()
                {
                    c.err(
                        "E0202",
                        v.span.clone(),
                        path,
                        format!("`{}` is not a usable database identifier", v.value),
                        "use ASCII letters, digits and `_`, starting with a letter",
                    );
                }
            }
        }
    }
}

/// Checks an identifier; returns its snake form when usable.
fn ident(c: &mut Checker, name: &Sp<String>, path: &str, what: &str) -> Option<String> {
    if let Some((msg, hint)) = ident_problem(&name.value) {
        c.err(
            "E0202",
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
            "E0203",
            name.span.clone(),
            path,
            format!("{what} name `{}` is {kind}", name.value),
            format!("choose another name, e.g. `{snake}_value` or a more specific word"),
        );
        return None;
    }
    Some(snake)
}

/// Per-resource facts the cross-resource checks need.
struct ResInfo<'s> {
    spec: &'s ResourceSpec,
    snake: String,
    fields: BTreeSet<String>,
}

fn check_resources(c: &mut Checker) {
    let spec = c.spec;
    if spec.resources.is_empty() {
        let doc = spec.span.start..spec.span.start;
        c.err(
            "E0201",
            doc,
            "resources",
            "the spec declares no resources",
            "add a resource: `[resources.product]` with `fields.title = { type = \"string\", max_length = 120 }`",
        );
        return;
    }
    let mut infos: Vec<ResInfo> = Vec::new();
    let mut by_snake: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    let mut by_plural: BTreeMap<String, (&Sp<String>, String)> = BTreeMap::new();
    for r in &spec.resources {
        let Some(snake) = ident(c, &r.name, &r.path, "resource") else {
            continue;
        };
        if let Some(first) = by_snake.get(&snake) {
            c.err(
                "E0204",
                r.name.span.clone(),
                &r.path,
                format!(
                    "resource `{}` collides with `{}`: both are `{snake}`",
                    r.name.value, first.value
                ),
                "names are compared after conversion to snake_case; rename one of them",
            );
            continue;
        }
        by_snake.insert(snake.clone(), &r.name);
        let plural = match &r.plural {
            Some(p) => ident(c, p, &format!("{}.plural", r.path), "plural"),
            None => Some(pluralize(&snake)),
        };
        if let Some(plural) = plural {
            let plural = names(&plural).snake;
            if let Some((other, other_snake)) = by_plural.get(&plural) {
                c.err(
                    "E0204",
                    r.name.span.clone(),
                    &r.path,
                    format!(
                        "resource `{}` has the plural `{plural}`, like `{}`",
                        r.name.value, other.value
                    ),
                    format!("set `plural` on one of `{snake}` or `{other_snake}`"),
                );
            } else if plural == snake && r.plural.is_none() {
                c.err(
                    "E0204",
                    r.name.span.clone(),
                    &r.path,
                    format!("resource `{}` has the same singular and plural", r.name.value),
                    "set `plural` to a different word: the list and single-record JSON keys must differ",
                );
            } else if let Some(kind) = keyword(&plural) {
                c.err(
                    "E0203",
                    r.name.span.clone(),
                    &r.path,
                    format!("the table name `{plural}` is {kind}"),
                    "set `plural` to another word",
                );
            } else {
                by_plural.insert(plural, (&r.name, snake.clone()));
            }
        }
        let fields = check_fields(c, r);
        infos.push(ResInfo {
            spec: r,
            snake,
            fields,
        });
    }
    let all: BTreeSet<String> = infos.iter().map(|i| i.snake.clone()).collect();
    // relations: resource → (relation snake → target snake)
    let mut belongs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for info in &infos {
        let mut rels = BTreeMap::new();
        for b in &info.spec.belongs_to {
            let Some(bsnake) = ident(c, &b.name, &b.path, "relation") else {
                continue;
            };
            let target_sp = b.resource.clone().unwrap_or_else(|| b.name.clone());
            let target = names(&target_sp.value).snake;
            if !all.contains(&target) {
                let hint = match did_you_mean(&target, all.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "declare `[resources.{target}]`, or set `resource` to one of: {}",
                        all.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                c.err(
                    "E0214",
                    target_sp.span.clone(),
                    &b.path,
                    format!("`{}` is not a resource of this spec", target_sp.value),
                    hint,
                );
                continue;
            }
            let fk = format!("{bsnake}_id");
            if info.fields.contains(&fk) || info.fields.contains(&bsnake) {
                c.err(
                    "E0205",
                    b.name.span.clone(),
                    &b.path,
                    format!("relation `{bsnake}` needs the column `{fk}`, which a field of `{}` already uses", info.snake),
                    format!("rename the field, or name the relation differently (`belongs_to.other = {{ resource = \"{target}\" }}`)"),
                );
            }
            if rels.insert(bsnake.clone(), target.clone()).is_some() {
                c.err(
                    "E0204",
                    b.name.span.clone(),
                    &b.path,
                    format!("relation `{bsnake}` is declared twice"),
                    "rename one of them",
                );
            }
            let on_delete = b.on_delete.as_ref().map(|o| o.value.as_str());
            if let Some(o) = &b.on_delete
                && !ON_DELETE.contains(&o.value.as_str())
            {
                let hint = match did_you_mean(&o.value, ON_DELETE.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of: {}", ON_DELETE.join(", ")),
                };
                c.err(
                    "E0217",
                    o.span.clone(),
                    format!("{}.on_delete", b.path),
                    format!("unknown on_delete `{}`", o.value),
                    hint,
                );
            }
            let required = b.required.as_ref().is_none_or(|r| r.value);
            if on_delete == Some("set_null")
                && required
                && let Some(o) = &b.on_delete
            {
                c.err(
                    "E0217",
                    o.span.clone(),
                    format!("{}.on_delete", b.path),
                    "`set_null` needs an optional relation",
                    "add `required = false`, or use `cascade` or `restrict`",
                );
            }
            for (v, key) in [(&b.routes.list, "list"), (&b.routes.create, "create")] {
                exposure(c, v, &format!("{}.routes.{key}", b.path));
            }
            let public = |v: &Option<Sp<String>>| v.as_ref().is_some_and(|v| v.value == "public");
            let parent_get_public = infos
                .iter()
                .find(|i| i.snake == target)
                .is_some_and(|p| public(&p.spec.routes.get));
            for (v, key) in [(&b.routes.list, "list"), (&b.routes.create, "create")] {
                if public(v) && !parent_get_public {
                    let v = v.as_ref().map_or(b.name.span.clone(), |v| v.span.clone());
                    c.err(
                        "E0218",
                        v,
                        format!("{}.routes.{key}", b.path),
                        format!("public nested route under `{target}`, whose `get` route is not public"),
                        format!("a client cannot reach a `{target}` through the gateway: make `resources.{target}.routes.get` public, or this route internal"),
                    );
                }
            }
        }
        belongs.insert(info.snake.clone(), rels);
    }
    // has_many: inferred from belongs_to, renamed by declarations.
    let mut has_many: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for info in &infos {
        for h in &info.spec.has_many {
            let Some(hsnake) = ident(c, &h.name, &h.path, "relation") else {
                continue;
            };
            let child = match &h.resource {
                Some(r) => r.clone(),
                None => Sp::new(
                    crate::model::names::singular_guess(&hsnake),
                    h.name.span.clone(),
                ),
            };
            let child_snake = names(&child.value).snake;
            let Some(child_rels) = belongs.get(&child_snake) else {
                c.err(
                    "E0214",
                    child.span.clone(),
                    &h.path,
                    format!("`{}` is not a resource of this spec", child.value),
                    "set `resource` to the child resource that `belongs_to` this one",
                );
                continue;
            };
            let via = h.via.as_ref().map(|v| names(&v.value).snake);
            let candidates: Vec<&String> = child_rels
                .iter()
                .filter(|(_, t)| **t == info.snake)
                .map(|(r, _)| r)
                .filter(|r| via.as_ref().is_none_or(|v| v == *r))
                .collect();
            match candidates.as_slice() {
                [one] => {
                    let hm = has_many.entry(info.snake.clone()).or_default();
                    if hm
                        .insert(hsnake.clone(), (child_snake.clone(), (*one).clone()))
                        .is_some()
                    {
                        c.err(
                            "E0204",
                            h.name.span.clone(),
                            &h.path,
                            format!("relation `{hsnake}` is declared twice"),
                            "rename one of them",
                        );
                    }
                }
                [] => {
                    let span = h
                        .via
                        .as_ref()
                        .map_or(h.name.span.clone(), |v| v.span.clone());
                    c.err(
                        "E0215",
                        span,
                        &h.path,
                        format!(
                            "`{child_snake}` has no `belongs_to` relation to `{}`{}",
                            info.snake,
                            via.map(|v| format!(" named `{v}`")).unwrap_or_default()
                        ),
                        format!(
                            "declare `belongs_to.{} = {{}}` on `{child_snake}` first",
                            info.snake
                        ),
                    );
                }
                _ => c.err(
                    "E0215",
                    h.name.span.clone(),
                    &h.path,
                    format!(
                        "`{child_snake}` belongs to `{}` through several relations",
                        info.snake
                    ),
                    "say which with `via = \"relation\"`",
                ),
            }
        }
    }
    for (child, rels) in &belongs {
        for (rel, parent) in rels {
            let declared = has_many
                .get(parent)
                .is_some_and(|hm| hm.values().any(|(ch, via)| ch == child && via == rel));
            if declared {
                continue;
            }
            let name = pluralize(child);
            let hm = has_many.entry(parent.clone()).or_default();
            if let Some((other_child, other_rel)) = hm.get(&name) {
                let span = infos
                    .iter()
                    .find(|i| &i.snake == child)
                    .and_then(|i| {
                        i.spec
                            .belongs_to
                            .iter()
                            .find(|b| names(&b.name.value).snake == *rel)
                    })
                    .map_or(0..0, |b| b.name.span.clone());
                c.err(
                    "E0226",
                    span,
                    format!("resources.{child}.belongs_to.{rel}"),
                    format!("`{parent}` would get two `{name}` relations (via `{other_child}.{other_rel}` and `{child}.{rel}`)"),
                    format!("name them: `[resources.{parent}.has_many.<name>]` with `resource = \"{child}\"` and `via = \"{rel}\"`"),
                );
                continue;
            }
            hm.insert(name, (child.clone(), rel.clone()));
        }
    }
    for info in &infos {
        let empty = BTreeMap::new();
        let rels = belongs.get(&info.snake).unwrap_or(&empty);
        let hm = has_many.get(&info.snake).cloned().unwrap_or_default();
        for name in hm.keys() {
            if info.fields.contains(name) || rels.contains_key(name) {
                let span = info.spec.name.span.clone();
                c.err(
                    "E0205",
                    span,
                    &info.spec.path,
                    format!("`{}` has a field or relation named `{name}`, which its has_many relation also uses", info.snake),
                    format!("rename the field, or name the has_many side with `[resources.{}.has_many.<name>]`", info.snake),
                );
            }
        }
        check_json(c, info, rels, &hm);
        check_routes(c, info);
        check_list(c, info, rels);
    }
}

fn exposure(c: &mut Checker, v: &Option<Sp<String>>, path: &str) {
    if let Some(v) = v
        && !EXPOSURES.contains(&v.value.as_str())
    {
        let hint = match did_you_mean(&v.value, EXPOSURES.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "use `public` (through API Gateway, API key required), `internal` (in-cluster only) or `off`".to_string(),
        };
        c.err(
            "E0216",
            v.span.clone(),
            path,
            format!("unknown exposure `{}`", v.value),
            hint,
        );
    }
}

fn check_routes(c: &mut Checker, info: &ResInfo) {
    let r = &info.spec.routes;
    for (v, key) in [
        (&r.list, "list"),
        (&r.get, "get"),
        (&r.create, "create"),
        (&r.update, "update"),
        (&r.replace, "replace"),
        (&r.delete, "delete"),
    ] {
        exposure(c, v, &format!("{}.routes.{key}", info.spec.path));
    }
}

fn check_list(c: &mut Checker, info: &ResInfo, rels: &BTreeMap<String, String>) {
    let l = &info.spec.list;
    let path = format!("{}.list", info.spec.path);
    range(
        c,
        &l.default_limit,
        &format!("{path}.default_limit"),
        1,
        10_000,
    );
    range(c, &l.max_limit, &format!("{path}.max_limit"), 1, 10_000);
    if let (Some(d), Some(m)) = (&l.default_limit, &l.max_limit)
        && d.value > m.value
    {
        c.err(
            "E0209",
            d.span.clone(),
            format!("{path}.default_limit"),
            format!(
                "default_limit ({}) is greater than max_limit ({})",
                d.value, m.value
            ),
            "make `default_limit` at most `max_limit`",
        );
    }
    let fks: Vec<String> = rels.keys().map(|r| format!("{r}_id")).collect();
    let mut known: Vec<&str> = info.fields.iter().map(String::as_str).collect();
    known.push("id");
    known.extend(fks.iter().map(String::as_str));
    for (list, key) in [(&l.filter, "filter"), (&l.sort, "sort")] {
        let Some(list) = list else { continue };
        for item in &list.value {
            let snake = names(&item.value).snake;
            if !known.contains(&snake.as_str()) {
                let hint = match did_you_mean(&snake, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of: {}", known.join(", ")),
                };
                c.err(
                    "E0215",
                    item.span.clone(),
                    format!("{path}.{key}"),
                    format!("`{}` is not a field of `{}`", item.value, info.snake),
                    hint,
                );
            }
        }
    }
}

fn check_json(
    c: &mut Checker,
    info: &ResInfo,
    rels: &BTreeMap<String, String>,
    hm: &BTreeMap<String, (String, String)>,
) {
    let Some(json) = &info.spec.json else { return };
    let path = format!("{}.json", info.spec.path);
    let mut seen = BTreeSet::new();
    let fks: Vec<String> = rels.keys().map(|r| format!("{r}_id")).collect();
    for item in &json.value {
        let snake = names(&item.value).snake;
        if !seen.insert(snake.clone()) {
            c.err(
                "E0225",
                item.span.clone(),
                &path,
                format!("`{}` is listed twice", item.value),
                "list each member once",
            );
            continue;
        }
        let ok = snake == "id"
            || info.fields.contains(&snake)
            || fks.contains(&snake)
            || hm.contains_key(&snake);
        if ok {
            continue;
        }
        if rels.contains_key(&snake) {
            c.err(
                "E0225",
                item.span.clone(),
                &path,
                format!("`{snake}` is a belongs_to relation; embedding a parent is not supported"),
                format!("list its foreign key `{snake}_id` instead"),
            );
            continue;
        }
        let mut known: Vec<&str> = vec!["id"];
        known.extend(info.fields.iter().map(String::as_str));
        known.extend(fks.iter().map(String::as_str));
        known.extend(hm.keys().map(String::as_str));
        let hint = match did_you_mean(&snake, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "members are `id`, fields, foreign keys and has_many relations: {}",
                known.join(", ")
            ),
        };
        c.err(
            "E0215",
            item.span.clone(),
            &path,
            format!(
                "`{}` is not a field or relation of `{}`",
                item.value, info.snake
            ),
            hint,
        );
    }
}

/// Checks every field of a resource; returns the usable field names (snake).
fn check_fields(c: &mut Checker, r: &ResourceSpec) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    if r.fields.is_empty() {
        c.err(
            "E0201",
            r.name.span.clone(),
            &r.path,
            format!("resource `{}` has no fields", r.name.value),
            "add at least one field: `fields.title = { type = \"string\", max_length = 120 }`",
        );
    }
    for f in &r.fields {
        let Some(snake) = ident(c, &f.name, &f.path, "field") else {
            continue;
        };
        if idents::GENERATED_FIELD_NAMES.contains(&snake.as_str()) {
            c.err(
                "E0205",
                f.name.span.clone(),
                &f.path,
                format!("`{snake}` is generated by shopgen for every resource"),
                "remove the field: every resource has an `id` primary key",
            );
            continue;
        }
        if let Some(first) = seen.get(&snake) {
            c.err(
                "E0204",
                f.name.span.clone(),
                &f.path,
                format!(
                    "field `{}` collides with `{}`: both are `{snake}`",
                    f.name.value, first.value
                ),
                "names are compared after conversion to snake_case; rename one of them",
            );
            continue;
        }
        seen.insert(snake.clone(), &f.name);
        check_field(c, f);
    }
    seen.into_keys().collect()
}

fn check_field(c: &mut Checker, f: &FieldSpec) {
    let Some(ty) = &f.ty else { return };
    if !keys::FIELD_TYPES.contains(&ty.value.as_str()) {
        let hint = match did_you_mean(&ty.value, keys::FIELD_TYPES.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of: {}", keys::FIELD_TYPES.join(", ")),
        };
        c.err(
            "E0206",
            ty.span.clone(),
            &f.path,
            format!("unknown field type `{}`", ty.value),
            hint,
        );
        return;
    }
    let t = ty.value.as_str();
    // Keys that make sense only for some types.
    let applies: &[(&str, bool, &[&str])] = &[
        ("max_length", f.max_length.is_some(), &["string", "text"]),
        ("min_length", f.min_length.is_some(), &["string", "text"]),
        ("pattern", f.pattern.is_some(), &["string"]),
        (
            "min",
            f.min.is_some(),
            &["integer", "bigint", "decimal", "float"],
        ),
        (
            "max",
            f.max.is_some(),
            &["integer", "bigint", "decimal", "float"],
        ),
        ("precision", f.precision.is_some(), &["decimal"]),
        ("scale", f.scale.is_some(), &["decimal"]),
        ("values", f.values.is_some(), &["enum"]),
    ];
    let mut inapplicable = false;
    for (key, present, types) in applies {
        if *present && !types.contains(&t) {
            inapplicable = true;
            let span = match *key {
                "max_length" => f.max_length.as_ref().map(|v| v.span.clone()),
                "min_length" => f.min_length.as_ref().map(|v| v.span.clone()),
                "pattern" => f.pattern.as_ref().map(|v| v.span.clone()),
                "min" => f.min.as_ref().map(|v| v.span.clone()),
                "max" => f.max.as_ref().map(|v| v.span.clone()),
                "precision" => f.precision.as_ref().map(|v| v.span.clone()),
                "scale" => f.scale.as_ref().map(|v| v.span.clone()),
                _ => f.values.as_ref().map(|v| v.span.clone()),
            }
            .unwrap_or(ty.span.clone());
            c.err(
                "E0207",
                span,
                format!("{}.{key}", f.path),
                format!("`{key}` does not apply to a `{t}` field"),
                format!("`{key}` applies to: {}", types.join(", ")),
            );
        }
    }
    if inapplicable {
        return;
    }
    let len = |c: &mut Checker, v: &Option<Sp<i64>>, key: &str| {
        if let Some(v) = v
            && !(0..=1_000_000).contains(&v.value)
        {
            c.err(
                "E0223",
                v.span.clone(),
                format!("{}.{key}", f.path),
                format!("{key} {} is out of range", v.value),
                "use a length from 0 to 1000000",
            );
        }
    };
    len(c, &f.max_length, "max_length");
    len(c, &f.min_length, "min_length");
    if let (Some(lo), Some(hi)) = (&f.min_length, &f.max_length)
        && lo.value > hi.value
    {
        c.err(
            "E0209",
            lo.span.clone(),
            format!("{}.min_length", f.path),
            format!(
                "min_length ({}) is greater than max_length ({})",
                lo.value, hi.value
            ),
            "make `min_length` at most `max_length`",
        );
    }
    if t == "string" {
        match &f.max_length {
            None => c.err(
                "E0208",
                ty.span.clone(),
                &f.path,
                "a `string` field needs `max_length`",
                "add `max_length = 255`, or use `type = \"text\"` for unbounded text",
            ),
            Some(m) if m.value < 1 || m.value > 10_485_760 => c.err(
                "E0223",
                m.span.clone(),
                format!("{}.max_length", f.path),
                format!("max_length {} is out of range", m.value),
                "use 1 to 10485760 (PostgreSQL's VARCHAR limit), or `type = \"text\"`",
            ),
            _ => {}
        }
    }
    if let Some(p) = &f.pattern
        && let Err(e) = regex::Regex::new(&p.value)
    {
        let first = e
            .to_string()
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .to_string();
        c.err(
            "E0213",
            p.span.clone(),
            format!("{}.pattern", f.path),
            format!("`pattern` is not a valid regular expression: {first}"),
            "patterns use Rust `regex` syntax (no look-around or back-references)",
        );
    }
    let bound = |c: &mut Checker, v: &Option<Sp<Scalar>>, key: &str| -> Option<Num> {
        let v = v.as_ref()?;
        let n = num_for(t, &v.value);
        if n.is_none() {
            let hint = match t {
                "decimal" => format!("write decimal bounds as strings: `{key} = \"0.00\"`"),
                "float" => format!("write `{key}` as a number"),
                _ => format!("write `{key}` as an integer"),
            };
            c.err(
                "E0229",
                v.span.clone(),
                format!("{}.{key}", f.path),
                format!("`{key}` must be a {t} value"),
                hint,
            );
        }
        n
    };
    let lo = bound(c, &f.min, "min");
    let hi = bound(c, &f.max, "max");
    if let (Some(lo_v), Some(hi_v), Some(lo_sp)) = (&lo, &hi, &f.min)
        && lo_v > hi_v
    {
        c.err(
            "E0209",
            lo_sp.span.clone(),
            format!("{}.min", f.path),
            format!("min ({}) is greater than max ({})", lo_v, hi_v),
            "make `min` at most `max`",
        );
    }
    if t == "integer" {
        for (n, sp) in [(&lo, &f.min), (&hi, &f.max)] {
            if let (Some(Num::Int(v)), Some(sp)) = (n, sp)
                && i32::try_from(*v).is_err()
            {
                c.err(
                    "E0223",
                    sp.span.clone(),
                    &f.path,
                    format!("{v} does not fit an `integer` (32-bit)"),
                    "use `type = \"bigint\"` for 64-bit values",
                );
            }
        }
    }
    if t == "decimal" {
        match (&f.precision, &f.scale) {
            (Some(p), Some(s)) => {
                if !(1..=28).contains(&p.value) {
                    c.err(
                        "E0210",
                        p.span.clone(),
                        format!("{}.precision", f.path),
                        format!("precision {} is out of range", p.value),
                        "use a precision from 1 to 28: the backend keeps decimals exact up to 28 significant digits",
                    );
                } else if s.value < 0 || s.value > p.value {
                    c.err(
                        "E0210",
                        s.span.clone(),
                        format!("{}.scale", f.path),
                        format!("scale ({}) is greater than precision ({})", s.value, p.value),
                        "the scale counts digits after the point and must be from 0 to the precision",
                    );
                } else {
                    for (n, sp) in [(&lo, &f.min), (&hi, &f.max)] {
                        if let (Some(Num::Dec(d)), Some(sp)) = (n, sp)
                            && !fits_decimal(*d, p.value as u32, s.value as u32)
                        {
                            c.err(
                                "E0210",
                                sp.span.clone(),
                                &f.path,
                                format!("{d} does not fit decimal({}, {})", p.value, s.value),
                                "bounds must be representable in the column",
                            );
                        }
                    }
                }
            }
            _ => c.err(
                "E0208",
                ty.span.clone(),
                &f.path,
                "a `decimal` field needs `precision` and `scale`",
                "add `precision = 10, scale = 2` (10 digits, 2 after the point)",
            ),
        }
    }
    if t == "enum" {
        match &f.values {
            None => c.err(
                "E0212",
                ty.span.clone(),
                &f.path,
                "an `enum` field needs `values`",
                "add `values = [\"draft\", \"published\"]`",
            ),
            Some(v) if v.value.is_empty() => c.err(
                "E0212",
                v.span.clone(),
                format!("{}.values", f.path),
                "`values` is empty",
                "list at least one value",
            ),
            Some(v) => {
                let mut seen = BTreeSet::new();
                for item in &v.value {
                    let ok = !item.value.is_empty()
                        && item.value.len() <= 63
                        && item.value.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
                        });
                    if !ok {
                        c.err(
                            "E0212",
                            item.span.clone(),
                            format!("{}.values", f.path),
                            format!("enum value `{}` is not usable", item.value),
                            "use 1–63 ASCII letters, digits, `_`, `-` or `.`",
                        );
                    } else if !seen.insert(item.value.clone()) {
                        c.err(
                            "E0212",
                            item.span.clone(),
                            format!("{}.values", f.path),
                            format!("enum value `{}` is listed twice", item.value),
                            "list each value once",
                        );
                    }
                }
            }
        }
    }
    if let Some(d) = &f.default {
        if let Some(problem) = default_problem(f, t, &d.value, lo.as_ref(), hi.as_ref()) {
            c.err(
                "E0211",
                d.span.clone(),
                format!("{}.default", f.path),
                problem.0,
                problem.1,
            );
        }
        if f.unique.as_ref().is_some_and(|u| u.value) {
            c.err(
                "E0211",
                d.span.clone(),
                format!("{}.default", f.path),
                "a `unique` field cannot have a `default`",
                "the second record using the default would violate uniqueness; remove one of them",
            );
        }
    }
    if f.read_only.as_ref().is_some_and(|r| r.value)
        && f.default.is_none()
        && f.required.as_ref().is_none_or(|r| r.value)
    {
        let sp = f
            .read_only
            .as_ref()
            .map_or(f.name.span.clone(), |r| r.span.clone());
        c.err(
            "E0211",
            sp,
            format!("{}.read_only", f.path),
            "a required `read_only` field needs a `default`",
            "clients cannot set it, so nothing would: add a `default` or `required = false`",
        );
    }
}

/// A comparable bound.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Num {
    Int(i64),
    Float(f64),
    Dec(Decimal),
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
            Num::Dec(d) => write!(f, "{d}"),
        }
    }
}

fn num_for(t: &str, s: &Scalar) -> Option<Num> {
    match (t, s) {
        ("integer" | "bigint", Scalar::Int(i)) => Some(Num::Int(*i)),
        ("float", Scalar::Int(i)) => Some(Num::Float(*i as f64)),
        ("float", Scalar::Float(x)) => Some(Num::Float(*x)),
        ("decimal", Scalar::Str(s)) => parse_decimal(s).map(Num::Dec),
        ("decimal", Scalar::Int(i)) => Some(Num::Dec(Decimal::from(*i))),
        _ => None,
    }
}

/// An exact decimal literal: optional `-`, digits, optional `.digits`.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    if !matches(r"^-?[0-9]+(\.[0-9]+)?$", s) {
        return None;
    }
    Decimal::from_str(s).ok()
}

/// Whether `d` fits `decimal(precision, scale)`.
pub fn fits_decimal(d: Decimal, precision: u32, scale: u32) -> bool {
    if d.scale() > scale {
        return false;
    }
    let int_digits = d.trunc().abs().to_string().trim_start_matches('0').len() as u32;
    int_digits <= precision - scale
}

fn default_problem(
    f: &FieldSpec,
    t: &str,
    d: &Scalar,
    lo: Option<&Num>,
    hi: Option<&Num>,
) -> Option<(String, String)> {
    let wrong = |want: &str| {
        Some((
            format!("the default is not a {t} value"),
            format!("write the default as {want}"),
        ))
    };
    let out_of_bounds = |n: Num| -> Option<(String, String)> {
        if lo.is_some_and(|lo| n < *lo) || hi.is_some_and(|hi| n > *hi) {
            let lo = lo.map_or("-∞".into(), |v| v.to_string());
            let hi = hi.map_or("∞".into(), |v| v.to_string());
            return Some((
                format!("the default {n} is outside its own bounds {lo}..={hi}"),
                "change the default or the bounds".to_string(),
            ));
        }
        None
    };
    match t {
        "string" | "text" => {
            let Scalar::Str(s) = d else {
                return wrong("a string");
            };
            let n = s.chars().count() as i64;
            if f.max_length.as_ref().is_some_and(|m| n > m.value)
                || f.min_length.as_ref().is_some_and(|m| n < m.value)
            {
                return Some((
                    format!("the default is {n} characters long, outside its own length limits"),
                    "change the default or `min_length`/`max_length`".into(),
                ));
            }
            if let Some(p) = &f.pattern
                && let Ok(re) = regex::Regex::new(&p.value)
                && !re.is_match(s)
            {
                return Some((
                    "the default does not match the field's `pattern`".into(),
                    "change the default or the pattern".into(),
                ));
            }
            None
        }
        "integer" | "bigint" | "float" | "decimal" => match num_for(t, d) {
            None => wrong(if t == "decimal" {
                "a string like \"0.00\""
            } else {
                "a number"
            }),
            Some(n) => {
                if let (Num::Dec(v), Some(p), Some(s)) = (n, &f.precision, &f.scale)
                    && p.value > 0
                    && s.value >= 0
                    && s.value <= p.value
                    && !fits_decimal(v, p.value as u32, s.value as u32)
                {
                    return Some((
                        format!(
                            "the default {v} does not fit decimal({}, {})",
                            p.value, s.value
                        ),
                        "change the default".into(),
                    ));
                }
                if let Num::Int(v) = n
                    && t == "integer"
                    && i32::try_from(v).is_err()
                {
                    return Some((
                        format!("the default {v} does not fit an `integer` (32-bit)"),
                        "use `bigint`".into(),
                    ));
                }
                out_of_bounds(n)
            }
        },
        "boolean" => match d {
            Scalar::Bool(_) => None,
            _ => wrong("`true` or `false`"),
        },
        "enum" => {
            let Scalar::Str(s) = d else {
                return wrong("one of the enum's values");
            };
            let values = f
                .values
                .as_ref()
                .map(|v| v.value.iter().map(|x| x.value.as_str()).collect::<Vec<_>>())
                .unwrap_or_default();
            if values.contains(&s.as_str()) {
                None
            } else {
                Some((
                    format!("the default `{s}` is not one of the enum's values"),
                    format!("use one of: {}", values.join(", ")),
                ))
            }
        }
        "timestamp" => match d {
            Scalar::Str(s) if s == "now" => None,
            _ => wrong("`\"now\"`"),
        },
        "date" => match d {
            Scalar::Str(s) if s == "today" => None,
            Scalar::Str(s) if matches(r"^\d{4}-\d{2}-\d{2}$", s) => None,
            _ => wrong("`\"today\"` or a date like \"2024-01-31\""),
        },
        "uuid" => match d {
            Scalar::Str(s)
                if regex::Regex::new(
                    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                )
                .is_ok_and(|re| re.is_match(s)) =>
            {
                None
            }
            _ => wrong("a lower-case UUID string"),
        },
        _ => None,
    }
}

/// Checks that need the lowered model: every route's method and path, and every
/// operation id, must be unique across the API.
pub fn check_model(spec: &Spec, model: &crate::model::Model) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut paths: BTreeMap<(String, &'static str), String> = BTreeMap::new();
    let mut ops: BTreeMap<String, String> = BTreeMap::new();
    for (res, route) in model.routes() {
        let span = spec
            .resources
            .iter()
            .find(|r| names(&r.name.value).snake == res.names.snake)
            .map_or(0..0, |r| r.name.span.clone());
        let path = format!("resources.{}", res.names.snake);
        let key = (route.path.clone(), route.method.as_str());
        if let Some(other) = paths.insert(key, res.names.snake.clone()) {
            diags.push(
                Diagnostic::new(
                    "E0228",
                    span.clone(),
                    path.clone(),
                    format!(
                        "`{} {}` is generated twice (by `{other}` and `{}`)",
                        route.method.as_str(),
                        route.path,
                        res.names.snake
                    ),
                )
                .hint("set `plural` on one resource, or turn one of the routes `off`"),
            );
        }
        if let Some(other) = ops.insert(route.operation_id.clone(), res.names.snake.clone()) {
            diags.push(
                Diagnostic::new(
                    "E0228",
                    span,
                    path,
                    format!(
                        "operation id `{}` is generated twice (by `{other}` and `{}`)",
                        route.operation_id, res.names.snake
                    ),
                )
                .hint("rename one resource or relation, or turn one of the routes `off`"),
            );
        }
    }
    diags
}
