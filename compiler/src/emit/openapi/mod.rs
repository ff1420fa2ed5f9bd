//! Emit: the OpenAPI documents, `openapi/gateway.yaml` and `openapi/api.yaml`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives two files:
//!
//! - `openapi/gateway.yaml`, the Google API Gateway config: **only the public routes**,
//!   each requiring the API key (an `apiKey` scheme in the header the model names), with
//!   the relay as the one backend. OpenAPI 3.0.3 (typed, through `openapiv3`) with the
//!   root `x-google-api-management.backends` map and `x-google-backend` naming it, or
//!   Swagger 2.0 with the object form of `x-google-backend`, as the spec chooses. The
//!   relay's host is only known after `terraform apply`, so the document carries the
//!   Terraform `templatefile` placeholder [`RELAY_HOST_PLACEHOLDER`] inside
//!   `https://…` URLs: a valid document as checked in, and again once filled in.
//! - `openapi/api.yaml`: the full internal API (every route), OpenAPI 3.0.3, which the
//!   backend embeds and serves as `/openapi.json`.
//!
//! Schemas mirror the backend's JSON: a resource object has the members of
//! [`Resource::json`] in order, one object is wrapped as `{"product": {...}}`, a list as
//! `{"products": [...]}`, and errors as `{"error": {"code", "message"}}`.

mod swagger2;

pub use swagger2::{Node, gateway_swagger2};

use super::{CommentSyntax, EmittedFile};
use crate::model::{
    Exposure, Field, FieldType, HttpMethod, JsonMember, Model, OpenApiDialect, Operation, Resource,
    Route, RouteKind, Shape,
};
use indexmap::IndexMap;
use openapiv3 as oa;
use openapiv3::ReferenceOr;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The Terraform `templatefile` variable holding the relay's host name
/// (`shop-api-relay-abc123-nw.a.run.app`); the only `${…}` sequence in `gateway.yaml`.
pub use shopgen_facts::gateway::RELAY_HOST_VAR;
/// How [`RELAY_HOST_VAR`] appears in the checked-in document.
pub const RELAY_HOST_PLACEHOLDER: &str = "${relay_host}";
/// The key naming the relay in `x-google-api-management.backends`.
pub const BACKEND_NAME: &str = "relay";
/// The security scheme (3.0) / security definition (2.0) holding the API key.
pub const API_KEY_SCHEME: &str = "api_key";
/// The document version written into `info.version`.
const API_VERSION: &str = "1.0.0";

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    let gateway = match model.gateway.dialect {
        OpenApiDialect::OpenApi30 => to_yaml(&gateway_openapi3(model)),
        OpenApiDialect::Swagger20 => to_yaml(&gateway_swagger2(model)),
    };
    vec![
        EmittedFile::new("openapi/gateway.yaml", gateway, CommentSyntax::Hash),
        EmittedFile::new(
            "openapi/api.yaml",
            to_yaml(&internal_openapi3(model)),
            CommentSyntax::Hash,
        ),
    ]
}

fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value)
        .unwrap_or_else(|e| panic!("internal error: OpenAPI document does not serialise: {e}"))
}

/// The relay's base URL as the gateway document spells it before Terraform fills it in.
pub fn relay_url_template() -> String {
    format!("https://{RELAY_HOST_PLACEHOLDER}")
}

// ---------------------------------------------------------------------------------
// Which routes and schemas a document holds
// ---------------------------------------------------------------------------------

/// The routes a document lists, and the component schemas they need.
struct Selection<'m> {
    routes: Vec<(&'m Resource, &'m Route)>,
    /// Custom operations (`[operations.NAME]`), by name.
    operations: Vec<&'m Operation>,
}

impl<'m> Selection<'m> {
    fn public(model: &'m Model) -> Self {
        Selection {
            routes: model.public_routes().collect(),
            operations: model
                .operations
                .iter()
                .filter(|o| o.exposure == Exposure::Public)
                .collect(),
        }
    }
    fn all(model: &'m Model) -> Self {
        Selection {
            routes: model.routes().collect(),
            operations: model.operations.iter().collect(),
        }
    }
}

/// Component schema names of an operation's field-table body and output.
fn operation_schema_name(op: &Operation, output: bool) -> String {
    if output {
        format!("{}Result", op.names.pascal)
    } else {
        format!("{}Body", op.names.pascal)
    }
}

/// Component schema names (`Product`, `ProductInput`, …), one place.
fn schema_name(resource: &Resource, role: SchemaRole) -> String {
    let base = &resource.names.pascal;
    match role {
        SchemaRole::Object => base.clone(),
        SchemaRole::Embedded => format!("{base}Summary"),
        SchemaRole::Input => format!("{base}Input"),
        SchemaRole::Patch => format!("{base}Patch"),
        SchemaRole::Response => format!("{base}Response"),
        SchemaRole::ListResponse => format!("{base}ListResponse"),
    }
}

/// The wrapped error body's schema name.
const ERROR_SCHEMA: &str = "ErrorResponse";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SchemaRole {
    /// The resource's JSON object.
    Object,
    /// The resource's JSON embedded in a parent (its own has-many members left out).
    Embedded,
    /// Create / replace payload.
    Input,
    /// Partial update payload.
    Patch,
    /// `{"product": {...}}`.
    Response,
    /// `{"products": [...]}`.
    ListResponse,
}

fn schema_ref(name: &str) -> ReferenceOr<oa::Schema> {
    ReferenceOr::Reference {
        reference: format!("#/components/schemas/{name}"),
    }
}

fn boxed_ref(name: &str) -> ReferenceOr<Box<oa::Schema>> {
    ReferenceOr::Reference {
        reference: format!("#/components/schemas/{name}"),
    }
}

/// Whether a resource's embedded form differs from its object (it has has-many members).
fn needs_embedded_form(resource: &Resource) -> bool {
    resource
        .json
        .iter()
        .any(|m| matches!(m, JsonMember::HasMany(_)))
}

/// Every component schema the selected routes reach, in a fixed order.
fn components_for(model: &Model, sel: &Selection<'_>) -> IndexMap<String, ReferenceOr<oa::Schema>> {
    // (resource snake, role): a BTreeSet fixes the order.
    let mut wanted = std::collections::BTreeSet::new();
    for (resource, route) in &sel.routes {
        match &route.kind {
            RouteKind::List => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::ListResponse));
            }
            RouteKind::Get | RouteKind::Update | RouteKind::Replace => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::Response));
            }
            RouteKind::Create => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::Response));
            }
            RouteKind::Delete => {}
            RouteKind::NestedList { .. } => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::ListResponse));
            }
            RouteKind::NestedCreate { .. } => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::Response));
            }
        }
        match &route.kind {
            RouteKind::Create | RouteKind::Replace => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::Input));
            }
            RouteKind::Update => {
                wanted.insert((resource.names.snake.clone(), SchemaRole::Patch));
            }
            _ => {}
        }
    }
    for op in &sel.operations {
        if let Some(Shape::Resource(r)) = &op.body {
            wanted.insert((r.clone(), SchemaRole::Input));
        }
        match &op.output {
            Some(Shape::Resource(r)) => {
                wanted.insert((r.clone(), SchemaRole::Response));
            }
            Some(Shape::List(r)) => {
                wanted.insert((r.clone(), SchemaRole::ListResponse));
            }
            _ => {}
        }
    }
    // Responses need the object, objects need their embedded children.
    let mut objects = std::collections::BTreeSet::new();
    for (snake, role) in &wanted {
        if matches!(role, SchemaRole::Response | SchemaRole::ListResponse) {
            objects.insert(snake.clone());
        }
    }
    let mut embedded = std::collections::BTreeSet::new();
    for snake in &objects {
        for member in &model.resource(snake).json {
            if let JsonMember::HasMany(rel) = member {
                let child = &model
                    .resource(snake)
                    .has_many(rel)
                    .expect("has_many")
                    .target;
                embedded.insert(child.clone());
            }
        }
    }
    for snake in objects {
        wanted.insert((snake, SchemaRole::Object));
    }
    for snake in embedded {
        let child = model.resource(&snake);
        let role = if needs_embedded_form(child) {
            SchemaRole::Embedded
        } else {
            SchemaRole::Object
        };
        wanted.insert((snake, role));
    }

    let mut out = IndexMap::new();
    // Resources in model order (sorted by name), roles in declaration order.
    for resource in &model.resources {
        for (snake, role) in &wanted {
            if snake != &resource.names.snake {
                continue;
            }
            let schema = match role {
                SchemaRole::Object => object_schema(model, resource, false),
                SchemaRole::Embedded => object_schema(model, resource, true),
                SchemaRole::Input => input_schema(resource, None, false),
                SchemaRole::Patch => input_schema(resource, None, true),
                SchemaRole::Response => wrapper_schema(
                    &resource.names.snake,
                    boxed_ref(&schema_name(resource, SchemaRole::Object)),
                ),
                SchemaRole::ListResponse => wrapper_schema(
                    &resource.plural.snake,
                    ReferenceOr::Item(Box::new(array_of(boxed_ref(&schema_name(
                        resource,
                        SchemaRole::Object,
                    ))))),
                ),
            };
            out.insert(schema_name(resource, *role), ReferenceOr::Item(schema));
        }
    }
    // Operations' own shapes, operations by name, body before output.
    for op in &sel.operations {
        for (shape, output) in [(&op.body, false), (&op.output, true)] {
            if let Some(Shape::Fields(fields)) = shape {
                out.insert(
                    operation_schema_name(op, output),
                    ReferenceOr::Item(fields_schema(fields)),
                );
            }
        }
    }
    // Nested-create payloads are inline (they drop the parent's key), so none here.
    out.insert(ERROR_SCHEMA.to_string(), ReferenceOr::Item(error_schema()));
    out
}

// ---------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------

fn typed(kind: oa::Type) -> oa::Schema {
    oa::Schema {
        schema_data: oa::SchemaData::default(),
        schema_kind: oa::SchemaKind::Type(kind),
    }
}

fn string_schema() -> oa::StringType {
    oa::StringType::default()
}

fn int64_schema(minimum: Option<i64>) -> oa::Schema {
    typed(oa::Type::Integer(oa::IntegerType {
        format: oa::VariantOrUnknownOrEmpty::Item(oa::IntegerFormat::Int64),
        minimum,
        ..Default::default()
    }))
}

fn array_of(items: ReferenceOr<Box<oa::Schema>>) -> oa::Schema {
    typed(oa::Type::Array(oa::ArrayType {
        items: Some(items),
        min_items: None,
        max_items: None,
        unique_items: false,
    }))
}

fn object(
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
fn wrapper_schema(key: &str, inner: ReferenceOr<Box<oa::Schema>>) -> oa::Schema {
    let mut props = IndexMap::new();
    props.insert(key.to_string(), inner);
    object(props, vec![key.to_string()])
}

/// `{"error": {"status", "code", "message", "fields"?}}`, the backend's one error body.
fn error_schema() -> oa::Schema {
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

fn nullable(mut s: oa::Schema, is_nullable: bool) -> oa::Schema {
    s.schema_data.nullable = is_nullable;
    s
}

/// The resource's JSON object: members in [`Resource::json`] order; every member is
/// always present (optional values are `null`).
fn object_schema(model: &Model, resource: &Resource, embedded: bool) -> oa::Schema {
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
                props.insert(field.names.snake.clone(), ReferenceOr::Item(Box::new(s)));
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
fn input_schema(resource: &Resource, from_path: Option<&str>, patch: bool) -> oa::Schema {
    let mut props = IndexMap::new();
    let mut required = Vec::new();
    for field in resource.fields.iter().filter(|f| f.writable) {
        let s = nullable(field_value_schema(&field.ty), !field.required);
        props.insert(field.names.snake.clone(), ReferenceOr::Item(Box::new(s)));
        if !patch && field.required && field.default.is_none() {
            required.push(field.names.snake.clone());
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
fn fields_schema(fields: &[Field]) -> oa::Schema {
    let mut props = IndexMap::new();
    let mut required = Vec::new();
    for field in fields {
        let s = nullable(field_value_schema(&field.ty), !field.required);
        props.insert(field.names.snake.clone(), ReferenceOr::Item(Box::new(s)));
        if field.required && field.default.is_none() {
            required.push(field.names.snake.clone());
        }
    }
    let mut s = object(props, required);
    if let oa::SchemaKind::Type(oa::Type::Object(obj)) = &mut s.schema_kind {
        obj.additional_properties = Some(oa::AdditionalProperties::Any(false));
    }
    s
}

// ---------------------------------------------------------------------------------
// Operations (OpenAPI 3.0)
// ---------------------------------------------------------------------------------

pub use crate::model::path_params;

fn json_content(schema: ReferenceOr<oa::Schema>) -> IndexMap<String, oa::MediaType> {
    let mut content = IndexMap::new();
    content.insert(
        "application/json".to_string(),
        oa::MediaType {
            schema: Some(schema),
            ..Default::default()
        },
    );
    content
}

fn response(
    description: &str,
    schema: Option<ReferenceOr<oa::Schema>>,
) -> ReferenceOr<oa::Response> {
    ReferenceOr::Item(oa::Response {
        description: description.to_string(),
        content: schema.map(json_content).unwrap_or_default(),
        ..Default::default()
    })
}

fn param_data(
    name: &str,
    description: &str,
    required: bool,
    schema: oa::Schema,
) -> oa::ParameterData {
    oa::ParameterData {
        name: name.to_string(),
        description: Some(description.to_string()),
        required,
        deprecated: None,
        format: oa::ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)),
        example: None,
        examples: IndexMap::new(),
        explode: None,
        extensions: IndexMap::new(),
    }
}

/// Query parameters of a list route: paging, sorting, equality filters.
fn list_params(resource: &Resource) -> Vec<oa::Parameter> {
    let mut params = Vec::new();
    let l = &resource.list;
    let mut limit = typed(oa::Type::Integer(oa::IntegerType {
        format: oa::VariantOrUnknownOrEmpty::Item(oa::IntegerFormat::Int32),
        minimum: Some(1),
        maximum: Some(l.max_limit as i64),
        ..Default::default()
    }));
    limit.schema_data.default = Some(serde_json::json!(l.default_limit));
    params.push(query(param_data(
        "limit",
        "Largest number of items to return.",
        false,
        limit,
    )));
    let offset = typed(oa::Type::Integer(oa::IntegerType {
        format: oa::VariantOrUnknownOrEmpty::Item(oa::IntegerFormat::Int64),
        minimum: Some(0),
        ..Default::default()
    }));
    params.push(query(param_data(
        "offset",
        "Number of items to skip.",
        false,
        offset,
    )));
    let mut keys = vec!["id".to_string()];
    keys.extend(l.sort.iter().filter(|s| s.as_str() != "id").cloned());
    let key = format!("-?({})", keys.join("|"));
    let sort = typed(oa::Type::String(oa::StringType {
        pattern: Some(format!("^{key}(,{key})*$")),
        ..Default::default()
    }));
    params.push(query(param_data(
        "sort",
        "Comma-separated sort keys; a leading `-` sorts descending; `id` breaks ties.",
        false,
        sort,
    )));
    for f in &l.filter {
        let schema = match resource.field(f) {
            Some(field) => field_value_schema(&field.ty),
            None => int64_schema(Some(1)),
        };
        params.push(query(param_data(
            f,
            &format!("Only items whose `{f}` equals this value."),
            false,
            schema,
        )));
    }
    params
}

fn query(data: oa::ParameterData) -> oa::Parameter {
    oa::Parameter::Query {
        parameter_data: data,
        allow_reserved: false,
        style: oa::QueryStyle::Form,
        allow_empty_value: None,
    }
}

/// One route as an OpenAPI 3.0 operation.
fn operation3(model: &Model, resource: &Resource, route: &Route, secured: bool) -> oa::Operation {
    let mut op = oa::Operation {
        operation_id: Some(route.operation_id.clone()),
        summary: Some(summary(model, resource, route)),
        tags: vec![resource.plural.snake.clone()],
        ..Default::default()
    };
    for name in path_params(&route.path) {
        op.parameters.push(ReferenceOr::Item(oa::Parameter::Path {
            parameter_data: param_data(name, "Numeric id.", true, int64_schema(Some(1))),
            style: oa::PathStyle::Simple,
        }));
    }
    if matches!(route.kind, RouteKind::List | RouteKind::NestedList { .. }) {
        for p in list_params(resource) {
            op.parameters.push(ReferenceOr::Item(p));
        }
    }
    let body = match &route.kind {
        RouteKind::Create | RouteKind::Replace => {
            Some(schema_ref(&schema_name(resource, SchemaRole::Input)))
        }
        RouteKind::Update => Some(schema_ref(&schema_name(resource, SchemaRole::Patch))),
        RouteKind::NestedCreate { relation } => Some(ReferenceOr::Item(input_schema(
            resource,
            Some(relation),
            false,
        ))),
        _ => None,
    };
    if let Some(schema) = body {
        op.request_body = Some(ReferenceOr::Item(oa::RequestBody {
            content: json_content(schema),
            required: true,
            ..Default::default()
        }));
    }
    let (code, desc, schema) = success(resource, route);
    op.responses.responses.insert(
        oa::StatusCode::Code(code),
        response(desc, schema.map(|s| schema_ref(&s))),
    );
    op.responses.default = Some(response("Error.", Some(schema_ref(ERROR_SCHEMA))));
    if secured {
        op.security = Some(vec![api_key_requirement()]);
    }
    op
}

/// A custom operation (`[operations.NAME]`) as an OpenAPI 3.0 operation.
fn custom_operation3(model: &Model, op: &Operation, secured: bool) -> oa::Operation {
    let mut out = oa::Operation {
        operation_id: Some(op.operation_id.clone()),
        summary: Some(op.summary.clone()),
        tags: vec!["operations".to_string()],
        ..Default::default()
    };
    for p in &op.params {
        out.parameters.push(ReferenceOr::Item(oa::Parameter::Path {
            parameter_data: param_data(
                &p.names.snake,
                "Path parameter.",
                true,
                field_value_schema(&p.ty),
            ),
            style: oa::PathStyle::Simple,
        }));
    }
    for q in &op.query {
        let mut schema = field_value_schema(&q.ty);
        if let Some(d) = &q.default {
            schema.schema_data.default = default_json(d);
        }
        out.parameters.push(ReferenceOr::Item(query(param_data(
            &q.names.snake,
            "Query parameter.",
            q.required,
            schema,
        ))));
    }
    let body = match &op.body {
        Some(Shape::Resource(r)) => Some(schema_ref(&schema_name(
            model.resource(r),
            SchemaRole::Input,
        ))),
        Some(Shape::Fields(_)) => Some(schema_ref(&operation_schema_name(op, false))),
        Some(Shape::List(_)) | None => None,
    };
    if let Some(schema) = body {
        out.request_body = Some(ReferenceOr::Item(oa::RequestBody {
            content: json_content(schema),
            required: true,
            ..Default::default()
        }));
    }
    let (code, desc, schema) = match &op.output {
        None => (204, "Done.", None),
        Some(Shape::Fields(_)) => (200, "The result.", Some(operation_schema_name(op, true))),
        Some(Shape::Resource(r)) => (
            200,
            "The item.",
            Some(schema_name(model.resource(r), SchemaRole::Response)),
        ),
        Some(Shape::List(r)) => (
            200,
            "The items.",
            Some(schema_name(model.resource(r), SchemaRole::ListResponse)),
        ),
    };
    out.responses.responses.insert(
        oa::StatusCode::Code(code),
        response(desc, schema.map(|s| schema_ref(&s))),
    );
    out.responses.default = Some(response("Error.", Some(schema_ref(ERROR_SCHEMA))));
    if secured {
        out.security = Some(vec![api_key_requirement()]);
    }
    out
}

fn default_json(d: &crate::model::DefaultValue) -> Option<serde_json::Value> {
    use crate::model::DefaultValue;
    match d {
        DefaultValue::Str(s) => Some(serde_json::json!(s)),
        DefaultValue::Int(i) => Some(serde_json::json!(i)),
        DefaultValue::Float(f) => Some(serde_json::json!(f)),
        DefaultValue::Bool(b) => Some(serde_json::json!(b)),
        DefaultValue::Now => None,
    }
}

/// The keyless `OPTIONS` operation API Gateway needs to pass a browser's CORS preflight
/// to the relay (which answers it): one per public path, named after the path's first
/// public operation.
fn preflight_operation(tag: &str, path: &str, operation_id: &str) -> oa::Operation {
    let mut op = oa::Operation {
        operation_id: Some(preflight_operation_id(operation_id)),
        summary: Some(format!("CORS preflight for {path}")),
        description: Some(
            "Needs no API key (browsers send none with a preflight); the relay answers it \
             itself, for the allowed origins only."
                .to_string(),
        ),
        tags: vec![tag.to_string()],
        security: Some(Vec::new()),
        ..Default::default()
    };
    for name in path_params(path) {
        op.parameters.push(ReferenceOr::Item(oa::Parameter::Path {
            parameter_data: param_data(
                name,
                "Path parameter.",
                true,
                typed(oa::Type::String(string_schema())),
            ),
            style: oa::PathStyle::Simple,
        }));
    }
    op.responses.responses.insert(
        oa::StatusCode::Code(204),
        response("Preflight answered: the CORS headers, no body.", None),
    );
    op
}

/// `listProducts` → `preflightListProducts`.
pub fn preflight_operation_id(operation_id: &str) -> String {
    let mut chars = operation_id.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase());
    format!(
        "preflight{}{}",
        first.map(String::from).unwrap_or_default(),
        chars.as_str()
    )
}

fn api_key_requirement() -> oa::SecurityRequirement {
    let mut req = IndexMap::new();
    req.insert(API_KEY_SCHEME.to_string(), Vec::new());
    req
}

/// (status, description, schema name) of a route's success response.
fn success(resource: &Resource, route: &Route) -> (u16, &'static str, Option<String>) {
    match route.kind {
        RouteKind::List | RouteKind::NestedList { .. } => (
            200,
            "The page of items.",
            Some(schema_name(resource, SchemaRole::ListResponse)),
        ),
        RouteKind::Get | RouteKind::Update | RouteKind::Replace => (
            200,
            "The item.",
            Some(schema_name(resource, SchemaRole::Response)),
        ),
        RouteKind::Create | RouteKind::NestedCreate { .. } => (
            201,
            "The created item.",
            Some(schema_name(resource, SchemaRole::Response)),
        ),
        RouteKind::Delete => (204, "Deleted.", None),
    }
}

fn summary(model: &Model, resource: &Resource, route: &Route) -> String {
    let one = &resource.names.snake;
    let many = &resource.plural.snake;
    match &route.kind {
        RouteKind::List => format!("List {many}"),
        RouteKind::Get => format!("Get one {one}"),
        RouteKind::Create => format!("Create a {one}"),
        RouteKind::Update => format!("Update some fields of a {one}"),
        RouteKind::Replace => format!("Replace a {one}"),
        RouteKind::Delete => format!("Delete a {one}"),
        RouteKind::NestedList { relation } | RouteKind::NestedCreate { relation } => {
            let parent = resource
                .belongs_to(relation)
                .map(|b| model.resource(&b.target).names.snake.clone())
                .unwrap_or_else(|| relation.clone());
            if matches!(route.kind, RouteKind::NestedList { .. }) {
                format!("List the {many} of one {parent}")
            } else {
                format!("Create a {one} of one {parent}")
            }
        }
    }
}

fn paths3(model: &Model, sel: &Selection<'_>, secured: bool) -> oa::Paths {
    let mut paths: IndexMap<String, ReferenceOr<oa::PathItem>> = IndexMap::new();
    for (resource, route) in &sel.routes {
        let entry = paths
            .entry(route.path.clone())
            .or_insert_with(|| ReferenceOr::Item(oa::PathItem::default()));
        let ReferenceOr::Item(item) = entry else {
            unreachable!("path items are built inline")
        };
        let mut op = operation3(model, resource, route, secured);
        if secured && let Some(quota) = &model.gateway.quota {
            op.extensions.insert(
                "x-google-quota".to_string(),
                serde_json::json!({ "metricCosts": { quota.metric.clone(): quota.cost(&route.operation_id) } }),
            );
        }
        if secured && model.gateway.cors.is_some() && item.options.is_none() {
            item.options = Some(preflight_operation(
                &resource.plural.snake,
                &route.path,
                &route.operation_id,
            ));
        }
        set_method(item, route.method, Some(op));
    }
    for op in &sel.operations {
        let entry = paths
            .entry(op.path.clone())
            .or_insert_with(|| ReferenceOr::Item(oa::PathItem::default()));
        let ReferenceOr::Item(item) = entry else {
            unreachable!("path items are built inline")
        };
        let mut out = custom_operation3(model, op, secured);
        if secured && let Some(quota) = &model.gateway.quota {
            out.extensions.insert(
                "x-google-quota".to_string(),
                serde_json::json!({ "metricCosts": { quota.metric.clone(): quota.cost(&op.operation_id) } }),
            );
        }
        if secured && model.gateway.cors.is_some() && item.options.is_none() {
            item.options = Some(preflight_operation(
                "operations",
                &op.path,
                &op.operation_id,
            ));
        }
        set_method(item, op.method, Some(out));
    }
    paths.sort_keys();
    oa::Paths {
        paths,
        extensions: IndexMap::new(),
    }
}

fn set_method(item: &mut oa::PathItem, method: HttpMethod, op: Option<oa::Operation>) {
    match method {
        HttpMethod::Get => item.get = op,
        HttpMethod::Post => item.post = op,
        HttpMethod::Put => item.put = op,
        HttpMethod::Patch => item.patch = op,
        HttpMethod::Delete => item.delete = op,
    }
}

fn info(model: &Model, what: &str) -> oa::Info {
    oa::Info {
        title: model.gateway.title.clone(),
        description: Some(format!(
            "{what} Generated by shopgen from {}.",
            model.source.display_path
        )),
        version: API_VERSION.to_string(),
        ..Default::default()
    }
}

/// The gateway document in OpenAPI 3.0.3.
pub fn gateway_openapi3(model: &Model) -> oa::OpenAPI {
    let sel = Selection::public(model);
    let mut schemes = IndexMap::new();
    schemes.insert(
        API_KEY_SCHEME.to_string(),
        ReferenceOr::Item(oa::SecurityScheme::APIKey {
            location: oa::APIKeyLocation::Header,
            name: model.gateway.api_key_header.clone(),
            description: Some("An API key of this project, restricted to this API.".into()),
            extensions: IndexMap::new(),
        }),
    );
    let mut extensions = IndexMap::new();
    let mut management = serde_json::json!({
        "backends": {
            BACKEND_NAME: {
                "address": relay_url_template(),
                "jwtAudience": relay_url_template(),
                "pathTranslation": "APPEND_PATH_TO_ADDRESS",
                "deadline": model.gateway.deadline_seconds,
                "protocol": "http/1.1",
            }
        }
    });
    if let Some(quota) = &model.gateway.quota {
        management["metrics"] = serde_json::json!({
            quota.metric.clone(): { "displayName": format!("{} requests", model.gateway.title) }
        });
        management["quota"] = serde_json::json!({
            "limits": {
                quota.limit.clone(): {
                    "metric": quota.metric,
                    "values": quota.requests_per_minute,
                }
            }
        });
    }
    extensions.insert("x-google-api-management".to_string(), management);
    extensions.insert(
        "x-google-backend".to_string(),
        serde_json::Value::String(BACKEND_NAME.into()),
    );
    oa::OpenAPI {
        openapi: "3.0.3".into(),
        info: info(
            model,
            if model.gateway.cors.is_some() {
                "The public routes, served through Google API Gateway; every operation needs an API key, except the CORS preflights (OPTIONS)."
            } else {
                "The public routes, served through Google API Gateway; every operation needs an API key."
            },
        ),
        paths: paths3(model, &sel, true),
        components: Some(oa::Components {
            schemas: components_for(model, &sel),
            security_schemes: schemes,
            ..Default::default()
        }),
        security: Some(vec![api_key_requirement()]),
        extensions,
        ..Default::default()
    }
}

/// The full internal API the backend serves, in OpenAPI 3.0.3.
pub fn internal_openapi3(model: &Model) -> oa::OpenAPI {
    let sel = Selection::all(model);
    oa::OpenAPI {
        openapi: "3.0.3".into(),
        info: info(
            model,
            "The backend's full API, reachable inside the cluster; the public routes are also exposed through API Gateway.",
        ),
        paths: paths3(model, &sel, false),
        components: Some(oa::Components {
            schemas: components_for(model, &sel),
            ..Default::default()
        }),
        ..Default::default()
    }
}
