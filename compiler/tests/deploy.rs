//! `shopgen deploy`, `destroy` and `status` against fake `terraform`, `gcloud`,
//! `kubectl`, `docker` and `curl` put first on `PATH`: each records its argv, a few
//! environment variables and its stdin, answers like the real tool, and fails when
//! its command line contains `FAKE_FAIL`. The tests check the order of the phases,
//! the arguments (pinned tag, reserved IP patch, project override), that a failure at
//! each phase stops with a clear message and exit code 1, and that a rerun resumes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fake tool: one script, linked under each tool's name.
const FAKE: &str = r#"#!/usr/bin/env bash
tool=$(basename "$0")
line="$tool $*"
input=""
if [ ! -t 0 ]; then input=$(cat); fi
{
  printf '%s' "$line"
  [ -n "$DOCKER_BUILDKIT" ] && printf ' [DOCKER_BUILDKIT=%s]' "$DOCKER_BUILDKIT"
  [ -n "$input" ] && printf ' [stdin:%s]' "$(printf '%s' "$input" | head -c 200 | tr '\n' '|')"
  printf '\n'
} >> "$FAKE_LOG"
if [ -n "$FAKE_FAIL" ] && [[ "$line" == *"$FAKE_FAIL"* ]]; then
  echo "fake $tool: failing as told ($FAKE_FAIL)" >&2
  exit 1
fi
if [[ "$line" == "terraform "*" apply "* && "$line" != *"-target="* && -f "$FAKE_DIR/ms_fails" ]]; then
  n=$(cat "$FAKE_DIR/ms_fails")
  if [ "$n" -gt 0 ]; then
    echo $((n - 1)) > "$FAKE_DIR/ms_fails"
    echo "Error: Error when reading or editing Project Service : Service shop-api-1a2b.apigateway.some-project.cloud.goog not found" >&2
    echo "  with google_project_service.managed_service," >&2
    exit 1
  fi
fi
case "$line" in
  "terraform version"*) echo "Terraform v1.11.4" ;;
  "terraform "*" output -json") cat "$FAKE_DIR/outputs.json" ;;
  "terraform "*" output -raw api_key") printf 'key-123' ;;
  "terraform "*" state list") printf 'data.google_compute_network.vpc\ngoogle_sql_database_instance.db\ngoogle_cloud_run_v2_service.relay\ngoogle_apikeys_key.client\ngoogle_project_service.apis\n' ;;
  "gcloud version"*) echo "530.0.0" ;;
  "gcloud auth list"*) echo "dev@example.com" ;;
  "gcloud auth application-default print-access-token") echo "ya29.token" ;;
  "gcloud projects describe"*) echo "123456789012" ;;
  "gcloud billing projects describe"*) echo "True" ;;
  "gcloud container clusters describe"*"nodeConfig.serviceAccount"*) printf '%b\n' "${FAKE_NODE_SA-default\tdefault}" ;;
  "gcloud container clusters describe"*) echo "${FAKE_SUBSETTING:-}" ;;
  "gcloud artifacts docker images describe"*)
    if [ -f "$FAKE_DIR/pushed" ] && grep -qF "$5" "$FAKE_DIR/pushed"; then echo "sha256:abc"; else echo "not found" >&2; exit 1; fi ;;
  "gcloud secrets versions access"*) printf 'postgres://app:pw@10.1.0.3:5432/shop' ;;
  "docker version"*) echo "28.0.1" ;;
  "docker push "*) echo "$2" >> "$FAKE_DIR/pushed" ;;
  "kubectl version"*) echo "Client Version: v1.33.2" ;;
  "kubectl "*"create secret"*) printf 'apiVersion: v1\nkind: Secret\n' ;;
  "curl --version") echo "curl 8.5.0" ;;
  "curl "*) printf '200' ;;
esac
exit 0
"#;

const OUTPUTS: &str = r#"{
  "gateway_url": {"value": "https://shop-api-gateway-1a2b.nw.gateway.dev"},
  "internal_lb_ip": {"value": "10.154.0.23"},
  "ilb_source_ranges": {"value": ["10.8.0.0/28"]},
  "relay_url": {"value": "https://shop-api-relay-x.a.run.app"},
  "relay_image": {"value": "europe-west2-docker.pkg.dev/some-project/shop-api/relay:v1"},
  "database_url_secret": {"value": "shop-api-db"}
}"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A checkout with `spec` built into `generated/shop`, and the fake tools.
    fn new(spec: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("specs")).unwrap();
        std::fs::write(root.join("specs/shop.toml"), spec).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_shopgen"))
            .args(["build", "specs/shop.toml"])
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("fake-tool");
        std::fs::write(&fake, FAKE).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        for tool in ["terraform", "gcloud", "kubectl", "docker", "curl"] {
            std::os::unix::fs::symlink(&fake, bin.join(tool)).unwrap();
        }
        std::fs::write(dir.path().join("outputs.json"), OUTPUTS).unwrap();
        Env { dir }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn clear(&self) {
        let _ = std::fs::remove_file(self.log_path());
    }
    fn shopgen(&self, args: &[&str], fail: Option<&str>) -> Output {
        self.shopgen_env(args, fail, &[])
    }
    /// [`Env::shopgen`] with extra environment for the fake tools.
    fn shopgen_env(&self, args: &[&str], fail: Option<&str>, vars: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(env!("CARGO_BIN_EXE_shopgen"));
        c.args(args)
            .current_dir(self.root())
            .env("PATH", path)
            .env("FAKE_LOG", self.log_path())
            .env("FAKE_DIR", self.dir.path())
            .env("SHOPGEN_DEPLOY_RETRY_SECONDS", "0")
            .env_remove("DOCKER_BUILDKIT")
            .env_remove("FAKE_SUBSETTING")
            .env_remove("FAKE_NODE_SA")
            .env_remove("TF_VAR_gke_node_service_accounts")
            .envs(vars.iter().copied());
        match fail {
            Some(f) => c.env("FAKE_FAIL", f),
            None => c.env_remove("FAKE_FAIL"),
        };
        c.output().unwrap()
    }
}

fn shop() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/shop.toml"))
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Stands for the full (untargeted) `terraform apply` in [`at`].
const FULL_APPLY: &str = "<full apply>";

/// The index of the first call containing `needle`.
fn at(calls: &[String], needle: &str) -> usize {
    calls
        .iter()
        .position(|c| {
            if needle == FULL_APPLY {
                c.starts_with("terraform -chdir=generated/shop/terraform apply -input=false -auto-approve -var project=some-project -var region=europe-west2 -var image_tag=v1")
                    && !c.contains("-target=")
            } else {
                c.contains(needle)
            }
        })
        .unwrap_or_else(|| panic!("no call with `{needle}` in:\n{}", calls.join("\n")))
}

/// The existing cluster's node account the fake gcloud reports (`default` for the
/// cluster and its one pool, in the fake project number 123456789012).
const NODES: &str = "123456789012-compute@developer.gserviceaccount.com";

/// `NODES` as the Terraform list `deploy` passes.
fn nodes_var() -> String {
    format!("gke_node_service_accounts=[\"{NODES}\"]")
}

const DEPLOY: &[&str] = &[
    "deploy",
    "specs/shop.toml",
    "--project",
    "some-project",
    "--image-tag",
    "v1",
];

#[test]
fn deploy_runs_the_phases_in_order_with_the_pinned_tag_and_reserved_ip() {
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    let image = "europe-west2-docker.pkg.dev/some-project/shop-api";
    let order = [
        "gcloud billing projects describe some-project",
        "terraform -chdir=generated/shop/terraform init",
        "-target=google_project_service.apis -target=google_artifact_registry_repository.images",
        &format!(
            "docker build -f generated/shop/backend/Dockerfile -t {image}/backend:v1 . [DOCKER_BUILDKIT=1]"
        ),
        &format!("docker push {image}/backend:v1"),
        &format!("docker push {image}/relay:v1"),
        FULL_APPLY,
        "gcloud container clusters get-credentials shop-cluster --location europe-west2 --project some-project",
        "kubectl -n shop get secret shop-api-db",
        "kubectl apply -k .shopgen/deploy/shop",
        "kubectl -n shop rollout status deployment/shop-api",
        "curl -sS",
    ];
    let mut last = 0;
    for step in order {
        let i = at(&calls, step);
        assert!(i >= last, "`{step}` out of order:\n{}", calls.join("\n"));
        last = i;
    }
    // The targeted apply carries the project override, too.
    assert!(calls[at(&calls, "-target=")].contains("-var project=some-project"));
    // The full apply is not targeted.
    assert!(
        calls.iter().any(
            |c| c.ends_with(&format!("-var image_tag=v1 -var {}", nodes_var()))
                && c.contains(" apply ")
        ),
        "{}",
        calls.join("\n")
    );
    // The overlay pins the tag and patches in the reserved IP and the source ranges.
    let overlay =
        std::fs::read_to_string(env.root().join(".shopgen/deploy/shop/kustomization.yaml"))
            .unwrap();
    assert!(
        overlay.contains(&format!("newName: {image}/backend\n")),
        "{overlay}"
    );
    assert!(overlay.contains("newTag: \"v1\""), "{overlay}");
    assert!(
        overlay.contains(r#"{"op":"add","path":"/spec/loadBalancerIP","value":"10.154.0.23"}"#),
        "{overlay}"
    );
    assert!(
        overlay.contains(r#""path":"/spec/loadBalancerSourceRanges","value":["10.8.0.0/28"]"#),
        "{overlay}"
    );
    // The key travels on curl's stdin, never in argv.
    let curl = &calls[at(&calls, "curl -sS")];
    assert!(curl.contains("[stdin:x-api-key: key-123]"), "{curl}");
    assert!(curl.contains("https://shop-api-gateway-1a2b.nw.gateway.dev/products"));
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("key-123") && !c.contains("[stdin:"))
    );
    let printed = text(&out);
    assert!(printed.contains("https://shop-api-gateway-1a2b.nw.gateway.dev"));
    assert!(printed.contains("GKE subsetting is off"), "{printed}");
}

#[test]
fn the_overlay_renders_with_kustomize_and_patches_the_service() {
    let Some(kubectl) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    }) else {
        eprintln!("!!! SKIPPED: kubectl is not installed");
        return;
    };
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
    let rendered = Command::new(kubectl)
        .args(["kustomize", ".shopgen/deploy/shop"])
        .current_dir(env.root())
        .output()
        .unwrap();
    let yaml = text(&rendered);
    assert!(rendered.status.success(), "{yaml}");
    assert!(yaml.contains("loadBalancerIP: 10.154.0.23"), "{yaml}");
    assert!(
        yaml.contains("loadBalancerSourceRanges:\n  - 10.8.0.0/28"),
        "{yaml}"
    );
    assert!(
        yaml.contains("image: europe-west2-docker.pkg.dev/some-project/shop-api/backend:v1"),
        "{yaml}"
    );
    // What kubectl applies is valid for every Kubernetes version the stack supports.
    let Some(validate) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubernetes-validate"))
            .find(|p| p.is_file())
    }) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubernetes-validate is required in CI (pip install kubernetes-validate)"
        );
        eprintln!("!!! SKIPPED: kubernetes-validate is not installed");
        return;
    };
    let docs = env.dir.path().join("rendered");
    std::fs::create_dir_all(&docs).unwrap();
    let mut files = Vec::new();
    for (i, doc) in String::from_utf8_lossy(&rendered.stdout)
        .split("\n---\n")
        .enumerate()
    {
        let f = docs.join(format!("{i}.yaml"));
        std::fs::write(&f, format!("{doc}\n")).unwrap();
        files.push(f);
    }
    assert_eq!(files.len(), 6, "{yaml}");
    for version in ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"] {
        let out = Command::new(&validate)
            .args(["--strict", "-k", version])
            .args(&files)
            .output()
            .unwrap();
        let report = text(&out);
        assert!(out.status.success(), "{version}: {report}");
        assert_eq!(
            report.matches("passed").count(),
            files.len(),
            "{version}: {report}"
        );
    }
}

#[test]
fn a_failure_at_any_phase_stops_there_and_a_rerun_resumes() {
    for (fail, phase, not_after) in [
        ("billing projects describe", "preflight", "terraform -chdir"),
        (
            "-target=google_project_service.apis",
            "bootstrap",
            "docker build",
        ),
        ("docker push", "images", "output -json"),
        ("get secret", "secret", "kubectl apply -k"),
        ("rollout status", "kubernetes", "curl -sS"),
        ("curl -sS", "smoke", "nothing"),
    ] {
        let env = Env::new(&shop());
        let out = env.shopgen(DEPLOY, Some(fail));
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(1), "{fail}: {printed}");
        assert!(
            printed.contains(&format!("error: {phase} failed")),
            "{fail}: {printed}"
        );
        let calls = env.calls();
        assert!(
            !calls.iter().any(|c| c.contains(not_after)),
            "{fail}: ran `{not_after}` after the failure:\n{}",
            calls.join("\n")
        );
        // Rerun without the failure: phases already done are not repeated.
        env.clear();
        let again = env.shopgen(DEPLOY, None);
        assert!(again.status.success(), "{fail}: {}", text(&again));
        let calls = env.calls();
        if phase != "preflight" && phase != "bootstrap" {
            assert!(
                !calls.iter().any(|c| c.contains("-target=")),
                "{fail}: the bootstrap apply ran again:\n{}",
                calls.join("\n")
            );
            assert!(text(&again).contains("done in an earlier run, skipped"));
        }
        if phase == "secret" || phase == "kubernetes" || phase == "smoke" {
            assert!(
                !calls.iter().any(|c| c.contains("docker build")),
                "{fail}: images were rebuilt"
            );
        }
    }
}

#[test]
fn pushed_images_are_not_rebuilt() {
    let env = Env::new(&shop());
    assert!(env.shopgen(DEPLOY, None).status.success());
    // A new run with the same tag (the progress record removed): the registry has both.
    std::fs::remove_file(env.root().join(".shopgen/deploy/shop.json")).unwrap();
    env.clear();
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!env.calls().iter().any(|c| c.contains("docker build")));
    assert!(text(&out).contains("is already in the registry, not rebuilt"));
}

#[test]
fn the_full_apply_is_retried_while_the_managed_service_is_not_visible() {
    let env = Env::new(&shop());
    // Two failures on the managed service: retried, then it goes through.
    std::fs::write(env.dir.path().join("ms_fails"), "2").unwrap();
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
    let full_applies = env
        .calls()
        .iter()
        .filter(|c| c.starts_with("terraform") && c.contains(" apply ") && !c.contains("-target="))
        .count();
    assert_eq!(full_applies, 3);
    assert!(text(&out).contains("managed service is not visible yet"));
    // It gives up after half an hour of attempts a minute apart, with the error.
    let env = Env::new(&shop());
    std::fs::write(env.dir.path().join("ms_fails"), "99").unwrap();
    let out = env.shopgen(DEPLOY, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("error: apply failed"), "{}", text(&out));
    assert!(text(&out).contains("(30/31)"), "{}", text(&out));
    let full_applies = env
        .calls()
        .iter()
        .filter(|c| c.starts_with("terraform") && c.contains(" apply ") && !c.contains("-target="))
        .count();
    assert_eq!(full_applies, 31);
}

#[test]
fn dry_run_prints_the_plan_in_order_and_runs_nothing() {
    let env = Env::new(&shop());
    // No fake tools needed: nothing may run.
    let out = Command::new(env!("CARGO_BIN_EXE_shopgen"))
        .args([
            "deploy",
            "--dry-run",
            "specs/shop.toml",
            "--project",
            "some-project",
            "--image-tag",
            "v1",
        ])
        .current_dir(env.root())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let order = [
        "apply -input=false -auto-approve -var project=some-project -var region=europe-west2 -var image_tag=v1 -var 'gke_node_service_accounts=<node service accounts from gcloud>' -target=google_project_service.apis",
        "docker build -f generated/shop/backend/Dockerfile -t europe-west2-docker.pkg.dev/some-project/shop-api/backend:v1 .",
        "docker push europe-west2-docker.pkg.dev/some-project/shop-api/relay:v1",
        "apply -input=false -auto-approve -var project=some-project -var region=europe-west2 -var image_tag=v1 -var 'gke_node_service_accounts=<node service accounts from gcloud>'\n",
        "newTag: \"v1\"",
        "kubectl apply -k .shopgen/deploy/shop",
        "curl -sS",
    ];
    let mut last = 0;
    for step in order {
        let i = printed
            .find(step)
            .unwrap_or_else(|| panic!("`{step}` missing:\n{printed}"));
        assert!(i >= last, "`{step}` out of order:\n{printed}");
        last = i;
    }
    assert!(printed.contains("skipped (dry run)"));
    assert!(
        !env.root().join(".shopgen").exists(),
        "a dry run writes nothing"
    );
    assert!(env.calls().is_empty());
}

#[test]
fn dry_run_without_a_tag_derives_one_from_git() {
    let env = Env::new(&shop());
    let root = env.root();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(&root)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "x"]);
    let head = git(&["rev-parse", "--short=12", "HEAD"]);
    let plan = |env: &Env| text(&env.shopgen(&["deploy", "--dry-run", "specs/shop.toml"], None));
    let clean = plan(&env);
    assert!(clean.contains(&format!("image tag {head} ")), "{clean}");
    std::fs::write(root.join("notes.txt"), "edit").unwrap();
    let dirty = plan(&env);
    let tag_of = |s: &str| {
        s.split("image tag ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let t1 = tag_of(&dirty);
    assert!(t1.starts_with(&format!("{head}-dirty-")), "{t1}");
    assert_eq!(tag_of(&plan(&env)), t1, "same edits, same tag");
    std::fs::write(root.join("notes.txt"), "other edit").unwrap();
    assert_ne!(tag_of(&plan(&env)), t1, "other edits, other tag");
    assert_eq!(
        git(&["status", "--porcelain"]),
        "?? notes.txt",
        "the index is untouched"
    );
}

#[test]
fn destroy_refuses_without_yes_and_keeps_protected_cloud_sql() {
    let env = Env::new(&shop());
    let out = env.shopgen(&["destroy", "specs/shop.toml", "--image-tag", "v1"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--yes"));
    assert!(env.calls().is_empty(), "nothing ran");

    let sql = shop().replace(
        "secret = { name = \"shop-api-db\", key = \"DATABASE_URL\" }",
        "cloud_sql = { tier = \"db-custom-1-3840\" }",
    );
    let env = Env::new(&sql);
    let out = env.shopgen(
        &["destroy", "specs/shop.toml", "--image-tag", "v1", "--yes"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    let k8s = at(&calls, "kubectl delete -k generated/shop/k8s");
    let destroy = at(&calls, "terraform -chdir=generated/shop/terraform destroy");
    assert!(
        k8s < destroy,
        "the Service goes first: it holds the address"
    );
    let d = &calls[destroy];
    assert!(
        d.contains("-target=google_cloud_run_v2_service.relay"),
        "{d}"
    );
    assert!(d.contains("-target=google_apikeys_key.client"), "{d}");
    assert!(!d.contains("google_sql_database_instance"), "{d}");
    assert!(!d.contains("google_project_service"), "{d}");
    assert!(text(&out).contains("deletion_protection = true"));
}

#[test]
fn deploy_with_cloud_sql_copies_the_url_without_printing_it() {
    let sql = shop().replace(
        "secret = { name = \"shop-api-db\", key = \"DATABASE_URL\" }",
        "cloud_sql = { tier = \"db-custom-1-3840\" }",
    );
    let env = Env::new(&sql);
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(!printed.contains("app:pw"), "the URL is never printed");
    let calls = env.calls();
    let create = at(&calls, "create secret generic shop-api-db");
    assert!(calls[create].contains("[stdin:postgres://app:pw@10.1.0.3:5432/shop]"));
    assert!(calls[create].contains("--from-file=DATABASE_URL=/dev/stdin"));
    assert!(at(&calls, "kubectl apply -f -") > create);
}

/// The reference spec with the cluster and the database created by Terraform.
fn empty_project_spec() -> String {
    shop()
        .replace(
            "secret = { name = \"shop-api-db\", key = \"DATABASE_URL\" }",
            "cloud_sql = { tier = \"db-custom-1-3840\" }",
        )
        .replace(
            "cluster = { name = \"shop-cluster\", location = \"europe-west2\" }",
            "cluster = { name = \"shop-gke\", location = \"europe-west2\", create = true }",
        )
}

#[test]
fn the_preflight_says_which_load_balancer_case_the_cluster_is_in() {
    // Subsetting on: the annotation applies; the overlay still sets loadBalancerIP.
    let env = Env::new(&shop());
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_SUBSETTING", "True")]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("cluster shop-cluster: GKE subsetting is on"),
        "{printed}"
    );
    let calls = env.calls();
    let describe = at(&calls, "gcloud container clusters describe shop-cluster");
    assert!(
        calls[describe].contains("--location europe-west2 --project some-project"),
        "{}",
        calls[describe]
    );
    assert!(calls[describe].contains("networkConfig.enableL4ilbSubsetting"));
    let overlay =
        std::fs::read_to_string(env.root().join(".shopgen/deploy/shop/kustomization.yaml"))
            .unwrap();
    assert!(overlay.contains("/spec/loadBalancerIP"), "{overlay}");

    // Subsetting off: said so, and why spec.loadBalancerIP is set.
    let env = Env::new(&shop());
    let printed = text(&env.shopgen(DEPLOY, None));
    assert!(
        printed.contains("GKE subsetting is off; the reserved IP is set as spec.loadBalancerIP"),
        "{printed}"
    );

    // The cluster is missing: stop before anything changes, and say what to do.
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, Some("container clusters describe"));
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("error: preflight failed"), "{printed}");
    assert!(
        printed.contains("existing cluster shop-cluster"),
        "{printed}"
    );
    assert!(printed.contains("create = true"), "{printed}");
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.starts_with("terraform -chdir"))
    );
}

#[test]
fn an_empty_project_needs_no_cluster_and_no_database_beforehand() {
    let env = Env::new(&empty_project_spec());
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let calls = env.calls();
    // Nothing is looked up that Terraform creates.
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("container clusters describe")),
        "{}",
        calls.join("\n")
    );
    assert!(!calls.iter().any(|c| c.contains("get secret")));
    // Terraform grants its own node account; no existing one is looked up.
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("gke_node_service_accounts"))
    );
    assert!(
        printed.contains("cluster shop-gke is created by Terraform with GKE subsetting"),
        "{printed}"
    );
    // The cluster exists only after the full apply: credentials come after it.
    let apply = at(&calls, FULL_APPLY);
    let creds = at(
        &calls,
        "gcloud container clusters get-credentials shop-gke --location europe-west2 --project some-project",
    );
    assert!(apply < creds, "{}", calls.join("\n"));
    // The database URL comes from Secret Manager into the Secret, then the rollout.
    let secret = at(
        &calls,
        "gcloud secrets versions access latest --secret=shop-api-db",
    );
    assert!(apply < secret && secret < at(&calls, "kubectl apply -k"));
}

#[test]
fn the_project_and_region_overrides_reach_every_command() {
    let env = Env::new(&shop());
    let out = env.shopgen(
        &[
            "deploy",
            "specs/shop.toml",
            "--project",
            "other-project",
            "--region",
            "europe-west1",
            "--image-tag",
            "v1",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    // The spec's project appears nowhere; the override everywhere it is needed.
    assert!(
        !calls.iter().any(|c| c.contains("acme-shop-staging")),
        "{}",
        calls.join("\n")
    );
    for needle in [
        "gcloud projects describe other-project",
        "gcloud billing projects describe other-project",
        "-var project=other-project -var region=europe-west1 -var image_tag=v1 -var gke_node_service_accounts=[\"123456789012-compute@developer.gserviceaccount.com\"] -target=",
        "docker push europe-west1-docker.pkg.dev/other-project/shop-api/backend:v1",
        "gcloud auth configure-docker europe-west1-docker.pkg.dev",
        "get-credentials shop-cluster --location europe-west2 --project other-project",
    ] {
        at(&calls, needle);
    }
    let overlay =
        std::fs::read_to_string(env.root().join(".shopgen/deploy/shop/kustomization.yaml"))
            .unwrap();
    assert!(
        overlay.contains("newName: europe-west1-docker.pkg.dev/other-project/shop-api/backend\n"),
        "{overlay}"
    );
}

#[test]
fn cloud_build_runs_as_the_build_account_with_the_ignore_file() {
    let env = Env::new(&shop());
    let mut args = DEPLOY.to_vec();
    args.extend(["--builder", "cloud-build"]);
    let out = env.shopgen(&args, None);
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    assert!(
        !calls.iter().any(|c| c.starts_with("docker ")),
        "no local Docker"
    );
    // The account is the one Terraform creates in the bootstrap apply.
    let iam = std::fs::read_to_string(env.root().join("generated/shop/terraform/iam.tf")).unwrap();
    assert!(iam.contains("account_id   = \"shop-api-build\""), "{iam}");
    let bootstrap = at(&calls, "-target=google_service_account.build");
    let submit = at(
        &calls,
        "gcloud builds submit --project some-project --region europe-west2 \
         --config generated/shop/cloudbuild/cloudbuild.yaml \
         --ignore-file generated/shop/cloudbuild/gcloudignore \
         --service-account projects/some-project/serviceAccounts/shop-api-build@some-project.iam.gserviceaccount.com \
         --substitutions _IMAGE_REPOSITORY=europe-west2-docker.pkg.dev/some-project/shop-api,_TAG=v1 .",
    );
    assert!(bootstrap < submit && submit < at(&calls, FULL_APPLY));
    for f in ["cloudbuild/cloudbuild.yaml", "cloudbuild/gcloudignore"] {
        assert!(env.root().join("generated/shop").join(f).is_file(), "{f}");
    }
}

#[test]
fn latest_and_malformed_tags_are_refused() {
    let env = Env::new(&shop());
    for tag in ["latest", "a:b", ".x"] {
        let out = env.shopgen(
            &[
                "deploy",
                "specs/shop.toml",
                "--project",
                "p",
                "--image-tag",
                tag,
            ],
            None,
        );
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(1), "{tag}: {printed}");
        assert!(printed.contains("not an immutable image tag"), "{printed}");
    }
    assert!(env.calls().is_empty(), "nothing ran");
}

#[test]
fn status_reads_the_outputs_shows_the_backend_and_calls_the_gateway() {
    let env = Env::new(&shop());
    let out = env.shopgen(
        &["status", "specs/shop.toml", "--project", "some-project"],
        None,
    );
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("https://shop-api-gateway-1a2b.nw.gateway.dev"));
    assert!(printed.contains("10.154.0.23"), "{printed}");
    let calls = env.calls();
    let get = at(
        &calls,
        "kubectl -n shop get deployment/shop-api service/shop-api",
    );
    assert!(get < at(&calls, "curl -sS"));
    assert!(
        !calls
            .iter()
            .any(|c| c.contains(" apply") || c.contains("docker"))
    );
    // A smoke test that fails makes status fail.
    env.clear();
    let out = env.shopgen(&["status", "specs/shop.toml"], Some("curl -sS"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// What the issue's reviewers run: the reference spec, a project override, no tag
/// (derived from git), and nothing but git on PATH.
#[test]
fn the_dry_run_of_the_reference_spec_lists_the_phases_in_order_offline() {
    let env = Env::new(&shop());
    let root = env.root();
    let git_path = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("git"))
                .find(|p| p.is_file())
        })
        .expect("git");
    let only_git = env.dir.path().join("only-git");
    std::fs::create_dir_all(&only_git).unwrap();
    std::os::unix::fs::symlink(&git_path, only_git.join("git")).unwrap();
    let git = |args: &[&str]| {
        let o = Command::new(&git_path)
            .args(args)
            .current_dir(&root)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "x"]);
    let tag = git(&["rev-parse", "--short=12", "HEAD"]);
    let out = Command::new(env!("CARGO_BIN_EXE_shopgen"))
        .args([
            "deploy",
            "--dry-run",
            "specs/shop.toml",
            "--project",
            "some-project",
        ])
        .current_dir(&root)
        .env("PATH", &only_git)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let repo = "europe-west2-docker.pkg.dev/some-project/shop-api";
    let vars = format!(
        "-var project=some-project -var region=europe-west2 -var image_tag={tag} -var 'gke_node_service_accounts=<node service accounts from gcloud>'"
    );
    let order = [
        format!(
            "$ terraform -chdir=generated/shop/terraform apply -input=false -auto-approve {vars} -target=google_project_service.apis -target=google_artifact_registry_repository.images"
        ),
        format!(
            "$ DOCKER_BUILDKIT=1 docker build -f generated/shop/backend/Dockerfile -t {repo}/backend:{tag} ."
        ),
        format!("$ docker push {repo}/backend:{tag}"),
        format!(
            "$ DOCKER_BUILDKIT=1 docker build -f generated/shop/relay/Dockerfile -t {repo}/relay:{tag} ."
        ),
        format!("$ docker push {repo}/relay:{tag}"),
        format!(
            "$ terraform -chdir=generated/shop/terraform apply -input=false -auto-approve {vars}\n"
        ),
        format!("newName: {repo}/backend\n"),
        format!("newTag: \"{tag}\""),
        "$ kubectl apply -k .shopgen/deploy/shop".to_string(),
        "$ kubectl -n shop rollout status deployment/shop-api".to_string(),
        "$ curl -sS".to_string(),
    ];
    let mut last = 0;
    for step in &order {
        let i = printed[last..]
            .find(step.as_str())
            .map(|i| i + last)
            .unwrap_or_else(|| panic!("`{step}` missing or out of order:\n{printed}"));
        last = i;
    }
    assert!(
        printed.contains(&format!("image tag {tag} (dry run")),
        "{printed}"
    );
    assert!(printed.contains("skipped (dry run)"), "{printed}");
    assert!(!root.join(".shopgen").exists(), "a dry run writes nothing");
}

/// docs/deploy.md shows the dry run of the reference spec: every command in it is
/// one `shopgen deploy` runs today, and every command deploy runs is in it. It also
/// accounts for each problem of the deploy review.
#[test]
fn the_deploy_page_shows_the_commands_deploy_runs() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy.md"))
            .unwrap();
    let env = Env::new(&shop());
    let out = env.shopgen(
        &[
            "deploy",
            "--dry-run",
            "specs/shop.toml",
            "--project",
            "my-shop-prod",
            "--image-tag",
            "3f2a9c1d4e5b",
        ],
        None,
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    let transcript = doc
        .split("```text\nshopgen deploy specs/shop.toml: project my-shop-prod")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .map(|t| format!("shopgen deploy specs/shop.toml: project my-shop-prod{t}\n"))
        .expect("docs/deploy.md has the dry-run transcript");
    assert_eq!(
        transcript, printed,
        "docs/deploy.md: the dry-run transcript is out of date"
    );
    for n in 1..=12 {
        assert!(
            doc.contains(&format!("\n| {n} | ")),
            "docs/deploy.md: deploy problem {n} is not accounted for"
        );
    }
}

#[test]
fn the_existing_clusters_node_accounts_may_pull_the_images() {
    // `default` (cluster and pool): the Compute Engine default account of the project.
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains(&format!("the cluster's nodes run as {NODES};")),
        "{printed}"
    );
    let calls = env.calls();
    for apply in [at(&calls, "-target="), at(&calls, FULL_APPLY)] {
        assert!(
            calls[apply].contains(&format!("-var {}", nodes_var())),
            "{}",
            calls[apply]
        );
    }
    // Node pools with accounts of their own: every account once, in order.
    let env = Env::new(&shop());
    let pools = "default\\tgke-nodes@some-project.iam.gserviceaccount.com;default;batch@some-project.iam.gserviceaccount.com";
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_NODE_SA", pools)]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    let expected = format!(
        "-var gke_node_service_accounts=[\"{NODES}\",\"gke-nodes@some-project.iam.gserviceaccount.com\",\"batch@some-project.iam.gserviceaccount.com\"]"
    );
    assert!(
        calls[at(&calls, FULL_APPLY)].ends_with(&expected),
        "{}",
        calls[at(&calls, FULL_APPLY)]
    );
    // Named by the user already: left to Terraform's environment variable.
    let env = Env::new(&shop());
    let out = env.shopgen_env(
        DEPLOY,
        None,
        &[(
            "TF_VAR_gke_node_service_accounts",
            "[\"gke-nodes@x.iam.gserviceaccount.com\"]",
        )],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("given in TF_VAR_gke_node_service_accounts"));
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.contains("-var gke_node_service_accounts"))
    );
    // Unknown (no node config, or something that is not an account): no grant, and
    // the user is told what to set.
    for reported in ["", "default;not an account"] {
        let env = Env::new(&shop());
        let out = env.shopgen_env(DEPLOY, None, &[("FAKE_NODE_SA", reported)]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("set TF_VAR_gke_node_service_accounts"),
            "{}",
            text(&out)
        );
        assert!(
            !env.calls()
                .iter()
                .any(|c| c.contains("gke_node_service_accounts")),
            "{reported:?}"
        );
    }
    // The accounts are a variable of the generated Terraform, each granted read access.
    let registry =
        std::fs::read_to_string(env.root().join("generated/shop/terraform/registry.tf")).unwrap();
    assert!(
        registry.contains("for_each = toset(var.gke_node_service_accounts)")
            && registry.contains("member     = \"serviceAccount:${each.value}\""),
        "{registry}"
    );
}
