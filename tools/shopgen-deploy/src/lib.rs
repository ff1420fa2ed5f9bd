//! `shopgen deploy`, `shopgen destroy` and `shopgen status`: put a generated stack on
//! Google Cloud with the real tools (`terraform`, `gcloud`, `docker`, `kubectl`,
//! `curl`), never re-implementing them.
//!
//! Deploy runs in phases, each with a progress line and every command shown as it
//! would be typed:
//!
//! 1. **preflight**: the generated folder is current, no backend of the user's clashes
//!    with the generated one, tools and their minimum versions, gcloud login and
//!    application default credentials, the project and its billing; an existing
//!    cluster (exists; GKE subsetting on or off; its node subnetwork is the spec's;
//!    how its control plane is reached; the nodes' service accounts, which Terraform
//!    then lets read the image repository); no address range the stack creates
//!    overlaps one the network or the cluster has. Only then does it change anything:
//!    `gcloud services enable` of the APIs Terraform itself needs, and the state
//!    bucket (created, versioned) when the state is remote;
//! 2. **bootstrap**: `terraform init` (with the state bucket as backend
//!    configuration), then `terraform apply -target=…` of the APIs, the image
//!    repository and the builder's account, which must exist before images are pushed;
//! 3. **images**: both images built for linux/amd64 and pushed with one immutable tag
//!    (Docker, or Cloud Build as its own service account), skipped when the tag
//!    already exists;
//! 4. **apply**: the full `terraform apply`;
//! 5. **secret**: the namespace and the database URL Secret (Cloud SQL: copied from
//!    Secret Manager; an existing database: checked, and the user told how to create
//!    it);
//! 6. **kubernetes**: `kubectl apply -k` of an overlay that pins the image tag and
//!    patches in what only Terraform knows (the reserved IP as `loadBalancerIP`, the
//!    source ranges), then `rollout status`;
//! 7. **smoke**: one public route through the gateway URL with the API key, 2xx
//!    expected (retried while a new key propagates);
//!
//! then a summary. The applies wait out the errors a first run in a new project is
//! known to meet (a table in [`retry`]: the managed service not yet visible, IAM and
//! service agents still propagating, an API just enabled), each a bounded number of
//! times; any other error stops the run. A rerun after a failure skips the phases
//! already done for the same project, region and tag (`.shopgen/deploy/<spec>.json`).
//! `--dry-run` prints the whole plan and runs nothing that needs credentials or a
//! network.
//!
//! Every `kubectl` and `get-credentials` runs with `KUBECONFIG` set to a private file
//! of its own (`.shopgen/deploy/<spec>/kubeconfig`): the user's kubeconfig and current
//! context are never read or changed.

mod context;
mod phases;
mod preflight;
pub mod ranges;
pub mod retry;
pub mod runner;
pub mod state;
pub mod tag;
mod teardown;

use std::path::PathBuf;

pub use phases::deploy;
pub use teardown::{destroy, status};

/// What the deploy needs to know about the stack (the CLI takes it from the model).
#[derive(Debug, Clone)]
pub struct Stack {
    /// The spec file as given (`specs/shop.toml`).
    pub spec: String,
    /// The spec's stem (`shop`): names the state file and the overlay folder.
    pub stem: String,
    /// The generated folder, relative to the repository root (`generated/shop`).
    pub out_dir: String,
    /// The spec's project and region (the defaults of `--project` / `--region`).
    pub project: String,
    pub region: String,
    pub namespace: String,
    /// The Deployment's and the Service's name.
    pub k8s_name: String,
    pub cluster_name: String,
    pub cluster_location: String,
    /// Whether Terraform creates the cluster (else it must exist).
    pub cluster_created: bool,
    pub database: Database,
    pub artifact_repository: String,
    pub backend_image: String,
    pub relay_image: String,
    /// The backend image name the generated Deployment carries (kustomize renames it).
    pub backend_image_in_manifests: String,
    /// Terraform targets of the bootstrap apply.
    pub bootstrap_targets: Vec<String>,
    /// A public GET route without path parameters, for the smoke test (`/products`).
    pub smoke_path: String,
    pub api_key_header: String,
    /// Cloud Build config and ignore file, relative to the repository root.
    pub cloudbuild_config: String,
    pub gcloudignore: String,
    /// Dockerfiles, relative to the repository root.
    pub backend_dockerfile: String,
    pub relay_dockerfile: String,
    /// APIs the preflight enables with `gcloud services enable` before the first
    /// `terraform` call: with `user_project_override` every provider request names the
    /// project as its quota project (`X-Goog-User-Project`), so Service Usage and Cloud
    /// Resource Manager must be on before Terraform can enable anything else.
    pub preflight_apis: Vec<String>,
    /// Every API the stack uses (Terraform enables them; listed in messages).
    pub apis: Vec<String>,
    /// Where Terraform keeps its state.
    pub state: StateBackend,
    /// Region of the API Gateway gateway (the spec's `gcp.gateway_region`, else the
    /// spec's region); `--gateway-region` overrides.
    pub gateway_region: String,
    /// The VPC network, the cluster's node subnetwork (existing, or the one Terraform
    /// creates for a created cluster), and the connector's /28 when the relay uses one.
    pub network: String,
    pub subnetwork: String,
    pub connector_cidr: Option<String>,
    /// Every address range the stack creates in the network, with what it is for
    /// (`("connector", "10.8.0.0/28")`, a created cluster's node, pod, service and
    /// control-plane ranges, Cloud SQL's allocated range): the preflight checks that
    /// none overlaps a range the network already has.
    pub planned_ranges: Vec<(String, String)>,
    /// A created cluster is reached through its DNS-based control-plane endpoint
    /// (`get-credentials --dns-endpoint`); an existing cluster's endpoint is detected.
    pub cluster_dns_endpoint: bool,
    /// The name of the stack's own private services access range for Cloud SQL
    /// (`shop-api-sql-range`), when it has one: its range is the planned one on a rerun.
    pub sql_range_name: Option<String>,
    /// The builder service account's id (`shop-api-build`), as Terraform names it.
    pub build_service_account_id: String,
    /// A label selector matching every Kubernetes object shopgen generates
    /// (`app.kubernetes.io/managed-by=shopgen,app.kubernetes.io/part-of=shop-api`).
    pub k8s_selector: String,
    /// The spec exposes an existing service (`[upstream]`): no backend image, no
    /// Deployment, no database Secret; the namespace must exist, and deploy never
    /// creates, changes or deletes it or the user's workloads. Kubernetes gets the
    /// internal load balancer's Service only.
    pub existing_service: bool,
}

/// Where Terraform keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// `terraform.tfstate` in the generated `terraform/` folder (git-ignored there).
    Local,
    /// A Cloud Storage bucket, passed to `terraform init` as partial backend
    /// configuration (`-backend-config=bucket=…`, `-backend-config=prefix=…`).
    Gcs {
        /// The spec's bucket; `None`: named from the project and the service.
        bucket: Option<String>,
        /// Object prefix inside the bucket (the spec's stem by default).
        prefix: String,
    },
}

/// Where the backend's `DATABASE_URL` comes from.
#[derive(Debug, Clone)]
pub enum Database {
    /// A Kubernetes Secret the user creates.
    ExistingSecret { secret: String, key: String },
    /// Cloud SQL created by Terraform; the URL is in Secret Manager.
    CloudSql {
        instance: String,
        deletion_protection: bool,
        secret: String,
    },
}

/// Who builds the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    Docker,
    CloudBuild,
}

/// How `kubectl` reaches the cluster's control plane (`get-credentials` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The DNS-based endpoint (`--dns-endpoint`): reachable from anywhere with IAM,
    /// when the cluster allows external traffic on it.
    Dns,
    /// The private IP endpoint (`--internal-ip`): only from inside the VPC.
    InternalIp,
    /// The public IP endpoint (no flag).
    Public,
}

impl Endpoint {
    /// The `gcloud container clusters get-credentials` flag, if any.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Endpoint::Dns => Some("--dns-endpoint"),
            Endpoint::InternalIp => Some("--internal-ip"),
            Endpoint::Public => None,
        }
    }
}

/// The command line of `deploy` / `destroy` / `status`.
#[derive(Debug, Clone)]
pub struct Options {
    pub project: Option<String>,
    pub region: Option<String>,
    /// `--gateway-region`: where the API Gateway gateway goes (one of
    /// [`shopgen_facts::gcp::API_GATEWAY_REGIONS`]); default: [`Stack::gateway_region`].
    pub gateway_region: Option<String>,
    /// `--endpoint`: how to reach the control plane; default: detected (a created
    /// cluster's DNS endpoint; an existing cluster's from its configuration).
    pub endpoint: Option<Endpoint>,
    pub image_tag: Option<String>,
    pub builder: Builder,
    pub dry_run: bool,
    pub yes: bool,
    /// The repository root (commands run there).
    pub root: PathBuf,
    /// Whether the generated folder is current (`shopgen check`).
    pub generated_current: Result<(), NotCurrent>,
}

/// The generated folder differs from what the spec generates (`shopgen check`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{differing} file(s) differ from the spec; run `{fix}`")]
pub struct NotCurrent {
    /// How many files differ.
    pub differing: usize,
    /// The command that makes it current (`shopgen build specs/shop.toml`).
    pub fix: String,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A phase failed: its name, what happened, what to do.
    #[error("{phase} failed: {message}")]
    Phase {
        phase: &'static str,
        message: String,
    },
    /// The user must confirm (`--yes`).
    #[error("{0}")]
    Refused(String),
    /// An option's value is refused before anything runs.
    #[error("{0}")]
    Invalid(String),
}

impl Failure {
    /// The process exit code: 1 for a failed phase or a refused option value, 2 for
    /// a refusal to go on without `--yes`.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Phase { .. } | Failure::Invalid(_) => 1,
            Failure::Refused(_) => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure is an error like any other (`?` into `anyhow`, `Box<dyn Error>`), and
    /// reads as it always has.
    #[test]
    fn failures_are_errors_with_their_messages() {
        let failures: Vec<Box<dyn std::error::Error + Send + Sync>> = vec![
            Box::new(Failure::Phase {
                phase: "preflight",
                message: "generated/shop is not current".into(),
            }),
            Box::new(Failure::Refused("pass --yes".into())),
            Box::new(Failure::Invalid("`latest` is refused".into())),
            Box::new(NotCurrent {
                differing: 2,
                fix: "shopgen build specs/shop.toml".into(),
            }),
        ];
        let shown: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            shown,
            [
                "preflight failed: generated/shop is not current",
                "pass --yes",
                "`latest` is refused",
                "2 file(s) differ from the spec; run `shopgen build specs/shop.toml`",
            ]
        );
    }
}
