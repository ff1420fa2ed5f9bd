//! `shopgen deploy`, `destroy` and `status`: the command line, and the stack facts the
//! deploy runtime (`shopgen-deploy`) takes from the compiled model.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use shopgen::emit::{docker, terraform};
use shopgen::model::{Cluster, Database, HttpMethod, Model, TerraformState};
use shopgen_deploy::{Builder, Endpoint, NotCurrent, Options, Stack};

/// Who builds the images.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BuilderArg {
    /// Docker with BuildKit on this machine.
    Docker,
    /// Cloud Build, as the stack's builder service account.
    CloudBuild,
}

/// How kubectl reaches the cluster's control plane.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EndpointArg {
    /// The DNS-based endpoint (`get-credentials --dns-endpoint`).
    Dns,
    /// The private IP endpoint (`get-credentials --internal-ip`): from inside the VPC.
    InternalIp,
    /// The public IP endpoint.
    Public,
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The spec file, e.g. specs/shop.toml.
    pub spec: PathBuf,
    /// Google Cloud project (default: the spec's `gcp.project`).
    #[arg(long)]
    pub project: Option<String>,
    /// Region of the relay, gateway and registry (default: the spec's `gcp.region`).
    #[arg(long)]
    pub region: Option<String>,
    /// Region of the API Gateway gateway (default: the spec's `gcp.gateway_region`,
    /// else its region; `--region` does not change it). API Gateway runs in a subset
    /// of regions; others are refused before anything runs.
    #[arg(long)]
    pub gateway_region: Option<String>,
    /// How kubectl reaches the cluster's control plane (default: detected; a cluster
    /// shopgen creates is reached through its DNS endpoint).
    #[arg(long, value_enum)]
    pub endpoint: Option<EndpointArg>,
    /// Immutable image tag (default: the commit, plus a digest of uncommitted changes).
    #[arg(long)]
    pub image_tag: Option<String>,
    /// Who builds the images.
    #[arg(long, value_enum, default_value = "docker")]
    pub builder: BuilderArg,
    /// Print every phase and command; run nothing that needs credentials or a network.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm (destroy).
    #[arg(long)]
    pub yes: bool,
}

/// The stack facts the deploy runtime needs.
fn stack(model: &Model, spec: &Path, out: &Path) -> Stack {
    let n = &model.service.names;
    let (cluster_name, cluster_location, created) = match &model.gcp.cluster {
        Cluster::Existing { name, location } => (name, location, false),
        Cluster::Create { name, location, .. } => (name, location, true),
    };
    let database = match &model.database {
        Database::ExistingSecret { secret, key } => shopgen_deploy::Database::ExistingSecret {
            secret: secret.clone(),
            key: key.clone(),
        },
        Database::CloudSql {
            instance,
            deletion_protection,
            ..
        } => shopgen_deploy::Database::CloudSql {
            instance: instance.clone(),
            deletion_protection: *deletion_protection,
            secret: model.database_secret().0,
        },
    };
    let smoke_path = if model.upstream.is_some() {
        // An existing service's routes are its operations.
        model
            .public_endpoints()
            .find(|e| e.method == HttpMethod::Get && !e.path.contains('{'))
            .or_else(|| model.public_endpoints().next())
            .map_or_else(|| "/".to_string(), |e| e.path.to_string())
    } else {
        model
            .public_routes()
            .map(|(_, r)| r)
            .find(|r| r.method == HttpMethod::Get && !r.path.contains('{'))
            .or_else(|| model.public_routes().map(|(_, r)| r).next())
            .map(|r| r.path.clone())
            .unwrap_or_else(|| "/".to_string())
    };
    let out = out.display().to_string();
    Stack {
        spec: spec.display().to_string(),
        stem: model.source.stem.clone(),
        out_dir: out.clone(),
        project: model.gcp.project.clone(),
        region: model.gcp.region.clone(),
        namespace: model.service.namespace.clone(),
        k8s_name: n.derived.k8s_name.clone(),
        cluster_name: cluster_name.clone(),
        cluster_location: cluster_location.clone(),
        cluster_created: created,
        database,
        artifact_repository: n.derived.artifact_repository.clone(),
        backend_image: n.backend_image.clone(),
        relay_image: n.relay_image.clone(),
        backend_image_in_manifests: shopgen::emit::k8s::backend_image_name(model),
        bootstrap_targets: terraform::BOOTSTRAP_TARGETS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        smoke_path,
        api_key_header: model.gateway.api_key_header.clone(),
        cloudbuild_config: format!("{out}/{}", docker::CLOUDBUILD_CONFIG),
        gcloudignore: format!("{out}/{}", docker::GCLOUDIGNORE),
        backend_dockerfile: format!("{out}/backend/Dockerfile"),
        relay_dockerfile: format!("{out}/relay/Dockerfile"),
        preflight_apis: terraform::services::PREFLIGHT_APIS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        apis: terraform::project_services(model)
            .iter()
            .map(|s| s.to_string())
            .collect(),
        state: match &model.gcp.state {
            TerraformState::Local => shopgen_deploy::StateBackend::Local,
            TerraformState::Gcs { bucket, prefix } => shopgen_deploy::StateBackend::Gcs {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
            },
        },
        gateway_region: model.gcp.gateway_region.clone(),
        network: model.gcp.network.clone(),
        subnetwork: model.gcp.subnetwork.clone(),
        connector_cidr: match &model.gcp.egress {
            shopgen::model::Egress::Connector { cidr, .. } => Some(cidr.clone()),
            shopgen::model::Egress::DirectVpc => None,
        },
        planned_ranges: planned_ranges(model),
        cluster_dns_endpoint: created,
        sql_range_name: matches!(model.database, Database::CloudSql { .. })
            .then(|| n.derived.sql_private_range.clone()),
        build_service_account_id: n.derived.build_service_account.clone(),
        k8s_selector: model.k8s_stack_selector(),
        existing_service: model.upstream.is_some(),
    }
}

/// The address ranges the stack creates in the network.
fn planned_ranges(model: &Model) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let shopgen::model::Egress::Connector { cidr, .. } = &model.gcp.egress {
        out.push(("the relay's VPC connector".to_string(), cidr.clone()));
    }
    if let Cluster::Create {
        master_cidr,
        pods_cidr,
        services_cidr,
        nodes_cidr,
        ..
    } = &model.gcp.cluster
    {
        out.push(("the cluster's nodes".to_string(), nodes_cidr.clone()));
        out.push(("the cluster's pods".to_string(), pods_cidr.clone()));
        out.push(("the cluster's services".to_string(), services_cidr.clone()));
        out.push((
            "the cluster's control plane".to_string(),
            master_cidr.clone(),
        ));
    }
    if let Database::CloudSql {
        allocated_range, ..
    } = &model.database
    {
        out.push((
            "Cloud SQL's private services access".to_string(),
            allocated_range.clone(),
        ));
    }
    out
}

/// Which of the three commands.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    Deploy,
    Destroy,
    Status,
}

/// Runs `deploy`, `destroy` or `status` from the current folder (the repository root).
pub fn run(which: Which, args: DeployArgs) -> anyhow::Result<ExitCode> {
    let out = crate::default_out(&args.spec);
    let Some(compiled) = crate::compile(&args.spec)? else {
        return Ok(ExitCode::from(1));
    };
    let generated_current = match crate::expected(&args.spec, &compiled, &out)? {
        None => return Ok(ExitCode::from(1)),
        Some(files) => {
            let drift = shopgen::output::drift(&out, &files)?;
            if drift.is_empty() {
                Ok(())
            } else {
                Err(NotCurrent {
                    differing: drift.len(),
                    fix: format!("shopgen build {}", args.spec.display()),
                })
            }
        }
    };
    let model = compiled.model;
    let stack = stack(&model, &args.spec, &out);
    let opts = Options {
        project: args.project,
        region: args.region,
        gateway_region: args.gateway_region,
        endpoint: args.endpoint.map(|e| match e {
            EndpointArg::Dns => Endpoint::Dns,
            EndpointArg::InternalIp => Endpoint::InternalIp,
            EndpointArg::Public => Endpoint::Public,
        }),
        image_tag: args.image_tag,
        builder: match args.builder {
            BuilderArg::Docker => Builder::Docker,
            BuilderArg::CloudBuild => Builder::CloudBuild,
        },
        dry_run: args.dry_run,
        yes: args.yes,
        root: std::env::current_dir()?,
        generated_current,
    };
    let mut stdout = std::io::stdout();
    let result = match which {
        Which::Deploy => shopgen_deploy::deploy(&stack, &opts, &mut stdout),
        Which::Destroy => shopgen_deploy::destroy(&stack, &opts, &mut stdout),
        Which::Status => shopgen_deploy::status(&stack, &opts, &mut stdout),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(f) => {
            eprintln!("error: {f}");
            Ok(ExitCode::from(f.exit_code()))
        }
    }
}
