//! The rules of a table's writable fields, and the check of create/update payloads.
//!
//! Generated code declares a [`Table`]: its SQL name, its URL, and one [`FieldSpec`]
//! per writable column (user fields and `belongs_to` foreign keys) with the spec's
//! constraints. [`Table::validate`] checks a JSON object against it and returns the
//! columns to write as bound [`Value`]s, or one 422 that names every failing field.
//! Nothing here touches the database: foreign-key existence and uniqueness are checked
//! by [`crate::crud`] when writing.

use crate::error::{ApiError, FieldErrors};
use crate::extract::JsonBody;
use crate::types::{Date, Decimal, Timestamp, Uuid};
use crate::value::{SqlType, Value};
use regex::Regex;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// A table and the rules of its writable columns.
#[derive(Debug)]
pub struct Table {
    /// SQL table (`products`).
    pub name: &'static str,
    /// Singular name (`product`): error messages and the optional `{"product": {…}}`
    /// wrapper of request bodies.
    pub singular: &'static str,
    /// Plural name (`products`): the key of list bodies (`{"products": [...]}`).
    pub plural: &'static str,
    /// Collection path (`/products`), for `Location` headers.
    pub path: &'static str,
    /// In column order.
    pub fields: &'static [FieldSpec],
}

/// One writable column: its JSON key (= column name), type and constraints.
#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// Must be present (and not null) on create.
    pub required: bool,
    /// A database unique constraint exists; a clash answers 409.
    pub unique: bool,
    /// Used on create when the payload leaves the field out.
    pub default: Option<DefaultValue>,
    /// False for read-only fields: present in a payload → 422.
    pub writable: bool,
}

/// A field's type and the constraints that go with it.
#[derive(Debug)]
pub enum Kind {
    /// Lengths count Unicode scalar values; `pattern` is a Rust regex.
    String {
        min_length: Option<u32>,
        max_length: Option<u32>,
        pattern: Option<&'static str>,
    },
    Text {
        min_length: Option<u32>,
        max_length: Option<u32>,
    },
    /// 32-bit; bounds default to the `i32` range.
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    BigInt {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    /// Exact; bounds are decimal strings.
    Decimal {
        precision: u32,
        scale: u32,
        min: Option<&'static str>,
        max: Option<&'static str>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Timestamp,
    Date,
    Uuid,
    Enum {
        values: &'static [&'static str],
    },
    /// A `belongs_to` foreign key: the id of a row of `table`, which must exist.
    Reference {
        table: &'static str,
        singular: &'static str,
    },
}

/// A field default from the spec.
#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    Str(&'static str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// The time (or date) of the insert.
    Now,
}

/// What a payload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST`: required fields must be there; absent ones take their default.
    Create,
    /// `PUT`: a full replacement, same rules as create.
    Replace,
    /// `PATCH`: only the fields present change.
    Update,
}

/// One column to write.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub field: &'static FieldSpec,
    pub value: Value,
}

impl Table {
    /// `404 {singular} {id} not found`.
    pub fn not_found(&self, id: i64) -> ApiError {
        ApiError::not_found(self.singular, id)
    }

    /// The field with this JSON key.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        // `fields` is `'static`, so the element is too.
        let fields: &'static [FieldSpec] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    /// Checks `body` and returns the columns to write, in column order.
    pub fn validate(&self, body: JsonBody, mode: Mode) -> Result<Vec<Assignment>, ApiError> {
        self.validate_with(body, mode, &[])
    }

    /// Like [`Table::validate`], with some columns fixed by the route
    /// (`POST /products/{id}/reviews` fixes `product_id`; an owned route, the owner);
    /// the payload may not set them.
    pub fn validate_with(
        &self,
        body: JsonBody,
        mode: Mode,
        fixed: &[(&str, Value)],
    ) -> Result<Vec<Assignment>, ApiError> {
        let object = self.unwrap_body(body.0);
        let mut errors = FieldErrors::new();
        let fields: &'static [FieldSpec] = self.fields;
        for key in object.keys() {
            if self.field(key).is_none() {
                push(&mut errors, key, "is not a field of this resource");
            }
        }
        let mut out = Vec::new();
        for field in fields {
            if let Some((_, value)) = fixed.iter().find(|(name, _)| *name == field.name) {
                // A parent's foreign key comes from the path: giving it is an error.
                // The only other fixed column is an owned route's owner, from the
                // user token: a value in the body is ignored (never stored), so the
                // JSON a client read can be sent back as it is.
                // It is still checked like any value, so the body the document
                // describes is the body accepted.
                match object.get(field.name) {
                    Some(_) if matches!(field.kind, Kind::Reference { .. }) => push(
                        &mut errors,
                        field.name,
                        "is set by the URL and cannot be given",
                    ),
                    Some(Json::Null) => push(&mut errors, field.name, "must not be null"),
                    Some(json) => {
                        if let Err(message) = field.kind.check(json) {
                            push(&mut errors, field.name, &message);
                        }
                    }
                    None => {}
                }
                out.push(Assignment {
                    field,
                    value: value.clone(),
                });
                continue;
            }
            match object.get(field.name) {
                Some(_) if !field.writable => push(&mut errors, field.name, "is read-only"),
                Some(Json::Null) if field.required => {
                    push(&mut errors, field.name, "must not be null")
                }
                Some(Json::Null) => out.push(Assignment {
                    field,
                    value: Value::Null(field.kind.sql_type()),
                }),
                Some(json) => match field.kind.check(json) {
                    Ok(value) => out.push(Assignment { field, value }),
                    Err(message) => push(&mut errors, field.name, &message),
                },
                None if mode == Mode::Update => {}
                None => match field.default {
                    Some(default) => out.push(Assignment {
                        field,
                        value: field.kind.default_value(default),
                    }),
                    None if field.required && field.writable => {
                        push(&mut errors, field.name, "is required")
                    }
                    None if mode == Mode::Replace && field.writable => out.push(Assignment {
                        field,
                        value: Value::Null(field.kind.sql_type()),
                    }),
                    None => {}
                },
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ApiError::Invalid(errors))
        }
    }

    /// Accepts `{"product": {…}}` as well as the bare object, like Rails does.
    fn unwrap_body(&self, mut object: Map<String, Json>) -> Map<String, Json> {
        if object.len() == 1
            && self.field(self.singular).is_none()
            && matches!(object.get(self.singular), Some(Json::Object(_)))
            && let Some(Json::Object(inner)) = object.remove(self.singular)
        {
            return inner;
        }
        object
    }
}

fn push(errors: &mut FieldErrors, field: &str, message: &str) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(message.to_string());
}

impl FieldSpec {
    /// Parses a query-string value (`?rate=5`) for an equality filter; the error is
    /// the message for the 400.
    pub(crate) fn parse_text(&self, text: &str) -> Result<Value, String> {
        let json = match &self.kind {
            Kind::Integer { .. } | Kind::BigInt { .. } | Kind::Reference { .. } => text
                .parse::<i64>()
                .map(Json::from)
                .map_err(|_| "must be an integer".to_string())?,
            Kind::Float { .. } => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .ok_or_else(|| "must be a number".to_string())?,
            Kind::Boolean => match text {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ => return Err("must be `true` or `false`".to_string()),
            },
            _ => Json::String(text.to_string()),
        };
        // A filter value need not satisfy length/range rules to be searched for, but it
        // must be of the field's type; ranges are checked to keep values bindable.
        self.kind.check(&json)
    }
}

impl Kind {
    /// The type of this column's NULL.
    pub fn sql_type(&self) -> SqlType {
        match self {
            Kind::String { .. } | Kind::Text { .. } | Kind::Enum { .. } => SqlType::Text,
            Kind::Integer { .. } | Kind::BigInt { .. } | Kind::Reference { .. } => SqlType::Int,
            Kind::Boolean => SqlType::Bool,
            Kind::Decimal { precision, .. } => SqlType::Decimal {
                precision: *precision,
            },
            Kind::Float { .. } => SqlType::Float,
            Kind::Timestamp => SqlType::Timestamp,
            Kind::Date => SqlType::Date,
            Kind::Uuid => SqlType::Uuid,
        }
    }

    pub(crate) fn default_value(&self, default: DefaultValue) -> Value {
        let json = match default {
            DefaultValue::Now => {
                return match self {
                    Kind::Date => Value::Date(Date::today()),
                    _ => Value::Timestamp(Timestamp::now()),
                };
            }
            DefaultValue::Str(s) => Json::String(s.to_string()),
            DefaultValue::Int(i) => Json::from(i),
            DefaultValue::Float(f) => {
                serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
            }
            DefaultValue::Bool(b) => Json::Bool(b),
        };
        // Defaults were checked against the field's rules by shopgen.
        self.check(&json)
            .unwrap_or_else(|_| Value::Null(self.sql_type()))
    }

    /// Checks one JSON value against the type and constraints; the bound value or
    /// the message for the 422.
    pub(crate) fn check(&self, json: &Json) -> Result<Value, String> {
        match self {
            Kind::String {
                min_length,
                max_length,
                pattern,
            } => {
                let s = check_text(json, *min_length, *max_length)?;
                if let Some(pattern) = pattern {
                    let re = regex(pattern)?;
                    if !re.is_match(&s) {
                        return Err(format!("must match the pattern `{pattern}`"));
                    }
                }
                Ok(Value::Text(s))
            }
            Kind::Text {
                min_length,
                max_length,
            } => check_text(json, *min_length, *max_length).map(Value::Text),
            Kind::Integer { min, max } => check_int(
                json,
                min.unwrap_or(i64::from(i32::MIN)),
                max.unwrap_or(i64::from(i32::MAX)),
            ),
            Kind::BigInt { min, max } => {
                check_int(json, min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX))
            }
            Kind::Reference { .. } => match json.as_i64() {
                Some(id) if id >= 1 => Ok(Value::Int(id)),
                _ => Err("must be the id of an existing record (a positive integer)".into()),
            },
            Kind::Boolean => json
                .as_bool()
                .map(Value::Bool)
                .ok_or_else(|| "must be `true` or `false`".to_string()),
            Kind::Decimal {
                precision,
                scale,
                min,
                max,
            } => check_decimal(json, *precision, *scale, *min, *max),
            Kind::Float { min, max } => {
                let f = json
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| "must be a number".to_string())?;
                if let Some(min) = min
                    && f < *min
                {
                    return Err(format!("must be at least {min}"));
                }
                if let Some(max) = max
                    && f > *max
                {
                    return Err(format!("must be at most {max}"));
                }
                Ok(Value::Float(f))
            }
            Kind::Timestamp => json
                .as_str()
                .and_then(Timestamp::parse)
                .map(Value::Timestamp)
                .ok_or_else(|| "must be an RFC 3339 timestamp".to_string()),
            Kind::Date => json
                .as_str()
                .and_then(Date::parse)
                .map(Value::Date)
                .ok_or_else(|| "must be a date (YYYY-MM-DD)".to_string()),
            Kind::Uuid => json
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .map(Value::Uuid)
                .ok_or_else(|| "must be a UUID".to_string()),
            Kind::Enum { values } => match json.as_str() {
                Some(s) if values.contains(&s) => Ok(Value::Text(s.to_string())),
                _ => Err(format!(
                    "must be one of {}",
                    values
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

fn check_text(json: &Json, min: Option<u32>, max: Option<u32>) -> Result<String, String> {
    let s = json
        .as_str()
        .ok_or_else(|| "must be a string".to_string())?;
    if s.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    let len = s.chars().count();
    if let Some(min) = min
        && len < min as usize
    {
        return Err(format!("must be at least {min} characters"));
    }
    if let Some(max) = max
        && len > max as usize
    {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(s.to_string())
}

fn check_int(json: &Json, min: i64, max: i64) -> Result<Value, String> {
    let i = json
        .as_i64()
        .ok_or_else(|| "must be an integer".to_string())?;
    if i < min {
        return Err(format!("must be at least {min}"));
    }
    if i > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(Value::Int(i))
}

/// Exact decimal: a JSON string (`"83.84"`; a JSON number would have passed through
/// binary floating point on the way, so it is refused), at most `scale` places and
/// `precision - scale` integer digits, within bounds; returned at exactly `scale` places.
pub(crate) fn check_decimal(
    json: &Json,
    precision: u32,
    scale: u32,
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Value, String> {
    let Json::String(text) = json else {
        return Err("must be a decimal number as a string, like \"12.34\"".into());
    };
    let mut value = parse_decimal(text)
        .ok_or_else(|| "must be a decimal number as a string, like \"12.34\"".to_string())?;
    let normalized = value.normalize();
    if normalized.scale() > scale {
        return Err(format!("must have at most {scale} decimal places"));
    }
    let int_digits = normalized
        .trunc()
        .abs()
        .to_string()
        .trim_start_matches('0')
        .len() as u32;
    if int_digits > precision.saturating_sub(scale) {
        return Err(format!(
            "must have at most {} digits before the decimal point",
            precision.saturating_sub(scale)
        ));
    }
    if let Some(min) = min.and_then(parse_decimal)
        && value < min
    {
        return Err(format!("must be at least {min}"));
    }
    if let Some(max) = max.and_then(parse_decimal)
        && value > max
    {
        return Err(format!("must be at most {max}"));
    }
    value.rescale(scale);
    if value.scale() != scale {
        // rust_decimal holds 28 significant digits; a wider value cannot be kept exact.
        return Err(format!(
            "has more significant digits than this service can keep exactly ({})",
            shopgen_facts::decimal::MAX_PRECISION
        ));
    }
    Ok(Value::Decimal { value, precision })
}

fn parse_decimal(text: &str) -> Option<Decimal> {
    let plain = text.strip_prefix('-').unwrap_or(text);
    let well_formed = !plain.is_empty()
        && plain.chars().all(|c| c.is_ascii_digit() || c == '.')
        && plain.chars().filter(|c| *c == '.').count() <= 1
        && !plain.starts_with('.')
        && !plain.ends_with('.');
    if !well_formed {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

/// Patterns are compiled once per process.
fn regex(pattern: &'static str) -> Result<Arc<Regex>, String> {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.read().ok().and_then(|m| m.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Arc::new(Regex::new(pattern).map_err(|e| format!("has an invalid pattern: {e}"))?);
    if let Ok(mut map) = cache.write() {
        map.insert(pattern, re.clone());
    }
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_are_exact_and_bounded() {
        let check = |v: Json| check_decimal(&v, 10, 2, Some("0"), None);
        let ok = |v: Json| match check(v) {
            Ok(Value::Decimal { value, .. }) => value.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(ok(json!("83.84")), "83.84");
        assert_eq!(ok(json!("83.8")), "83.80");
        assert_eq!(ok(json!("83.840")), "83.84");
        assert!(check(json!(83.84)).is_err(), "numbers are refused");
        assert_eq!(ok(json!("99999999.99")), "99999999.99");
        assert!(check(json!("100000000.00")).is_err());
        assert!(check(json!("1.234")).is_err());
        assert!(check(json!("-1")).is_err());
        assert!(check(json!("1e3")).is_err());
        assert!(check(json!(" 1")).is_err());
        assert!(check(json!(".5")).is_err());
        assert!(check(json!(true)).is_err());
    }

    static FIELDS: [FieldSpec; 2] = [
        FieldSpec {
            name: "title",
            kind: Kind::String {
                min_length: None,
                max_length: Some(3),
                pattern: Some("^[a-z]+$"),
            },
            required: true,
            unique: false,
            default: None,
            writable: true,
        },
        FieldSpec {
            name: "rate",
            kind: Kind::Integer {
                min: Some(1),
                max: Some(5),
            },
            required: false,
            unique: false,
            default: Some(DefaultValue::Int(3)),
            writable: true,
        },
    ];
    static TABLE: Table = Table {
        name: "things",
        singular: "thing",
        plural: "things",
        path: "/things",
        fields: &FIELDS,
    };

    fn body(v: Json) -> JsonBody {
        match v {
            Json::Object(m) => JsonBody(m),
            _ => panic!("object"),
        }
    }

    #[test]
    fn every_failing_field_is_named() {
        let err = TABLE
            .validate(
                body(json!({"title": "ABCD", "rate": 9, "x": 1})),
                Mode::Create,
            )
            .unwrap_err();
        let ApiError::Invalid(fields) = err else {
            panic!("422 expected")
        };
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            vec!["rate", "title", "x"]
        );
        assert_eq!(fields["title"].len(), 1, "{fields:?}");
    }

    #[test]
    fn defaults_wrappers_and_partial_updates() {
        let values = TABLE
            .validate(body(json!({"thing": {"title": "ab"}})), Mode::Create)
            .expect("valid");
        assert_eq!(values[1].value, Value::Int(3));
        let values = TABLE
            .validate(body(json!({"rate": 2})), Mode::Update)
            .expect("valid");
        assert_eq!(values.len(), 1);
        assert!(TABLE.validate(body(json!({})), Mode::Create).is_err());
        assert!(
            TABLE
                .validate(body(json!({"title": "ab", "rate": null})), Mode::Create)
                .is_ok()
        );
        assert!(
            TABLE
                .validate(body(json!({"title": null})), Mode::Update)
                .is_err()
        );
    }

    #[test]
    fn an_owned_routes_owner_is_the_callers_whatever_the_body_says() {
        // `title` stands for an owner column: a fixed string column.
        let fixed = [("title", Value::Text("alice".into()))];
        for mode in [Mode::Create, Mode::Update, Mode::Replace] {
            let values = TABLE
                .validate_with(body(json!({"title": "bob", "rate": 2})), mode, &fixed)
                .expect("valid");
            let owner = values
                .iter()
                .find(|a| a.field.name == "title")
                .expect("set");
            assert_eq!(owner.value, Value::Text("alice".into()), "{mode:?}");
            // Ignored, but still checked: a value the document refuses is refused.
            for bad in [json!(null), json!(7)] {
                assert!(
                    TABLE
                        .validate_with(body(json!({"title": bad, "rate": 2})), mode, &fixed)
                        .is_err(),
                    "{mode:?} {bad}"
                );
            }
        }
    }
}
