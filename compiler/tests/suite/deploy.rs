//! `shopgen deploy`, `destroy` and `status` against fake `terraform`, `gcloud`,
//! `kubectl`, `docker` and `curl` put first on `PATH`: each records its argv, a few
//! environment variables and its stdin, answers like the real tool (keeping what it
//! created, a bucket or a namespace, as files in the fake's folder), and fails when
//! its command line contains `FAKE_FAIL`. Other `FAKE_*` variables shape its answers
//! (the cluster's subnetwork, endpoint and ranges, the network's subnetworks, a
//! bucket that exists, what is left in a namespace, a transient error). The tests
//! check the order of the phases, the arguments (pinned tag, reserved IP patch,
//! project override, gateway region, state bucket, endpoint flag, kubeconfig), that
//! a failure at each phase stops with a clear message and exit code 1, and that a
//! rerun resumes.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::{Project, Run, project, repo_file, shop_src, shopgen, tool};

/// The fake tool: one script, linked under each tool's name.
const FAKE: &str = r#"#!/usr/bin/env bash
tool=$(basename "$0")
line="$tool $*"
input=""
if [ ! -t 0 ]; then input=$(cat); fi
{
  printf '%s' "$line"
  [ -n "$DOCKER_BUILDKIT" ] && printf ' [DOCKER_BUILDKIT=%s]' "$DOCKER_BUILDKIT"
  [ -n "$KUBECONFIG" ] && printf ' [KUBECONFIG=%s]' "$KUBECONFIG"
  [ -n "$input" ] && printf ' [stdin:%s]' "$(printf '%s' "$input" | head -c 200 | tr '\n' '|')"
  printf '\n'
} >> "$FAKE_LOG"
if [ -n "$FAKE_FAIL" ] && [[ "$line" == *"$FAKE_FAIL"* ]]; then
  echo "fake $tool: failing as told ($FAKE_FAIL)" >&2
  exit 1
fi
# A transient error: FAKE_ERR on stderr for the next N (file errs) calls matching
# FAKE_ERR_ON ("full apply": the untargeted terraform apply).
err_on() {
  if [ "$FAKE_ERR_ON" = "full apply" ]; then
    [[ "$line" == "terraform "*" apply "* && "$line" != *"-target="* ]]
  else
    [[ "$line" == *"$FAKE_ERR_ON"* ]]
  fi
}
if [ -n "$FAKE_ERR_ON" ] && err_on && [ -f "$FAKE_DIR/errs" ]; then
  n=$(cat "$FAKE_DIR/errs")
  if [ "$n" -gt 0 ]; then
    echo $((n - 1)) > "$FAKE_DIR/errs"
    printf '%b\n' "$FAKE_ERR" >&2
    exit 1
  fi
fi
if [[ "$line" == "terraform "*" apply "* && "$line" != *"-target="* && -n "$FAKE_FULL_APPLY_ERR" ]]; then
  printf '%b\n' "$FAKE_FULL_APPLY_ERR" >&2
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
  # Terraform leaves a migrated local state file empty.
  "terraform "*" init "*"-migrate-state"*) : > "${1#-chdir=}/terraform.tfstate" ;;
  "terraform "*" output -json") cat "$FAKE_DIR/outputs.json" ;;
  "terraform "*" output -raw api_key") printf 'key-123' ;;
  "terraform "*" state list") printf 'data.google_compute_network.vpc\ngoogle_sql_database_instance.db\ngoogle_cloud_run_v2_service.relay\ngoogle_apikeys_key.client\ngoogle_project_service.apis\n' ;;
  "gcloud version"*) echo "530.0.0" ;;
  "gcloud auth list"*) echo "dev@example.com" ;;
  "gcloud auth application-default print-access-token") echo "ya29.token" ;;
  "gcloud projects describe"*) echo "123456789012" ;;
  "gcloud billing projects describe"*) echo "True" ;;
  "gcloud container clusters describe"*"nodeConfig.serviceAccount"*) printf '%b\n' "${FAKE_NODE_SA-default\tdefault}" ;;
  "gcloud container clusters describe"*"value(subnetwork)"*) echo "${FAKE_SUBNET:-default}" ;;
  "gcloud container clusters describe"*"enablePrivateEndpoint"*) printf '%b\n' "${FAKE_PRIVATE:-}" ;;
  "gcloud container clusters describe"*"clusterIpv4Cidr"*) printf '%b\n' "${FAKE_CLUSTER_RANGES-10.100.0.0/14\t10.104.0.0/20}" ;;
  "gcloud container clusters describe"*) echo "${FAKE_SUBSETTING:-}" ;;
  "gcloud container clusters get-credentials"*)
    f="${KUBECONFIG:-$HOME/.kube/config}"; mkdir -p "$(dirname "$f")"; echo "apiVersion: v1" > "$f" ;;
  "gcloud compute addresses list"*)
    if [ -f "$FAKE_DIR/addresses.json" ]; then cat "$FAKE_DIR/addresses.json"; else echo '[]'; fi ;;
  "gcloud compute networks subnets list"*)
    if [ -n "$FAKE_COMPUTE_DISABLED" ]; then
      echo "ERROR: (gcloud.compute.networks.subnets.list) Compute Engine API has not been used in project 123 before or it is disabled. reason: SERVICE_DISABLED" >&2; exit 1
    fi
    cat "$FAKE_DIR/subnets.json" ;;
  "gcloud services enable"*) echo "Operation finished successfully." ;;
  "gcloud storage buckets describe"*)
    b="${4#gs://}"
    if [ -n "$FAKE_BUCKET_DENIED" ]; then
      echo "ERROR: (gcloud.storage.buckets.describe) HTTPError 403: dev@example.com does not have storage.buckets.get access to the Google Cloud Storage bucket." >&2; exit 1
    fi
    if [ -f "$FAKE_DIR/bucket-$b" ] || [ -n "$FAKE_BUCKET_EXISTS" ]; then
      if [ -f "$FAKE_DIR/versioned-$b" ] || [ "$FAKE_BUCKET_EXISTS" = versioned ]; then printf '%s\tTrue\n' "$b"; else printf '%s\t\n' "$b"; fi
    else
      echo "ERROR: (gcloud.storage.buckets.describe) gs://$b not found: 404." >&2; exit 1
    fi ;;
  "gcloud storage buckets create"*) touch "$FAKE_DIR/bucket-${4#gs://}" ;;
  "gcloud storage buckets update"*"--versioning"*) touch "$FAKE_DIR/versioned-${4#gs://}" ;;
  "gcloud builds submit"*"--region"*)
    if [ -n "$FAKE_BUILD_REGION_REFUSED" ]; then
      echo "ERROR: (gcloud.builds.submit) FAILED_PRECONDITION: failed precondition: due to quota restrictions, cannot run builds in this region. Please contact support" >&2; exit 1
    fi ;;
  "gcloud artifacts docker images describe"*)
    if [ -f "$FAKE_DIR/pushed" ] && grep -qF "$5" "$FAKE_DIR/pushed"; then echo "sha256:abc"; else echo "not found" >&2; exit 1; fi ;;
  "gcloud secrets versions access"*) printf 'postgres://app:pw@10.1.0.3:5432/shop' ;;
  "docker version"*) echo "28.0.1" ;;
  "docker push "*) echo "$2" >> "$FAKE_DIR/pushed" ;;
  "kubectl version"*) echo "Client Version: v1.33.2" ;;
  "kubectl "*"create secret"*) printf 'apiVersion: v1\nkind: Secret\n' ;;
  "kubectl get namespace "*)
    if [ -f "$FAKE_DIR/ns" ] || [ -n "$FAKE_NS_EXISTS" ]; then echo "namespace/$3"; else
      echo "Error from server (NotFound): namespaces \"$3\" not found" >&2; exit 1
    fi ;;
  "kubectl apply -f "*"/namespace.yaml") touch "$FAKE_DIR/ns" ;;
  "kubectl "*" get all,secrets,configmaps -o name") printf '%b\n' "${FAKE_NS_LEFT-configmap/kube-root-ca.crt}" ;;
  "kubectl delete namespace "*) rm -f "$FAKE_DIR/ns" ;;
  "curl --version") echo "curl ${FAKE_CURL_VERSION:-8.5.0} (x86_64-pc-linux-gnu) libcurl/${FAKE_CURL_VERSION:-8.5.0}" ;;
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

/// The network's subnetworks the fake gcloud lists: a new project's `default` network
/// in the reference spec's region.
const SUBNETS: &str = r#"[{"name": "default", "region": "https://www.googleapis.com/compute/v1/projects/some-project/regions/europe-west2", "ipCidrRange": "10.154.0.0/20", "secondaryIpRanges": []}]"#;

/// A scratch folder: the checkout `repo/` with the spec built into `generated/shop`,
/// the fake tools in `bin/`, what they answer from, and the log of their calls.
struct Env {
    dir: Project,
}

impl Env {
    /// A checkout with `spec` built into `generated/shop`, and the fake tools.
    fn new(spec: &str) -> Env {
        let dir = project()
            .file("repo/specs/shop.toml", spec)
            .file("bin/fake-tool", FAKE)
            .file("outputs.json", OUTPUTS)
            .file("subnets.json", SUBNETS)
            .build();
        dir.shopgen(["build", "specs/shop.toml"])
            .cwd(dir.path("repo"))
            .ok();
        let bin = dir.path("bin");
        let fake = bin.join("fake-tool");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        for tool in ["terraform", "gcloud", "kubectl", "docker", "curl"] {
            std::os::unix::fs::symlink(&fake, bin.join(tool)).unwrap();
        }
        std::fs::create_dir_all(dir.path("home")).unwrap();
        Env { dir }
    }
    fn root(&self) -> PathBuf {
        self.dir.path("repo")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.path("calls.log")
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
    fn shopgen(&self, args: &[&str], fail: Option<&str>) -> Run {
        self.shopgen_env(args, fail, &[])
    }
    /// [`Env::shopgen`] with extra environment for the fake tools.
    fn shopgen_env(&self, args: &[&str], fail: Option<&str>, vars: &[(&str, &str)]) -> Run {
        let path = format!(
            "{}:{}",
            self.dir.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = shopgen(args)
            .cwd(self.root())
            .env("PATH", path)
            .env("FAKE_LOG", self.log_path())
            .env("FAKE_DIR", self.dir.root())
            .env("SHOPGEN_DEPLOY_RETRY_SECONDS", "0")
            // The user's home: deploy must not write a kubeconfig there.
            .env("HOME", self.dir.path("home"))
            .env_remove("KUBECONFIG")
            .env_remove("DOCKER_BUILDKIT")
            .env_remove("TF_VAR_gke_node_service_accounts");
        for (k, _) in std::env::vars() {
            if k.starts_with("FAKE_") {
                c = c.env_remove(k);
            }
        }
        c = c.envs(vars.iter().copied());
        c = match fail {
            Some(f) => c.env("FAKE_FAIL", f),
            None => c.env_remove("FAKE_FAIL"),
        };
        c.run()
    }
}

fn shop() -> String {
    shop_src()
}

/// What a finished command printed: stdout, then stderr.
trait Printed {
    fn printed(&self) -> String;
}

impl Printed for Output {
    fn printed(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

impl Printed for Run {
    fn printed(&self) -> String {
        self.text()
    }
}

fn text(o: &impl Printed) -> String {
    o.printed()
}

/// Stands for the full (untargeted) `terraform apply` in [`at`].
const FULL_APPLY: &str = "<full apply>";

/// The index of the first call containing `needle`.
fn at(calls: &[String], needle: &str) -> usize {
    calls
        .iter()
        .position(|c| {
            if needle == FULL_APPLY {
                c.starts_with("terraform -chdir=generated/shop/terraform apply -input=false -auto-approve -var project=some-project -var region=europe-west2 -var gateway_region=europe-west2 -var image_tag=v1")
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
        "gcloud compute networks subnets list --network default --project some-project",
        "gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com storage.googleapis.com --project some-project",
        "gcloud storage buckets describe gs://some-project-shop-api-tfstate",
        "terraform -chdir=generated/shop/terraform init -input=false -backend-config=bucket=some-project-shop-api-tfstate -backend-config=prefix=shop",
        "-target=google_project_service.apis -target=google_project_service_identity.agents -target=google_artifact_registry_repository.images",
        &format!(
            "docker build --platform linux/amd64 -f generated/shop/backend/Dockerfile -t {image}/backend:v1 . [DOCKER_BUILDKIT=1]"
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
    let Some(kubectl) = tool("kubectl", "https://kubernetes.io/docs/tasks/tools/") else {
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
    let Some(validate) = tool("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    let docs = env.dir.path("rendered");
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

/// The phases after the preflight, in order.
const PHASES: [&str; 6] = [
    "bootstrap",
    "images",
    "apply",
    "secret",
    "kubernetes",
    "smoke",
];

/// Whether the run said that `phase` was done in an earlier run.
fn skipped(printed: &str, phase: &str) -> bool {
    printed.lines().any(|l| {
        l.contains(&format!("] {phase}: ")) && l.ends_with("done in an earlier run, skipped")
    })
}

#[test]
fn a_failure_at_any_phase_stops_there_and_a_rerun_resumes() {
    let reference = shop();
    let empty = empty_project_spec();
    let unknown = "Error: Error creating Connector: googleapi: Error 400: The IP range overlaps";
    // (spec, FAKE_FAIL, other fake variables, the phase that fails, a command that
    // must not run after the failure)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            &reference,
            Some("billing projects describe"),
            vec![],
            "preflight",
            "terraform -chdir",
        ),
        (
            &reference,
            None,
            vec![("FAKE_SUBNET", "other-subnet")],
            "preflight",
            "services enable",
        ),
        (
            &reference,
            Some("subnets list"),
            vec![],
            "preflight",
            "services enable",
        ),
        (
            &reference,
            Some("services enable"),
            vec![],
            "preflight",
            "storage buckets",
        ),
        (
            &reference,
            Some("storage buckets create"),
            vec![],
            "preflight",
            "terraform -chdir",
        ),
        (
            &reference,
            Some("storage buckets update"),
            vec![],
            "preflight",
            "terraform -chdir",
        ),
        (
            &reference,
            Some(" init -input=false"),
            vec![],
            "bootstrap",
            "-target=",
        ),
        (
            &reference,
            Some("-target=google_project_service.apis"),
            vec![],
            "bootstrap",
            "docker build",
        ),
        (
            &reference,
            Some("docker build"),
            vec![],
            "images",
            "docker push",
        ),
        (
            &reference,
            Some("docker push"),
            vec![],
            "images",
            "output -json",
        ),
        (
            &reference,
            None,
            vec![("FAKE_FULL_APPLY_ERR", unknown)],
            "apply",
            "output -json",
        ),
        (
            &reference,
            Some("output -json"),
            vec![],
            "apply",
            "get-credentials",
        ),
        (
            &reference,
            Some("get-credentials"),
            vec![],
            "secret",
            "namespace.yaml",
        ),
        (
            &reference,
            Some("get namespace"),
            vec![],
            "secret",
            "namespace.yaml",
        ),
        (
            &reference,
            Some("namespace.yaml"),
            vec![],
            "secret",
            "get secret",
        ),
        (
            &reference,
            Some("get secret"),
            vec![],
            "secret",
            "kubectl apply -k",
        ),
        (
            &reference,
            Some("apply -k"),
            vec![],
            "kubernetes",
            "rollout status",
        ),
        (
            &reference,
            Some("rollout status"),
            vec![],
            "kubernetes",
            "curl -sS",
        ),
        (&reference, Some("curl -sS"), vec![], "smoke", "nothing"),
        (
            &empty,
            Some("get-credentials"),
            vec![],
            "secret",
            "get namespace",
        ),
        (
            &empty,
            Some("secrets versions access"),
            vec![],
            "secret",
            "create secret",
        ),
        (&empty, Some("label secret"), vec![], "secret", "apply -k"),
    ];
    for (spec, fail, vars, phase, not_after) in cases {
        let what = format!("{fail:?} {vars:?}");
        let env = Env::new(spec);
        let out = env.shopgen_env(DEPLOY, fail, &vars);
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {printed}");
        assert!(
            printed.contains(&format!("error: {phase} failed")),
            "{what}: {printed}"
        );
        let calls = env.calls();
        assert!(
            !calls.iter().any(|c| c.contains(not_after)),
            "{what}: ran `{not_after}` after the failure:\n{}",
            calls.join("\n")
        );
        // Rerun without the failure: it resumes at the phase that failed, with the
        // same tag; the phases before it are not repeated.
        env.clear();
        let again = env.shopgen(DEPLOY, None);
        let printed = text(&again);
        assert!(again.status.success(), "{what}: {printed}");
        assert!(printed.contains("image tag v1"), "{what}: {printed}");
        let failed_at = PHASES.iter().position(|p| *p == phase);
        for (i, p) in PHASES.iter().enumerate() {
            let before = failed_at.is_some_and(|f| i < f);
            let always = *p == "kubernetes" || *p == "smoke";
            assert_eq!(
                skipped(&printed, p),
                before && !always,
                "{what}: phase {p} after a failure at {phase}:\n{printed}"
            );
        }
        let calls = env.calls();
        if failed_at.is_some_and(|f| f > 1) {
            assert!(
                !calls.iter().any(|c| c.contains("docker build")),
                "{what}: images were rebuilt"
            );
        }
        if fail == Some("storage buckets update") {
            // The bucket exists, unversioned: the rerun finishes the job.
            at(
                &calls,
                "gcloud storage buckets update gs://some-project-shop-api-tfstate --versioning",
            );
            assert!(!calls.iter().any(|c| c.contains("buckets create")));
        }
    }
}

/// Deploy's own files (the record, the overlay, the kubeconfig) are ignored by git in
/// a real checkout: a rerun derives the same tag and resumes.
#[test]
fn a_rerun_without_an_image_tag_resumes_with_the_same_tag() {
    let env = Env::new(&shop());
    let root = env.root();
    std::fs::write(root.join(".gitignore"), ".shopgen/\n").unwrap();
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
    let args = ["deploy", "specs/shop.toml", "--project", "some-project"];
    let out = env.shopgen(&args, Some("rollout status"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("image tag {head}")));
    env.clear();
    let again = env.shopgen(&args, None);
    let printed = text(&again);
    assert!(again.status.success(), "{printed}");
    assert!(printed.contains(&format!("image tag {head},")), "{printed}");
    for p in ["bootstrap", "images", "apply", "secret"] {
        assert!(skipped(&printed, p), "{p}: {printed}");
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
    std::fs::write(env.dir.path("ms_fails"), "2").unwrap();
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
    std::fs::write(env.dir.path("ms_fails"), "99").unwrap();
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
    let out = shopgen([
        "deploy",
        "--dry-run",
        "specs/shop.toml",
        "--project",
        "some-project",
        "--image-tag",
        "v1",
    ])
    .cwd(env.root())
    .env("PATH", "/nonexistent")
    .run();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let order = [
        "apply -input=false -auto-approve -var project=some-project -var region=europe-west2 -var gateway_region=europe-west2 -var image_tag=v1 -var 'gke_node_service_accounts=<node service accounts from gcloud>' -target=google_project_service.apis",
        "docker build --platform linux/amd64 -f generated/shop/backend/Dockerfile -t europe-west2-docker.pkg.dev/some-project/shop-api/backend:v1 .",
        "docker push europe-west2-docker.pkg.dev/some-project/shop-api/relay:v1",
        "apply -input=false -auto-approve -var project=some-project -var region=europe-west2 -var gateway_region=europe-west2 -var image_tag=v1 -var 'gke_node_service_accounts=<node service accounts from gcloud>'\n",
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
    let k8s = at(
        &calls,
        "kubectl delete deployment,service,serviceaccount,poddisruptionbudget,horizontalpodautoscaler,secret -n shop -l app.kubernetes.io/managed-by=shopgen,app.kubernetes.io/part-of=shop-api --ignore-not-found --wait --cascade=foreground",
    );
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
        // A created cluster gets a subnetwork of its own (`shop-api-gke`).
        .replace("subnetwork = \"default\"\n", "")
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
        // --region does not move the gateway: API Gateway runs in fewer regions.
        "-var project=other-project -var region=europe-west1 -var gateway_region=europe-west2 -var image_tag=v1 -var gke_node_service_accounts=[\"123456789012-compute@developer.gserviceaccount.com\"] -target=",
        "gcloud storage buckets create gs://other-project-shop-api-tfstate --project other-project --location europe-west1",
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
    let only_git = env.dir.path("only-git");
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
    let out = shopgen([
        "deploy",
        "--dry-run",
        "specs/shop.toml",
        "--project",
        "some-project",
    ])
    .cwd(&root)
    .env("PATH", &only_git)
    .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
    .run();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let repo = "europe-west2-docker.pkg.dev/some-project/shop-api";
    let vars = format!(
        "-var project=some-project -var region=europe-west2 -var gateway_region=europe-west2 -var image_tag={tag} -var 'gke_node_service_accounts=<node service accounts from gcloud>'"
    );
    let order = [
        "$ gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com storage.googleapis.com --project some-project".to_string(),
        "$ gcloud storage buckets create gs://some-project-shop-api-tfstate --project some-project --location europe-west2 --uniform-bucket-level-access --public-access-prevention".to_string(),
        "$ gcloud storage buckets update gs://some-project-shop-api-tfstate --versioning".to_string(),
        "$ terraform -chdir=generated/shop/terraform init -input=false -backend-config=bucket=some-project-shop-api-tfstate -backend-config=prefix=shop".to_string(),
        format!(
            "$ terraform -chdir=generated/shop/terraform apply -input=false -auto-approve {vars} -target=google_project_service.apis -target=google_project_service_identity.agents -target=google_artifact_registry_repository.images"
        ),
        format!(
            "$ DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f generated/shop/backend/Dockerfile -t {repo}/backend:{tag} ."
        ),
        format!("$ docker push {repo}/backend:{tag}"),
        format!(
            "$ DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f generated/shop/relay/Dockerfile -t {repo}/relay:{tag} ."
        ),
        format!("$ docker push {repo}/relay:{tag}"),
        format!(
            "$ terraform -chdir=generated/shop/terraform apply -input=false -auto-approve {vars}\n"
        ),
        format!("newName: {repo}/backend\n"),
        format!("newTag: \"{tag}\""),
        "$ KUBECONFIG=.shopgen/deploy/shop/kubeconfig kubectl apply -k .shopgen/deploy/shop".to_string(),
        "$ KUBECONFIG=.shopgen/deploy/shop/kubeconfig kubectl -n shop rollout status deployment/shop-api".to_string(),
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
    let doc = repo_file("docs/deploy.md");
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
    let printed = out.stdout.clone();
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
    // The options table lists API Gateway's regions: the ones deploy accepts.
    let row = doc
        .lines()
        .find(|l| l.starts_with("| `--gateway-region G` |"))
        .expect("docs/deploy.md documents --gateway-region");
    let listed = row.matches("-west").count()
        + row.matches("-east").count()
        + row.matches("-central").count()
        + row.matches("-north").count()
        + row.matches("-south").count();
    assert_eq!(
        listed,
        shopgen_facts::gcp::API_GATEWAY_REGIONS.len(),
        "{row}"
    );
    for region in shopgen_facts::gcp::API_GATEWAY_REGIONS {
        assert!(
            row.contains(region),
            "docs/deploy.md: --gateway-region omits {region}"
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

/// Every call of `tool` (`kubectl`, or `gcloud` with `sub`) in the log.
fn calls_of<'a>(calls: &'a [String], prefix: &str) -> Vec<&'a String> {
    calls.iter().filter(|c| c.starts_with(prefix)).collect()
}

#[test]
fn the_apis_terraform_needs_are_enabled_before_the_first_terraform_call() {
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    let billing = at(&calls, "gcloud billing projects describe some-project");
    let enable = at(
        &calls,
        "gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com storage.googleapis.com --project some-project",
    );
    let first_terraform = calls
        .iter()
        .position(|c| c.starts_with("terraform -chdir"))
        .unwrap();
    assert!(
        billing < enable && enable < first_terraform,
        "{}",
        calls.join("\n")
    );
    // Without the permission: the hint names the roles, and Terraform never runs.
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, Some("services enable"));
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    for role in [
        "roles/serviceusage.serviceUsageAdmin",
        "roles/serviceusage.serviceUsageConsumer",
        "roles/iam.serviceAccountAdmin",
        "Owner",
    ] {
        assert!(printed.contains(role), "{role}: {printed}");
    }
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.starts_with("terraform -chdir"))
    );
}

#[test]
fn the_state_goes_to_a_versioned_bucket_that_destroy_and_status_read_too() {
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let calls = env.calls();
    let bucket = "gs://some-project-shop-api-tfstate";
    let init = "terraform -chdir=generated/shop/terraform init -input=false -backend-config=bucket=some-project-shop-api-tfstate -backend-config=prefix=shop";
    let order = [
        format!("gcloud storage buckets describe {bucket} --project some-project"),
        format!(
            "gcloud storage buckets create {bucket} --project some-project --location europe-west2 --uniform-bucket-level-access --public-access-prevention"
        ),
        format!("gcloud storage buckets update {bucket} --versioning"),
        init.to_string(),
    ];
    let mut last = 0;
    for step in &order {
        let i = at(&calls, step);
        assert!(i >= last, "`{step}` out of order:\n{}", calls.join("\n"));
        last = i;
    }
    // Every init is the same one.
    assert!(
        calls_of(&calls, "terraform -chdir=generated/shop/terraform init")
            .iter()
            .all(|c| c.as_str() == init),
        "{}",
        calls.join("\n")
    );
    assert!(
        printed.contains(&format!("state: {bucket}/shop")),
        "{printed}"
    );

    // The next run finds the bucket, versioned: nothing is created or changed.
    std::fs::remove_file(env.root().join(".shopgen/deploy/shop.json")).unwrap();
    env.clear();
    assert!(env.shopgen(DEPLOY, None).status.success());
    let calls = env.calls();
    at(&calls, "gcloud storage buckets describe");
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("buckets create") || c.contains("buckets update")),
        "{}",
        calls.join("\n")
    );

    // Status and destroy open the same state before reading or destroying it.
    for (args, then) in [
        (
            &["status", "specs/shop.toml", "--project", "some-project"][..],
            "output -json",
        ),
        (
            &[
                "destroy",
                "specs/shop.toml",
                "--project",
                "some-project",
                "--yes",
            ][..],
            "terraform -chdir=generated/shop/terraform destroy",
        ),
    ] {
        env.clear();
        let out = env.shopgen(args, None);
        assert!(out.status.success(), "{}", text(&out));
        let calls = env.calls();
        assert!(at(&calls, init) < at(&calls, then), "{}", calls.join("\n"));
        assert!(!calls.iter().any(|c| c.contains("storage buckets")));
    }

    // A bucket the deploy cannot read (another project's name) stops the preflight.
    let env = Env::new(&shop());
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_BUCKET_DENIED", "1")]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("bucket names are global"), "{printed}");
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.starts_with("terraform -chdir"))
    );

    // A bucket named by the spec and not versioned is used as it is, with a note.
    let env = Env::new(&shop());
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_BUCKET_EXISTS", "1")]);
    assert!(out.status.success(), "{}", text(&out));
    // (named by deploy: versioning is turned on)
    at(
        &env.calls(),
        "gcloud storage buckets update gs://some-project-shop-api-tfstate --versioning",
    );
}

#[test]
fn a_backend_of_the_users_own_goes_in_an_override_file() {
    let backend = "terraform {\n  backend \"gcs\" {\n    bucket = \"team-state\"\n    prefix = \"shop\"\n  }\n}\n";
    // An override file: its backend replaces the generated one; deploy creates no
    // bucket and passes no backend configuration.
    let env = Env::new(&shop());
    let tf = env.root().join("generated/shop/terraform");
    std::fs::write(tf.join("backend_override.tf"), backend).unwrap();
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let calls = env.calls();
    assert!(
        !calls.iter().any(|c| c.contains("storage buckets")),
        "{}",
        calls.join("\n")
    );
    assert!(!calls.iter().any(|c| c.contains("-backend-config")));
    at(
        &calls,
        "terraform -chdir=generated/shop/terraform init -input=false",
    );
    assert!(
        printed.contains("generated/shop/terraform/backend_override.tf: used as it is"),
        "{printed}"
    );
    // The storage API is deploy's need only when it manages the bucket.
    assert!(
        calls[at(&calls, "gcloud services enable")]
            .contains("serviceusage.googleapis.com --project")
    );

    // The same block in a plain file would be a second backend: refused before
    // anything changes, with the rename to make.
    let env = Env::new(&shop());
    let tf = env.root().join("generated/shop/terraform");
    std::fs::write(tf.join("backend.tf"), backend).unwrap();
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("error: preflight failed"), "{printed}");
    assert!(
        printed.contains("generated/shop/terraform/backend.tf declares a backend")
            && printed.contains("rename it to generated/shop/terraform/backend_override.tf"),
        "{printed}"
    );
    assert!(env.calls().is_empty(), "{}", env.calls().join("\n"));
    // Destroy and status refuse it too: they would read another state.
    for cmd in ["status", "destroy"] {
        let out = env.shopgen(&[cmd, "specs/shop.toml", "--yes"], None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("backend_override.tf"));
    }
    assert!(env.calls().is_empty());
}

#[test]
fn local_state_left_from_an_earlier_run_is_moved_into_the_bucket_once() {
    let env = Env::new(&shop());
    let tf = env.root().join("generated/shop/terraform");
    std::fs::write(tf.join("terraform.tfstate"), "{\"version\": 4}").unwrap();
    let out = env.shopgen(DEPLOY, Some("rollout status"));
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    let calls = env.calls();
    let inits = calls_of(&calls, "terraform -chdir=generated/shop/terraform init");
    assert_eq!(inits.len(), 1, "{}", calls.join("\n"));
    assert!(
        inits[0].ends_with(
            "-backend-config=bucket=some-project-shop-api-tfstate -backend-config=prefix=shop -migrate-state -force-copy"
        ),
        "{}",
        inits[0]
    );
    assert!(
        printed.contains("is moved to gs://some-project-shop-api-tfstate/shop"),
        "{printed}"
    );
    // A copy is kept aside; Terraform left the file empty (the fake does as it does).
    assert_eq!(
        std::fs::read_to_string(tf.join("terraform.tfstate.before-migration")).unwrap(),
        "{\"version\": 4}"
    );
    // The rerun's init (the kubernetes phase reads the outputs) moves nothing.
    env.clear();
    assert!(env.shopgen(DEPLOY, None).status.success());
    let calls = env.calls();
    let init = &calls[at(&calls, "terraform -chdir=generated/shop/terraform init")];
    assert!(!init.contains("-migrate-state"), "{init}");
}

/// The applies wait out the first-run errors of the table in `shopgen_deploy::retry`,
/// each up to its own bound, and stop at once on any other.
#[test]
fn first_run_errors_are_waited_out_each_within_its_own_bound() {
    let full = "full apply";
    let cases = [
        (
            full,
            "Error: Error creating Gateway: googleapi: Error 400: API Gateway service agent is missing the required permissions on service account \"projects/-/serviceAccounts/shop-api-gateway@some-project.iam.gserviceaccount.com\".",
            "IAM propagation",
            15,
        ),
        (
            full,
            "Error: Error waiting for Create Service Networking Connection: Error code 7, message: Required 'compute.globalAddresses.list' permission for 'projects/some-project'\n\n  with google_service_networking_connection.sql,",
            "Service Networking",
            10,
        ),
        (
            "-target=",
            "Error: Error creating Repository: googleapi: Error 403: Artifact Registry API has not been used in project 123 before or it is disabled.\nreason: SERVICE_DISABLED",
            "enablement propagation",
            10,
        ),
        (
            full,
            "Error: Error creating Service: googleapi: Error 403: Permission 'iam.serviceaccounts.actAs' denied on service account shop-api-relay@some-project.iam.gserviceaccount.com (or it may not exist).",
            "IAM propagation",
            15,
        ),
    ];
    for (on, err, waiting, bound) in cases {
        let count = |env: &Env| {
            let applies = env.calls();
            let applies = calls_of(&applies, "terraform -chdir=generated/shop/terraform apply");
            applies
                .iter()
                .filter(|c| c.contains("-target=") == (on == "-target="))
                .count()
        };
        // Twice, then it goes through.
        let env = Env::new(&shop());
        std::fs::write(env.dir.path("errs"), "2").unwrap();
        let vars = [("FAKE_ERR_ON", on), ("FAKE_ERR", err)];
        let out = env.shopgen_env(DEPLOY, None, &vars);
        let printed = text(&out);
        assert!(out.status.success(), "{waiting}: {printed}");
        assert_eq!(count(&env), 3, "{waiting}");
        assert!(printed.contains(waiting), "{printed}");
        assert!(printed.contains(&format!("(2/{bound})")), "{printed}");
        // Forever: it gives up after its own bound, with the error and what it
        // waited for.
        let env = Env::new(&shop());
        std::fs::write(env.dir.path("errs"), "99").unwrap();
        let out = env.shopgen_env(DEPLOY, None, &vars);
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(1), "{printed}");
        assert_eq!(count(&env), bound, "{waiting}");
        assert!(
            printed.contains(&format!("still failing after {bound} attempts")),
            "{printed}"
        );
    }
    // Any other error stops at once; so does one among transient ones.
    for err in [
        "Error: Error creating Connector: googleapi: Error 400: The IP range 10.8.0.0/28 overlaps with subnetwork default",
        "Error: x\n  with google_project_service.managed_service,\nError: Invalid value for variable",
    ] {
        let env = Env::new(&shop());
        let out = env.shopgen_env(DEPLOY, None, &[("FAKE_FULL_APPLY_ERR", err)]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("error: apply failed"));
        assert!(!text(&out).contains("retrying"), "{}", text(&out));
        assert_eq!(
            env.calls()
                .iter()
                .filter(|c| c.starts_with("terraform")
                    && c.contains(" apply ")
                    && !c.contains("-target="))
                .count(),
            1
        );
    }
}

#[test]
fn the_gateway_region_is_the_specs_unless_given_and_must_be_an_api_gateway_region() {
    // Outside API Gateway's regions: refused before anything runs, with the list.
    let env = Env::new(&shop());
    let mut args = DEPLOY.to_vec();
    args.extend(["--gateway-region", "europe-west3"]);
    let out = env.shopgen(&args, None);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("--gateway-region europe-west3: API Gateway does not run in that region"),
        "{printed}"
    );
    for region in shopgen_facts::gcp::API_GATEWAY_REGIONS {
        assert!(printed.contains(region), "{region}: {printed}");
    }
    assert!(env.calls().is_empty());
    // Given: every apply and the destroy carry it, and the first line says it.
    let env = Env::new(&shop());
    let mut args = DEPLOY.to_vec();
    args.extend(["--gateway-region", "europe-west1", "--region", "us-east1"]);
    let out = env.shopgen(&args, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed
            .lines()
            .next()
            .unwrap()
            .contains("region us-east1, gateway region europe-west1"),
        "{printed}"
    );
    let calls = env.calls();
    let applies = calls_of(&calls, "terraform -chdir=generated/shop/terraform apply");
    assert_eq!(applies.len(), 2);
    for a in applies {
        assert!(
            a.contains("-var region=us-east1 -var gateway_region=europe-west1 "),
            "{a}"
        );
    }
    env.clear();
    let out = env.shopgen(
        &[
            "destroy",
            "specs/shop.toml",
            "--gateway-region",
            "europe-west1",
            "--yes",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    assert!(
        calls[at(&calls, "terraform -chdir=generated/shop/terraform destroy")]
            .contains("-var gateway_region=europe-west1 ")
    );
}

#[test]
fn cloud_build_falls_back_to_a_global_build_when_the_region_is_refused() {
    let env = Env::new(&shop());
    let mut args = DEPLOY.to_vec();
    args.extend(["--builder", "cloud-build"]);
    let out = env.shopgen_env(&args, None, &[("FAKE_BUILD_REGION_REFUSED", "1")]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let calls = env.calls();
    let submits = calls_of(&calls, "gcloud builds submit");
    assert_eq!(submits.len(), 2, "{}", calls.join("\n"));
    assert!(submits[0].contains("--region europe-west2"));
    assert!(!submits[1].contains("--region"), "{}", submits[1]);
    assert_eq!(
        submits[0].replace(" --region europe-west2", ""),
        *submits[1],
        "the same build, globally"
    );
    assert!(
        printed.contains("building once more as a global build"),
        "{printed}"
    );
    // Another error is not retried.
    let env = Env::new(&shop());
    let out = env.shopgen(&args, Some("builds submit"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(calls_of(&env.calls(), "gcloud builds submit").len(), 1);
}

#[test]
fn an_existing_clusters_node_subnetwork_must_be_the_specs() {
    let env = Env::new(&shop());
    let out = env.shopgen_env(
        DEPLOY,
        None,
        &[(
            "FAKE_SUBNET",
            "projects/some-project/regions/europe-west2/subnetworks/gke-nodes",
        )],
    );
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("error: preflight failed"), "{printed}");
    assert!(
        printed.contains("nodes are in subnetwork gke-nodes"),
        "{printed}"
    );
    assert!(
        printed.contains("set gcp.subnetwork = \"gke-nodes\""),
        "{printed}"
    );
    assert!(printed.contains("networking.gke.io/internal-load-balancer-subnet"));
    // Nothing changed: no API enabled, no bucket, no Terraform.
    let calls = env.calls();
    assert!(
        !calls.iter().any(|c| c.contains("services enable")
            || c.contains("storage buckets")
            || c.starts_with("terraform -chdir")),
        "{}",
        calls.join("\n")
    );
    // The spec's subnetwork: fine.
    let env = Env::new(&shop());
    let out = env.shopgen(DEPLOY, None);
    assert!(
        text(&out).contains("the nodes are in subnetwork default"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_control_plane_endpoint_is_detected_or_chosen() {
    let creds = |env: &Env| -> Vec<String> {
        calls_of(&env.calls(), "gcloud container clusters get-credentials")
            .into_iter()
            .cloned()
            .collect()
    };
    for (private, flag, note) in [
        ("True\\tTrue", Some("--dns-endpoint"), None),
        (
            "True\\tFalse",
            Some("--internal-ip"),
            Some("run deploy from inside the VPC"),
        ),
        ("False\\tTrue", None, None),
        ("", None, None),
    ] {
        let env = Env::new(&shop());
        let out = env.shopgen_env(DEPLOY, None, &[("FAKE_PRIVATE", private)]);
        let printed = text(&out);
        assert!(out.status.success(), "{private}: {printed}");
        let creds = creds(&env);
        assert!(!creds.is_empty());
        for c in &creds {
            let args = c.split(" [").next().unwrap();
            match flag {
                Some(f) => assert!(
                    args.ends_with(&format!("--project some-project {f}")),
                    "{c}"
                ),
                None => assert!(args.ends_with("--project some-project"), "{c}"),
            }
        }
        if let Some(n) = note {
            assert!(printed.contains(n), "{printed}");
        }
    }
    // Chosen: no detection.
    let env = Env::new(&shop());
    let mut args = DEPLOY.to_vec();
    args.extend(["--endpoint", "internal-ip"]);
    let out = env.shopgen_env(&args, None, &[("FAKE_PRIVATE", "True\\tTrue")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        creds(&env)
            .iter()
            .all(|c| c.contains("--project some-project --internal-ip"))
    );
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.contains("enablePrivateEndpoint"))
    );
    // A created cluster is reached through its DNS endpoint; status and destroy
    // detect the same way.
    let env = Env::new(&empty_project_spec());
    assert!(env.shopgen(DEPLOY, None).status.success());
    env.clear();
    assert!(
        env.shopgen(
            &["status", "specs/shop.toml", "--project", "some-project"],
            None
        )
        .status
        .success()
    );
    let c = creds(&env);
    assert_eq!(c.len(), 1);
    assert!(
        c[0].contains(
            "get-credentials shop-gke --location europe-west2 --project some-project --dns-endpoint"
        ),
        "{}",
        c[0]
    );
    let env = Env::new(&shop());
    let out = env.shopgen_env(
        &["destroy", "specs/shop.toml", "--yes"],
        None,
        &[("FAKE_PRIVATE", "True\\tFalse")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(creds(&env)[0].contains("--internal-ip"));
}

#[test]
fn planned_ranges_must_not_overlap_the_networks_or_the_clusters() {
    let region = "https://www.googleapis.com/compute/v1/projects/some-project/regions/europe-west2";
    // A GKE pod /14 that holds the connector's /28: the common collision.
    let env = Env::new(&shop());
    std::fs::write(
        env.dir.path("subnets.json"),
        format!(r#"[{{"name": "default", "region": "{region}", "ipCidrRange": "10.154.0.0/20", "secondaryIpRanges": [{{"rangeName": "gke-pods", "ipCidrRange": "10.8.0.0/14"}}]}}]"#),
    )
    .unwrap();
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("10.8.0.0/28 (the relay's VPC connector) overlaps 10.8.0.0/14 (secondary range gke-pods of subnetwork default (europe-west2))"),
        "{printed}"
    );
    assert!(
        printed.contains("hint: choose another range in the spec"),
        "{printed}"
    );
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.contains("services enable") || c.starts_with("terraform -chdir"))
    );
    // The existing cluster's own ranges (a routes-based cluster's are no subnet's).
    let env = Env::new(&shop());
    let out = env.shopgen_env(
        DEPLOY,
        None,
        &[("FAKE_CLUSTER_RANGES", "10.8.0.0/20\\t10.104.0.0/20")],
    );
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("overlaps 10.8.0.0/20 (the cluster shop-cluster's pods)"),
        "{printed}"
    );
    // A created cluster's subnetwork holds the planned ranges on a rerun: skipped,
    // while another subnetwork with the same ranges still collides.
    let spec = empty_project_spec().replace(
        "\nnetwork = \"default\"\n",
        "\nnetwork = \"default\"\nsubnetwork = \"shop-gke-nodes\"\n",
    );
    let own = format!(
        r#"{{"name": "shop-gke-nodes", "region": "{region}", "ipCidrRange": "10.10.0.0/20", "secondaryIpRanges": [{{"rangeName": "pods", "ipCidrRange": "10.64.0.0/14"}}, {{"rangeName": "services", "ipCidrRange": "10.68.0.0/20"}}]}}"#
    );
    let env = Env::new(&spec);
    std::fs::write(env.dir.path("subnets.json"), format!("[{own}]")).unwrap();
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("overlap nothing in network default"));
    assert!(
        !env.calls().iter().any(|c| c.contains("clusterIpv4Cidr")),
        "a created cluster is not described"
    );
    let env = Env::new(&spec);
    std::fs::write(
        env.dir.path("subnets.json"),
        format!("[{}]", own.replace("europe-west2", "europe-west1")),
    )
    .unwrap();
    let out = env.shopgen(DEPLOY, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("(subnetwork shop-gke-nodes (europe-west1))"),
        "{}",
        text(&out)
    );
    // A new project without the Compute Engine API has no subnetworks yet.
    let env = Env::new(&empty_project_spec());
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_COMPUTE_DISABLED", "1")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Compute Engine API is not enabled yet"));
}

#[test]
fn kubectl_and_get_credentials_never_touch_the_users_kubeconfig() {
    let env = Env::new(&empty_project_spec());
    let status = ["status", "specs/shop.toml", "--project", "some-project"];
    let destroy = [
        "destroy",
        "specs/shop.toml",
        "--project",
        "some-project",
        "--yes",
    ];
    for args in [DEPLOY, &status[..], &destroy[..]] {
        let out = env.shopgen(args, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let calls = env.calls();
    let kube: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("kubectl ") || c.contains("get-credentials"))
        .collect();
    assert!(kube.len() > 10, "{}", calls.join("\n"));
    for c in kube {
        assert!(
            c.contains("[KUBECONFIG=.shopgen/deploy/shop/kubeconfig]"),
            "{c}"
        );
    }
    assert!(
        !env.dir.path("home/.kube").exists(),
        "the user's ~/.kube was written"
    );
    let kubeconfig = env.root().join(".shopgen/deploy/shop/kubeconfig");
    assert!(kubeconfig.is_file());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the kubeconfig is private: {mode:o}");
}

#[test]
fn destroy_deletes_by_label_and_the_namespace_only_when_deploy_created_it_and_it_is_empty() {
    let destroy = [
        "destroy",
        "specs/shop.toml",
        "--project",
        "some-project",
        "--image-tag",
        "v1",
        "--yes",
    ];
    let delete = "kubectl delete deployment,service,serviceaccount,poddisruptionbudget,horizontalpodautoscaler -n shop -l app.kubernetes.io/managed-by=shopgen,app.kubernetes.io/part-of=shop-api --ignore-not-found --wait --cascade=foreground";
    // Deploy created the namespace, and only Kubernetes' own objects are left.
    let env = Env::new(&shop());
    assert!(env.shopgen(DEPLOY, None).status.success());
    let record = std::fs::read_to_string(env.root().join(".shopgen/deploy/shop.json")).unwrap();
    assert!(
        record.contains("some-project/europe-west2/shop-cluster/shop"),
        "{record}"
    );
    env.clear();
    let out = env.shopgen(&destroy, None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let calls = env.calls();
    let k8s = at(&calls, delete);
    let ns = at(
        &calls,
        "kubectl delete namespace shop --ignore-not-found --wait",
    );
    assert!(k8s < ns && ns < at(&calls, "terraform -chdir=generated/shop/terraform destroy"));
    assert!(
        !calls[k8s].contains(",secret"),
        "the operator's database Secret is never deleted"
    );
    assert!(!env.root().join(".shopgen/deploy/shop.json").exists());
    // The label selector covers every kind the generated k8s folder holds.
    let k8s_dir = env.root().join("generated/shop/k8s");
    for f in std::fs::read_dir(&k8s_dir).unwrap() {
        let t = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let kind = t.lines().find_map(|l| l.strip_prefix("kind: ")).unwrap();
        if kind != "Namespace" && kind != "Kustomization" {
            assert!(
                calls[k8s].contains(&format!("{},", kind.to_lowercase()))
                    || calls[k8s].contains(&format!("{} ", kind.to_lowercase())),
                "{kind}"
            );
        }
        if kind != "Kustomization" {
            assert!(
                t.contains("app.kubernetes.io/managed-by: shopgen")
                    && t.contains("app.kubernetes.io/part-of: shop-api"),
                "{t}"
            );
        }
    }

    // The namespace existed before deploy: kept.
    let env = Env::new(&shop());
    assert!(
        env.shopgen_env(DEPLOY, None, &[("FAKE_NS_EXISTS", "1")])
            .status
            .success()
    );
    env.clear();
    let out = env.shopgen(&destroy, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("namespace shop is kept: deploy did not create it"));
    assert!(!env.calls().iter().any(|c| c.contains("delete namespace")));

    // Deploy created it, but the operator's database Secret is in it: kept, and the
    // record stays for a later destroy.
    let env = Env::new(&shop());
    assert!(env.shopgen(DEPLOY, None).status.success());
    env.clear();
    let out = env.shopgen_env(
        &destroy,
        None,
        &[(
            "FAKE_NS_LEFT",
            "configmap/kube-root-ca.crt\\nsecret/shop-api-db",
        )],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("namespace shop is kept: it still holds secret/shop-api-db"),
        "{}",
        text(&out)
    );
    assert!(!env.calls().iter().any(|c| c.contains("delete namespace")));
    let record = std::fs::read_to_string(env.root().join(".shopgen/deploy/shop.json")).unwrap();
    assert!(record.contains("shop-cluster/shop"), "{record}");

    // Cloud SQL: deploy's Secret carries the labels and goes with the rest.
    let env = Env::new(&empty_project_spec());
    assert!(env.shopgen(DEPLOY, None).status.success());
    let calls = env.calls();
    let label = at(
        &calls,
        "kubectl -n shop label secret shop-api-db --overwrite app.kubernetes.io/managed-by=shopgen app.kubernetes.io/part-of=shop-api",
    );
    assert!(at(&calls, "kubectl apply -f -") < label);
    env.clear();
    let out = env.shopgen_env(
        &destroy,
        None,
        &[(
            "FAKE_NS_LEFT",
            "configmap/kube-root-ca.crt\\nsecret/shop-api-db",
        )],
    );
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    assert!(
        calls[at(&calls, "kubectl delete deployment,")]
            .contains("horizontalpodautoscaler,secret -n shop")
    );
    at(&calls, "kubectl delete namespace shop");
}

#[test]
fn curl_older_than_7_55_is_refused() {
    let env = Env::new(&shop());
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_CURL_VERSION", "7.54.1")]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("curl 7.55 or newer is needed"),
        "{printed}"
    );
    let env = Env::new(&shop());
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_CURL_VERSION", "7.55.0")]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The dry run of the empty-project spec: every step, in order, offline.
#[test]
fn the_dry_run_of_an_empty_project_lists_every_step_in_order() {
    let env = Env::new(&empty_project_spec());
    let out = shopgen([
        "deploy",
        "--dry-run",
        "specs/shop.toml",
        "--project",
        "p-1",
        "--image-tag",
        "v1",
    ])
    .cwd(env.root())
    .env("PATH", "/nonexistent")
    .run();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let kc = "KUBECONFIG=.shopgen/deploy/shop/kubeconfig";
    let order = [
        "shopgen deploy specs/shop.toml: project p-1, region europe-west2, gateway region europe-west2, image tag v1 (dry run".to_string(),
        "skipped (dry run): tools present (terraform 1.5+, gcloud 400.0+, kubectl 1.27+, curl 7.55+, docker 23.0+)".to_string(),
        "ok: cluster shop-gke is created by Terraform".to_string(),
        "skipped (dry run): address ranges: the relay's VPC connector 10.8.0.0/28, the cluster's nodes 10.10.0.0/20".to_string(),
        "$ gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com storage.googleapis.com --project p-1".to_string(),
        "state: gs://p-1-shop-api-tfstate/shop".to_string(),
        "$ gcloud storage buckets describe gs://p-1-shop-api-tfstate --project p-1".to_string(),
        "$ gcloud storage buckets create gs://p-1-shop-api-tfstate --project p-1 --location europe-west2 --uniform-bucket-level-access --public-access-prevention".to_string(),
        "$ gcloud storage buckets update gs://p-1-shop-api-tfstate --versioning".to_string(),
        "==> [2/7] bootstrap".to_string(),
        "$ terraform -chdir=generated/shop/terraform init -input=false -backend-config=bucket=p-1-shop-api-tfstate -backend-config=prefix=shop\n".to_string(),
        "$ terraform -chdir=generated/shop/terraform apply -input=false -auto-approve -var project=p-1 -var region=europe-west2 -var gateway_region=europe-west2 -var image_tag=v1 -target=".to_string(),
        "$ DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f generated/shop/backend/Dockerfile".to_string(),
        "$ DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f generated/shop/relay/Dockerfile".to_string(),
        "$ terraform -chdir=generated/shop/terraform apply -input=false -auto-approve -var project=p-1 -var region=europe-west2 -var gateway_region=europe-west2 -var image_tag=v1\n".to_string(),
        format!("$ {kc} gcloud container clusters get-credentials shop-gke --location europe-west2 --project p-1 --dns-endpoint\n"),
        format!("$ {kc} kubectl get namespace shop -o name"),
        format!("$ {kc} kubectl apply -f generated/shop/k8s/namespace.yaml"),
        "$ gcloud secrets versions access latest".to_string(),
        format!("$ {kc} kubectl -n shop create secret generic shop-api-db"),
        format!("$ {kc} kubectl apply -f -"),
        format!("$ {kc} kubectl -n shop label secret shop-api-db --overwrite"),
        format!("$ {kc} kubectl apply -k .shopgen/deploy/shop"),
        format!("$ {kc} kubectl -n shop rollout status deployment/shop-api"),
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
        !env.root().join(".shopgen").exists(),
        "a dry run writes nothing"
    );
}

#[test]
fn a_cloud_sql_range_must_not_overlap_the_networks_private_services_ranges() {
    // Another service's private services access range in the network collides with
    // the stack's Cloud SQL range; the stack's own range (a rerun) does not.
    let env = Env::new(&empty_project_spec());
    let url = "https://www.googleapis.com/compute/v1/projects/some-project/global/networks/default";
    std::fs::write(
        env.dir.path("addresses.json"),
        format!(
            r#"[{{"name": "shop-api-sql-range", "address": "10.96.0.0", "prefixLength": 16, "network": "{url}"}},
               {{"name": "redis-range", "address": "10.96.128.0", "prefixLength": 20, "network": "{url}"}}]"#
        ),
    )
    .unwrap();
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("10.96.0.0/16 (Cloud SQL's private services access) overlaps 10.96.128.0/20 (private services access range redis-range)"),
        "{printed}"
    );
    assert!(!printed.contains("range shop-api-sql-range"), "{printed}");
    assert!(
        !env.calls()
            .iter()
            .any(|c| c.starts_with("terraform -chdir")),
        "nothing is created"
    );
    let env = Env::new(&empty_project_spec());
    std::fs::write(
        env.dir.path("addresses.json"),
        format!(
            r#"[{{"name": "shop-api-sql-range", "address": "10.96.0.0", "prefixLength": 16, "network": "{url}"}}]"#
        ),
    )
    .unwrap();
    let out = env.shopgen(DEPLOY, None);
    assert!(out.status.success(), "{}", text(&out));
}

/// An existing service (`[upstream]`, specs/legacy.toml's shape): deploy builds and
/// runs the relay, applies Terraform and the one Service, and leaves the user's
/// namespace and workloads alone; destroy deletes that Service only.
#[test]
fn an_existing_service_gets_the_relay_terraform_and_its_service_only() {
    let legacy = repo_file("specs/legacy.toml");
    let env = Env::new(&legacy);
    let image = "europe-west2-docker.pkg.dev/some-project/legacy-api";

    // The dry run: no backend image, no Deployment, no namespace or Secret written.
    let out = shopgen([
        "deploy",
        "--dry-run",
        "specs/shop.toml",
        "--project",
        "some-project",
        "--image-tag",
        "v1",
    ])
    .cwd(env.root())
    .env("PATH", "/nonexistent")
    .run();
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    for wanted in [
        &format!(
            "docker build --platform linux/amd64 -f generated/shop/relay/Dockerfile -t {image}/relay:v1 ."
        ),
        "kubectl apply -k .shopgen/deploy/shop",
        "the internal load balancer in front of the existing pods",
        "curl -sS",
    ] {
        assert!(printed.contains(wanted), "`{wanted}` missing:\n{printed}");
    }
    for unwanted in [
        "backend/Dockerfile",
        "/backend:",
        "rollout status",
        "deployment/",
        "namespace.yaml",
        "newName:",
        "gke_node_service_accounts",
        "get secret",
        "create secret",
    ] {
        assert!(
            !printed.contains(unwanted),
            "`{unwanted}` in the plan of an existing service:\n{printed}"
        );
    }

    // The deploy itself (fake tools): the same; a namespace that does not exist is
    // an error, never created.
    let out = env.shopgen(DEPLOY, None);
    let printed = text(&out);
    assert!(!out.status.success(), "{printed}");
    assert!(
        printed.contains("namespace legacy must exist (shopgen never creates it)"),
        "{printed}"
    );
    let first = env.calls().join("\n");
    assert!(
        first.contains(&format!("docker push {image}/relay:v1")),
        "{first}"
    );
    env.clear();
    let out = env.shopgen_env(DEPLOY, None, &[("FAKE_NS_EXISTS", "1")]);
    assert!(out.status.success(), "{}", text(&out));
    let all = format!("{first}\n{}", env.calls().join("\n"));
    assert!(
        all.contains("kubectl get namespace legacy -o name"),
        "{all}"
    );
    assert!(
        all.contains("kubectl apply -k .shopgen/deploy/shop"),
        "{all}"
    );
    for unwanted in [
        "namespace.yaml",
        "rollout",
        "create secret",
        "get secret",
        "/backend:",
    ] {
        assert!(!all.contains(unwanted), "`{unwanted}`:\n{all}");
    }
    let overlay =
        std::fs::read_to_string(env.root().join(".shopgen/deploy/shop/kustomization.yaml"))
            .unwrap();
    assert!(!overlay.contains("images:"), "{overlay}");
    assert!(overlay.contains("name: legacy-api"), "{overlay}");
    let record = std::fs::read_to_string(env.root().join(".shopgen/deploy/shop.json")).unwrap();
    assert!(
        !record.contains("legacy-cluster/legacy"),
        "deploy claimed the namespace: {record}"
    );

    // Status shows shopgen's Service, not the user's Deployment.
    env.clear();
    let out = env.shopgen_env(
        &["status", "specs/shop.toml", "--project", "some-project"],
        None,
        &[("FAKE_NS_EXISTS", "1")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let all = env.calls().join("\n");
    assert!(
        all.contains("kubectl -n legacy get service/legacy-api -o wide"),
        "{all}"
    );
    assert!(!all.contains("deployment/"), "{all}");

    // Destroy: the Service by its labels, never the namespace or another kind.
    env.clear();
    let out = env.shopgen_env(
        &[
            "destroy",
            "specs/shop.toml",
            "--project",
            "some-project",
            "--image-tag",
            "v1",
            "--yes",
        ],
        None,
        &[("FAKE_NS_EXISTS", "1")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let calls = env.calls();
    let all = calls.join("\n");
    assert!(
        all.contains("kubectl delete service -n legacy -l app.kubernetes.io/managed-by=shopgen,app.kubernetes.io/part-of=legacy-api"),
        "{all}"
    );
    assert!(!all.contains("deployment"), "{all}");
    assert!(!all.contains("delete namespace"), "{all}");
}

/// `cluster.create = true` is refused for an existing service: it lives in an
/// existing cluster, and shopgen never creates its workloads.
#[test]
fn an_existing_service_in_a_cluster_shopgen_would_create_is_refused() {
    let legacy = repo_file("specs/legacy.toml").replace(
        "cluster = { name = \"legacy-cluster\", location = \"europe-west2\" }",
        "cluster = { name = \"legacy-cluster\", location = \"europe-west2\", create = true }",
    );
    assert!(legacy.contains("create = true"));
    let dir = project().file("specs/legacy.toml", &legacy).build();
    let out = dir
        .shopgen(["deploy", "--dry-run", "specs/legacy.toml"])
        .run();
    let printed = text(&out);
    assert!(!out.status.success(), "{printed}");
    assert!(printed.contains("error[E0271]"), "{printed}");
    assert!(
        printed.contains("an existing service runs in an existing cluster"),
        "{printed}"
    );
}
