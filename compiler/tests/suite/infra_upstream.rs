//! The output for an existing service (`[upstream]`, specs/legacy.toml and variants):
//! only the internal load balancer's Service, selecting exactly the given labels and
//! ports and strict-valid for Kubernetes 1.30–1.34; Terraform schema-clean for both
//! provider majors, without the backend image; gateway documents in Google's dialect
//! and accepted by `openapi-spec-validator`; the upstream's own spelling kept.

use std::collections::BTreeMap;
use std::process::Command;

use crate::infra_openapi::{fill, google_rules};
use crate::infra_terraform::{check_tf, schema, tf_files};
use crate::support::infra::{Variant, body, files, model, write, yaml};
use crate::support::{repo_file, run_ok, tool};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// specs/legacy.toml, and the same API in Swagger 2.0 with CORS, another cluster
/// region and no forwarded Authorization.
fn upstream_variants() -> Vec<Variant> {
    let legacy = repo_file("specs/legacy.toml");
    let other = legacy
        .replace(
            "api_key_header = \"x-api-key\"",
            "api_key_header = \"x-api-key\"\nopenapi = \"2.0\"\ncors = { allowed_origins = [\"https://shop.example.com\"] }",
        )
        .replace("forward_authorization = true", "forward_authorization = false")
        .replace(
            "location = \"europe-west2\" }",
            "location = \"europe-west1-b\" }",
        );
    assert_ne!(legacy, other);
    vec![
        Variant {
            name: "legacy",
            src: legacy,
        },
        Variant {
            name: "legacy-swagger2-cors",
            src: other,
        },
    ]
}

#[test]
fn only_the_service_selecting_the_existing_pods_is_generated() {
    for v in upstream_variants() {
        let m = model(&v);
        let files = files(&m);
        let k8s: Vec<&str> = files
            .iter()
            .filter(|f| f.path.starts_with("k8s/"))
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            k8s,
            ["k8s/kustomization.yaml", "k8s/service.yaml"],
            "{}",
            v.name
        );
        for f in &files {
            assert!(
                !f.path.starts_with("backend/") && !f.path.starts_with("api/"),
                "{}: {}",
                v.name,
                f.path
            );
        }
        let svc: Service = yaml(body(&files, "k8s/service.yaml"));
        assert_eq!(svc.metadata.namespace.as_deref(), Some("legacy"));
        let spec = svc.spec.expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        assert_eq!(
            spec.selector,
            Some(BTreeMap::from([
                ("app".to_string(), "legacy-api".to_string()),
                ("tier".to_string(), "web".to_string()),
            ]))
        );
        let ports = spec.ports.expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, 80);
        assert_eq!(ports[0].target_port, Some(IntOrString::Int(3000)));
        let annotations = svc.metadata.annotations.expect("annotations");
        assert_eq!(
            annotations
                .get("networking.gke.io/load-balancer-type")
                .map(String::as_str),
            Some("Internal")
        );
        let kustomization = body(&files, "k8s/kustomization.yaml");
        assert!(!kustomization.contains("images"), "{kustomization}");
        // The relay's settings follow forward_authorization.
        let relay_tf = body(&files, "terraform/relay.tf");
        assert_eq!(
            relay_tf.contains("FORWARD_AUTHORIZATION"),
            m.upstream.as_ref().is_some_and(|u| u.forward_authorization),
            "{}",
            v.name
        );
        let all_tf: String = tf_files(&files).iter().map(|(_, t)| *t).collect();
        assert!(!all_tf.contains("backend_image"), "{}", v.name);
        assert!(!all_tf.contains("gke_node_service_accounts"), "{}", v.name);
        assert!(!all_tf.contains("sql_database"), "{}", v.name);
        let cloudbuild = body(&files, "cloudbuild/cloudbuild.yaml");
        assert!(!cloudbuild.contains("backend"), "{cloudbuild}");
    }
}

#[test]
fn the_service_validates_against_kubernetes_1_30_to_1_34() {
    let Some(validate) = tool("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    for v in upstream_variants() {
        let dir = write(&files(&model(&v)));
        for version in ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"] {
            let out = run_ok(
                Command::new(&validate)
                    .args(["--strict", "-k", version])
                    .arg(dir.path().join("k8s/service.yaml")),
            );
            assert_eq!(
                out.matches("passed").count(),
                1,
                "{} on {version}:\n{out}",
                v.name
            );
        }
    }
}

#[test]
fn kustomize_renders_the_service_alone() {
    let Some(kubectl) = tool("kubectl", "https://kubernetes.io/docs/tasks/tools/") else {
        return;
    };
    let dir = write(&files(&model(&upstream_variants()[0])));
    let out = run_ok(
        Command::new(&kubectl)
            .arg("kustomize")
            .arg(dir.path().join("k8s")),
    );
    assert_eq!(
        out.matches("\nkind: ").count() + usize::from(out.starts_with("kind: ")),
        1,
        "{out}"
    );
    assert!(out.contains("kind: Service"), "{out}");
}

#[test]
fn the_terraform_matches_both_provider_schemas_and_terraform_fmt() {
    for version in ["8.7.0", "6.50.0"] {
        let schema = schema(version);
        for v in upstream_variants() {
            let files = files(&model(&v));
            let problems: Vec<String> = tf_files(&files)
                .into_iter()
                .flat_map(|(path, text)| check_tf(&schema, path, text))
                .collect();
            assert!(
                problems.is_empty(),
                "{} against google {version}:\n{}",
                v.name,
                problems.join("\n")
            );
        }
    }
    let Some(terraform) = tool(
        "terraform",
        "https://developer.hashicorp.com/terraform/install",
    ) else {
        return;
    };
    for v in upstream_variants() {
        let dir = write(&files(&model(&v)));
        run_ok(
            Command::new(&terraform)
                .args(["fmt", "-check", "-diff", "-recursive"])
                .arg(dir.path().join("terraform")),
        );
    }
}

#[test]
fn gateway_documents_list_the_public_operations_in_the_upstreams_spelling() {
    for v in upstream_variants() {
        let m = model(&v);
        let files = files(&m);
        let text = body(&files, "openapi/gateway.yaml");
        let doc: serde_json::Value = yaml(text);
        let errors = google_rules(&m, &doc);
        assert!(errors.is_empty(), "{}:\n{}", v.name, errors.join("\n"));
        let filled: serde_json::Value = yaml(&fill(text));
        assert!(google_rules(&m, &filled).is_empty(), "{}", v.name);
        let paths = doc["paths"].as_object().expect("paths");
        let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
        listed.sort_unstable();
        assert_eq!(
            listed,
            ["/api/v1/products", "/api/v1/products/{productId}/reviews"],
            "{}: the gateway lists the public operations only",
            v.name
        );
        assert!(text.contains("name: productId"), "{}", v.name);
        // No output declared: the upstream's answer, not an invented 204.
        assert!(
            !text.contains("\"204\":\n          description: Done."),
            "{}",
            v.name
        );
        let api = body(&files, "openapi/api.yaml");
        assert!(
            api.contains("createReview"),
            "{}: api.yaml lists every operation",
            v.name
        );
        assert!(api.contains("createdAt"), "{}", v.name);
    }
}

#[test]
fn openapi_spec_validator_accepts_the_documents() {
    let Some(validator) = tool(
        "openapi-spec-validator",
        "pip install openapi-spec-validator",
    ) else {
        return;
    };
    for v in upstream_variants() {
        let dir = write(&files(&model(&v)));
        let gw = dir.path().join("openapi/gateway.yaml");
        let filled = dir.path().join("openapi/gateway.filled.yaml");
        std::fs::write(&filled, fill(&std::fs::read_to_string(&gw).unwrap())).unwrap();
        let out = run_ok(
            Command::new(&validator)
                .arg(&gw)
                .arg(&filled)
                .arg(dir.path().join("openapi/api.yaml")),
        );
        assert_eq!(out.matches(": OK").count(), 3, "{}:\n{out}", v.name);
    }
}
