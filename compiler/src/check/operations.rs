//! Check: `[operations.NAME]` (custom routes) and resources' `hooks`.
//!
//! Everything that can be judged from the spec alone is checked here: names, methods,
//! path templates and their declared parameters, field types of parameters and
//! shapes, resources a shape names, hook names. What needs every route of the API
//! (collisions with generated routes and operation ids, parameter names the router
//! cannot tell apart, public operations that would expose internal routes) is
//! [`check_operations_model`]'s, after lowering.

use std::collections::{BTreeMap, BTreeSet};

use super::fields::check_field;
use super::idents::RUST_KEYWORDS;
use super::*;
use crate::model::{Exposure, Model, Shape};
use crate::spec::{OperationSpec, ShapeSpec};

/// An identifier an operation uses for a Rust item and a JSON key; SQL words are fine.
fn op_ident(c: &mut Checker, name: &Sp<String>, path: &str, what: &str) -> Option<String> {
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
    if RUST_KEYWORDS.contains(&snake.as_str()) {
        c.err(
            Code::E0203,
            name.span.clone(),
            path,
            format!("{what} name `{}` is a Rust keyword", name.value),
            format!("choose another name, e.g. `{snake}_value`"),
        );
        return None;
    }
    Some(snake)
}

pub(super) fn check_operations(c: &mut Checker, resources: &BTreeSet<String>) {
    let spec = c.spec;
    let mut seen: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    for op in &spec.operations {
        if let Some(snake) = op_ident(c, &op.name, &op.path, "operation")
            && let Some(first) = seen.insert(snake.clone(), &op.name)
        {
            c.err(
                Code::E0204,
                op.name.span.clone(),
                &op.path,
                format!(
                    "operation `{}` collides with `{}`: both are `{snake}`",
                    op.name.value, first.value
                ),
                "names are compared after conversion to snake_case; rename one of them",
            );
        }
        check_operation(c, op, resources);
    }
    for r in &spec.resources {
        check_hooks(c, r);
    }
}

fn check_operation(c: &mut Checker, op: &OperationSpec, resources: &BTreeSet<String>) {
    let method = match &op.method {
        None => {
            missing(
                c,
                op.span.clone(),
                &op.path,
                "method",
                "add `method = \"GET\"` (or POST, PUT, PATCH, DELETE)",
            );
            None
        }
        Some(m) if keys::METHODS.contains(&m.value.as_str()) => Some(m.value.as_str()),
        Some(m) => {
            let upper = m.value.to_ascii_uppercase();
            let hint = if keys::METHODS.contains(&upper.as_str()) {
                format!("write it in capitals: `\"{upper}\"`")
            } else {
                format!("use one of: {}", keys::METHODS.join(", "))
            };
            c.err(
                Code::E0240,
                m.span.clone(),
                format!("{}.method", op.path),
                format!("unknown HTTP method `{}`", m.value),
                hint,
            );
            None
        }
    };
    match &op.exposure {
        Some(e) if e.value != "public" && e.value != "internal" => {
            let hint = if e.value == "off" {
                "an operation cannot be `off`: remove it from the spec instead".to_string()
            } else {
                "use `public` (through API Gateway, API key required) or `internal` (in-cluster only)".to_string()
            };
            c.err(
                Code::E0216,
                e.span.clone(),
                format!("{}.exposure", op.path),
                format!("unknown exposure `{}`", e.value),
                hint,
            );
        }
        _ => {}
    }
    if let Some(auth) = &op.auth {
        let public = op.exposure.as_ref().is_some_and(|e| e.value == "public");
        super::identity::check_auth(c, auth, &op.path, public);
    }
    let params = check_field_list(c, &op.params, "path parameter");
    let _ = check_field_list(c, &op.query, "query parameter");
    let upstream = c.spec.upstream.is_some();
    // Path, query and body members are one input struct: their names must differ
    // (an existing service's inputs are no struct: each stays where it is sent).
    let mut inputs: BTreeMap<String, &str> = BTreeMap::new();
    for name in &params {
        inputs.insert(name.clone(), "params");
    }
    let body_fields: Vec<&FieldSpec> = match &op.body {
        Some(ShapeSpec::Fields(f)) => f.value.iter().collect(),
        _ => Vec::new(),
    };
    for (fields, key) in [
        (op.query.iter().collect::<Vec<_>>(), "query"),
        (body_fields, "body"),
    ] {
        if upstream {
            break;
        }
        for f in fields {
            let snake = names(&f.name.value).snake;
            if let Some(first) = inputs.get(&snake) {
                if *first != key {
                    c.err(
                        Code::E0204,
                        f.name.span.clone(),
                        &f.path,
                        format!("`{snake}` is declared in both `{first}` and `{key}`"),
                        "the operation's inputs are one struct: rename one of them",
                    );
                }
                continue;
            }
            inputs.insert(snake, key);
        }
    }
    match &op.route {
        None => missing(
            c,
            op.span.clone(),
            &op.path,
            "path",
            "add `path = \"/products/{id}/summary\"`",
        ),
        Some(route) => {
            let spelling = if upstream {
                Spelling::Upstream
            } else {
                Spelling::Generated
            };
            check_path_template(c, op, route, &params, spelling)
        }
    }
    let no_body = matches!(method, Some("GET" | "DELETE"));
    if let Some(body) = &op.body {
        if no_body {
            c.err(
                Code::E0244,
                shape_span(body),
                format!("{}.body", op.path),
                format!("a {} request has no body", method.unwrap_or_default()),
                "remove `body` and use `query` parameters, or use POST, PUT or PATCH",
            );
        }
        check_shape(c, op, body, "body", resources);
    }
    if let Some(output) = &op.output {
        check_shape(c, op, output, "output", resources);
    }
}

fn shape_span(s: &ShapeSpec) -> Range<usize> {
    match s {
        ShapeSpec::Fields(f) => f.span.clone(),
        ShapeSpec::Resource(r) | ShapeSpec::List(r) => r.span.clone(),
    }
}

fn check_shape(
    c: &mut Checker,
    op: &OperationSpec,
    shape: &ShapeSpec,
    key: &str,
    resources: &BTreeSet<String>,
) {
    match shape {
        ShapeSpec::Fields(fields) => {
            if fields.value.is_empty() {
                c.err(
                    Code::E0201,
                    fields.span.clone(),
                    format!("{}.{key}", op.path),
                    format!("`{key}` declares no fields"),
                    format!("add a field (`{key}.note = \"text\"`), or remove `{key}`"),
                );
            }
            check_field_list(c, &fields.value, "field");
        }
        ShapeSpec::Resource(r) | ShapeSpec::List(r) => {
            // `"[product]"` is a string, not the list form: name conversion would
            // otherwise read it as `product` and silently return one record.
            let listed = r
                .value
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .map(str::trim)
                .map(|s| s.trim_matches('"'));
            if let Some(inner) = listed {
                let hint = if key == "output" {
                    format!("a list of records is a TOML array: `output = [\"{inner}\"]`")
                } else {
                    format!("a body is one record: `body = \"{inner}\"`")
                };
                c.err(
                    Code::E0214,
                    r.span.clone(),
                    format!("{}.{key}", op.path),
                    format!("`{}` is a string, not a resource name", r.value),
                    hint,
                );
                return;
            }
            if let Some((msg, hint)) = ident_problem(&r.value) {
                c.err(
                    Code::E0214,
                    r.span.clone(),
                    format!("{}.{key}", op.path),
                    format!("resource name {msg}"),
                    hint,
                );
                return;
            }
            let snake = names(&r.value).snake;
            if !resources.contains(&snake) {
                let hint = match did_you_mean(&snake, resources.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "name one of this spec's resources: {}",
                        resources.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                c.err(
                    Code::E0214,
                    r.span.clone(),
                    format!("{}.{key}", op.path),
                    format!("`{}` is not a resource of this spec", r.value),
                    hint,
                );
            }
        }
    }
}

/// Names, types and constraints of a field list; returns the usable names (snake).
fn check_field_list(c: &mut Checker, fields: &[FieldSpec], what: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    for f in fields {
        // An existing service's names are compared as it spells them.
        let name = if c.spec.upstream.is_some() {
            super::upstream::wire_name(c, &f.name, &f.path, what)
        } else {
            op_ident(c, &f.name, &f.path, what)
        };
        let Some(snake) = name else {
            continue;
        };
        if let Some(first) = seen.get(&snake) {
            c.err(
                Code::E0204,
                f.name.span.clone(),
                &f.path,
                format!(
                    "{what} `{}` collides with `{}`: both are `{snake}`",
                    f.name.value, first.value
                ),
                "names are compared after conversion to snake_case; rename one of them",
            );
            continue;
        }
        seen.insert(snake, &f.name);
        for (key, set) in [
            ("unique", f.unique.as_ref().map(|v| v.span.clone())),
            ("read_only", f.read_only.as_ref().map(|v| v.span.clone())),
        ] {
            if let Some(span) = set {
                c.err(
                    Code::E0248,
                    span,
                    &f.path,
                    format!("`{key}` has no meaning outside a resource"),
                    format!("remove `{key}`: operation fields are not stored"),
                );
            }
        }
        check_field(c, f);
    }
    seen.into_keys().collect()
}

/// How a path template's literal segments and parameters may be spelled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// A generated backend's route: lower-case letters, digits, `-`, `_`, `.`;
    /// parameters declared under their snake_case names.
    Generated,
    /// An existing service's route, as the upstream serves it: any case and any RFC
    /// 3986 path characters; parameter names of letters, digits and `_` (what the
    /// relay's route table takes), declared verbatim.
    Upstream,
}

/// The template: `/`-separated literal segments and whole-segment `{param}`s (spelled
/// as `spelling` allows), each declared in `params` exactly once.
fn check_path_template(
    c: &mut Checker,
    op: &OperationSpec,
    route: &Sp<String>,
    params: &BTreeSet<String>,
    spelling: Spelling,
) {
    let path = format!("{}.path", op.path);
    let p = route.value.as_str();
    let hint = match spelling {
        Spelling::Generated => {
            "write a template like `/products/{id}/rating-summary`: it starts with `/`, segments are lower-case letters, digits, `-`, `_` or a whole `{param}`"
        }
        Spelling::Upstream => {
            "write the upstream's path as it serves it: `/api/v1/products/{productId}/reviews` (starts with `/`, a parameter is a whole segment)"
        }
    };
    let bad = |c: &mut Checker, msg: String| {
        c.err(Code::E0241, route.span.clone(), &path, msg, hint);
    };
    if !p.starts_with('/') || p == "/" {
        bad(c, format!("`{p}` is not a path template"));
        return;
    }
    if spelling == Spelling::Upstream && p == shopgen_facts::relay::HEALTH_PATH {
        c.err(
            Code::E0241,
            route.span.clone(),
            &path,
            format!("the relay answers `{p}` itself (its own health check): the upstream's would never be reached"),
            "expose the upstream's health endpoint under another path, or leave it out: `upstream.health_path` is enough for `shopgen up`",
        );
        return;
    }
    let mut used: Vec<&str> = Vec::new();
    for segment in p[1..].split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            // The relay's route table takes parameter names of letters, digits and `_`
            // (a generated route's names are checked as identifiers in `params`).
            if spelling == Spelling::Upstream && !super::is_upstream_param_name(name) {
                bad(
                    c,
                    format!(
                        "`{segment}` is not a parameter: its name may use letters, digits and `_`"
                    ),
                );
                return;
            }
            if used.contains(&name) {
                bad(c, format!("`{{{name}}}` appears twice in `{p}`"));
                return;
            }
            used.push(name);
            continue;
        }
        let msg = if segment.is_empty() {
            format!("`{p}` has an empty segment")
        } else if segment.contains(['{', '}']) {
            format!("`{segment}` mixes a parameter with text; a parameter is a whole segment")
        } else if spelling == Spelling::Upstream && (segment == "." || segment == "..") {
            format!("`{p}` has a dot segment, which clients and proxies rewrite")
        } else if !segment_allowed(segment, spelling) {
            format!("the segment `{segment}` has characters a path template does not allow")
        } else {
            continue;
        };
        bad(c, msg);
        return;
    }
    let declare = match spelling {
        Spelling::Generated => "{ type = \"bigint\", min = 1 }",
        Spelling::Upstream => "{ type = \"bigint\" }",
    };
    for name in &used {
        if !params.contains(*name) {
            c.err(
                Code::E0242,
                route.span.clone(),
                &path,
                format!("path parameter `{{{name}}}` is not declared"),
                format!("declare its type: `params.{name} = {declare}`"),
            );
        }
    }
    for f in &op.params {
        // A generated route's parameter is matched under its snake_case name (other
        // spellings are reported where `params` are checked); an upstream's verbatim.
        let name = match spelling {
            Spelling::Generated => names(&f.name.value).snake,
            Spelling::Upstream => f.name.value.clone(),
        };
        if f.name.value == name && !used.contains(&name.as_str()) {
            c.err(
                Code::E0242,
                f.name.span.clone(),
                &f.path,
                format!("`{name}` is declared but `{p}` has no `{{{name}}}`"),
                format!("add `{{{name}}}` to `path`, or remove the declaration"),
            );
        }
    }
}

/// Whether a literal segment (not empty, no braces) is spelled as `spelling` allows.
fn segment_allowed(segment: &str, spelling: Spelling) -> bool {
    match spelling {
        Spelling::Generated => segment.chars().all(|ch| {
            ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '-' | '_' | '.')
        }),
        Spelling::Upstream => super::is_upstream_segment(segment),
    }
}

fn check_hooks(c: &mut Checker, r: &ResourceSpec) {
    let Some(hooks) = &r.hooks else { return };
    let path = format!("{}.hooks", r.path);
    let mut seen = BTreeSet::new();
    for h in &hooks.value {
        if !keys::HOOKS.contains(&h.value.as_str()) {
            let hint = match did_you_mean(&h.value, keys::HOOKS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use any of: {}", keys::HOOKS.join(", ")),
            };
            c.err(
                Code::E0247,
                h.span.clone(),
                &path,
                format!("unknown hook `{}`", h.value),
                hint,
            );
        } else if !seen.insert(h.value.as_str()) {
            c.err(
                Code::E0225,
                h.span.clone(),
                &path,
                format!("`{}` is listed twice", h.value),
                "list each hook once",
            );
        }
    }
}

/// One segment of a route template: a literal, or a parameter.
fn segments(path: &str) -> Vec<Option<&str>> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                None
            } else {
                Some(s)
            }
        })
        .collect()
}

/// Checks that need every route: operations against the generated routes and each
/// other. `endpoint` is (method, path, operation id, exposure, who declared it).
pub(super) fn check_operations_model(spec: &Spec, model: &Model) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    struct Endpoint<'m> {
        method: &'static str,
        path: &'m str,
        operation_id: &'m str,
        exposure: Exposure,
        owner: String,
        operation: Option<&'m str>,
    }
    let mut all: Vec<Endpoint> = model
        .routes()
        .map(|(r, route)| Endpoint {
            method: route.method.as_str(),
            path: &route.path,
            operation_id: &route.operation_id,
            exposure: route.exposure,
            owner: format!("resource `{}`", r.names.snake),
            operation: None,
        })
        .collect();
    all.extend(model.operations.iter().map(|o| Endpoint {
        method: o.method.as_str(),
        path: &o.path,
        operation_id: &o.operation_id,
        exposure: o.exposure,
        owner: format!("operation `{}`", o.names.snake),
        operation: Some(&o.names.snake),
    }));
    let op_spec = |snake: &str| {
        spec.operations
            .iter()
            .find(|o| names(&o.name.value).snake == snake)
    };
    // `body = "<resource>"` puts the resource's create members into the operation's
    // one input struct, beside the path and query parameters.
    for o in &model.operations {
        let Some(Shape::Resource(r)) = &o.body else {
            continue;
        };
        let Some(os) = op_spec(&o.names.snake) else {
            continue;
        };
        let Some(ShapeSpec::Resource(body)) = &os.body else {
            continue;
        };
        for member in model.resource(r).create_members() {
            let clash = [("path parameter", &o.params), ("query parameter", &o.query)]
                .into_iter()
                .find(|(_, list)| list.iter().any(|p| p.names.snake == member));
            if let Some((what, _)) = clash {
                diags.push(
                    Diagnostic::new(
                        Code::E0204,
                        body.span.clone(),
                        format!("{}.body", os.path),
                        format!("`{member}` is both a {what} and a member of `{r}`'s body"),
                    )
                    .hint(format!("the operation's inputs are one struct: rename the {what}, or declare the body as a field table without `{member}`")),
                );
            }
        }
    }
    for (i, op) in all.iter().enumerate() {
        let Some(name) = op.operation else { continue };
        let Some(os) = op_spec(name) else { continue };
        let path_span = os
            .route
            .as_ref()
            .map_or(os.name.span.clone(), |r| r.span.clone());
        let item = format!("{}.path", os.path);
        for (j, other) in all.iter().enumerate() {
            // An operation is compared with every route, and with later operations only.
            if j == i || (other.operation.is_some() && j < i) {
                continue;
            }
            let (a, b) = (segments(op.path), segments(other.path));
            if a.len() == b.len() {
                let same_shape = a.iter().zip(&b).all(|(x, y)| x == y);
                if same_shape && op.method == other.method {
                    diags.push(
                        Diagnostic::new(
                            Code::E0228,
                            path_span.clone(),
                            item.clone(),
                            format!(
                                "`{} {}` is also served by {} (`{} {}`)",
                                op.method, op.path, other.owner, other.method, other.path
                            ),
                        )
                        .hint("choose another path or method, or turn the generated route `off`"),
                    );
                    continue;
                }
                // The router tells `/x/{a}` and `/x/{b}/y` apart only when parameters at
                // the same place have the same name.
                let names_a = param_names(op.path);
                let names_b = param_names(other.path);
                let mut conflict = None;
                for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                    if x != y {
                        break;
                    }
                    // An existing service routes by itself: only the relay's table
                    // (which ignores parameter names) must tell its paths apart.
                    if x.is_none() && names_a[k] != names_b[k] && spec.upstream.is_none() {
                        conflict = Some((names_a[k], names_b[k]));
                        break;
                    }
                }
                if let Some((mine, theirs)) = conflict {
                    diags.push(
                        Diagnostic::new(
                            Code::E0245,
                            path_span.clone(),
                            item.clone(),
                            format!(
                                "`{{{mine}}}` sits where `{}` has `{{{theirs}}}`",
                                other.path
                            ),
                            )
                        .hint(format!("name it `{{{theirs}}}` (and `params.{theirs}`): parameters at the same place of two routes must have the same name")),
                    );
                    continue;
                }
                for (public, internal) in [(op, other), (other, op)] {
                    if public.exposure == Exposure::Public
                        && internal.exposure == Exposure::Internal
                        && public.method == internal.method
                        && shadows(&segments(public.path), &segments(internal.path))
                    {
                        diags.push(
                            Diagnostic::new(
                                Code::E0246,
                                path_span.clone(),
                                item.clone(),
                                format!(
                                    "public `{} {}` ({}) matches the internal `{}` ({}): the gateway would let it through",
                                    public.method, public.path, public.owner, internal.path, internal.owner
                                ),
                            )
                            .hint("choose a path no public template matches (e.g. a different first segment), or make both public"),
                        );
                    }
                }
            } else if spec.upstream.is_none()
                && let Some((mine, theirs)) = prefix_conflict(op.path, other.path)
            {
                diags.push(
                    Diagnostic::new(
                        Code::E0245,
                        path_span.clone(),
                        item.clone(),
                        format!("`{{{mine}}}` sits where `{}` has `{{{theirs}}}`", other.path),
                    )
                    .hint(format!("name it `{{{theirs}}}` (and `params.{theirs}`): parameters at the same place of two routes must have the same name")),
                );
            }
            if op.operation_id == other.operation_id {
                diags.push(
                    Diagnostic::new(
                        Code::E0228,
                        os.name.span.clone(),
                        os.path.clone(),
                        format!(
                            "operation id `{}` is also {}'s",
                            op.operation_id, other.owner
                        ),
                    )
                    .hint("rename the operation"),
                );
            }
        }
    }
    diags
}

fn param_names(path: &str) -> Vec<&str> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| {
            s.strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or("")
        })
        .collect()
}

/// For paths of different lengths: the first differently named parameter in the
/// common prefix of equal segments.
fn prefix_conflict<'a>(a: &'a str, b: &'a str) -> Option<(&'a str, &'a str)> {
    let (sa, sb) = (segments(a), segments(b));
    let (na, nb) = (param_names(a), param_names(b));
    for (k, (x, y)) in sa.iter().zip(&sb).enumerate() {
        if x != y {
            return None;
        }
        if x.is_none() && na[k] != nb[k] {
            return Some((na[k], nb[k]));
        }
    }
    None
}

/// Whether the public template matches a concrete request the internal one serves and
/// the public one does not name (a parameter where the internal route has a literal).
fn shadows(public: &[Option<&str>], internal: &[Option<&str>]) -> bool {
    let mut wider = false;
    for (p, i) in public.iter().zip(internal) {
        match (p, i) {
            (None, Some(_)) => wider = true,
            (None, None) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
    wider
}
