//! Import again: the document changed, the spec it made has been edited since.
//!
//! The spec is split at [`render::MARKER`]. Everything before it (service, upstream,
//! gcp, gateway, relay, the user's comments) is the user's and is kept byte for byte.
//! Everything after it is the document's and is written anew, except what the user
//! decides per route: `exposure` and `auth`, carried to the route with the same method
//! and path (or, when its path changed, the same name), which also keeps its name so
//! that quota costs and clients that use the operation id keep working. A route the
//! document no longer has disappears; when that route is exposed (`public`, or with
//! `auth`), nothing is written unless `--force` says to.

use toml::{Table, Value};

use super::ImportError;
use super::convert::{Converted, Names, Route};
use super::render::{self, Kept, MARKER, quote};

/// A route of the spec being replaced.
struct OldRoute {
    name: String,
    method: String,
    path: String,
    exposure: Option<String>,
    auth: Option<Value>,
    table: Table,
}

/// The user's part of `old`, what each new route keeps, and the changes made.
pub fn merge(
    old: &str,
    c: &mut Converted,
    force: bool,
) -> Result<(String, Vec<Kept>, Vec<String>), ImportError> {
    let parsed: Table = toml::from_str(old).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| crate::diagnostics::line_col(old, s.start))
            .unwrap_or((1, 1));
        ImportError::Existing(format!(
            "{line}:{col}: the spec to update is not valid TOML: {}",
            e.message()
        ))
    })?;
    if !parsed.contains_key("upstream") {
        return Err(ImportError::Existing(
            "the spec has no `[upstream]` table: it is not an existing service's spec, and an import would turn it into one; choose another --out".into(),
        ));
    }
    let preamble = preamble(old);
    if let Ok(p) = toml::from_str::<Table>(&preamble)
        && p.contains_key("operations")
    {
        return Err(ImportError::Existing(format!(
            "the spec declares operations above the line `{MARKER} …`: move them below it (they are then the document's) or out of the file"
        )));
    }
    let olds: Vec<OldRoute> = match parsed.get("operations") {
        Some(Value::Table(ops)) => ops
            .iter()
            .map(|(name, v)| {
                let t = v.as_table().cloned().unwrap_or_default();
                let s = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
                OldRoute {
                    name: name.clone(),
                    method: s("method").unwrap_or_default().to_ascii_uppercase(),
                    path: s("path").unwrap_or_default(),
                    exposure: s("exposure"),
                    auth: t.get("auth").cloned(),
                    table: t,
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    // Match by method and path first, then by name.
    let mut matched: Vec<Option<usize>> = vec![None; c.routes.len()];
    let mut used = vec![false; olds.len()];
    for (i, r) in c.routes.iter().enumerate() {
        if let Some(j) = olds
            .iter()
            .enumerate()
            .position(|(j, o)| !used[j] && o.method == r.method && o.path == r.path)
        {
            matched[i] = Some(j);
            used[j] = true;
        }
    }
    for (i, r) in c.routes.iter().enumerate() {
        if matched[i].is_none()
            && let Some(j) = olds
                .iter()
                .enumerate()
                .position(|(j, o)| !used[j] && o.name == r.name)
        {
            matched[i] = Some(j);
            used[j] = true;
        }
    }
    let mut names = Names::default();
    for j in matched.iter().flatten() {
        names.reserve(&olds[*j].name);
    }
    for (i, r) in c.routes.iter_mut().enumerate() {
        r.name = match matched[i] {
            Some(j) => olds[j].name.clone(),
            None => names.claim(&r.name.clone()),
        };
    }
    let mut changes = Vec::new();
    let mut kept = Vec::new();
    for (i, r) in c.routes.iter().enumerate() {
        match matched[i] {
            None => {
                changes.push(format!(
                    "added operations.{} ({} {})",
                    r.name, r.method, r.path
                ));
                kept.push(Kept::default());
            }
            Some(j) => {
                let o = &olds[j];
                let differ = differing_keys(&o.table, r);
                if !differ.is_empty() {
                    changes.push(format!(
                        "updated operations.{} ({} {}): {}",
                        r.name,
                        r.method,
                        r.path,
                        differ.join(", ")
                    ));
                }
                kept.push(Kept {
                    exposure: o.exposure.as_deref().map(quote),
                    auth: o.auth.as_ref().map(value),
                });
            }
        }
    }
    let mut lost = Vec::new();
    for (j, o) in olds.iter().enumerate() {
        if used[j] {
            continue;
        }
        let exposed = o.exposure.as_deref() == Some("public") || o.auth.is_some();
        let line = format!(
            "removed operations.{} ({} {}){}",
            o.name,
            o.method,
            o.path,
            if exposed { ", which was public" } else { "" }
        );
        if exposed {
            lost.push(line.clone());
        }
        changes.push(line);
    }
    if !lost.is_empty() && !force {
        return Err(ImportError::WouldLose(lost));
    }
    Ok((preamble, kept, changes))
}

/// The text before the marker (or, in a spec without one, before the first
/// `[operations.…]` table), ending in one blank line.
fn preamble(old: &str) -> String {
    let mut end = old.len();
    let mut offset = 0;
    let mut first_op = None;
    for line in old.split_inclusive('\n') {
        if line.starts_with(MARKER) {
            end = offset;
            first_op = None;
            break;
        }
        if first_op.is_none() && line.trim_start().starts_with("[operations.") {
            first_op = Some(offset);
        }
        offset += line.len();
    }
    if let Some(o) = first_op {
        end = o;
    }
    let mut p = old[..end].trim_end().to_string();
    p.push_str("\n\n");
    p
}

/// Which of the document's keys of a route differ from what the spec has.
fn differing_keys(old: &Table, r: &Route) -> Vec<&'static str> {
    let new: Table = toml::from_str(&render::route_text(r)).unwrap_or_default();
    let new = new
        .get("operations")
        .and_then(Value::as_table)
        .and_then(|t| t.get(&r.name))
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default();
    [
        "method", "path", "summary", "params", "query", "body", "output",
    ]
    .into_iter()
    .filter(|k| old.get(*k) != new.get(*k))
    .collect()
}

/// A TOML value as inline text (`auth = [["firebase"], ["google"]]`).
fn value(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{} = {}", quote(k), value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
