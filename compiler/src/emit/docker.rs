//! Emit: container images, `backend/Dockerfile` and `relay/Dockerfile`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives one multi-stage Dockerfile per generated
//! crate, plus a `Dockerfile.dockerignore` beside each (BuildKit reads it in place of
//! the root `.dockerignore`) that keeps `target/` and `.git/` out of the context.
//!
//! The generated crates are members of the repository's workspace and link the
//! runtime crates, so the build context is the repository root:
//! `docker build -f generated/<spec>/backend/Dockerfile .`. The build stage compiles
//! with `--locked` (the checked-in `Cargo.lock`); the runtime stage is distroless
//! `cc` as its `nonroot` user (uid 65532, which the Kubernetes pod spec also pins).

use super::filters;
use super::{CommentSyntax, EmittedFile};
use crate::model::Model;
use askama::Template;
use shopgen_facts::{container, relay};

/// The toolchain `rust-toolchain.toml` pins; the build image ships exactly it.
pub const RUST_TOOLCHAIN: &str = "1.95.0";
/// The build image: the toolchain `rust-toolchain.toml` pins, on Debian 13.
pub const BUILD_IMAGE: &str = "rust:1.95.0-slim-trixie";
/// The runtime image: glibc and libgcc, no shell, no package manager.
pub const RUNTIME_IMAGE: &str = "gcr.io/distroless/cc-debian13:nonroot";

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    let n = &model.service.names;
    let spec = &model.source.stem;
    let mut files = vec![
        EmittedFile::new(
            "backend/Dockerfile",
            dockerfile(
                &format!("generated/{spec}/backend"),
                &n.backend_crate,
                model.service.container_port,
                "The backend API service.",
            ),
            CommentSyntax::Hash,
        ),
        EmittedFile::new(
            "backend/Dockerfile.dockerignore",
            dockerignore(),
            CommentSyntax::Hash,
        ),
        EmittedFile::new(
            "relay/Dockerfile",
            dockerfile(
                &format!("generated/{spec}/relay"),
                &n.relay_crate,
                relay::CONTAINER_PORT,
                "The relay (Cloud Run).",
            ),
            CommentSyntax::Hash,
        ),
        EmittedFile::new(
            "relay/Dockerfile.dockerignore",
            dockerignore(),
            CommentSyntax::Hash,
        ),
        EmittedFile::new(CLOUDBUILD_CONFIG, cloudbuild(model), CommentSyntax::Hash),
        EmittedFile::new(GCLOUDIGNORE, gcloudignore(), CommentSyntax::Hash),
    ];
    if model.upstream.is_some() {
        // An existing service has no backend image: the relay's is the only one.
        files.retain(|f| !f.path.starts_with("backend/"));
    }
    files
}

/// The Cloud Build config that builds and pushes both images (relative to the
/// output folder). Substitutions: `_IMAGE_REPOSITORY` (Terraform's
/// `image_repository` output) and `_TAG` (the immutable tag).
pub const CLOUDBUILD_CONFIG: &str = "cloudbuild/cloudbuild.yaml";
/// What `gcloud builds submit --ignore-file` leaves out of the upload (relative to
/// the output folder).
pub const GCLOUDIGNORE: &str = "cloudbuild/gcloudignore";

fn cloudbuild(model: &Model) -> String {
    let n = &model.service.names;
    let spec = &model.source.stem;
    let images: Vec<CloudBuildImage> = [("backend", &n.backend_image), ("relay", &n.relay_image)]
        .into_iter()
        .filter(|(dir, _)| *dir != "backend" || model.upstream.is_none())
        .map(|(dir, image)| CloudBuildImage {
            dockerfile: format!("generated/{spec}/{dir}/Dockerfile"),
            tag: format!("${{_IMAGE_REPOSITORY}}/{image}:${{_TAG}}"),
        })
        .collect();
    super::render(&CloudBuild {
        config: &format!("generated/{spec}/{CLOUDBUILD_CONFIG}"),
        ignore_file: &format!("generated/{spec}/{GCLOUDIGNORE}"),
        images: &images,
    })
}

/// `templates/cloudbuild.yaml`: one build step per image, then the push list.
#[derive(Template)]
#[template(path = "cloudbuild.yaml", escape = "none")]
struct CloudBuild<'a> {
    config: &'a str,
    ignore_file: &'a str,
    images: &'a [CloudBuildImage],
}

/// One image Cloud Build builds: its Dockerfile and its tag (with substitutions).
struct CloudBuildImage {
    dockerfile: String,
    tag: String,
}

/// `templates/gcloudignore`: the same for every spec.
#[derive(Template)]
#[template(path = "gcloudignore", escape = "none")]
struct GcloudIgnore;

fn gcloudignore() -> String {
    super::render(&GcloudIgnore)
}

fn dockerfile(dir: &str, package: &str, port: u16, what: &str) -> String {
    super::render(&Dockerfile {
        what,
        dir,
        build_image: BUILD_IMAGE,
        rust_toolchain: RUST_TOOLCHAIN,
        runtime_image: RUNTIME_IMAGE,
        package,
        entrypoint: &format!("/usr/local/bin/{package}"),
        user: container::RUN_AS_USER,
        port,
    })
}

/// `templates/Dockerfile`: a multi-stage build of one workspace binary.
#[derive(Template)]
#[template(path = "Dockerfile", escape = "none")]
struct Dockerfile<'a> {
    what: &'a str,
    dir: &'a str,
    build_image: &'a str,
    rust_toolchain: &'a str,
    runtime_image: &'a str,
    package: &'a str,
    entrypoint: &'a str,
    user: i64,
    port: u16,
}

/// `templates/dockerignore`: the same for every crate.
#[derive(Template)]
#[template(path = "dockerignore", escape = "none")]
struct DockerIgnore;

fn dockerignore() -> String {
    super::render(&DockerIgnore)
}
