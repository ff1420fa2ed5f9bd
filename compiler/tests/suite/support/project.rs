//! Scratch folders, in the shape of cargo's test support:
//! `project().file("specs/shop.toml", text).build()`.
//!
//! A project that compiles generated crates is a Cargo workspace
//! ([`ProjectBuilder::workspace`]) with this repository's `[workspace.package]`,
//! `[workspace.dependencies]` (path dependencies made absolute), lints and profiles,
//! its lock file and toolchain, building into the shared target folder without the
//! network: every scratch workspace of a test run resolves the runtime crates and
//! their dependencies exactly as the repository does, so their builds reuse what is
//! already built. `shopgen up` builds its runner in the workspace that holds the
//! output folder, as in a checkout of shopgen; [`ProjectBuilder::runner`] adds it as
//! the member `tools/shopgen-up`, a link to this repository's.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Shopgen, cargo_in, repo, shopgen, walk};

/// `shopgen up`'s runner, the package `shopgen-up`: a member of a scratch workspace
/// with [`ProjectBuilder::runner`], at the same place as in this repository.
pub const RUNNER_MEMBER: &str = "tools/shopgen-up";

/// A new scratch folder; see [`ProjectBuilder`].
pub fn project() -> ProjectBuilder {
    ProjectBuilder {
        files: Vec::new(),
        members: None,
        runner: false,
    }
}

pub struct ProjectBuilder {
    files: Vec<(String, Source)>,
    members: Option<Vec<String>>,
    runner: bool,
}

enum Source {
    Text(String),
    Repo(String),
}

impl ProjectBuilder {
    /// A file at `path` (relative to the project) holding `text`.
    pub fn file(mut self, path: &str, text: impl Into<String>) -> Self {
        self.files
            .push((path.to_string(), Source::Text(text.into())));
        self
    }

    /// A copy of the repository's file `rel`, at the same place in the project.
    pub fn repo_file(mut self, rel: &str) -> Self {
        self.files
            .push((rel.to_string(), Source::Repo(rel.to_string())));
        self
    }

    /// Makes the project a Cargo workspace with `members` (globs allowed); see the
    /// module documentation.
    pub fn workspace(mut self, members: &[&str]) -> Self {
        self.members = Some(members.iter().map(|m| m.to_string()).collect());
        self
    }

    /// Adds `shopgen up`'s runner to the workspace ([`RUNNER_MEMBER`]).
    pub fn runner(mut self) -> Self {
        self.runner = true;
        self
    }

    pub fn build(self) -> Project {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let project = Project { dir };
        if let Some(members) = &self.members {
            project.write_workspace(members, self.runner);
        }
        for (path, source) in self.files {
            match source {
                Source::Text(text) => project.write(&path, &text),
                Source::Repo(rel) => {
                    let to = project.path(&path);
                    std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
                    std::fs::copy(repo().join(&rel), &to)
                        .unwrap_or_else(|e| panic!("copy {rel}: {e}"));
                }
            }
        }
        project
    }
}

/// A scratch folder, removed when dropped.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Writes `text` to `rel`, making its folders.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }

    /// `shopgen` with `args`, run in the project.
    pub fn shopgen<I, S>(&self, args: I) -> Shopgen
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        shopgen(args).cwd(self.root())
    }

    /// `shopgen build`, then `shopgen check`, of `spec`: both must succeed.
    pub fn build_and_check(&self, spec: &str) {
        for command in ["build", "check"] {
            let run = self.shopgen([command, spec]).run();
            assert!(run.success(), "shopgen {command} failed:\n{}", run.stderr);
        }
    }

    /// `cargo` with `args`, run in the project ([`super::cargo_in`]).
    pub fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = cargo_in(self.root());
        cmd.args(args);
        cmd
    }

    /// Every file under `rel`: path relative to `rel` → bytes.
    pub fn files(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        let root = self.path(rel);
        walk(&root)
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).expect("read");
                let rel = p
                    .strip_prefix(&root)
                    .expect("under the folder")
                    .to_string_lossy()
                    .into_owned();
                (rel, bytes)
            })
            .collect()
    }

    fn write_workspace(&self, members: &[String], runner: bool) {
        let root = repo();
        let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
            .expect("Cargo.toml")
            .parse()
            .expect("Cargo.toml parses");
        let mut ws = manifest["workspace"]
            .as_table()
            .expect("[workspace]")
            .clone();
        let runner_member = runner.then(|| RUNNER_MEMBER.to_string());
        ws.insert(
            "members".into(),
            toml::Value::Array(
                members
                    .iter()
                    .chain(runner_member.iter())
                    .map(|m| m.as_str().into())
                    .collect(),
            ),
        );
        ws.remove("exclude");
        let deps = ws
            .get_mut("dependencies")
            .and_then(toml::Value::as_table_mut)
            .expect("[workspace.dependencies]");
        for (_, dep) in deps.iter_mut() {
            if let Some(path) = dep.get_mut("path") {
                let abs = root.join(path.as_str().expect("a path"));
                *path = toml::Value::String(abs.display().to_string());
            }
        }
        let mut top = toml::Table::new();
        top.insert("workspace".into(), toml::Value::Table(ws));
        if let Some(profile) = manifest.get("profile") {
            top.insert("profile".into(), profile.clone());
        }
        self.write("Cargo.toml", &toml::to_string(&top).expect("TOML"));
        for file in ["Cargo.lock", "rust-toolchain.toml"] {
            std::fs::copy(root.join(file), self.path(file)).expect("copy");
        }
        if runner {
            let link = self.path(RUNNER_MEMBER);
            std::fs::create_dir_all(link.parent().expect("tools/")).expect("mkdir tools/");
            std::os::unix::fs::symlink(root.join(RUNNER_MEMBER), &link)
                .expect("link tools/shopgen-up");
        }
    }
}
