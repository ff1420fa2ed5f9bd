//! Lower: `[operations.NAME]` → [`Operation`]s, sorted by name. Infallible: `check`
//! has rejected unknown methods, resources, types and undeclared path parameters.

use super::lower_field::lower_field;
use super::names::names;
use super::*;
use crate::spec::{OperationSpec, ShapeSpec};

/// `upstream`: the operations are an existing service's routes (names kept as it
/// spells them, no extension to implement them).
pub(super) fn lower_operations(specs: &[OperationSpec], upstream: bool) -> Vec<Operation> {
    let mut out: Vec<Operation> = specs.iter().map(|o| lower_operation(o, upstream)).collect();
    out.sort_by(|a, b| a.names.snake.cmp(&b.names.snake));
    out
}

fn method(m: &str) -> HttpMethod {
    match m {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn lower_operation(o: &OperationSpec, upstream: bool) -> Operation {
    let n = names(&o.name.value);
    let path = o
        .route
        .as_ref()
        .map_or_else(|| "/".to_string(), |p| p.value.clone());
    // Path parameters in the order the template names them.
    let mut params = Vec::new();
    for segment in path_params(&path) {
        if let Some(f) = o.params.iter().find(|f| f.name.value == segment) {
            params.push(lower_field(f, upstream));
        }
    }
    let query = o
        .query
        .iter()
        .map(|f| {
            let mut field = lower_field(f, upstream);
            // Query parameters are optional unless the spec says otherwise.
            field.required = f.required.as_ref().is_some_and(|r| r.value);
            field
        })
        .collect();
    let exposure = match o.exposure.as_ref().map(|e| e.value.as_str()) {
        Some("public") => Exposure::Public,
        _ => Exposure::Internal,
    };
    let m = method(o.method.as_ref().map_or("GET", |m| m.value.as_str()));
    Operation {
        operation_id: n.camel.clone(),
        summary: o.summary.as_ref().map_or_else(
            || {
                if upstream {
                    n.snake.clone()
                } else {
                    format!("{} (custom operation)", n.snake)
                }
            },
            |s| s.value.clone(),
        ),
        names: n,
        method: m,
        path,
        exposure,
        access: super::lower_auth::access(o.auth.as_ref()),
        params,
        query,
        body: o.body.as_ref().map(|s| lower_shape(s, upstream)),
        output: o.output.as_ref().map(|s| lower_shape(s, upstream)),
    }
}

fn lower_shape(s: &ShapeSpec, upstream: bool) -> Shape {
    match s {
        ShapeSpec::Fields(fields) => Shape::Fields(
            fields
                .value
                .iter()
                .map(|f| lower_field(f, upstream))
                .collect(),
        ),
        ShapeSpec::Resource(r) => Shape::Resource(names(&r.value).snake),
        ShapeSpec::List(r) => Shape::List(names(&r.value).snake),
    }
}
