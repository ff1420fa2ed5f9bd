//! Property test: random **valid** specs (every field type with and without its
//! constraints, relations, every exposure, short, long and camelCase names, English
//! plurals) build to the same bytes twice, every generated `.rs` file parses, is a
//! fixed point of shopgen's printer and passes `rustfmt --check` (edition 2024, as
//! `cargo fmt --check` runs it). Specs may declare custom operations (every method,
//! path parameter, query, field-table or resource body and output), resource hooks
//! and rows owned by users (`owner`, with the routes the checker accepts for them).
//! The same operations also make random existing-service specs (`[upstream]`: paths
//! and names in the upstream's spelling, unbounded strings), whose one Rust file, the
//! relay's, must be as clean.
//! Two further random specs per run are compiled as real crates with `cargo clippy -D
//! warnings`, with the extension crate `shopgen build` writes first when they have
//! operations or hooks; between them they hold every field type, and the seed changes
//! every day so the constraints and shapes rotate.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use shopgen::emit::rust::render_file;
use shopgen::emit::{GeneratedFile, emit_all, parse_header};
use shopgen::model::SpecSource;
use shopgen::model::names::pluralize;
use shopgen::output;
use shopgen::spec::keys::{HOOKS, METHODS};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::support::{infra, project};

/// Resource names: short, long, two-word (written snake_case or camelCase by the
/// generator), and irregular plurals.
const RESOURCE_NAMES: &[&str] = &[
    "note",
    "invoice",
    "widget",
    "order_item",
    "person",
    "category",
    "status",
    "child",
    "address",
    "warehouse_inventory_adjustment_record",
    "box_shipment",
    "city",
];

/// Field names: none is a keyword, a foreign-key column (`*_id`) or a resource plural.
const FIELD_NAMES: &[&str] = &[
    "title",
    "body",
    "amount",
    "created_at",
    "is_active",
    "rating",
    "quantity",
    "code",
    "label",
    "last_seen_timestamp_for_audit_purposes_value",
    "birthday",
    "token",
    "kind_of_thing",
    "weight",
];

/// Operation names (each gets its own first path segment, so they never collide with
/// a resource's routes or each other) and the names of their inputs and outputs: the
/// pools are disjoint from each other and from resource fields and foreign keys, since
/// an operation's path, query and body members are one struct.
const OP_NAMES: &[&str] = &[
    "rating_summary",
    "reprice",
    "ping",
    "bulk_import_partner_feed_records",
    "recompute",
    "x",
];
const QUERY_NAMES: &[&str] = &[
    "min_rate",
    "q",
    "include_archived",
    "since_when",
    "page_token",
];
const BODY_NAMES: &[&str] = &["percent", "note", "new_title", "effective_on", "dry_run"];
const OUTPUT_NAMES: &[&str] = &["count", "average", "summary_text", "computed_at", "ok"];
/// Types of the one path parameter `{key}` an operation may have.
const PARAM_TYPES: &[usize] = &[2, 3, 0, 9, 10, 8];

const TYPES: [&str; 11] = [
    "string",
    "text",
    "integer",
    "bigint",
    "boolean",
    "decimal",
    "float",
    "timestamp",
    "date",
    "uuid",
    "enum",
];

/// A name as the spec writes it: snake_case, or camelCase when `camel` is set.
fn spelled(snake: &str, camel: bool) -> String {
    if !camel {
        return snake.to_string();
    }
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, Clone)]
struct FieldGen {
    name: usize,
    camel: bool,
    ty: usize,
    required: bool,
    unique: bool,
    /// Drives the optional constraints and defaults of the type.
    knobs: [u8; 4],
}

#[derive(Debug, Clone)]
struct ResourceGen {
    name: usize,
    camel: bool,
    fields: Vec<FieldGen>,
    /// Each route key's exposure: 0 off, 1 internal, 2 public.
    routes: [u8; 6],
    /// `Some((parent index among earlier resources, knobs))`.
    parent: Option<(usize, [u8; 4])>,
    /// 0: default JSON; otherwise a custom member list drawn from this.
    json: u8,
    list: u8,
    /// Its `hooks`: a bit per entry of `HOOKS` when the low two bits are 0.
    hooks: u8,
    /// Odd (in a spec with identity providers): its rows belong to users (`owner`);
    /// bit 1 names the column `owned_by`, bit 2 the claim `email`, bit 3 `existing`.
    owner: u8,
}

#[derive(Debug, Clone)]
struct OperationGen {
    name: usize,
    camel: bool,
    method: usize,
    public: bool,
    /// The type (index into `PARAM_TYPES`) of a path parameter `{key}`.
    param: Option<(usize, [u8; 4])>,
    query: Vec<FieldGen>,
    /// 0: no body; 1: a field table; 2: a resource's create body. Only POST, PUT, PATCH.
    body: u8,
    body_fields: Vec<FieldGen>,
    /// 0: no output (204); 1: a field table; 2: one resource; 3: a list of them.
    output: u8,
    output_fields: Vec<FieldGen>,
    /// Which resource `body`/`output` name (modulo the resources).
    target: usize,
}

#[derive(Debug, Clone)]
struct SpecGen {
    resources: Vec<ResourceGen>,
    operations: Vec<OperationGen>,
    /// Sign-in: a multiple of 3 declares no identity provider; otherwise `firebase`
    /// (and `google` with bit 2), and public routes and operations take an `auth`
    /// drawn from it.
    auth: u8,
}

/// The `auth` of the `n`th public route or operation of a spec whose sign-in knob is
/// `knob`: `None` for the plain `"public"` (the API key).
fn auth_of(knob: u8, n: usize) -> Option<&'static str> {
    if knob.is_multiple_of(3) {
        return None;
    }
    let google = knob & 4 != 0;
    match (usize::from(knob) + n) % 4 {
        0 => None,
        1 => Some("[\"api_key\", \"firebase\"]"),
        2 => Some("\"firebase\""),
        _ if google => Some("[[\"firebase\"], [\"google\"]]"),
        _ => Some("[\"firebase\"]"),
    }
}

/// The `[gateway.identity.*]` tables of a spec whose sign-in knob is `knob`.
fn identity_toml(out: &mut String, knob: u8) {
    if knob.is_multiple_of(3) {
        return;
    }
    out.push_str(
        "\n[gateway.identity.firebase]\nissuer = \"https://securetoken.google.com/acme-random\"\n\
         jwks_uri = \"https://www.googleapis.com/service_accounts/v1/metadata/jwk/securetoken@system.gserviceaccount.com\"\n\
         audiences = [\"acme-random\"]\n",
    );
    if knob & 4 != 0 {
        out.push_str(
            "\n[gateway.identity.google]\nissuer = \"https://accounts.google.com\"\n\
             jwks_uri = \"https://www.googleapis.com/oauth2/v3/certs\"\n\
             audiences = [\"1234567890-web.apps.googleusercontent.com\"]\n",
        );
    }
}

fn field_gen() -> impl Strategy<Value = FieldGen> {
    (
        0..FIELD_NAMES.len(),
        any::<bool>(),
        0..TYPES.len(),
        any::<bool>(),
        any::<bool>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(name, camel, ty, required, unique, knobs)| FieldGen {
            name,
            camel,
            ty,
            required,
            unique,
            knobs,
        })
}

fn resource_gen() -> impl Strategy<Value = ResourceGen> {
    (
        0..RESOURCE_NAMES.len(),
        any::<bool>(),
        prop::collection::vec(field_gen(), 1..6),
        any::<[u8; 6]>(),
        prop::option::of((any::<usize>(), any::<[u8; 4]>())),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(name, camel, fields, routes, parent, json, list, hooks, owner)| ResourceGen {
                name,
                camel,
                fields,
                routes: routes.map(|r| r % 3),
                parent,
                json,
                list,
                hooks,
                owner,
            },
        )
}

fn operation_gen() -> impl Strategy<Value = OperationGen> {
    (
        (
            0..OP_NAMES.len(),
            any::<bool>(),
            0..METHODS.len(),
            any::<bool>(),
        ),
        prop::option::of((0..PARAM_TYPES.len(), any::<[u8; 4]>())),
        prop::collection::vec(field_gen(), 0..3),
        (0..3u8, prop::collection::vec(field_gen(), 1..4)),
        (0..4u8, prop::collection::vec(field_gen(), 1..4)),
        any::<usize>(),
    )
        .prop_map(
            |(
                (name, camel, method, public),
                param,
                query,
                (body, body_fields),
                (output, output_fields),
                target,
            )| OperationGen {
                name,
                camel,
                method,
                public,
                param,
                query,
                body,
                body_fields,
                output,
                output_fields,
                target,
            },
        )
}

fn spec_gen() -> impl Strategy<Value = SpecGen> {
    (
        prop::collection::vec(resource_gen(), 1..5),
        prop::collection::vec(operation_gen(), 0..4),
        any::<u8>(),
    )
        .prop_map(|(resources, operations, auth)| SpecGen {
            resources,
            operations,
            auth,
        })
}

/// `fields` as `key.name = {…}` lines, each name (from `pool`) once.
fn field_lines(out: &mut String, key: &str, fields: &[FieldGen], pool: &[&str]) {
    let mut seen = Vec::new();
    for f in fields {
        let name = f.name % pool.len();
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let spelled = spelled(pool[name], f.camel);
        writeln!(out, "{key}.{spelled} = {}", field_toml(f, f.ty, false)).unwrap();
    }
}

/// The `[operations.*]` tables; `resources` are the spec's resource names as written.
fn operations_toml(out: &mut String, operations: &[OperationGen], resources: &[String], auth: u8) {
    let mut seen = Vec::new();
    for op in operations {
        if seen.contains(&op.name) {
            continue;
        }
        seen.push(op.name);
        let snake = OP_NAMES[op.name];
        let method = METHODS[op.method];
        writeln!(out, "\n[operations.{}]", spelled(snake, op.camel)).unwrap();
        writeln!(out, "method = \"{method}\"").unwrap();
        let mut path = format!("/{}", snake.replace('_', "-"));
        if op.param.is_some() {
            path.push_str("/{key}");
        }
        writeln!(out, "path = \"{path}\"").unwrap();
        let exposure = if op.public { "public" } else { "internal" };
        writeln!(out, "exposure = \"{exposure}\"").unwrap();
        if op.public
            && let Some(a) = auth_of(auth, op.name)
        {
            writeln!(out, "auth = {a}").unwrap();
        }
        if let Some((ty, knobs)) = op.param {
            let f = FieldGen {
                name: 0,
                camel: false,
                ty: PARAM_TYPES[ty],
                required: true,
                unique: false,
                knobs,
            };
            writeln!(out, "params.key = {}", field_toml(&f, f.ty, false)).unwrap();
        }
        field_lines(out, "query", &op.query, QUERY_NAMES);
        let target = &resources[op.target % resources.len()];
        if matches!(method, "POST" | "PUT" | "PATCH") {
            match op.body {
                1 => field_lines(out, "body", &op.body_fields, BODY_NAMES),
                2 => writeln!(out, "body = \"{target}\"").unwrap(),
                _ => {}
            }
        }
        match op.output {
            1 => field_lines(out, "output", &op.output_fields, OUTPUT_NAMES),
            2 => writeln!(out, "output = \"{target}\"").unwrap(),
            3 => writeln!(out, "output = [\"{target}\"]").unwrap(),
            _ => {}
        }
    }
}

const EXPOSURE: [&str; 3] = ["off", "internal", "public"];
const ROUTE_KEYS: [&str; 6] = ["list", "get", "create", "update", "replace", "delete"];

/// One field's TOML table (without the key). `stored`: a resource's column (operation
/// inputs and outputs take neither `unique` nor `read_only`).
fn field_toml(f: &FieldGen, ty: usize, stored: bool) -> String {
    let k = f.knobs;
    let mut parts = vec![format!("type = \"{}\"", TYPES[ty])];
    let mut required = f.required;
    let mut unique = f.unique;
    match TYPES[ty] {
        "string" => {
            let max = 1 + u32::from(k[0]) * 3;
            parts.push(format!("max_length = {max}"));
            if k[1].is_multiple_of(2) {
                parts.push(format!("min_length = {}", u32::from(k[1]) % max + 1));
            }
            match k[2] % 4 {
                0 => parts.push(r#"pattern = "^[A-Za-z\"'\\\\]+$""#.into()),
                1 => parts.push(r#"pattern = "\\d{3}-\\w+""#.into()),
                _ => {}
            }
        }
        "text" => {
            if k[0].is_multiple_of(2) {
                parts.push(format!("min_length = {}", k[1] % 5));
            }
            if k[2].is_multiple_of(2) {
                parts.push(format!("max_length = {}", 5 + u32::from(k[3]) * 100));
            }
        }
        "integer" => {
            let bounds = [
                (Some(-2147483648i64), Some(2147483647i64)),
                (Some(1), Some(5)),
                (None, Some(-1)),
                (Some(0), None),
                (None, None),
            ];
            let (min, max) = bounds[usize::from(k[0]) % bounds.len()];
            if let Some(min) = min {
                parts.push(format!("min = {min}"));
            }
            if let Some(max) = max {
                parts.push(format!("max = {max}"));
            }
            if k[1].is_multiple_of(3) {
                parts.push(format!("default = {}", min.or(max).unwrap_or(7)));
            }
        }
        "bigint" => {
            let bounds = [
                (Some(i64::MIN), Some(i64::MAX)),
                (Some(-5), None),
                (None, Some(9_007_199_254_740_993)),
                (None, None),
            ];
            let (min, max) = bounds[usize::from(k[0]) % bounds.len()];
            if let Some(min) = min {
                parts.push(format!("min = {min}"));
            }
            if let Some(max) = max {
                parts.push(format!("max = {max}"));
            }
        }
        "boolean" => {
            unique = false;
            if k[0].is_multiple_of(2) {
                parts.push(format!("default = {}", k[1].is_multiple_of(2)));
            }
        }
        "decimal" => {
            let precision = 1 + u32::from(k[0]) % 28;
            let scale = u32::from(k[1]) % (precision + 1);
            parts.push(format!("precision = {precision}, scale = {scale}"));
            if k[2].is_multiple_of(2) {
                parts.push("min = \"0\"".into());
            }
            if k[2].is_multiple_of(3) && precision > scale {
                parts.push("max = \"1\"".into());
            }
        }
        "float" => {
            let bounds = [
                (Some("-1.5"), Some("2.25")),
                (Some("0"), None),
                (None, Some("1e10")),
                (None, None),
            ];
            let (min, max) = bounds[usize::from(k[0]) % bounds.len()];
            if let Some(min) = min {
                parts.push(format!("min = {min}"));
            }
            if let Some(max) = max {
                parts.push(format!("max = {max}"));
            }
            unique = false;
        }
        "timestamp" => {
            if k[0].is_multiple_of(2) {
                parts.push("default = \"now\"".into());
                if stored && k[1].is_multiple_of(2) {
                    parts.push("read_only = true".into());
                    required = true;
                }
            }
        }
        "date" => {
            if k[0].is_multiple_of(3) {
                parts.push("default = \"today\"".into());
            }
        }
        "uuid" => {}
        "enum" => {
            let pool = ["draft", "live", "archived_for_good", "x", "retired"];
            let n = 1 + usize::from(k[0]) % pool.len();
            let values: Vec<String> = pool[..n].iter().map(|v| format!("\"{v}\"")).collect();
            parts.push(format!("values = [{}]", values.join(", ")));
            if k[1].is_multiple_of(2) {
                parts.push(format!("default = {}", values[usize::from(k[2]) % n]));
            }
        }
        other => unreachable!("{other}"),
    }
    if !required {
        parts.push("required = false".into());
    }
    // A unique field cannot have a default (the second record would collide).
    if stored && unique && !parts.iter().any(|p| p.starts_with("default")) {
        parts.push("unique = true".into());
    }
    format!("{{ {} }}", parts.join(", "))
}

/// The spec's TOML. `extra_types` adds a resource holding those field types (the
/// clippy specs use it so that every type is compiled every run).
fn spec_toml(stem: &str, spec: &SpecGen, extra_types: &[usize]) -> String {
    let resources = &spec.resources;
    let mut out = format!(
        "[service]\nname = \"{stem}-api\"\nnamespace = \"{stem}\"\n\n\
         [gcp]\nproject = \"acme-{stem}\"\nregion = \"europe-west2\"\nnetwork = \"default\"\n\
         subnetwork = \"default\"\negress = {{ connector = \"10.8.0.0/28\" }}\n\
         cluster = {{ name = \"{stem}-cluster\", location = \"europe-west2\" }}\n\n\
         [database]\nsecret = {{ name = \"{stem}-db\", key = \"DATABASE_URL\" }}\n"
    );
    identity_toml(&mut out, spec.auth);
    // Distinct resources (by snake name), in the generated order.
    let mut chosen: Vec<&ResourceGen> = Vec::new();
    for r in resources {
        if !chosen.iter().any(|c| c.name == r.name) {
            chosen.push(r);
        }
    }
    // Per resource: its snake name, whether its rows are owned.
    let snakes: Vec<&str> = chosen.iter().map(|r| RESOURCE_NAMES[r.name]).collect();
    let identity = !spec.auth.is_multiple_of(3);
    let owned: Vec<bool> = chosen
        .iter()
        .map(|r| identity && r.owner % 2 == 1)
        .collect();
    // Children embedded per parent (index): their has_many names (plurals).
    let mut child_plurals: Vec<Vec<String>> = vec![Vec::new(); chosen.len()];
    let parents: Vec<Option<usize>> = chosen
        .iter()
        .enumerate()
        .map(|(i, r)| match r.parent {
            Some((p, _)) if i > 0 => Some(p % i),
            _ => None,
        })
        .collect();
    for (i, p) in parents.iter().enumerate() {
        // An owned child is embedded only in an owned parent (E0311).
        if let Some(p) = p
            && (owned[*p] || !owned[i])
        {
            child_plurals[*p].push(pluralize(snakes[i]));
        }
    }
    // Each route's exposure, as the checker accepts it for owned rows: a child of an
    // owned parent is public only through its parent (and, owned itself, may be read,
    // listed and deleted publicly), E0311.
    let exposures: Vec<[u8; 6]> = chosen
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut e = r.routes;
            if let Some(p) = parents[i]
                && owned[p]
            {
                for (j, x) in e.iter_mut().enumerate() {
                    if *x == 2 && (!owned[i] || matches!(j, 2..=4)) {
                        *x = 1;
                    }
                }
            }
            e
        })
        .collect();
    // Whether `get` is public (a public nested route needs its parent's).
    let get_public: Vec<bool> = exposures.iter().map(|e| e[1] == 2).collect();
    for (i, r) in chosen.iter().enumerate() {
        let name = spelled(snakes[i], r.camel);
        writeln!(out, "\n[resources.{name}]").unwrap();
        let mut members: Vec<String> = vec!["\"id\"".into()];
        let mut seen_fields: Vec<usize> = Vec::new();
        for f in &r.fields {
            if seen_fields.contains(&f.name) {
                continue;
            }
            seen_fields.push(f.name);
            let fname = spelled(FIELD_NAMES[f.name], f.camel);
            writeln!(out, "fields.{fname} = {}", field_toml(f, f.ty, true)).unwrap();
            members.push(format!("\"{}\"", FIELD_NAMES[f.name]));
        }
        if let Some(p) = parents[i] {
            let k = r.parent.map(|(_, k)| k).unwrap_or_default();
            let rel = snakes[p];
            let required = k[0] % 3 != 0;
            let on_delete = match (k[1] % 3, required) {
                (0, false) => "set_null",
                (1, _) => "restrict",
                _ => "cascade",
            };
            // A public nested route needs the parent's `get` to be public.
            let top = if get_public[p] { 3 } else { 2 };
            // Under an owned parent, or of owned rows, a public nested route takes a
            // user token (E0310).
            let nested = |knob: u8| match EXPOSURE[usize::from(knob) % top] {
                "public" if owned[i] || owned[p] => {
                    "{ exposure = \"public\", auth = [\"api_key\", \"firebase\"] }".to_string()
                }
                e => format!("\"{e}\""),
            };
            writeln!(
                out,
                "belongs_to.{} = {{ on_delete = \"{on_delete}\", required = {required}, \
                 routes = {{ list = {}, create = {} }} }}",
                spelled(rel, r.camel),
                nested(k[2]),
                nested(k[3])
            )
            .unwrap();
            members.push(format!("\"{rel}_id\""));
        }
        for plural in &child_plurals[i] {
            members.push(format!("\"{plural}\""));
        }
        if owned[i] {
            let field = if r.owner & 2 != 0 {
                "owned_by"
            } else {
                "owner"
            };
            let claim = if r.owner & 4 != 0 { "email" } else { "sub" };
            let existing = if r.owner & 8 != 0 {
                ", existing = \"legacy-admin\""
            } else {
                ""
            };
            writeln!(
                out,
                "owner = {{ field = \"{field}\", claim = \"{claim}\"{existing} }}"
            )
            .unwrap();
            members.push(format!("\"{field}\""));
        }
        if r.json != 0 {
            // A custom JSON: a rotation of the members with some left out.
            let keep: Vec<&String> = members
                .iter()
                .enumerate()
                .filter(|(j, _)| (usize::from(r.json) >> (j % 8)) & 1 == 1)
                .map(|(_, m)| m)
                .collect();
            let list: Vec<&str> = keep.iter().map(|m| m.as_str()).collect();
            writeln!(out, "json = [{}]", list.join(", ")).unwrap();
        }
        let routes: Vec<String> = ROUTE_KEYS
            .iter()
            .zip(exposures[i])
            .enumerate()
            .map(|(j, (k, e))| {
                // An owned resource's public routes take a user token (E0310).
                let auth = match auth_of(spec.auth, i * 6 + j) {
                    None if owned[i] => Some("[\"api_key\", \"firebase\"]"),
                    a => a,
                };
                match auth {
                    Some(a) if e == 2 => {
                        format!("{k} = {{ exposure = \"public\", auth = {a} }}")
                    }
                    _ => format!("{k} = \"{}\"", EXPOSURE[usize::from(e)]),
                }
            })
            .collect();
        writeln!(out, "routes = {{ {} }}", routes.join(", ")).unwrap();
        if r.hooks % 4 == 0 && r.hooks != 0 {
            let hooks: Vec<String> = HOOKS
                .iter()
                .enumerate()
                .filter(|(j, _)| (r.hooks >> 2 >> j) & 1 == 1)
                .map(|(_, h)| format!("\"{h}\""))
                .collect();
            writeln!(out, "hooks = [{}]", hooks.join(", ")).unwrap();
        }
        if !r.list.is_multiple_of(2) {
            let first = FIELD_NAMES[r.fields[0].name];
            writeln!(
                out,
                "list = {{ filter = [\"{first}\"], sort = [\"{first}\"], default_limit = {}, max_limit = 500 }}",
                1 + r.list % 100
            )
            .unwrap();
        }
    }
    if !extra_types.is_empty() {
        out.push_str("\n[resources.every_type_record]\n");
        for (j, ty) in extra_types.iter().enumerate() {
            let f = FieldGen {
                name: 0,
                camel: false,
                ty: *ty,
                required: j.is_multiple_of(2),
                unique: j.is_multiple_of(3),
                knobs: [j as u8 * 37, j as u8 * 11, j as u8 * 5, j as u8],
            };
            writeln!(
                out,
                "fields.{}_value = {}",
                TYPES[*ty],
                field_toml(&f, *ty, true)
            )
            .unwrap();
        }
        out.push_str("routes = { list = \"public\", get = \"public\", replace = \"internal\" }\n");
    }
    let written: Vec<String> = chosen
        .iter()
        .map(|r| spelled(RESOURCE_NAMES[r.name], r.camel))
        .collect();
    operations_toml(&mut out, &spec.operations, &written, spec.auth);
    out
}

/// An existing service's spec (`[upstream]`) from the same operations: paths in the
/// upstream's own spelling (a version prefix, capitals, a camelCase `{keyId}`), names
/// written as given, strings with or without `max_length`, no resources.
fn upstream_spec_toml(spec: &SpecGen) -> String {
    let mut out = String::from(
        "[service]\nname = \"legacy-api\"\nnamespace = \"legacy\"\nport = 8000\n\n\
         [upstream]\nselector = { app = \"legacy\", \"app.kubernetes.io/component\" = \"web\" }\n",
    );
    if spec.auth.is_multiple_of(2) {
        out.push_str("health_path = \"/status/up\"\n");
    }
    if spec.auth.is_multiple_of(3) {
        out.push_str("forward_authorization = true\n");
    }
    out.push_str(
        "\n[gcp]\nproject = \"acme-legacy\"\nregion = \"europe-west2\"\n\
         cluster = { name = \"legacy\", location = \"europe-west2\" }\n",
    );
    if spec.auth.is_multiple_of(5) {
        out.push_str("\n[gateway]\nopenapi = \"2.0\"\n");
    }
    let mut seen = Vec::new();
    for op in &spec.operations {
        if seen.contains(&op.name) {
            continue;
        }
        seen.push(op.name);
        let snake = OP_NAMES[op.name];
        let method = METHODS[op.method];
        writeln!(out, "\n[operations.{}]", spelled(snake, op.camel)).unwrap();
        writeln!(out, "method = \"{method}\"").unwrap();
        let mut path = format!("/api/V1/{}", spelled(snake, true));
        if op.param.is_some() {
            path.push_str("/{keyId}");
        }
        writeln!(out, "path = \"{path}\"").unwrap();
        let exposure = if op.public { "public" } else { "internal" };
        writeln!(out, "exposure = \"{exposure}\"").unwrap();
        if let Some((ty, knobs)) = op.param {
            let f = FieldGen {
                name: 0,
                camel: false,
                ty: PARAM_TYPES[ty],
                required: true,
                unique: false,
                knobs,
            };
            writeln!(out, "params.keyId = {}", field_toml(&f, f.ty, false)).unwrap();
        }
        // Half of the strings lose their bounds: an existing service's may have none.
        let unbounded = |table: &str, knob: u8| -> String {
            if !knob.is_multiple_of(2) || !table.contains("\"string\"") {
                return table.to_string();
            }
            let inner = table.trim_start_matches("{ ").trim_end_matches(" }");
            let kept: Vec<&str> = inner
                .split(", ")
                .filter(|p| !p.starts_with("max_length") && !p.starts_with("min_length"))
                .collect();
            format!("{{ {} }}", kept.join(", "))
        };
        let mut lines = String::new();
        field_lines(&mut lines, "query", &op.query, QUERY_NAMES);
        if matches!(method, "POST" | "PUT" | "PATCH") && op.body > 0 {
            field_lines(&mut lines, "body", &op.body_fields, BODY_NAMES);
        }
        if op.output > 0 {
            field_lines(&mut lines, "output", &op.output_fields, OUTPUT_NAMES);
        }
        for (i, line) in lines.lines().enumerate() {
            let (key, table) = line.split_once(" = ").expect("a field line");
            let table = unbounded(table, op.target.wrapping_add(i) as u8);
            writeln!(out, "{key} = {table}").unwrap();
        }
    }
    out
}

fn compile(stem: &str, src: &str) -> Vec<GeneratedFile> {
    let source = SpecSource {
        stem: stem.to_string(),
        display_path: format!("specs/{stem}.toml"),
    };
    let model = shopgen::compile(src, source.clone()).unwrap_or_else(|d| {
        panic!(
            "the generator made an invalid spec:\n{}\n{src}",
            shopgen::diagnostics::render(&d, "random.toml", src)
        )
    });
    let first = emit_all(&model);
    let again = emit_all(&shopgen::compile(src, source).expect("compiles twice"));
    assert_eq!(first, again, "two builds differ:\n{src}");
    first
}

/// Every `.rs` file parses and is a fixed point of the printer; `rustfmt --check`
/// accepts them all.
fn check_rust(files: &[GeneratedFile], src: &str, at_least: usize) {
    let dir = tempfile::tempdir().expect("dir");
    infra::write_into(dir.path(), files);
    let mut paths = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".rs")) {
        let parsed = syn::parse_file(&file.contents)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}\n{src}", file.path));
        let (_, body) = parse_header(&file.contents).expect("header");
        assert_eq!(
            render_file(parsed),
            body,
            "{} is not a printer fixed point:\n{src}",
            file.path
        );
        paths.push(dir.path().join(&file.path));
    }
    assert!(paths.len() >= at_least, "{paths:?}");
    let out = Command::new("rustfmt")
        .args(["--check", "--edition", "2024"])
        .args(&paths)
        .output()
        .expect("rustfmt (rustup component add rustfmt)");
    assert!(
        out.status.success(),
        "rustfmt would rewrite generated code:\n{}{}\n{src}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        // More with SHOPGEN_RANDOM_SPECS=N.
        cases: std::env::var("SHOPGEN_RANDOM_SPECS").ok().and_then(|n| n.parse().ok()).unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_valid_specs_build_deterministically_to_parsing_rustfmt_clean_rust(
        spec in spec_gen()
    ) {
        let src = spec_toml("random", &spec, &[]);
        let files = compile("random", &src);
        check_rust(&files, &src, 3);
    }

    #[test]
    fn random_existing_service_specs_build_deterministically_to_rustfmt_clean_relays(
        spec in spec_gen()
    ) {
        let mut spec = spec;
        if spec.operations.is_empty() {
            spec.operations.push(OperationGen {
                name: 0,
                camel: false,
                method: 0,
                public: true,
                param: None,
                query: Vec::new(),
                body: 0,
                body_fields: Vec::new(),
                output: 0,
                output_fields: Vec::new(),
                target: 0,
            });
        }
        let src = upstream_spec_toml(&spec);
        let files = compile("legacy", &src);
        assert!(files.iter().all(|f| !f.path.starts_with("backend/")), "{src}");
        check_rust(&files, &src, 1);
    }
}

/// Two random specs (a seed per day), each with half of the field types added, are
/// written into a scratch workspace that links this repository's runtime crates and
/// compiled with `cargo clippy -D warnings`, backend and relay, reusing this
/// workspace's lock file, profiles and target directory.
#[test]
fn two_random_specs_compile_clippy_clean() {
    let day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 86_400;
    let seed = std::env::var("SHOPGEN_CLIPPY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(day);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let halves: [Vec<usize>; 2] = [(0..6).collect(), (6..TYPES.len()).collect()];
    let dir = project()
        .workspace(&[
            "generated/clippy0/backend",
            "generated/clippy0/relay",
            "generated/clippy1/backend",
            "generated/clippy1/relay",
        ])
        .build();
    let mut specs = String::new();
    for (i, types) in halves.iter().enumerate() {
        let spec = spec_gen()
            .new_tree(&mut runner)
            .expect("generate")
            .current();
        let stem = format!("clippy{i}");
        let src = spec_toml(&stem, &spec, types);
        let files = compile(&stem, &src);
        // The layout `shopgen build` makes: generated/<stem>/, and the extension crate
        // (operations or hooks) in extensions/<stem>/ as first written.
        let out = Path::new("generated").join(&stem);
        infra::write_into(&dir.root().join(&out), &files);
        let source = SpecSource {
            stem: stem.clone(),
            display_path: format!("specs/{stem}.toml"),
        };
        let model = shopgen::compile(&src, source).expect("compiled above");
        if model.has_extension() {
            let scaffold =
                shopgen::emit::extension::scaffold(&model, &output::api_path_from_extension(&out));
            let ext = output::extension_dir(&dir.root().join(&out), &stem);
            assert!(output::write_scaffold(&ext, &scaffold).expect("scaffold"));
        }
        writeln!(specs, "--- {stem} (seed {seed})\n{src}").unwrap();
    }
    let out = dir
        .cargo(&[
            "clippy",
            "--offline",
            "--quiet",
            "--workspace",
            "--",
            "-D",
            "warnings",
        ])
        .output()
        .expect("cargo clippy");
    assert!(
        out.status.success(),
        "random specs do not build clippy-clean (rerun with SHOPGEN_CLIPPY_SEED={seed}):\n{}\n{specs}",
        String::from_utf8_lossy(&out.stderr)
    );
}
