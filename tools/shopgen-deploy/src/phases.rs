//! The phases of `deploy` after the preflight (see the crate docs): bootstrap,
//! images, apply, secret, kubernetes, smoke, and the summary.

use std::io::Write;
use std::path::PathBuf;

use crate::context::{
    Ctx, Facts, Progress, apply_waiting, context, credentials, fail, failed, image_tag, init, must,
    private_dir, read_outputs, retry_delay, selector_labels,
};
use crate::retry::matches;
use crate::runner::{Cmd, Runner, Show};
use crate::{Builder, Database, Failure, Options, Stack, preflight};

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

/// `shopgen deploy`.
pub fn deploy(stack: &Stack, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let tag = image_tag(stack, opts, None)?;
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
            if stack.existing_service {
                "the existing service's namespace (checked, never created)"
            } else {
                "the namespace and the database URL Secret"
            },
            secret,
        ),
        (
            "kubernetes",
            if stack.existing_service {
                "the internal load balancer in front of the existing pods"
            } else {
                "the backend on the cluster"
            },
            kubernetes,
        ),
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
    let mut wanted = vec![(&relay, &cx.stack.relay_dockerfile)];
    // An existing service has no backend image: its pods run what they always ran.
    if !cx.stack.existing_service {
        wanted.insert(0, (&backend, &cx.stack.backend_dockerfile));
    }
    for (image, dockerfile) in wanted {
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

fn secret(r: &mut Runner, cx: &Ctx, run: &mut Run) -> Result<(), Failure> {
    const P: &str = "secret";
    if run.facts.outputs.is_none() && !r.dry_run {
        read_outputs(r, cx, &mut run.facts, P)?;
    }
    credentials(r, cx, P)?;
    let ns = &cx.stack.namespace;
    if cx.stack.existing_service {
        // The user's namespace, with the user's pods in it: checked, never created.
        must(
            r,
            P,
            &cx.kubectl().args(["get", "namespace", ns, "-o", "name"]),
            Show::Quiet,
            &format!(
                "the existing service's namespace {ns} must exist (shopgen never creates it); check `service.namespace` in the spec and that kubectl reaches the cluster"
            ),
        )?;
        r.say(format!(
            "    ok: namespace {ns} exists; its workloads are left as they are"
        ));
        return Ok(());
    }
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
    if cx.stack.existing_service {
        // No image to pin: the Service only, with the values Terraform decided.
        return format!(
            "# Written by shopgen deploy: the generated Service with the values Terraform\n\
             # decided. Rewritten on every deploy.\n\
             apiVersion: kustomize.config.k8s.io/v1beta1\n\
             kind: Kustomization\n\
             resources:\n\
             - {up}{out}/k8s\n\
             patches:\n\
             - target:\n    kind: Service\n    name: {name}\n  patch: '{patch_ops}'\n",
            out = cx.stack.out_dir,
            name = cx.stack.k8s_name,
        );
    }
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
    if cx.stack.existing_service {
        r.say(format!(
            "    the Service {}/{} selects the existing pods; their Deployment is not touched",
            cx.stack.namespace, cx.stack.k8s_name
        ));
        return Ok(());
    }
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
}
