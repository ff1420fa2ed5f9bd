//! Emit: the Google Cloud side as Terraform, `terraform/*.tf`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives one `.tf` file per concern, laid out as
//! `terraform fmt` would (see the `hcl` submodule, whose expressions are typed):
//!
//! - `versions.tf`: Terraform and provider version ranges, the two Google providers
//!   (with an explicit quota project: API keys need one and the provider does not
//!   take it from the user's credentials);
//! - `variables.tf`: every input, described, defaulting to the spec's values (the
//!   image tag has no default: each apply names the immutable tag it deploys);
//! - `apis.tf`: the project services, and the API's own managed service once the
//!   gateway exists (API keys are rejected until it is enabled);
//! - `network.tf`: the reserved internal address of the internal load balancer (the
//!   Kubernetes Service names it; the relay's `UPSTREAM_URL` carries its IP), and the
//!   Serverless VPC Access connector when the spec picks that egress;
//! - `registry.tf`, `iam.tf`: the Artifact Registry repository (immutable tags), the
//!   relay's, the gateway's and the image builder's service accounts;
//! - `relay.tf`: the relay on Cloud Run v2, invokable only by the gateway's account;
//! - `gateway.tf`: API Gateway (`google-beta`), its config built from
//!   `../openapi/gateway.yaml` with the relay's host filled in, and the API key (its
//!   name carries a random suffix: deleted key names stay taken for about 30 days);
//! - `cluster.tf`: the existing GKE cluster (a data source) or a new private,
//!   VPC-native one with Workload Identity and GKE subsetting;
//! - `database.tf`: Cloud SQL for PostgreSQL on a private IP with its URL in Secret
//!   Manager, when the spec asks for it;
//! - `outputs.tf`: the gateway URL, the API key (sensitive), the relay URL, the
//!   internal IP and the ranges allowed to reach it, the image names.
//!
//! Every resource and data block is checked against the provider schema in
//! `tests/infra_terraform.rs`.

mod hcl;
mod platform;
pub mod services;

use platform::{cluster, database};

use super::{CommentSyntax, EmittedFile};
use crate::model::{Cluster, Database, Egress, Model, TerraformState};
use hcl::{
    Block, Body, Expr, File, Ref, bool, call, cond, eq, for_object, interp, list, list_lines, num,
    object, str, template, text,
};
use shopgen_facts::{gateway, relay};

/// The provider versions the generated Terraform allows: one major, 8, from 8.7, the
/// release whose schema the offline checks cover (`tests/data`). A range over several
/// majors is tested by nothing: defaults change between majors (7.0:
/// `disable_on_destroy`; 8.0: cluster `enable_components` as sets). The output is
/// also checked against 6.50, so it stays inside what both majors accept, and every
/// default that moved between them is written explicitly.
pub const PROVIDER_VERSION: &str = ">= 8.7, < 9.0";
/// The resources the first, targeted apply creates: the APIs and the image
/// repository (with the builder's account), which must exist before images are
/// pushed and before Cloud Run can start the relay.
pub const BOOTSTRAP_TARGETS: [&str; 6] = [
    "google_project_service.apis",
    "google_project_service_identity.agents",
    "google_artifact_registry_repository.images",
    "google_service_account.build",
    "google_artifact_registry_repository_iam_member.build_push",
    "google_project_iam_member.build",
];
/// The roles the image builder's account holds on the project: writing build logs
/// and reading the uploaded source.
pub const BUILD_PROJECT_ROLES: [&str; 2] =
    ["roles/logging.logWriter", "roles/storage.objectViewer"];

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
    let mut out: Vec<EmittedFile> = files
        .into_iter()
        .map(|(name, f)| {
            EmittedFile::new(format!("terraform/{name}"), f.render(), CommentSyntax::Hash)
        })
        .collect();
    out.push(EmittedFile::new(
        "terraform/.gitignore",
        GITIGNORE,
        CommentSyntax::Hash,
    ));
    out
}

/// `terraform/.gitignore`: Terraform's working files never reach git, whatever
/// `git add` is given. The state holds the API key (and the database password) in
/// plain text; `.terraform/` holds provider binaries. The dependency lock file
/// (`.terraform.lock.hcl`) is not listed: Terraform's documentation asks for it to be
/// committed, so every apply uses the provider builds the first one checked.
const GITIGNORE: &str = "\
# Terraform's working files stay out of git: the state holds the API key and the
# database password in plain text, .terraform/ holds provider binaries. Commit
# .terraform.lock.hcl (the provider versions every apply uses).
.terraform/
*.tfstate
*.tfstate.*
*.tfplan
*.tfvars
*.tfvars.json
crash.log
crash.*.log
";

/// `var.NAME`.
fn var(name: &str) -> Expr {
    Ref::var(name).expr()
}

/// `local.NAME`.
fn local(name: &str) -> Expr {
    Ref::local(name).expr()
}

/// `TYPE.NAME.ATTR` of a managed resource.
fn res(ty: &str, name: &str, attr: &str) -> Expr {
    Ref::resource(ty, name).attr(attr).expr()
}

/// `data.TYPE.NAME.ATTR`.
fn data_ref(ty: &str, name: &str, attr: &str) -> Expr {
    Ref::data(ty, name).attr(attr).expr()
}

/// `"serviceAccount:${EMAIL}"`.
fn sa_member(email: Expr) -> Expr {
    template(vec![text("serviceAccount:"), interp(email)])
}

/// `toset([...])`, one item per line.
fn toset(items: Vec<Expr>) -> Expr {
    call("toset", vec![list_lines(items)])
}

fn strs(items: &[&str]) -> Vec<Expr> {
    items.iter().map(|s| str(s)).collect()
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

fn depends_on(refs: &[Ref]) -> Expr {
    list(refs.iter().cloned().map(Ref::expr).collect())
}

fn depends_on_apis() -> Expr {
    depends_on(&[Ref::resource("google_project_service", "apis")])
}

/// The name of Cloud SQL's private services access range (`shop-api-sql-range`); the
/// deploy preflight knows it as the stack's own.
pub fn sql_range_name(model: &Model) -> String {
    format!("{}-sql-range", model.service.name)
}

fn cloud_sql(model: &Model) -> bool {
    matches!(model.database, Database::CloudSql { .. })
}

fn creates_cluster(model: &Model) -> bool {
    matches!(model.gcp.cluster, Cluster::Create { .. })
}

/// The relay's egress range as a Terraform expression.
fn relay_egress_range_expr(model: &Model) -> Expr {
    match &model.gcp.egress {
        Egress::Connector { cidr, .. } => str(cidr),
        Egress::DirectVpc if creates_cluster(model) => {
            res("google_compute_subnetwork", "cluster", "ip_cidr_range")
        }
        Egress::DirectVpc => data_ref("google_compute_subnetwork", "subnet", "ip_cidr_range"),
    }
}

/// The project services the stack needs, sorted.
pub fn project_services(model: &Model) -> Vec<&'static str> {
    let mut s = vec![
        "apigateway.googleapis.com",
        "cloudresourcemanager.googleapis.com",
        "serviceusage.googleapis.com",
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
    let providers = Body::new()
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
        )
        .attr(
            "random",
            object(&[
                ("source", str("hashicorp/random")),
                ("version", str(">= 3.6, < 4.0")),
            ]),
        );
    let mut f = File::new();
    let mut terraform = Body::new()
        .attr("required_version", str(">= 1.5"))
        .blank()
        .block(block("required_providers", providers));
    if matches!(model.gcp.state, TerraformState::Gcs { .. }) {
        terraform = terraform
            .blank()
            .comment("State in Cloud Storage, never beside these files: the bucket and prefix are")
            .comment("given to `terraform init -backend-config=bucket=… -backend-config=prefix=…`")
            .comment(
                "(`shopgen deploy` does). A backend of your own goes in `backend_override.tf`.",
            )
            .block(Block::new("backend", &["gcs"], Body::new()));
    }
    f.push(block("terraform", terraform));
    for (i, p) in ["google", "google-beta"].into_iter().enumerate() {
        let body = Body::new()
            .attr("project", var("project"))
            .attr("region", var("region"))
            .attr("user_project_override", bool(true))
            .attr(
                "billing_project",
                cond(
                    eq(var("billing_project"), str("")),
                    var("project"),
                    var("billing_project"),
                ),
            );
        let provider = Block::new("provider", &[p], body);
        if i == 0 {
            f.push_commented(
                "Requests name their quota project explicitly: the API Keys API refuses user\ncredentials without one, and the provider does not take it from the credentials.",
                provider,
            );
        } else {
            f.push(provider);
        }
    }
    f
}

fn variable(name: &str, ty: &'static str, description: &str, default: Option<Expr>) -> Block {
    Block::new(
        "variable",
        &[name],
        Body::new()
            .attr("description", str(description))
            .attr("type", Expr::Type(ty))
            .attr_opt("default", default),
    )
}

fn variables(model: &Model) -> File {
    let (cluster_name, cluster_location) = model.cluster_name_location();
    let mut f = File::new();
    f.push(variable(
        "project",
        "string",
        "Google Cloud project id (`shopgen deploy --project` overrides the spec's).",
        Some(str(&model.gcp.project)),
    ));
    f.push(variable(
        "billing_project",
        "string",
        "Quota and billing project for API requests; empty means `project`.",
        Some(str("")),
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
        "Region of the API Gateway gateway: API Gateway runs in a subset of regions (the spec's `gcp.gateway_region`, else its region; `shopgen deploy --gateway-region` overrides).",
        Some(str(&model.gcp.gateway_region)),
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
        "Immutable tag of the images in Artifact Registry (the repository refuses to move a tag). `shopgen deploy` derives it from the sources: the commit, plus a digest of uncommitted changes.",
        None,
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
            "gke_node_service_accounts",
            "list(string)",
            "Emails of the existing cluster's node service accounts (its node pools may run as different ones); each is granted read access to the image repository. Leave empty if the nodes can already pull from it.",
            Some(list(vec![])),
        ));
    }
    f
}

// ---------------------------------------------------------------------------------
// apis.tf, network.tf, registry.tf, iam.tf
// ---------------------------------------------------------------------------------

fn apis(model: &Model) -> File {
    let mut f = File::new();
    f.push_commented(
        "Every API the stack uses. Left enabled on destroy: other workloads may use them.",
        resource(
            "google_project_service",
            "apis",
            Body::new()
                .attr("for_each", toset(strs(&project_services(model))))
                .blank()
                .attr("service", Ref::each_value())
                .attr("disable_on_destroy", bool(false)),
        ),
    );
    f.push_commented(
        "The service agents that act for the stack, created ahead of their first use\n(with the APIs, in the first targeted apply): an agent that appears only when first\nneeded makes that first apply fail until it exists and its roles propagate.",
        resource(
            "google_project_service_identity",
            "agents",
            Body::new()
                .attr("provider", Ref::name("google-beta"))
                .attr("for_each", toset(strs(&services::service_agents(model))))
                .blank()
                .attr("service", Ref::each_value())
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "The API's own managed service: API keys restricted to this API are rejected\nuntil it is enabled in the project. A new API's service can take a while to become\nvisible, so it is enabled only after the gateway serves its config; if it is not\nvisible yet, the apply fails on this resource alone and a rerun completes it\n(`shopgen deploy` retries).",
        resource(
            "google_project_service",
            "managed_service",
            Body::new()
                .attr("service", res("google_api_gateway_api", "api", "managed_service"))
                .attr("disable_on_destroy", bool(false))
                .blank()
                .attr(
                    "depends_on",
                    depends_on(&[Ref::resource("google_api_gateway_gateway", "gateway")]),
                ),
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
        Body::new().attr("name", var("network")),
    ));
    let subnet_ref = if creates_cluster(model) {
        res("google_compute_subnetwork", "cluster", "id")
    } else {
        f.push(data(
            "google_compute_subnetwork",
            "subnet",
            Body::new()
                .attr("name", var("subnetwork"))
                .attr("region", local("cluster_region")),
        ));
        data_ref("google_compute_subnetwork", "subnet", "self_link")
    };
    f.push_commented(
        "The internal load balancer's address, reserved so Terraform knows the IP before\nthe Service exists. The Service names it (networking.gke.io/load-balancer-ip-addresses,\nread by GKE subsetting); `shopgen deploy` also sets spec.loadBalancerIP to it, which\nclusters without subsetting read. The relay's UPSTREAM_URL carries the IP.",
        resource(
            "google_compute_address",
            "ilb",
            Body::new()
                .attr("name", str(&n.ilb_address))
                .attr("region", local("cluster_region"))
                .attr("subnetwork", subnet_ref)
                .attr("address_type", str("INTERNAL"))
                .attr("purpose", str("GCE_ENDPOINT"))
                .attr(
                    "description",
                    str(&format!(
                        "Internal load balancer of the {} backend (Kubernetes Service {}/{}).",
                        model.service.name, model.service.namespace, model.service.names.k8s_name
                    )),
                )
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
                    .attr("region", var("region"))
                    .attr("network", data_ref("google_compute_network", "vpc", "name"))
                    .attr("ip_cidr_range", str(cidr))
                    .attr("machine_type", str(machine_type))
                    .attr("min_instances", num(*min_instances))
                    .attr("max_instances", num(*max_instances))
                    .blank()
                    .attr("depends_on", depends_on_apis()),
            ),
        );
    }
    f
}

/// `member` gets `role` on the image repository; with `for_each`, once per item.
fn repo_member(name: &str, role: &str, member: Expr, for_each: Option<Expr>) -> Block {
    let mut body = Body::new();
    if let Some(items) = for_each {
        body = body.attr("for_each", items).blank();
    }
    resource(
        "google_artifact_registry_repository_iam_member",
        name,
        body.attr(
            "location",
            res("google_artifact_registry_repository", "images", "location"),
        )
        .attr(
            "repository",
            res("google_artifact_registry_repository", "images", "name"),
        )
        .attr("role", str(role))
        .attr("member", member),
    )
}

fn registry(model: &Model) -> File {
    let n = &model.service.names;
    let mut f = File::new();
    f.push_commented(
        "Holds the backend and relay images. Tags are immutable: a tag names one image\nfor good, so what an apply deploys is what its tag named when it was pushed.",
        resource(
            "google_artifact_registry_repository",
            "images",
            Body::new()
                .attr("repository_id", str(&n.artifact_repository))
                .attr("location", var("region"))
                .attr("format", str("DOCKER"))
                .attr(
                    "description",
                    str(&format!(
                        "Images of the {} stack (shopgen).",
                        model.service.name
                    )),
                )
                .blank()
                .block(block(
                    "docker_config",
                    Body::new().attr("immutable_tags", bool(true)),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let nodes = res("google_service_account", "nodes", "email");
    if creates_cluster(model) {
        f.push(repo_member(
            "nodes_read",
            "roles/artifactregistry.reader",
            sa_member(nodes),
            None,
        ));
    } else {
        f.push_commented(
            "Lets the existing cluster's nodes pull the backend image: every node pool's\naccount that is given.",
            repo_member(
                "nodes_read",
                "roles/artifactregistry.reader",
                sa_member(Ref::each_value().expr()),
                Some(call("toset", vec![var("gke_node_service_accounts")])),
            ),
        );
    }
    f.push_commented(
        "Cloud Build pushes the images as the builder's account.",
        repo_member(
            "build_push",
            "roles/artifactregistry.writer",
            sa_member(res("google_service_account", "build", "email")),
            None,
        ),
    );
    let image = |name: &str| {
        template(vec![
            interp(local("image_repository")),
            text(format!("/{name}:")),
            interp(var("image_tag")),
        ])
    };
    f.push(Block::new(
        "locals",
        &[],
        Body::new()
            .attr(
                "image_repository",
                template(vec![
                    interp(res(
                        "google_artifact_registry_repository",
                        "images",
                        "location",
                    )),
                    text("-docker.pkg.dev/"),
                    interp(var("project")),
                    text("/"),
                    interp(res(
                        "google_artifact_registry_repository",
                        "images",
                        "repository_id",
                    )),
                ]),
            )
            .attr("relay_image", image(&n.relay_image))
            .attr("backend_image", image(&n.backend_image)),
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
        "API Gateway signs its calls to the relay as this account; it may invoke the relay\nand nothing else, and the relay refuses every other caller.",
        resource(
            "google_service_account",
            "gateway",
            Body::new()
                .attr("account_id", str(&n.gateway_service_account))
                .attr(
                    "display_name",
                    str(&format!("{} API Gateway backend caller", model.service.name)),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "Cloud Build runs the image builds as this account (new projects' default build\naccount may lack these permissions): it writes logs, reads the uploaded source and\npushes to the image repository.",
        resource(
            "google_service_account",
            "build",
            Body::new()
                .attr("account_id", str(&model.service.names.build_service_account))
                .attr(
                    "display_name",
                    str(&format!("{} image builds (Cloud Build)", model.service.name)),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push(resource(
        "google_project_iam_member",
        "build",
        Body::new()
            .attr("for_each", toset(strs(&BUILD_PROJECT_ROLES)))
            .blank()
            .attr("project", var("project"))
            .attr("role", Ref::each_value())
            .attr(
                "member",
                sa_member(res("google_service_account", "build", "email")),
            ),
    ));
    f
}

// ---------------------------------------------------------------------------------
// relay.tf
// ---------------------------------------------------------------------------------

/// The relay's `UPSTREAM_URL`: plain HTTP to the internal load balancer's reserved IP.
fn upstream_url(model: &Model) -> Expr {
    let mut parts = vec![
        text("http://"),
        interp(res("google_compute_address", "ilb", "address")),
    ];
    if model.service.service_port != 80 {
        parts.push(text(format!(":{}", model.service.service_port)));
    }
    template(parts)
}

fn env(name: &str, value: Expr) -> Block {
    block(
        "env",
        Body::new().attr("name", str(name)).attr("value", value),
    )
}

fn http_probe(name: &str, period: u32, timeout: u32, failures: u32) -> Block {
    block(
        name,
        Body::new()
            .attr("period_seconds", num(period))
            .attr("timeout_seconds", num(timeout))
            .attr("failure_threshold", num(failures))
            .blank()
            .block(block(
                "http_get",
                Body::new().attr("path", str(relay::HEALTH_PATH)),
            )),
    )
}

fn relay(model: &Model) -> File {
    let n = &model.service.names;
    let vpc_access = match &model.gcp.egress {
        Egress::Connector { .. } => block(
            "vpc_access",
            Body::new()
                .attr(
                    "connector",
                    res("google_vpc_access_connector", "relay", "id"),
                )
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
                        .attr("network", data_ref("google_compute_network", "vpc", "id"))
                        .attr(
                            "subnetwork",
                            if creates_cluster(model) {
                                res("google_compute_subnetwork", "cluster", "id")
                            } else {
                                data_ref("google_compute_subnetwork", "subnet", "id")
                            },
                        ),
                )),
        ),
    };
    let timeout_s = model.gateway.deadline_seconds.ceil().max(1.0) as u64;
    let mut container = Body::new()
        .attr("image", local("relay_image"))
        .blank()
        .block(block(
            "ports",
            Body::new().attr("container_port", num(relay::CONTAINER_PORT)),
        ))
        .blank()
        .block(env(relay::env::UPSTREAM_URL, upstream_url(model)));
    for (name, value) in model.relay_env() {
        container = container.block(env(name, str(&value)));
    }
    container = container.block(env(
        relay::env::ALLOWED_INVOKERS,
        template(vec![
            interp(res("google_service_account", "gateway", "email")),
            text(","),
            interp(res("google_service_account", "gateway", "unique_id")),
        ]),
    ));
    let container = block(
        "containers",
        container
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
            .block(http_probe("startup_probe", 1, 1, 10))
            .blank()
            .block(http_probe("liveness_probe", 15, 2, 3)),
    );
    let mut f = File::new();
    f.push_commented(
        "The relay: API Gateway calls it on its run.app URL with an ID token; it forwards\nthe public routes to the internal load balancer through the VPC. Ingress stays\nopen to the internet, guarded by IAM: only the gateway's account may invoke it.\nIAM also lets the project's Owners and Editors in, so the relay itself refuses\nevery caller but the gateway's account (ALLOWED_INVOKERS, 403).",
        resource(
            "google_cloud_run_v2_service",
            "relay",
            Body::new()
                .attr("name", str(&n.cloud_run_service))
                .attr("location", var("region"))
                .attr("ingress", str("INGRESS_TRAFFIC_ALL"))
                .attr("deletion_protection", var("relay_deletion_protection"))
                .blank()
                .block(block(
                    "template",
                    Body::new()
                        .attr("service_account", res("google_service_account", "relay", "email"))
                        .attr(
                            "max_instance_request_concurrency",
                            num(model.relay.concurrency),
                        )
                        .attr("timeout", str(&format!("{timeout_s}s")))
                        .blank()
                        .block(block(
                            "scaling",
                            Body::new()
                                .attr("min_instance_count", var("relay_min_instances"))
                                .attr("max_instance_count", var("relay_max_instances")),
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
    let relay = |attr: &str| res("google_cloud_run_v2_service", "relay", attr);
    f.push_commented(
        "Only API Gateway (its service account) may call the relay; never allUsers.",
        resource(
            "google_cloud_run_v2_service_iam_member",
            "gateway_invoker",
            Body::new()
                .attr("project", relay("project"))
                .attr("location", relay("location"))
                .attr("name", relay("name"))
                .attr("role", str("roles/run.invoker"))
                .attr(
                    "member",
                    sa_member(res("google_service_account", "gateway", "email")),
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
    let beta = || Ref::name("google-beta");
    let mut f = File::new();
    f.push_commented(
        "API Gateway exists only in the google-beta provider.",
        resource(
            "google_api_gateway_api",
            "api",
            Body::new()
                .attr("provider", beta())
                .attr("api_id", str(&n.api_id))
                .attr("display_name", str(&model.gateway.title))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let contents = call(
        "base64encode",
        vec![call(
            "templatefile",
            vec![
                template(vec![
                    interp(Ref::path_module()),
                    text("/../openapi/gateway.yaml"),
                ]),
                object(&[(
                    gateway::RELAY_HOST_VAR,
                    call(
                        "trimprefix",
                        vec![
                            res("google_cloud_run_v2_service", "relay", "uri"),
                            str("https://"),
                        ],
                    ),
                )]),
            ],
        )],
    );
    f.push_commented(
        "Configs are immutable: each change creates a new one (random suffix) before the\nold one goes, so the gateway always points at a live config. The document is\nopenapi/gateway.yaml with the relay's host filled in.",
        resource(
            "google_api_gateway_api_config",
            "api",
            Body::new()
                .attr("provider", beta())
                .attr("api", res("google_api_gateway_api", "api", "api_id"))
                .attr("api_config_id_prefix", str(&format!("{}-", n.api_id)))
                .attr(
                    "display_name",
                    str(&format!("{} (shopgen)", model.gateway.title)),
                )
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
                            res("google_service_account", "gateway", "email"),
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
            .attr("provider", beta())
            .attr("gateway_id", str(&n.gateway_id))
            .attr("region", var("gateway_region"))
            .attr(
                "api_config",
                res("google_api_gateway_api_config", "api", "id"),
            )
            .attr("display_name", str(&model.gateway.title)),
    ));
    f.push_commented(
        "A deleted key's name stays taken for about 30 days: each key gets a fresh suffix,\nso destroying and re-creating the stack does not collide with the old key.",
        resource(
            "random_id",
            "api_key",
            Body::new().attr("byte_length", num(3u32)),
        ),
    );
    let (comment, label, body) = if model.gateway.consumers.is_empty() {
        (
            format!(
                "The client key, accepted only by this API; clients send it in the `{}` header.",
                model.gateway.api_key_header
            ),
            "client",
            Body::new()
                .attr(
                    "name",
                    template(vec![
                        text(format!("{}-client-", model.service.name)),
                        interp(res("random_id", "api_key", "hex")),
                    ]),
                )
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
                .attr("for_each", call("toset", vec![list(names)]))
                .attr(
                    "name",
                    template(vec![
                        text(format!("{}-", model.service.name)),
                        interp(Ref::each_key()),
                        text("-"),
                        interp(res("random_id", "api_key", "hex")),
                    ]),
                )
                .attr(
                    "display_name",
                    template(vec![
                        text(format!("{} key for ", model.gateway.title)),
                        interp(Ref::each_key()),
                    ]),
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
                        Body::new().attr(
                            "service",
                            res("google_api_gateway_api", "api", "managed_service"),
                        ),
                    )),
                ))
                .blank()
                .attr(
                    "depends_on",
                    depends_on(&[Ref::resource("google_project_service", "managed_service")]),
                ),
        ),
    );
    f
}

// ---------------------------------------------------------------------------------
// outputs.tf
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
        template(vec![
            text("https://"),
            interp(res(
                "google_api_gateway_gateway",
                "gateway",
                "default_hostname",
            )),
        ]),
        false,
    ));
    match model.gateway.consumers.first() {
        None => f.push(output(
            "api_key",
            &format!(
                "The client API key; send it in the `{}` header.",
                model.gateway.api_key_header
            ),
            res("google_apikeys_key", "client", "key_string"),
            true,
        )),
        Some(first) => {
            f.push(output(
                "api_key",
                &format!(
                    "The first consumer's ({}) API key; send it in the `{}` header.",
                    first.name, model.gateway.api_key_header
                ),
                Ref::resource("google_apikeys_key", "consumer")
                    .index(&first.name)
                    .attr("key_string")
                    .expr(),
                true,
            ));
            f.push(output(
                "api_keys",
                "Every consumer's API key, by consumer name.",
                for_object(
                    "name",
                    "key",
                    Ref::resource("google_apikeys_key", "consumer"),
                    Ref::name("key").attr("key_string").expr(),
                ),
                true,
            ));
        }
    }
    f.push(output(
        "relay_url",
        "The relay's Cloud Run URL (IAM-protected; only the gateway may call it).",
        res("google_cloud_run_v2_service", "relay", "uri"),
        false,
    ));
    f.push(output(
        "internal_lb_ip",
        "IP of the backend's internal load balancer (the Service's spec.loadBalancerIP).",
        res("google_compute_address", "ilb", "address"),
        false,
    ));
    f.push(output(
        "internal_lb_address_name",
        "Name of the reserved address the Kubernetes Service uses.",
        res("google_compute_address", "ilb", "name"),
        false,
    ));
    let mut ranges = vec![relay_egress_range_expr(model)];
    ranges.extend(model.gcp.ilb_source_ranges.iter().map(|r| str(r)));
    f.push(output(
        "ilb_source_ranges",
        "Source ranges the internal load balancer admits (the Service's spec.loadBalancerSourceRanges): the relay's egress range and the spec's extra ranges.",
        list(ranges),
        false,
    ));
    f.push(output(
        "managed_service",
        "The API's managed service name.",
        res("google_api_gateway_api", "api", "managed_service"),
        false,
    ));
    f.push(output(
        "image_repository",
        "Artifact Registry path the images are pushed to.",
        local("image_repository"),
        false,
    ));
    f.push(output(
        "relay_image",
        "The relay image this configuration deploys.",
        local("relay_image"),
        false,
    ));
    f.push(output(
        "backend_image",
        "The backend image this configuration's tag names (kubectl deploys it).",
        local("backend_image"),
        false,
    ));
    f.push(output(
        "build_service_account",
        "The account Cloud Build runs the image builds as.",
        res("google_service_account", "build", "email"),
        false,
    ));
    f.push(output(
        "cluster_name",
        "The GKE cluster.",
        var("cluster_name"),
        false,
    ));
    f.push(output(
        "cluster_location",
        "The GKE cluster's location.",
        var("cluster_location"),
        false,
    ));
    if cloud_sql(model) {
        f.push(output(
            "database_url_secret",
            "Secret Manager secret holding DATABASE_URL.",
            res("google_secret_manager_secret", "database_url", "secret_id"),
            false,
        ));
    }
    f
}
