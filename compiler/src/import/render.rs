//! Import, last step: routes → the text of the spec, laid out like the hand-written
//! specs (a comment over each table, keys in the order docs/spec.md lists them).
//! Deterministic: the same document and options give the same bytes.

use std::fmt::Write as _;

use super::convert::{Converted, Route, Skipped};
use super::schema::{Field, Num};

/// The line that opens the imported routes. Everything before it belongs to the user;
/// a second import rewrites everything from it to the end of the file.
pub const MARKER: &str = "# Routes imported by `shopgen import openapi`";

/// What a route keeps from the spec it replaces: `exposure` and `auth`, as TOML text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kept {
    pub exposure: Option<String>,
    pub auth: Option<String>,
}

/// The settings part of a new spec: service, upstream, gcp and gateway.
pub fn preamble(name: &str, file: &str, c: &Converted, project: &str, region: &str) -> String {
    let mut s = String::new();
    let title = c.title.as_deref().unwrap_or(name);
    let _ = writeln!(
        s,
        "# {name}: the routes of an existing service, {}, exposed",
        quote(title)
    );
    s.push_str(
        "# through API Gateway by shopgen. shopgen generates no backend for it: the relay\n\
         # forwards each route below, unchanged, to the pods `[upstream]` selects.\n\
         #\n",
    );
    let _ = writeln!(
        s,
        "# Written by `shopgen import openapi {file}`. Set where the pods run (namespace,"
    );
    s.push_str(
        "# port, labels) and the Google Cloud placement; make a route public with\n\
         # `exposure = \"public\"`. Every key is documented in docs/spec.md; importing again\n\
         # after the document changes is described in docs/import.md.\n\n",
    );
    s.push_str(
        "# The existing pods: their namespace (shopgen never creates or deletes it) and\n\
         # container port, which the internal load balancer Service sends traffic to. The\n\
         # name prefixes every Google Cloud object shopgen creates. See docs/spec.md.\n",
    );
    let _ = writeln!(s, "[service]\nname = {}", quote(name));
    let _ = writeln!(s, "namespace = {}", quote(name));
    s.push_str("port = 3000\nservice_port = 80\n\n");
    s.push_str(
        "# Which pods the Service selects (their labels), their health endpoint when the\n\
         # document has one (`shopgen up --upstream` waits for it), and whether the relay\n\
         # hands a client's `Authorization` (moved by API Gateway to\n\
         # `X-Forwarded-Authorization`) on to them.\n",
    );
    let _ = writeln!(s, "[upstream]\nselector = {{ app = {} }}", quote(name));
    if let Some(h) = &c.health_path {
        let _ = writeln!(s, "health_path = {}", quote(h));
    }
    s.push_str("forward_authorization = false\n\n");
    s.push_str(
        "# Where it runs on Google Cloud: the existing GKE cluster the pods run in, and the\n\
         # subnetwork the relay reaches it on. See docs/spec.md, `[gcp]`.\n",
    );
    let _ = writeln!(
        s,
        "[gcp]\nproject = {}\nregion = {}",
        quote(project),
        quote(region)
    );
    s.push_str("network = \"default\"\nsubnetwork = \"default\"\n");
    let _ = writeln!(
        s,
        "cluster = {{ name = {} }}\n",
        quote(&format!("{name}-cluster"))
    );
    s.push_str(
        "# API Gateway: the header clients send their API key in, and the OpenAPI dialect\n\
         # of openapi/gateway.yaml. See docs/spec.md, `[gateway]`.\n",
    );
    s.push_str("[gateway]\napi_key_header = \"x-api-key\"\nopenapi = \"3.0\"\n\n");
    s
}

/// The imported routes: the marker, what the document says as a whole, each route,
/// and the operations that became none.
pub fn routes(file: &str, dialect: &str, c: &Converted, kept: &[Kept]) -> String {
    let mut s = String::new();
    s.push_str(MARKER);
    let what = match (&c.title, &c.api_version) {
        (Some(t), Some(v)) => format!(" ({t} {v}, {dialect})"),
        (Some(t), None) => format!(" ({t}, {dialect})"),
        _ => format!(" ({dialect})"),
    };
    let _ = writeln!(s, " from {file}{what}.");
    s.push_str(
        "# Importing again rewrites everything from the line above to the end of the file,\n\
         # keeping each route's `exposure` and `auth` (docs/import.md).\n",
    );
    if c.prefix.is_empty() {
        s.push_str("# The document names no server path prefix: paths are as it writes them.\n");
    } else {
        let _ = writeln!(
            s,
            "# Every path keeps the server prefix `{}`: the relay forwards paths unchanged.",
            c.prefix
        );
    }
    for n in &c.notes {
        comment(&mut s, &format!("Not carried over: {n}."));
    }
    if !c.skipped.is_empty() {
        s.push_str("# Operations that are no route here (the upstream still serves them inside the\n# cluster):\n");
        for Skipped { method, path, why } in &c.skipped {
            comment(&mut s, &format!("- {method} {path}: {why}."));
        }
    }
    for (r, k) in c.routes.iter().zip(kept) {
        s.push('\n');
        route(&mut s, r, k);
    }
    s
}

fn route(s: &mut String, r: &Route, k: &Kept) {
    let _ = writeln!(s, "[operations.{}]", r.name);
    if r.deprecated {
        comment(s, &format!("{}: deprecated in the document.", r.name));
    }
    for n in &r.notes {
        comment(s, &format!("{}: not carried over: {n}.", r.name));
    }
    let _ = writeln!(s, "method = {}", quote(&r.method));
    let _ = writeln!(s, "path = {}", quote(&r.path));
    let _ = writeln!(
        s,
        "exposure = {}",
        k.exposure.as_deref().unwrap_or("\"internal\"")
    );
    if let Some(auth) = &k.auth {
        let _ = writeln!(s, "auth = {auth}");
    }
    if let Some(summary) = &r.summary {
        let _ = writeln!(s, "summary = {}", quote(summary));
    }
    for (table, fields) in [
        ("params", Some(&r.params)),
        ("query", Some(&r.query)),
        ("body", r.body.as_ref()),
        ("output", r.output.as_ref()),
    ] {
        for f in fields.into_iter().flatten() {
            let _ = writeln!(s, "{table}.{} = {}", key(&f.name), field(f));
        }
    }
}

/// `{ type = "string", required = false, max_length = 80 }`: keys in docs/spec.md's order.
pub fn field(f: &Field) -> String {
    let mut parts = vec![format!("type = {}", quote(f.ty))];
    if let Some(r) = f.required {
        parts.push(format!("required = {r}"));
    }
    if let Some(n) = f.max_length {
        parts.push(format!("max_length = {n}"));
    }
    if let Some(n) = f.min_length {
        parts.push(format!("min_length = {n}"));
    }
    if let Some(p) = &f.pattern {
        parts.push(format!("pattern = {}", quote(p)));
    }
    if let Some(n) = f.min {
        parts.push(format!("min = {}", num(n)));
    }
    if let Some(n) = f.max {
        parts.push(format!("max = {}", num(n)));
    }
    if !f.values.is_empty() {
        let values: Vec<String> = f.values.iter().map(|v| quote(v)).collect();
        parts.push(format!("values = [{}]", values.join(", ")));
    }
    format!("{{ {} }}", parts.join(", "))
}

fn num(n: Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        Num::Float(f) => format!("{f:?}"),
    }
}

/// A TOML key: bare when it can be (`productId`), quoted otherwise (`"filter[name]"`).
pub fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A comment of one or more lines, wrapped near 88 columns; control characters of the
/// document's text never reach the file.
fn comment(s: &mut String, text: &str) {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut line = String::from("#");
    for word in clean.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > 88 {
            s.push_str(&line);
            s.push('\n');
            line = String::from("#  ");
        }
        line.push(' ');
        line.push_str(word);
    }
    s.push_str(&line);
    s.push('\n');
}

/// One route's table alone, as a new import writes it (to compare with a spec's).
pub fn route_text(r: &Route) -> String {
    let mut s = String::new();
    route(&mut s, r, &Kept::default());
    s
}
