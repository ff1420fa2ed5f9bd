//! The processes `shopgen up` runs (the generated backend and relay): start with
//! prefixed output, readiness, stop (SIGTERM, then SIGKILL after a grace period), and
//! reaping.
//!
//! Each child runs in its own process group, so a Ctrl-C in the terminal reaches
//! `shopgen up` alone and the children are stopped in order; on Linux each child also
//! asks the kernel for SIGTERM when `shopgen up` dies (`PR_SET_PDEATHSIG`), so not even
//! a SIGKILL of `shopgen up` leaves one behind.

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::http::Http;

/// A running child service.
pub struct Service {
    /// `backend` or `relay`: prefixes its output and names it in messages.
    pub name: &'static str,
    child: Child,
    pid: u32,
    output: Vec<JoinHandle<()>>,
}

impl Service {
    /// Starts `exe` with `envs`, forwarding its output line by line with a prefix.
    pub fn spawn(name: &'static str, exe: &Path, envs: &[(&str, String)]) -> io::Result<Service> {
        let mut cmd = Command::new(exe);
        cmd.envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: the closure runs in the forked child before exec and calls only
        // `prctl`, which is async-signal-safe; it touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the child exited before it could be watched"))?;
        let mut output = Vec::new();
        if let Some(out) = child.stdout.take() {
            output.push(tokio::spawn(forward(name, out, false)));
        }
        if let Some(err) = child.stderr.take() {
            output.push(tokio::spawn(forward(name, err, true)));
        }
        Ok(Service {
            name,
            child,
            pid,
            output,
        })
    }

    /// Waits until `GET url` answers 200, or fails when the child exits or `timeout`
    /// passes.
    pub(crate) async fn wait_ready(
        &mut self,
        http: &Http,
        url: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.flush_output().await;
                return Err(format!(
                    "the {} exited while starting ({status})",
                    self.name
                ));
            }
            if let Ok(answer) = http
                .send(hyper::Method::GET, url, None, Duration::from_secs(2))
                .await
                && answer.status.is_success()
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "the {} did not answer {url} within {} s",
                    self.name,
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Completes when the child exits (it is reaped).
    pub async fn exited(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.flush_output().await;
        status
    }

    /// Stops the child: SIGTERM, up to `grace` to exit (the services drain in-flight
    /// requests), then SIGKILL; always reaps it. Gives its exit status.
    pub async fn stop(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            self.flush_output().await;
            return Ok(status);
        }
        signal(self.pid, libc::SIGTERM);
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                eprintln!(
                    "{} did not stop within {} s; killing it",
                    self.name,
                    grace.as_secs()
                );
                self.child.kill().await?;
                self.child.wait().await?
            }
        };
        self.flush_output().await;
        Ok(status)
    }

    /// Waits (briefly) for the last lines of output to be printed.
    async fn flush_output(&mut self) {
        for task in self.output.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

/// Sends `sig` to a child that has not been reaped yet (so the pid is still ours).
fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: `kill` has no memory-safety preconditions; the pid belongs to a
        // child of this process that has not been reaped, so it cannot be reused.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Copies a child's output to ours, each line prefixed with the service's name.
async fn forward(name: &'static str, stream: impl AsyncRead + Unpin, to_stderr: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if to_stderr {
            eprintln!("{name:>7} | {line}");
        } else {
            println!("{name:>7} | {line}");
        }
    }
}
