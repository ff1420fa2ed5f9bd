//! Import: schemas → fields in the spec language's terms (docs/spec.md, "Fields").
//!
//! A body or a response is typed whole or not at all: a field table says "this is
//! the object", so one with some members missing would misdescribe it. An object
//! with a member the language has no field for (a nested object, an array, a map, a
//! `oneOf`) is left untyped, and the upstream gets and gives it unchanged. A member
//! that keeps its field but loses a constraint (`format: email`, `multipleOf`) is
//! named in a note.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::document::{Dialect, Document, deref, kind, ref_name};

/// A field in the spec language's terms (docs/spec.md, "Fields").
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: &'static str,
    /// `Some` only when it differs from the table's default.
    pub required: Option<bool>,
    pub max_length: Option<u64>,
    pub min_length: Option<u64>,
    pub pattern: Option<String>,
    pub min: Option<Num>,
    pub max: Option<Num>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

/// Which way an object travels: `readOnly` members stay out of request bodies,
/// `writeOnly` ones out of responses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Body,
    Output,
}

/// An object schema → its fields and the constraints they lose (one note each), or
/// why it cannot be typed (every member that stops it, in one line).
pub fn object_fields(
    doc: &Document,
    schema: &Value,
    side: Side,
) -> Result<(Vec<Field>, Vec<String>), String> {
    let root = &doc.root;
    let (schema, top_ref) = deref(root, schema)?;
    let named = top_ref
        .map(|r| format!(" `{}`", ref_name(r)))
        .unwrap_or_default();
    let mut props: Map<String, Value> = Map::new();
    let mut required: BTreeSet<String> = BTreeSet::new();
    let mut enclosing: Vec<String> = top_ref.map(str::to_string).into_iter().collect();
    gather(root, schema, &mut props, &mut required, &mut enclosing)
        .map_err(|why| format!("the schema{named} {why}"))?;
    if props.is_empty() {
        return Err(format!(
            "the schema{named} declares no members (a free-form object)"
        ));
    }
    let mut fields = Vec::new();
    let mut loose = Vec::new();
    let mut hard = Vec::new();
    for (name, prop) in &props {
        let flag = |key: &str| {
            deref(root, prop)
                .ok()
                .and_then(|(p, _)| p.get(key))
                .and_then(Value::as_bool)
                == Some(true)
        };
        if (side == Side::Body && flag("readOnly")) || (side == Side::Output && flag("writeOnly")) {
            continue;
        }
        if let Some(why) = field_name_problem(name) {
            hard.push(format!("`{name}` {why}"));
            continue;
        }
        let req = required.contains(name);
        match field_of(root, name, prop, Some(req), &enclosing) {
            Ok((mut f, l)) => {
                if f.required == Some(true) {
                    f.required = None;
                }
                fields.push(f);
                loose.extend(l);
            }
            Err(why) => hard.push(format!("`{name}` {why}")),
        }
    }
    if !hard.is_empty() {
        return Err(format!("in the schema{named}, {}", hard.join(", ")));
    }
    Ok((fields, loose))
}

/// Collects an object schema's members, flattening `allOf`s of objects.
fn gather(
    root: &Value,
    schema: &Value,
    props: &mut Map<String, Value>,
    required: &mut BTreeSet<String>,
    enclosing: &mut Vec<String>,
) -> Result<(), String> {
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(alts)) = schema.get(key) {
            return Err(format!(
                "is a `{key}` of {} schemas (the spec language has no alternatives)",
                alts.len()
            ));
        }
    }
    if schema.get("not").is_some() {
        return Err("uses `not`".into());
    }
    if let Some(Value::Array(parts)) = schema.get("allOf") {
        for part in parts {
            let (part, r) = deref(root, part)?;
            if let Some(r) = r {
                if enclosing.iter().any(|e| e == r) {
                    return Err(format!(
                        "refers back to `{}` (a recursive schema)",
                        ref_name(r)
                    ));
                }
                enclosing.push(r.to_string());
            }
            gather(root, part, props, required, enclosing)?;
        }
    }
    match schema.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "object" => {}
        Some(Value::String(t)) if t == "array" => {
            let items = schema
                .get("items")
                .and_then(|i| deref(root, i).ok())
                .map(|(i, r)| match r {
                    Some(r) => format!(" of `{}`", ref_name(r)),
                    None => match i.get("type").and_then(Value::as_str) {
                        Some(t) => format!(" of {t}s"),
                        None => String::new(),
                    },
                })
                .unwrap_or_default();
            return Err(format!("is an array{items}, not an object"));
        }
        Some(Value::String(t)) => return Err(format!("is a {t}, not an object")),
        Some(other) => return Err(format!("has a `type` that is {}", kind(other))),
    }
    if let Some(Value::Object(ps)) = schema.get("properties") {
        for (k, v) in ps {
            props.insert(k.clone(), v.clone());
        }
    }
    match schema.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {}
        Some(_) => {
            return Err(if props.is_empty() {
                "is a map (`additionalProperties`: members of any name)".into()
            } else {
                "takes members of any name besides its own (`additionalProperties`)".into()
            });
        }
    }
    if let Some(Value::Array(req)) = schema.get("required") {
        required.extend(req.iter().filter_map(Value::as_str).map(str::to_string));
    }
    Ok(())
}

/// Why a member or query parameter name cannot name a field, if it cannot: an
/// existing service's names are kept as it spells them on the wire, within what the
/// gateway documents can print (`check::upstream`'s rule).
pub fn field_name_problem(name: &str) -> Option<String> {
    (!crate::check::is_wire_name(name)).then(|| {
        "cannot name a field (letters, digits, `_`, `-`, `.`, `$`, `[`, `]`, not starting with a digit)"
            .to_string()
    })
}

/// A parameter → a field: Swagger 2.0 keeps the type on the parameter, OpenAPI 3.0
/// in its `schema` (or `content`, which the spec language cannot type).
pub fn param_field(
    doc: &Document,
    name: &str,
    p: &Value,
    required: Option<bool>,
) -> Result<(Field, Vec<String>), String> {
    let schema = match doc.dialect {
        Dialect::Swagger2 => p,
        Dialect::OpenApi30 => match p.get("schema") {
            Some(s) => s,
            None if p.get("content").is_some() => {
                return Err("is serialised as a media type (`content`)".into());
            }
            None => return Err("has no schema".into()),
        },
    };
    let (mut f, loose) = field_of(&doc.root, name, schema, required, &[])?;
    // Query parameters are optional unless they say `required = true`.
    f.required = match required {
        Some(true) => Some(true),
        _ => None,
    };
    Ok((f, loose))
}

/// A member schema → a field and the constraints it loses, or why it has no field.
fn field_of(
    root: &Value,
    name: &str,
    schema: &Value,
    required: Option<bool>,
    enclosing: &[String],
) -> Result<(Field, Vec<String>), String> {
    let (mut schema, r) = deref(root, schema)?;
    if let Some(r) = r
        && enclosing.iter().any(|e| e == r)
    {
        return Err(format!(
            "refers back to `{}` (a recursive schema)",
            ref_name(r)
        ));
    }
    if let Some(Value::Array(parts)) = schema.get("allOf")
        && let [one] = parts.as_slice()
    {
        schema = deref(root, one)?.0;
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(alts)) = schema.get(key) {
            return Err(format!(
                "is a `{key}` of {} schemas (the spec language has no alternatives)",
                alts.len()
            ));
        }
    }
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true)
        || schema.get("x-nullable").and_then(Value::as_bool) == Some(true);
    let mut loose = Vec::new();
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => return Err(format!("has a `type` that is {}", kind(other))),
        None if schema.get("properties").is_some() => "object",
        None if schema.get("enum").is_some() => "string",
        None => return Err("has no `type`".into()),
    };
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let mut f = Field::plain(name, "string");
    f.required = match (required, nullable) {
        (Some(true), false) => Some(true),
        (Some(_), _) => Some(false),
        (None, _) => None,
    };
    match ty {
        "string" => {
            f.ty = match format {
                "date-time" => "timestamp",
                "date" => "date",
                "uuid" => "uuid",
                _ => "string",
            };
            if f.ty == "string" && !format.is_empty() {
                loose.push(format!("`{name}`: format `{format}` is not checked"));
            }
            if let Some(Value::Array(values)) = schema.get("enum") {
                let strings: Vec<String> = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                let usable = strings.len() == values.len()
                    && !strings.is_empty()
                    && strings.iter().collect::<BTreeSet<_>>().len() == strings.len()
                    && strings.iter().all(|v| crate::check::is_enum_value(v));
                if usable && f.ty == "string" {
                    f.ty = "enum";
                    f.values = strings;
                } else {
                    loose.push(format!(
                        "`{name}`: its `enum` is not checked (values must be 1–63 ASCII letters, digits, `_`, `-` or `.`)"
                    ));
                }
            }
            if f.ty == "string" {
                f.max_length = schema.get("maxLength").and_then(Value::as_u64);
                f.min_length = schema
                    .get("minLength")
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0);
                if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                    if regex::Regex::new(p).is_ok() {
                        f.pattern = Some(p.to_string());
                    } else {
                        loose.push(format!(
                            "`{name}`: its `pattern` is not checked (not in the syntax of Rust's `regex`)"
                        ));
                    }
                }
            }
        }
        "integer" => {
            f.ty = if format == "int32" {
                "integer"
            } else {
                "bigint"
            };
            let bound = |key: &str, exclusive: &str, step: i64| -> Option<i64> {
                let v = schema.get(key)?.as_f64()?;
                if v.fract() != 0.0 || v.abs() > 9.0e15 {
                    return None;
                }
                let v = v as i64;
                match schema.get(exclusive) {
                    Some(Value::Bool(true)) => Some(v + step),
                    _ => Some(v),
                }
            };
            f.min = bound("minimum", "exclusiveMinimum", 1).map(Num::Int);
            f.max = bound("maximum", "exclusiveMaximum", -1).map(Num::Int);
            if f.ty == "integer" {
                let fits = |n: &Option<Num>| match n {
                    Some(Num::Int(v)) => i32::try_from(*v).is_ok(),
                    _ => true,
                };
                if !fits(&f.min) || !fits(&f.max) {
                    f.ty = "bigint";
                }
            }
            if schema.get("enum").is_some() {
                loose.push(format!("`{name}`: its integer `enum` is not checked"));
            }
            if schema.get("multipleOf").is_some() {
                loose.push(format!("`{name}`: `multipleOf` is not checked"));
            }
        }
        "number" => {
            f.ty = "float";
            f.min = schema
                .get("minimum")
                .and_then(Value::as_f64)
                .map(Num::Float);
            f.max = schema
                .get("maximum")
                .and_then(Value::as_f64)
                .map(Num::Float);
            for key in ["exclusiveMinimum", "exclusiveMaximum"] {
                if schema.get(key) == Some(&Value::Bool(true)) {
                    loose.push(format!(
                        "`{name}`: `{key}` is checked as an inclusive bound"
                    ));
                }
            }
            if schema.get("multipleOf").is_some() {
                loose.push(format!("`{name}`: `multipleOf` is not checked"));
            }
        }
        "boolean" => f.ty = "boolean",
        "array" => {
            let nested = schema
                .get("items")
                .and_then(|i| deref(root, i).ok())
                .and_then(|(i, _)| i.get("type"))
                .and_then(Value::as_str)
                == Some("array");
            return Err(if nested {
                "is an array of arrays".into()
            } else {
                "is an array".into()
            });
        }
        "object" => {
            let map = schema.get("properties").is_none()
                && !matches!(
                    schema.get("additionalProperties"),
                    None | Some(Value::Bool(false))
                );
            return Err(if map {
                "is a map (`additionalProperties`)".into()
            } else {
                match r {
                    Some(r) => format!("is a nested object (`{}`)", ref_name(r)),
                    None => "is a nested object".into(),
                }
            });
        }
        "file" => return Err("is a file upload".into()),
        other => return Err(format!("has the unknown type `{other}`")),
    }
    Ok((f, loose))
}

impl Field {
    pub fn plain(name: &str, ty: &'static str) -> Field {
        Field {
            name: name.to_string(),
            ty,
            required: None,
            max_length: None,
            min_length: None,
            pattern: None,
            min: None,
            max: None,
            values: Vec::new(),
        }
    }
}
