//! Parse: `[operations.NAME]`, the custom routes a user implements in the extension
//! crate. Shape only (keys, value types); meaning is `check::operations`' job.

use toml::de::DeValue;

use super::reader::{Cx, Table, kind};
use super::{OperationSpec, ShapeSpec, Sp, keys, read_auth, read_fields};
use crate::diagnostics::{Code, Diagnostic};

/// Every `[operations.NAME]` table, in source order.
pub(super) fn read_operations(cx: &mut Cx, t: &Table) -> Vec<OperationSpec> {
    let mut out = Vec::new();
    for (name, span, value) in t.entries() {
        let path = t.path_of(name);
        match value.get_ref() {
            DeValue::Table(ot) => {
                let ot = Table::new(ot, value.span(), path.clone());
                ot.only(cx, keys::OPERATION);
                out.push(OperationSpec {
                    name: Sp::new(name.to_string(), span),
                    path,
                    span: ot.span.clone(),
                    method: ot.string(cx, "method"),
                    route: ot.string(cx, "path"),
                    exposure: ot.string(cx, "exposure"),
                    auth: read_auth(cx, &ot),
                    summary: ot.string(cx, "summary"),
                    params: ot
                        .table(cx, "params")
                        .map(|p| read_fields(cx, &p))
                        .unwrap_or_default(),
                    query: ot
                        .table(cx, "query")
                        .map(|q| read_fields(cx, &q))
                        .unwrap_or_default(),
                    body: read_shape(cx, &ot, "body"),
                    output: read_shape(cx, &ot, "output"),
                });
            }
            other => cx.diags.push(
                Diagnostic::new(
                    Code::E0103,
                    value.span(),
                    path,
                    format!("expected a table, found {}", kind(other)),
                )
                .hint(format!(
                    "declare the operation as `[operations.{name}]` with `method` and `path`"
                )),
            ),
        }
    }
    out
}

/// `body` / `output`: a field table, a resource name, or `[resource]`.
fn read_shape(cx: &mut Cx, t: &Table, key: &str) -> Option<ShapeSpec> {
    let v = t.get(key)?;
    let hint = if key == "body" {
        "write a resource name (`body = \"review\"`) or a field table (`body.note = \"text\"`)"
    } else {
        "write a resource name (`output = \"product\"`), a list of one (`output = [\"product\"]`) or a field table (`output.count = \"integer\"`)"
    };
    let shape_error = |cx: &mut Cx, span, found: &str| {
        cx.diags.push(
            Diagnostic::new(
                Code::E0103,
                span,
                t.path_of(key),
                format!("expected a resource name or a field table, found {found}"),
            )
            .hint(hint),
        );
    };
    match v.get_ref() {
        DeValue::String(s) => Some(ShapeSpec::Resource(Sp::new(s.to_string(), v.span()))),
        DeValue::Table(inner) => {
            let ft = Table::new(inner, v.span(), t.path_of(key));
            Some(ShapeSpec::Fields(Sp::new(read_fields(cx, &ft), v.span())))
        }
        DeValue::Array(items) if key == "output" => {
            let items: Vec<_> = items.iter().collect();
            match items.as_slice() {
                [one] => match one.get_ref() {
                    DeValue::String(s) => Some(ShapeSpec::List(Sp::new(s.to_string(), one.span()))),
                    other => {
                        shape_error(cx, one.span(), &format!("a list of {}", kind(other)));
                        None
                    }
                },
                _ => {
                    shape_error(cx, v.span(), &format!("a list of {} items", items.len()));
                    None
                }
            }
        }
        other => {
            shape_error(cx, v.span(), kind(other));
            None
        }
    }
}
