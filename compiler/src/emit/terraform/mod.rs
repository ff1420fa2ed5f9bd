//! Emit: the Google Cloud side as Terraform, `terraform/*.tf`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives one `.tf` file per concern, laid out as
//! `terraform fmt` would (see the `hcl` submodule):
//!
//! - `versions.tf`: Terraform and provider version ranges, the two Google providers;
//! - `variables.tf`: every input, described, defaulting to the spec's values;
//! - `apis.tf`: the project services, including the API's own managed service
//!   (API keys are rejected until it is enabled);
//! - `network.tf`: the reserved internal address of the internal load balancer (the
//!   Kubernetes Service names it; the relay's `UPSTREAM_URL` carries its IP), and the
//!   Serverless VPC Access connector when the spec picks that egress;
//! - `registry.tf`, `iam.tf`: the Artifact Registry repository, the relay's and the
//!   gateway's service accounts;
//! - `relay.tf`: the relay on Cloud Run v2, invokable only by the gateway's account;
//! - `gateway.tf`: API Gateway (`google-beta`), its config built from
//!   `../openapi/gateway.yaml` with the relay's host filled in, and the API key;
//! - `cluster.tf`: the existing GKE cluster (a data source) or a new private,
//!   VPC-native one with Workload Identity;
//! - `database.tf`: Cloud SQL for PostgreSQL on a private IP with its URL in Secret
//!   Manager, when the spec asks for it;
//! - `outputs.tf`: the gateway URL, the API key (sensitive), the relay URL, the
//!   internal IP, the image names.
//!
//! Every resource and data block is checked against the provider schema in
//! `tests/infra_terraform.rs`.

mod hcl;
mod platform;

use platform::{cluster, database};

use super::openapi::RELAY_HOST_VAR;
use super::{CommentSyntax, EmittedFile};
use crate::model::{Cluster, Database, Egress, Model};
use hcl::{Block, Body, Expr, File, bool, list, list_lines, num, object, str, template};

/// The provider version range the generated Terraform is checked against: the schema
/// test data covers hashicorp/google and google-beta 6.50 and 8.7.
pub const PROVIDER_VERSION: &str = ">= 6.50, < 9.0";
/// The port the relay container listens on (Cloud Run passes it as `PORT`).
pub const RELAY_CONTAINER_PORT: u16 = 8080;
/// The relay's health endpoint (probes).
pub const RELAY_HEALTH_PATH: &str = "/healthz";

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    let mut files = vec![
        ("versions.tf", versions(model)),
        ("variables.tf", variables(model)),
        ("apis.tf", apis(model)),
        ("network.tf", network(model)),
        ("registry.tf", registry(model)),
        ("iam.tf", iam(model)),
        ("relay.tf", relay(model)),
        ("gateway.tf", gateway(model)),
        ("cluster.tf", cluster(model)),
        ("outputs.tf", outputs(model)),
    ];
    if let Some(db) = database(model) {
        files.push(("database.tf", db));
    }
    files
        .into_iter()
        .map(|(name, f)| {
            EmittedFile::new(format!("terraform/{name}"), f.render(), CommentSyntax::Hash)
        })
        .collect()
}

fn r(s: &str) -> Expr {
    Expr::raw(s)
}

fn resource(ty: &str, name: &str, body: Body) -> Block {
    Block::new("resource", &[ty, name], body)
}

fn data(ty: &str, name: &str, body: Body) -> Block {
    Block::new("data", &[ty, name], body)
}

fn block(ty: &str, body: Body) -> Block {
    Block::new(ty, &[], body)
}

fn depends_on_apis() -> Expr {
    list(&[r("google_project_service.apis")])
}

fn cloud_sql(model: &Model) -> bool {
    matches!(model.database, Database::CloudSql { .. })
}

fn creates_cluster(model: &Model) -> bool {
    matches!(model.gcp.cluster, Cluster::Create { .. })
}

/// The region of a cluster location (`europe-west2-a` → `europe-west2`).
pub fn region_of(location: &str) -> &str {
    let parts: Vec<&str> = location.split('-').collect();
    if parts.len() == 3 && parts[2].len() == 1 && parts[2].chars().all(|c| c.is_ascii_lowercase()) {
        &location[..location.len() - 2]
    } else {
        location
    }
}

fn cluster_name_location(model: &Model) -> (&str, &str) {
    match &model.gcp.cluster {
        Cluster::Existing { name, location } | Cluster::Create { name, location, .. } => {
            (name, location)
        }
    }
}

/// Whether the internal load balancer needs global access: the relay (in
/// `gcp.region`) reaches it from another region.
pub fn needs_global_access(model: &Model) -> bool {
    let (_, location) = cluster_name_location(model);
    region_of(location) != model.gcp.region
}

/// The GKE node service account id for a cluster shopgen creates (6–30 chars).
fn node_service_account(model: &Model) -> String {
    let mut base = model.service.name.clone();
    base.truncate(30 - "-nodes".len());
    format!("{}-nodes", base.trim_end_matches('-'))
}

/// The name of the Kubernetes Secret holding `DATABASE_URL`, and its key.
pub fn database_secret(model: &Model) -> (String, String) {
    match &model.database {
        Database::ExistingSecret { secret, key } => (secret.clone(), key.clone()),
        Database::CloudSql { .. } => (
            model.service.names.k8s_database_secret.clone(),
            "DATABASE_URL".to_string(),
        ),
    }
}

/// The project services the stack needs, sorted.
pub fn project_services(model: &Model) -> Vec<&'static str> {
    let mut s = vec![
        "apigateway.googleapis.com",
        "apikeys.googleapis.com",
        "artifactregistry.googleapis.com",
        "cloudbuild.googleapis.com",
        "compute.googleapis.com",
        "container.googleapis.com",
        "iam.googleapis.com",
        "run.googleapis.com",
        "servicecontrol.googleapis.com",
        "servicemanagement.googleapis.com",
    ];
    if matches!(model.gcp.egress, Egress::Connector { .. }) {
        s.push("vpcaccess.googleapis.com");
    }
    if cloud_sql(model) {
        s.extend([
            "secretmanager.googleapis.com",
            "servicenetworking.googleapis.com",
            "sqladmin.googleapis.com",
        ]);
    }
    s.sort_unstable();
    s
}

// ---------------------------------------------------------------------------------
// versions.tf, variables.tf
// ---------------------------------------------------------------------------------

fn versions(model: &Model) -> File {
    let mut providers = Body::new()
        .attr(
            "google",
            object(&[
                ("source", str("hashicorp/google")),
                ("version", str(PROVIDER_VERSION)),
            ]),
        )
        .attr(
            "google-beta",
            object(&[
                ("source", str("hashicorp/google-beta")),
                ("version", str(PROVIDER_VERSION)),
            ]),
        );
    if cloud_sql(model) {
        providers = providers.attr(
            "random",
            object(&[
                ("source", str("hashicorp/random")),
                ("version", str(">= 3.6, < 4.0")),
            ]),
        );
    }
    let mut f = File::new();
    f.push(block(
        "terraform",
        Body::new()
            .attr("required_version", str(">= 1.5"))
            .blank()
            .block(block("required_providers", providers)),
    ));
    for p in ["google", "google-beta"] {
        f.push(Block::new(
            "provider",
            &[p],
            Body::new()
                .attr("project", r("var.project"))
                .attr("region", r("var.region")),
        ));
    }
    f
}

fn variable(name: &str, ty: &str, description: &str, default: Option<Expr>) -> Block {
    Block::new(
        "variable",
        &[name],
        Body::new()
            .attr("description", str(description))
            .attr("type", r(ty))
            .attr_opt("default", default),
    )
}

fn variables(model: &Model) -> File {
    let (cluster_name, cluster_location) = cluster_name_location(model);
    let mut f = File::new();
    f.push(variable(
        "project",
        "string",
        "Google Cloud project id.",
        Some(str(&model.gcp.project)),
    ));
    f.push(variable(
        "region",
        "string",
        "Region of the relay, the gateway, the registry and the connector.",
        Some(str(&model.gcp.region)),
    ));
    f.push(variable(
        "gateway_region",
        "string",
        "Region of the API Gateway gateway (API Gateway runs in a subset of regions; the relay's region by default).",
        Some(str(&model.gcp.region)),
    ));
    f.push(variable(
        "network",
        "string",
        "VPC network of the cluster and the relay's egress.",
        Some(str(&model.gcp.network)),
    ));
    let subnet_desc = if creates_cluster(model) {
        "Name of the subnetwork created for the cluster (and the relay's Direct VPC egress)."
    } else {
        "Existing subnetwork of the cluster: the internal load balancer's address (and the relay's Direct VPC egress) come from it."
    };
    f.push(variable(
        "subnetwork",
        "string",
        subnet_desc,
        Some(str(&model.gcp.subnetwork)),
    ));
    f.push(variable(
        "cluster_name",
        "string",
        if creates_cluster(model) {
            "Name of the GKE cluster created for the backend."
        } else {
            "Name of the existing GKE cluster the backend runs in."
        },
        Some(str(cluster_name)),
    ));
    f.push(variable(
        "cluster_location",
        "string",
        "Location (region or zone) of the GKE cluster.",
        Some(str(cluster_location)),
    ));
    f.push(variable(
        "image_tag",
        "string",
        "Tag of the relay image in Artifact Registry. Use an immutable tag (for example the git commit) so each apply deploys what it names.",
        Some(str("latest")),
    ));
    f.push(variable(
        "relay_min_instances",
        "number",
        "Fewest relay instances Cloud Run keeps running.",
        Some(num(model.relay.min_instances)),
    ));
    f.push(variable(
        "relay_max_instances",
        "number",
        "Most relay instances Cloud Run starts.",
        Some(num(model.relay.max_instances)),
    ));
    f.push(variable(
        "relay_deletion_protection",
        "bool",
        "Refuse to destroy the Cloud Run relay (set true in production).",
        Some(bool(false)),
    ));
    if !creates_cluster(model) {
        f.push(variable(
            "gke_node_service_account",
            "string",
            "Email of the existing cluster's node service account; when set, it is granted read access to the image repository. Leave empty if the nodes can already pull from it.",
            Some(str("")),
        ));
    }
    f
}

// ---------------------------------------------------------------------------------
// apis.tf, network.tf, registry.tf, iam.tf
// ---------------------------------------------------------------------------------

fn apis(model: &Model) -> File {
    let services: Vec<Expr> = project_services(model).iter().map(|s| str(s)).collect();
    let mut f = File::new();
    f.push_commented(
        "Every API the stack uses. Left enabled on destroy: other workloads may use them.",
        resource(
            "google_project_service",
            "apis",
            Body::new()
                .attr(
                    "for_each",
                    Expr(format!("toset({})", list_lines(&services).0)),
                )
                .blank()
                .attr("service", r("each.value"))
                .attr("disable_on_destroy", bool(false)),
        ),
    );
    f.push_commented(
        "The API's own managed service: API keys restricted to this API are rejected\nuntil it is enabled in the project.",
        resource(
            "google_project_service",
            "managed_service",
            Body::new()
                .attr("service", r("google_api_gateway_api.api.managed_service"))
                .attr("disable_on_destroy", bool(false)),
        ),
    );
    f
}

fn network(model: &Model) -> File {
    let n = &model.service.names;
    let mut f = File::new();
    f.push(data(
        "google_compute_network",
        "vpc",
        Body::new().attr("name", r("var.network")),
    ));
    let (subnet_ref, address_region) = if creates_cluster(model) {
        (
            "google_compute_subnetwork.cluster.id",
            r("local.cluster_region"),
        )
    } else {
        f.push(data(
            "google_compute_subnetwork",
            "subnet",
            Body::new()
                .attr("name", r("var.subnetwork"))
                .attr("region", r("local.cluster_region")),
        ));
        (
            "data.google_compute_subnetwork.subnet.self_link",
            r("local.cluster_region"),
        )
    };
    f.push_commented(
        "The internal load balancer's address, reserved so Terraform knows the IP before\nthe Service exists: the Service names it (networking.gke.io/load-balancer-ip-addresses),\nthe relay's UPSTREAM_URL carries its IP.",
        resource(
            "google_compute_address",
            "ilb",
            Body::new()
                .attr("name", str(&n.ilb_address))
                .attr("region", address_region)
                .attr("subnetwork", r(subnet_ref))
                .attr("address_type", str("INTERNAL"))
                .attr("purpose", str("GCE_ENDPOINT"))
                .attr("description", str(&format!(
                    "Internal load balancer of the {} backend (Kubernetes Service {}/{}).",
                    model.service.name, model.service.namespace, model.service.names.k8s_name
                )))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    if let Egress::Connector {
        cidr,
        min_instances,
        max_instances,
        machine_type,
    } = &model.gcp.egress
    {
        f.push_commented(
            "Serverless VPC Access: the relay's way into the VPC, on its own /28.",
            resource(
                "google_vpc_access_connector",
                "relay",
                Body::new()
                    .attr("name", str(&n.vpc_connector))
                    .attr("region", r("var.region"))
                    .attr("network", r("data.google_compute_network.vpc.name"))
                    .attr("ip_cidr_range", str(cidr))
                    .attr("machine_type", str(machine_type))
                    .attr("min_instances", num(min_instances))
                    .attr("max_instances", num(max_instances))
                    .blank()
                    .attr("depends_on", depends_on_apis()),
            ),
        );
    }
    f
}

fn registry(model: &Model) -> File {
    let n = &model.service.names;
    let mut f = File::new();
    f.push_commented(
        "Holds the backend and relay images.",
        resource(
            "google_artifact_registry_repository",
            "images",
            Body::new()
                .attr("repository_id", str(&n.artifact_repository))
                .attr("location", r("var.region"))
                .attr("format", str("DOCKER"))
                .attr(
                    "description",
                    str(&format!(
                        "Images of the {} stack (shopgen).",
                        model.service.name
                    )),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    if creates_cluster(model) {
        f.push(resource(
            "google_artifact_registry_repository_iam_member",
            "nodes_read",
            Body::new()
                .attr(
                    "location",
                    r("google_artifact_registry_repository.images.location"),
                )
                .attr(
                    "repository",
                    r("google_artifact_registry_repository.images.name"),
                )
                .attr("role", str("roles/artifactregistry.reader"))
                .attr(
                    "member",
                    r("\"serviceAccount:${google_service_account.nodes.email}\""),
                ),
        ));
    } else {
        f.push_commented(
            "Lets the existing cluster's nodes pull the backend image, when their account is given.",
            resource(
                "google_artifact_registry_repository_iam_member",
                "nodes_read",
                Body::new()
                    .attr("count", r("var.gke_node_service_account == \"\" ? 0 : 1"))
                    .blank()
                    .attr("location", r("google_artifact_registry_repository.images.location"))
                    .attr("repository", r("google_artifact_registry_repository.images.name"))
                    .attr("role", str("roles/artifactregistry.reader"))
                    .attr("member", r("\"serviceAccount:${var.gke_node_service_account}\"")),
            ),
        );
    }
    f.push(Block::new(
        "locals",
        &[],
        Body::new()
            .attr(
                "image_repository",
                template("${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"),
            )
            .attr(
                "relay_image",
                template(&format!("${{local.image_repository}}/{}:${{var.image_tag}}", n.relay_image)),
            )
            .attr(
                "backend_image",
                template(&format!("${{local.image_repository}}/{}", n.backend_image)),
            ),
    ));
    f
}

fn iam(model: &Model) -> File {
    let n = &model.service.names;
    let mut f = File::new();
    f.push_commented(
        "The relay's identity on Cloud Run. It calls no Google API, so it holds no role.",
        resource(
            "google_service_account",
            "relay",
            Body::new()
                .attr("account_id", str(&n.relay_service_account))
                .attr(
                    "display_name",
                    str(&format!("{} relay (Cloud Run)", model.service.name)),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "API Gateway signs its calls to the relay as this account; it may invoke the relay\nand nothing else.",
        resource(
            "google_service_account",
            "gateway",
            Body::new()
                .attr("account_id", str(&n.gateway_service_account))
                .attr("display_name", str(&format!("{} API Gateway backend caller", model.service.name)))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f
}

// ---------------------------------------------------------------------------------
// relay.tf
// ---------------------------------------------------------------------------------

/// The relay's `UPSTREAM_URL`: plain HTTP to the internal load balancer's reserved IP.
pub fn upstream_url_expr(model: &Model) -> String {
    if model.service.service_port == 80 {
        "http://${google_compute_address.ilb.address}".to_string()
    } else {
        format!(
            "http://${{google_compute_address.ilb.address}}:{}",
            model.service.service_port
        )
    }
}

/// The relay's CORS settings (`CORS_*`, read by the relay runtime).
pub fn relay_cors_env(cors: &crate::model::Cors) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("CORS_ALLOWED_ORIGINS", cors.allowed_origins.join(",")),
        ("CORS_ALLOWED_HEADERS", cors.allowed_headers.join(",")),
        ("CORS_EXPOSE_HEADERS", cors.expose_headers.join(",")),
        ("CORS_MAX_AGE", cors.max_age.to_string()),
    ];
    if cors.allow_credentials {
        out.push(("CORS_ALLOW_CREDENTIALS", "true".to_string()));
    }
    out
}

fn env(name: &str, value: Expr) -> Block {
    block(
        "env",
        Body::new().attr("name", str(name)).attr("value", value),
    )
}

fn relay(model: &Model) -> File {
    let n = &model.service.names;
    let vpc_access = match &model.gcp.egress {
        Egress::Connector { .. } => block(
            "vpc_access",
            Body::new()
                .attr("connector", r("google_vpc_access_connector.relay.id"))
                .attr("egress", str("PRIVATE_RANGES_ONLY")),
        ),
        Egress::DirectVpc => block(
            "vpc_access",
            Body::new()
                .attr("egress", str("PRIVATE_RANGES_ONLY"))
                .blank()
                .block(block(
                    "network_interfaces",
                    Body::new()
                        .attr("network", r("data.google_compute_network.vpc.id"))
                        .attr(
                            "subnetwork",
                            r(if creates_cluster(model) {
                                "google_compute_subnetwork.cluster.id"
                            } else {
                                "data.google_compute_subnetwork.subnet.id"
                            }),
                        ),
                )),
        ),
    };
    let timeout_s = model.gateway.deadline_seconds.ceil().max(1.0) as u64;
    let mut container = Body::new()
        .attr("image", r("local.relay_image"))
        .blank()
        .block(block(
            "ports",
            Body::new().attr("container_port", num(RELAY_CONTAINER_PORT)),
        ))
        .blank()
        .block(env("UPSTREAM_URL", template(&upstream_url_expr(model))))
        .block(env(
            "UPSTREAM_TIMEOUT_MS",
            str(&model.relay.upstream_timeout_ms.to_string()),
        ))
        .block(env(
            "MAX_BODY_BYTES",
            str(&model.relay.max_body_bytes.to_string()),
        ))
        .block(env("API_KEY_HEADER", str(&model.gateway.api_key_header)));
    if let Some(cors) = &model.gateway.cors {
        for (name, value) in relay_cors_env(cors) {
            container = container.block(env(name, str(&value)));
        }
    }
    let container = container
        .blank()
        .block(block(
            "resources",
            Body::new()
                .attr(
                    "limits",
                    object(&[
                        ("cpu", str(&model.relay.cpu)),
                        ("memory", str(&model.relay.memory)),
                    ]),
                )
                .attr("cpu_idle", bool(true)),
        ))
        .blank()
        .block(block(
            "startup_probe",
            Body::new()
                .attr("period_seconds", num(1))
                .attr("timeout_seconds", num(1))
                .attr("failure_threshold", num(10))
                .blank()
                .block(block(
                    "http_get",
                    Body::new().attr("path", str(RELAY_HEALTH_PATH)),
                )),
        ))
        .blank()
        .block(block(
            "liveness_probe",
            Body::new()
                .attr("period_seconds", num(15))
                .attr("timeout_seconds", num(2))
                .attr("failure_threshold", num(3))
                .blank()
                .block(block(
                    "http_get",
                    Body::new().attr("path", str(RELAY_HEALTH_PATH)),
                )),
        ));
    let container = block("containers", container);
    let mut f = File::new();
    f.push_commented(
        "The relay: API Gateway calls it on its run.app URL with an ID token; it forwards\nthe public routes to the internal load balancer through the VPC. Ingress stays\nopen to the internet, guarded by IAM: only the gateway's account may invoke it.",
        resource(
            "google_cloud_run_v2_service",
            "relay",
            Body::new()
                .attr("name", str(&n.cloud_run_service))
                .attr("location", r("var.region"))
                .attr("ingress", str("INGRESS_TRAFFIC_ALL"))
                .attr("deletion_protection", r("var.relay_deletion_protection"))
                .blank()
                .block(block(
                    "template",
                    Body::new()
                        .attr("service_account", r("google_service_account.relay.email"))
                        .attr(
                            "max_instance_request_concurrency",
                            num(model.relay.concurrency),
                        )
                        .attr("timeout", str(&format!("{timeout_s}s")))
                        .blank()
                        .block(block(
                            "scaling",
                            Body::new()
                                .attr("min_instance_count", r("var.relay_min_instances"))
                                .attr("max_instance_count", r("var.relay_max_instances")),
                        ))
                        .blank()
                        .block(vpc_access)
                        .blank()
                        .block(container),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "Only API Gateway (its service account) may call the relay; never allUsers.",
        resource(
            "google_cloud_run_v2_service_iam_member",
            "gateway_invoker",
            Body::new()
                .attr("project", r("google_cloud_run_v2_service.relay.project"))
                .attr("location", r("google_cloud_run_v2_service.relay.location"))
                .attr("name", r("google_cloud_run_v2_service.relay.name"))
                .attr("role", str("roles/run.invoker"))
                .attr(
                    "member",
                    r("\"serviceAccount:${google_service_account.gateway.email}\""),
                ),
        ),
    );
    f
}

// ---------------------------------------------------------------------------------
// gateway.tf
// ---------------------------------------------------------------------------------

fn gateway(model: &Model) -> File {
    let n = &model.service.names;
    let mut f = File::new();
    f.push_commented(
        "API Gateway exists only in the google-beta provider.",
        resource(
            "google_api_gateway_api",
            "api",
            Body::new()
                .attr("provider", r("google-beta"))
                .attr("api_id", str(&n.api_id))
                .attr("display_name", str(&model.gateway.title))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let contents = Expr(format!(
        "base64encode(templatefile(\"${{path.module}}/../openapi/gateway.yaml\", {{\n  {RELAY_HOST_VAR} = trimprefix(google_cloud_run_v2_service.relay.uri, \"https://\")\n}}))"
    ));
    f.push_commented(
        "Configs are immutable: each change creates a new one (random suffix) before the\nold one goes, so the gateway always points at a live config. The document is\nopenapi/gateway.yaml with the relay's host filled in.",
        resource(
            "google_api_gateway_api_config",
            "api",
            Body::new()
                .attr("provider", r("google-beta"))
                .attr("api", r("google_api_gateway_api.api.api_id"))
                .attr("api_config_id_prefix", str(&format!("{}-", n.api_id)))
                .attr("display_name", str(&format!("{} (shopgen)", model.gateway.title)))
                .blank()
                .block(block(
                    "openapi_documents",
                    Body::new().block(block(
                        "document",
                        Body::new()
                            .attr("path", str("gateway.yaml"))
                            .attr("contents", contents),
                    )),
                ))
                .blank()
                .block(block(
                    "gateway_config",
                    Body::new().block(block(
                        "backend_config",
                        Body::new().attr(
                            "google_service_account",
                            r("google_service_account.gateway.email"),
                        ),
                    )),
                ))
                .blank()
                .block(block(
                    "lifecycle",
                    Body::new().attr("create_before_destroy", bool(true)),
                )),
        ),
    );
    f.push(resource(
        "google_api_gateway_gateway",
        "gateway",
        Body::new()
            .attr("provider", r("google-beta"))
            .attr("gateway_id", str(&n.gateway_id))
            .attr("region", r("var.gateway_region"))
            .attr("api_config", r("google_api_gateway_api_config.api.id"))
            .attr("display_name", str(&model.gateway.title)),
    ));
    let (comment, label, body) = if model.gateway.consumers.is_empty() {
        (
            format!(
                "The client key, accepted only by this API; clients send it in the `{}` header.",
                model.gateway.api_key_header
            ),
            "client",
            Body::new()
                .attr("name", str(&format!("{}-client", model.service.name)))
                .attr(
                    "display_name",
                    str(&format!("{} client key", model.gateway.title)),
                ),
        )
    } else {
        let names: Vec<Expr> = model
            .gateway
            .consumers
            .iter()
            .map(|c| str(&c.name))
            .collect();
        (
            format!(
                "One key per consumer (the spec's `consumers`), each accepted only by this API;\n\
                 clients send it in the `{}` header. All of them count against this project's\n\
                 quota: see docs/api.md on giving a partner a quota of its own.",
                model.gateway.api_key_header
            ),
            "consumer",
            Body::new()
                .attr("for_each", Expr::raw(format!("toset({})", list(&names).0)))
                .attr(
                    "name",
                    template(&format!("{}-${{each.key}}", model.service.name)),
                )
                .attr(
                    "display_name",
                    template(&format!("{} key for ${{each.key}}", model.gateway.title)),
                ),
        )
    };
    f.push_commented(
        &comment,
        resource(
            "google_apikeys_key",
            label,
            body.blank()
                .block(block(
                    "restrictions",
                    Body::new().block(block(
                        "api_targets",
                        Body::new()
                            .attr("service", r("google_api_gateway_api.api.managed_service")),
                    )),
                ))
                .blank()
                .attr(
                    "depends_on",
                    list(&[r("google_project_service.managed_service")]),
                ),
        ),
    );
    f
}

// ---------------------------------------------------------------------------------
// cluster.tf
// ---------------------------------------------------------------------------------

fn output(name: &str, description: &str, value: Expr, sensitive: bool) -> Block {
    let mut body = Body::new()
        .attr("description", str(description))
        .attr("value", value);
    if sensitive {
        body = body.attr("sensitive", bool(true));
    }
    Block::new("output", &[name], body)
}

fn outputs(model: &Model) -> File {
    let mut f = File::new();
    f.push(output(
        "gateway_url",
        "Public base URL of the API (API Gateway).",
        template("https://${google_api_gateway_gateway.gateway.default_hostname}"),
        false,
    ));
    match model.gateway.consumers.first() {
        None => f.push(output(
            "api_key",
            &format!(
                "The client API key; send it in the `{}` header.",
                model.gateway.api_key_header
            ),
            r("google_apikeys_key.client.key_string"),
            true,
        )),
        Some(first) => {
            f.push(output(
                "api_key",
                &format!(
                    "The first consumer's ({}) API key; send it in the `{}` header.",
                    first.name, model.gateway.api_key_header
                ),
                r(&format!(
                    "google_apikeys_key.consumer[{}].key_string",
                    hcl::quote(&first.name)
                )),
                true,
            ));
            f.push(output(
                "api_keys",
                "Every consumer's API key, by consumer name.",
                Expr::raw(
                    "{ for name, key in google_apikeys_key.consumer : name => key.key_string }",
                ),
                true,
            ));
        }
    }
    f.push(output(
        "relay_url",
        "The relay's Cloud Run URL (IAM-protected; only the gateway may call it).",
        r("google_cloud_run_v2_service.relay.uri"),
        false,
    ));
    f.push(output(
        "internal_lb_ip",
        "IP of the backend's internal load balancer.",
        r("google_compute_address.ilb.address"),
        false,
    ));
    f.push(output(
        "internal_lb_address_name",
        "Name of the reserved address the Kubernetes Service uses.",
        r("google_compute_address.ilb.name"),
        false,
    ));
    f.push(output(
        "managed_service",
        "The API's managed service name.",
        r("google_api_gateway_api.api.managed_service"),
        false,
    ));
    f.push(output(
        "image_repository",
        "Artifact Registry path the images are pushed to.",
        r("local.image_repository"),
        false,
    ));
    f.push(output(
        "relay_image",
        "The relay image this configuration deploys.",
        r("local.relay_image"),
        false,
    ));
    f.push(output(
        "backend_image",
        "The backend image name, without tag (tag it with kustomize).",
        r("local.backend_image"),
        false,
    ));
    f.push(output(
        "cluster_name",
        "The GKE cluster.",
        r("var.cluster_name"),
        false,
    ));
    f.push(output(
        "cluster_location",
        "The GKE cluster's location.",
        r("var.cluster_location"),
        false,
    ));
    if cloud_sql(model) {
        f.push(output(
            "database_url_secret",
            "Secret Manager secret holding DATABASE_URL.",
            r("google_secret_manager_secret.database_url.secret_id"),
            false,
        ));
    }
    f
}
