//! What every run of `deploy`, `destroy` and `status` shares: its values ([`Ctx`]:
//! the effective project, regions, tag, state plan, endpoint), running a command that
//! must succeed, the applies that wait out transient errors, the one `terraform
//! init`, Terraform's outputs, the cluster's credentials in a kubeconfig of deploy's
//! own, and the resume record.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::retry::{TRANSIENT, classify};
use crate::runner::{Cmd, Output, Runner, Show};
use crate::state::{self, Backend};
use crate::{Builder, Endpoint, Failure, Options, Stack, tag};

/// The kinds of the Kubernetes objects shopgen generates for the backend (the
/// namespace aside); `destroy` deletes them by label.
pub(crate) const K8S_KINDS: &str =
    "deployment,service,serviceaccount,poddisruptionbudget,horizontalpodautoscaler";

/// Where the local state is copied before `terraform init -migrate-state` moves it
/// (in the terraform folder, matched by the usual `*.tfstate.*` ignore pattern).
const MIGRATED_BACKUP: &str = "terraform.tfstate.before-migration";

/// Seconds between retries (`SHOPGEN_DEPLOY_RETRY_SECONDS` overrides, for tests).
pub(crate) fn retry_delay(default: u64) -> Duration {
    let s = std::env::var("SHOPGEN_DEPLOY_RETRY_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(s)
}

/// The values one run works with.
pub(crate) struct Ctx<'a> {
    pub stack: &'a Stack,
    pub project: String,
    pub region: String,
    /// Where the API Gateway gateway goes (`-var gateway_region`).
    pub gateway_region: String,
    pub tag: String,
    pub builder: Builder,
    /// The existing cluster's node service accounts as a Terraform list (`["a", "b"]`),
    /// granted read access to the image repository (`-var
    /// gke_node_service_accounts`); learnt in the preflight.
    pub node_accounts: Option<String>,
    /// How `kubectl` reaches the control plane; `None` until known (a dry run of an
    /// existing cluster, without `--endpoint`).
    pub endpoint: Option<Endpoint>,
    /// Where the state is and how `terraform init` reaches it.
    pub state: state::Plan,
    /// Whether `terraform init` ran in this process already.
    initialised: Cell<bool>,
}

impl Ctx<'_> {
    pub fn tf_dir(&self) -> String {
        format!("{}/terraform", self.stack.out_dir)
    }
    pub fn terraform(&self, sub: &str) -> Cmd {
        Cmd::new("terraform")
            .arg(format!("-chdir={}", self.tf_dir()))
            .arg(sub)
    }
    pub fn tf_vars(&self, cmd: Cmd) -> Cmd {
        cmd.args([
            "-var".to_string(),
            format!("project={}", self.project),
            "-var".to_string(),
            format!("region={}", self.region),
            "-var".to_string(),
            format!("gateway_region={}", self.gateway_region),
            "-var".to_string(),
            format!("image_tag={}", self.tag),
        ])
        .args(
            self.node_accounts
                .iter()
                .flat_map(|a| ["-var".to_string(), format!("gke_node_service_accounts={a}")]),
        )
    }
    pub fn repository(&self) -> String {
        format!(
            "{}-docker.pkg.dev/{}/{}",
            self.region, self.project, self.stack.artifact_repository
        )
    }
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}:{}", self.repository(), self.tag)
    }
    /// Deploy's own folder for the stack: the overlay and the kubeconfig.
    pub fn overlay_dir(&self) -> String {
        format!(".shopgen/deploy/{}", self.stack.stem)
    }
    /// The kubeconfig every `kubectl` and `get-credentials` uses, relative to the
    /// repository root (where commands run).
    pub fn kubeconfig(&self) -> String {
        format!("{}/kubeconfig", self.overlay_dir())
    }
    pub fn kubectl(&self) -> Cmd {
        Cmd::new("kubectl").env("KUBECONFIG", &self.kubeconfig())
    }
    pub fn state_file(&self, root: &Path) -> PathBuf {
        root.join(format!(".shopgen/deploy/{}.json", self.stack.stem))
    }
    pub fn gcloud(&self) -> Cmd {
        Cmd::new("gcloud")
    }
    /// The namespace as the resume record names it: one per cluster.
    pub fn namespace_id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.project,
            self.stack.cluster_location,
            self.stack.cluster_name,
            self.stack.namespace
        )
    }
}

pub(crate) fn fail(phase: &'static str, message: impl Into<String>) -> Failure {
    Failure::Phase {
        phase,
        message: message.into(),
    }
}

/// Runs a command that must succeed; a failure names the command and adds a hint.
pub(crate) fn must(
    r: &mut Runner,
    phase: &'static str,
    cmd: &Cmd,
    show: Show,
    hint: &str,
) -> Result<Option<Output>, Failure> {
    let out = r.run(cmd, show).map_err(|e| fail(phase, format!("{e}")))?;
    if let Some(o) = &out
        && !o.ok()
    {
        return Err(failed(phase, cmd, o, show, hint));
    }
    Ok(out)
}

/// The failure of a finished command: which command, its exit code, the end of its
/// error output (unless it handles a secret) and what to do.
pub(crate) fn failed(
    phase: &'static str,
    cmd: &Cmd,
    o: &Output,
    show: Show,
    hint: &str,
) -> Failure {
    let detail = if show == Show::Secret {
        String::new()
    } else {
        let tail: Vec<&str> = o.stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n  {}", tail.join("\n  "))
        }
    };
    fail(
        phase,
        format!(
            "`{}` exited with {}{detail}\n  hint: {hint}",
            cmd.display(),
            o.code.map_or("a signal".to_string(), |c| c.to_string())
        ),
    )
}

/// Runs a `terraform apply` (or destroy) that must succeed, again while it fails with
/// errors of the [`TRANSIENT`] table only, each kind up to its own number of attempts.
pub(crate) fn apply_waiting(
    r: &mut Runner,
    phase: &'static str,
    cmd: &Cmd,
    hint: &str,
) -> Result<(), Failure> {
    let mut failures = vec![0u32; TRANSIENT.len()];
    loop {
        let Some(o) = r
            .run(cmd, Show::Stream)
            .map_err(|e| fail(phase, e.to_string()))?
        else {
            return Ok(());
        };
        if o.ok() {
            return Ok(());
        }
        let Some(i) = classify(&o.stderr) else {
            return Err(failed(phase, cmd, &o, Show::Stream, hint));
        };
        let t = &TRANSIENT[i];
        failures[i] += 1;
        if failures[i] >= t.attempts {
            return Err(failed(
                phase,
                cmd,
                &o,
                Show::Stream,
                &format!(
                    "still failing after {} attempts while waiting: {}. Run shopgen deploy again later; finished resources are kept",
                    t.attempts, t.waiting_for
                ),
            ));
        }
        let delay = retry_delay(t.delay_secs);
        r.say(format!(
            "    {}; retrying in {}s ({}/{})",
            t.waiting_for,
            delay.as_secs(),
            failures[i],
            t.attempts
        ));
        std::thread::sleep(delay);
    }
}

/// `terraform init`, once per run, with the state's backend configuration: every
/// phase and command that runs Terraform calls it first, so all read the same state.
pub(crate) fn init(r: &mut Runner, cx: &Ctx, phase: &'static str) -> Result<(), Failure> {
    if cx.initialised.get() {
        return Ok(());
    }
    let hint = match &cx.state.backend {
        Backend::Bucket { bucket, .. } => format!(
            "terraform init downloads the providers and opens the state in gs://{bucket}: check the network, that the bucket exists (shopgen deploy creates it) and that you may read and write it (roles/storage.objectAdmin)"
        ),
        Backend::User { file, .. } => format!(
            "terraform init downloads the providers and opens the state of the backend in {}/{file}: check the network and the backend's settings",
            cx.tf_dir()
        ),
        Backend::Local => "terraform init downloads the providers: check the network".to_string(),
    };
    if cx.state.migrate && !r.dry_run {
        // Terraform's own backup of the migrated file may overwrite an older one:
        // keep a copy of the local state until the bucket is known to hold it.
        let dir = r.dir.join(cx.tf_dir());
        std::fs::copy(dir.join("terraform.tfstate"), dir.join(MIGRATED_BACKUP))
            .map_err(|e| fail(phase, format!("cannot copy the local state aside: {e}")))?;
        private_file(&dir.join(MIGRATED_BACKUP));
        r.say(format!(
            "    local state copied to {}/{MIGRATED_BACKUP} before it moves (delete it once the bucket holds the state)",
            cx.tf_dir()
        ));
    }
    must(
        r,
        phase,
        &cx.terraform("init").args(cx.state.init_args()),
        Show::Stream,
        &hint,
    )?;
    cx.initialised.set(true);
    Ok(())
}

/// The resume record (`.shopgen/deploy/<spec>.json`): the phases done for one
/// project, region and tag, and the namespaces deploy created (whatever the tag:
/// destroy deletes only those).
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub key: String,
    pub done: BTreeSet<String>,
    /// `project/location/cluster/namespace` of each namespace deploy created.
    pub created_namespaces: BTreeSet<String>,
}

impl Progress {
    pub fn load(path: &Path, key: &str) -> Self {
        let v = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .unwrap_or_default();
        let strings = |field: &str| -> BTreeSet<String> {
            v[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Progress {
            key: key.to_string(),
            done: if v["key"] == key {
                strings("done")
            } else {
                BTreeSet::new()
            },
            created_namespaces: strings("created_namespaces"),
        }
    }
    pub fn save(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let v = serde_json::json!({
            "key": self.key,
            "done": self.done,
            "created_namespaces": self.created_namespaces,
        });
        let _ = std::fs::write(path, format!("{v:#}\n"));
    }
}

/// The tag a run works with: `--image-tag`, else derived from the sources (destroy and
/// status, which build nothing, fall back to a placeholder outside git).
pub(crate) fn image_tag(
    stack: &Stack,
    opts: &Options,
    fallback: Option<&str>,
) -> Result<String, Failure> {
    let derive = || {
        tag::derive(
            &opts.root,
            &[&stack.backend_dockerfile, &stack.relay_dockerfile],
        )
    };
    match (&opts.image_tag, fallback) {
        (Some(t), _) => Ok(t.clone()),
        (None, None) => derive().map_err(|e| fail("image tag", e.to_string())),
        (None, Some(f)) => Ok(derive().unwrap_or_else(|_| f.to_string())),
    }
}

/// The run's values from the stack and the command line; refuses a gateway region
/// API Gateway does not serve and a mutable tag, before anything runs.
pub(crate) fn context<'a>(
    stack: &'a Stack,
    opts: &Options,
    tag: String,
) -> Result<Ctx<'a>, Failure> {
    if let Some(g) = &opts.gateway_region
        && !shopgen_facts::gcp::API_GATEWAY_REGIONS.contains(&g.as_str())
    {
        return Err(Failure::Invalid(format!(
            "--gateway-region {g}: API Gateway does not run in that region; use one of {}",
            shopgen_facts::gcp::API_GATEWAY_REGIONS.join(", ")
        )));
    }
    if !tag::valid(&tag) || tag == "latest" {
        return Err(fail(
            "image tag",
            format!(
                "`{tag}` is not an immutable image tag; use the commit (the default) or a version"
            ),
        ));
    }
    Ok(Ctx {
        stack,
        project: opts
            .project
            .clone()
            .unwrap_or_else(|| stack.project.clone()),
        region: opts.region.clone().unwrap_or_else(|| stack.region.clone()),
        gateway_region: opts
            .gateway_region
            .clone()
            .unwrap_or_else(|| stack.gateway_region.clone()),
        tag,
        builder: opts.builder,
        node_accounts: None,
        endpoint: opts.endpoint,
        state: state::Plan {
            backend: Backend::Local,
            migrate: false,
        },
        initialised: Cell::new(false),
    })
}

/// Reads the terraform folder and decides where the state is (a backend block of the
/// user's that would clash with the generated one fails `phase`).
pub(crate) fn plan_state(r: &mut Runner, cx: &mut Ctx, phase: &'static str) -> Result<(), Failure> {
    let tf_dir = cx.tf_dir();
    cx.state = state::plan(
        &cx.stack.state,
        &cx.project,
        &cx.stack.k8s_name,
        &r.dir.join(&tf_dir),
        &tf_dir,
    )
    .map_err(|e| fail(phase, e.to_string()))?;
    Ok(())
}

/// What later phases learn from earlier ones (Terraform's outputs).
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub outputs: Option<serde_json::Value>,
}

impl Facts {
    pub fn output(&self, name: &str) -> Option<&serde_json::Value> {
        self.outputs.as_ref()?.get(name)?.get("value")
    }
    pub fn output_str(&self, name: &str) -> String {
        self.output(name)
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("<{name} from terraform output>"), str::to_owned)
    }
}

pub(crate) fn read_outputs(
    r: &mut Runner,
    cx: &Ctx,
    facts: &mut Facts,
    phase: &'static str,
) -> Result<(), Failure> {
    init(r, cx, phase)?;
    let out = must(
        r,
        phase,
        &cx.terraform("output").arg("-json"),
        Show::Quiet,
        &format!(
            "terraform reads the outputs from the stack's state ({}); run from the repository root",
            cx.state.location(&cx.tf_dir())
        ),
    )?;
    if let Some(o) = out {
        facts.outputs = Some(
            serde_json::from_str(&o.stdout)
                .map_err(|e| fail(phase, format!("terraform output -json: {e}")))?,
        );
    }
    Ok(())
}

/// `get-credentials` into deploy's own kubeconfig, with the endpoint flag.
pub(crate) fn credentials(r: &mut Runner, cx: &Ctx, phase: &'static str) -> Result<(), Failure> {
    if !r.dry_run {
        private_dir(&r.dir.join(cx.overlay_dir()))
            .map_err(|e| fail(phase, format!("cannot create {}: {e}", cx.overlay_dir())))?;
    }
    let mut cmd = cx.gcloud().env("KUBECONFIG", &cx.kubeconfig()).args([
        "container",
        "clusters",
        "get-credentials",
        &cx.stack.cluster_name,
        "--location",
        &cx.stack.cluster_location,
        "--project",
        &cx.project,
    ]);
    match cx.endpoint {
        Some(e) => cmd = cmd.args(e.flag()),
        None => cmd = cmd.arg("<endpoint flag detected from the cluster>"),
    }
    must(
        r,
        phase,
        &cmd,
        Show::Stream,
        "install gke-gcloud-auth-plugin (`gcloud components install gke-gcloud-auth-plugin`); to reach the control plane another way, pass --endpoint dns, internal-ip or public",
    )?;
    if !r.dry_run {
        private_file(&r.dir.join(cx.kubeconfig()));
    }
    Ok(())
}

/// Creates `dir` readable by its owner only (it will hold credentials).
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn private_file(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// The labels of the objects shopgen generates, from the selector (`k=v,k=v`).
pub(crate) fn selector_labels(selector: &str) -> Vec<String> {
    selector
        .split(',')
        .map(str::trim)
        .filter(|l| l.contains('='))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_the_selector() {
        assert_eq!(
            selector_labels(
                "app.kubernetes.io/managed-by=shopgen, app.kubernetes.io/part-of=shop-api"
            ),
            [
                "app.kubernetes.io/managed-by=shopgen",
                "app.kubernetes.io/part-of=shop-api"
            ]
        );
        assert!(selector_labels("").is_empty());
    }

    #[test]
    fn the_record_keeps_created_namespaces_across_tags() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("shop.json");
        let mut p = Progress::load(&f, "p/r/v1");
        p.done.insert("bootstrap".into());
        p.created_namespaces.insert("p/l/c/shop".into());
        p.save(&f);
        let same = Progress::load(&f, "p/r/v1");
        assert!(same.done.contains("bootstrap"));
        let other = Progress::load(&f, "p/r/v2");
        assert!(other.done.is_empty(), "another tag starts from the top");
        assert!(other.created_namespaces.contains("p/l/c/shop"));
    }
}
