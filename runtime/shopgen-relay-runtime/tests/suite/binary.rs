//! The relay as a process (the sample binary `shopgen-relay-dev`, which is what every
//! generated relay's `main` amounts to): settings validation and exit codes, `--help`,
//! the JSON log lines, and SIGTERM draining in-flight requests before exiting 0.

use std::process::Stdio;
use std::time::Duration;

use crate::support::*;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_shopgen-relay-dev");

fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs the binary to completion; gives (exit code, stdout, stderr).
async fn run_to_end(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(10), command(env).args(args).output())
        .await
        .expect("the relay did not exit")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Process {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    addr: std::net::SocketAddr,
}

impl Process {
    async fn start(upstream_url: &str, extra: &[(&str, &str)]) -> Process {
        let mut env = vec![
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("UPSTREAM_URL", upstream_url),
        ];
        env.extend_from_slice(extra);
        let mut child = command(&env).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = next_json(&mut lines).await;
        assert_eq!(first["message"], "listening", "{first}");
        assert_eq!(first["service"], "shopgen-relay-dev");
        let addr = first["addr"].as_str().unwrap().parse().unwrap();
        Process { child, lines, addr }
    }

    async fn next_log(&mut self) -> serde_json::Value {
        next_json(&mut self.lines).await
    }

    fn terminate(&self) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn wait(&mut self) -> i32 {
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the relay did not exit after SIGTERM")
            .unwrap()
            .code()
            .unwrap_or(-1)
    }
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> serde_json::Value {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("no log line")
        .unwrap()
        .expect("stdout closed");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"))
}

#[tokio::test]
async fn a_bad_upstream_url_fails_fast_with_exit_code_2() {
    for (url, says) in [
        ("ftp://10.0.0.1", "scheme must be http"),
        ("https://10.0.0.1", "scheme must be http"),
        ("not a url", "not a URL"),
        ("http://u:p@10.0.0.1", "user info"),
        ("http://10.0.0.1/a/../b", "base path"),
    ] {
        let (code, _, stderr) = run_to_end(&[("UPSTREAM_URL", url)], &[]).await;
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(stderr.contains("--upstream-url"), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
    }
    let (code, _, stderr) = run_to_end(&[], &[]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("--upstream-url"), "{stderr}");
}

#[tokio::test]
async fn other_bad_settings_fail_fast_with_exit_code_2() {
    for (name, value) in [
        ("PORT", "99999"),
        ("PORT", "http"),
        ("HOST", "localhost:1"),
        ("UPSTREAM_TIMEOUT_MS", "0"),
        ("UPSTREAM_TIMEOUT_MS", "soon"),
        ("CONNECT_TIMEOUT_MS", "-5"),
        ("MAX_BODY_BYTES", "1MB"),
        ("MAX_BODY_BYTES", "0"),
        ("API_KEY_HEADER", "bad header"),
        ("API_KEY_HEADER", "Host"),
        ("WORKER_THREADS", "0"),
        ("ACCESS_LOG", "maybe"),
    ] {
        let (code, _, stderr) = run_to_end(
            &[("UPSTREAM_URL", "http://127.0.0.1:1"), (name, value)],
            &[],
        )
        .await;
        assert_eq!(code, 2, "{name}={value}: {stderr}");
        let flag = format!("--{}", name.to_ascii_lowercase().replace('_', "-"));
        assert!(stderr.contains(&flag), "{name}={value}: {stderr}");
    }
}

#[tokio::test]
async fn help_lists_every_setting() {
    let (code, stdout, _) = run_to_end(&[], &["--help"]).await;
    assert_eq!(code, 0);
    for env in [
        "HOST",
        "PORT",
        "UPSTREAM_URL",
        "UPSTREAM_TIMEOUT_MS",
        "CONNECT_TIMEOUT_MS",
        "MAX_BODY_BYTES",
        "API_KEY_HEADER",
        "DRAIN_TIMEOUT_MS",
        "WORKER_THREADS",
        "ACCESS_LOG",
    ] {
        assert!(
            stdout.contains(&format!("[env: {env}")),
            "{env} missing:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn a_port_in_use_fails_with_exit_code_1() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = run_to_end(
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", &port),
            ("UPSTREAM_URL", "http://127.0.0.1:1"),
        ],
        &[],
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

#[tokio::test]
async fn it_proxies_logs_one_json_line_per_request_and_exits_0_on_sigterm() {
    let up = upstream(0).await;
    let mut relay = Process::start(&up.url(), &[]).await;

    let res = get(relay.addr, "/products/42?x=1", "X-Request-Id: log-1").await;
    assert_eq!(res.status, 200);
    let log = relay.next_log().await;
    assert_eq!(log["severity"], "INFO");
    assert_eq!(log["message"], "request");
    assert_eq!(log["method"], "GET");
    assert_eq!(log["route"], "/products/{id}");
    assert_eq!(log["operation"], "getProduct");
    assert_eq!(log["path"], "/products/42");
    assert_eq!(log["status"], 200);
    assert_eq!(log["request_id"], "log-1");
    assert!(log["upstream_ms"].as_f64().unwrap() >= 0.0, "{log}");
    assert!(log["latency_ms"].as_f64().unwrap() >= 0.0, "{log}");

    let res = get(relay.addr, "/admin\"x", "").await;
    assert_eq!(res.status, 400);
    let log = relay.next_log().await;
    assert_eq!(log["status"], 400);
    assert_eq!(log["route"], "-");
    assert_eq!(log["reject"], "invalid_path");

    let res = get(relay.addr, "/healthz", "").await;
    assert_eq!(res.status, 200);
    assert_eq!(relay.next_log().await["path"], "/healthz");

    relay.terminate();
    assert_eq!(relay.next_log().await["message"], "shutting down");
    assert_eq!(relay.next_log().await["message"], "stopped");
    assert_eq!(relay.wait().await, 0);
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests() {
    let up = upstream(0).await;
    let mut relay = Process::start(&up.url(), &[("ACCESS_LOG", "false")]).await;
    let addr = relay.addr;
    let slow = tokio::spawn(async move { get(addr, "/products?delay_ms=700", "").await });
    // Let the request reach the upstream, then ask the relay to stop.
    for _ in 0..100 {
        if up.count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(up.count(), 1);
    relay.terminate();
    let res = slow.await.unwrap();
    assert_eq!(res.status, 200, "the in-flight request was cut");
    assert_eq!(relay.wait().await, 0);
    // Stopped: new connections are refused.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn the_drain_timeout_bounds_shutdown() {
    let up = upstream(0).await;
    let mut relay = Process::start(&up.url(), &[("DRAIN_TIMEOUT_MS", "300")]).await;
    let addr = relay.addr;
    let stuck = tokio::spawn(async move { get(addr, "/products?delay_ms=5000", "").await });
    for _ in 0..100 {
        if up.count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    relay.terminate();
    assert_eq!(relay.next_log().await["message"], "shutting down");
    assert_eq!(
        relay.next_log().await["message"],
        "drain timed out; closing remaining connections"
    );
    assert_eq!(relay.wait().await, 0);
    assert!(started.elapsed() < Duration::from_secs(3));
    stuck.abort();
}

#[tokio::test]
async fn connection_failures_are_logged_with_the_retry() {
    let dead = dead_addr().await;
    let mut relay = Process::start(&format!("http://{dead}"), &[]).await;
    let res = get(relay.addr, "/products", "").await;
    assert_eq!(res.status, 502);
    let log = relay.next_log().await;
    assert_eq!(log["severity"], "WARNING");
    assert_eq!(log["status"], 502);
    assert_eq!(log["retried"], "true", "a GET was not retried: {log}");
    assert!(log["error"].as_str().unwrap().contains("onnect"), "{log}");

    let res = send(relay.addr, "POST", "/products/1/reviews", "", b"{}").await;
    assert_eq!(res.status, 502);
    let log = relay.next_log().await;
    assert_eq!(
        log["retried"],
        serde_json::Value::Null,
        "a POST was retried: {log}"
    );
    relay.terminate();
    relay.wait().await;
}

#[tokio::test]
async fn multi_threaded_mode_serves_too() {
    let up = upstream(0).await;
    let mut relay = Process::start(
        &up.url(),
        &[("WORKER_THREADS", "2"), ("ACCESS_LOG", "false")],
    )
    .await;
    assert_eq!(get(relay.addr, "/products", "").await.status, 200);
    relay.terminate();
    assert_eq!(relay.wait().await, 0);
}
