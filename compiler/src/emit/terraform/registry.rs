//! Emit `registry.tf`: the Artifact Registry repository (immutable tags) and who may
//! read and write it.

use super::*;

/// `member` gets `role` on the image repository; with `for_each`, once per item.
fn repo_member(name: &str, role: &str, member: Expr, for_each: Option<Expr>) -> Block {
    let mut body = Body::new();
    if let Some(items) = for_each {
        body = body.attr("for_each", items).blank();
    }
    resource(
        "google_artifact_registry_repository_iam_member",
        name,
        body.attr(
            "location",
            res("google_artifact_registry_repository", "images", "location"),
        )
        .attr(
            "repository",
            res("google_artifact_registry_repository", "images", "name"),
        )
        .attr("role", str(role))
        .attr("member", member),
    )
}

pub(super) fn registry(model: &Model) -> File {
    let n = &model.service.names;
    let mut f = File::new();
    f.push_commented(
        "Holds the backend and relay images. Tags are immutable: a tag names one image\nfor good, so what an apply deploys is what its tag named when it was pushed.",
        resource(
            "google_artifact_registry_repository",
            "images",
            Body::new()
                .attr("repository_id", str(&n.derived.artifact_repository))
                .attr("location", var("region"))
                .attr("format", str("DOCKER"))
                .attr(
                    "description",
                    str(&format!(
                        "Images of the {} stack (shopgen).",
                        model.service.name
                    )),
                )
                .blank()
                .block(block(
                    "docker_config",
                    Body::new().attr("immutable_tags", bool(true)),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let nodes = res("google_service_account", "nodes", "email");
    if model.upstream.is_some() {
        // An existing service's pods pull their images from where they always did.
    } else if creates_cluster(model) {
        f.push(repo_member(
            "nodes_read",
            "roles/artifactregistry.reader",
            sa_member(nodes),
            None,
        ));
    } else {
        f.push_commented(
            "Lets the existing cluster's nodes pull the backend image: every node pool's\naccount that is given.",
            repo_member(
                "nodes_read",
                "roles/artifactregistry.reader",
                sa_member(Ref::each_value().expr()),
                Some(call("toset", vec![var("gke_node_service_accounts")])),
            ),
        );
    }
    f.push_commented(
        "Cloud Build pushes the images as the builder's account.",
        repo_member(
            "build_push",
            "roles/artifactregistry.writer",
            sa_member(res("google_service_account", "build", "email")),
            None,
        ),
    );
    let image = |name: &str| {
        template(vec![
            interp(local("image_repository")),
            text(format!("/{name}:")),
            interp(var("image_tag")),
        ])
    };
    let locals = Body::new()
        .attr(
            "image_repository",
            template(vec![
                interp(res(
                    "google_artifact_registry_repository",
                    "images",
                    "location",
                )),
                text("-docker.pkg.dev/"),
                interp(var("project")),
                text("/"),
                interp(res(
                    "google_artifact_registry_repository",
                    "images",
                    "repository_id",
                )),
            ]),
        )
        .attr("relay_image", image(&n.relay_image));
    let locals = if model.upstream.is_some() {
        locals
    } else {
        locals.attr("backend_image", image(&n.backend_image))
    };
    f.push(Block::new("locals", &[], locals));
    f
}
