//! `shopgen up`'s runner: the whole stack on one machine, from the generated files.
//!
//! This crate holds everything `shopgen up` needs that links the server stack (tokio,
//! hyper, the local API Gateway emulator), so the compiler itself does not: the
//! `shopgen` command gets it only with its `up` feature. It knows nothing about specs;
//! the command compiles the spec, checks that the output folder is current and
//! describes the stack as a [`Stack`]. [`run`] then, until Ctrl-C or SIGTERM:
//!
//! 1. checks that the ports are free;
//! 2. `cargo build -p <backend crate> -p <relay crate>` in the output folder, with
//!    cargo's progress visible;
//! 3. starts the backend, waits for `/readyz`; starts the relay in front of it, waits
//!    for `/healthz`; loads the seed through the backend's internal API;
//! 4. serves the local API Gateway emulator (`shopgen-gateway-local`) in-process, from
//!    the output's `openapi/gateway.yaml` with the backend address pointed at the
//!    relay, and prints the three URLs;
//! 5. on Ctrl-C or SIGTERM stops the gateway, then the relay, then the backend (SIGTERM,
//!    then SIGKILL after a grace period) and reaps them; if the backend or the relay
//!    exits by itself, says so and stops the rest (exit code 1).
//!
//! Every service listens on 127.0.0.1 only.

mod http;
mod procs;
pub mod seed;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

use shopgen_facts::{backend::env as backend, relay::env as relay};
use shopgen_gateway_local::{Gateway, GatewayConfig, GatewayDocument};

use http::Http;
use procs::Service;
pub use seed::Seed;

/// Time the backend and relay get to drain after SIGTERM before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// The stack to run, as the `shopgen` command derives it from the spec and its flags.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The service's name, for the banner.
    pub service_name: String,
    /// The output folder; `cargo build` runs there (its generated crates are members
    /// of the workspace around it).
    pub out: PathBuf,
    /// The generated backend's package (and binary) name.
    pub backend_crate: String,
    /// The generated relay's package (and binary) name.
    pub relay_crate: String,
    /// Requested ports (0: any free port).
    pub gateway_port: u16,
    pub relay_port: u16,
    pub backend_port: u16,
    /// The backend's `DATABASE_URL`.
    pub database_url: String,
    /// The backend's environment besides `HOST`, `PORT` and `DATABASE_URL`.
    pub backend_env: Vec<(String, String)>,
    /// The relay's environment besides `HOST`, `PORT` and `UPSTREAM_URL`.
    pub relay_env: Vec<(String, String)>,
    /// The header API Gateway reads the key from (for the banner's example).
    pub api_key_header: String,
    /// Keys the gateway accepts; when empty, one is generated and printed.
    pub api_keys: BTreeSet<String>,
    /// A public path without parameters, for the banner's example request.
    pub example_path: String,
    /// Records to create through the internal API after start (into an empty
    /// database only).
    pub seed: Option<Seed>,
}

/// Runs the stack to the end; the exit code to give.
pub fn run(stack: Stack) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(up(stack))
}

/// The three ports, after `0` was resolved.
struct Ports {
    gateway: u16,
    relay: u16,
    backend: u16,
}

async fn up(stack: Stack) -> anyhow::Result<ExitCode> {
    let mut keys = stack.api_keys.clone();
    let generated_key = keys.is_empty().then(generate_key);
    if let Some(k) = &generated_key {
        keys.insert(k.clone());
    }
    let out = &stack.out;
    let gateway_doc_path = out.join("openapi").join("gateway.yaml");
    let gateway_doc = std::fs::read_to_string(&gateway_doc_path)
        .with_context(|| format!("cannot read {}", gateway_doc_path.display()))?;
    let gateway_doc = GatewayDocument::parse(&gateway_doc)
        .map_err(|e| anyhow::anyhow!("{}: {e}", gateway_doc_path.display()))?;

    // Ports: the gateway's listener is held from now on; the others are checked now
    // (so a busy port is reported before a long build) and again just before use.
    let gateway_listener = bind(stack.gateway_port, "gateway", "--gateway-port")?;
    let ports = Ports {
        gateway: gateway_listener.local_addr()?.port(),
        relay: free_port(stack.relay_port, "relay", "--relay-port")?,
        backend: free_port(stack.backend_port, "backend", "--backend-port")?,
    };
    if ports.relay == ports.backend
        || ports.relay == ports.gateway
        || ports.backend == ports.gateway
    {
        bail!(
            "the gateway, relay and backend need three different ports (got {}, {}, {})",
            ports.gateway,
            ports.relay,
            ports.backend
        );
    }

    let (backend_exe, relay_exe) = build(&stack).await?;

    let http = Http::new();
    let mut backend: Option<Service> = None;
    let mut relay: Option<Service> = None;
    let started = start(
        &stack,
        &http,
        &ports,
        (&backend_exe, &relay_exe),
        (&mut backend, &mut relay),
    )
    .await;
    let code = match started {
        Ok(()) => {
            let (Some(b), Some(r)) = (backend.as_mut(), relay.as_mut()) else {
                bail!("internal error: services missing after start");
            };
            let std_listener = gateway_listener;
            std_listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(std_listener)?;
            let config = GatewayConfig {
                api_keys: keys.clone(),
                backend_override: Some(format!("http://127.0.0.1:{}", ports.relay)),
                deadline_override: None,
                access_log: Some(Arc::new(|line| println!("{:>7} | {line}", "gateway"))),
            };
            let gateway = Gateway::new(&gateway_doc, config)
                .map_err(|e| anyhow::anyhow!("{}: {e}", gateway_doc_path.display()))?;
            supervise(
                &stack,
                &ports,
                &keys,
                generated_key.as_deref(),
                listener,
                Arc::new(gateway),
                b,
                r,
            )
            .await
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    };
    for service in [relay.as_mut(), backend.as_mut()].into_iter().flatten() {
        if let Err(e) = service.stop(STOP_GRACE).await {
            eprintln!("error: could not stop the {}: {e}", service.name);
        }
    }
    eprintln!("stopped");
    Ok(code)
}

/// Binds 127.0.0.1:`port` (0: any), or explains which flag picks another port.
fn bind(port: u16, what: &str, flag: &str) -> anyhow::Result<StdListener> {
    StdListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "port {port} ({what}) is already in use; choose another with {flag} <PORT>"
            )
        } else {
            anyhow::anyhow!("cannot listen on 127.0.0.1:{port} ({what}): {e}; see {flag}")
        }
    })
}

/// A port that is free now: `port` itself, or any free one for 0.
fn free_port(port: u16, what: &str, flag: &str) -> anyhow::Result<u16> {
    let listener = bind(port, what, flag)?;
    Ok(listener.local_addr()?.port())
}

/// Builds the generated backend and relay with cargo (progress on stderr); gives the
/// two executables.
async fn build(stack: &Stack) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "building {} and {} (cargo build) …",
        stack.backend_crate, stack.relay_crate
    );
    let mut child = tokio::process::Command::new(&cargo)
        .args([
            "build",
            "-p",
            &stack.backend_crate,
            "-p",
            &stack.relay_crate,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&stack.out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run cargo")?;
    let mut executables: Vec<(String, String, PathBuf)> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["reason"] != "compiler-artifact" {
                continue;
            }
            let is_bin = msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if let (true, Some(exe)) = (is_bin, msg["executable"].as_str()) {
                executables.push((
                    msg["package_id"].as_str().unwrap_or_default().to_string(),
                    msg["target"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    PathBuf::from(exe),
                ));
            }
        }
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!(
            "`cargo build -p {} -p {}` failed ({status}); see the errors above",
            stack.backend_crate,
            stack.relay_crate
        );
    }
    let find = |krate: &str| {
        executables
            .iter()
            .find(|(pkg, target, _)| target == krate || package_is(pkg, krate))
            .map(|(_, _, exe)| exe.clone())
            .ok_or_else(|| anyhow::anyhow!("cargo built no executable for `{krate}`"))
    };
    Ok((find(&stack.backend_crate)?, find(&stack.relay_crate)?))
}

/// Whether a cargo package id (`path+file:///…/backend#shop-backend@0.1.0` or the older
/// `shop-backend 0.1.0 (path+file:///…)`) names the package `name`.
fn package_is(package_id: &str, name: &str) -> bool {
    package_id.starts_with(&format!("{name} "))
        || package_id
            .rsplit_once('#')
            .is_some_and(|(_, tail)| tail.split('@').next() == Some(name))
}

/// Starts the backend and the relay, waits for both, loads the seed.
async fn start(
    stack: &Stack,
    http: &Http,
    ports: &Ports,
    (backend_exe, relay_exe): (&Path, &Path),
    (backend, relay): (&mut Option<Service>, &mut Option<Service>),
) -> anyhow::Result<()> {
    free_port(ports.backend, "backend", "--backend-port")?;
    let mut env: Vec<(&str, String)> = vec![
        (backend::HOST, "127.0.0.1".into()),
        (backend::PORT, ports.backend.to_string()),
        (backend::DATABASE_URL, stack.database_url.clone()),
    ];
    env.extend(
        stack
            .backend_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone())),
    );
    let b = backend.insert(
        Service::spawn("backend", backend_exe, &env)
            .with_context(|| format!("cannot start {}", backend_exe.display()))?,
    );
    let backend_url = format!("http://127.0.0.1:{}", ports.backend);
    b.wait_ready(
        http,
        &format!("{backend_url}/readyz"),
        Duration::from_secs(60),
    )
    .await
    .map_err(anyhow::Error::msg)?;

    free_port(ports.relay, "relay", "--relay-port")?;
    let mut env: Vec<(&str, String)> = vec![
        (relay::HOST, "127.0.0.1".into()),
        (relay::PORT, ports.relay.to_string()),
        (relay::UPSTREAM_URL, backend_url.clone()),
    ];
    env.extend(stack.relay_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let r = relay.insert(
        Service::spawn("relay", relay_exe, &env)
            .with_context(|| format!("cannot start {}", relay_exe.display()))?,
    );
    r.wait_ready(
        http,
        &format!("http://127.0.0.1:{}/healthz", ports.relay),
        Duration::from_secs(20),
    )
    .await
    .map_err(anyhow::Error::msg)?;

    if let Some(seed) = &stack.seed {
        if let Some(present) = seed.already_present(http, &backend_url).await {
            eprintln!(
                "seed not loaded: the database already has {present} (loading again would \
                 duplicate them; start from an empty database to reseed)"
            );
            return Ok(());
        }
        let n = seed
            .load(http, &backend_url)
            .await
            .map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        eprintln!("seeded {n} records through the internal API");
    }
    Ok(())
}

/// Serves the gateway, prints the URLs, and waits for a signal or a crash; stops the
/// gateway. Gives the exit code.
#[allow(clippy::too_many_arguments)]
async fn supervise(
    stack: &Stack,
    ports: &Ports,
    keys: &BTreeSet<String>,
    generated_key: Option<&str>,
    listener: TcpListener,
    gateway: Arc<Gateway>,
    backend: &mut Service,
    relay: &mut Service,
) -> ExitCode {
    #[cfg(unix)]
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot watch SIGTERM: {e}");
            return ExitCode::from(1);
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut gateway_task = tokio::spawn(shopgen_gateway_local::serve(listener, gateway, async {
        let _ = stop_rx.await;
    }));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    print_banner(stack, ports, keys, generated_key);

    #[cfg(unix)]
    let term = sigterm.recv();
    #[cfg(not(unix))]
    let term = std::future::pending::<Option<()>>();
    let code = tokio::select! {
        _ = &mut ctrl_c => {
            eprintln!("Ctrl-C: stopping the gateway, the relay and the backend");
            ExitCode::SUCCESS
        }
        _ = term => {
            eprintln!("SIGTERM: stopping the gateway, the relay and the backend");
            ExitCode::SUCCESS
        }
        status = backend.exited() => {
            eprintln!("error: the backend exited unexpectedly ({}); stopping the relay and the gateway", describe(status));
            ExitCode::from(1)
        }
        status = relay.exited() => {
            eprintln!("error: the relay exited unexpectedly ({}); stopping the backend and the gateway", describe(status));
            ExitCode::from(1)
        }
        _ = &mut gateway_task => {
            eprintln!("error: the gateway stopped unexpectedly; stopping the relay and the backend");
            ExitCode::from(1)
        }
    };
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), gateway_task).await;
    code
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("its status could not be read: {e}"),
    }
}

fn print_banner(
    stack: &Stack,
    ports: &Ports,
    keys: &BTreeSet<String>,
    generated_key: Option<&str>,
) {
    let header = &stack.api_key_header;
    let database = match stack.database_url.strip_prefix("sqlite://") {
        Some(path) => format!("SQLite at {path}"),
        None if stack.database_url.starts_with("sqlite:") => "SQLite".to_string(),
        None => "PostgreSQL from --database-url".to_string(),
    };
    let example_key = generated_key
        .or_else(|| keys.iter().next().map(String::as_str))
        .unwrap_or("KEY");
    let example_path = &stack.example_path;
    println!();
    println!(
        "{} is up: local API Gateway emulator → relay → backend",
        stack.service_name
    );
    println!(
        "  gateway  http://127.0.0.1:{:<5}  (API key required: header {header})",
        ports.gateway
    );
    println!("  relay    http://127.0.0.1:{}", ports.relay);
    println!(
        "  backend  http://127.0.0.1:{:<5}  (internal API, {database})",
        ports.backend
    );
    match generated_key {
        Some(k) => println!("API key (generated; choose your own with --api-key): {k}"),
        None if keys.len() == 1 => println!("API key: {example_key}"),
        None => println!(
            "API keys: {}",
            keys.iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    println!(
        "try: curl -H '{header}: {example_key}' http://127.0.0.1:{}{example_path}",
        ports.gateway
    );
    println!("Ctrl-C stops all three.");
    println!();
}

/// A fresh development key: `dev-` and 32 hex digits from the OS-seeded hasher.
fn generate_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("dev-");
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_in_both_formats() {
        assert!(package_is(
            "path+file:///w/generated/shop/backend#shop-backend@0.1.0",
            "shop-backend"
        ));
        assert!(package_is(
            "shop-backend 0.1.0 (path+file:///w/generated/shop/backend)",
            "shop-backend"
        ));
        assert!(!package_is(
            "path+file:///w/generated/shop/relay#shop-relay@0.1.0",
            "shop-backend"
        ));
        assert!(!package_is(
            "path+file:///w/x#shop-backend-extra@0.1.0",
            "shop-backend"
        ));
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 32);
    }
}
