//! What the compiler's integration tests share, in one place:
//!
//! - [`shopgen`]: the built `shopgen` binary as a builder
//!   (`shopgen(["build", "specs/shop.toml"]).cwd(dir).env(k, v).run()`), giving a
//!   [`Run`] (exit status, stdout, stderr as text);
//! - [`project`]: a scratch folder in the shape of cargo's test support
//!   (`project().file("specs/shop.toml", text).build()`); with
//!   [`project::ProjectBuilder::workspace`] it is a Cargo workspace that links this repository's
//!   runtime crates and shares its lock file, profiles and target folder, as the
//!   tests that compile generated crates or run `shopgen up` need;
//! - [`http`]: one HTTP/1.1 exchange over a plain socket, giving an [`Answer`];
//! - [`tool`]: an external program the tests need; missing, it skips the check with a
//!   loud notice, or fails the test when `CI` is set;
//! - [`golden`]: expected files compared byte for byte, rewritten with
//!   `SHOPGEN_BLESS=1`;
//! - [`up`]: a running `shopgen up` and the process helpers around it;
//! - [`chain`]: the reference chain built by hand (gateway emulator, relay, backend)
//!   for tests that stop, kill or stall one of its pieces;
//! - [`infra`]: the reference spec's variants and the generated files of each.

#![allow(dead_code)]

pub mod chain;
pub mod golden;
pub mod http;
pub mod infra;
pub mod project;
pub mod run;
pub mod tokens;
pub mod tool;
pub mod up;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use http::{Answer, http};
pub use project::{Project, project};
pub use run::{Run, Shopgen, shopgen};
pub use tool::{run_ok, tool};

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the compiler crate sits in the repository")
        .to_path_buf()
}

/// A file of the repository, as text.
pub fn repo_file(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The reference spec, `specs/shop.toml`.
pub fn shop_src() -> String {
    repo_file("specs/shop.toml")
}

/// The target folder builds share (`CARGO_TARGET_DIR`, else the repository's).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// The `cargo` that runs these tests (`CARGO`), else the one on `PATH`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo` in `dir`, as a build the tests start should run: into the shared target
/// folder, without the network, and without the package variables of the test
/// process ([`clear_package_env`]).
pub fn cargo_in(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true");
    clear_package_env(&mut cmd);
    cmd
}

/// Removes the variables cargo sets for a test process about the package under test
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …). A build that a test starts inherits
/// them otherwise, and build scripts that watch them (ring's) run again, so that
/// build recompiles everything above them instead of reusing the workspace's.
pub fn clear_package_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(name);
        }
    }
}

/// Every file under `dir`, sorted.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("a readable entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
