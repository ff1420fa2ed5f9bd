//! How `shopgen up` gets to its runner: one `cargo build` of the generated backend,
//! the generated relay and the runner (`shopgen-up`), then a hand-over.
//!
//! The build runs in the Cargo workspace that holds the output folder, as any build
//! of the generated crates does: in shopgen's checkout that is the repository's
//! workspace, where the runner is the member `tools/shopgen-up`. So a `shopgen` from
//! `cargo run -p shopgen` and one from `cargo install --path compiler`, run in the
//! checkout, both build the runner from the checkout's sources, with the same runtime
//! crates the generated code links.
//!
//! The hand-over writes the stack to a file only its owner can read and replaces this
//! process with `shopgen-up STACK_FILE` (on Unix; elsewhere it runs the runner and
//! gives its exit code).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};
use shopgen_up_stack::Stack;

/// The runner's package and binary.
pub const RUNNER: &str = "shopgen-up";

/// The executables one build gave.
#[derive(Debug)]
pub struct Built {
    /// `None` when no backend was asked for (an existing service).
    pub backend: Option<PathBuf>,
    pub relay: PathBuf,
    pub runner: PathBuf,
}

/// Builds the generated backend and relay and the runner with cargo, in the workspace
/// that holds `out` (cargo's progress and errors on stderr); gives the executables.
pub fn build(out: &Path, backend: Option<&str>, relay: &str) -> anyhow::Result<Built> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let packages: Vec<&str> = backend.into_iter().chain([relay, RUNNER]).collect();
    eprintln!(
        "building {} and the runner {RUNNER} (cargo build) …",
        packages[..packages.len() - 1].join(", ")
    );
    let mut command = Command::new(&cargo);
    command.arg("build");
    for package in &packages {
        command.args(["-p", package]);
    }
    let mut child = command
        .arg("--message-format=json-render-diagnostics")
        .current_dir(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo")?;
    let mut executables: Vec<(String, String, PathBuf)> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            if let Some(exe) = executable(&line.context("cannot read cargo's output")?) {
                executables.push(exe);
            }
        }
    }
    let status = child.wait().context("cannot wait for cargo")?;
    let command = packages
        .iter()
        .map(|p| format!("-p {p}"))
        .collect::<Vec<_>>()
        .join(" ");
    if !status.success() {
        bail!(
            "`cargo build {command}` failed ({status}); see the errors above. `shopgen up` \
             builds in the Cargo workspace that holds {}: the generated crates and the \
             runner, the package `{RUNNER}` (`tools/shopgen-up` of shopgen's repository), must \
             be in it, as they are in a checkout of shopgen",
            out.display()
        );
    }
    let find = |package: &str| {
        executables
            .iter()
            .find(|(id, target, _)| target == package && package_is(id, package))
            .map(|(_, _, exe)| exe.clone())
            .ok_or_else(|| {
                anyhow::anyhow!("`cargo build {command}` gave no executable `{package}`")
            })
    };
    Ok(Built {
        backend: backend.map(find).transpose()?,
        relay: find(relay)?,
        runner: find(RUNNER)?,
    })
}

/// A binary from one line of cargo's JSON messages: package id, target name, path.
fn executable(line: &str) -> Option<(String, String, PathBuf)> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" {
        return None;
    }
    let is_bin = msg["target"]["kind"]
        .as_array()
        .is_some_and(|k| k.iter().any(|k| k == "bin"));
    if !is_bin {
        return None;
    }
    Some((
        msg["package_id"].as_str()?.to_string(),
        msg["target"]["name"].as_str()?.to_string(),
        PathBuf::from(msg["executable"].as_str()?),
    ))
}

/// Whether a cargo package id (`path+file:///…/backend#shop-backend@0.1.0`, or the
/// older `shop-backend 0.1.0 (path+file:///…)`) names the package `name`. A package id
/// without a name holds only the path; its last folder need not be the name, so
/// such an id matches any name.
fn package_is(package_id: &str, name: &str) -> bool {
    if package_id.starts_with(&format!("{name} ")) {
        return true;
    }
    match package_id.rsplit_once('#') {
        Some((_, tail)) if tail.contains('@') => tail.split('@').next() == Some(name),
        // `path+file:///…/up#0.1.0`: the folder stands for the name.
        Some(_) => true,
        None => false,
    }
}

/// Writes the stack to a new file only its owner can read, and gives over to the
/// runner; returns only when that fails (on Unix) or with the runner's exit code.
pub fn hand_over(runner: &Path, stack: &Stack) -> anyhow::Result<ExitCode> {
    let path = write_stack(stack)?;
    let mut command = Command::new(runner);
    command.arg(&path);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let _ = std::io::stdout().flush();
        let err = command.exec();
        let _ = std::fs::remove_file(&path);
        Err(anyhow::Error::new(err).context(format!("cannot start {}", runner.display())))
    }
    #[cfg(not(unix))]
    {
        let status = command.status();
        let _ = std::fs::remove_file(&path);
        let status = status.with_context(|| format!("cannot start {}", runner.display()))?;
        Ok(match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::from(1),
        })
    }
}

/// A new file in the temporary folder holding the stack as JSON, readable by its
/// owner only (it holds the API keys); the runner deletes it once read.
fn write_stack(stack: &Stack) -> anyhow::Result<PathBuf> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let path =
        std::env::temp_dir().join(format!("shopgen-up-{}-{nanos:09}.json", std::process::id()));
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let json = stack
        .to_json()
        .context("cannot write the stack description")?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_in_every_format() {
        let id = "path+file:///w/generated/shop/backend#shop-backend@0.1.0";
        assert!(package_is(id, "shop-backend"));
        assert!(!package_is(id, "shop-relay"));
        let id = "shop-backend 0.1.0 (path+file:///w/generated/shop/backend)";
        assert!(package_is(id, "shop-backend"));
        assert!(!package_is(id, "shop"));
        assert!(!package_is(
            "path+file:///w/x#shop-backend-extra@0.1.0",
            "shop-backend"
        ));
        // The folder is the name: cargo leaves the name out of the id.
        assert!(package_is("path+file:///w/tools/shopgen-up#0.1.0", RUNNER));
    }

    #[test]
    fn executables_come_from_bin_artifacts_only() {
        let bin = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/tools/shopgen-up#shopgen-up@0.1.0","target":{"kind":["bin"],"name":"shopgen-up"},"executable":"/t/debug/shopgen-up"}"#;
        assert_eq!(
            executable(bin),
            Some((
                "path+file:///w/tools/shopgen-up#shopgen-up@0.1.0".to_string(),
                "shopgen-up".to_string(),
                PathBuf::from("/t/debug/shopgen-up")
            ))
        );
        let lib = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/tools/shopgen-up#shopgen-up@0.1.0","target":{"kind":["lib"],"name":"shopgen_up"},"executable":null}"#;
        assert_eq!(executable(lib), None);
        assert_eq!(
            executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(executable("Compiling …"), None);
    }
}
