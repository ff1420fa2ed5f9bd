//! Emit `versions.tf`: Terraform and provider versions, the two Google providers
//! with an explicit quota project, and the state backend.

use super::*;

pub(super) fn versions(model: &Model) -> File {
    let providers = Body::new()
        .attr(
            "google",
            object(&[
                ("source", str("hashicorp/google")),
                ("version", str(PROVIDER_VERSION)),
            ]),
        )
        .attr(
            "google-beta",
            object(&[
                ("source", str("hashicorp/google-beta")),
                ("version", str(PROVIDER_VERSION)),
            ]),
        )
        .attr(
            "random",
            object(&[
                ("source", str("hashicorp/random")),
                ("version", str(">= 3.6, < 4.0")),
            ]),
        );
    let mut f = File::new();
    let mut terraform = Body::new()
        .attr("required_version", str(">= 1.5"))
        .blank()
        .block(block("required_providers", providers));
    if matches!(model.gcp.state, TerraformState::Gcs { .. }) {
        terraform = terraform
            .blank()
            .comment("State in Cloud Storage, never beside these files: the bucket and prefix are")
            .comment("given to `terraform init -backend-config=bucket=… -backend-config=prefix=…`")
            .comment(
                "(`shopgen deploy` does). A backend of your own goes in `backend_override.tf`.",
            )
            .block(Block::new("backend", &["gcs"], Body::new()));
    }
    f.push(block("terraform", terraform));
    for (i, p) in ["google", "google-beta"].into_iter().enumerate() {
        let body = Body::new()
            .attr("project", var("project"))
            .attr("region", var("region"))
            .attr("user_project_override", bool(true))
            .attr(
                "billing_project",
                cond(
                    eq(var("billing_project"), str("")),
                    var("project"),
                    var("billing_project"),
                ),
            );
        let provider = Block::new("provider", &[p], body);
        if i == 0 {
            f.push_commented(
                "Requests name their quota project explicitly: the API Keys API refuses user\ncredentials without one, and the provider does not take it from the credentials.",
                provider,
            );
        } else {
            f.push(provider);
        }
    }
    f
}
