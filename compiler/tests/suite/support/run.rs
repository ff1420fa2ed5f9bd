//! The one way the tests run the built `shopgen`: [`shopgen`] gives a builder, [`Run`]
//! what came out.
//!
//! Every run is hermetic in the same ways: it starts in the repository's root unless
//! told otherwise, builds (for `shopgen up`) into the shared target folder without the
//! network, and sees neither the developer's `SHOPGEN_API_KEYS` nor the test process's
//! package variables (`super::clear_package_env`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::{clear_package_env, repo, target_dir};

/// `shopgen` with `args`; see [`Shopgen`].
pub fn shopgen<I, S>(args: I) -> Shopgen
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_shopgen"));
    command
        .args(args)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("SHOPGEN_API_KEYS");
    clear_package_env(&mut command);
    Shopgen { command }
}

/// A `shopgen` command line about to run.
pub struct Shopgen {
    command: Command,
}

impl Shopgen {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// The folder it runs in (the repository's root if not set).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn envs<'a>(mut self, vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.command.envs(vars);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(key);
        self
    }

    /// The command itself, for a caller that spawns it (`shopgen up`).
    pub fn command(self) -> Command {
        self.command
    }

    /// Runs it to the end.
    pub fn run(mut self) -> Run {
        let out = self
            .command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", self.command));
        Run {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs it to the end; panics with what it printed unless it succeeded.
    pub fn ok(self) -> Run {
        let shown = format!("{:?}", self.command);
        let run = self.run();
        assert!(run.success(), "{shown} failed:\n{}", run.text());
        run
    }
}

/// What a finished run gave.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stdout, then stderr.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The built `shopgen` binary (its folder also holds the workspace's other binaries).
pub fn shopgen_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shopgen"))
}
