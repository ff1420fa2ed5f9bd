//! Facts two artifacts of a shopgen stack must agree on, in one place.
//!
//! The compiler writes Kubernetes manifests, Terraform, Dockerfiles and the gateway
//! document; the runtimes serve what those files describe. Where a value appears on
//! both sides (the port a container listens on, the path a probe calls, the name of an
//! environment variable the relay reads) it is defined here once, so the generated
//! infrastructure and the code it runs cannot drift apart. Values that depend on a
//! spec are computed once in the compiler's model instead.
//!
//! This crate has no dependencies and no behaviour.

#![forbid(unsafe_code)]

/// The containers both images build.
pub mod container {
    /// The user and group id the images and the Pod run as: distroless `nonroot`.
    pub const RUN_AS_USER: i64 = 65532;
}

/// The generated backend service (`shopgen-backend-runtime`).
pub mod backend {
    /// Liveness: the process answers (Kubernetes liveness and startup probes).
    pub const LIVENESS_PATH: &str = "/healthz";
    /// Readiness: the server is not draining (503 then). The database's state is in
    /// the body and in metrics, not in the status: an outage must reach clients as
    /// the backend's own 503, not as an internal load balancer without endpoints.
    pub const READINESS_PATH: &str = "/readyz";
    /// Prometheus metrics.
    pub const METRICS_PATH: &str = "/metrics";
    /// The service's own OpenAPI document.
    pub const OPENAPI_PATH: &str = "/openapi.json";

    /// The header that makes a generated create safe to send again.
    pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
    /// Set (`true`) on a create's answer that repeats an earlier one's.
    pub const IDEMPOTENT_REPLAYED_HEADER: &str = "Idempotent-Replayed";
    /// The longest `Idempotency-Key`: 1 to this many visible ASCII characters.
    pub const IDEMPOTENCY_KEY_MAX_LENGTH: usize = 255;

    /// The environment variables the backend reads.
    pub mod env {
        /// Listen address.
        pub const HOST: &str = "HOST";
        /// Listen port (the spec's container port).
        pub const PORT: &str = "PORT";
        /// `sqlite://…` or `postgres://…` (with `sslmode`).
        pub const DATABASE_URL: &str = "DATABASE_URL";
        /// The per-route `Cache-Control` policy (`METHOD PATH=VALUE;…`).
        pub const CACHE_CONTROL_ROUTES: &str = "CACHE_CONTROL_ROUTES";
        /// The response cache's size cap in bytes (0 turns it off).
        pub const RESPONSE_CACHE_BYTES: &str = "RESPONSE_CACHE_BYTES";
        /// The request timeout in milliseconds (503 after it). PostgreSQL's
        /// `statement_timeout` and SQLite's busy timeout are this less the acquire
        /// budget, at least a tenth of it.
        pub const REQUEST_TIMEOUT_MS: &str = "REQUEST_TIMEOUT_MS";
        /// The time one request may wait for database connections in all, in
        /// milliseconds (503 after it).
        pub const DATABASE_ACQUIRE_TIMEOUT_MS: &str = "DATABASE_ACQUIRE_TIMEOUT_MS";
        /// Identity providers' keys from local JWKS files (`PROVIDER=FILE;…`) instead
        /// of their `jwks_uri` (`shopgen up --jwks`).
        pub const IDENTITY_JWKS_FILES: &str = "IDENTITY_JWKS_FILES";
    }
}

/// The deadline budget of a request for API Gateway's default deadline: what the
/// runtimes use when they run without the environment the generated files give them.
/// The compiler derives the budget of every spec (`model::budget`), and a test there
/// checks that these are its values for the default deadline.
pub mod budget {
    /// API Gateway's backend `deadline` when the document names none.
    pub const DEFAULT_GATEWAY_DEADLINE_MS: u32 = 15_000;
    /// The relay's deadline for the whole upstream exchange.
    pub const DEFAULT_RELAY_UPSTREAM_TIMEOUT_MS: u32 = 13_000;
    /// The backend's request timeout (its 503 after that).
    pub const DEFAULT_REQUEST_TIMEOUT_MS: u32 = 12_000;
    /// The time one backend request may wait for database connections, in all.
    pub const DEFAULT_DATABASE_ACQUIRE_TIMEOUT_MS: u32 = 5_000;
    /// The `Retry-After` of the backend's 503s (database unreachable, pool exhausted,
    /// request timeout), in seconds.
    pub const RETRY_AFTER_SECONDS: u32 = 2;
}

/// The generated relay (`shopgen-relay-runtime`), Cloud Run's container.
pub mod relay {
    /// The port the relay listens on in its container (Cloud Run's default).
    pub const CONTAINER_PORT: u16 = 8080;
    /// The relay's own health check (Cloud Run startup and liveness probes).
    pub const HEALTH_PATH: &str = "/healthz";

    /// The environment variables the relay reads.
    pub mod env {
        /// Listen address.
        pub const HOST: &str = "HOST";
        /// Listen port.
        pub const PORT: &str = "PORT";
        /// The backend's base URL (the internal load balancer).
        pub const UPSTREAM_URL: &str = "UPSTREAM_URL";
        /// Deadline for the whole upstream exchange, in milliseconds.
        pub const UPSTREAM_TIMEOUT_MS: &str = "UPSTREAM_TIMEOUT_MS";
        /// Largest request body forwarded, in bytes.
        pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
        /// The API key header API Gateway checks; the relay never forwards it.
        pub const API_KEY_HEADER: &str = "API_KEY_HEADER";
        /// Service account emails (or subjects) whose ID tokens may call the relay.
        pub const ALLOWED_INVOKERS: &str = "ALLOWED_INVOKERS";
        /// CORS: allowed origins, comma-separated (`*` for any).
        pub const CORS_ALLOWED_ORIGINS: &str = "CORS_ALLOWED_ORIGINS";
        /// CORS: request headers a preflight may ask for, comma-separated.
        pub const CORS_ALLOWED_HEADERS: &str = "CORS_ALLOWED_HEADERS";
        /// CORS: response headers a page may read, comma-separated.
        pub const CORS_EXPOSE_HEADERS: &str = "CORS_EXPOSE_HEADERS";
        /// CORS: how long a browser may keep a preflight answer, in seconds.
        pub const CORS_MAX_AGE: &str = "CORS_MAX_AGE";
        /// CORS: whether credentialed requests are allowed.
        pub const CORS_ALLOW_CREDENTIALS: &str = "CORS_ALLOW_CREDENTIALS";
        /// `true`: hand the client's `X-Forwarded-Authorization` to the upstream as
        /// `Authorization` (an existing service that checks its users' tokens itself).
        pub const FORWARD_AUTHORIZATION: &str = "FORWARD_AUTHORIZATION";
    }
}

/// Decimal fields.
pub mod decimal {
    /// The most significant digits a decimal keeps exactly (the backend's
    /// `rust_decimal` holds 28); the checker refuses a larger `precision`.
    pub const MAX_PRECISION: u32 = 28;
}

/// The API Gateway document and the Terraform that deploys it.
pub mod gateway {
    /// The `templatefile` variable Terraform fills with the relay's host.
    pub const RELAY_HOST_VAR: &str = "relay_host";
}

/// Google Cloud facts the compiler's checks and `shopgen deploy` share.
pub mod gcp {
    /// The regions where API Gateway gateways can be deployed (API Gateway
    /// "Deployment locations": <https://cloud.google.com/api-gateway/docs/deployment-model>),
    /// as of the time of writing. The checker rejects a gateway region outside this
    /// list; `shopgen deploy --gateway-region` too.
    pub const API_GATEWAY_REGIONS: [&str; 10] = [
        "asia-northeast1",
        "australia-southeast1",
        "europe-west1",
        "europe-west2",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-west2",
        "us-west3",
        "us-west4",
    ];

    /// The API Gateway region for a stack in `region`: `region` itself when API Gateway
    /// runs there, else the first one on the same continent (the region's first part,
    /// `europe` in `europe-west3`), else `us-central1`.
    pub fn nearest_api_gateway_region(region: &str) -> &str {
        if let Some(r) = API_GATEWAY_REGIONS.iter().find(|r| **r == region) {
            return r;
        }
        let area = region.split('-').next().unwrap_or_default();
        API_GATEWAY_REGIONS
            .iter()
            .copied()
            .find(|r| r.split('-').next() == Some(area))
            .unwrap_or("us-central1")
    }

    /// The Cloud SQL tier of a created instance unless the spec names one.
    pub const DEFAULT_SQL_TIER: &str = "db-f1-micro";
    /// The private services access range a created Cloud SQL instance's address comes
    /// from unless the spec names one: clear of the auto-mode subnetworks
    /// (10.128.0.0/9), the connector's usual 10.8.0.0/28 and a created cluster's default
    /// ranges.
    pub const DEFAULT_SQL_RANGE: &str = "10.96.0.0/16";

    /// A Cloud SQL edition (`settings.edition`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SqlEdition {
        Enterprise,
        EnterprisePlus,
    }

    /// The only edition a tier exists in: `db-perf-optimized-N-*` tiers are Enterprise
    /// Plus's; shared-core (`db-f1-micro`, `db-g1-small`) and `db-custom-*` tiers are
    /// Enterprise's (Cloud SQL "editions" and "machine series" pages). Without an
    /// explicit edition, POSTGRES_16 and later default to Enterprise Plus, which
    /// refuses the Enterprise tiers (terraform-provider-google#20498), so shopgen
    /// always writes the edition.
    pub fn sql_edition_of_tier(tier: &str) -> SqlEdition {
        if tier.starts_with("db-perf-optimized-") {
            SqlEdition::EnterprisePlus
        } else {
            SqlEdition::Enterprise
        }
    }
}

impl gcp::SqlEdition {
    /// The provider's value (`settings.edition`).
    pub fn as_str(self) -> &'static str {
        match self {
            gcp::SqlEdition::Enterprise => "ENTERPRISE",
            gcp::SqlEdition::EnterprisePlus => "ENTERPRISE_PLUS",
        }
    }
}
