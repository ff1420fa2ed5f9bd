//! The phases of `deploy`, `destroy` and `status` (see the crate docs).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::runner::{Cmd, Output, Runner, Show, on_path};
use crate::{Builder, Database, Failure, Options, Stack, tag};

/// Minimum tool versions.
const MIN_TERRAFORM: (u32, u32) = (1, 5);
const MIN_KUBECTL: (u32, u32) = (1, 27);
const MIN_DOCKER: (u32, u32) = (23, 0);
const MIN_GCLOUD: (u32, u32) = (400, 0);

/// Attempts of the full apply while the API's managed service is not yet visible: a
/// new API's service can take up to half an hour to appear, and attempts are a minute
/// apart.
const APPLY_ATTEMPTS: u32 = 31;
/// Attempts of the smoke test while a new API key propagates.
const SMOKE_ATTEMPTS: u32 = 10;

/// Seconds between retries (`SHOPGEN_DEPLOY_RETRY_SECONDS` overrides, for tests).
fn retry_delay(default: u64) -> Duration {
    let s = std::env::var("SHOPGEN_DEPLOY_RETRY_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(s)
}

/// The values one run works with.
struct Ctx<'a> {
    stack: &'a Stack,
    project: String,
    region: String,
    tag: String,
    builder: Builder,
    /// The existing cluster's node service accounts as a Terraform list (`["a", "b"]`),
    /// granted read access to the image repository (`-var
    /// gke_node_service_accounts`); learnt in the preflight.
    node_accounts: Option<String>,
}

impl Ctx<'_> {
    fn tf_dir(&self) -> String {
        format!("{}/terraform", self.stack.out_dir)
    }
    fn terraform(&self, sub: &str) -> Cmd {
        Cmd::new("terraform")
            .arg(format!("-chdir={}", self.tf_dir()))
            .arg(sub)
    }
    fn tf_vars(&self, cmd: Cmd) -> Cmd {
        cmd.args([
            "-var".to_string(),
            format!("project={}", self.project),
            "-var".to_string(),
            format!("region={}", self.region),
            "-var".to_string(),
            format!("image_tag={}", self.tag),
        ])
        .args(
            self.node_accounts
                .iter()
                .flat_map(|a| ["-var".to_string(), format!("gke_node_service_accounts={a}")]),
        )
    }
    fn repository(&self) -> String {
        format!(
            "{}-docker.pkg.dev/{}/{}",
            self.region, self.project, self.stack.artifact_repository
        )
    }
    fn image(&self, name: &str) -> String {
        format!("{}/{name}:{}", self.repository(), self.tag)
    }
    fn overlay_dir(&self) -> String {
        format!(".shopgen/deploy/{}", self.stack.stem)
    }
    fn state_file(&self, root: &std::path::Path) -> PathBuf {
        root.join(format!(".shopgen/deploy/{}.json", self.stack.stem))
    }
    fn gcloud(&self) -> Cmd {
        Cmd::new("gcloud")
    }
}

fn fail(phase: &'static str, message: impl Into<String>) -> Failure {
    Failure::Phase {
        phase,
        message: message.into(),
    }
}

/// Runs a command that must succeed; a failure names the command and adds a hint.
fn must(
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
fn failed(phase: &'static str, cmd: &Cmd, o: &Output, show: Show, hint: &str) -> Failure {
    {
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
}

/// The resume record: the phases done for one project, region and tag.
#[derive(Debug, Default)]
struct Progress {
    key: String,
    done: BTreeSet<String>,
}

impl Progress {
    fn load(path: &std::path::Path, key: &str) -> Self {
        let done = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .filter(|v| v["key"] == key)
            .and_then(|v| {
                v["done"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        Progress {
            key: key.to_string(),
            done,
        }
    }
    fn save(&self, path: &std::path::Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let v = serde_json::json!({"key": self.key, "done": self.done});
        let _ = std::fs::write(path, format!("{v:#}\n"));
    }
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut nums = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().ok());
    Some((nums.next()??, nums.next().flatten().unwrap_or(0)))
}

fn context<'a>(stack: &'a Stack, opts: &Options) -> Result<Ctx<'a>, Failure> {
    let tag = match &opts.image_tag {
        Some(t) => t.clone(),
        None => tag::derive(
            &opts.root,
            &[&stack.backend_dockerfile, &stack.relay_dockerfile],
        )
        .map_err(|e| fail("image tag", e))?,
    };
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
        tag,
        builder: opts.builder,
        node_accounts: None,
    })
}

// ---------------------------------------------------------------------------------
// deploy
// ---------------------------------------------------------------------------------

/// `shopgen deploy`.
pub fn deploy(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let mut cx = context(stack, opts)?;
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
        "shopgen deploy {}: project {}, region {}, image tag {}{}",
        stack.spec,
        cx.project,
        cx.region,
        cx.tag,
        if opts.dry_run {
            " (dry run: nothing runs, nothing changes)"
        } else {
            ""
        }
    ));
    cx.node_accounts = preflight(&mut r, &cx, opts)?;
    let phases: [(&'static str, &str, PhaseFn); 6] = [
        (
            "bootstrap",
            "APIs, image repository and builder account (targeted apply)",
            bootstrap,
        ),
        ("images", "images built and pushed", images),
        ("apply", "everything else (full apply)", apply),
        ("secret", "the database URL Secret", secret),
        ("kubernetes", "the backend on the cluster", kubernetes),
        (
            "smoke",
            "a public route through the gateway with the API key",
            smoke,
        ),
    ];
    let mut facts = Facts::default();
    for (i, (name, title, run)) in phases.iter().enumerate() {
        let n = i + 2;
        // Phases that only read (outputs, smoke) always run; the others are skipped
        // when a previous run finished them for this project, region and tag.
        if progress.done.contains(*name) && *name != "smoke" && *name != "kubernetes" {
            r.say(format!(
                "==> [{n}/7] {name}: {title} — done in an earlier run, skipped"
            ));
            continue;
        }
        r.say(format!("==> [{n}/7] {name}: {title}"));
        run(&mut r, &cx, &mut facts)?;
        if !opts.dry_run {
            progress.done.insert((*name).to_string());
            progress.save(&state_path);
        }
    }
    summary(&mut r, &cx, &facts);
    Ok(())
}

type PhaseFn = fn(&mut Runner, &Ctx, &mut Facts) -> Result<(), Failure>;

/// What later phases learn from earlier ones (Terraform's outputs).
#[derive(Debug, Default)]
struct Facts {
    outputs: Option<serde_json::Value>,
}

impl Facts {
    fn output(&self, name: &str) -> Option<&serde_json::Value> {
        self.outputs.as_ref()?.get(name)?.get("value")
    }
    fn output_str(&self, name: &str) -> String {
        self.output(name)
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("<{name} from terraform output>"), str::to_owned)
    }
}

/// The preflight; gives the existing cluster's node service accounts (a Terraform
/// list) to grant read access to the image repository (none when Terraform creates
/// the cluster, or when `TF_VAR_gke_node_service_accounts` already names them).
fn preflight(r: &mut Runner, cx: &Ctx, opts: &Options) -> Result<Option<String>, Failure> {
    const P: &str = "preflight";
    r.say("==> [1/7] preflight: tools, credentials, project, generated files, cluster");
    match &opts.generated_current {
        Ok(()) => r.say(format!("    ok: {} is current", cx.stack.out_dir)),
        Err(fix) => {
            return Err(fail(
                P,
                format!("{} is not current: {fix}", cx.stack.out_dir),
            ));
        }
    }
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
            Cmd::new("kubectl").args(["version", "--client"]),
            MIN_KUBECTL,
        ),
        ("curl", Cmd::new("curl").arg("--version"), (7, 0)),
    ];
    if cx.builder == Builder::Docker {
        tools.push((
            "docker",
            Cmd::new("docker").args(["version", "--format", "{{.Client.Version}}"]),
            MIN_DOCKER,
        ));
    }
    if r.dry_run {
        let names: Vec<&str> = tools.iter().map(|t| t.0).collect();
        r.say(format!(
            "    skipped (dry run): tools present ({}), gcloud login and application default credentials, project {} exists with billing, cluster {} ({})",
            names.join(", "),
            cx.project,
            cx.stack.cluster_name,
            if cx.stack.cluster_created {
                "created by Terraform with GKE subsetting"
            } else {
                "must exist; subsetting and node service accounts checked"
            }
        ));
        let node_accounts = (!cx.stack.cluster_created && !node_accounts_from_env())
            .then(|| "<node service accounts from gcloud>".to_string());
        return Ok(node_accounts);
    }
    for (name, cmd, (major, minor)) in &tools {
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
    let account = r
        .probe(&cx.gcloud().args([
            "auth",
            "list",
            "--filter=status:ACTIVE",
            "--format=value(account)",
        ]))
        .map_err(|e| fail(P, e.to_string()))?;
    if !account.ok() || account.stdout.trim().is_empty() {
        return Err(fail(P, "gcloud is not logged in; run `gcloud auth login`"));
    }
    r.say(format!(
        "    ok: gcloud logged in as {}",
        account.stdout.trim()
    ));
    let adc = r
        .probe(
            &cx.gcloud()
                .args(["auth", "application-default", "print-access-token"]),
        )
        .map_err(|e| fail(P, e.to_string()))?;
    if !adc.ok() {
        return Err(fail(
            P,
            "no application default credentials (Terraform needs them); run `gcloud auth application-default login`",
        ));
    }
    r.say("    ok: application default credentials");
    let project = r
        .probe(&cx.gcloud().args([
            "projects",
            "describe",
            &cx.project,
            "--format=value(projectNumber)",
        ]))
        .map_err(|e| fail(P, e.to_string()))?;
    if !project.ok() {
        return Err(fail(
            P,
            format!(
                "project {} does not exist or you cannot see it; create it (`gcloud projects create {}`) or pass --project",
                cx.project, cx.project
            ),
        ));
    }
    let billing = r
        .probe(&cx.gcloud().args([
            "billing",
            "projects",
            "describe",
            &cx.project,
            "--format=value(billingEnabled)",
        ]))
        .map_err(|e| fail(P, e.to_string()))?;
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
    if cx.stack.cluster_created {
        r.say(format!(
            "    ok: cluster {} is created by Terraform with GKE subsetting",
            cx.stack.cluster_name
        ));
    } else {
        let c = r
            .probe(&cx.gcloud().args([
                "container",
                "clusters",
                "describe",
                &cx.stack.cluster_name,
                "--location",
                &cx.stack.cluster_location,
                "--project",
                &cx.project,
                "--format=value(networkConfig.enableL4ilbSubsetting)",
            ]))
            .map_err(|e| fail(P, e.to_string()))?;
        if !c.ok() {
            return Err(fail(
                P,
                format!(
                    "the spec deploys to the existing cluster {} in {}, which project {} does not have; create it, or set `cluster = {{ create = true, … }}` in the spec",
                    cx.stack.cluster_name, cx.stack.cluster_location, cx.project
                ),
            ));
        }
        if c.stdout.trim().eq_ignore_ascii_case("true") {
            r.say(format!(
                "    ok: cluster {}: GKE subsetting is on (the Service's address annotation applies)",
                cx.stack.cluster_name
            ));
        } else {
            r.say(format!(
                "    ok: cluster {}: GKE subsetting is off; the reserved IP is set as spec.loadBalancerIP (the annotation is ignored there)",
                cx.stack.cluster_name
            ));
        }
    }
    if let Database::ExistingSecret { secret, .. } = &cx.stack.database {
        r.say(format!(
            "    note: the database must exist and be reachable from the cluster; the backend reads its URL from the Secret {}/{secret}",
            cx.stack.namespace
        ));
    }
    if cx.stack.cluster_created {
        return Ok(None);
    }
    if node_accounts_from_env() {
        r.say("    ok: the nodes' service accounts are given in TF_VAR_gke_node_service_accounts");
        return Ok(None);
    }
    // The existing cluster's nodes pull the backend image from the new repository:
    // their accounts get read access to it (new projects no longer give the Compute
    // Engine default account the Editor role that used to cover this). Every node pool
    // may run as an account of its own; the cluster's `nodeConfig` is the default
    // pool's.
    let nodes = r
        .probe(&cx.gcloud().args([
            "container",
            "clusters",
            "describe",
            &cx.stack.cluster_name,
            "--location",
            &cx.stack.cluster_location,
            "--project",
            &cx.project,
            "--format=value(nodeConfig.serviceAccount,nodePools[].config.serviceAccount)",
        ]))
        .map_err(|e| fail(P, e.to_string()))?;
    let accounts = if nodes.ok() {
        node_accounts(&nodes.stdout, project.stdout.trim())
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
            Ok(Some(format!("[{}]", quoted.join(","))))
        }
        Err(()) => {
            r.say(
                "    note: the cluster's node service accounts are unknown; if the nodes cannot pull the backend image, set TF_VAR_gke_node_service_accounts (docs/deploy.md)",
            );
            Ok(None)
        }
    }
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

fn bootstrap(r: &mut Runner, cx: &Ctx, _: &mut Facts) -> Result<(), Failure> {
    const P: &str = "bootstrap";
    must(
        r,
        P,
        &cx.terraform("init").arg("-input=false"),
        Show::Stream,
        "terraform init downloads the providers: check the network",
    )?;
    let mut apply = cx.tf_vars(
        cx.terraform("apply")
            .args(["-input=false", "-auto-approve"]),
    );
    for t in &cx.stack.bootstrap_targets {
        apply = apply.arg(format!("-target={t}"));
    }
    must(
        r,
        P,
        &apply,
        Show::Stream,
        "check that you may enable services and create service accounts in the project",
    )?;
    Ok(())
}

fn images(r: &mut Runner, cx: &Ctx, _: &mut Facts) -> Result<(), Failure> {
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
                must(
                    r,
                    P,
                    &Cmd::new("docker")
                        .args(["build", "-f", dockerfile, "-t", image, "."])
                        .env("DOCKER_BUILDKIT", "1"),
                    Show::Stream,
                    "the Dockerfile needs BuildKit (Docker 23+); or use --builder cloud-build",
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
                "{}-build@{}.iam.gserviceaccount.com",
                build_account_base(&cx.stack.k8s_name),
                cx.project
            );
            must(
                r,
                P,
                &cx.gcloud().args([
                    "builds".to_string(),
                    "submit".to_string(),
                    "--project".to_string(),
                    cx.project.clone(),
                    "--region".to_string(),
                    cx.region.clone(),
                    "--config".to_string(),
                    cx.stack.cloudbuild_config.clone(),
                    "--ignore-file".to_string(),
                    cx.stack.gcloudignore.clone(),
                    "--service-account".to_string(),
                    format!("projects/{}/serviceAccounts/{sa}", cx.project),
                    "--substitutions".to_string(),
                    format!("_IMAGE_REPOSITORY={},_TAG={}", cx.repository(), cx.tag),
                    ".".to_string(),
                ]),
                Show::Stream,
                "the build runs as the Terraform-created builder account; you need roles/iam.serviceAccountUser on it",
            )?;
        }
    }
    Ok(())
}

/// The builder account's id base, as the Terraform emitter derives it.
fn build_account_base(service: &str) -> String {
    let mut base = service.to_string();
    base.truncate(30 - "-build".len());
    base.trim_end_matches('-').to_string()
}

fn apply(r: &mut Runner, cx: &Ctx, facts: &mut Facts) -> Result<(), Failure> {
    const P: &str = "apply";
    let cmd = cx.tf_vars(
        cx.terraform("apply")
            .args(["-input=false", "-auto-approve"]),
    );
    let mut attempt = 1;
    loop {
        let out = r
            .run(&cmd, Show::Stream)
            .map_err(|e| fail(P, e.to_string()))?;
        let Some(o) = out else { break };
        if o.ok() {
            break;
        }
        let waiting = o.stderr.contains("google_project_service.managed_service");
        if waiting && attempt < APPLY_ATTEMPTS {
            let delay = retry_delay(60);
            r.say(format!(
                "    the API's managed service is not visible yet (a new API's can take up to 30 minutes); retrying in {}s ({attempt}/{APPLY_ATTEMPTS})",
                delay.as_secs()
            ));
            std::thread::sleep(delay);
            attempt += 1;
            continue;
        }
        return Err(failed(
            P,
            &cmd,
            &o,
            Show::Stream,
            "fix the error above and run shopgen deploy again; finished resources are kept",
        ));
    }
    read_outputs(r, cx, facts, P)
}

fn read_outputs(
    r: &mut Runner,
    cx: &Ctx,
    facts: &mut Facts,
    phase: &'static str,
) -> Result<(), Failure> {
    let out = must(
        r,
        phase,
        &cx.terraform("output").arg("-json"),
        Show::Quiet,
        "terraform keeps its state beside the .tf files; run from the repository root",
    )?;
    if let Some(o) = out {
        facts.outputs = Some(
            serde_json::from_str(&o.stdout)
                .map_err(|e| fail(phase, format!("terraform output -json: {e}")))?,
        );
    }
    Ok(())
}

fn credentials(r: &mut Runner, cx: &Ctx, phase: &'static str) -> Result<(), Failure> {
    must(
        r,
        phase,
        &cx.gcloud().args([
            "container",
            "clusters",
            "get-credentials",
            &cx.stack.cluster_name,
            "--location",
            &cx.stack.cluster_location,
            "--project",
            &cx.project,
        ]),
        Show::Stream,
        "install gke-gcloud-auth-plugin (`gcloud components install gke-gcloud-auth-plugin`)",
    )?;
    Ok(())
}

fn secret(r: &mut Runner, cx: &Ctx, facts: &mut Facts) -> Result<(), Failure> {
    const P: &str = "secret";
    if facts.outputs.is_none() && !r.dry_run {
        read_outputs(r, cx, facts, P)?;
    }
    credentials(r, cx, P)?;
    must(
        r,
        P,
        &Cmd::new("kubectl").args([
            "apply".to_string(),
            "-f".to_string(),
            format!("{}/k8s/namespace.yaml", cx.stack.out_dir),
        ]),
        Show::Stream,
        "you need permission to create namespaces in the cluster",
    )?;
    let ns = &cx.stack.namespace;
    match &cx.stack.database {
        Database::CloudSql { secret, .. } => {
            let sm_secret = facts.output_str("database_url_secret");
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
                &Cmd::new("kubectl")
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
                &Cmd::new("kubectl")
                    .args(["apply", "-f", "-"])
                    .stdin(manifest.map(|o| o.stdout.into_bytes()).unwrap_or_default()),
                Show::Quiet,
                "you need permission to write Secrets in the namespace",
            )?;
        }
        Database::ExistingSecret { secret, key } => {
            let found = r
                .run(
                    &Cmd::new("kubectl").args(["-n", ns, "get", "secret", secret, "-o", "name"]),
                    Show::Quiet,
                )
                .map_err(|e| fail(P, e.to_string()))?;
            if found.is_some_and(|o| !o.ok()) {
                return Err(fail(
                    P,
                    format!(
                        "the Secret {ns}/{secret} with the database URL does not exist; create it, then run shopgen deploy again:\n  kubectl -n {ns} create secret generic {secret} --from-literal={key}='postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require'"
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

fn kubernetes(r: &mut Runner, cx: &Ctx, facts: &mut Facts) -> Result<(), Failure> {
    const P: &str = "kubernetes";
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
        std::fs::create_dir_all(&path)
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
        &Cmd::new("kubectl").args(["apply", "-k", &dir]),
        Show::Stream,
        "check the manifests with `kubectl kustomize` and your permissions in the namespace",
    )?;
    must(
        r,
        P,
        &Cmd::new("kubectl").args([
            "-n",
            &cx.stack.namespace,
            "rollout",
            "status",
            &format!("deployment/{}", cx.stack.k8s_name),
            "--timeout=10m",
        ]),
        Show::Stream,
        &format!(
            "see `kubectl -n {} describe deployment/{}` and the pods' logs; the backend needs its database",
            cx.stack.namespace, cx.stack.k8s_name
        ),
    )?;
    Ok(())
}

fn smoke(r: &mut Runner, cx: &Ctx, facts: &mut Facts) -> Result<(), Failure> {
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
    // The key goes in a header read from stdin (`-H @-`), so it never shows in argv.
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
}

// ---------------------------------------------------------------------------------
// destroy, status
// ---------------------------------------------------------------------------------

/// Resources `destroy` keeps while Cloud SQL's deletion protection holds: the
/// database and what it depends on (the project services stay enabled anyway).
fn kept_while_protected(address: &str) -> bool {
    [
        "google_sql_",
        "google_service_networking_connection.",
        "google_compute_global_address.sql_private_range",
        "random_password.db",
        "google_secret_manager_secret",
        "google_project_service.apis",
        "data.",
    ]
    .iter()
    .any(|p| address.starts_with(p))
}

/// `shopgen destroy`.
pub fn destroy(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    if !opts.yes && !opts.dry_run {
        return Err(Failure::Refused(format!(
            "destroy deletes the stack of {} in project {} (the gateway, the relay, the API key, the backend's Kubernetes objects{}); run again with --yes to confirm, or --dry-run to see the commands",
            stack.spec,
            opts.project.as_deref().unwrap_or(&stack.project),
            if stack.cluster_created {
                ", the cluster"
            } else {
                ""
            }
        )));
    }
    // Destroy never builds: the tag only has to name a value for the variable.
    let mut o = opts.clone();
    if o.image_tag.is_none() {
        o.image_tag = Some(
            tag::derive(
                &opts.root,
                &[&stack.backend_dockerfile, &stack.relay_dockerfile],
            )
            .unwrap_or_else(|_| "destroy".to_string()),
        );
    }
    let cx = context(stack, &o)?;
    let mut r = Runner {
        dry_run: opts.dry_run,
        out,
        dir: opts.root.clone(),
    };
    const P: &str = "destroy";
    r.say(format!(
        "shopgen destroy {}: project {}, region {}{}",
        stack.spec,
        cx.project,
        cx.region,
        if opts.dry_run { " (dry run)" } else { "" }
    ));
    r.say("==> [1/2] the backend's Kubernetes objects (they hold the reserved address)");
    credentials(&mut r, &cx, P)?;
    must(
        &mut r,
        P,
        &Cmd::new("kubectl").args([
            "delete".to_string(),
            "-k".to_string(),
            format!("{}/k8s", stack.out_dir),
            "--ignore-not-found".to_string(),
            "--wait".to_string(),
        ]),
        Show::Stream,
        "delete the Service first: Terraform cannot release the address while the load balancer holds it",
    )?;
    r.say("==> [2/2] the cloud resources (terraform destroy)");
    let protected = matches!(
        stack.database,
        Database::CloudSql {
            deletion_protection: true,
            ..
        }
    );
    let mut cmd = cx.tf_vars(
        cx.terraform("destroy")
            .args(["-input=false", "-auto-approve"]),
    );
    if protected {
        let Database::CloudSql { instance, .. } = &stack.database else {
            unreachable!()
        };
        r.say(format!(
            "    Cloud SQL instance {instance} has deletion_protection = true: it, its network peering and its secret are kept (set deletion_protection = false in the spec, rebuild and run destroy again to remove them)"
        ));
        let list = must(
            &mut r,
            P,
            &cx.terraform("state").arg("list"),
            Show::Quiet,
            "terraform keeps its state beside the .tf files",
        )?;
        match list {
            Some(o) => {
                let targets: Vec<&str> = o
                    .stdout
                    .lines()
                    .map(str::trim)
                    .filter(|a| !a.is_empty() && !kept_while_protected(a))
                    .collect();
                if targets.is_empty() {
                    r.say("    nothing else to destroy");
                    return Ok(());
                }
                for t in targets {
                    cmd = cmd.arg(format!("-target={t}"));
                }
            }
            None => cmd = cmd.arg("-target=<every resource but the database's>"),
        }
    }
    must(
        &mut r,
        P,
        &cmd,
        Show::Stream,
        "fix the error above and run shopgen destroy --yes again",
    )?;
    if !opts.dry_run {
        let _ = std::fs::remove_file(cx.state_file(&opts.root));
    }
    r.say("==> destroyed (the project's services stay enabled)");
    Ok(())
}

/// `shopgen status`.
pub fn status(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let mut o = opts.clone();
    if o.image_tag.is_none() {
        o.image_tag = Some(
            tag::derive(
                &opts.root,
                &[&stack.backend_dockerfile, &stack.relay_dockerfile],
            )
            .unwrap_or_else(|_| "status".to_string()),
        );
    }
    let cx = context(stack, &o)?;
    let mut r = Runner {
        dry_run: opts.dry_run,
        out,
        dir: opts.root.clone(),
    };
    const P: &str = "status";
    r.say(format!(
        "shopgen status {}: project {}",
        stack.spec, cx.project
    ));
    let mut facts = Facts::default();
    read_outputs(&mut r, &cx, &mut facts, P)?;
    if !r.dry_run && facts.output("gateway_url").is_none() {
        return Err(fail(
            P,
            "nothing is deployed (Terraform has no outputs); run shopgen deploy",
        ));
    }
    r.say(format!(
        "    gateway:      {}",
        facts.output_str("gateway_url")
    ));
    r.say(format!(
        "    relay:        {}",
        facts.output_str("relay_url")
    ));
    r.say(format!(
        "    internal LB:  {}",
        facts.output_str("internal_lb_ip")
    ));
    r.say(format!(
        "    relay image:  {}",
        facts.output_str("relay_image")
    ));
    credentials(&mut r, &cx, P)?;
    must(
        &mut r,
        P,
        &Cmd::new("kubectl").args([
            "-n",
            &stack.namespace,
            "get",
            &format!("deployment/{}", stack.k8s_name),
            &format!("service/{}", stack.k8s_name),
            "-o",
            "wide",
        ]),
        Show::Stream,
        "the backend is not deployed; run shopgen deploy",
    )?;
    smoke(&mut r, &cx, &mut facts)
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
        assert_eq!(parse_version("none"), None);
    }

    #[test]
    fn protected_database_resources_are_kept() {
        for kept in [
            "google_sql_database_instance.db",
            "google_sql_user.app",
            "google_service_networking_connection.sql",
            "google_compute_global_address.sql_private_range",
            "google_secret_manager_secret_version.database_url",
            "random_password.db",
        ] {
            assert!(kept_while_protected(kept), "{kept}");
        }
        for gone in [
            "google_cloud_run_v2_service.relay",
            "google_apikeys_key.client",
            "random_id.api_key",
            "google_container_cluster.cluster",
        ] {
            assert!(!kept_while_protected(gone), "{gone}");
        }
    }
}
