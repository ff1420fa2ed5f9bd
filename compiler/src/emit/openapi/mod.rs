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
//!
//! Layout: this module chooses what a document holds (`Selection`) and names its
//! schemas; `schemas` builds the JSON schemas, `operations` the 3.0 operations,
//! `documents` the two 3.0 documents, `swagger2` the 2.0 gateway document.

mod documents;
mod operations;
mod schemas;
mod swagger2;

pub use crate::model::path_params;
pub use documents::{gateway_openapi3, internal_openapi3};
pub use operations::preflight_operation_id;
use operations::*;
pub(crate) use schemas::field_value_schema;
use schemas::*;
pub use swagger2::{Node, gateway_swagger2};

use super::{CommentSyntax, EmittedFile};
use crate::model::{
    Access, Credential, Exposure, Field, FieldType, HttpMethod, JsonMember, Model, OpenApiDialect,
    Operation, Resource, Route, RouteKind, Shape,
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
