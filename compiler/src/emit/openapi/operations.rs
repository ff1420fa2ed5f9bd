//! The operations of the OpenAPI 3.0 documents: CRUD routes, custom operations, CORS
//! preflights, their parameters, responses and security.

use super::*;

pub(super) fn json_content(schema: ReferenceOr<oa::Schema>) -> IndexMap<String, oa::MediaType> {
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

pub(super) fn response(
    description: &str,
    schema: Option<ReferenceOr<oa::Schema>>,
) -> ReferenceOr<oa::Response> {
    ReferenceOr::Item(oa::Response {
        description: description.to_string(),
        content: schema.map(json_content).unwrap_or_default(),
        ..Default::default()
    })
}

pub(super) fn param_data(
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
pub(super) fn list_params(resource: &Resource) -> Vec<oa::Parameter> {
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

/// The optional `Idempotency-Key` of a create (the backend runtime's `idempotency`).
fn idempotency_key() -> oa::Parameter {
    use shopgen_facts::backend::{IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_MAX_LENGTH};
    let schema = typed(oa::Type::String(oa::StringType {
        pattern: Some("^[!-~]+$".to_string()),
        min_length: Some(1),
        max_length: Some(IDEMPOTENCY_KEY_MAX_LENGTH),
        ..Default::default()
    }));
    oa::Parameter::Header {
        parameter_data: param_data(
            IDEMPOTENCY_KEY_HEADER,
            "Makes the create safe to send again: the same request with the same key is \
             written once, and answered with the row it created (`Idempotent-Replayed: \
             true`); the key with another request is 422. Kept a day.",
            false,
            schema,
        ),
        style: oa::HeaderStyle::Simple,
    }
}

pub(super) fn query(data: oa::ParameterData) -> oa::Parameter {
    oa::Parameter::Query {
        parameter_data: data,
        allow_reserved: false,
        style: oa::QueryStyle::Form,
        allow_empty_value: None,
    }
}

/// One route as an OpenAPI 3.0 operation.
pub(super) fn operation3(
    model: &Model,
    resource: &Resource,
    route: &Route,
    secured: bool,
) -> oa::Operation {
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
    if resource.honours_idempotency_key(route) {
        op.parameters.push(ReferenceOr::Item(idempotency_key()));
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
    op.security = security_for(model, &route.access, route.exposure, secured);
    op
}

/// A custom operation (`[operations.NAME]`) as an OpenAPI 3.0 operation.
pub(super) fn custom_operation3(model: &Model, op: &Operation, secured: bool) -> oa::Operation {
    let mut out = oa::Operation {
        operation_id: Some(op.operation_id.clone()),
        summary: Some(op.summary.clone()),
        tags: vec!["operations".to_string()],
        ..Default::default()
    };
    for p in &op.params {
        out.parameters.push(ReferenceOr::Item(oa::Parameter::Path {
            parameter_data: param_data(&p.wire, "Path parameter.", true, field_value_schema(&p.ty)),
            style: oa::PathStyle::Simple,
        }));
    }
    for q in &op.query {
        let mut schema = field_value_schema(&q.ty);
        if let Some(d) = &q.default {
            schema.schema_data.default = default_json(d);
        }
        out.parameters.push(ReferenceOr::Item(query(param_data(
            &q.wire,
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
        // An existing service's answer is passed through as it is, whatever it is.
        None if model.upstream.is_some() => (200, "The upstream's answer, passed through.", None),
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
    out.security = security_for(model, &op.access, op.exposure, secured);
    out
}

pub(super) fn default_json(d: &crate::model::DefaultValue) -> Option<serde_json::Value> {
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
pub(super) fn preflight_operation(tag: &str, path: &str, operation_id: &str) -> oa::Operation {
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

/// An operation's `security`: in the gateway document (`secured`), every credential
/// of its [`Access`] by scheme; in the backend's document, the user tokens only (as
/// bearer schemes), on public operations that take one; otherwise none.
pub(super) fn security_for(
    model: &Model,
    access: &Access,
    exposure: Exposure,
    secured: bool,
) -> Option<Vec<oa::SecurityRequirement>> {
    if secured {
        return Some(requirements(model, access, true));
    }
    if exposure == Exposure::Public && access.needs_user_token() {
        return Some(requirements(model, access, false));
    }
    None
}

/// The security requirements of an [`Access`]: alternatives, each naming its schemes
/// (the API key's only when `with_key`).
pub(super) fn requirements(
    model: &Model,
    access: &Access,
    with_key: bool,
) -> Vec<oa::SecurityRequirement> {
    let mut out: Vec<oa::SecurityRequirement> = Vec::new();
    for alternative in access.requirements() {
        let mut req = IndexMap::new();
        for credential in alternative {
            match credential {
                Credential::ApiKey if with_key => {
                    req.insert(API_KEY_SCHEME.to_string(), Vec::new());
                }
                Credential::ApiKey => {}
                Credential::UserToken(name) => {
                    req.insert(model.gateway.provider(name).scheme.clone(), Vec::new());
                }
            }
        }
        if !req.is_empty() && !out.contains(&req) {
            out.push(req);
        }
    }
    out
}

/// The CORS preflight of a path, saying which request headers pages may send when
/// some public route takes a user token (in `Authorization`).
pub(super) fn preflight_for(
    model: &Model,
    tag: &str,
    path: &str,
    operation_id: &str,
) -> oa::Operation {
    let mut op = preflight_operation(tag, path, operation_id);
    if let Some(cors) = &model.gateway.cors
        && model.takes_user_tokens()
    {
        op.description = Some(format!(
            "{} Pages may send the request headers {}.",
            op.description.unwrap_or_default(),
            cors.allowed_headers
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    op
}

pub(super) fn api_key_requirement() -> oa::SecurityRequirement {
    let mut req = IndexMap::new();
    req.insert(API_KEY_SCHEME.to_string(), Vec::new());
    req
}

/// (status, description, schema name) of a route's success response.
pub(super) fn success(resource: &Resource, route: &Route) -> (u16, &'static str, Option<String>) {
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

pub(super) fn summary(model: &Model, resource: &Resource, route: &Route) -> String {
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

pub(super) fn paths3(model: &Model, sel: &Selection<'_>, secured: bool) -> oa::Paths {
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
            item.options = Some(preflight_for(
                model,
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
            item.options = Some(preflight_for(
                model,
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

pub(super) fn set_method(item: &mut oa::PathItem, method: HttpMethod, op: Option<oa::Operation>) {
    match method {
        HttpMethod::Get => item.get = op,
        HttpMethod::Post => item.post = op,
        HttpMethod::Put => item.put = op,
        HttpMethod::Patch => item.patch = op,
        HttpMethod::Delete => item.delete = op,
    }
}
