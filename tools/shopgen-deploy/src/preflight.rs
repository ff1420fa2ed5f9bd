//! Deploy's first phase: every check that can fail before anything changes, then the
//! two changes Terraform needs before it can run at all.
//!
//! Checks, in order: the generated folder is current; no backend of the user's clashes
//! with the generated one; the tools and their minimum versions; gcloud's login and
//! the application default credentials; the project and its billing; an existing
//! cluster (it exists, GKE subsetting, its node subnetwork is the spec's, how its
//! control plane is reached, its nodes' service accounts); no address range the stack
//! creates overlaps one the network or the cluster uses. Changes: `gcloud services
//! enable` of the APIs every Terraform request needs (with `user_project_override`
//! each names the project as its quota project, so Service Usage and Cloud Resource
//! Manager must be on before Terraform can enable anything), and the state bucket.
//!
//! A dry run lists what it would check as skipped and prints the changes' commands.

use crate::context::{Ctx, fail, must, plan_state};
use crate::ranges::{InUse, collisions, peering_ranges, region_of, subnet_ranges};
use crate::retry::{API_DISABLED, matches};
use crate::runner::{Cmd, Output, Runner, Show, on_path};
use crate::state::Backend;
use crate::{Builder, Database, Endpoint, Failure, Options};

/// Minimum tool versions.
const MIN_TERRAFORM: (u32, u32) = (1, 5);
const MIN_KUBECTL: (u32, u32) = (1, 27);
const MIN_DOCKER: (u32, u32) = (23, 0);
const MIN_GCLOUD: (u32, u32) = (400, 0);
/// `curl -H @-` (headers from stdin, so the API key stays out of argv) came in 7.55.0.
const MIN_CURL: (u32, u32) = (7, 55);

const P: &str = "preflight";

/// The roles the operator needs, for the hint of a failed `gcloud services enable`.
const OPERATOR_ROLES: &str = "you need Owner on the project, or roles/serviceusage.serviceUsageAdmin to enable services and roles/serviceusage.serviceUsageConsumer to use the project as quota project (Terraform names it on every request), plus roles/iam.serviceAccountAdmin and roles/resourcemanager.projectIamAdmin to create the stack's service accounts and grant their roles";

/// Runs the preflight; learns the state plan, the control-plane endpoint and the
/// existing cluster's node accounts into `cx`.
pub(crate) fn run(r: &mut Runner, cx: &mut Ctx, opts: &Options) -> Result<(), Failure> {
    r.say("==> [1/7] preflight: generated files, tools, credentials, project, cluster, address ranges, APIs, Terraform state");
    match &opts.generated_current {
        Ok(()) => r.say(format!("    ok: {} is current", cx.stack.out_dir)),
        Err(fix) => {
            return Err(fail(
                P,
                format!("{} is not current: {fix}", cx.stack.out_dir),
            ));
        }
    }
    plan_state(r, cx, P)?;
    let tools = tools(cx);
    if r.dry_run {
        let names: Vec<String> = tools
            .iter()
            .map(|(name, _, (major, minor))| format!("{name} {major}.{minor}+"))
            .collect();
        r.say(format!(
            "    skipped (dry run): tools present ({}), gcloud login and application default credentials, project {} exists with billing",
            names.join(", "),
            cx.project,
        ));
        if cx.stack.cluster_created {
            r.say(format!(
                "    ok: cluster {} is created by Terraform with GKE subsetting",
                cx.stack.cluster_name
            ));
        } else {
            r.say(format!(
                "    skipped (dry run): cluster {} must exist; checked: GKE subsetting, its node subnetwork is {}, how its control plane is reached, its node service accounts",
                cx.stack.cluster_name, cx.stack.subnetwork
            ));
        }
        endpoint(r, cx)?;
        if !cx.stack.planned_ranges.is_empty() {
            let planned: Vec<String> = cx
                .stack
                .planned_ranges
                .iter()
                .map(|(what, range)| format!("{what} {range}"))
                .collect();
            r.say(format!(
                "    skipped (dry run): address ranges: {} must not overlap a range of network {}{}",
                planned.join(", "),
                cx.stack.network,
                if cx.stack.cluster_created {
                    ""
                } else {
                    " or the cluster's pods and services"
                }
            ));
        }
        if !cx.stack.cluster_created && !node_accounts_from_env() && !cx.stack.existing_service {
            cx.node_accounts = Some("<node service accounts from gcloud>".to_string());
        }
    } else {
        check_tools(r, &tools)?;
        let number = credentials_and_project(r, cx)?;
        cluster(r, cx, &number)?;
        address_ranges(r, cx)?;
        if let Database::ExistingSecret { secret, .. } = &cx.stack.database
            && !cx.stack.existing_service
        {
            r.say(format!(
                "    note: the database must exist and be reachable from the cluster; the backend reads its URL from the Secret {}/{secret}",
                cx.stack.namespace
            ));
        }
    }
    enable_apis(r, cx)?;
    state_bucket(r, cx)
}

type Tool = (&'static str, Cmd, (u32, u32));

fn tools(cx: &Ctx) -> Vec<Tool> {
    let mut tools = vec![
        (
            "terraform",
            Cmd::new("terraform").arg("version"),
            MIN_TERRAFORM,
        ),
        (
            "gcloud",
            Cmd::new("gcloud").args(["version", "--format=value(\"Google Cloud SDK\")"]),
            MIN_GCLOUD,
        ),
        (
            "kubectl",
            cx.kubectl().args(["version", "--client"]),
            MIN_KUBECTL,
        ),
        ("curl", Cmd::new("curl").arg("--version"), MIN_CURL),
    ];
    if cx.builder == Builder::Docker {
        tools.push((
            "docker",
            Cmd::new("docker").args(["version", "--format", "{{.Client.Version}}"]),
            MIN_DOCKER,
        ));
    }
    tools
}

fn check_tools(r: &mut Runner, tools: &[Tool]) -> Result<(), Failure> {
    for (name, cmd, (major, minor)) in tools {
        if !on_path(name) {
            return Err(fail(
                P,
                format!("`{name}` is not installed (or not on PATH)"),
            ));
        }
        let o = r.probe(cmd).map_err(|e| fail(P, e.to_string()))?;
        let v = parse_version(&format!("{}{}", o.stdout, o.stderr));
        match v {
            Some(v) if o.ok() && v >= (*major, *minor) => {
                r.say(format!("    ok: {name} {}.{}", v.0, v.1));
            }
            _ => {
                return Err(fail(
                    P,
                    format!(
                        "{name} {major}.{minor} or newer is needed (found: {})",
                        o.stdout.lines().next().unwrap_or("no version").trim()
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn parse_version(text: &str) -> Option<(u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut nums = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().ok());
    Some((nums.next()??, nums.next().flatten().unwrap_or(0)))
}

fn probe(r: &mut Runner, cmd: &Cmd) -> Result<Output, Failure> {
    r.probe(cmd).map_err(|e| fail(P, e.to_string()))
}

/// gcloud's login, the application default credentials, the project and its
/// billing; gives the project number.
fn credentials_and_project(r: &mut Runner, cx: &Ctx) -> Result<String, Failure> {
    let account = probe(
        r,
        &cx.gcloud().args([
            "auth",
            "list",
            "--filter=status:ACTIVE",
            "--format=value(account)",
        ]),
    )?;
    if !account.ok() || account.stdout.trim().is_empty() {
        return Err(fail(P, "gcloud is not logged in; run `gcloud auth login`"));
    }
    r.say(format!(
        "    ok: gcloud logged in as {}",
        account.stdout.trim()
    ));
    let adc = probe(
        r,
        &cx.gcloud()
            .args(["auth", "application-default", "print-access-token"]),
    )?;
    if !adc.ok() {
        return Err(fail(
            P,
            "no application default credentials (Terraform needs them); run `gcloud auth application-default login`",
        ));
    }
    r.say("    ok: application default credentials");
    let project = probe(
        r,
        &cx.gcloud().args([
            "projects",
            "describe",
            &cx.project,
            "--format=value(projectNumber)",
        ]),
    )?;
    if !project.ok() {
        return Err(fail(
            P,
            format!(
                "project {} does not exist or you cannot see it; create it (`gcloud projects create {}`) or pass --project",
                cx.project, cx.project
            ),
        ));
    }
    let billing = probe(
        r,
        &cx.gcloud().args([
            "billing",
            "projects",
            "describe",
            &cx.project,
            "--format=value(billingEnabled)",
        ]),
    )?;
    if !billing.ok() || !billing.stdout.trim().eq_ignore_ascii_case("true") {
        return Err(fail(
            P,
            format!(
                "billing is not enabled on project {}; link an account: `gcloud billing projects link {} --billing-account=ACCOUNT_ID`",
                cx.project, cx.project
            ),
        ));
    }
    r.say(format!(
        "    ok: project {} exists, billing enabled",
        cx.project
    ));
    Ok(project.stdout.trim().to_string())
}

/// `gcloud container clusters describe` of the spec's cluster with one format.
fn describe(r: &mut Runner, cx: &Ctx, format: &str) -> Result<Output, Failure> {
    probe(
        r,
        &cx.gcloud().args([
            "container",
            "clusters",
            "describe",
            &cx.stack.cluster_name,
            "--location",
            &cx.stack.cluster_location,
            "--project",
            &cx.project,
            &format!("--format={format}"),
        ]),
    )
}

/// The cluster: a created one is Terraform's; an existing one must exist, and its
/// node subnetwork, endpoint and node accounts are read.
fn cluster(r: &mut Runner, cx: &mut Ctx, number: &str) -> Result<(), Failure> {
    let name = cx.stack.cluster_name.clone();
    if cx.stack.cluster_created {
        r.say(format!(
            "    ok: cluster {name} is created by Terraform with GKE subsetting"
        ));
        return endpoint(r, cx);
    }
    let c = describe(r, cx, "value(networkConfig.enableL4ilbSubsetting)")?;
    if !c.ok() {
        return Err(fail(
            P,
            format!(
                "the spec deploys to the existing cluster {name} in {}, which project {} does not have; create it, or set `cluster = {{ create = true, … }}` in the spec",
                cx.stack.cluster_location, cx.project
            ),
        ));
    }
    if c.stdout.trim().eq_ignore_ascii_case("true") {
        r.say(format!(
            "    ok: cluster {name}: GKE subsetting is on (the Service's address annotation applies)"
        ));
    } else {
        r.say(format!(
            "    ok: cluster {name}: GKE subsetting is off; the reserved IP is set as spec.loadBalancerIP (the annotation is ignored there)"
        ));
    }
    // The reserved internal address comes from gcp.subnetwork, and an internal load
    // balancer's address must be in the nodes' subnetwork unless the Service's
    // `networking.gke.io/internal-load-balancer-subnet` names another.
    let sub = describe(r, cx, "value(subnetwork)")?;
    let nodes = sub
        .stdout
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    if sub.ok() && !nodes.is_empty() {
        if nodes != cx.stack.subnetwork {
            return Err(fail(
                P,
                format!(
                    "the cluster {name}'s nodes are in subnetwork {nodes}, the spec's gcp.subnetwork is {}: the reserved internal address is taken from gcp.subnetwork and must be in the nodes' subnetwork (unless the Service's networking.gke.io/internal-load-balancer-subnet annotation names another)\n  hint: set gcp.subnetwork = \"{nodes}\" in the spec and run shopgen build",
                    cx.stack.subnetwork
                ),
            ));
        }
        r.say(format!(
            "    ok: cluster {name}: the nodes are in subnetwork {nodes}, the reserved address's"
        ));
    } else {
        r.say(format!(
            "    note: the cluster {name}'s node subnetwork could not be read; the reserved address is taken from {}",
            cx.stack.subnetwork
        ));
    }
    endpoint(r, cx)?;
    node_accounts_of_cluster(r, cx, number)
}

/// How the control plane is reached: `--endpoint`, else a created cluster's DNS
/// endpoint, else what the existing cluster allows (left unknown in a dry run).
pub(crate) fn endpoint(r: &mut Runner, cx: &mut Ctx) -> Result<(), Failure> {
    let how = |e: Endpoint| match e {
        Endpoint::Dns => "its DNS-based endpoint (get-credentials --dns-endpoint)",
        Endpoint::InternalIp => "its private IP endpoint (get-credentials --internal-ip)",
        Endpoint::Public => "its public endpoint",
    };
    let name = &cx.stack.cluster_name;
    if let Some(e) = cx.endpoint {
        r.say(format!(
            "    ok: cluster {name}: control plane reached through {} (--endpoint)",
            how(e)
        ));
        return Ok(());
    }
    if cx.stack.cluster_created {
        let e = if cx.stack.cluster_dns_endpoint {
            Endpoint::Dns
        } else {
            Endpoint::Public
        };
        cx.endpoint = Some(e);
        r.say(format!(
            "    ok: cluster {name}: control plane reached through {}",
            how(e)
        ));
        return Ok(());
    }
    if r.dry_run {
        return Ok(());
    }
    let d = describe(
        r,
        cx,
        "value(privateClusterConfig.enablePrivateEndpoint,controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic)",
    )?;
    let e = if d.ok() {
        endpoint_of(&d.stdout)
    } else {
        Endpoint::Public
    };
    cx.endpoint = Some(e);
    r.say(format!(
        "    ok: cluster {name}: control plane reached through {}",
        how(e)
    ));
    if e == Endpoint::InternalIp {
        r.say(format!(
            "    note: cluster {name} has a private endpoint only, without DNS access: run deploy from inside the VPC (or allow external traffic on the DNS endpoint and pass --endpoint dns)"
        ));
    }
    Ok(())
}

/// The endpoint `describe --format=value(privateClusterConfig.enablePrivateEndpoint,
/// controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic)` calls for.
pub(crate) fn endpoint_of(describe: &str) -> Endpoint {
    let line = describe.lines().next().unwrap_or("");
    let mut cols = line
        .split('\t')
        .map(|c| c.trim().eq_ignore_ascii_case("true"));
    let private = cols.next().unwrap_or(false);
    let dns_external = cols.next().unwrap_or(false);
    match (private, dns_external) {
        (true, true) => Endpoint::Dns,
        (true, false) => Endpoint::InternalIp,
        (false, _) => Endpoint::Public,
    }
}

fn node_accounts_of_cluster(r: &mut Runner, cx: &mut Ctx, number: &str) -> Result<(), Failure> {
    if cx.stack.existing_service {
        // No image of the stack runs on the nodes: the relay's runs on Cloud Run.
        return Ok(());
    }
    if node_accounts_from_env() {
        r.say("    ok: the nodes' service accounts are given in TF_VAR_gke_node_service_accounts");
        return Ok(());
    }
    // The existing cluster's nodes pull the backend image from the new repository:
    // their accounts get read access to it (new projects no longer give the Compute
    // Engine default account the Editor role that used to cover this). Every node pool
    // may run as an account of its own; the cluster's `nodeConfig` is the default
    // pool's.
    let nodes = describe(
        r,
        cx,
        "value(nodeConfig.serviceAccount,nodePools[].config.serviceAccount)",
    )?;
    let accounts = if nodes.ok() {
        node_accounts(&nodes.stdout, number)
    } else {
        Err(())
    };
    match accounts {
        Ok(accounts) => {
            r.say(format!(
                "    ok: the cluster's nodes run as {}; granted read access to the image repository",
                accounts.join(", ")
            ));
            let quoted: Vec<String> = accounts.iter().map(|a| format!("\"{a}\"")).collect();
            cx.node_accounts = Some(format!("[{}]", quoted.join(",")));
        }
        Err(()) => {
            r.say(
                "    note: the cluster's node service accounts are unknown; if the nodes cannot pull the backend image, set TF_VAR_gke_node_service_accounts (docs/deploy.md)",
            );
        }
    }
    Ok(())
}

/// The accounts in `gcloud container clusters describe --format=value(…)` output
/// (columns by tabs, list items by `;`), each once, in order; `default` is the Compute
/// Engine default account of the project numbered `number`. `Err` when an account is
/// `default` and the number is unknown, or when an item is not an email.
fn node_accounts(out: &str, number: &str) -> Result<Vec<String>, ()> {
    let mut accounts: Vec<String> = Vec::new();
    for item in out.split(['\t', ';', '\n']).map(str::trim) {
        let account = match item {
            "" => continue,
            "default" if number.is_empty() => return Err(()),
            "default" => format!("{number}-compute@developer.gserviceaccount.com"),
            email => {
                let plain = email
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_'));
                if !plain || !email.contains('@') {
                    return Err(());
                }
                email.to_string()
            }
        };
        if !accounts.contains(&account) {
            accounts.push(account);
        }
    }
    if accounts.is_empty() {
        return Err(());
    }
    Ok(accounts)
}

/// Whether the user names the nodes' accounts for Terraform already.
fn node_accounts_from_env() -> bool {
    std::env::var("TF_VAR_gke_node_service_accounts").is_ok_and(|v| !v.trim().is_empty())
}

/// No range the stack creates may overlap a subnetwork's range (primary or
/// secondary) or an existing cluster's pod and service ranges.
fn address_ranges(r: &mut Runner, cx: &Ctx) -> Result<(), Failure> {
    let planned = &cx.stack.planned_ranges;
    if planned.is_empty() {
        return Ok(());
    }
    let network = &cx.stack.network;
    let list = probe(
        r,
        &cx.gcloud().args([
            "compute",
            "networks",
            "subnets",
            "list",
            "--network",
            network,
            "--project",
            &cx.project,
            "--format=json(name,region,ipCidrRange,secondaryIpRanges)",
        ]),
    )?;
    let mut in_use = if list.ok() {
        // The subnetwork shopgen creates for a created cluster holds the planned
        // ranges themselves on a rerun.
        let skip = cx.stack.cluster_created.then(|| {
            (
                cx.stack.subnetwork.as_str(),
                region_of(&cx.stack.cluster_location),
            )
        });
        subnet_ranges(&list.stdout, skip).map_err(|e| fail(P, e.to_string()))?
    } else if matches(API_DISABLED, &list.stderr) {
        // A new project's Compute Engine API is off: there is no subnetwork yet.
        r.say("    ok: address ranges: the Compute Engine API is not enabled yet, so the network has no subnetworks to collide with");
        Vec::new()
    } else {
        return Err(fail(
            P,
            format!(
                "cannot list the subnetworks of network {network}: {}\n  hint: you need compute.subnetworks.list on project {} (roles/compute.networkViewer)",
                list.stderr.trim(),
                cx.project
            ),
        ));
    };
    // Ranges allocated to private services access (another Cloud SQL, Memorystore)
    // in the network; the stack's own Cloud SQL range holds its planned range on a
    // rerun.
    if list.ok() {
        let peered = probe(
            r,
            &cx.gcloud().args([
                "compute",
                "addresses",
                "list",
                "--global",
                "--filter=purpose=VPC_PEERING",
                "--project",
                &cx.project,
                "--format=json(name,address,prefixLength,network)",
            ]),
        )?;
        if peered.ok() {
            in_use.extend(
                peering_ranges(&peered.stdout, network, cx.stack.sql_range_name.as_deref())
                    .map_err(|e| fail(P, e.to_string()))?,
            );
        }
    }
    if !cx.stack.cluster_created {
        let c = describe(r, cx, "value(clusterIpv4Cidr,servicesIpv4Cidr)")?;
        if c.ok() {
            let line = c.stdout.lines().next().unwrap_or("");
            for (what, range) in ["pods", "services"].iter().zip(line.split('\t')) {
                let range = range.trim();
                // A VPC-native cluster's ranges are its subnetwork's secondary ones.
                if !range.is_empty() && !in_use.iter().any(|u| u.range == range) {
                    in_use.push(InUse {
                        owner: format!("the cluster {}'s {what}", cx.stack.cluster_name),
                        range: range.to_string(),
                    });
                }
            }
        }
    }
    let found = collisions(planned, &in_use);
    if !found.is_empty() {
        return Err(fail(
            P,
            format!(
                "address ranges the stack would create overlap ranges in use:\n  - {}\n  hint: choose another range in the spec (gcp.egress's connector range, the created cluster's ranges, database.cloud_sql.allocated_range) that nothing in network {network} uses",
                found.join("\n  - ")
            ),
        ));
    }
    let planned: Vec<&str> = planned.iter().map(|(_, range)| range.as_str()).collect();
    r.say(format!(
        "    ok: address ranges {} overlap nothing in network {network}",
        planned.join(", ")
    ));
    Ok(())
}

/// The APIs Terraform's own requests need, enabled before its first call.
fn enable_apis(r: &mut Runner, cx: &Ctx) -> Result<(), Failure> {
    let mut apis = cx.stack.preflight_apis.clone();
    // The state bucket is deploy's own need (new projects have it on, but not all).
    if matches!(cx.state.backend, Backend::Bucket { .. })
        && !apis.iter().any(|a| a == "storage.googleapis.com")
    {
        apis.push("storage.googleapis.com".to_string());
    }
    if apis.is_empty() {
        return Ok(());
    }
    must(
        r,
        P,
        &cx.gcloud()
            .args(["services", "enable"])
            .args(apis.iter().cloned())
            .args(["--project", &cx.project]),
        Show::Stream,
        OPERATOR_ROLES,
    )?;
    if !r.dry_run {
        r.say(format!("    ok: enabled {}", apis.join(", ")));
    }
    Ok(())
}

/// Says where the state is; a bucket deploy configures is created (versioned,
/// uniform access, public access prevented) when it is missing.
fn state_bucket(r: &mut Runner, cx: &Ctx) -> Result<(), Failure> {
    let tf_dir = cx.tf_dir();
    let location = cx.state.location(&tf_dir);
    let Backend::Bucket {
        bucket,
        named_by_deploy,
        ..
    } = &cx.state.backend
    else {
        match &cx.state.backend {
            Backend::User { .. } => r.say(format!(
                "    state: {location}: used as it is (deploy creates no bucket and passes no -backend-config)"
            )),
            _ => r.say(format!(
                "    state: {location} (local; it holds the API key: keep it out of git)"
            )),
        }
        return migrate_note(r, cx, &location);
    };
    r.say(format!("    state: {location}"));
    let url = format!("gs://{bucket}");
    let versioning = cx
        .gcloud()
        .args(["storage", "buckets", "update", &url, "--versioning"]);
    const HINT: &str =
        "creating the state bucket needs roles/storage.admin on the project (Owner has it)";
    let found = r
        .run(
            &cx.gcloud().args([
                "storage",
                "buckets",
                "describe",
                &url,
                "--project",
                &cx.project,
                "--format=value(name,versioning_enabled)",
            ]),
            Show::Quiet,
        )
        .map_err(|e| fail(P, e.to_string()))?;
    let create = cx.gcloud().args([
        "storage",
        "buckets",
        "create",
        &url,
        "--project",
        &cx.project,
        "--location",
        &cx.region,
        "--uniform-bucket-level-access",
        "--public-access-prevention",
    ]);
    match found {
        None => {
            r.say("    if the bucket does not exist:");
            r.run(&create, Show::Stream)
                .map_err(|e| fail(P, e.to_string()))?;
            r.run(&versioning, Show::Stream)
                .map_err(|e| fail(P, e.to_string()))?;
        }
        Some(o) if o.ok() => {
            let versioned = o
                .stdout
                .split('\t')
                .nth(1)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            if versioned {
                r.say(format!("    ok: {url} exists, versioned"));
            } else if *named_by_deploy {
                // Created by an earlier run that stopped before versioning it.
                must(r, P, &versioning, Show::Stream, HINT)?;
                r.say(format!("    ok: {url} exists, now versioned"));
            } else {
                r.say(format!(
                    "    note: {url} has no object versioning; Google recommends it for Terraform state: gcloud storage buckets update {url} --versioning"
                ));
            }
        }
        Some(o) if o.stderr.contains("404") || o.stderr.to_lowercase().contains("not found") => {
            must(r, P, &create, Show::Stream, HINT)?;
            must(r, P, &versioning, Show::Stream, HINT)?;
            r.say(format!("    ok: created {url} (versioned)"));
        }
        Some(o) => {
            return Err(fail(
                P,
                format!(
                    "cannot read the state bucket {url}: {}\n  hint: bucket names are global: if another project owns {bucket}, name a bucket of yours in the spec's state settings; else you need roles/storage.admin on project {}",
                    o.stderr.trim(),
                    cx.project
                ),
            ));
        }
    }
    migrate_note(r, cx, &location)
}

fn migrate_note(r: &mut Runner, cx: &Ctx, location: &str) -> Result<(), Failure> {
    if cx.state.migrate {
        r.say(format!(
            "    local state {}/terraform.tfstate is moved to {location} by terraform init (-migrate-state -force-copy); Terraform leaves the local file empty",
            cx.tf_dir()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_accounts_of_the_cluster_and_every_pool_once() {
        let dflt = "42-compute@developer.gserviceaccount.com";
        assert_eq!(
            node_accounts("default\tdefault\n", "42"),
            Ok(vec![dflt.into()])
        );
        assert_eq!(
            node_accounts(
                "default\ta@p.iam.gserviceaccount.com;default;b@p.iam.gserviceaccount.com",
                "42"
            ),
            Ok(vec![
                dflt.to_string(),
                "a@p.iam.gserviceaccount.com".into(),
                "b@p.iam.gserviceaccount.com".into()
            ])
        );
        // A cluster whose default pool was removed: only the pools' accounts.
        assert_eq!(
            node_accounts("\ta@p.iam.gserviceaccount.com\n", ""),
            Ok(vec!["a@p.iam.gserviceaccount.com".into()])
        );
        assert_eq!(node_accounts("", "42"), Err(()));
        assert_eq!(node_accounts("default", ""), Err(()));
        assert_eq!(node_accounts("a b@c", "42"), Err(()));
        assert_eq!(node_accounts("a\"]@c", "42"), Err(()));
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("Terraform v1.11.4\non linux_amd64"),
            Some((1, 11))
        );
        assert_eq!(parse_version("Client Version: v1.33.2"), Some((1, 33)));
        assert_eq!(parse_version("28.0.1"), Some((28, 0)));
        assert_eq!(
            parse_version("curl 7.54.1 (x86_64-pc-linux-gnu) libcurl/7.54.1"),
            Some((7, 54))
        );
        assert!(parse_version("curl 7.54.1").unwrap() < MIN_CURL);
        assert!(parse_version("curl 7.55.0").unwrap() >= MIN_CURL);
        assert_eq!(parse_version("none"), None);
    }

    #[test]
    fn endpoints_follow_the_clusters_configuration() {
        assert_eq!(endpoint_of("True\tTrue\n"), Endpoint::Dns);
        assert_eq!(endpoint_of("True\tFalse\n"), Endpoint::InternalIp);
        assert_eq!(endpoint_of("True\t\n"), Endpoint::InternalIp);
        assert_eq!(endpoint_of("True\n"), Endpoint::InternalIp);
        assert_eq!(endpoint_of("False\tTrue\n"), Endpoint::Public);
        assert_eq!(endpoint_of("\t\n"), Endpoint::Public);
        assert_eq!(endpoint_of(""), Endpoint::Public);
    }
}
