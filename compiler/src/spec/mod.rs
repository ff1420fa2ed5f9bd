//! Parse: spec source text → [`Spec`], the spec as written, with spans.
//!
//! Stage one of `parse → check → lower → emit`. It rejects what is wrong in *shape*
//! (TOML syntax, unknown keys, wrong value types) and keeps going, so one run reports
//! every error. Meaning (references, names, limits, ranges) is `check`'s job.

mod operations;
pub mod reader;
mod upstream;

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Code, Diagnostic};
use reader::{Cx, Table, kind};
pub use reader::{Scalar, Sp};

/// The whole spec as written. Absent keys are `None`; defaults are applied by lowering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    pub service: ServiceSpec,
    pub gcp: GcpSpec,
    pub gateway: GatewaySpec,
    pub relay: RelaySpec,
    pub database: DatabaseSpec,
    /// In source order; lowering sorts them.
    pub resources: Vec<ResourceSpec>,
    /// `[operations.NAME]`: custom routes implemented in the extension crate; in
    /// source order.
    pub operations: Vec<OperationSpec>,
    /// `[upstream]`: present when the spec describes an existing service (its routes
    /// are proxied to pods shopgen does not generate).
    pub upstream: Option<UpstreamSpec>,
    /// Where `[database]` is written, when it is (an existing-service spec refuses it).
    pub database_span: Option<Range<usize>>,
    /// Span of the whole document, for errors about missing sections.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceSpec {
    pub present: bool,
    /// Span of the `[service]` table.
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub namespace: Option<Sp<String>>,
    pub port: Option<Sp<i64>>,
    pub service_port: Option<Sp<i64>>,
    pub replicas: Option<Sp<i64>>,
    pub min_replicas: Option<Sp<i64>>,
    pub max_replicas: Option<Sp<i64>>,
    pub target_cpu_percent: Option<Sp<i64>>,
    pub cpu_request: Option<Sp<String>>,
    pub memory_request: Option<Sp<String>>,
    pub cpu_limit: Option<Sp<String>>,
    pub memory_limit: Option<Sp<String>>,
    pub drain_seconds: Option<Sp<i64>>,
    pub max_body_bytes: Option<Sp<i64>>,
    pub request_timeout_ms: Option<Sp<i64>>,
    pub database_acquire_timeout_ms: Option<Sp<i64>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcpSpec {
    pub present: bool,
    /// Span of the `[gcp]` table.
    pub span: Range<usize>,
    pub project: Option<Sp<String>>,
    pub region: Option<Sp<String>>,
    pub network: Option<Sp<String>>,
    pub subnetwork: Option<Sp<String>>,
    pub egress: Option<Sp<EgressSpec>>,
    pub cluster: Option<ClusterSpec>,
    /// Extra source ranges the internal load balancer admits.
    pub ilb_source_ranges: Option<Sp<Vec<Sp<String>>>>,
    /// Region of the API Gateway gateway (default: `region`).
    pub gateway_region: Option<Sp<String>>,
    /// Where `shopgen deploy` keeps the Terraform state.
    pub state: Option<Sp<StateSpec>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EgressSpec {
    DirectVpc,
    Connector {
        cidr: Sp<String>,
        min_instances: Option<Sp<i64>>,
        max_instances: Option<Sp<i64>>,
        machine_type: Option<Sp<String>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub location: Option<Sp<String>>,
    pub create: Option<Sp<bool>>,
    pub master_cidr: Option<Sp<String>>,
    pub pods_cidr: Option<Sp<String>>,
    pub services_cidr: Option<Sp<String>>,
    pub nodes_cidr: Option<Sp<String>>,
    /// Ranges allowed to reach a created cluster's public IP endpoint.
    pub authorized_networks: Option<Sp<Vec<Sp<String>>>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewaySpec {
    pub api_key_header: Option<Sp<String>>,
    pub openapi: Option<Sp<String>>,
    pub deadline: Option<Sp<f64>>,
    pub title: Option<Sp<String>>,
    pub cors: Option<CorsSpec>,
    pub consumers: Option<Sp<Vec<Sp<String>>>>,
    pub quota: Option<QuotaSpec>,
    /// `[gateway.identity.NAME]`: issuers of user tokens, in source order.
    pub identity: Vec<IdentitySpec>,
}

/// `[gateway.identity.NAME]`: an issuer of user tokens (JWTs) API Gateway verifies.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySpec {
    pub name: Sp<String>,
    /// The item path (`gateway.identity.firebase`).
    pub path: String,
    /// Span of the provider's table.
    pub span: Range<usize>,
    pub issuer: Option<Sp<String>>,
    pub jwks_uri: Option<Sp<String>>,
    pub audiences: Option<Sp<Vec<Sp<String>>>>,
}

/// `auth = …` of a route or an operation: what a caller must present at the gateway.
/// `"firebase"` and `["api_key", "firebase"]` are one requirement (every entry);
/// `[["firebase"], ["auth0"]]` lists alternatives (any one of them).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSpec {
    /// Span of the whole value.
    pub span: Range<usize>,
    /// The requirements, each a list of credential names with its span; one entry
    /// unless written as a list of lists.
    pub alternatives: Vec<Sp<Vec<Sp<String>>>>,
    /// Written as a list of lists (alternatives).
    pub any_of: bool,
}

/// `[gateway] cors = { … }`: which web origins may call the public routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorsSpec {
    pub span: Range<usize>,
    pub allowed_origins: Option<Sp<Vec<Sp<String>>>>,
    pub allowed_headers: Option<Sp<Vec<Sp<String>>>>,
    pub expose_headers: Option<Sp<Vec<Sp<String>>>>,
    pub max_age: Option<Sp<i64>>,
    pub allow_credentials: Option<Sp<bool>>,
}

/// `[gateway] quota = { … }`: requests per minute per consumer, and per-operation costs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaSpec {
    pub span: Range<usize>,
    pub requests_per_minute: Option<Sp<i64>>,
    /// `costs = { listProducts = 2 }`: operation id → cost, in source order.
    pub costs: Vec<(Sp<String>, Option<Sp<i64>>)>,
}

/// `[resources.X] cache = { … }`: HTTP caching of the resource's GET responses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheSpec {
    pub span: Range<usize>,
    pub max_age: Option<Sp<i64>>,
    pub public: Option<Sp<bool>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelaySpec {
    pub min_instances: Option<Sp<i64>>,
    pub max_instances: Option<Sp<i64>>,
    pub concurrency: Option<Sp<i64>>,
    pub timeout_ms: Option<Sp<i64>>,
    pub max_body_bytes: Option<Sp<i64>>,
    pub cpu: Option<Sp<String>>,
    pub memory: Option<Sp<String>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum DatabaseSpec {
    /// No `[database]` section: an existing database, URL in the default Secret.
    #[default]
    Default,
    Secret {
        name: Option<Sp<String>>,
        key: Option<Sp<String>>,
    },
    CloudSql {
        span: Range<usize>,
        tier: Option<Sp<String>>,
        version: Option<Sp<String>>,
        database: Option<Sp<String>>,
        user: Option<Sp<String>>,
        deletion_protection: Option<Sp<bool>>,
        edition: Option<Sp<String>>,
        allocated_range: Option<Sp<String>>,
    },
}

/// One label of `upstream.selector`: (key, value).
pub type LabelSpec = (Sp<String>, Sp<String>);

/// `[upstream]`: the existing pods the internal load balancer selects.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSpec {
    pub span: Range<usize>,
    /// The pods' labels, in source order.
    pub selector: Option<Sp<Vec<LabelSpec>>>,
    pub health_path: Option<Sp<String>>,
    pub forward_authorization: Option<Sp<bool>>,
}

/// `gcp.state`: `"local"`, or `{ bucket = "…", prefix = "…" }` (both optional).
#[derive(Debug, Clone, PartialEq)]
pub enum StateSpec {
    Local,
    Gcs {
        bucket: Option<Sp<String>>,
        prefix: Option<Sp<String>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    pub name: Sp<String>,
    /// The path of the resource's table (`resources.product`).
    pub path: String,
    pub plural: Option<Sp<String>>,
    pub fields: Vec<FieldSpec>,
    pub belongs_to: Vec<BelongsToSpec>,
    pub has_many: Vec<HasManySpec>,
    pub json: Option<Sp<Vec<Sp<String>>>>,
    pub routes: RoutesSpec,
    pub list: ListSpec,
    /// `hooks = ["before_create", …]`: extension methods run around writes.
    pub hooks: Option<Sp<Vec<Sp<String>>>>,
    pub cache: Option<CacheSpec>,
    /// `owner = { field, claim, existing }`: the rows belong to users.
    pub owner: Option<OwnerSpec>,
}

/// `[resources.X] owner = { … }`: each row belongs to the user a token names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnerSpec {
    pub span: Range<usize>,
    /// The column that holds the owner (default `owner`).
    pub field: Option<Sp<String>>,
    /// The token claim that names the user (default `sub`).
    pub claim: Option<Sp<String>>,
    /// The owner of the rows that exist when ownership is added to a table.
    pub existing: Option<Sp<String>>,
}

/// `[operations.NAME]`: one custom route.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationSpec {
    pub name: Sp<String>,
    /// The item path (`operations.rating_summary`).
    pub path: String,
    /// Span of the operation's table.
    pub span: Range<usize>,
    pub method: Option<Sp<String>>,
    /// The `path` key: the URL template (`/products/{id}/rating-summary`).
    pub route: Option<Sp<String>>,
    pub exposure: Option<Sp<String>>,
    /// `auth`: what a caller must present at the gateway (default: the API key).
    pub auth: Option<AuthSpec>,
    pub summary: Option<Sp<String>>,
    /// `params.NAME`: the path template's parameters, field-like.
    pub params: Vec<FieldSpec>,
    /// `query.NAME`: query parameters, field-like.
    pub query: Vec<FieldSpec>,
    pub body: Option<ShapeSpec>,
    pub output: Option<ShapeSpec>,
}

/// A request body or response shape of an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeSpec {
    /// A field table written inline; the span is the table's.
    Fields(Sp<Vec<FieldSpec>>),
    /// `"product"`: that resource (its create body, or its JSON).
    Resource(Sp<String>),
    /// `["product"]`: a list of that resource's JSON.
    List(Sp<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: Sp<String>,
    pub path: String,
    /// `None` when the type is missing (reported).
    pub ty: Option<Sp<String>>,
    pub required: Option<Sp<bool>>,
    pub unique: Option<Sp<bool>>,
    pub read_only: Option<Sp<bool>>,
    pub default: Option<Sp<Scalar>>,
    pub max_length: Option<Sp<i64>>,
    pub min_length: Option<Sp<i64>>,
    pub pattern: Option<Sp<String>>,
    /// For integer/bigint/float: a number; for decimal: a string (or integer).
    pub min: Option<Sp<Scalar>>,
    pub max: Option<Sp<Scalar>>,
    pub precision: Option<Sp<i64>>,
    pub scale: Option<Sp<i64>>,
    pub values: Option<Sp<Vec<Sp<String>>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BelongsToSpec {
    pub name: Sp<String>,
    pub path: String,
    pub resource: Option<Sp<String>>,
    pub on_delete: Option<Sp<String>>,
    pub required: Option<Sp<bool>>,
    pub routes: NestedRoutesSpec,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NestedRoutesSpec {
    pub list: Option<Sp<String>>,
    pub create: Option<Sp<String>>,
    /// `auth` of the routes written as `{ exposure = "public", auth = … }`, by route key.
    pub auth: Vec<(&'static str, AuthSpec)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HasManySpec {
    pub name: Sp<String>,
    pub path: String,
    pub resource: Option<Sp<String>>,
    pub via: Option<Sp<String>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutesSpec {
    pub list: Option<Sp<String>>,
    pub get: Option<Sp<String>>,
    pub create: Option<Sp<String>>,
    pub update: Option<Sp<String>>,
    pub replace: Option<Sp<String>>,
    pub delete: Option<Sp<String>>,
    /// `auth` of the routes written as `{ exposure = "public", auth = … }`, by route key.
    pub auth: Vec<(&'static str, AuthSpec)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListSpec {
    pub default_limit: Option<Sp<i64>>,
    pub max_limit: Option<Sp<i64>>,
    pub filter: Option<Sp<Vec<Sp<String>>>>,
    pub sort: Option<Sp<Vec<Sp<String>>>>,
}

/// Every key the spec language knows, per table: the single source for unknown-key
/// errors, the JSON Schema and the reference docs' completeness test.
pub mod keys {
    pub const TOP: &[&str] = &[
        "service",
        "gcp",
        "gateway",
        "relay",
        "database",
        "resources",
        "operations",
        "upstream",
    ];
    /// `[upstream]`.
    pub const UPSTREAM: &[&str] = &["selector", "health_path", "forward_authorization"];
    pub const SERVICE: &[&str] = &[
        "name",
        "namespace",
        "port",
        "service_port",
        "replicas",
        "min_replicas",
        "max_replicas",
        "target_cpu_percent",
        "cpu_request",
        "memory_request",
        "cpu_limit",
        "memory_limit",
        "drain_seconds",
        "max_body_bytes",
        "request_timeout_ms",
        "database_acquire_timeout_ms",
    ];
    pub const GCP: &[&str] = &[
        "project",
        "region",
        "network",
        "subnetwork",
        "egress",
        "cluster",
        "ilb_source_ranges",
        "gateway_region",
        "state",
    ];
    pub const STATE: &[&str] = &["bucket", "prefix"];
    pub const CONNECTOR: &[&str] = &[
        "connector",
        "min_instances",
        "max_instances",
        "machine_type",
    ];
    pub const CLUSTER: &[&str] = &[
        "name",
        "location",
        "create",
        "master_cidr",
        "pods_cidr",
        "services_cidr",
        "nodes_cidr",
        "authorized_networks",
    ];
    pub const GATEWAY: &[&str] = &[
        "api_key_header",
        "openapi",
        "deadline",
        "title",
        "cors",
        "consumers",
        "quota",
        "identity",
    ];
    /// `[gateway.identity.NAME]`.
    pub const IDENTITY: &[&str] = &["issuer", "jwks_uri", "audiences"];
    /// A route written as a table: `{ exposure = "public", auth = ["api_key", "firebase"] }`.
    pub const ROUTE: &[&str] = &["exposure", "auth"];
    /// The credential every public route needs unless its `auth` says otherwise.
    pub const API_KEY: &str = "api_key";
    pub const CORS: &[&str] = &[
        "allowed_origins",
        "allowed_headers",
        "expose_headers",
        "max_age",
        "allow_credentials",
    ];
    pub const QUOTA: &[&str] = &["requests_per_minute", "costs"];
    pub const CACHE: &[&str] = &["max_age", "public"];
    pub const RELAY: &[&str] = &[
        "min_instances",
        "max_instances",
        "concurrency",
        "timeout_ms",
        "max_body_bytes",
        "cpu",
        "memory",
    ];
    pub const DATABASE: &[&str] = &["secret", "cloud_sql"];
    pub const DATABASE_SECRET: &[&str] = &["name", "key"];
    pub const CLOUD_SQL: &[&str] = &[
        "tier",
        "version",
        "database",
        "user",
        "deletion_protection",
        "edition",
        "allocated_range",
    ];
    pub const RESOURCE: &[&str] = &[
        "plural",
        "fields",
        "belongs_to",
        "has_many",
        "json",
        "routes",
        "list",
        "hooks",
        "cache",
        "owner",
    ];
    /// `owner = { … }` of a resource.
    pub const OWNER: &[&str] = &["field", "claim", "existing"];
    /// `[operations.NAME]`.
    pub const OPERATION: &[&str] = &[
        "method", "path", "exposure", "auth", "summary", "params", "query", "body", "output",
    ];
    /// Methods an operation may use.
    pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
    /// Hook names a resource may list, in the order they run.
    pub const HOOKS: &[&str] = &[
        "before_create",
        "before_update",
        "before_delete",
        "after_create",
        "after_update",
        "after_delete",
    ];
    pub const FIELD: &[&str] = &[
        "type",
        "required",
        "unique",
        "read_only",
        "default",
        "max_length",
        "min_length",
        "pattern",
        "min",
        "max",
        "precision",
        "scale",
        "values",
    ];
    pub const BELONGS_TO: &[&str] = &["resource", "on_delete", "required", "routes"];
    pub const NESTED_ROUTES: &[&str] = &["list", "create"];
    pub const HAS_MANY: &[&str] = &["resource", "via"];
    pub const ROUTES: &[&str] = &["list", "get", "create", "update", "replace", "delete"];
    pub const LIST: &[&str] = &["default_limit", "max_limit", "filter", "sort"];
    pub const FIELD_TYPES: &[&str] = &[
        "string",
        "text",
        "integer",
        "bigint",
        "boolean",
        "decimal",
        "float",
        "timestamp",
        "date",
        "uuid",
        "enum",
    ];
}

/// Parses spec source. Always returns a (possibly partial) spec and every shape error.
pub fn parse(src: &str) -> (Spec, Vec<Diagnostic>) {
    let mut cx = Cx { diags: Vec::new() };
    let (doc, errors) = DeTable::parse_recoverable(src);
    for e in &errors {
        let span = e.span().unwrap_or(0..0);
        cx.diags.push(
            Diagnostic::new(
                Code::E0101,
                span,
                "",
                format!("TOML syntax: {}", e.message().trim()),
            )
            .hint("see https://toml.io for the syntax"),
        );
    }
    let mut spec = Spec {
        span: 0..src.len(),
        ..Spec::default()
    };
    if !errors.is_empty() {
        // A document that does not parse is not read further: recovered values would
        // produce follow-on errors that only confuse.
        return (spec, cx.diags);
    }
    let root = Table::new(doc.get_ref(), 0..src.len(), String::new());
    root.only(&mut cx, keys::TOP);
    if let Some(t) = root.table(&mut cx, "service") {
        spec.service = read_service(&mut cx, &t);
    }
    if let Some(t) = root.table(&mut cx, "gcp") {
        spec.gcp = read_gcp(&mut cx, &t);
    }
    if let Some(t) = root.table(&mut cx, "gateway") {
        t.only(&mut cx, keys::GATEWAY);
        spec.gateway = GatewaySpec {
            api_key_header: t.string(&mut cx, "api_key_header"),
            openapi: t.string(&mut cx, "openapi"),
            deadline: t.float(&mut cx, "deadline"),
            title: t.string(&mut cx, "title"),
            cors: t.table(&mut cx, "cors").map(|c| {
                c.only(&mut cx, keys::CORS);
                CorsSpec {
                    span: c.span.clone(),
                    allowed_origins: c.strings(&mut cx, "allowed_origins"),
                    allowed_headers: c.strings(&mut cx, "allowed_headers"),
                    expose_headers: c.strings(&mut cx, "expose_headers"),
                    max_age: c.int(&mut cx, "max_age"),
                    allow_credentials: c.boolean(&mut cx, "allow_credentials"),
                }
            }),
            consumers: t.strings(&mut cx, "consumers"),
            quota: t.table(&mut cx, "quota").map(|q| {
                q.only(&mut cx, keys::QUOTA);
                let mut costs = Vec::new();
                if let Some(ct) = q.table(&mut cx, "costs") {
                    for (op, span, _) in ct.entries() {
                        costs.push((Sp::new(op.to_string(), span), ct.int(&mut cx, op)));
                    }
                }
                QuotaSpec {
                    span: q.span.clone(),
                    requests_per_minute: q.int(&mut cx, "requests_per_minute"),
                    costs,
                }
            }),
            identity: t
                .table(&mut cx, "identity")
                .map(|it| read_identity(&mut cx, &it))
                .unwrap_or_default(),
        };
    }
    if let Some(t) = root.table(&mut cx, "relay") {
        t.only(&mut cx, keys::RELAY);
        spec.relay = RelaySpec {
            min_instances: t.int(&mut cx, "min_instances"),
            max_instances: t.int(&mut cx, "max_instances"),
            concurrency: t.int(&mut cx, "concurrency"),
            timeout_ms: t.int(&mut cx, "timeout_ms"),
            max_body_bytes: t.int(&mut cx, "max_body_bytes"),
            cpu: t.string(&mut cx, "cpu"),
            memory: t.string(&mut cx, "memory"),
        };
    }
    if let Some(t) = root.table(&mut cx, "upstream") {
        spec.upstream = Some(upstream::read_upstream(&mut cx, &t));
    }
    if let Some(t) = root.table(&mut cx, "database") {
        spec.database_span = Some(root.key_span("database"));
        spec.database = read_database(&mut cx, &t);
    }
    if let Some(t) = root.table(&mut cx, "operations") {
        spec.operations = operations::read_operations(&mut cx, &t);
    }
    if let Some(t) = root.table(&mut cx, "resources") {
        for (name, span, value) in t.entries() {
            let path = t.path_of(name);
            match value.get_ref() {
                DeValue::Table(rt) => {
                    let rt = Table::new(rt, value.span(), path);
                    spec.resources.push(read_resource(
                        &mut cx,
                        Sp::new(name.to_string(), span),
                        &rt,
                    ));
                }
                other => cx.diags.push(
                    Diagnostic::new(
                        Code::E0103,
                        value.span(),
                        path,
                        format!("expected a table, found {}", kind(other)),
                    )
                    .hint(format!(
                        "declare the resource as `[resources.{name}]` with its `fields`"
                    )),
                ),
            }
        }
    }
    (spec, cx.diags)
}

fn read_service(cx: &mut Cx, t: &Table) -> ServiceSpec {
    t.only(cx, keys::SERVICE);
    ServiceSpec {
        present: true,
        span: t.span.clone(),
        name: t.string(cx, "name"),
        namespace: t.string(cx, "namespace"),
        port: t.int(cx, "port"),
        service_port: t.int(cx, "service_port"),
        replicas: t.int(cx, "replicas"),
        min_replicas: t.int(cx, "min_replicas"),
        max_replicas: t.int(cx, "max_replicas"),
        target_cpu_percent: t.int(cx, "target_cpu_percent"),
        cpu_request: t.string(cx, "cpu_request"),
        memory_request: t.string(cx, "memory_request"),
        cpu_limit: t.string(cx, "cpu_limit"),
        memory_limit: t.string(cx, "memory_limit"),
        drain_seconds: t.int(cx, "drain_seconds"),
        max_body_bytes: t.int(cx, "max_body_bytes"),
        request_timeout_ms: t.int(cx, "request_timeout_ms"),
        database_acquire_timeout_ms: t.int(cx, "database_acquire_timeout_ms"),
    }
}

fn read_gcp(cx: &mut Cx, t: &Table) -> GcpSpec {
    t.only(cx, keys::GCP);
    let egress = t.get("egress").and_then(|v| match v.get_ref() {
        DeValue::String(s) if s.as_ref() == "direct-vpc" => Some(Sp::new(EgressSpec::DirectVpc, v.span())),
        DeValue::Table(et) => {
            let et = Table::new(et, v.span(), t.path_of("egress"));
            et.only(cx, keys::CONNECTOR);
            match et.string(cx, "connector") {
                Some(cidr) => Some(Sp::new(
                    EgressSpec::Connector {
                        cidr,
                        min_instances: et.int(cx, "min_instances"),
                        max_instances: et.int(cx, "max_instances"),
                        machine_type: et.string(cx, "machine_type"),
                    },
                    v.span(),
                )),
                None => {
                    if et.get("connector").is_none() {
                        cx.diags.push(
                            Diagnostic::new(Code::E0106, v.span(), t.path_of("egress"), "missing key `connector`")
                                .hint("write `egress = { connector = \"10.8.0.0/28\" }` or `egress = \"direct-vpc\"`"),
                        );
                    }
                    None
                }
            }
        }
        other => {
            cx.diags.push(
                Diagnostic::new(
                    Code::E0103,
                    v.span(),
                    t.path_of("egress"),
                    match other {
                        DeValue::String(s) => format!("unknown egress `{s}`"),
                        _ => format!("expected `\"direct-vpc\"` or a table, found {}", kind(other)),
                    },
                )
                .hint("write `egress = \"direct-vpc\"` or `egress = { connector = \"10.8.0.0/28\" }`"),
            );
            None
        }
    });
    let cluster = t.table(cx, "cluster").map(|ct| {
        ct.only(cx, keys::CLUSTER);
        ClusterSpec {
            span: ct.span.clone(),
            name: ct.string(cx, "name"),
            location: ct.string(cx, "location"),
            create: ct.boolean(cx, "create"),
            master_cidr: ct.string(cx, "master_cidr"),
            pods_cidr: ct.string(cx, "pods_cidr"),
            services_cidr: ct.string(cx, "services_cidr"),
            nodes_cidr: ct.string(cx, "nodes_cidr"),
            authorized_networks: ct.strings(cx, "authorized_networks"),
        }
    });
    let state = t.get("state").and_then(|v| match v.get_ref() {
        DeValue::String(s) if s.as_ref() == "local" => Some(Sp::new(StateSpec::Local, v.span())),
        DeValue::Table(st) => {
            let st = Table::new(st, v.span(), t.path_of("state"));
            st.only(cx, keys::STATE);
            Some(Sp::new(
                StateSpec::Gcs {
                    bucket: st.string(cx, "bucket"),
                    prefix: st.string(cx, "prefix"),
                },
                v.span(),
            ))
        }
        other => {
            cx.diags.push(
                Diagnostic::new(
                    Code::E0103,
                    v.span(),
                    t.path_of("state"),
                    match other {
                        DeValue::String(s) => format!("unknown state `{s}`"),
                        _ => format!("expected `\"local\"` or a table, found {}", kind(other)),
                    },
                )
                .hint("write `state = \"local\"`, or `state = { bucket = \"my-tfstate\" }` (the default is a bucket named from the project and the service)"),
            );
            None
        }
    });
    GcpSpec {
        present: true,
        span: t.span.clone(),
        project: t.string(cx, "project"),
        region: t.string(cx, "region"),
        network: t.string(cx, "network"),
        subnetwork: t.string(cx, "subnetwork"),
        egress,
        cluster,
        ilb_source_ranges: t.strings(cx, "ilb_source_ranges"),
        gateway_region: t.string(cx, "gateway_region"),
        state,
    }
}

fn read_database(cx: &mut Cx, t: &Table) -> DatabaseSpec {
    t.only(cx, keys::DATABASE);
    let secret = t.table(cx, "secret");
    let cloud_sql = t.table(cx, "cloud_sql");
    if secret.is_some() && cloud_sql.is_some() {
        cx.diags.push(
            Diagnostic::new(
                Code::E0107,
                t.key_span("cloud_sql"),
                t.path_of("cloud_sql"),
                "`secret` and `cloud_sql` are mutually exclusive",
            )
            .hint("keep `secret` for an existing database, or `cloud_sql` to have Terraform create one"),
        );
    }
    if let Some(s) = secret {
        s.only(cx, keys::DATABASE_SECRET);
        return DatabaseSpec::Secret {
            name: s.string(cx, "name"),
            key: s.string(cx, "key"),
        };
    }
    if let Some(c) = cloud_sql {
        c.only(cx, keys::CLOUD_SQL);
        return DatabaseSpec::CloudSql {
            span: c.span.clone(),
            tier: c.string(cx, "tier"),
            version: c.string(cx, "version"),
            database: c.string(cx, "database"),
            user: c.string(cx, "user"),
            deletion_protection: c.boolean(cx, "deletion_protection"),
            edition: c.string(cx, "edition"),
            allocated_range: c.string(cx, "allocated_range"),
        };
    }
    DatabaseSpec::Default
}

fn read_resource(cx: &mut Cx, name: Sp<String>, t: &Table) -> ResourceSpec {
    t.only(cx, keys::RESOURCE);
    let fields = t
        .table(cx, "fields")
        .map(|ft| read_fields(cx, &ft))
        .unwrap_or_default();
    let mut belongs_to = Vec::new();
    if let Some(bt) = t.table(cx, "belongs_to") {
        for (bname, bspan, value) in bt.entries() {
            let path = bt.path_of(bname);
            let bname = Sp::new(bname.to_string(), bspan);
            match value.get_ref() {
                DeValue::Table(inner) => {
                    let b = Table::new(inner, value.span(), path.clone());
                    b.only(cx, keys::BELONGS_TO);
                    let mut routes = NestedRoutesSpec::default();
                    if let Some(r) = b.table(cx, "routes") {
                        r.only(cx, keys::NESTED_ROUTES);
                        routes.list = read_route(cx, &r, "list", &mut routes.auth);
                        routes.create = read_route(cx, &r, "create", &mut routes.auth);
                    }
                    belongs_to.push(BelongsToSpec {
                        name: bname,
                        path,
                        resource: b.string(cx, "resource"),
                        on_delete: b.string(cx, "on_delete"),
                        required: b.boolean(cx, "required"),
                        routes,
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
                        "write `belongs_to.{} = {{ on_delete = \"cascade\" }}`",
                        bname.value
                    )),
                ),
            }
        }
    }
    let mut has_many = Vec::new();
    if let Some(ht) = t.table(cx, "has_many") {
        for (hname, hspan, value) in ht.entries() {
            let path = ht.path_of(hname);
            match value.get_ref() {
                DeValue::Table(inner) => {
                    let h = Table::new(inner, value.span(), path.clone());
                    h.only(cx, keys::HAS_MANY);
                    has_many.push(HasManySpec {
                        name: Sp::new(hname.to_string(), hspan),
                        path,
                        resource: h.string(cx, "resource"),
                        via: h.string(cx, "via"),
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
                        "write `has_many.{hname} = {{ resource = \"…\", via = \"…\" }}`"
                    )),
                ),
            }
        }
    }
    let mut routes = RoutesSpec::default();
    if let Some(r) = t.table(cx, "routes") {
        r.only(cx, keys::ROUTES);
        let mut auth = Vec::new();
        routes = RoutesSpec {
            list: read_route(cx, &r, "list", &mut auth),
            get: read_route(cx, &r, "get", &mut auth),
            create: read_route(cx, &r, "create", &mut auth),
            update: read_route(cx, &r, "update", &mut auth),
            replace: read_route(cx, &r, "replace", &mut auth),
            delete: read_route(cx, &r, "delete", &mut auth),
            auth,
        };
    }
    let mut list = ListSpec::default();
    if let Some(l) = t.table(cx, "list") {
        l.only(cx, keys::LIST);
        list = ListSpec {
            default_limit: l.int(cx, "default_limit"),
            max_limit: l.int(cx, "max_limit"),
            filter: l.strings(cx, "filter"),
            sort: l.strings(cx, "sort"),
        };
    }
    let cache = t.table(cx, "cache").map(|c| {
        c.only(cx, keys::CACHE);
        CacheSpec {
            span: c.span.clone(),
            max_age: c.int(cx, "max_age"),
            public: c.boolean(cx, "public"),
        }
    });
    let owner = t.table(cx, "owner").map(|o| {
        o.only(cx, keys::OWNER);
        OwnerSpec {
            span: o.span.clone(),
            field: o.string(cx, "field"),
            claim: o.string(cx, "claim"),
            existing: o.string(cx, "existing"),
        }
    });
    ResourceSpec {
        cache,
        owner,
        name,
        path: t.path.clone(),
        plural: t.string(cx, "plural"),
        fields,
        belongs_to,
        has_many,
        json: t.strings(cx, "json"),
        routes,
        list,
        hooks: t.strings(cx, "hooks"),
    }
}

/// `[gateway.identity]`: one table per provider, in source order.
fn read_identity(cx: &mut Cx, t: &Table) -> Vec<IdentitySpec> {
    let mut out = Vec::new();
    for (name, span, value) in t.entries() {
        let path = t.path_of(name);
        match value.get_ref() {
            DeValue::Table(inner) => {
                let it = Table::new(inner, value.span(), path.clone());
                it.only(cx, keys::IDENTITY);
                out.push(IdentitySpec {
                    name: Sp::new(name.to_string(), span),
                    path,
                    span: it.span.clone(),
                    issuer: it.string(cx, "issuer"),
                    jwks_uri: it.string(cx, "jwks_uri"),
                    audiences: it.strings(cx, "audiences"),
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
                    "declare the provider as `[gateway.identity.{name}]` with `issuer`, `jwks_uri` and `audiences`"
                )),
            ),
        }
    }
    out
}

/// One route's exposure: `"public"`, or `{ exposure = "public", auth = … }` (its
/// `auth` goes to `auth`, keyed by the route).
fn read_route(
    cx: &mut Cx,
    t: &Table,
    key: &'static str,
    auth: &mut Vec<(&'static str, AuthSpec)>,
) -> Option<Sp<String>> {
    let v = t.get(key)?;
    match v.get_ref() {
        DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
        DeValue::Table(inner) => {
            let rt = Table::new(inner, v.span(), t.path_of(key));
            rt.only(cx, keys::ROUTE);
            if let Some(a) = read_auth(cx, &rt) {
                auth.push((key, a));
            }
            rt.string(cx, "exposure")
        }
        other => {
            cx.diags.push(
                Diagnostic::new(
                    Code::E0103,
                    v.span(),
                    t.path_of(key),
                    format!("expected an exposure or a table, found {}", kind(other)),
                )
                .hint(format!(
                    "write `{key} = \"public\"`, or `{key} = {{ exposure = \"public\", auth = [\"api_key\", \"NAME\"] }}`"
                )),
            );
            None
        }
    }
}

/// `auth`: a credential name, a list of them (all needed), or a list of such lists
/// (any one of them).
pub(crate) fn read_auth(cx: &mut Cx, t: &Table) -> Option<AuthSpec> {
    let v = t.get("auth")?;
    let path = t.path_of("auth");
    let hint = "write `auth = \"firebase\"`, `auth = [\"api_key\", \"firebase\"]` (all of them) or `auth = [[\"firebase\"], [\"auth0\"]]` (any one of them)";
    let bad = |cx: &mut Cx, span: Range<usize>, found: String| {
        cx.diags.push(
            Diagnostic::new(
                Code::E0103,
                span,
                path.clone(),
                format!("expected a credential name or a list of them, found {found}"),
            )
            .hint(hint),
        );
    };
    let names = |cx: &mut Cx, items: &toml::de::DeArray<'_>| -> Option<Vec<Sp<String>>> {
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Sp::new(s.to_string(), item.span())),
                other => {
                    bad(cx, item.span(), format!("a list holding {}", kind(other)));
                    return None;
                }
            }
        }
        Some(out)
    };
    match v.get_ref() {
        DeValue::String(s) => Some(AuthSpec {
            span: v.span(),
            alternatives: vec![Sp::new(vec![Sp::new(s.to_string(), v.span())], v.span())],
            any_of: false,
        }),
        DeValue::Array(items) => {
            let nested = items
                .iter()
                .next()
                .is_some_and(|i| matches!(i.get_ref(), DeValue::Array(_)));
            if !nested {
                let list = names(cx, items)?;
                return Some(AuthSpec {
                    span: v.span(),
                    alternatives: vec![Sp::new(list, v.span())],
                    any_of: false,
                });
            }
            let mut alternatives = Vec::new();
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::Array(inner) => {
                        alternatives.push(Sp::new(names(cx, inner)?, item.span()));
                    }
                    other => {
                        bad(
                            cx,
                            item.span(),
                            format!("a list of lists holding {}", kind(other)),
                        );
                        return None;
                    }
                }
            }
            Some(AuthSpec {
                span: v.span(),
                alternatives,
                any_of: true,
            })
        }
        other => {
            bad(cx, v.span(), kind(other).to_string());
            None
        }
    }
}

/// A table of fields (`fields`, an operation's `query`, `params`, `body`, `output`):
/// each a type name or a field table, in source order.
fn read_fields(cx: &mut Cx, ft: &Table) -> Vec<FieldSpec> {
    let mut fields = Vec::new();
    let table_key = ft.path.rsplit('.').next().unwrap_or("fields").to_string();
    for (fname, fspan, value) in ft.entries() {
        let path = ft.path_of(fname);
        let fname = Sp::new(fname.to_string(), fspan);
        match value.get_ref() {
            DeValue::String(ty) => fields.push(FieldSpec::shorthand(fname, path, Sp::new(ty.to_string(), value.span()))),
            DeValue::Table(inner) => {
                let ftab = Table::new(inner, value.span(), path.clone());
                fields.push(read_field(cx, fname, path, &ftab));
            }
            other => cx.diags.push(
                Diagnostic::new(
                    Code::E0103,
                    value.span(),
                    path,
                    format!("expected a type name or a table, found {}", kind(other)),
                )
                .hint(format!("write `{table_key}.{0} = \"text\"` or `{table_key}.{0} = {{ type = \"string\", max_length = 80 }}`", fname.value)),
            ),
        }
    }
    fields
}

fn read_field(cx: &mut Cx, name: Sp<String>, path: String, t: &Table) -> FieldSpec {
    t.only(cx, keys::FIELD);
    let ty = t.string(cx, "type");
    if ty.is_none() && t.get("type").is_none() {
        cx.diags.push(
            Diagnostic::new(
                Code::E0106,
                t.span.clone(),
                path.clone(),
                "missing key `type`",
            )
            .hint(format!(
                "add `type = \"…\"`, one of: {}",
                keys::FIELD_TYPES.join(", ")
            )),
        );
    }
    FieldSpec {
        name,
        path,
        ty,
        required: t.boolean(cx, "required"),
        unique: t.boolean(cx, "unique"),
        read_only: t.boolean(cx, "read_only"),
        default: t.scalar(cx, "default"),
        max_length: t.int(cx, "max_length"),
        min_length: t.int(cx, "min_length"),
        pattern: t.string(cx, "pattern"),
        min: t.scalar(cx, "min"),
        max: t.scalar(cx, "max"),
        precision: t.int(cx, "precision"),
        scale: t.int(cx, "scale"),
        values: t.strings(cx, "values"),
    }
}

impl FieldSpec {
    fn shorthand(name: Sp<String>, path: String, ty: Sp<String>) -> Self {
        FieldSpec {
            name,
            path,
            ty: Some(ty),
            required: None,
            unique: None,
            read_only: None,
            default: None,
            max_length: None,
            min_length: None,
            pattern: None,
            min: None,
            max: None,
            precision: None,
            scale: None,
            values: None,
        }
    }
}
