//! The IR: a checked spec, lowered into everything the emitters need.
//!
//! Stage: `check` → **`lower`** → `emit`. Lowering is infallible: every rule that can
//! reject user input lives in `check`. Every name an emitter prints is computed here,
//! once (case conversions, plurals, table and column names, GCP and Kubernetes object
//! names), so two emitters can never disagree about a name.
//!
//! Ordering is part of the contract: resources are sorted by name (so reordering the
//! spec's tables changes nothing), fields keep the order the spec declares them in
//! (that order is the column order and the default JSON order), routes follow
//! [`RouteKind`]'s order.

pub mod budget;
mod derived;
pub use derived::region_of;
mod lower;
mod lower_auth;
mod lower_field;
mod lower_operations;
pub mod names;
mod upstream;
pub use upstream::Upstream;

pub use lower::lower;
use names::DerivedNames;

/// Where the model came from: used in file headers and in the commands we print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSource {
    /// The spec file's stem (`specs/shop.toml` → `shop`): names the output folder and
    /// the generated crates (`shop-backend`, `shop-relay`).
    pub stem: String,
    /// The path as the user should type it, with `/` separators (`specs/shop.toml`).
    pub display_path: String,
}

/// Where an item is written in the spec: its item path and the span of its name.
/// No emitter reads it (output never depends on where things sit in the file); it
/// locates the errors found after lowering, the schema changes the migration planner
/// refuses, at the spec item that causes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The item path (`resources.product.fields.price`).
    pub path: String,
    /// Byte range of the item's name in the spec source (`price`).
    pub span: std::ops::Range<usize>,
}

/// The checked, resolved spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub source: SpecSource,
    pub service: Service,
    pub gcp: Gcp,
    pub gateway: Gateway,
    pub relay: Relay,
    pub database: Database,
    /// The timeouts of the chain, gateway to database ([`budget`]).
    pub budget: budget::Budget,
    /// Sorted by `names.snake`.
    pub resources: Vec<Resource>,
    /// Custom routes the extension crate implements; sorted by `names.snake`. For an
    /// existing service ([`Model::upstream`]), the routes proxied to it.
    pub operations: Vec<Operation>,
    /// `Some` when the spec exposes an existing service instead of a generated
    /// backend: no backend, database, Deployment or extension is emitted for it.
    pub upstream: Option<Upstream>,
    /// The spec source in normal form (no comments, tables sorted), which the output
    /// records as `spec.toml` for `shopgen diff`; set by [`crate::compile`].
    pub spec_record: String,
    /// What the spec may say but probably does not mean ([`crate::check::lints`]);
    /// set by [`crate::compile`], printed by the commands, never stopping them.
    pub warnings: Vec<crate::diagnostics::Warning>,
}

/// One identifier in every spelling the artifacts need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `order_item`: Rust fields and modules, SQL tables and columns, JSON keys.
    pub snake: String,
    /// `OrderItem`: Rust types.
    pub pascal: String,
    /// `orderItem`: OpenAPI operation ids.
    pub camel: String,
    /// `order-item`: URL path segments.
    pub kebab: String,
    /// `ORDER_ITEM`: Rust constants.
    pub shouty: String,
}

/// The backend service as Kubernetes runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// DNS-1123 label (`shop-api`): the Deployment, the Service, the GCP name prefix.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// The port the backend container listens on (`PORT`), 3000 by default.
    pub container_port: u16,
    /// The internal load balancer's port, 80 by default.
    pub service_port: u16,
    pub replicas: u32,
    /// Kubernetes quantities (`"100m"`, `"128Mi"`).
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
    /// HorizontalPodAutoscaler bounds; `min_replicas` defaults to `replicas`.
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_cpu_percent: u32,
    /// Seconds the backend drains in-flight requests after SIGTERM; the pod's
    /// termination grace period is derived from it.
    pub drain_seconds: u32,
    /// Largest request body the backend accepts, in bytes.
    pub max_body_bytes: u64,
    /// Derived names, all checked against their platform's limits.
    pub names: ServiceNames,
}

/// Every Google Cloud and Kubernetes object name derived from the service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// Package of the generated backend crate: `<spec stem>-backend`.
    pub backend_crate: String,
    /// Package of the generated relay crate: `<spec stem>-relay`.
    pub relay_crate: String,
    /// Package of the generated extension interface (`<spec stem>-api`): the traits and
    /// typed inputs the extension crate implements. Only generated when the spec has
    /// operations or hooks.
    pub api_crate: String,
    /// Package of the user-owned extension crate (`<spec stem>-extension`), at
    /// `extensions/<spec stem>/` beside the `generated/` folder.
    pub extension_crate: String,
    /// Kubernetes Secret that holds `DATABASE_URL`.
    pub k8s_database_secret: String,
    /// The Google Cloud and Kubernetes object names derived from the service name
    /// (the Deployment, the Cloud Run service, the service accounts, …), as the
    /// checker held them to their platforms' limits.
    pub derived: DerivedNames,
    /// Container image names inside that repository.
    pub backend_image: String,
    pub relay_image: String,
}

/// Google Cloud placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcp {
    pub project: String,
    pub region: String,
    /// VPC network and subnetwork the cluster, the internal LB and the relay's egress use.
    pub network: String,
    pub subnetwork: String,
    pub egress: Egress,
    pub cluster: Cluster,
    /// Source ranges the internal load balancer admits besides the relay's egress
    /// range (`gcp.ilb_source_ranges`).
    pub ilb_source_ranges: Vec<String>,
    /// Region of the API Gateway gateway (`gcp.gateway_region`, else `region`); one of
    /// `shopgen_facts::gcp::API_GATEWAY_REGIONS`.
    pub gateway_region: String,
    /// Where `shopgen deploy` keeps the Terraform state.
    pub state: TerraformState,
}

/// Where the Terraform state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerraformState {
    /// `terraform.tfstate` in the generated folder (git-ignored there).
    Local,
    /// A Cloud Storage bucket (the generated Terraform has an empty `backend "gcs"`
    /// block; the bucket and prefix are given to `terraform init`).
    Gcs {
        /// `None`: named by `shopgen deploy` from the project and the service.
        bucket: Option<String>,
        prefix: String,
    },
}

/// How the Cloud Run relay reaches the private network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    /// A Serverless VPC Access connector on its own /28 range.
    Connector {
        /// `10.8.0.0/28`, checked to be a valid /28.
        cidr: String,
        min_instances: u32,
        max_instances: u32,
        machine_type: String,
    },
    /// Direct VPC egress: Cloud Run instances take addresses from `gcp.subnetwork`.
    DirectVpc,
}

/// The GKE cluster the backend runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// An existing cluster, referenced by name and location (region or zone).
    Existing { name: String, location: String },
    /// A new VPC-native private cluster with Workload Identity, created by Terraform.
    Create {
        name: String,
        location: String,
        /// Control plane's /28.
        master_cidr: String,
        /// Secondary ranges for pods and services.
        pods_cidr: String,
        services_cidr: String,
        /// Primary range of a subnetwork shopgen creates for the cluster.
        nodes_cidr: String,
        /// Ranges allowed to reach the control plane's public IP endpoint (none: the
        /// IP endpoint admits no public address; kubectl uses the IAM-authenticated
        /// DNS endpoint).
        authorized_networks: Vec<String>,
    },
}

/// Google API Gateway settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// Lower-case header carrying the API key (`x-api-key`).
    pub api_key_header: String,
    pub dialect: OpenApiDialect,
    /// Backend deadline, seconds.
    pub deadline_seconds: f64,
    /// Title of the API (shown in the console; API-key restrictions name it).
    pub title: String,
    /// Which web pages may call the public routes; `None`: no CORS (no `OPTIONS`
    /// operations, no CORS headers).
    pub cors: Option<Cors>,
    /// One API key per consumer, in spec order; empty: the one `client` key.
    pub consumers: Vec<Consumer>,
    /// The API Gateway quota; `None`: no quota extensions.
    pub quota: Option<Quota>,
    /// Issuers of user tokens the gateway verifies (`[gateway.identity.NAME]`), by
    /// name; empty: callers present the API key only.
    pub identity: Vec<IdentityProvider>,
}

/// `[gateway.identity.NAME]`: an issuer of user tokens (JWTs). API Gateway checks a
/// token's signature against `jwks_uri`, its `iss` against `issuer`, its `aud` against
/// `audiences` and its expiry, before the request reaches the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// As written in the spec (`firebase`); [`Access::user_token`] names it.
    pub name: String,
    /// The security scheme (3.0) / security definition (2.0) of the gateway document
    /// and the bearer scheme of the backend's document that stand for this provider.
    pub scheme: String,
    /// The `iss` claim tokens must carry (an https URL).
    pub issuer: String,
    /// Where the issuer publishes its signing keys (JWKS or X.509 certificates).
    pub jwks_uri: String,
    /// The accepted `aud` claims, in spec order.
    pub audiences: Vec<String>,
}

/// What a caller must present at the gateway to call a public route or operation:
/// the API key when `api_key`, and, when `user_token` is not empty, a user token
/// (`Authorization: Bearer …`) from any one of those providers. `check` guarantees
/// the combinations API Gateway supports: with the API key, at most one provider.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub api_key: bool,
    /// Provider names ([`IdentityProvider::name`]), in spec order; any one will do.
    pub user_token: Vec<String>,
}

impl Default for Access {
    /// The API key alone: a plain `"public"`.
    fn default() -> Self {
        Access {
            api_key: true,
            user_token: Vec::new(),
        }
    }
}

/// One credential of a security requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    ApiKey,
    /// A user token of this provider (by name).
    UserToken(&'a str),
}

impl Access {
    /// Whether the caller must present a user token.
    pub fn needs_user_token(&self) -> bool {
        !self.user_token.is_empty()
    }
    /// The requirement as OpenAPI states it: alternatives (any one), each a list of
    /// credentials (all of them).
    pub fn requirements(&self) -> Vec<Vec<Credential<'_>>> {
        match (self.api_key, self.user_token.as_slice()) {
            (true, []) => vec![vec![Credential::ApiKey]],
            (true, tokens) => vec![
                std::iter::once(Credential::ApiKey)
                    .chain(tokens.iter().map(|t| Credential::UserToken(t)))
                    .collect(),
            ],
            (false, tokens) => tokens
                .iter()
                .map(|t| vec![Credential::UserToken(t)])
                .collect(),
        }
    }
}

impl Gateway {
    /// The provider with this name. Lowering guarantees every name an [`Access`]
    /// refers to exists, so a miss is a bug in shopgen.
    pub fn provider(&self, name: &str) -> &IdentityProvider {
        self.identity
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("internal error: unknown identity provider `{name}`"))
    }
}

/// CORS for the public routes: API Gateway passes keyless `OPTIONS` operations to the
/// relay, which answers the preflight itself and adds the headers to real responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Exact origins (`https://shop.example.com`), or the one entry `*`.
    pub allowed_origins: Vec<String>,
    /// Request headers allowed besides the API key header and `content-type`
    /// (lower case, sorted, deduplicated; the API key header and `content-type` included).
    pub allowed_headers: Vec<String>,
    /// Response headers a page may read (lower case, in spec order).
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    pub max_age: u32,
    pub allow_credentials: bool,
}

/// One consumer of the API, with its own API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// As written in the spec (`partner-a`).
    pub name: String,
    /// Terraform resource label (`partner_a`).
    pub label: String,
    /// The key's resource name prefix (`shop-api-partner-a`).
    pub key_name: String,
}

/// API Gateway's quota: one metric counting requests, one per-minute limit per
/// consumer project, and a cost per operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Metric name (`shop-api-requests`).
    pub metric: String,
    /// Limit name (`shop-api-requests-per-minute`).
    pub limit: String,
    pub requests_per_minute: u64,
    /// Cost of one call, by public operation id; operations not listed cost 1.
    pub costs: std::collections::BTreeMap<String, u64>,
}

impl Quota {
    /// The cost of one call of this operation.
    pub fn cost(&self, operation_id: &str) -> u64 {
        self.costs.get(operation_id).copied().unwrap_or(1)
    }
}

/// `Cache-Control` of a resource's GET responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub max_age: u32,
    /// `public` (shared caches may store it) rather than `private`.
    pub public: bool,
}

impl CachePolicy {
    /// The header value: `public, max-age=60` / `private, max-age=60`.
    pub fn header_value(&self) -> String {
        let scope = if self.public { "public" } else { "private" };
        format!("{scope}, max-age={}", self.max_age)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenApiDialect {
    /// OpenAPI 3.0.x with `x-google-api-management` (the default).
    OpenApi30,
    /// Swagger 2.0 with the object form of `x-google-backend`.
    Swagger20,
}

/// The Cloud Run relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub min_instances: u32,
    pub max_instances: u32,
    /// Concurrent requests per instance.
    pub concurrency: u32,
    pub max_body_bytes: u64,
    pub cpu: String,
    pub memory: String,
}

/// Where the production database comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An existing database whose `DATABASE_URL` lives in a Kubernetes Secret that the
    /// operator creates (`kubectl create secret`); never written into generated files.
    ExistingSecret { secret: String, key: String },
    /// A Cloud SQL for PostgreSQL instance with a private IP, created by Terraform;
    /// its URL is stored in Secret Manager and copied into the Kubernetes Secret.
    CloudSql {
        instance: String,
        tier: String,
        database_version: String,
        database: String,
        user: String,
        deletion_protection: bool,
        /// `ENTERPRISE` or `ENTERPRISE_PLUS`: from the spec, else from the tier
        /// (`db-perf-optimized-*` tiers are Enterprise Plus, every other tier Enterprise).
        edition: String,
        /// The private services access range Cloud SQL's addresses come from
        /// (`10.96.0.0/16` unless the spec says otherwise), pinned so it can be checked
        /// against the cluster's and the connector's ranges.
        allocated_range: String,
    },
}

/// One resource (a table and its routes).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Singular (`product`).
    pub names: Names,
    /// Plural (`products`): the table, the URL segment (kebab), the list JSON key.
    pub plural: Names,
    /// SQL table name (= `plural.snake`).
    pub table: String,
    /// User fields in declaration order. The `id` primary key (`BIGINT`, generated)
    /// is implicit and not listed here.
    pub fields: Vec<Field>,
    /// Sorted by relation name.
    pub belongs_to: Vec<BelongsTo>,
    /// Sorted by relation name; inferred from other resources' `belongs_to` or declared.
    pub has_many: Vec<HasMany>,
    /// The JSON object, member by member, in order.
    pub json: Vec<JsonMember>,
    pub list: ListSettings,
    /// In [`RouteKind`] order.
    pub routes: Vec<Route>,
    /// Extension methods run around this resource's writes, in [`Hook`] order.
    pub hooks: Vec<Hook>,
    /// `Cache-Control` of its GET responses; `None`: `no-store`.
    pub cache: Option<CachePolicy>,
    /// `Some` when each row belongs to a user (`owner = { … }`); its column is also the
    /// last of [`Resource::fields`].
    pub owner: Option<Ownership>,
    /// `resources.product` in the spec.
    pub origin: Origin,
}

/// `owner = { field, claim, existing }`: each row belongs to the user a verified token
/// names. Routes that take a user token (the public ones: the checker refuses a public
/// route of an owned resource without one) set the owner on create from the token's
/// claim and read, change and delete only the caller's rows; internal routes do not.
#[derive(Debug, Clone, PartialEq)]
pub struct Ownership {
    /// The column (and JSON member, and field) that holds the owner: a `string`.
    pub column: String,
    /// The token claim whose value is the owner (`sub`).
    pub claim: String,
    /// The owner given to the rows that exist when ownership is added to a table that
    /// has rows (the migration fills the new column with it).
    pub existing: Option<String>,
}

impl Ownership {
    /// Longest owner value, in characters: the column's `max_length`.
    pub const MAX_LENGTH: u32 = 255;
}

impl Resource {
    /// Whether `route` honours `Idempotency-Key` (the backend runtime's
    /// `idempotency`): a create, of a resource without hooks.
    pub fn honours_idempotency_key(&self, route: &Route) -> bool {
        self.hooks.is_empty()
            && matches!(
                route.kind,
                RouteKind::Create | RouteKind::NestedCreate { .. }
            )
    }

    /// Whether `route` is scoped to its caller's rows: a route of an owned resource
    /// that takes a user token.
    pub fn owned_route(&self, route: &Route) -> bool {
        self.owner.is_some()
            && route.access.needs_user_token()
            && route.exposure == Exposure::Public
    }
}

/// A point in a write where the extension crate's code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    /// Inside the transaction, before the insert: may change or reject the record.
    BeforeCreate,
    /// Inside the transaction, before the update: may change or reject the changes.
    BeforeUpdate,
    /// Inside the transaction, before the delete: may reject it.
    BeforeDelete,
    /// After the commit; a failure is logged, the write stands.
    AfterCreate,
    AfterUpdate,
    AfterDelete,
}

impl Hook {
    pub const ALL: [Hook; 6] = [
        Hook::BeforeCreate,
        Hook::BeforeUpdate,
        Hook::BeforeDelete,
        Hook::AfterCreate,
        Hook::AfterUpdate,
        Hook::AfterDelete,
    ];
    /// The spec's spelling (`before_create`), also the trait method's name.
    pub fn name(self) -> &'static str {
        match self {
            Hook::BeforeCreate => "before_create",
            Hook::BeforeUpdate => "before_update",
            Hook::BeforeDelete => "before_delete",
            Hook::AfterCreate => "after_create",
            Hook::AfterUpdate => "after_update",
            Hook::AfterDelete => "after_delete",
        }
    }
    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.name() == name)
    }
    /// Whether it runs inside the write's transaction (and may reject the write).
    pub fn is_before(self) -> bool {
        matches!(
            self,
            Hook::BeforeCreate | Hook::BeforeUpdate | Hook::BeforeDelete
        )
    }
}

/// `[operations.NAME]`: a custom route whose handler the extension crate implements.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// `rating_summary`: the trait method (snake), the input types (pascal).
    pub names: Names,
    pub method: HttpMethod,
    /// OpenAPI-style template with whole-segment parameters (`/products/{id}/rating`).
    pub path: String,
    /// Unique across the API (= `names.camel`).
    pub operation_id: String,
    pub exposure: Exposure,
    /// What a caller must present at the gateway (public operations only).
    pub access: Access,
    /// One line for the API documents and the trait method's doc comment.
    pub summary: String,
    /// Path parameters, in the order the path names them.
    pub params: Vec<Field>,
    /// Query parameters, in declaration order.
    pub query: Vec<Field>,
    /// The request body, if the operation takes one (always a JSON object).
    pub body: Option<Shape>,
    /// The success response; `None`: 204 without a body.
    pub output: Option<Shape>,
}

/// A body or response shape of an [`Operation`].
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A JSON object with these members (declaration order).
    Fields(Vec<Field>),
    /// A resource by singular snake name: as a body, its create payload; as an output,
    /// `{"<singular>": <its JSON>}`.
    Resource(String),
    /// Output only: `{"<plural>": [<its JSON>, …]}`.
    List(String),
}

/// One route API Gateway and the relay let through: a public CRUD route or a public
/// operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicEndpoint<'m> {
    pub method: HttpMethod,
    pub path: &'m str,
    pub operation_id: &'m str,
    /// What a caller must present.
    pub access: &'m Access,
}

/// A user-declared column.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub names: Names,
    /// The name on the wire (JSON key, path or query parameter): `names.snake` for the
    /// backend shopgen generates, the upstream's own spelling (`productId`) for an
    /// existing service.
    pub wire: String,
    /// SQL column name (= `names.snake`).
    pub column: String,
    pub ty: FieldType,
    /// Required fields must be present on create and are `NOT NULL`.
    pub required: bool,
    pub unique: bool,
    pub default: Option<DefaultValue>,
    /// Writable in create/update payloads (false for read-only fields).
    pub writable: bool,
    /// `resources.product.fields.price` (or an operation's parameter) in the spec.
    pub origin: Origin,
}

/// Field types, with their constraints.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// `VARCHAR(max_length)`; lengths count Unicode scalar values.
    String {
        max_length: u32,
        min_length: Option<u32>,
        /// A regular expression (Rust `regex` syntax, anchored by the user if wanted).
        pattern: Option<String>,
    },
    /// Unbounded text, optionally length-limited.
    Text {
        min_length: Option<u32>,
        max_length: Option<u32>,
    },
    /// 32-bit integer.
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// 64-bit integer.
    BigInt {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    /// Exact decimal, carried as a JSON string (`"83.84"`); bounds are decimal strings.
    Decimal {
        precision: u32,
        scale: u32,
        min: Option<String>,
        max: Option<String>,
    },
    /// 64-bit float.
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// RFC 3339 timestamp with time zone, stored in UTC.
    Timestamp,
    /// `YYYY-MM-DD`.
    Date,
    Uuid,
    /// One of `values` (each a checked identifier-like string).
    Enum {
        values: Vec<String>,
    },
}

impl FieldType {
    /// The spec's spelling of the type.
    pub fn keyword(&self) -> &'static str {
        match self {
            FieldType::String { .. } => "string",
            FieldType::Text { .. } => "text",
            FieldType::Integer { .. } => "integer",
            FieldType::BigInt { .. } => "bigint",
            FieldType::Boolean => "boolean",
            FieldType::Decimal { .. } => "decimal",
            FieldType::Float { .. } => "float",
            FieldType::Timestamp => "timestamp",
            FieldType::Date => "date",
            FieldType::Uuid => "uuid",
            FieldType::Enum { .. } => "enum",
        }
    }
}

/// A field's default, already checked against the field's type and constraints.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// string, text, enum, decimal (as its exact string), date, uuid, timestamp literal.
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `"now"` for a timestamp (or `"today"` for a date): set at insert time.
    Now,
}

/// `review belongs_to product`.
#[derive(Debug, Clone, PartialEq)]
pub struct BelongsTo {
    /// The relation's name (`product`).
    pub name: Names,
    /// Singular snake name of the parent resource.
    pub target: String,
    /// Foreign key column (`product_id`), `BIGINT REFERENCES products(id)`.
    pub column: String,
    pub on_delete: OnDelete,
    /// A required relation's column is `NOT NULL`.
    pub required: bool,
    /// `/products/{id}/reviews` routes; `None` when off.
    pub nested_list: Option<Exposure>,
    pub nested_create: Option<Exposure>,
    /// `resources.review.belongs_to.product` in the spec.
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    Cascade,
    Restrict,
    SetNull,
}

impl OnDelete {
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "CASCADE",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

/// The inverse side of a `belongs_to`: `product has_many reviews`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HasMany {
    /// The relation's name (`reviews`): the JSON key when embedded.
    pub name: Names,
    /// Singular snake name of the child resource (`review`).
    pub target: String,
    /// The `belongs_to` relation on the child that this inverts (`product`).
    pub inverse: String,
    /// The child's foreign key column (`product_id`).
    pub foreign_key: String,
}

/// One member of a resource's JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonMember {
    /// The generated primary key, a JSON number.
    Id,
    /// A user field, by snake name.
    Field(String),
    /// A belongs_to relation's foreign key as a number (`"product_id": 1`), by relation name.
    ForeignKey(String),
    /// A has_many relation embedded as an array of the child's JSON (children ordered by
    /// id; the child's own embedded relations are not expanded), by relation name.
    HasMany(String),
}

/// How `GET /{plural}` pages, filters and sorts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSettings {
    /// `limit` when the request gives none.
    pub default_limit: u32,
    /// Largest accepted `limit`.
    pub max_limit: u32,
    /// Field snake names (or `*_id` foreign key columns) accepted as `?name=value` equality filters.
    pub filter: Vec<String>,
    /// Field snake names accepted in `?sort=name` / `?sort=-name` (`id` is always accepted).
    pub sort: Vec<String>,
}

/// Whether a route is reachable through API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exposure {
    /// Served by the backend inside the cluster only.
    Internal,
    /// Also exposed through API Gateway and the relay, with an API key required.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
    /// Lower case, as OpenAPI path items spell it.
    pub fn lower(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
            HttpMethod::Put => "put",
            HttpMethod::Patch => "patch",
            HttpMethod::Delete => "delete",
        }
    }
}

/// What a route does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteKind {
    /// `GET /products`
    List,
    /// `GET /products/{id}`
    Get,
    /// `POST /products`
    Create,
    /// `PATCH /products/{id}` (partial)
    Update,
    /// `PUT /products/{id}` (full replacement)
    Replace,
    /// `DELETE /products/{id}`
    Delete,
    /// `GET /products/{id}/reviews`: children of one parent, by the child's belongs_to name.
    NestedList { relation: String },
    /// `POST /products/{id}/reviews`
    NestedCreate { relation: String },
}

/// One HTTP route of the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub kind: RouteKind,
    pub method: HttpMethod,
    /// OpenAPI-style template with whole-segment parameters: `/products/{id}/reviews`.
    pub path: String,
    /// Unique across the API: `listProducts`, `getProduct`, `listProductReviews`.
    pub operation_id: String,
    pub exposure: Exposure,
    /// What a caller must present at the gateway (public routes only; an internal
    /// route keeps the default).
    pub access: Access,
}

/// `{id}` → `id`, in path order; whole segments only (the checker guarantees it).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

impl Model {
    /// The resource with this singular snake name. Lowering guarantees every name a
    /// model refers to exists, so a miss is a bug in shopgen.
    pub fn resource(&self, snake: &str) -> &Resource {
        self.resources
            .iter()
            .find(|r| r.names.snake == snake)
            .unwrap_or_else(|| panic!("internal error: unknown resource `{snake}` in model"))
    }

    /// Every route of every resource, resources by name, routes in kind order.
    pub fn routes(&self) -> impl Iterator<Item = (&Resource, &Route)> {
        self.resources
            .iter()
            .flat_map(|r| r.routes.iter().map(move |route| (r, route)))
    }

    /// The backend's `CACHE_CONTROL_ROUTES`: `ROUTE=Cache-Control` for every GET route
    /// of a resource with a `cache` policy, `;`-separated; `None` when no resource has
    /// one (every answer then says `no-store`).
    pub fn cache_control_routes(&self) -> Option<String> {
        let rules: Vec<String> = self
            .routes()
            .filter(|(_, route)| route.method == HttpMethod::Get)
            .filter_map(|(r, route)| {
                r.cache
                    .map(|c| format!("{}={}", route.path, c.header_value()))
            })
            .collect();
        (!rules.is_empty()).then(|| rules.join(";"))
    }

    /// The routes API Gateway exposes (and the relay allows).
    pub fn public_routes(&self) -> impl Iterator<Item = (&Resource, &Route)> {
        self.routes()
            .filter(|(_, r)| r.exposure == Exposure::Public)
    }

    /// Everything the gateway and the relay let through: public CRUD routes (resources
    /// by name, routes in kind order), then public operations (by name).
    pub fn public_endpoints(&self) -> impl Iterator<Item = PublicEndpoint<'_>> {
        let routes = self.public_routes().map(|(_, r)| PublicEndpoint {
            method: r.method,
            path: &r.path,
            operation_id: &r.operation_id,
            access: &r.access,
        });
        let operations = self
            .operations
            .iter()
            .filter(|o| o.exposure == Exposure::Public)
            .map(|o| PublicEndpoint {
                method: o.method,
                path: &o.path,
                operation_id: &o.operation_id,
                access: &o.access,
            });
        routes.chain(operations)
    }

    /// Whether some public route or operation takes a user token.
    pub fn takes_user_tokens(&self) -> bool {
        self.public_endpoints().any(|e| e.access.needs_user_token())
    }

    /// Whether the spec needs an extension crate (it declares operations or hooks).
    pub fn has_extension(&self) -> bool {
        // An existing service implements its routes itself.
        self.upstream.is_none() && !self.operations.is_empty()
            || self.resources.iter().any(|r| !r.hooks.is_empty())
    }
}

impl Resource {
    /// The members of its create payload, in payload order: writable fields, then
    /// belongs-to columns. An operation with `body = "<resource>"` takes exactly these.
    pub fn create_members(&self) -> impl Iterator<Item = &str> {
        let fields = self.fields.iter().filter(|f| f.writable);
        fields
            .map(|f| f.names.snake.as_str())
            .chain(self.belongs_to.iter().map(|b| b.column.as_str()))
    }
    pub fn field(&self, snake: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.names.snake == snake)
    }
    pub fn belongs_to(&self, name: &str) -> Option<&BelongsTo> {
        self.belongs_to.iter().find(|b| b.name.snake == name)
    }
    pub fn has_many(&self, name: &str) -> Option<&HasMany> {
        self.has_many.iter().find(|h| h.name.snake == name)
    }
}
