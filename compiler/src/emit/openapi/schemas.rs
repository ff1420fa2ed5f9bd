//! The JSON schemas of the documents: resources as read and as written, field
//! values, lists, errors.

use super::*;

pub(super) fn typed(kind: oa::Type) -> oa::Schema {
    oa::Schema {
        schema_data: oa::SchemaData::default(),
        schema_kind: oa::SchemaKind::Type(kind),
    }
}

pub(super) fn string_schema() -> oa::StringType {
    oa::StringType::default()
}

pub(super) fn int64_schema(minimum: Option<i64>) -> oa::Schema {
    typed(oa::Type::Integer(oa::IntegerType {
        format: oa::VariantOrUnknownOrEmpty::Item(oa::IntegerFormat::Int64),
        minimum,
        ..Default::default()
    }))
}

pub(super) fn array_of(items: ReferenceOr<Box<oa::Schema>>) -> oa::Schema {
    typed(oa::Type::Array(oa::ArrayType {
        items: Some(items),
        min_items: None,
        max_items: None,
        unique_items: false,
    }))
}

pub(super) fn object(
    properties: IndexMap<String, ReferenceOr<Box<oa::Schema>>>,
    required: Vec<String>,
) -> oa::Schema {
    typed(oa::Type::Object(oa::ObjectType {
        properties,
        required,
        ..Default::default()
    }))
}

/// `{"<key>": <inner>}`.
pub(super) fn wrapper_schema(key: &str, inner: ReferenceOr<Box<oa::Schema>>) -> oa::Schema {
    let mut props = IndexMap::new();
    props.insert(key.to_string(), inner);
    object(props, vec![key.to_string()])
}

/// `{"error": {"status", "code", "message", "fields"?}}`, the backend's one error body.
pub(super) fn error_schema() -> oa::Schema {
    let described = |mut s: oa::Schema, d: &str| {
        s.schema_data.description = Some(d.to_string());
        ReferenceOr::Item(Box::new(s))
    };
    let mut inner = IndexMap::new();
    inner.insert(
        "status".to_string(),
        described(
            typed(oa::Type::Integer(oa::IntegerType::default())),
            "The HTTP status code.",
        ),
    );
    inner.insert(
        "code".to_string(),
        described(
            typed(oa::Type::String(string_schema())),
            "Stable machine-readable code (`not_found`, `invalid`, …).",
        ),
    );
    inner.insert(
        "message".to_string(),
        described(
            typed(oa::Type::String(string_schema())),
            "Human-readable explanation.",
        ),
    );
    let messages = array_of(ReferenceOr::Item(Box::new(typed(oa::Type::String(
        string_schema(),
    )))));
    let mut fields = object(IndexMap::new(), Vec::new());
    if let oa::SchemaKind::Type(oa::Type::Object(obj)) = &mut fields.schema_kind {
        obj.additional_properties = Some(oa::AdditionalProperties::Schema(Box::new(
            ReferenceOr::Item(messages),
        )));
    }
    inner.insert(
        "fields".to_string(),
        described(
            fields,
            "Messages per failing field (400, 409 and 422 only).",
        ),
    );
    let body = object(
        inner,
        vec!["status".into(), "code".into(), "message".into()],
    );
    wrapper_schema("error", ReferenceOr::Item(Box::new(body)))
}

/// The JSON schema of one user field's value.
pub(crate) fn field_value_schema(ty: &FieldType) -> oa::Schema {
    use oa::VariantOrUnknownOrEmpty::{Item, Unknown};
    match ty {
        FieldType::String {
            max_length,
            min_length,
            pattern,
        } => typed(oa::Type::String(oa::StringType {
            max_length: Some(*max_length as usize),
            min_length: min_length.map(|n| n as usize),
            pattern: pattern.clone(),
            ..Default::default()
        })),
        FieldType::Text {
            min_length,
            max_length,
        } => typed(oa::Type::String(oa::StringType {
            max_length: max_length.map(|n| n as usize),
            min_length: min_length.map(|n| n as usize),
            ..Default::default()
        })),
        FieldType::Integer { min, max } => typed(oa::Type::Integer(oa::IntegerType {
            format: Item(oa::IntegerFormat::Int32),
            minimum: Some(min.unwrap_or(i32::MIN as i64)),
            maximum: Some(max.unwrap_or(i32::MAX as i64)),
            ..Default::default()
        })),
        FieldType::BigInt { min, max } => typed(oa::Type::Integer(oa::IntegerType {
            format: Item(oa::IntegerFormat::Int64),
            minimum: *min,
            maximum: *max,
            ..Default::default()
        })),
        FieldType::Boolean => typed(oa::Type::Boolean(oa::BooleanType::default())),
        FieldType::Decimal {
            precision,
            scale,
            min,
            max,
        } => {
            let mut s = typed(oa::Type::String(oa::StringType {
                format: Unknown("decimal".into()),
                pattern: Some(decimal_pattern(*precision, *scale)),
                ..Default::default()
            }));
            let mut desc = format!(
                "Exact decimal as a string, up to {precision} digits, {scale} after the point"
            );
            match (min, max) {
                (Some(lo), Some(hi)) => desc.push_str(&format!(", from {lo} to {hi}")),
                (Some(lo), None) => desc.push_str(&format!(", at least {lo}")),
                (None, Some(hi)) => desc.push_str(&format!(", at most {hi}")),
                (None, None) => {}
            }
            desc.push('.');
            s.schema_data.description = Some(desc);
            s
        }
        FieldType::Float { min, max } => typed(oa::Type::Number(oa::NumberType {
            format: Item(oa::NumberFormat::Double),
            minimum: *min,
            maximum: *max,
            ..Default::default()
        })),
        FieldType::Timestamp => typed(oa::Type::String(oa::StringType {
            format: Item(oa::StringFormat::DateTime),
            ..Default::default()
        })),
        FieldType::Date => typed(oa::Type::String(oa::StringType {
            format: Item(oa::StringFormat::Date),
            ..Default::default()
        })),
        FieldType::Uuid => typed(oa::Type::String(oa::StringType {
            format: Unknown("uuid".into()),
            ..Default::default()
        })),
        FieldType::Enum { values } => typed(oa::Type::String(oa::StringType {
            enumeration: values.iter().cloned().map(Some).collect(),
            ..Default::default()
        })),
    }
}

/// `^-?[0-9]{1,8}(\.[0-9]{1,2})?$` for `decimal(10, 2)`.
pub(crate) fn decimal_pattern(precision: u32, scale: u32) -> String {
    let int_digits = precision.saturating_sub(scale);
    let int_part = if int_digits == 0 {
        "0".to_string()
    } else {
        format!("[0-9]{{1,{int_digits}}}")
    };
    if scale == 0 {
        format!("^-?{int_part}$")
    } else {
        format!("^-?{int_part}(\\.[0-9]{{1,{scale}}})?$")
    }
}

pub(super) fn nullable(mut s: oa::Schema, is_nullable: bool) -> oa::Schema {
    s.schema_data.nullable = is_nullable;
    s
}

/// The resource's JSON object: members in [`Resource::json`] order; every member is
/// always present (optional values are `null`).
pub(super) fn object_schema(model: &Model, resource: &Resource, embedded: bool) -> oa::Schema {
    let mut props = IndexMap::new();
    for member in &resource.json {
        match member {
            JsonMember::Id => {
                let mut s = int64_schema(Some(1));
                s.schema_data.read_only = true;
                props.insert("id".to_string(), ReferenceOr::Item(Box::new(s)));
            }
            JsonMember::Field(snake) => {
                let field = resource.field(snake).expect("json field exists");
                let s = nullable(field_value_schema(&field.ty), !field.required);
                props.insert(field.wire.clone(), ReferenceOr::Item(Box::new(s)));
            }
            JsonMember::ForeignKey(rel) => {
                let b = resource.belongs_to(rel).expect("json relation exists");
                let s = nullable(int64_schema(Some(1)), !b.required);
                props.insert(b.column.clone(), ReferenceOr::Item(Box::new(s)));
            }
            JsonMember::HasMany(rel) => {
                if embedded {
                    continue;
                }
                let h = resource.has_many(rel).expect("json relation exists");
                let child = model.resource(&h.target);
                let role = if needs_embedded_form(child) {
                    SchemaRole::Embedded
                } else {
                    SchemaRole::Object
                };
                let s = array_of(boxed_ref(&schema_name(child, role)));
                props.insert(h.name.snake.clone(), ReferenceOr::Item(Box::new(s)));
            }
        }
    }
    let required = props.keys().cloned().collect();
    object(props, required)
}

/// A create/replace (`patch = false`) or partial-update (`patch = true`) payload: the
/// writable fields and the belongs-to keys, less the one a nested route takes from
/// its path.
pub(super) fn input_schema(
    resource: &Resource,
    from_path: Option<&str>,
    patch: bool,
) -> oa::Schema {
    let mut props = IndexMap::new();
    let mut required = Vec::new();
    let owner = resource.owner.as_ref().map(|o| o.column.as_str());
    for field in resource.fields.iter().filter(|f| f.writable) {
        let mut s = nullable(field_value_schema(&field.ty), !field.required);
        if owner == Some(field.column.as_str()) {
            // Routes that take a user token set it from the token; only internal
            // routes read it, and their creates need it.
            s.schema_data.description = Some(
                "The user this row belongs to. Routes that take a user token set it from \
                 the token and ignore a value given here; internal routes must give it on \
                 create."
                    .to_string(),
            );
            props.insert(field.wire.clone(), ReferenceOr::Item(Box::new(s)));
            continue;
        }
        props.insert(field.wire.clone(), ReferenceOr::Item(Box::new(s)));
        if !patch && field.required && field.default.is_none() {
            required.push(field.wire.clone());
        }
    }
    for b in &resource.belongs_to {
        if Some(b.name.snake.as_str()) == from_path {
            continue;
        }
        let s = nullable(int64_schema(Some(1)), !b.required);
        props.insert(b.column.clone(), ReferenceOr::Item(Box::new(s)));
        if !patch && b.required {
            required.push(b.column.clone());
        }
    }
    let mut s = object(props, required);
    if let oa::SchemaKind::Type(oa::Type::Object(obj)) = &mut s.schema_kind {
        obj.additional_properties = Some(oa::AdditionalProperties::Any(false));
    }
    s
}

/// An operation's field table as a JSON object: required members are listed as such,
/// others may be absent or `null`; nothing else is accepted.
pub(super) fn fields_schema(fields: &[Field]) -> oa::Schema {
    let mut props = IndexMap::new();
    let mut required = Vec::new();
    for field in fields {
        let s = nullable(field_value_schema(&field.ty), !field.required);
        props.insert(field.wire.clone(), ReferenceOr::Item(Box::new(s)));
        if field.required && field.default.is_none() {
            required.push(field.wire.clone());
        }
    }
    let mut s = object(props, required);
    if let oa::SchemaKind::Type(oa::Type::Object(obj)) = &mut s.schema_kind {
        obj.additional_properties = Some(oa::AdditionalProperties::Any(false));
    }
    s
}
