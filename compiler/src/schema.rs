//! The spec format as a JSON Schema (draft-07), for editors: taplo / Even Better TOML
//! read it and give completion and validation. `shopgen schema` prints it.
//!
//! Built from the same key lists the parser uses (`spec::keys`), so a key the parser
//! accepts is a key the schema knows; a test keeps the two in step.

use serde_json::{Map, Value, json};

use crate::spec::keys;

fn obj(props: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut m = Map::new();
    for (k, v) in props {
        m.insert(k.to_string(), v);
    }
    let mut o =
        json!({ "type": "object", "additionalProperties": false, "properties": Value::Object(m) });
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

fn string(desc: &str) -> Value {
    json!({ "type": "string", "description": desc })
}

fn int(desc: &str, min: i64, max: i64) -> Value {
    json!({ "type": "integer", "description": desc, "minimum": min, "maximum": max })
}

/// `auth`: a credential, a list of them (all needed), or a list of such lists (any one).
fn auth() -> Value {
    let name = json!({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"});
    json!({
        "description": "What a caller must present at the gateway: `api_key` and/or a provider of `[gateway.identity]`. A name or a list: all of them; a list of lists: any one of them (default: [\"api_key\"]).",
        "oneOf": [
            name,
            {"type": "array", "items": name},
            {"type": "array", "items": {"type": "array", "items": name}}
        ]
    })
}

fn exposure(desc: &str) -> Value {
    let word =
        json!({ "type": "string", "enum": ["public", "internal", "off"], "description": desc });
    let table = obj(
        vec![
            (
                "exposure",
                json!({ "type": "string", "enum": ["public", "internal", "off"], "description": "public, internal or off (default: the route's)." }),
            ),
            ("auth", auth()),
        ],
        &[],
    );
    json!({ "description": desc, "oneOf": [word, table] })
}

/// The JSON Schema document.
pub fn json_schema() -> Value {
    let service = obj(
        vec![
            (
                "name",
                json!({"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$", "description": "Service name: Kubernetes objects, the Cloud Run relay and Google Cloud names derive from it."}),
            ),
            (
                "namespace",
                string("Kubernetes namespace (default: the service name)."),
            ),
            (
                "port",
                int(
                    "Container port the backend listens on (default 3000).",
                    1024,
                    65535,
                ),
            ),
            (
                "service_port",
                int(
                    "Port of the internal load balancer Service (default 80).",
                    1,
                    65535,
                ),
            ),
            ("replicas", int("Deployment replicas (default 2).", 1, 1000)),
            (
                "min_replicas",
                int(
                    "HorizontalPodAutoscaler minimum (default: replicas).",
                    1,
                    1000,
                ),
            ),
            (
                "max_replicas",
                int(
                    "HorizontalPodAutoscaler maximum (default: 5 × replicas).",
                    1,
                    1000,
                ),
            ),
            (
                "target_cpu_percent",
                int("HPA target CPU utilisation (default 70).", 1, 100),
            ),
            (
                "cpu_request",
                string("Container CPU request (default \"100m\")."),
            ),
            (
                "memory_request",
                string("Container memory request (default \"128Mi\")."),
            ),
            ("cpu_limit", string("Container CPU limit (default \"1\").")),
            (
                "memory_limit",
                string("Container memory limit (default \"256Mi\")."),
            ),
            (
                "drain_seconds",
                int(
                    "Seconds the backend drains after SIGTERM (default 20).",
                    1,
                    600,
                ),
            ),
            (
                "max_body_bytes",
                int(
                    "Largest request body the backend accepts (default 1 MiB).",
                    1024,
                    33554432,
                ),
            ),
            (
                "request_timeout_ms",
                int(
                    "The backend's request timeout in ms (503 after it); inside the relay's timeout (default: the relay's − the hop margin, 12000 for the default deadline).",
                    100,
                    3600000,
                ),
            ),
            (
                "database_acquire_timeout_ms",
                int(
                    "The time one request may wait for database connections in all, in ms (503 after it); inside the request timeout (default 5000, less for short deadlines).",
                    100,
                    3600000,
                ),
            ),
        ],
        &["name"],
    );
    let egress = json!({
        "description": "How the relay reaches the VPC: \"direct-vpc\" (default) or a Serverless VPC Access connector.",
        "oneOf": [
            { "const": "direct-vpc" },
            obj(vec![
                ("connector", string("The connector's /28 range, e.g. \"10.8.0.0/28\".")),
                ("min_instances", int("Connector minimum instances (default 2).", 2, 9)),
                ("max_instances", int("Connector maximum instances (default 3).", 3, 10)),
                ("machine_type", json!({"type": "string", "enum": ["f1-micro", "e2-micro", "e2-standard-4"], "description": "Connector machine type (default e2-micro)."})),
            ], &["connector"]),
        ]
    });
    let cluster = obj(
        vec![
            ("name", string("GKE cluster name.")),
            (
                "location",
                string("Region or zone of the cluster (default: gcp.region)."),
            ),
            (
                "create",
                json!({"type": "boolean", "description": "Create a private VPC-native cluster with Workload Identity (default false: use an existing one)."}),
            ),
            (
                "master_cidr",
                string("Control plane /28 (create only; default 172.16.0.0/28)."),
            ),
            (
                "pods_cidr",
                string("Pod secondary range (create only; default 10.64.0.0/14)."),
            ),
            (
                "services_cidr",
                string("Service secondary range (create only; default 10.68.0.0/20)."),
            ),
            (
                "nodes_cidr",
                string("Node subnetwork range (create only; default 10.10.0.0/20)."),
            ),
            (
                "authorized_networks",
                json!({"type": "array", "items": {"type": "string"}, "description": "Ranges allowed to reach the created cluster's public IP endpoint (create only; default none: kubectl uses the IAM-checked DNS endpoint)."}),
            ),
        ],
        &["name"],
    );
    let gcp = obj(
        vec![
            ("project", string("Google Cloud project id.")),
            (
                "region",
                string("Region for the relay, the gateway and the internal load balancer."),
            ),
            ("network", string("VPC network (default \"default\").")),
            (
                "subnetwork",
                string(
                    "Subnetwork for the internal load balancer and Direct VPC egress (default \"default\").",
                ),
            ),
            ("egress", egress),
            ("cluster", cluster),
            (
                "ilb_source_ranges",
                json!({"type": "array", "items": {"type": "string"}, "description": "Private IPv4 ranges the internal load balancer admits besides the relay's egress range (default none)."}),
            ),
            (
                "gateway_region",
                json!({"type": "string", "enum": shopgen_facts::gcp::API_GATEWAY_REGIONS, "description": "Region of the API Gateway gateway (default: region, which must then be one API Gateway runs in)."}),
            ),
            (
                "state",
                json!({"description": "Where shopgen deploy keeps the Terraform state: \"local\", or a Cloud Storage bucket (default: a bucket named <project>-<service>-tfstate, prefix the spec's file stem).", "oneOf": [
                    { "const": "local" },
                    obj(vec![
                        ("bucket", string("Cloud Storage bucket (default: <project>-<service>-tfstate, created by shopgen deploy).")),
                        ("prefix", string("Object prefix in the bucket (default: the spec's file stem).")),
                    ], &[]),
                ]}),
            ),
        ],
        &["project", "region", "cluster"],
    );
    let gateway = obj(
        vec![
            (
                "api_key_header",
                string("Header carrying the API key (default \"x-api-key\")."),
            ),
            (
                "openapi",
                json!({"type": "string", "enum": ["3.0", "2.0"], "description": "Dialect of the gateway document (default \"3.0\")."}),
            ),
            (
                "deadline",
                json!({"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "description": "Backend deadline in seconds (default 15); every other timeout of the chain is derived inside it."}),
            ),
            ("title", string("API title (default: the service name).")),
            (
                "cors",
                obj(
                    vec![
                        (
                            "allowed_origins",
                            json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Web origins allowed to call the public routes: exact `scheme://host[:port]`, or `*`."}),
                        ),
                        (
                            "allowed_headers",
                            json!({"type": "array", "items": {"type": "string"}, "description": "Request headers a page may send besides the API key header and Content-Type."}),
                        ),
                        (
                            "expose_headers",
                            json!({"type": "array", "items": {"type": "string"}, "description": "Response headers a page may read (default ETag, Link, X-Request-Id)."}),
                        ),
                        (
                            "max_age",
                            int(
                                "Seconds a browser may cache a preflight answer (default 600).",
                                0,
                                86400,
                            ),
                        ),
                        (
                            "allow_credentials",
                            json!({"type": "boolean", "description": "Allow cookies and HTTP auth in cross-origin calls (default false; not with `*`)."}),
                        ),
                    ],
                    &["allowed_origins"],
                ),
            ),
            (
                "consumers",
                json!({"type": "array", "items": {"type": "string", "pattern": "^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$"}, "description": "One API key per consumer (Terraform), e.g. [\"web\", \"partner-a\"]."}),
            ),
            (
                "quota",
                obj(
                    vec![
                        (
                            "requests_per_minute",
                            int(
                                "Requests per minute per consumer project (API Gateway quota).",
                                1,
                                1000000000,
                            ),
                        ),
                        (
                            "costs",
                            json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}, "description": "Cost of one call, by public operation id (default 1)."}),
                        ),
                    ],
                    &["requests_per_minute"],
                ),
            ),
            (
                "identity",
                json!({
                    "type": "object",
                    "description": "Issuers of user tokens (JWTs) API Gateway verifies, by name; routes name them in `auth`.",
                    "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                    "additionalProperties": obj(
                        vec![
                            ("issuer", json!({"type": "string", "pattern": "^https://", "description": "The `iss` claim tokens must carry."})),
                            ("jwks_uri", json!({"type": "string", "pattern": "^https://", "description": "Where the issuer publishes its signing keys (JWKS or X.509)."})),
                            ("audiences", json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Accepted `aud` claims."})),
                        ],
                        &["issuer", "jwks_uri", "audiences"],
                    ),
                }),
            ),
        ],
        &[],
    );
    let relay = obj(
        vec![
            (
                "min_instances",
                int("Cloud Run minimum instances (default 0).", 0, 1000),
            ),
            (
                "max_instances",
                int("Cloud Run maximum instances (default 10).", 1, 1000),
            ),
            (
                "concurrency",
                int("Concurrent requests per instance (default 80).", 1, 1000),
            ),
            (
                "timeout_ms",
                int(
                    "Upstream deadline in ms; inside Cloud Run's timeout (default: Cloud Run's − the hop margin, 13000 for the default deadline).",
                    100,
                    3600000,
                ),
            ),
            (
                "max_body_bytes",
                int(
                    "Largest request body the relay forwards (default 1 MiB).",
                    1024,
                    33554432,
                ),
            ),
            ("cpu", string("Cloud Run CPU (default \"1\").")),
            ("memory", string("Cloud Run memory (default \"512Mi\").")),
        ],
        &[],
    );
    let database = json!({
        "type": "object", "additionalProperties": false,
        "description": "Production database: an existing one (its URL in a Kubernetes Secret) or a Cloud SQL instance Terraform creates.",
        "properties": {
            "secret": obj(vec![
                ("name", string("Kubernetes Secret holding the URL (default \"<service>-db\").")),
                ("key", string("Key inside the Secret (default \"DATABASE_URL\").")),
            ], &[]),
            "cloud_sql": obj(vec![
                ("tier", string("Machine tier (default \"db-f1-micro\").")),
                ("version", string("POSTGRES_14 … POSTGRES_18 (default POSTGRES_16).")),
                ("database", string("Database name (default: the spec file stem).")),
                ("user", string("Database user (default \"app\").")),
                ("deletion_protection", json!({"type": "boolean", "description": "Protect the instance from deletion (default true)."})),
                ("edition", json!({"type": "string", "enum": ["ENTERPRISE", "ENTERPRISE_PLUS"], "description": "Cloud SQL edition (default: the tier's: ENTERPRISE_PLUS for db-perf-optimized-N-* tiers, else ENTERPRISE)."})),
                ("allocated_range", string("Private services access range for the instance's address (default \"10.96.0.0/16\"; /16 to /24).")),
            ], &[]),
        }
    });
    let scalar = json!({"type": ["string", "number", "boolean"]});
    let field_table = obj(
        vec![
            (
                "type",
                json!({"type": "string", "enum": keys::FIELD_TYPES, "description": "Field type."}),
            ),
            (
                "required",
                json!({"type": "boolean", "description": "Required on create, NOT NULL (default true)."}),
            ),
            (
                "unique",
                json!({"type": "boolean", "description": "Unique across records (default false)."}),
            ),
            (
                "read_only",
                json!({"type": "boolean", "description": "Not writable by clients (default false)."}),
            ),
            ("default", scalar.clone()),
            (
                "max_length",
                int(
                    "Maximum length in characters (string: required).",
                    0,
                    10485760,
                ),
            ),
            (
                "min_length",
                int("Minimum length in characters.", 0, 10485760),
            ),
            (
                "pattern",
                string("Regular expression the value must match (string)."),
            ),
            ("min", scalar.clone()),
            ("max", scalar),
            ("precision", int("Total digits (decimal).", 1, 28)),
            ("scale", int("Digits after the point (decimal).", 0, 28)),
            (
                "values",
                json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Allowed values (enum)."}),
            ),
        ],
        &["type"],
    );
    let field = json!({ "oneOf": [ {"type": "string", "enum": keys::FIELD_TYPES}, field_table ] });
    let nested = obj(
        vec![
            (
                "list",
                exposure("GET /parents/{id}/children (default internal)."),
            ),
            (
                "create",
                exposure("POST /parents/{id}/children (default internal)."),
            ),
        ],
        &[],
    );
    let belongs = obj(
        vec![
            (
                "resource",
                string("Parent resource (default: the relation's name)."),
            ),
            (
                "on_delete",
                json!({"type": "string", "enum": ["cascade", "restrict", "set_null"], "description": "What deleting the parent does (default restrict)."}),
            ),
            (
                "required",
                json!({"type": "boolean", "description": "The foreign key is NOT NULL (default true)."}),
            ),
            ("routes", nested),
        ],
        &[],
    );
    let has_many = obj(
        vec![
            ("resource", string("Child resource.")),
            (
                "via",
                string("The child's belongs_to relation, when it has several to this resource."),
            ),
        ],
        &[],
    );
    let routes = obj(
        vec![
            ("list", exposure("GET /plural (default internal).")),
            ("get", exposure("GET /plural/{id} (default internal).")),
            ("create", exposure("POST /plural (default internal).")),
            ("update", exposure("PATCH /plural/{id} (default internal).")),
            ("replace", exposure("PUT /plural/{id} (default off).")),
            (
                "delete",
                exposure("DELETE /plural/{id} (default internal)."),
            ),
        ],
        &[],
    );
    let list = obj(
        vec![
            (
                "default_limit",
                int(
                    "Page size when the request gives no limit (default 100).",
                    1,
                    10000,
                ),
            ),
            (
                "max_limit",
                int("Largest accepted limit (default 1000).", 1, 10000),
            ),
            (
                "filter",
                json!({"type": "array", "items": {"type": "string"}, "description": "Fields usable as ?field=value equality filters."}),
            ),
            (
                "sort",
                json!({"type": "array", "items": {"type": "string"}, "description": "Fields usable in ?sort=field / ?sort=-field."}),
            ),
        ],
        &[],
    );
    let resource = obj(
        vec![
            (
                "plural",
                string("Plural name (default: English plural of the resource name)."),
            ),
            (
                "fields",
                json!({"type": "object", "additionalProperties": field, "description": "The resource's fields, in column order."}),
            ),
            (
                "belongs_to",
                json!({"type": "object", "additionalProperties": belongs}),
            ),
            (
                "has_many",
                json!({"type": "object", "additionalProperties": has_many}),
            ),
            (
                "json",
                json!({"type": "array", "items": {"type": "string"}, "description": "JSON members in order: id, fields, foreign keys (<relation>_id), has_many relations (embedded)."}),
            ),
            ("routes", routes),
            ("list", list),
            (
                "hooks",
                json!({"type": "array", "items": {"type": "string", "enum": keys::HOOKS}, "uniqueItems": true, "description": "Extension methods run around this resource's writes: before_* inside the transaction (may change or reject the record), after_* after the commit."}),
            ),
            (
                "cache",
                obj(
                    vec![
                        (
                            "max_age",
                            int(
                                "Seconds a GET response of this resource may be reused (Cache-Control max-age).",
                                0,
                                31536000,
                            ),
                        ),
                        (
                            "public",
                            json!({"type": "boolean", "description": "Shared caches (CDNs) may store it too (default false: private)."}),
                        ),
                    ],
                    &["max_age"],
                ),
            ),
            (
                "owner",
                obj(
                    vec![
                        (
                            "field",
                            json!({"type": "string", "description": "The owner's column and JSON member, added by ownership (default \"owner\")."}),
                        ),
                        (
                            "claim",
                            json!({"type": "string", "description": "The user token claim whose value is the owner (default \"sub\")."}),
                        ),
                        (
                            "existing",
                            json!({"type": "string", "description": "The owner of the rows that exist when ownership is added to a table that has rows."}),
                        ),
                    ],
                    &[],
                ),
            ),
        ],
        &["fields"],
    );
    let fields_of = |desc: &str| json!({"type": "object", "additionalProperties": field.clone(), "description": desc});
    let shape = |desc: &str, list: bool| {
        let mut one_of = vec![
            json!({"type": "string", "description": "A resource name."}),
            fields_of("A field table."),
        ];
        if list {
            one_of.push(json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1, "description": "[resource]: a list of that resource's JSON."}));
        }
        json!({"oneOf": one_of, "description": desc})
    };
    let operation = obj(
        vec![
            (
                "method",
                json!({"type": "string", "enum": keys::METHODS, "description": "HTTP method."}),
            ),
            (
                "path",
                string(
                    "URL template, `{param}` segments declared in `params` (`/products/{id}/rating-summary`).",
                ),
            ),
            (
                "exposure",
                json!({"type": "string", "enum": ["public", "internal"], "description": "public: also through API Gateway (API key required); internal (default): in-cluster only."}),
            ),
            ("auth", auth()),
            ("summary", string("One line for the API documents.")),
            (
                "params",
                fields_of("The path template's parameters, field-like."),
            ),
            (
                "query",
                fields_of("Query parameters, field-like (optional unless `required = true`)."),
            ),
            (
                "body",
                shape(
                    "Request body: a field table, or a resource name (its create body).",
                    false,
                ),
            ),
            (
                "output",
                shape(
                    "Success response: a field table, a resource name or [resource] (204 when absent; with [upstream], the upstream's answer passed through).",
                    true,
                ),
            ),
        ],
        &["method", "path"],
    );
    let upstream = obj(
        vec![
            (
                "selector",
                json!({"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1, "description": "Labels of the existing pods the internal load balancer selects (`{ app = \"legacy-api\" }`)."}),
            ),
            (
                "health_path",
                string(
                    "The upstream's health endpoint (`/healthz`); `shopgen up --upstream` waits for it.",
                ),
            ),
            (
                "forward_authorization",
                json!({"type": "boolean", "default": false, "description": "The relay hands the client's Authorization (X-Forwarded-Authorization from API Gateway) to the upstream as Authorization."}),
            ),
        ],
        &["selector"],
    );
    let mut top = obj(
        vec![
            ("service", service),
            ("gcp", gcp),
            ("gateway", gateway),
            ("relay", relay),
            ("database", database),
            (
                "resources",
                json!({"type": "object", "additionalProperties": resource, "minProperties": 1}),
            ),
            (
                "operations",
                json!({"type": "object", "additionalProperties": operation, "description": "Custom routes, implemented in the extension crate; with [upstream], the existing service's routes, proxied to it."}),
            ),
            ("upstream", upstream),
        ],
        &["service", "gcp"],
    );
    // A generated backend needs resources; an existing service (`[upstream]`) has its
    // routes as operations instead.
    top["anyOf"] = json!([{"required": ["resources"]}, {"required": ["upstream", "operations"]}]);
    top["$schema"] = json!("http://json-schema.org/draft-07/schema#");
    top["title"] = json!("shopgen spec");
    top["description"] = json!(
        "A shopgen spec: one TOML file that generates the backend, the relay, Kubernetes manifests, Terraform and the API Gateway OpenAPI document."
    );
    top
}

/// The keys listed under a schema object, for the completeness test.
pub fn keys_of(v: &Value) -> Vec<String> {
    v["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
