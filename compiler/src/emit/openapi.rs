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

use super::{CommentSyntax, EmittedFile};
use crate::model::{
    FieldType, HttpMethod, JsonMember, Model, OpenApiDialect, Resource, Route, RouteKind,
};
use indexmap::IndexMap;
use openapiv3 as oa;
use openapiv3::ReferenceOr;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The Terraform `templatefile` variable holding the relay's host name
/// (`shop-api-relay-abc123-nw.a.run.app`); the only `${…}` sequence in `gateway.yaml`.
pub const RELAY_HOST_VAR: &str = "relay_host";
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
}

impl<'m> Selection<'m> {
    fn public(model: &'m Model) -> Self {
        Selection {
            routes: model.public_routes().collect(),
        }
    }
    fn all(model: &'m Model) -> Self {
        Selection {
            routes: model.routes().collect(),
        }
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

// ---------------------------------------------------------------------------------
// Operations (OpenAPI 3.0)
// ---------------------------------------------------------------------------------

/// `{id}` → `id`, in path order; whole segments only (the model guarantees it).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

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
        let op = Some(operation3(model, resource, route, secured));
        match route.method {
            HttpMethod::Get => item.get = op,
            HttpMethod::Post => item.post = op,
            HttpMethod::Put => item.put = op,
            HttpMethod::Patch => item.patch = op,
            HttpMethod::Delete => item.delete = op,
        }
    }
    paths.sort_keys();
    oa::Paths {
        paths,
        extensions: IndexMap::new(),
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
    extensions.insert(
        "x-google-api-management".to_string(),
        serde_json::json!({
            "backends": {
                BACKEND_NAME: {
                    "address": relay_url_template(),
                    "jwtAudience": relay_url_template(),
                    "pathTranslation": "APPEND_PATH_TO_ADDRESS",
                    "deadline": model.gateway.deadline_seconds,
                    "protocol": "http/1.1",
                }
            }
        }),
    );
    extensions.insert(
        "x-google-backend".to_string(),
        serde_json::Value::String(BACKEND_NAME.into()),
    );
    oa::OpenAPI {
        openapi: "3.0.3".into(),
        info: info(
            model,
            "The public routes, served through Google API Gateway; every operation needs an API key.",
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

// ---------------------------------------------------------------------------------
// Swagger 2.0
// ---------------------------------------------------------------------------------

/// An ordered YAML/JSON tree: Swagger 2.0 has no well-kept typed crate, so its
/// document is built as data, keys in the order they are inserted.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn map() -> Self {
        Node::Map(Vec::new())
    }
    fn str(s: impl Into<String>) -> Self {
        Node::Str(s.into())
    }
    fn with(mut self, key: &str, value: Node) -> Self {
        self.set(key, value);
        self
    }
    fn set(&mut self, key: &str, value: Node) {
        if let Node::Map(entries) = self {
            entries.push((key.to_string(), value));
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// An OpenAPI 3.0 schema (as shopgen builds them) in Swagger 2.0 form: `$ref`s point
/// into `definitions`, `nullable` becomes `x-nullable`.
fn schema2(schema: &ReferenceOr<oa::Schema>) -> Node {
    match schema {
        ReferenceOr::Reference { reference } => Node::map().with(
            "$ref",
            Node::str(reference.replace("#/components/schemas/", "#/definitions/")),
        ),
        ReferenceOr::Item(s) => schema2_item(s),
    }
}

fn schema2_boxed(schema: &ReferenceOr<Box<oa::Schema>>) -> Node {
    match schema {
        ReferenceOr::Reference { reference } => schema2(&ReferenceOr::Reference {
            reference: reference.clone(),
        }),
        ReferenceOr::Item(s) => schema2_item(s),
    }
}

fn schema2_item(s: &oa::Schema) -> Node {
    let mut n = Node::map();
    let fmt_str = |f: &oa::VariantOrUnknownOrEmpty<oa::StringFormat>| match f {
        oa::VariantOrUnknownOrEmpty::Item(oa::StringFormat::DateTime) => {
            Some("date-time".to_string())
        }
        oa::VariantOrUnknownOrEmpty::Item(oa::StringFormat::Date) => Some("date".to_string()),
        oa::VariantOrUnknownOrEmpty::Item(other) => Some(format!("{other:?}").to_lowercase()),
        oa::VariantOrUnknownOrEmpty::Unknown(u) => Some(u.clone()),
        oa::VariantOrUnknownOrEmpty::Empty => None,
    };
    match &s.schema_kind {
        oa::SchemaKind::Type(oa::Type::String(t)) => {
            n.set("type", Node::str("string"));
            if let Some(f) = fmt_str(&t.format) {
                n.set("format", Node::str(f));
            }
            if let Some(p) = &t.pattern {
                n.set("pattern", Node::str(p.clone()));
            }
            if let Some(v) = t.min_length {
                n.set("minLength", Node::Int(v as i64));
            }
            if let Some(v) = t.max_length {
                n.set("maxLength", Node::Int(v as i64));
            }
            if !t.enumeration.is_empty() {
                n.set(
                    "enum",
                    Node::Seq(
                        t.enumeration
                            .iter()
                            .flatten()
                            .map(|v| Node::str(v.clone()))
                            .collect(),
                    ),
                );
            }
        }
        oa::SchemaKind::Type(oa::Type::Integer(t)) => {
            n.set("type", Node::str("integer"));
            match t.format {
                oa::VariantOrUnknownOrEmpty::Item(oa::IntegerFormat::Int32) => {
                    n.set("format", Node::str("int32"))
                }
                oa::VariantOrUnknownOrEmpty::Item(oa::IntegerFormat::Int64) => {
                    n.set("format", Node::str("int64"))
                }
                _ => {}
            }
            if let Some(v) = t.minimum {
                n.set("minimum", Node::Int(v));
            }
            if let Some(v) = t.maximum {
                n.set("maximum", Node::Int(v));
            }
        }
        oa::SchemaKind::Type(oa::Type::Number(t)) => {
            n.set("type", Node::str("number"));
            n.set("format", Node::str("double"));
            if let Some(v) = t.minimum {
                n.set("minimum", Node::Float(v));
            }
            if let Some(v) = t.maximum {
                n.set("maximum", Node::Float(v));
            }
        }
        oa::SchemaKind::Type(oa::Type::Boolean(_)) => n.set("type", Node::str("boolean")),
        oa::SchemaKind::Type(oa::Type::Array(t)) => {
            n.set("type", Node::str("array"));
            if let Some(items) = &t.items {
                n.set("items", schema2_boxed(items));
            }
        }
        oa::SchemaKind::Type(oa::Type::Object(t)) => {
            n.set("type", Node::str("object"));
            if !t.required.is_empty() {
                n.set(
                    "required",
                    Node::Seq(t.required.iter().map(|r| Node::str(r.clone())).collect()),
                );
            }
            if !t.properties.is_empty() {
                let mut props = Node::map();
                for (k, v) in &t.properties {
                    props.set(k, schema2_boxed(v));
                }
                n.set("properties", props);
            }
            match &t.additional_properties {
                Some(oa::AdditionalProperties::Any(b)) => {
                    n.set("additionalProperties", Node::Bool(*b))
                }
                Some(oa::AdditionalProperties::Schema(s)) => {
                    n.set("additionalProperties", schema2(s))
                }
                None => {}
            }
        }
        _ => unreachable!("shopgen builds only typed schemas"),
    }
    if let Some(d) = &s.schema_data.description {
        n.set("description", Node::str(d.clone()));
    }
    if let Some(serde_json::Value::Number(d)) = &s.schema_data.default
        && let Some(i) = d.as_i64()
    {
        n.set("default", Node::Int(i));
    }
    if s.schema_data.read_only {
        n.set("readOnly", Node::Bool(true));
    }
    if s.schema_data.nullable {
        n.set("x-nullable", Node::Bool(true));
    }
    n
}

/// A 2.0 non-body parameter: `in`, `name`, the schema's keywords inline.
fn param2(location: &str, data: &oa::ParameterData) -> Node {
    let mut n = Node::map()
        .with("name", Node::str(data.name.clone()))
        .with("in", Node::str(location));
    if let Some(d) = &data.description {
        n.set("description", Node::str(d.clone()));
    }
    n.set("required", Node::Bool(data.required));
    if let oa::ParameterSchemaOrContent::Schema(ReferenceOr::Item(s)) = &data.format
        && let Node::Map(entries) = schema2_item(s)
    {
        for (k, v) in entries {
            if k != "description" && k != "x-nullable" && k != "readOnly" {
                n.set(&k, v);
            }
        }
    }
    n
}

fn operation2(op: &oa::Operation) -> Node {
    let mut n = Node::map();
    if let Some(id) = &op.operation_id {
        n.set("operationId", Node::str(id.clone()));
    }
    if let Some(s) = &op.summary {
        n.set("summary", Node::str(s.clone()));
    }
    n.set(
        "tags",
        Node::Seq(op.tags.iter().map(|t| Node::str(t.clone())).collect()),
    );
    let mut params = Vec::new();
    for p in &op.parameters {
        if let ReferenceOr::Item(p) = p {
            match p {
                oa::Parameter::Path { parameter_data, .. } => {
                    params.push(param2("path", parameter_data))
                }
                oa::Parameter::Query { parameter_data, .. } => {
                    params.push(param2("query", parameter_data))
                }
                _ => {}
            }
        }
    }
    if let Some(ReferenceOr::Item(body)) = &op.request_body
        && let Some(schema) = body
            .content
            .get("application/json")
            .and_then(|m| m.schema.as_ref())
    {
        params.push(
            Node::map()
                .with("name", Node::str("body"))
                .with("in", Node::str("body"))
                .with("required", Node::Bool(true))
                .with("schema", schema2(schema)),
        );
    }
    if !params.is_empty() {
        n.set("parameters", Node::Seq(params));
    }
    let mut responses = Node::map();
    let resp2 = |r: &ReferenceOr<oa::Response>| match r {
        ReferenceOr::Item(r) => {
            let mut rn = Node::map().with("description", Node::str(r.description.clone()));
            if let Some(schema) = r
                .content
                .get("application/json")
                .and_then(|m| m.schema.as_ref())
            {
                rn.set("schema", schema2(schema));
            }
            rn
        }
        ReferenceOr::Reference { .. } => unreachable!("responses are built inline"),
    };
    for (code, r) in &op.responses.responses {
        responses.set(&code.to_string(), resp2(r));
    }
    if let Some(d) = &op.responses.default {
        responses.set("default", resp2(d));
    }
    n.set("responses", responses);
    if let Some(sec) = &op.security {
        n.set("security", security2(sec));
    }
    n
}

fn security2(reqs: &[oa::SecurityRequirement]) -> Node {
    Node::Seq(
        reqs.iter()
            .map(|r| {
                Node::Map(
                    r.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                Node::Seq(v.iter().map(|s| Node::str(s.clone())).collect()),
                            )
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

/// The gateway document in Swagger 2.0, translated from the 3.0 one so both dialects
/// list the same operations with the same schemas.
pub fn gateway_swagger2(model: &Model) -> Node {
    let doc3 = gateway_openapi3(model);
    let mut doc = Node::map()
        .with("swagger", Node::str("2.0"))
        .with(
            "info",
            Node::map()
                .with("title", Node::str(doc3.info.title.clone()))
                .with(
                    "description",
                    Node::str(doc3.info.description.clone().unwrap_or_default()),
                )
                .with("version", Node::str(doc3.info.version.clone())),
        )
        .with("schemes", Node::Seq(vec![Node::str("https")]))
        .with("consumes", Node::Seq(vec![Node::str("application/json")]))
        .with("produces", Node::Seq(vec![Node::str("application/json")]))
        .with(
            "x-google-backend",
            Node::map()
                .with("address", Node::str(relay_url_template()))
                .with("jwt_audience", Node::str(relay_url_template()))
                .with("path_translation", Node::str("APPEND_PATH_TO_ADDRESS"))
                .with("deadline", Node::Float(model.gateway.deadline_seconds))
                .with("protocol", Node::str("http/1.1")),
        )
        .with(
            "securityDefinitions",
            Node::map().with(
                API_KEY_SCHEME,
                Node::map()
                    .with("type", Node::str("apiKey"))
                    .with("name", Node::str(model.gateway.api_key_header.clone()))
                    .with("in", Node::str("header")),
            ),
        )
        .with("security", security2(&[api_key_requirement()]));
    let mut paths = Node::map();
    for (path, item) in &doc3.paths.paths {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let mut pn = Node::map();
        for (method, op) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ] {
            if let Some(op) = op {
                pn.set(method, operation2(op));
            }
        }
        paths.set(path, pn);
    }
    doc.set("paths", paths);
    let mut defs = Node::map();
    if let Some(c) = &doc3.components {
        for (name, s) in &c.schemas {
            defs.set(name, schema2(s));
        }
    }
    doc.set("definitions", defs);
    doc
}
