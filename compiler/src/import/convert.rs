//! Import, second step: the document's operations → routes in the spec language's
//! terms (`[operations.NAME]`: method, path, summary, params, query, body, output).
//!
//! What the spec language cannot say is never dropped quietly: each construct left
//! out becomes a note on its route (written as a TOML comment), and a route that
//! cannot be written at all (a method shopgen does not route, a parameter inside a
//! path segment) is listed among the skipped ones.
//!
//! Bodies and responses become fields in [`super::schema`].

use std::collections::BTreeSet;

use heck::{ToLowerCamelCase, ToSnakeCase};
use serde_json::Value;

use super::document::{Dialect, Document, deref};
use super::schema::{Field, Side, field_name_problem, object_fields, param_field};
use crate::check::idents::RUST_KEYWORDS;

/// Methods a route may use, in the order a path's operations are written.
const ROUTED: &[&str] = &["get", "put", "post", "patch", "delete"];
/// Methods OpenAPI knows that shopgen does not route.
const NOT_ROUTED: &[&str] = &["head", "options", "trace"];

/// One route of the imported spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path as the upstream serves it: the server prefix, then the document's path.
    pub path: String,
    /// The document's own key under `paths`.
    pub doc_path: String,
    pub summary: Option<String>,
    pub params: Vec<Field>,
    pub query: Vec<Field>,
    pub body: Option<Vec<Field>>,
    pub output: Option<Vec<Field>>,
    /// What was not carried over, one line each (without the route's name).
    pub notes: Vec<String>,
    /// The document marks the operation deprecated.
    pub deprecated: bool,
}

/// An operation of the document that became no route, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub method: String,
    pub path: String,
    pub why: String,
}

/// Everything the document gives the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub routes: Vec<Route>,
    pub skipped: Vec<Skipped>,
    /// The server prefix every path keeps (`/v2`), possibly empty.
    pub prefix: String,
    pub title: Option<String>,
    pub api_version: Option<String>,
    /// Document-wide notes (servers, security schemes).
    pub notes: Vec<String>,
    /// The upstream's health endpoint, when the document has one (`GET …/healthz` or
    /// `GET …/health`): `[upstream] health_path` of a new spec.
    pub health_path: Option<String>,
}

pub fn convert(doc: &Document) -> Converted {
    let root = &doc.root;
    let mut notes = Vec::new();
    let prefix = match doc.dialect {
        Dialect::Swagger2 => root
            .get("basePath")
            .and_then(Value::as_str)
            .map(clean_prefix)
            .unwrap_or_default(),
        Dialect::OpenApi30 => servers_prefix(root.get("servers"), &mut notes).unwrap_or_default(),
    };
    security_notes(doc, &mut notes);
    let mut routes = Vec::new();
    let mut skipped = Vec::new();
    let mut taken = Names::default();
    if let Some(Value::Object(paths)) = root.get("paths") {
        for (doc_path, item) in paths {
            if doc_path.starts_with("x-") {
                continue;
            }
            let item = match deref(root, item) {
                Ok((item, _)) => item,
                Err(why) => {
                    skipped.push(Skipped {
                        method: "*".into(),
                        path: doc_path.clone(),
                        why,
                    });
                    continue;
                }
            };
            let item_prefix = match doc.dialect {
                Dialect::OpenApi30 if item.get("servers").is_some() => {
                    servers_prefix(item.get("servers"), &mut Vec::new())
                }
                _ => None,
            };
            for method in NOT_ROUTED {
                if item.get(*method).is_some() {
                    skipped.push(Skipped {
                        method: method.to_uppercase(),
                        path: doc_path.clone(),
                        why: format!(
                            "shopgen routes {} only",
                            ROUTED
                                .iter()
                                .map(|m| m.to_uppercase())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
            for method in ROUTED {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let op_prefix = match doc.dialect {
                    Dialect::OpenApi30 if op.get("servers").is_some() => {
                        servers_prefix(op.get("servers"), &mut Vec::new())
                    }
                    _ => None,
                };
                let prefix = op_prefix
                    .or_else(|| item_prefix.clone())
                    .unwrap_or_else(|| prefix.clone());
                match route(doc, &prefix, doc_path, method, item, op) {
                    Ok(mut r) => {
                        let base = match op.get("operationId").and_then(Value::as_str) {
                            Some(id) if !id.trim().is_empty() => sanitize(id),
                            _ => derived_name(method, doc_path),
                        };
                        r.name = taken.claim(&base);
                        routes.push(r);
                    }
                    Err(why) => skipped.push(Skipped {
                        method: method.to_uppercase(),
                        path: doc_path.clone(),
                        why,
                    }),
                }
            }
        }
    }
    let health_path = health_path(root, &prefix);
    Converted {
        routes,
        skipped,
        health_path,
        prefix,
        title: root
            .pointer("/info/title")
            .and_then(Value::as_str)
            .map(one_line),
        api_version: root
            .pointer("/info/version")
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .map(|s| one_line(&s)),
        notes,
    }
}

/// `GET /healthz` or `GET /health` (with the server prefix), when the document has it.
fn health_path(root: &Value, prefix: &str) -> Option<String> {
    let paths = root.get("paths")?.as_object()?;
    ["/healthz", "/health"]
        .into_iter()
        .find(|p| paths.get(*p).is_some_and(|item| item.get("get").is_some()))
        .map(|p| format!("{prefix}{p}"))
}

/// Names already given, compared as snake_case and as camelCase (the operation id).
#[derive(Default)]
pub struct Names {
    snake: BTreeSet<String>,
    camel: BTreeSet<String>,
}

impl Names {
    /// Marks a name as used (one the user's spec already has).
    pub fn reserve(&mut self, name: &str) {
        self.snake.insert(name.to_snake_case());
        self.camel.insert(name.to_lower_camel_case());
    }

    /// `base`, or `base_2`, `base_3`, … : the first one not used yet.
    pub fn claim(&mut self, base: &str) -> String {
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                base.to_string()
            } else {
                let mut stem = base.to_string();
                stem.truncate(44);
                format!("{}_{n}", stem.trim_end_matches('_'))
            };
            let snake = candidate.to_snake_case();
            let camel = candidate.to_lower_camel_case();
            if !self.snake.contains(&snake) && !self.camel.contains(&camel) {
                self.snake.insert(snake);
                self.camel.insert(camel);
                return candidate;
            }
            n += 1;
        }
    }
}

/// An operationId as an operation name: snake_case ASCII, starting with a letter, at
/// most 48 characters, no Rust keyword.
pub fn sanitize(id: &str) -> String {
    let snake = id.to_snake_case();
    let mut out = String::new();
    for c in snake.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim_end_matches('_').to_string();
    if out.is_empty() {
        out = "operation".into();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out = format!("op_{out}");
    }
    if out.len() > 48 {
        out.truncate(48);
        out = out.trim_end_matches('_').to_string();
    }
    if RUST_KEYWORDS.contains(&out.as_str()) {
        out.push_str("_route");
    }
    out
}

/// A name for an operation without `operationId`: the method and the path's
/// segments (`GET /pets/{id}` → `get_pets_by_id`).
pub fn derived_name(method: &str, path: &str) -> String {
    let mut parts = vec![method.to_string()];
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(p) => parts.push(format!("by_{p}")),
            None => parts.push(seg.to_string()),
        }
    }
    if parts.len() == 1 {
        parts.push("root".into());
    }
    sanitize(&parts.join("_"))
}

/// One line: whitespace runs (newlines too) become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn clean_prefix(p: &str) -> String {
    let p = p.trim().trim_end_matches('/');
    if p.is_empty() {
        String::new()
    } else if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// The path of the first server URL (`http://petstore.swagger.io/v2` → `/v2`), its
/// variables filled with their defaults.
fn servers_prefix(servers: Option<&Value>, notes: &mut Vec<String>) -> Option<String> {
    let list = servers?.as_array()?;
    let prefixes: Vec<String> = list.iter().filter_map(server_path).collect();
    let first = prefixes.first()?.clone();
    let others: BTreeSet<&String> = prefixes.iter().filter(|p| **p != first).collect();
    if !others.is_empty() {
        notes.push(format!(
            "the document lists servers with other path prefixes ({}); every path keeps the first one's, `{}`",
            others
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if first.is_empty() { "/" } else { &first }
        ));
    }
    Some(first)
}

fn server_path(server: &Value) -> Option<String> {
    let mut url = server.get("url")?.as_str()?.to_string();
    if let Some(Value::Object(vars)) = server.get("variables") {
        for (name, var) in vars {
            if let Some(d) = var.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{name}}}"), d);
            }
        }
    }
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            match rest.find('/') {
                Some(j) => rest[j..].to_string(),
                None => String::new(),
            }
        }
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("").to_string();
    Some(clean_prefix(&path))
}

fn security_notes(doc: &Document, notes: &mut Vec<String>) {
    let schemes = match doc.dialect {
        Dialect::Swagger2 => doc.root.get("securityDefinitions"),
        Dialect::OpenApi30 => doc.root.pointer("/components/securitySchemes"),
    };
    let Some(Value::Object(schemes)) = schemes else {
        return;
    };
    let described: Vec<String> = schemes
        .iter()
        .map(|(name, s)| {
            let s = deref(&doc.root, s).map(|(s, _)| s).unwrap_or(s);
            let ty = s.get("type").and_then(Value::as_str).unwrap_or("?");
            match (
                s.get("in").and_then(Value::as_str),
                s.get("name").and_then(Value::as_str),
            ) {
                (Some(place), Some(n)) => format!("`{name}` ({ty} in {place} `{n}`)"),
                _ => match s.get("scheme").and_then(Value::as_str) {
                    Some(scheme) => format!("`{name}` ({ty} {scheme})"),
                    None => format!("`{name}` ({ty})"),
                },
            }
        })
        .collect();
    if !described.is_empty() {
        notes.push(format!(
            "the document's security schemes {}. API Gateway checks the API key of `api_key_header` and the providers of `[gateway.identity]` (docs/spec.md); credentials the service checks itself reach it only as `[upstream] forward_authorization` allows",
            described.join(", ")
        ));
    }
}

/// One operation → a route, or why it cannot be one.
fn route(
    doc: &Document,
    prefix: &str,
    doc_path: &str,
    method: &str,
    item: &Value,
    op: &Value,
) -> Result<Route, String> {
    let root = &doc.root;
    if !doc_path.starts_with('/') {
        return Err(format!("`{doc_path}` does not start with `/`"));
    }
    if let Some(why) = path_problem(&format!("{prefix}{doc_path}")) {
        return Err(why);
    }
    let template_params: Vec<String> = doc_path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect();
    let mut notes = Vec::new();
    // Parameters: the path item's, overridden by the operation's (same name and place).
    let mut declared: Vec<(String, String, &Value)> = Vec::new();
    for list in [item.get("parameters"), op.get("parameters")] {
        let Some(Value::Array(list)) = list else {
            continue;
        };
        for p in list {
            let p = match deref(root, p) {
                Ok((p, _)) => p,
                Err(why) => {
                    notes.push(format!("a parameter not carried over: {why}"));
                    continue;
                }
            };
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let place = p
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            declared.retain(|(n, i, _)| !(*n == name && *i == place));
            declared.push((name, place, p));
        }
    }
    let mut params = Vec::new();
    let mut query = Vec::new();
    let mut body = None;
    let mut form = Vec::new();
    let upper = method.to_uppercase();
    let body_allowed = !matches!(method, "get" | "delete");
    for t in &template_params {
        match declared.iter().find(|(n, i, _)| n == t && i == "path") {
            Some((_, _, p)) => match param_field(doc, t, p, None) {
                Ok((f, loose)) => {
                    notes.extend(loose.into_iter().map(|l| format!("path parameter {l}")));
                    params.push(f);
                }
                Err(why) => {
                    notes.push(format!("path parameter `{t}` {why}: declared as a string"));
                    params.push(Field::plain(t, "string"));
                }
            },
            None => {
                notes.push(format!(
                    "path parameter `{t}` is not declared in the document: declared as a string"
                ));
                params.push(Field::plain(t, "string"));
            }
        }
    }
    for (name, place, p) in &declared {
        match place.as_str() {
            "path" => {
                if !template_params.contains(name) {
                    notes.push(format!(
                        "path parameter `{name}` is not in the path `{doc_path}`"
                    ));
                }
            }
            "query" => {
                let required = p.get("required").and_then(Value::as_bool) == Some(true);
                match field_name_problem(name)
                    .map_or_else(|| param_field(doc, name, p, Some(required)), Err)
                {
                    Ok((f, loose)) => {
                        notes.extend(loose.into_iter().map(|l| format!("query parameter {l}")));
                        query.push(f);
                    }
                    Err(why) => notes.push(format!("query parameter `{name}` {why}")),
                }
            }
            "header" | "cookie" => notes.push(format!(
                "{place} parameter `{name}` (the spec language types no {place}s)"
            )),
            "body" => {
                let schema = p.get("schema").unwrap_or(&Value::Null);
                body = Some(typed_body(doc, schema, body_allowed, &upper, &mut notes));
            }
            "formData" => form.push(name.clone()),
            other => notes.push(format!("parameter `{name}` in `{other}`")),
        }
    }
    if !form.is_empty() {
        notes.push(format!(
            "form parameters {} (a form body is not JSON; the spec language types JSON bodies)",
            form.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if doc.dialect == Dialect::OpenApi30
        && let Some(rb) = op.get("requestBody")
    {
        match deref(root, rb) {
            Ok((rb, _)) => match json_schema(rb.get("content")) {
                Ok(Some(schema)) => {
                    body = Some(typed_body(doc, schema, body_allowed, &upper, &mut notes));
                }
                Ok(None) => {}
                Err(types) => notes.push(format!(
                    "request body of type {types} (not JSON; the spec language types JSON bodies)"
                )),
            },
            Err(why) => notes.push(format!("request body: {why}")),
        }
    }
    let output = output(doc, op, &mut notes);
    let summary = op
        .get("summary")
        .and_then(Value::as_str)
        .map(one_line)
        .filter(|s| !s.is_empty());
    Ok(Route {
        name: String::new(),
        method: upper,
        path: format!("{prefix}{doc_path}"),
        doc_path: doc_path.to_string(),
        summary,
        params,
        query,
        body: body.flatten(),
        output,
        notes,
        deprecated: op.get("deprecated").and_then(Value::as_bool) == Some(true),
    })
}

/// The JSON schema of a `content` map: `Ok(None)` without content, `Err` with the
/// media types when none of them is JSON.
fn json_schema(content: Option<&Value>) -> Result<Option<&Value>, String> {
    let Some(Value::Object(content)) = content else {
        return Ok(None);
    };
    if content.is_empty() {
        return Ok(None);
    }
    let json = content.iter().find(|(t, _)| is_json(t));
    match json {
        Some((_, media)) => Ok(media.get("schema")),
        None => Err(content
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")),
    }
}

fn is_json(media: &str) -> bool {
    let m = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
}

fn typed_body(
    doc: &Document,
    schema: &Value,
    allowed: bool,
    method: &str,
    notes: &mut Vec<String>,
) -> Option<Vec<Field>> {
    if !allowed {
        notes.push(format!(
            "request body (a {method} route takes none in the spec language)"
        ));
        return None;
    }
    match object_fields(doc, schema, Side::Body) {
        Ok((fields, loose)) => {
            notes.extend(
                loose
                    .into_iter()
                    .map(|l| format!("request body member {l}")),
            );
            Some(fields)
        }
        Err(why) => {
            notes.push(format!(
                "request body not typed (a field is a scalar; the upstream gets the body unchanged): {why}"
            ));
            None
        }
    }
}

/// The first success response's JSON object, typed; absent: the upstream's answer,
/// passed through.
fn output(doc: &Document, op: &Value, notes: &mut Vec<String>) -> Option<Vec<Field>> {
    let Some(Value::Object(responses)) = op.get("responses") else {
        return None;
    };
    let (code, response) = responses.iter().find(|(code, _)| code.starts_with('2'))?;
    let response = match deref(&doc.root, response) {
        Ok((r, _)) => r,
        Err(why) => {
            notes.push(format!("response {code}: {why}"));
            return None;
        }
    };
    let schema = match doc.dialect {
        Dialect::Swagger2 => response.get("schema")?,
        Dialect::OpenApi30 => match json_schema(response.get("content")) {
            Ok(s) => s?,
            Err(types) => {
                notes.push(format!(
                    "response {code} of type {types} (passed through; the spec language types JSON objects)"
                ));
                return None;
            }
        },
    };
    match object_fields(doc, schema, Side::Output) {
        Ok((fields, loose)) => {
            notes.extend(
                loose
                    .into_iter()
                    .map(|l| format!("response {code} member {l}")),
            );
            Some(fields)
        }
        Err(why) => {
            notes.push(format!(
                "response {code} not typed (a field is a scalar; the answer passes through unchanged): {why}"
            ));
            None
        }
    }
}

/// Why a route's full path cannot be a route's template, if it cannot
/// (`check::upstream`'s rule: no empty or dot segments, RFC 3986 path characters,
/// nothing percent-encoded, parameters named with letters, digits and `_`).
fn path_problem(path: &str) -> Option<String> {
    if path == "/" {
        return Some("the root path `/` is not a route shopgen exposes".into());
    }
    if path == shopgen_facts::relay::HEALTH_PATH {
        return Some(format!(
            "the relay answers `{path}` itself (its own health check), so the upstream's would never be reached"
        ));
    }
    let mut seen = BTreeSet::new();
    for seg in path.split('/').skip(1) {
        if let Some(p) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if !seen.insert(p) {
                return Some(format!(
                    "the path parameter `{seg}` appears twice in `{path}`"
                ));
            }
            if !crate::check::is_upstream_param_name(p) {
                return Some(format!(
                    "the path parameter `{seg}` is named with other characters than letters, digits and `_`"
                ));
            }
            continue;
        }
        if seg.is_empty() {
            return Some(format!(
                "`{path}` has an empty segment (a trailing or doubled `/`)"
            ));
        }
        if seg.contains(['{', '}']) {
            return Some(format!(
                "the segment `{seg}` mixes a parameter with text; a route's parameter is a whole segment"
            ));
        }
        if seg == "." || seg == ".." {
            return Some(format!("`{path}` has a dot segment"));
        }
        if !crate::check::is_upstream_segment(seg) {
            return Some(format!(
                "the segment `{seg}` has characters a route's path does not allow"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document;
    use crate::import::schema::Num;

    #[test]
    fn names_come_from_operation_ids_or_method_and_path_and_collisions_are_numbered() {
        assert_eq!(sanitize("getPetById"), "get_pet_by_id");
        assert_eq!(sanitize("list-data-sets"), "list_data_sets");
        assert_eq!(sanitize("Pets.List__All"), "pets_list_all");
        assert_eq!(sanitize("2fa"), "op_2fa");
        assert_eq!(sanitize("move"), "move_route");
        assert_eq!(sanitize("¿?"), "operation");
        assert_eq!(derived_name("get", "/pets/{id}"), "get_pets_by_id");
        assert_eq!(derived_name("post", "/"), "post_root");
        let mut names = Names::default();
        names.reserve("list_pets");
        assert_eq!(names.claim("list_pets"), "list_pets_2");
        assert_eq!(names.claim("list_pets"), "list_pets_3");
        // camelCase operation ids collide too: `a1b` and `a_1b` are both `a1b`.
        assert_eq!(names.claim("get_a1b"), "get_a1b");
        assert_eq!(names.claim("get_a_1b"), "get_a_1b_2");
    }

    #[test]
    fn two_operation_ids_that_meet_in_snake_case_get_distinct_names_in_document_order() {
        let text = r#"{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
          "servers": [{"url": "https://{host}/api/v{v}/", "variables": {"host": {"default": "x.example"}, "v": {"default": "2"}}}],
          "paths": {
            "/b": {"get": {"operationId": "listThings", "responses": {}}},
            "/a": {"get": {"operationId": "list_things", "responses": {}},
                   "head": {"responses": {}}},
            "/c/{x}/{x}": {"get": {"responses": {}}},
            "/d": {"post": {"responses": {}}}
          }}"#;
        let doc = document::read(text).unwrap();
        let c = convert(&doc);
        assert_eq!(c.prefix, "/api/v2");
        let got: Vec<(&str, &str, &str)> = c
            .routes
            .iter()
            .map(|r| (r.name.as_str(), r.method.as_str(), r.path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("list_things", "GET", "/api/v2/a"),
                ("list_things_2", "GET", "/api/v2/b"),
                ("post_d", "POST", "/api/v2/d"),
            ]
        );
        let skipped: Vec<(&str, &str)> = c
            .skipped
            .iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect();
        assert_eq!(skipped, [("HEAD", "/a"), ("GET", "/c/{x}/{x}")]);
    }

    #[test]
    fn the_relays_own_health_path_is_no_route_and_the_upstreams_becomes_health_path() {
        let text = r#"{"swagger": "2.0", "info": {"title": "t", "version": "1"},
          "paths": {"/healthz": {"get": {"responses": {}}}, "/x": {"get": {"responses": {}}}}}"#;
        let c = convert(&document::read(text).unwrap());
        assert_eq!(c.health_path.as_deref(), Some("/healthz"));
        assert_eq!(c.routes.len(), 1);
        assert!(
            c.skipped[0]
                .why
                .contains("the relay answers `/healthz` itself")
        );
        let text = text.replace("\"paths\"", "\"basePath\": \"/api\", \"paths\"");
        let c = convert(&document::read(&text).unwrap());
        assert_eq!(c.health_path.as_deref(), Some("/api/healthz"));
        assert_eq!(
            c.routes.len(),
            2,
            "`/api/healthz` is the upstream's own route"
        );
    }

    #[test]
    fn integer_bounds_formats_and_nullable_members_become_field_keys() {
        let text = r#"{"swagger": "2.0", "info": {"title": "t", "version": "1"}, "basePath": "/v1/",
          "paths": {"/items": {"post": {"parameters": [
            {"in": "body", "name": "b", "schema": {"type": "object", "required": ["n", "at"],
              "properties": {
                "n": {"type": "integer", "format": "int32", "minimum": 0, "exclusiveMinimum": true, "maximum": 9},
                "at": {"type": "string", "format": "date-time"},
                "mail": {"type": "string", "format": "email", "maxLength": 80},
                "id": {"type": "integer", "readOnly": true},
                "kind": {"type": "string", "enum": ["a b", "c"]}
              }}},
            {"in": "query", "name": "page", "type": "integer", "required": true}
          ], "responses": {"201": {"description": "ok"}}}}}}"#;
        let doc = document::read(text).unwrap();
        let c = convert(&doc);
        let r = &c.routes[0];
        assert_eq!(r.path, "/v1/items");
        let body = r.body.as_ref().unwrap();
        let names: Vec<&str> = body.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["at", "kind", "mail", "n"], "readOnly `id` left out");
        let n = &body[3];
        assert_eq!(
            (n.ty, n.min, n.max),
            ("integer", Some(Num::Int(1)), Some(Num::Int(9)))
        );
        assert_eq!(body[0].ty, "timestamp");
        assert_eq!(body[1].ty, "string");
        assert_eq!(body[1].required, Some(false));
        assert_eq!((body[2].ty, body[2].max_length), ("string", Some(80)));
        assert_eq!(r.query[0].required, Some(true));
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("`mail`: format `email` is not checked"))
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("`kind`: its `enum` is not checked"))
        );
    }
}
