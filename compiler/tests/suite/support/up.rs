//! `shopgen up` as real processes on 127.0.0.1: free ports, [`Up`] (a running
//! `shopgen up` whose printed lines are collected and which is stopped when dropped),
//! and the signal and process-group helpers around it.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a first `cargo build` of the generated crates may take on a busy machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(1500);

/// The line `shopgen up` prints once all three services answer.
pub const BANNER: &str = "Ctrl-C stops all three.";
/// The line `shopgen up --upstream` prints once the gateway and the relay answer.
pub const UPSTREAM_BANNER: &str = "Ctrl-C stops the gateway and the relay";

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: `kill` has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// SIGTERM to the process group led by `child`, a grace period, then SIGKILL to what
/// is left of the group; reaps `child`.
pub fn stop_group(child: &mut Child, grace: Duration) {
    let pgid = libc::pid_t::try_from(child.id()).expect("pid fits");
    if matches!(child.try_wait(), Ok(None)) {
        // SAFETY: `kill` has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < grace && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Every line a child prints (stdout and stderr), collected by reader threads and
/// echoed to the test's stderr with `tag`.
pub fn collect(child: &mut Child, tag: &'static str) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                lines.lock().expect("lock").push(line);
            }
        });
    }
    lines
}

/// A running `shopgen up` in a process group of its own, with every line it printed.
/// Dropping it stops the group (SIGTERM, then SIGKILL), so a failed test leaves
/// nothing running.
pub struct Up {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub gateway: u16,
    pub relay: u16,
    pub backend: u16,
    /// How many lines came before the banner (start-up: builds, readiness, the seed).
    pub start_up: usize,
    _keep: Option<tempfile::TempDir>,
}

impl Up {
    /// Runs `shopgen` (`shopgen up …`) on three free ports and waits for the banner.
    /// `keep` (a folder holding its database, say) lives as long as the `Up`.
    pub fn spawn(shopgen: super::Shopgen, keep: Option<tempfile::TempDir>) -> Up {
        Up::start(shopgen, keep, true)
    }

    /// Runs `shopgen` (`shopgen up SPEC --upstream URL …`, in front of a service the
    /// test runs) on two free ports and waits for its banner; `backend` is 0.
    pub fn spawn_upstream(shopgen: super::Shopgen) -> Up {
        Up::start(shopgen, None, false)
    }

    fn start(shopgen: super::Shopgen, keep: Option<tempfile::TempDir>, backend: bool) -> Up {
        let mut cmd = shopgen.command();
        let (gateway, relay) = (free_port(), free_port());
        let backend = if backend { free_port() } else { 0 };
        cmd.args(["--gateway-port", &gateway.to_string()])
            .args(["--relay-port", &relay.to_string()]);
        if backend != 0 {
            cmd.args(["--backend-port", &backend.to_string()]);
        }
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start shopgen up");
        let lines = collect(&mut child, "up");
        let mut up = Up {
            child,
            lines,
            gateway,
            relay,
            backend,
            start_up: 0,
            _keep: keep,
        };
        let banner = if backend != 0 {
            BANNER
        } else {
            UPSTREAM_BANNER
        };
        up.start_up = up.wait_for(&[banner], START_TIMEOUT);
        up
    }

    pub fn output(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }

    /// Waits until a printed line contains every one of `needles`; its index. Panics
    /// (with the output) if `shopgen up` exits first or `timeout` passes.
    pub fn wait_for(&mut self, needles: &[&str], timeout: Duration) -> usize {
        let started = Instant::now();
        loop {
            let found = self
                .output()
                .iter()
                .position(|l| needles.iter().all(|n| l.contains(n)));
            if let Some(at) = found {
                return at;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "shopgen up exited ({status}) before printing {needles:?}:\n{}",
                    self.output().join("\n")
                );
            }
            assert!(
                started.elapsed() < timeout,
                "no line with {needles:?} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first printed line containing `needle`, waiting for it as [`Up::wait_for`].
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let at = self.wait_for(&[needle], timeout);
        self.output().swap_remove(at)
    }

    /// Waits for `shopgen up` to exit; its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                std::thread::sleep(Duration::from_millis(200));
                return status.code();
            }
            assert!(
                started.elapsed() < timeout,
                "shopgen up still running after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig` to `shopgen up` itself (not its group).
    pub fn signal(&self, sig: libc::c_int) {
        signal(self.child.id(), sig);
    }

    /// Sends `sig` to the process group `shopgen up` leads, as a terminal sends Ctrl-C
    /// (SIGINT) to its foreground group.
    pub fn signal_group(&self, sig: libc::c_int) {
        let pgid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: `kill` has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }

    /// SIGTERM; `shopgen up` must stop everything and exit 0 within a minute.
    pub fn stop(mut self) {
        self.signal(libc::SIGTERM);
        assert_eq!(
            self.wait_exit(Duration::from_secs(60)),
            Some(0),
            "shopgen up exit status after SIGTERM"
        );
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(20));
    }
}
