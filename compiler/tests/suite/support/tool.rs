//! External programs the tests call (validators, `terraform`, `kubectl`, Chromium).
//!
//! One rule for all of them: when a program is missing, the check that needs it fails
//! if the `CI` environment variable is set (`.ci/run` installs every one of them) and
//! otherwise is skipped with a loud notice on stderr.

use std::path::PathBuf;
use std::process::Command;

/// The path of `name` on `PATH`, or `None` after a loud skip notice; with `CI` set a
/// missing program fails the test. `install` says how to get it.
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    tool_named(&[name], install)
}

/// [`tool`] for a program known under several names: the first found on `PATH`.
pub fn tool_named(names: &[&str], install: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let name = names.join(" or ");
        if std::env::var_os("CI").is_some() {
            panic!("`{name}` is required in CI but is not installed ({install})");
        }
        eprintln!(
            "\n!!! SKIPPED: `{name}` is not installed, so this check did not run ({install}).\n"
        );
    }
    found
}

/// Runs a command; panics with its output when it fails; stdout then stderr.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}
