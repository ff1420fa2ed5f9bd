//! Check: deployment settings — `[gcp]`, `[gateway]`, `[relay]`, `[database]`.

use super::*;
use crate::model::budget;
use shopgen_facts::gcp::{
    API_GATEWAY_REGIONS, DEFAULT_SQL_RANGE, DEFAULT_SQL_TIER, SqlEdition,
    nearest_api_gateway_region, sql_edition_of_tier,
};

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
            Code::E0220,
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
                    Code::E0220,
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
                    Code::E0220,
                    v.span.clone(),
                    path,
                    format!("`{}` has host bits set", v.value),
                    format!("did you mean `{net}/{len}`?"),
                );
            } else if !is_private(ip) {
                c.err(
                    Code::E0220,
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
            Code::E0224,
            v.span.clone(),
            path,
            format!("`{}` is not a valid Google Cloud resource name", v.value),
            "use lower-case letters, digits and `-` (at most 63), starting with a letter",
        );
    }
}

pub(super) fn check_gcp(c: &mut Checker) {
    let g = &c.spec.gcp;
    let doc = c.spec.span.start..c.spec.span.start;
    if !g.present {
        c.err(
            Code::E0201,
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
                    Code::E0224,
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
                    Code::E0224,
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
    if let Some(ranges) = &g.ilb_source_ranges {
        for r in &ranges.value {
            cidr(c, r, "gcp.ilb_source_ranges", None);
        }
    }
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
                Code::E0209,
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
                Code::E0224,
                m.span.clone(),
                "gcp.egress.machine_type",
                format!("`{}` is not a connector machine type", m.value),
                "use `f1-micro`, `e2-micro` or `e2-standard-4`",
            );
        }
    }
    check_gateway_region(c);
    check_state(c);
    // A created cluster's subnetwork is created: `default` already exists in every
    // region of a project with the default network (subnetwork names are unique per
    // project and region, whatever the network), so creating it fails with 409.
    if let (Some(sub), Some(cl)) = (&g.subnetwork, &g.cluster)
        && cl.create.as_ref().is_some_and(|c| c.value)
        && sub.value == "default"
        && g.network.as_ref().is_none_or(|n| n.value == "default")
    {
        c.err(
            Code::E0239,
            sub.span.clone(),
            "gcp.subnetwork",
            "a cluster shopgen creates gets a new subnetwork, and the `default` network has a subnetwork `default` in every region already",
            "remove `subnetwork` (the created one is named `<service>-gke`), or name one that does not exist yet",
        );
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
                Code::E0231,
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

/// API Gateway runs in a few regions only: the gateway's region is the spec's
/// `gateway_region`, else its `region`, and must be one of them.
fn check_gateway_region(c: &mut Checker) {
    let g = &c.spec.gcp;
    let list = API_GATEWAY_REGIONS.join(", ");
    match (&g.gateway_region, &g.region) {
        (Some(gr), _) if !API_GATEWAY_REGIONS.contains(&gr.value.as_str()) => c.err(
            Code::E0235,
            gr.span.clone(),
            "gcp.gateway_region",
            format!("API Gateway does not run in `{}`", gr.value),
            format!("use one of the regions API Gateway is offered in: {list}"),
        ),
        (None, Some(r))
            if matches(r"^[a-z]+-[a-z]+[0-9]+$", &r.value)
                && !API_GATEWAY_REGIONS.contains(&r.value.as_str()) =>
        {
            c.err(
                Code::E0235,
                r.span.clone(),
                "gcp.region",
                format!(
                    "API Gateway does not run in `{}`, so the gateway needs a region of its own",
                    r.value
                ),
                format!(
                    "add `gateway_region = \"{}\"` to `[gcp]` (API Gateway's regions: {list}); the relay stays in `{}`",
                    nearest_api_gateway_region(&r.value),
                    r.value
                ),
            )
        }
        _ => {}
    }
}

/// `gcp.state = { bucket, prefix }`: a bucket name Cloud Storage accepts, a prefix
/// that is a path.
fn check_state(c: &mut Checker) {
    let Some(state) = &c.spec.gcp.state else {
        return;
    };
    let StateSpec::Gcs { bucket, prefix } = &state.value else {
        return;
    };
    if let Some(b) = bucket {
        // Cloud Storage bucket names: 3–63 characters of lower-case letters, digits,
        // `-`, `_` and `.`, starting and ending with a letter or digit, no "goog".
        let ok = matches(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", &b.value)
            && !b.value.starts_with("goog")
            && !b.value.contains("google");
        if !ok {
            c.err(
                Code::E0238,
                b.span.clone(),
                "gcp.state.bucket",
                format!("`{}` is not a Cloud Storage bucket name", b.value),
                "use 3–63 lower-case letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit, without `goog`",
            );
        }
    }
    if let Some(p) = prefix
        && (p.value.is_empty()
            || p.value.starts_with('/')
            || p.value.ends_with('/')
            || p.value
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == ".."))
    {
        c.err(
            Code::E0238,
            p.span.clone(),
            "gcp.state.prefix",
            format!("`{}` is not a usable state prefix", p.value),
            "write a relative path such as `shop` or `prod/shop`",
        );
    }
}

/// The address ranges a spec puts into its network (the connector, a created
/// cluster's, Cloud SQL's) must not overlap one another.
pub(super) fn check_range_overlaps(c: &mut Checker) {
    let g = &c.spec.gcp;
    let mut ranges: Vec<(&Sp<String>, &'static str)> = Vec::new();
    if let Some(e) = &g.egress
        && let EgressSpec::Connector { cidr, .. } = &e.value
    {
        ranges.push((cidr, "gcp.egress.connector"));
    }
    if let Some(cl) = &g.cluster
        && cl.create.as_ref().is_some_and(|c| c.value)
    {
        for (v, path) in [
            (&cl.nodes_cidr, "gcp.cluster.nodes_cidr"),
            (&cl.pods_cidr, "gcp.cluster.pods_cidr"),
            (&cl.services_cidr, "gcp.cluster.services_cidr"),
            (&cl.master_cidr, "gcp.cluster.master_cidr"),
        ] {
            if let Some(v) = v {
                ranges.push((v, path));
            }
        }
    }
    if let DatabaseSpec::CloudSql {
        allocated_range: Some(r),
        ..
    } = &c.spec.database
    {
        ranges.push((r, "database.cloud_sql.allocated_range"));
    }
    // The defaults of the keys not written take part too (their spans are the spec's
    // own keys only, so a clash is reported at the key that was written).
    let defaults = default_ranges(c.spec);
    let mut found = Vec::new();
    for (i, (a, path_a)) in ranges.iter().enumerate() {
        let Some(ra) = parse_cidr(&a.value) else {
            continue;
        };
        for (b, path_b) in &ranges[i + 1..] {
            if let Some(rb) = parse_cidr(&b.value)
                && overlaps(ra, rb)
            {
                found.push((
                    b.span.clone(),
                    *path_b,
                    b.value.clone(),
                    *path_a,
                    a.value.clone(),
                    "",
                ));
            }
        }
        for (path_d, d) in &defaults {
            if ranges.iter().any(|(_, p)| p == path_d) {
                continue;
            }
            if let Some(rd) = parse_cidr(d)
                && overlaps(ra, rd)
            {
                found.push((
                    a.span.clone(),
                    *path_a,
                    a.value.clone(),
                    *path_d,
                    d.clone(),
                    " (its default)",
                ));
            }
        }
    }
    for (span, path, value, other_path, other, note) in found {
        c.err(
            Code::E0237,
            span,
            path,
            format!("`{value}` overlaps `{other_path}` = `{other}`{note}"),
            "give each range its own addresses: Google Cloud refuses overlapping ranges in one network",
        );
    }
}

/// The ranges a spec gets without writing them: a created cluster's and Cloud SQL's.
fn default_ranges(spec: &Spec) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(cl) = &spec.gcp.cluster
        && cl.create.as_ref().is_some_and(|c| c.value)
    {
        out.push(("gcp.cluster.nodes_cidr", "10.10.0.0/20".to_string()));
        out.push(("gcp.cluster.pods_cidr", "10.64.0.0/14".to_string()));
        out.push(("gcp.cluster.services_cidr", "10.68.0.0/20".to_string()));
        out.push(("gcp.cluster.master_cidr", "172.16.0.0/28".to_string()));
    }
    if let DatabaseSpec::CloudSql { .. } = &spec.database {
        out.push((
            "database.cloud_sql.allocated_range",
            DEFAULT_SQL_RANGE.to_string(),
        ));
    }
    out
}

/// Whether two `(address, prefix)` ranges share an address.
fn overlaps((a, la): (u32, u8), (b, lb): (u32, u8)) -> bool {
    let len = la.min(lb);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == b & mask
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
                Code::E0224,
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
                    Code::E0207,
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
    if let Some(nets) = &cl.authorized_networks {
        if !create {
            c.err(
                Code::E0207,
                nets.span.clone(),
                "gcp.cluster.authorized_networks",
                "`authorized_networks` only applies to a cluster shopgen creates",
                "set `create = true`, or remove the key for an existing cluster",
            );
        } else {
            for n in &nets.value {
                match parse_cidr(&n.value) {
                    None => c.err(
                        Code::E0220,
                        n.span.clone(),
                        "gcp.cluster.authorized_networks",
                        format!("`{}` is not an IPv4 CIDR range", n.value),
                        "write it as `203.0.113.0/24` (the addresses kubectl connects from)",
                    ),
                    Some((ip, len)) => {
                        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                        if ip & !mask != 0 {
                            let net = std::net::Ipv4Addr::from(ip & mask);
                            c.err(
                                Code::E0220,
                                n.span.clone(),
                                "gcp.cluster.authorized_networks",
                                format!("`{}` has host bits set", n.value),
                                format!("did you mean `{net}/{len}`?"),
                            );
                        } else if len == 0 {
                            c.err(
                                Code::E0220,
                                n.span.clone(),
                                "gcp.cluster.authorized_networks",
                                "`0.0.0.0/0` opens the control plane to the whole internet",
                                "list the ranges kubectl connects from, or none (the DNS endpoint checks IAM)",
                            );
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn check_gateway(c: &mut Checker) {
    let g = &c.spec.gateway;
    if let Some(h) = &g.api_key_header {
        let ok = !h.value.is_empty()
            && h.value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            c.err(
                Code::E0222,
                h.span.clone(),
                "gateway.api_key_header",
                format!("`{}` is not a valid HTTP header name", h.value),
                "use letters, digits and `-`, e.g. `x-api-key`",
            );
        } else if ["authorization", "host", "content-type", "content-length"]
            .contains(&h.value.to_ascii_lowercase().as_str())
        {
            c.err(
                Code::E0222,
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
            Code::E0221,
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
            Code::E0223,
            d.span.clone(),
            "gateway.deadline",
            format!("deadline {} is out of range", d.value),
            "use a number of seconds above 0 and at most 3600 (API Gateway's default is 15)",
        );
    }
}

/// Whether `s` is a header name a browser may send (an RFC 9110 token).
fn is_header_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why `origin` is not a serialised web origin (`scheme://host[:port]`), if it is not.
fn origin_problem(origin: &str) -> Option<&'static str> {
    let rest = match origin.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        Some(_) => return Some("the scheme must be `http` or `https`"),
        None => return Some("an origin is `scheme://host[:port]`"),
    };
    if rest.is_empty() {
        return Some("the origin has no host");
    }
    if rest.contains('/') {
        return Some("an origin has no path, not even a trailing `/`");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Some("the port must be a number from 1 to 65535");
    }
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.[]:".contains(&b));
    if !ok {
        return Some(
            "the host must be lower-case letters, digits, `-` and `.` (as browsers send it)",
        );
    }
    None
}

pub(super) fn check_cors(c: &mut Checker) {
    let Some(cors) = c.spec.gateway.cors.clone() else {
        return;
    };
    let origins = match &cors.allowed_origins {
        None => {
            super::missing(
                c,
                cors.span.clone(),
                "gateway.cors",
                "allowed_origins",
                "list the web origins that may call the API, e.g. `allowed_origins = [\"https://shop.example.com\"]`",
            );
            Vec::new()
        }
        Some(list) if list.value.is_empty() => {
            c.err(
                Code::E0232,
                list.span.clone(),
                "gateway.cors.allowed_origins",
                "no origin is allowed",
                "list at least one origin, or remove `cors`",
            );
            Vec::new()
        }
        Some(list) => list.value.clone(),
    };
    let wildcard = origins.iter().find(|o| o.value == "*");
    if let Some(w) = wildcard
        && origins.len() > 1
    {
        c.err(
            Code::E0232,
            w.span.clone(),
            "gateway.cors.allowed_origins",
            "`*` allows every origin; it cannot be combined with others",
            "keep `*` alone, or list exact origins only",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for o in origins.iter().filter(|o| o.value != "*") {
        if let Some(problem) = origin_problem(&o.value) {
            c.err(
                Code::E0232,
                o.span.clone(),
                "gateway.cors.allowed_origins",
                format!("`{}` is not an origin: {problem}", o.value),
                "write origins the way browsers send them, e.g. `https://shop.example.com` or `http://localhost:5173`",
            );
        } else if !seen.insert(o.value.clone()) {
            c.err(
                Code::E0232,
                o.span.clone(),
                "gateway.cors.allowed_origins",
                format!("`{}` is listed twice", o.value),
                "remove the duplicate",
            );
        }
    }
    if let (Some(w), Some(cred)) = (wildcard, &cors.allow_credentials)
        && cred.value
    {
        let _ = w;
        c.err(
            Code::E0232,
            cred.span.clone(),
            "gateway.cors.allow_credentials",
            "credentials cannot be allowed for every origin (`*`)",
            "browsers refuse `Access-Control-Allow-Origin: *` with credentials: list exact origins, or set `allow_credentials = false`",
        );
    }
    for (list, key) in [
        (&cors.allowed_headers, "allowed_headers"),
        (&cors.expose_headers, "expose_headers"),
    ] {
        for h in list.iter().flat_map(|l| l.value.iter()) {
            if !is_header_token(&h.value) {
                c.err(
                    Code::E0232,
                    h.span.clone(),
                    format!("gateway.cors.{key}"),
                    format!("`{}` is not a header name", h.value),
                    "use letters, digits and `-`, e.g. `x-client-version`",
                );
            }
        }
    }
    super::range(c, &cors.max_age, "gateway.cors.max_age", 0, 86_400);
}

/// Longest consumer name: the key's resource name (`<service>-<consumer>` plus the
/// suffix Terraform adds) must stay within the 63 characters Google allows.
pub const MAX_CONSUMER_LEN: usize = 20;

pub(super) fn check_consumers(c: &mut Checker) {
    let Some(list) = c.spec.gateway.consumers.clone() else {
        return;
    };
    if list.value.is_empty() {
        c.err(
            Code::E0233,
            list.span.clone(),
            "gateway.consumers",
            "no consumer is listed",
            "list at least one consumer, e.g. `consumers = [\"web\"]`, or remove the key",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in &list.value {
        let v = &name.value;
        let ok = !v.is_empty()
            && v.len() <= MAX_CONSUMER_LEN
            && v.starts_with(|ch: char| ch.is_ascii_lowercase())
            && !v.ends_with('-')
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            c.err(
                Code::E0233,
                name.span.clone(),
                "gateway.consumers",
                format!("`{v}` is not a valid consumer name"),
                format!(
                    "use 1 to {MAX_CONSUMER_LEN} lower-case letters, digits and `-`, starting with a letter (it names the consumer's API key)"
                ),
            );
        } else if !seen.insert(v.clone()) {
            c.err(
                Code::E0233,
                name.span.clone(),
                "gateway.consumers",
                format!("`{v}` is listed twice"),
                "each consumer gets one key: remove the duplicate",
            );
        }
    }
}

pub(super) fn check_quota(c: &mut Checker) {
    let Some(q) = c.spec.gateway.quota.clone() else {
        return;
    };
    match &q.requests_per_minute {
        None => super::missing(
            c,
            q.span.clone(),
            "gateway.quota",
            "requests_per_minute",
            "write e.g. `quota = { requests_per_minute = 600 }`",
        ),
        Some(_) => super::range(
            c,
            &q.requests_per_minute,
            "gateway.quota.requests_per_minute",
            1,
            1_000_000_000,
        ),
    }
    for (op, cost) in &q.costs {
        super::range(
            c,
            cost,
            &format!("gateway.quota.costs.{}", op.value),
            0,
            1_000_000,
        );
    }
}

pub(super) fn check_relay(c: &mut Checker) {
    let r = &c.spec.relay;
    range(c, &r.min_instances, "relay.min_instances", 0, 1000);
    range(c, &r.max_instances, "relay.max_instances", 1, 1000);
    range(c, &r.concurrency, "relay.concurrency", 1, 1000);
    range(
        c,
        &r.timeout_ms,
        "relay.timeout_ms",
        *budget::SPEC_KEY_MS.start(),
        *budget::SPEC_KEY_MS.end(),
    );
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
            Code::E0209,
            lo.span.clone(),
            "relay.min_instances",
            format!(
                "min_instances ({}) is greater than max_instances ({})",
                lo.value, hi.value
            ),
            "make `min_instances` at most `max_instances`",
        );
    }
    quantity(c, &r.cpu, "relay.cpu", false);
    quantity(c, &r.memory, "relay.memory", true);
}

pub(super) fn check_database(c: &mut Checker) {
    match &c.spec.database {
        DatabaseSpec::Default => {}
        DatabaseSpec::Secret { name, key } => {
            if let Some(n) = name
                && (!is_dns_label(&n.value) || n.value.len() > 63)
            {
                c.err(
                    Code::E0219,
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
                    Code::E0219,
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
            edition,
            allocated_range,
            ..
        } => {
            check_sql_edition(c, tier.as_ref(), edition.as_ref());
            if let Some(r) = allocated_range {
                cidr(c, r, "database.cloud_sql.allocated_range", None);
                if let Some((_, len)) = parse_cidr(&r.value)
                    && !(8..=24).contains(&len)
                {
                    c.err(
                        Code::E0220,
                        r.span.clone(),
                        "database.cloud_sql.allocated_range",
                        format!(
                            "`{}` is a /{len}; private services access needs a /24 or larger",
                            r.value
                        ),
                        "use a /16 (Google's recommendation) to a /24, e.g. `10.96.0.0/16`",
                    );
                }
            }
            if let Some(v) = version
                && !matches(r"^POSTGRES_1[4-8]$", &v.value)
            {
                c.err(
                    Code::E0224,
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
                    Code::E0224,
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
                        Code::E0202,
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

/// `cloud_sql.edition` and `cloud_sql.tier`: only pairs that exist. Enterprise Plus
/// runs the `db-perf-optimized-N-*` tiers only; Enterprise runs shared-core and
/// `db-custom-*` tiers, not the performance-optimized ones.
fn check_sql_edition(c: &mut Checker, tier: Option<&Sp<String>>, edition: Option<&Sp<String>>) {
    let Some(e) = edition else {
        return;
    };
    let wanted = match e.value.as_str() {
        "ENTERPRISE" => SqlEdition::Enterprise,
        "ENTERPRISE_PLUS" => SqlEdition::EnterprisePlus,
        other => {
            c.err(
                Code::E0236,
                e.span.clone(),
                "database.cloud_sql.edition",
                format!("`{other}` is not a Cloud SQL edition"),
                "use `ENTERPRISE` or `ENTERPRISE_PLUS` (the default follows the tier)",
            );
            return;
        }
    };
    let tier_value = tier.map_or(DEFAULT_SQL_TIER, |t| t.value.as_str());
    if !tier_value.starts_with("db-") {
        return;
    }
    let native = sql_edition_of_tier(tier_value);
    if native != wanted {
        let hint = match wanted {
            SqlEdition::EnterprisePlus => {
                "Enterprise Plus runs only `db-perf-optimized-N-*` tiers, e.g. `db-perf-optimized-N-2`; or drop `edition` to use Enterprise".to_string()
            }
            SqlEdition::Enterprise => {
                "Enterprise runs shared-core (`db-f1-micro`, `db-g1-small`) and `db-custom-CPUS-MEMORY` tiers; or drop `edition` (the tier picks Enterprise Plus)".to_string()
            }
        };
        let span = tier.map_or(e.span.clone(), |t| t.span.clone());
        c.err(
            Code::E0236,
            span,
            if tier.is_some() {
                "database.cloud_sql.tier"
            } else {
                "database.cloud_sql.edition"
            },
            format!(
                "tier `{tier_value}` does not exist in the {} edition",
                wanted.as_str()
            ),
            hint,
        );
    }
}

/// The deadline budget (`model::budget`): the gateway deadline leaves room for Cloud
/// Run, the relay, the backend and the database acquire budget, and each timeout the
/// spec sets fits inside the one around it.
pub(super) fn check_budget(c: &mut Checker) {
    let deadline = c.spec.gateway.deadline.clone();
    if deadline
        .as_ref()
        .is_some_and(|d| !(d.value > 0.0 && d.value <= 3600.0))
    {
        return; // reported as out of range already
    }
    let (relay, request, acquire) = (
        &c.spec.relay.timeout_ms,
        &c.spec.service.request_timeout_ms,
        &c.spec.service.database_acquire_timeout_ms,
    );
    let (deadline_ms, explicit) = budget::of_spec(c.spec);
    let Err(errors) = budget::derive(deadline_ms, explicit) else {
        return;
    };
    for error in errors {
        match error {
            budget::BudgetError::DeadlineTooShort { deadline_ms } => {
                let span = deadline
                    .as_ref()
                    .map(|d| d.span.clone())
                    .unwrap_or_default();
                c.err(
                    Code::E0249,
                    span,
                    "gateway.deadline",
                    format!(
                        "a deadline of {} s leaves Cloud Run's request timeout (whole seconds) and the hops inside it no room",
                        f64::from(deadline_ms) / 1000.0
                    ),
                    format!(
                        "use a deadline of at least {} s",
                        f64::from(budget::min_deadline_ms()) / 1000.0
                    ),
                );
            }
            budget::BudgetError::OutOfOrder {
                hop,
                value,
                min,
                max,
            } => {
                let (item, path, around, inside) = match hop {
                    budget::Hop::Relay => (
                        &relay,
                        "relay.timeout_ms",
                        format!(
                            "Cloud Run's request timeout ({} s, the whole seconds under `gateway.deadline`)",
                            budget::cloud_run_timeout_s(deadline_ms)
                        ),
                        "the backend's request timeout",
                    ),
                    budget::Hop::Backend => (
                        &request,
                        "service.request_timeout_ms",
                        "the relay's upstream timeout (`relay.timeout_ms`)".to_string(),
                        "the database acquire budget",
                    ),
                    budget::Hop::Acquire => (
                        &acquire,
                        "service.database_acquire_timeout_ms",
                        "the backend's request timeout (`service.request_timeout_ms`)".to_string(),
                        "a statement",
                    ),
                };
                let span = item.as_ref().map(|v| v.span.clone()).unwrap_or_default();
                let message = if value > max {
                    format!("{value} ms does not fit inside {around}")
                } else {
                    format!("{value} ms leaves {inside} no room")
                };
                c.err(
                    Code::E0249,
                    span,
                    path,
                    message,
                    format!(
                        "use {min}..={max} ms, or leave it out: shopgen derives each timeout from `gateway.deadline`, each inside the one before it (docs/api.md, \"Deadline budget\")"
                    ),
                );
            }
        }
    }
}
