//! The supported ways to change generated infrastructure without editing it
//! (docs/extensions.md, "Infrastructure"): Terraform override files and extra `.tf`
//! files beside the generated ones, and kustomize overlays outside `generated/`.
//! A build writes the output, the user adds such files, a rebuild keeps them byte for
//! byte, `check` still passes, and the overlay renders the change it makes.

use std::fs;
use std::process::Command;

use crate::support::{project, run_ok, tool};

const OVERRIDE_TF: &str = r#"# Ours, not shopgen's: Terraform merges *_override.tf files into the generated
# resources of the same name.
resource "google_cloud_run_v2_service" "relay" {
  deletion_protection = true
}
"#;

const EXTRA_TF: &str = r#"# Ours: an extra resource in the same root module.
resource "google_monitoring_notification_channel" "oncall" {
  display_name = "on-call"
  type         = "email"

  labels = {
    email_address = "oncall@example.com"
  }
}
"#;

const OVERLAY: &str = r#"# Ours: production differences, outside generated/.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../generated/shop/k8s
patches:
  - target:
      kind: Deployment
      name: shop-api
    patch: |-
      - op: add
        path: /spec/replicas
        value: 7
"#;

#[test]
fn user_infrastructure_files_survive_rebuilds_and_check() {
    let tmp = project().repo_file("specs/shop.toml").build();
    let root = tmp.root();
    let out = tmp.shopgen(["build", "specs/shop.toml"]).run();
    assert!(out.success(), "{}", out.stderr);

    let tf = root.join("generated/shop/terraform");
    assert!(
        fs::read_to_string(tf.join("relay.tf"))
            .unwrap()
            .contains(r#"resource "google_cloud_run_v2_service" "relay""#),
        "the override targets a resource the build generates"
    );
    fs::write(tf.join("relay_override.tf"), OVERRIDE_TF).unwrap();
    fs::write(tf.join("monitoring.tf"), EXTRA_TF).unwrap();
    let overlay = root.join("overlays/production");
    fs::create_dir_all(&overlay).unwrap();
    fs::write(overlay.join("kustomization.yaml"), OVERLAY).unwrap();

    // A spec change and a rebuild: shopgen rewrites its own files, keeps ours.
    let spec = fs::read_to_string(root.join("specs/shop.toml")).unwrap();
    fs::write(
        root.join("specs/shop.toml"),
        spec.replace("replicas = 2", "replicas = 3"),
    )
    .unwrap();
    let out = tmp.shopgen(["build", "specs/shop.toml"]).run();
    assert!(out.success(), "{}", out.stderr);
    // `replicas` sets the autoscaler's minimum (the Deployment leaves the count to it).
    assert!(
        fs::read_to_string(root.join("generated/shop/k8s/hpa.yaml"))
            .unwrap()
            .contains("minReplicas: 3"),
        "the rebuild rewrote the autoscaler"
    );
    assert_eq!(
        fs::read_to_string(tf.join("relay_override.tf")).unwrap(),
        OVERRIDE_TF
    );
    assert_eq!(
        fs::read_to_string(tf.join("monitoring.tf")).unwrap(),
        EXTRA_TF
    );
    assert_eq!(
        fs::read_to_string(overlay.join("kustomization.yaml")).unwrap(),
        OVERLAY
    );

    let check = tmp.shopgen(["check", "specs/shop.toml"]).run();
    assert!(
        check.success(),
        "check fails with user files beside the output:\n{}",
        check.stderr
    );

    // The user's files are valid beside the generated ones.
    for text in [OVERRIDE_TF, EXTRA_TF] {
        let _: hcl::Body = hcl::from_str(text).expect("valid HCL");
    }
    if let Some(terraform) = tool(
        "terraform",
        "https://developer.hashicorp.com/terraform/install",
    ) {
        run_ok(
            Command::new(terraform)
                .args(["fmt", "-check", "-recursive"])
                .arg(&tf),
        );
    }
    if let Some(kubectl) = tool("kubectl", "https://kubernetes.io/docs/tasks/tools/") {
        let rendered = run_ok(Command::new(kubectl).arg("kustomize").arg(&overlay));
        assert!(
            rendered.contains("replicas: 7"),
            "the overlay's patch is not applied:\n{rendered}"
        );
        assert!(
            rendered.contains("kind: HorizontalPodAutoscaler"),
            "the overlay lost generated objects:\n{rendered}"
        );
    }
}
