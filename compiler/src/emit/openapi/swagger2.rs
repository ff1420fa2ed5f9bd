//! Emit: the Swagger 2.0 dialect of the gateway document, translated from the
//! OpenAPI 3.0 model so the two dialects can never list different operations.

use super::*;

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
pub(super) fn schema2(schema: &ReferenceOr<oa::Schema>) -> Node {
    match schema {
        ReferenceOr::Reference { reference } => Node::map().with(
            "$ref",
            Node::str(reference.replace("#/components/schemas/", "#/definitions/")),
        ),
        ReferenceOr::Item(s) => schema2_item(s),
    }
}

pub(super) fn schema2_boxed(schema: &ReferenceOr<Box<oa::Schema>>) -> Node {
    match schema {
        ReferenceOr::Reference { reference } => schema2(&ReferenceOr::Reference {
            reference: reference.clone(),
        }),
        ReferenceOr::Item(s) => schema2_item(s),
    }
}

pub(super) fn schema2_item(s: &oa::Schema) -> Node {
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
pub(super) fn param2(location: &str, data: &oa::ParameterData) -> Node {
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

pub(super) fn operation2(op: &oa::Operation) -> Node {
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
                oa::Parameter::Header { parameter_data, .. } => {
                    params.push(param2("header", parameter_data))
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
    for (name, value) in &op.extensions {
        n.set(name, json_node(value));
    }
    n
}

/// A JSON value (an extension's) as a node, keys in their order.
fn json_node(v: &serde_json::Value) -> Node {
    match v {
        serde_json::Value::Null => Node::Seq(Vec::new()),
        serde_json::Value::Bool(b) => Node::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => Node::str(s.clone()),
        serde_json::Value::Array(items) => Node::Seq(items.iter().map(json_node).collect()),
        serde_json::Value::Object(map) => {
            Node::Map(map.iter().map(|(k, v)| (k.clone(), json_node(v))).collect())
        }
    }
}

pub(super) fn security2(reqs: &[oa::SecurityRequirement]) -> Node {
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

/// `securityDefinitions`: the API key, then one OAuth 2 definition per identity
/// provider with API Gateway's `x-google-issuer`, `x-google-jwks_uri` and
/// `x-google-audiences` (one comma-separated string), and the empty `scopes` the
/// Swagger 2.0 schema requires.
fn security_definitions2(model: &Model) -> Node {
    let mut defs = Node::map().with(
        API_KEY_SCHEME,
        Node::map()
            .with("type", Node::str("apiKey"))
            .with("name", Node::str(model.gateway.api_key_header.clone()))
            .with("in", Node::str("header")),
    );
    for p in &model.gateway.identity {
        defs.set(
            &p.scheme,
            Node::map()
                .with("type", Node::str("oauth2"))
                .with("flow", Node::str("implicit"))
                .with("authorizationUrl", Node::str(""))
                // Swagger 2.0 requires `scopes` on an OAuth 2 definition (its JSON
                // schema's `oauth2ImplicitSecurity`); API Gateway's samples leave it
                // out and it checks none, so it is empty.
                .with("scopes", Node::map())
                .with("x-google-issuer", Node::str(p.issuer.clone()))
                .with("x-google-jwks_uri", Node::str(p.jwks_uri.clone()))
                .with("x-google-audiences", Node::str(p.audiences.join(","))),
        );
    }
    defs
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
        .with("securityDefinitions", security_definitions2(model))
        .with("security", security2(&[api_key_requirement()]));
    if let Some(quota) = &model.gateway.quota {
        doc.set(
            "x-google-management",
            Node::map()
                .with(
                    "metrics",
                    Node::Seq(vec![
                        Node::map()
                            .with("name", Node::str(quota.metric.clone()))
                            .with(
                                "displayName",
                                Node::str(format!("{} requests", model.gateway.title)),
                            )
                            .with("valueType", Node::str("INT64"))
                            .with("metricKind", Node::str("DELTA")),
                    ]),
                )
                .with(
                    "quota",
                    Node::map().with(
                        "limits",
                        Node::Seq(vec![
                            Node::map()
                                .with("name", Node::str(quota.limit.clone()))
                                .with("metric", Node::str(quota.metric.clone()))
                                .with("unit", Node::str("1/min/{project}"))
                                .with(
                                    "values",
                                    Node::map().with(
                                        "STANDARD",
                                        Node::Int(quota.requests_per_minute as i64),
                                    ),
                                ),
                        ]),
                    ),
                ),
        );
    }
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
            ("options", &item.options),
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
