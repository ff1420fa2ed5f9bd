//! Import, first step: the document's text → a JSON value and its dialect.
//!
//! JSON is read with serde_json and YAML with serde-saphyr (the YAML crate the
//! workspace already uses), both into `serde_json::Value`: the importer walks the
//! document as data, follows `$ref`s as JSON pointers, and needs no typed model of
//! either dialect. Syntax errors keep the reader's line and column.

use serde_json::Value;

use super::ImportError;

/// Which OpenAPI the document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Swagger 2.0: `swagger: "2.0"`, `basePath`, `definitions`, body parameters.
    Swagger2,
    /// OpenAPI 3.0.x: `servers`, `components`, `requestBody`.
    OpenApi30,
}

impl Dialect {
    /// `Swagger` or `OpenAPI`, the word the document's version follows.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Swagger2 => "Swagger",
            Dialect::OpenApi30 => "OpenAPI",
        }
    }
}

/// A read document: its root value and dialect.
pub struct Document {
    pub root: Value,
    pub dialect: Dialect,
    /// The version string as written (`3.0.3`, `2.0`).
    pub version: String,
}

/// Reads the text of a document: JSON when it starts with `{`, YAML otherwise.
pub fn read(text: &str) -> Result<Document, ImportError> {
    let trimmed = text.trim_start_matches('\u{feff}');
    let root: Value = if trimmed.trim_start().starts_with('{') {
        serde_json::from_str(trimmed).map_err(|e| ImportError::Syntax {
            line: e.line() as u64,
            column: e.column() as u64,
            message: json_message(&e),
            format: "JSON",
        })?
    } else {
        serde_saphyr::from_str(trimmed).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            ImportError::Syntax {
                line,
                column,
                message: yaml_message(&e),
                format: "YAML",
            }
        })?
    };
    let Value::Object(map) = &root else {
        return Err(ImportError::NotOpenApi(format!(
            "the document is {}, not a mapping with `openapi` or `swagger` at the top",
            kind(&root)
        )));
    };
    let version = |key: &str| match map.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (dialect, version) = if let Some(v) = version("openapi") {
        if v.starts_with("3.0") {
            (Dialect::OpenApi30, v)
        } else if v.starts_with("3.1") || v.starts_with("3.2") {
            return Err(ImportError::Unsupported31(v));
        } else {
            return Err(ImportError::NotOpenApi(format!(
                "`openapi: {v}` is no OpenAPI version shopgen reads (3.0.x, or Swagger 2.0)"
            )));
        }
    } else if let Some(v) = version("swagger") {
        if v == "2.0" || v == "2" {
            (Dialect::Swagger2, "2.0".to_string())
        } else {
            return Err(ImportError::NotOpenApi(format!(
                "`swagger: {v}` is no Swagger version shopgen reads (2.0)"
            )));
        }
    } else {
        let keys: Vec<&str> = map.keys().map(String::as_str).take(5).collect();
        return Err(ImportError::NotOpenApi(format!(
            "no `openapi` or `swagger` key at the top (it has {})",
            if keys.is_empty() {
                "no keys".to_string()
            } else {
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    };
    match map.get("paths") {
        None | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(ImportError::Invalid {
                pointer: "#/paths".into(),
                message: format!("`paths` is {}, not a mapping", kind(other)),
            });
        }
    }
    Ok(Document {
        root,
        dialect,
        version,
    })
}

/// serde_json's message without its own " at line L column C" suffix (the error
/// carries them apart).
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// serde-saphyr's message, first line only (it may append a rendered snippet).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let s = e.to_string();
    let first = s.lines().next().unwrap_or("").trim();
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    // "error: line 6 column 7: unclosed bracket" → "unclosed bracket" (the location
    // is given apart).
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((place, rest)) if place.contains(" column ") => rest,
        _ => first,
    };
    first.to_string()
}

/// What a value is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Follows `$ref`s (local JSON pointers, `#/components/schemas/Pet`) until a value
/// that is not one. Gives the value and the last reference followed, or why it
/// cannot (an external or dangling reference, a loop).
pub fn deref<'a>(root: &'a Value, v: &'a Value) -> Result<(&'a Value, Option<&'a str>), String> {
    let mut cur = v;
    let mut last = None;
    for _ in 0..32 {
        let Some(r) = cur.get("$ref").and_then(Value::as_str) else {
            return Ok((cur, last));
        };
        let Some(pointer) = r.strip_prefix('#') else {
            return Err(format!(
                "`$ref: {r}` points into another document (only local references are followed)"
            ));
        };
        let pointer = percent_decode(pointer);
        cur = root
            .pointer(&pointer)
            .ok_or_else(|| format!("`$ref: {r}` points at nothing in the document"))?;
        last = Some(r);
    }
    Err("`$ref`s that refer to each other in a loop".into())
}

/// JSON-pointer fragments may be percent-encoded (`%7B` for `{`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The last name of a `$ref` (`#/components/schemas/Pet` → `Pet`).
pub fn ref_name(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}
