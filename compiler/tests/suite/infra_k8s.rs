//! The generated Kubernetes manifests: read back into typed `k8s-openapi` objects and
//! checked field by field, validated against the Kubernetes 1.30–1.34 schemas with
//! `kubernetes-validate --strict`, and rendered with `kubectl kustomize` (also through
//! an overlay that sets the image tag, as docs/deploy.md does).

use std::process::Command;

use crate::support::infra::{body, files, model, variants, write, yaml};
use crate::support::{run_ok, tool};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const MANIFESTS: [&str; 6] = [
    "k8s/namespace.yaml",
    "k8s/serviceaccount.yaml",
    "k8s/deployment.yaml",
    "k8s/service.yaml",
    "k8s/pdb.yaml",
    "k8s/hpa.yaml",
];

#[test]
fn the_deployment_runs_hardened_with_probes_secret_and_drain() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let d: Deployment = yaml(body(&files, "k8s/deployment.yaml"));
        assert_eq!(
            d.metadata.namespace.as_deref(),
            Some(m.service.namespace.as_str())
        );
        let spec = d.spec.expect("spec");
        assert_eq!(
            spec.replicas, None,
            "the HPA owns the replica count; a count here resets it on every apply"
        );
        let strategy = spec.strategy.expect("strategy");
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        assert_eq!(
            strategy
                .rolling_update
                .expect("rollingUpdate")
                .max_unavailable,
            Some(IntOrString::Int(0))
        );
        let pod = spec.template.spec.expect("pod spec");
        assert_eq!(
            pod.termination_grace_period_seconds,
            Some(i64::from(m.service.drain_seconds) + 5 + 10),
            "the pod outlives the pre-stop sleep and the backend's drain"
        );
        let container = &pod.containers[0];
        let pre_stop = container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
            .and_then(|p| p.sleep.as_ref())
            .expect("a sleep pre-stop hook, so the load balancer stops sending first");
        assert_eq!(pre_stop.seconds, 5);
        assert_eq!(pod.automount_service_account_token, Some(false));
        let psc = pod.security_context.expect("pod securityContext");
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(
            psc.seccomp_profile.expect("seccomp").type_,
            "RuntimeDefault"
        );
        let c = &pod.containers[0];
        let sc = c
            .security_context
            .clone()
            .expect("container securityContext");
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(
            sc.capabilities.expect("caps").drop,
            Some(vec!["ALL".to_string()])
        );
        let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
            p.as_ref()
                .and_then(|p| p.http_get.as_ref())
                .and_then(|h| h.path.clone())
        };
        assert_eq!(probe_path(&c.readiness_probe).as_deref(), Some("/readyz"));
        assert_eq!(probe_path(&c.liveness_probe).as_deref(), Some("/healthz"));
        let res = c.resources.clone().expect("resources");
        assert_eq!(
            res.requests.expect("requests")["cpu"].0,
            m.service.cpu_request
        );
        assert_eq!(
            res.limits.expect("limits")["memory"].0,
            m.service.memory_limit
        );
        let env = c.env.clone().expect("env");
        let db = env
            .iter()
            .find(|e| e.name == "DATABASE_URL")
            .expect("DATABASE_URL");
        assert!(db.value.is_none(), "DATABASE_URL is never written inline");
        let secret = db
            .value_from
            .as_ref()
            .and_then(|f| f.secret_key_ref.as_ref())
            .expect("DATABASE_URL from a Secret");
        match &m.database {
            shopgen::model::Database::ExistingSecret { secret: s, key } => {
                assert_eq!((&secret.name, &secret.key), (s, key));
            }
            shopgen::model::Database::CloudSql { .. } => {
                assert_eq!(secret.name, m.service.names.k8s_database_secret);
                assert_eq!(secret.key, "DATABASE_URL");
            }
        }
        assert!(
            c.image.as_deref().is_some_and(|i| !i.contains(':')),
            "the image tag is kustomize's job"
        );
    }
}

#[test]
fn the_service_is_an_internal_lb_on_the_reserved_address() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let s: Service = yaml(body(&files, "k8s/service.yaml"));
        let ann = s.metadata.annotations.expect("annotations");
        assert_eq!(ann["networking.gke.io/load-balancer-type"], "Internal");
        assert_eq!(
            ann["networking.gke.io/load-balancer-ip-addresses"],
            m.service.names.derived.ilb_address
        );
        assert!(!ann.contains_key("cloud.google.com/load-balancer-type"));
        let global = ann.get("networking.gke.io/internal-load-balancer-allow-global-access");
        if v.name == "cluster-in-other-region" {
            assert_eq!(global.map(String::as_str), Some("true"), "{}", v.name);
        } else {
            assert_eq!(global, None, "{}: global access only when needed", v.name);
        }
        let spec = s.spec.expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        assert!(
            spec.load_balancer_ip.is_none(),
            "the reserved IP is known only after Terraform: deploy patches it in"
        );
        // Only the relay's egress range and the spec's extra ranges may reach it.
        let ranges = spec.load_balancer_source_ranges.unwrap_or_default();
        let expected: Vec<&str> = match v.name {
            "shop"
            | "cloudsql-created-cluster"
            | "empty-project"
            | "public-api"
            | "public-api-swagger2"
            | "identity"
            | "identity-swagger2" => {
                vec!["10.8.0.0/28"]
            }
            "cluster-in-other-region" => vec!["10.8.0.0/28", "10.20.0.0/24"],
            "direct-vpc-created-cluster" => vec!["10.10.0.0/20"],
            // Direct VPC egress on an existing subnetwork: its range is read by
            // Terraform (output ilb_source_ranges) and patched in at deploy time.
            "direct-vpc-swagger2" => vec![],
            other => panic!("no expectation for variant {other}"),
        };
        assert_eq!(ranges, expected, "{}", v.name);
        let port = &spec.ports.expect("ports")[0];
        assert_eq!(port.port, 80);
        assert_eq!(port.target_port, Some(IntOrString::Int(3000)));
    }
}

#[test]
fn pdb_hpa_namespace_and_service_account_agree_with_the_model() {
    let v = &variants()[0];
    let m = model(v);
    let files = files(&m);
    let ns: Namespace = yaml(body(&files, "k8s/namespace.yaml"));
    assert_eq!(ns.metadata.name.as_deref(), Some("shop"));
    let sa: ServiceAccount = yaml(body(&files, "k8s/serviceaccount.yaml"));
    assert_eq!(sa.automount_service_account_token, Some(false));
    let pdb: PodDisruptionBudget = yaml(body(&files, "k8s/pdb.yaml"));
    let d: Deployment = yaml(body(&files, "k8s/deployment.yaml"));
    let selector = d.spec.expect("spec").selector;
    assert_eq!(pdb.spec.expect("spec").selector, Some(selector));
    let hpa: HorizontalPodAutoscaler = yaml(body(&files, "k8s/hpa.yaml"));
    let hs = hpa.spec.expect("spec");
    assert_eq!(hs.scale_target_ref.kind, "Deployment");
    assert_eq!(hs.scale_target_ref.name, m.service.names.derived.k8s_name);
    assert_eq!(hs.min_replicas, Some(m.service.min_replicas as i32));
    assert_eq!(hs.max_replicas, m.service.max_replicas as i32);
}

#[test]
fn ambiguous_scalars_are_quoted() {
    let files = files(&model(&variants()[3]));
    let deployment = body(&files, "k8s/deployment.yaml");
    assert!(
        deployment.contains("value: \"3000\""),
        "PORT must stay a string"
    );
    assert!(deployment.contains("cpu: \"1\""));
    let service = body(&files, "k8s/service.yaml");
    assert!(service.contains("allow-global-access: \"true\""));
}

#[test]
fn manifests_validate_against_kubernetes_1_30_to_1_34() {
    let Some(validate) = tool("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    for v in variants() {
        let files = files(&model(&v));
        let dir = write(&files);
        for version in ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"] {
            let out = run_ok(
                Command::new(&validate)
                    .args(["--strict", "-k", version])
                    .args(MANIFESTS.iter().map(|m| dir.path().join(m))),
            );
            assert_eq!(
                out.matches("passed").count(),
                MANIFESTS.len(),
                "{} on {version}:\n{out}",
                v.name
            );
        }
    }
}

#[test]
fn kustomize_renders_the_base_and_a_tagged_overlay() {
    let Some(kubectl) = tool("kubectl", "https://kubernetes.io/docs/tasks/tools/") else {
        return;
    };
    let m = model(&variants()[0]);
    let files = files(&m);
    let dir = write(&files);
    let base = run_ok(
        Command::new(&kubectl)
            .arg("kustomize")
            .arg(dir.path().join("k8s")),
    );
    for kind in [
        "kind: Namespace",
        "kind: ServiceAccount",
        "kind: Deployment",
        "kind: Service\n",
        "kind: PodDisruptionBudget",
        "kind: HorizontalPodAutoscaler",
    ] {
        assert!(base.contains(kind), "{kind} missing from:\n{base}");
    }
    let image = "europe-west2-docker.pkg.dev/acme-shop-staging/shop-api/backend";
    assert!(base.contains(&format!("image: {image}:latest")), "{base}");
    // What `kustomize edit set image IMAGE:TAG` writes in the overlay docs/deploy.md creates.
    let overlay = dir.path().join("overlay");
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../k8s\nimages:\n- name: {image}\n  newTag: 3f2a9c1\n"
        ),
    )
    .unwrap();
    let tagged = run_ok(Command::new(&kubectl).arg("kustomize").arg(&overlay));
    assert!(
        tagged.contains(&format!("image: {image}:3f2a9c1")),
        "{tagged}"
    );
}
