//! Lower: one checked field, of a resource or of an operation's parameters and shapes
//! → a [`Field`], with the defaults of its type. Shared by the lowering of resources
//! (`lower`) and of operations (`lower_operations`). Infallible: `check` has rejected
//! unknown types and values that do not fit them.

use super::names::names;
use super::{DefaultValue, Field, FieldType, Origin};
use crate::spec::{FieldSpec, Scalar, Sp};

/// One checked field (of a resource, or of an operation's parameters and shapes).
///
/// `upstream`: the field belongs to an existing service's route, and keeps its name
/// as the upstream spells it ([`Field::wire`]).
pub(super) fn lower_field(f: &FieldSpec, upstream: bool) -> Field {
    let ty_name = f.ty.as_ref().map_or("text", |t| t.value.as_str());
    let int = |v: &Option<Sp<Scalar>>| match v.as_ref().map(|v| &v.value) {
        Some(Scalar::Int(i)) => Some(*i),
        _ => None,
    };
    let float = |v: &Option<Sp<Scalar>>| match v.as_ref().map(|v| &v.value) {
        Some(Scalar::Int(i)) => Some(*i as f64),
        Some(Scalar::Float(x)) => Some(*x),
        _ => None,
    };
    let dec = |v: &Option<Sp<Scalar>>| match v.as_ref().map(|v| &v.value) {
        Some(Scalar::Int(i)) => Some(i.to_string()),
        Some(Scalar::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let len = |v: &Option<Sp<i64>>| v.as_ref().map(|v| v.value as u32);
    let digits = |v: &Option<Sp<i64>>, default: u32| {
        v.as_ref()
            .and_then(|v| u32::try_from(v.value).ok())
            .unwrap_or(default)
    };
    let ty = match ty_name {
        // Only an existing service's strings go without `max_length`: unbounded text.
        "string" if f.max_length.is_none() => FieldType::Text {
            min_length: len(&f.min_length),
            max_length: None,
        },
        "string" => FieldType::String {
            max_length: len(&f.max_length).unwrap_or(255),
            min_length: len(&f.min_length),
            pattern: f.pattern.as_ref().map(|p| p.value.clone()),
        },
        "integer" => FieldType::Integer {
            min: int(&f.min),
            max: int(&f.max),
        },
        "bigint" => FieldType::BigInt {
            min: int(&f.min),
            max: int(&f.max),
        },
        "boolean" => FieldType::Boolean,
        "decimal" => FieldType::Decimal {
            precision: digits(&f.precision, 10),
            scale: digits(&f.scale, 2),
            min: dec(&f.min),
            max: dec(&f.max),
        },
        "float" => FieldType::Float {
            min: float(&f.min),
            max: float(&f.max),
        },
        "timestamp" => FieldType::Timestamp,
        "date" => FieldType::Date,
        "uuid" => FieldType::Uuid,
        "enum" => FieldType::Enum {
            values: f
                .values
                .as_ref()
                .map(|v| v.value.iter().map(|x| x.value.clone()).collect())
                .unwrap_or_default(),
        },
        _ => FieldType::Text {
            min_length: len(&f.min_length),
            max_length: len(&f.max_length),
        },
    };
    let default = f.default.as_ref().map(|d| match (&ty, &d.value) {
        (FieldType::Timestamp, Scalar::Str(s)) if s == "now" => DefaultValue::Now,
        (FieldType::Date, Scalar::Str(s)) if s == "today" => DefaultValue::Now,
        (FieldType::Float { .. }, Scalar::Int(i)) => DefaultValue::Float(*i as f64),
        (FieldType::Decimal { .. }, Scalar::Int(i)) => DefaultValue::Str(i.to_string()),
        (_, Scalar::Str(s)) => DefaultValue::Str(s.clone()),
        (_, Scalar::Int(i)) => DefaultValue::Int(*i),
        (_, Scalar::Float(x)) => DefaultValue::Float(*x),
        (_, Scalar::Bool(b)) => DefaultValue::Bool(*b),
    });
    let fnames = names(&f.name.value);
    Field {
        wire: if upstream {
            f.name.value.clone()
        } else {
            fnames.snake.clone()
        },
        column: fnames.snake.clone(),
        names: fnames,
        ty,
        required: f.required.as_ref().is_none_or(|r| r.value),
        unique: f.unique.as_ref().is_some_and(|u| u.value),
        default,
        writable: !f.read_only.as_ref().is_some_and(|r| r.value),
        origin: Origin {
            path: f.path.clone(),
            span: f.name.span.clone(),
        },
    }
}
