//! Running the real tools: every command is printed as it would be typed (`$ …`)
//! before it runs; in a dry run it is only printed. Output is streamed to the user
//! and kept, so a failure can be matched (a retry) and reported; secrets are captured
//! without being printed.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// One command line: a program found on `PATH`, its arguments, extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Text fed to the command's stdin (never printed).
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: &str) -> Self {
        Cmd {
            program: program.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
        }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, a: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
    pub fn stdin(mut self, input: Vec<u8>) -> Self {
        self.stdin = Some(input);
        self
    }

    /// The command as a shell line (arguments quoted where needed).
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        parts.push(shell_quote(&self.program));
        parts.extend(self.args.iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+^".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What a finished command gave back.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs commands, or only prints them.
pub struct Runner<'w> {
    pub dry_run: bool,
    pub out: &'w mut dyn Write,
    /// Where commands run (the repository root).
    pub dir: PathBuf,
}

/// How a command's output is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Streamed to the user and kept.
    Stream,
    /// Kept only (a check, or a value read from a tool).
    Quiet,
    /// Kept only, and never printed even on failure: it holds a secret.
    Secret,
}

impl Runner<'_> {
    pub fn say(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "{}", line.as_ref());
        let _ = self.out.flush();
    }

    /// Prints the command, then (unless dry) runs it. In a dry run, gives `None`.
    pub fn run(&mut self, cmd: &Cmd, show: Show) -> std::io::Result<Option<Output>> {
        self.say(format!("    $ {}", cmd.display()));
        if self.dry_run {
            return Ok(None);
        }
        self.exec(cmd, show).map(Some)
    }

    /// Runs without printing the command line (a check whose result is reported).
    pub fn probe(&mut self, cmd: &Cmd) -> std::io::Result<Output> {
        self.exec(cmd, Show::Quiet)
    }

    fn exec(&mut self, cmd: &Cmd, show: Show) -> std::io::Result<Output> {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).current_dir(&self.dir);
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        c.stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot run `{}`: {e} (is it installed and on PATH?)",
                    cmd.program
                ),
            )
        })?;
        if let (Some(input), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
            let input = input.clone();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let stream = show == Show::Stream;
        let err_pipe = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("the command's error output was not captured"))?;
        let err_thread = std::thread::spawn(move || copy(err_pipe, stream, true));
        let mut out_pipe = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("the command's output was not captured"))?;
        let mut stdout = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = out_pipe.read(&mut buf)?;
            if n == 0 {
                break;
            }
            stdout.extend_from_slice(&buf[..n]);
            if stream {
                let _ = self.out.write_all(&buf[..n]);
                let _ = self.out.flush();
            }
        }
        let stderr = err_thread.join().unwrap_or_default();
        let status = child.wait()?;
        Ok(Output {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }
}

fn copy(mut from: impl Read, echo: bool, to_stderr: bool) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if echo && to_stderr {
            let _ = std::io::stderr().write_all(&buf[..n]);
        }
    }
    kept
}

/// Whether `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

/// `PATH` as given, for messages.
pub fn path_var() -> OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_display_as_shell_lines() {
        let c = Cmd::new("terraform")
            .arg("-chdir=generated/shop/terraform")
            .arg("apply")
            .arg("-var")
            .arg("project=p")
            .arg("it's")
            .env("TF_IN_AUTOMATION", "1");
        assert_eq!(
            c.display(),
            "TF_IN_AUTOMATION=1 terraform -chdir=generated/shop/terraform apply -var project=p 'it'\\''s'"
        );
    }
}
