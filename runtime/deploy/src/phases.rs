//! The phases of `deploy` (see the crate docs) after the preflight, and what
//! `destroy` and `status` share with them: the run's values ([`Ctx`]), running a
//! command that must succeed, the applies that wait out transient errors, the one
//! `terraform init`, the cluster's credentials in a kubeconfig of deploy's own, and
//! the resume record.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::retry::{TRANSIENT, classify, matches};
use crate::runner::{Cmd, Output, Runner, Show};
use crate::state::{self, Backend};
use crate::{Builder, Database, Endpoint, Failure, Options, Stack, preflight, tag};

/// Attempts of the smoke test while a new API key propagates.
const SMOKE_ATTEMPTS: u32 = 10;

/// What `gcloud builds submit --region R` says when a project may not run builds in
/// that region (Cloud Build "Locations": some projects are restricted to a few
/// regions; google-github-actions/deploy-cloudrun#480: "FAILED_PRECONDITION: failed
/// precondition: due to quota restrictions, cannot run builds in this region"); the
/// build then runs once more as a global build. Fragments as in
/// [`crate::retry::Transient::any_of`].
const CLOUD_BUILD_REGION_REFUSED: &[&[&str]] = &[
    &["cannot run builds in this region"],
    &["region", "restricted"],
    &["region", "not available"],
];

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
    fn image(&self, name: &str) -> String {
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
pub(crate) fn image_tag(opts: &Options, fallback: Option<&str>) -> Result<String, Failure> {
    match (&opts.image_tag, fallback) {
        (Some(t), _) => Ok(t.clone()),
        (None, None) => tag::derive(&opts.root).map_err(|e| fail("image tag", e)),
        (None, Some(f)) => Ok(tag::derive(&opts.root).unwrap_or_else(|_| f.to_string())),
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
    .map_err(|e| fail(phase, e))?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// deploy
// ---------------------------------------------------------------------------------

/// `shopgen deploy`.
pub fn deploy(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let tag = image_tag(opts, None)?;
    let mut cx = context(stack, opts, tag)?;
    let mut r = Runner {
        dry_run: opts.dry_run,
        out,
        dir: opts.root.clone(),
    };
    let state_path = cx.state_file(&opts.root);
    let key = format!("{}/{}/{}", cx.project, cx.region, cx.tag);
    let mut progress = if opts.dry_run {
        Progress::default()
    } else {
        Progress::load(&state_path, &key)
    };
    progress.key = key;
    r.say(format!(
        "shopgen deploy {}: project {}, region {}, gateway region {}, image tag {}{}",
        stack.spec,
        cx.project,
        cx.region,
        cx.gateway_region,
        cx.tag,
        if opts.dry_run {
            " (dry run: nothing runs, nothing changes)"
        } else {
            ""
        }
    ));
    preflight::run(&mut r, &mut cx, opts)?;
    let phases: [(&'static str, &str, PhaseFn); 6] = [
        (
            "bootstrap",
            "APIs, image repository and builder account (targeted apply)",
            bootstrap,
        ),
        ("images", "images built and pushed", images),
        ("apply", "everything else (full apply)", apply),
        (
            "secret",
            "the namespace and the database URL Secret",
            secret,
        ),
        ("kubernetes", "the backend on the cluster", kubernetes),
        (
            "smoke",
            "a public route through the gateway with the API key",
            smoke,
        ),
    ];
    let mut run = Run {
        facts: Facts::default(),
        progress,
        state_path: (!opts.dry_run).then_some(state_path),
    };
    for (i, (name, title, phase)) in phases.iter().enumerate() {
        let n = i + 2;
        // Phases that only read (outputs, smoke) always run; the others are skipped
        // when a previous run finished them for this project, region and tag.
        if run.progress.done.contains(*name) && *name != "smoke" && *name != "kubernetes" {
            r.say(format!(
                "==> [{n}/7] {name}: {title} — done in an earlier run, skipped"
            ));
            continue;
        }
        r.say(format!("==> [{n}/7] {name}: {title}"));
        phase(&mut r, &cx, &mut run)?;
        run.progress.done.insert((*name).to_string());
        run.save();
    }
    summary(&mut r, &cx, &run.facts);
    Ok(())
}

type PhaseFn = fn(&mut Runner, &Ctx, &mut Run) -> Result<(), Failure>;

/// What the phases of one run share: what they learn, and the resume record.
struct Run {
    facts: Facts,
    progress: Progress,
    /// Where the record is kept (`None` in a dry run: nothing is written).
    state_path: Option<PathBuf>,
}

impl Run {
    fn save(&self) {
        if let Some(p) = &self.state_path {
            self.progress.save(p);
        }
    }
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

fn bootstrap(r: &mut Runner, cx: &Ctx, _: &mut Run) -> Result<(), Failure> {
    const P: &str = "bootstrap";
    init(r, cx, P)?;
    let mut apply = cx.tf_vars(
        cx.terraform("apply")
            .args(["-input=false", "-auto-approve"]),
    );
    for t in &cx.stack.bootstrap_targets {
        apply = apply.arg(format!("-target={t}"));
    }
    apply_waiting(
        r,
        P,
        &apply,
        "check that you may enable services and create service accounts in the project",
    )
}

fn images(r: &mut Runner, cx: &Ctx, _: &mut Run) -> Result<(), Failure> {
    const P: &str = "images";
    let backend = cx.image(&cx.stack.backend_image);
    let relay = cx.image(&cx.stack.relay_image);
    r.say(format!("    tag {} (immutable)", cx.tag));
    let exists = |r: &mut Runner, image: &str| -> Result<bool, Failure> {
        let cmd = cx.gcloud().args([
            "artifacts",
            "docker",
            "images",
            "describe",
            image,
            "--project",
            &cx.project,
            "--format=value(image_summary.digest)",
        ]);
        Ok(r.run(&cmd, Show::Quiet)
            .map_err(|e| fail(P, e.to_string()))?
            .is_some_and(|o| o.ok()))
    };
    let mut missing = Vec::new();
    for (image, dockerfile) in [
        (&backend, &cx.stack.backend_dockerfile),
        (&relay, &cx.stack.relay_dockerfile),
    ] {
        if exists(r, image)? {
            r.say(format!(
                "    {image} is already in the registry, not rebuilt"
            ));
        } else {
            missing.push((image.clone(), dockerfile.clone()));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    match cx.builder {
        Builder::Docker => {
            must(
                r,
                P,
                &cx.gcloud().args([
                    "auth",
                    "configure-docker",
                    &format!("{}-docker.pkg.dev", cx.region),
                    "--quiet",
                ]),
                Show::Stream,
                "gcloud must be able to write Docker's credential helper config",
            )?;
            for (image, dockerfile) in &missing {
                // Cloud Run and GKE's nodes run linux/amd64: an image built on an
                // arm64 workstation would fail there with "exec format error".
                must(
                    r,
                    P,
                    &Cmd::new("docker")
                        .args([
                            "build",
                            "--platform",
                            "linux/amd64",
                            "-f",
                            dockerfile,
                            "-t",
                            image,
                            ".",
                        ])
                        .env("DOCKER_BUILDKIT", "1"),
                    Show::Stream,
                    "the Dockerfile needs BuildKit (Docker 23+); building for linux/amd64 on another architecture needs QEMU emulation (Docker Desktop has it), or use --builder cloud-build",
                )?;
                must(
                    r,
                    P,
                    &Cmd::new("docker").args(["push", image]),
                    Show::Stream,
                    "you need roles/artifactregistry.writer on the repository",
                )?;
            }
        }
        Builder::CloudBuild => {
            let sa = format!(
                "{}@{}.iam.gserviceaccount.com",
                cx.stack.build_service_account_id, cx.project
            );
            let build = |region: Option<&str>| {
                let mut c = cx
                    .gcloud()
                    .args(["builds", "submit", "--project", &cx.project]);
                if let Some(region) = region {
                    c = c.args(["--region", region]);
                }
                c.args([
                    "--config".to_string(),
                    cx.stack.cloudbuild_config.clone(),
                    "--ignore-file".to_string(),
                    cx.stack.gcloudignore.clone(),
                    "--service-account".to_string(),
                    format!("projects/{}/serviceAccounts/{sa}", cx.project),
                    "--substitutions".to_string(),
                    format!("_IMAGE_REPOSITORY={},_TAG={}", cx.repository(), cx.tag),
                    ".".to_string(),
                ])
            };
            const HINT: &str = "the build runs as the Terraform-created builder account; you need roles/iam.serviceAccountUser on it";
            let regional = build(Some(&cx.region));
            let out = r
                .run(&regional, Show::Stream)
                .map_err(|e| fail(P, e.to_string()))?;
            if let Some(o) = out
                && !o.ok()
            {
                if !matches(CLOUD_BUILD_REGION_REFUSED, &o.stderr) {
                    return Err(failed(P, &regional, &o, Show::Stream, HINT));
                }
                r.say(format!(
                    "    Cloud Build does not run this project's builds in {}; building once more as a global build (without --region)",
                    cx.region
                ));
                must(r, P, &build(None), Show::Stream, HINT)?;
            }
        }
    }
    Ok(())
}

fn apply(r: &mut Runner, cx: &Ctx, run: &mut Run) -> Result<(), Failure> {
    const P: &str = "apply";
    init(r, cx, P)?;
    let cmd = cx.tf_vars(
        cx.terraform("apply")
            .args(["-input=false", "-auto-approve"]),
    );
    apply_waiting(
        r,
        P,
        &cmd,
        "fix the error above and run shopgen deploy again; finished resources are kept",
    )?;
    read_outputs(r, cx, &mut run.facts, P)
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
fn private_dir(dir: &Path) -> std::io::Result<()> {
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

fn secret(r: &mut Runner, cx: &Ctx, run: &mut Run) -> Result<(), Failure> {
    const P: &str = "secret";
    if run.facts.outputs.is_none() && !r.dry_run {
        read_outputs(r, cx, &mut run.facts, P)?;
    }
    credentials(r, cx, P)?;
    let ns = &cx.stack.namespace;
    // Whether the namespace is deploy's: destroy deletes it only then (and only when
    // nothing else is left in it). Recorded before the apply creates it.
    let found = r
        .run(
            &cx.kubectl().args(["get", "namespace", ns, "-o", "name"]),
            Show::Quiet,
        )
        .map_err(|e| fail(P, e.to_string()))?;
    if let Some(o) = found
        && !o.ok()
    {
        if !o.stderr.contains("NotFound") && !o.stderr.contains("not found") {
            return Err(failed(
                P,
                &cx.kubectl().args(["get", "namespace", ns, "-o", "name"]),
                &o,
                Show::Quiet,
                "kubectl cannot reach the cluster with the credentials above",
            ));
        }
        run.progress.created_namespaces.insert(cx.namespace_id());
        run.save();
        r.say(format!(
            "    namespace {ns} does not exist: deploy creates it (and destroy may delete it)"
        ));
    }
    must(
        r,
        P,
        &cx.kubectl().args([
            "apply".to_string(),
            "-f".to_string(),
            format!("{}/k8s/namespace.yaml", cx.stack.out_dir),
        ]),
        Show::Stream,
        "you need permission to create namespaces in the cluster",
    )?;
    match &cx.stack.database {
        Database::CloudSql { secret, .. } => {
            let sm_secret = run.facts.output_str("database_url_secret");
            let url = must(
                r,
                P,
                &cx.gcloud().args([
                    "secrets",
                    "versions",
                    "access",
                    "latest",
                    &format!("--secret={sm_secret}"),
                    "--project",
                    &cx.project,
                ]),
                Show::Secret,
                "you need roles/secretmanager.secretAccessor on the secret",
            )?;
            let manifest = must(
                r,
                P,
                &cx.kubectl()
                    .args([
                        "-n",
                        ns,
                        "create",
                        "secret",
                        "generic",
                        secret,
                        "--from-file=DATABASE_URL=/dev/stdin",
                        "--dry-run=client",
                        "-o",
                        "yaml",
                    ])
                    .stdin(url.map(|o| o.stdout.into_bytes()).unwrap_or_default()),
                Show::Secret,
                "kubectl could not build the Secret",
            )?;
            must(
                r,
                P,
                &cx.kubectl()
                    .args(["apply", "-f", "-"])
                    .stdin(manifest.map(|o| o.stdout.into_bytes()).unwrap_or_default()),
                Show::Quiet,
                "you need permission to write Secrets in the namespace",
            )?;
            // The Secret is deploy's: labelled like the generated objects, so destroy
            // deletes it with them.
            must(
                r,
                P,
                &cx.kubectl()
                    .args(["-n", ns, "label", "secret", secret, "--overwrite"])
                    .args(selector_labels(&cx.stack.k8s_selector)),
                Show::Quiet,
                "you need permission to write Secrets in the namespace",
            )?;
        }
        Database::ExistingSecret { secret, key } => {
            let found = r
                .run(
                    &cx.kubectl()
                        .args(["-n", ns, "get", "secret", secret, "-o", "name"]),
                    Show::Quiet,
                )
                .map_err(|e| fail(P, e.to_string()))?;
            if found.is_some_and(|o| !o.ok()) {
                return Err(fail(
                    P,
                    format!(
                        "the Secret {ns}/{secret} with the database URL does not exist; create it, then run shopgen deploy again:\n  KUBECONFIG={} kubectl -n {ns} create secret generic {secret} --from-literal={key}='postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require'",
                        cx.kubeconfig()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The overlay `kubectl apply -k` deploys: the generated manifests, the pinned image,
/// and the Service values only Terraform knows.
fn overlay(cx: &Ctx, facts: &Facts) -> String {
    let depth = cx.overlay_dir().split('/').count();
    let up = "../".repeat(depth);
    let ip = facts.output_str("internal_lb_ip");
    let ranges = match facts.output("ilb_source_ranges") {
        Some(v) => v.clone(),
        None => serde_json::json!(["<ilb_source_ranges from terraform output>"]),
    };
    let patch_ops = serde_json::json!([
        {"op": "add", "path": "/spec/loadBalancerIP", "value": ip},
        {"op": "add", "path": "/spec/loadBalancerSourceRanges", "value": ranges},
    ]);
    format!(
        "# Written by shopgen deploy: the generated manifests with the pushed image and\n\
         # the values Terraform decided. Rewritten on every deploy.\n\
         apiVersion: kustomize.config.k8s.io/v1beta1\n\
         kind: Kustomization\n\
         resources:\n\
         - {up}{out}/k8s\n\
         images:\n\
         - name: {base}\n  newName: {repo}/{backend}\n  newTag: \"{tag}\"\n\
         patches:\n\
         - target:\n    kind: Service\n    name: {name}\n  patch: '{patch_ops}'\n",
        out = cx.stack.out_dir,
        base = cx.stack.backend_image_in_manifests,
        repo = cx.repository(),
        backend = cx.stack.backend_image,
        tag = cx.tag,
        name = cx.stack.k8s_name,
    )
}

fn kubernetes(r: &mut Runner, cx: &Ctx, run: &mut Run) -> Result<(), Failure> {
    const P: &str = "kubernetes";
    let facts = &mut run.facts;
    if facts.outputs.is_none() && !r.dry_run {
        read_outputs(r, cx, facts, P)?;
        credentials(r, cx, P)?;
    }
    let dir = cx.overlay_dir();
    let text = overlay(cx, facts);
    if r.dry_run {
        r.say(format!("    would write {dir}/kustomization.yaml:"));
        for line in text.lines() {
            r.say(format!("      {line}"));
        }
    } else {
        let path = r.dir.join(&dir);
        private_dir(&path)
            .and_then(|_| std::fs::write(path.join("kustomization.yaml"), &text))
            .map_err(|e| fail(P, format!("cannot write {dir}/kustomization.yaml: {e}")))?;
        r.say(format!(
            "    wrote {dir}/kustomization.yaml (image tag {}, loadBalancerIP {})",
            cx.tag,
            facts.output_str("internal_lb_ip")
        ));
    }
    must(
        r,
        P,
        &cx.kubectl().args(["apply", "-k", &dir]),
        Show::Stream,
        "check the manifests with `kubectl kustomize` and your permissions in the namespace",
    )?;
    must(
        r,
        P,
        &cx.kubectl().args([
            "-n",
            &cx.stack.namespace,
            "rollout",
            "status",
            &format!("deployment/{}", cx.stack.k8s_name),
            "--timeout=10m",
        ]),
        Show::Stream,
        &format!(
            "see `KUBECONFIG={} kubectl -n {} describe deployment/{}` and the pods' logs; the backend needs its database",
            cx.kubeconfig(),
            cx.stack.namespace,
            cx.stack.k8s_name
        ),
    )?;
    Ok(())
}

fn smoke(r: &mut Runner, cx: &Ctx, run: &mut Run) -> Result<(), Failure> {
    smoke_test(r, cx, &mut run.facts)
}

/// One public route through the gateway with the API key (deploy's last phase, and
/// `status`).
pub(crate) fn smoke_test(r: &mut Runner, cx: &Ctx, facts: &mut Facts) -> Result<(), Failure> {
    const P: &str = "smoke";
    if facts.outputs.is_none() && !r.dry_run {
        read_outputs(r, cx, facts, P)?;
    }
    let key = must(
        r,
        P,
        &cx.terraform("output").args(["-raw", "api_key"]),
        Show::Secret,
        "the API key output is missing: run the full apply again",
    )?
    .map(|o| o.stdout.trim().to_string())
    .unwrap_or_else(|| "$API_KEY".to_string());
    let url = format!("{}{}", facts.output_str("gateway_url"), cx.stack.smoke_path);
    // The key goes in a header read from stdin (`-H @-`, curl 7.55+), so it never
    // shows in argv.
    let cmd = Cmd::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "30",
            "-H",
            "@-",
            &url,
        ])
        .stdin(format!("{}: {key}\n", cx.stack.api_key_header).into_bytes());
    let mut attempt = 1;
    loop {
        let Some(o) = r
            .run(&cmd, Show::Quiet)
            .map_err(|e| fail(P, e.to_string()))?
        else {
            return Ok(());
        };
        let code = o.stdout.trim().to_string();
        if code.starts_with('2') {
            r.say(format!(
                "    ok: GET {} answered {code}",
                cx.stack.smoke_path
            ));
            return Ok(());
        }
        if attempt >= SMOKE_ATTEMPTS {
            return Err(fail(
                P,
                format!(
                    "GET {url} with the API key answered {} after {attempt} attempts; a new key can take minutes to work: run shopgen status later",
                    if code.is_empty() {
                        o.stderr.trim().to_string()
                    } else {
                        code
                    }
                ),
            ));
        }
        let delay = retry_delay(30);
        r.say(format!(
            "    GET {} answered {code}; retrying in {}s ({attempt}/{SMOKE_ATTEMPTS})",
            cx.stack.smoke_path,
            delay.as_secs()
        ));
        std::thread::sleep(delay);
        attempt += 1;
    }
}

fn summary(r: &mut Runner, cx: &Ctx, facts: &Facts) {
    r.say("==> done");
    r.say(format!(
        "    gateway:   {}",
        facts.output_str("gateway_url")
    ));
    r.say(format!("    image tag: {}", cx.tag));
    r.say(format!(
        "    API key:   terraform -chdir={} output -raw api_key   (send it in the {} header)",
        cx.tf_dir(),
        cx.stack.api_key_header
    ));
    r.say(format!(
        "    kubectl:   KUBECONFIG={} kubectl -n {} get pods",
        cx.kubeconfig(),
        cx.stack.namespace
    ));
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
    fn cloud_build_region_refusals_are_recognised() {
        assert!(matches(
            CLOUD_BUILD_REGION_REFUSED,
            "ERROR: (gcloud.builds.submit) FAILED_PRECONDITION: failed precondition: due to quota restrictions, cannot run builds in this region. Please contact support"
        ));
        assert!(!matches(
            CLOUD_BUILD_REGION_REFUSED,
            "ERROR: (gcloud.builds.submit) PERMISSION_DENIED: The caller does not have permission"
        ));
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
