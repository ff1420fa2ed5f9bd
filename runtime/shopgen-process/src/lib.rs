//! What every long-running shopgen process (the backend, the relay, the local
//! gateway) shares about its life: the signals that stop it ([`StopSignals`]), and, for
//! the servers that write a line per request, the batched writing of their log lines
//! to stdout ([`stdout_lines`]).
//!
//! Cloud Run and Kubernetes stop a container with SIGTERM; a developer stops
//! `shopgen up` with Ctrl-C (SIGINT). Until a process has a handler for them, either
//! signal kills it at once, with no drain and no exit status of its own. Tokio's
//! `ctrl_c()` and a `signal()` awaited inside the shutdown future register their
//! handler only when that future is first polled, which may be after the process has
//! printed that it is listening and served its first request on another thread: a
//! supervisor (or a test) that stops it then kills it instead. [`StopSignals::register`]
//! installs both handlers synchronously, so a process registers them before it says
//! it is listening.

use std::io;

pub mod stdout_lines;

/// SIGTERM and SIGINT, registered when made; [`StopSignals::recv`] completes on the
/// first of them received after that.
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers now. Call it inside a Tokio runtime (`Runtime::enter`,
    /// or from async code), before the process announces that it is listening.
    pub fn register() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Completes when SIGTERM or SIGINT arrives.
    pub async fn recv(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::Duration;

    /// A signal that arrives after `register` but before anyone awaits `recv` is
    /// neither lost nor fatal: the process is still here and `recv` completes.
    #[test]
    fn a_signal_before_the_first_poll_is_kept() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let signals = {
            let _context = runtime.enter();
            StopSignals::register().unwrap()
        };
        // kill(1) on this very process, as Kubernetes would.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), signals.recv())
                .await
                .expect("the SIGTERM sent before the first poll completes recv");
        });
    }
}
