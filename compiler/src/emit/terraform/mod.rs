//! Emit: the Google Cloud side as Terraform, `terraform/*.tf`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives one `.tf` file per concern, each written
//! by the submodule of the same name, laid out as `terraform fmt` would (see the `hcl`
//! submodule, whose expressions are typed), plus `terraform/.gitignore`. This module
//! holds what the file modules share (reference helpers, the API list); `services`
//! says which API each resource type calls:
//!
//! - `versions.tf`: Terraform and provider version ranges, the two Google providers
//!   (with an explicit quota project: API keys need one and the provider does not
//!   take it from the user's credentials), and the `gcs` backend unless the state is
//!   local;
//! - `variables.tf`: every input, described, defaulting to the spec's values (the
//!   image tag has no default: each apply names the immutable tag it deploys);
//! - `apis.tf`: the project services, the service agents created ahead of first use,
//!   and the API's own managed service once the gateway exists (API keys are rejected
//!   until it is enabled);
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
//! `tests/suite/infra_terraform.rs`.

mod apis;
mod cluster;
mod database;
mod gateway;
mod hcl;
mod iam;
mod network;
mod outputs;
mod registry;
mod relay;
pub mod services;
mod variables;
mod versions;

use apis::apis;
use cluster::cluster;
use database::database;
use gateway::gateway;
use iam::iam;
use network::network;
use outputs::outputs;
use registry::registry;
use relay::relay;
use variables::variables;
use versions::versions;

use super::{CommentSyntax, EmittedFile};
use crate::model::{Cluster, Database, Egress, Model, TerraformState};
use hcl::{
    Block, Body, Expr, File, Ref, bool, call, cond, eq, for_object, interp, list, list_lines, num,
    object, str, template, text,
};
use shopgen_facts::{gateway as gateway_facts, relay as relay_facts};

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
