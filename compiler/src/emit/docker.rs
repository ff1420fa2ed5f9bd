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
use super::k8s::RUN_AS_USER;
use super::terraform::RELAY_CONTAINER_PORT;
use super::{CommentSyntax, EmittedFile};
use crate::model::Model;
use askama::Template;

/// The build image: the toolchain `rust-toolchain.toml` pins, on Debian 13.
pub const BUILD_IMAGE: &str = "rust:1.95.0-slim-trixie";
/// The runtime image: glibc and libgcc, no shell, no package manager.
pub const RUNTIME_IMAGE: &str = "gcr.io/distroless/cc-debian13:nonroot";

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    let n = &model.service.names;
    let spec = &model.source.stem;
    vec![
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
                RELAY_CONTAINER_PORT,
                "The relay (Cloud Run).",
            ),
            CommentSyntax::Hash,
        ),
        EmittedFile::new(
            "relay/Dockerfile.dockerignore",
            dockerignore(),
            CommentSyntax::Hash,
        ),
    ]
}

fn dockerfile(dir: &str, package: &str, port: u16, what: &str) -> String {
    super::render(&Dockerfile {
        what,
        dir,
        build_image: BUILD_IMAGE,
        runtime_image: RUNTIME_IMAGE,
        package,
        entrypoint: &format!("/usr/local/bin/{package}"),
        user: RUN_AS_USER,
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
