//! `shopgen up`: the whole stack on one machine, from the generated files.
//!
//! CLI front end only (it starts processes and binds ports; the compiler library stays
//! pure). Takes a spec and flags; runs, until Ctrl-C or SIGTERM:
//!
//! 1. compiles the spec and checks that `generated/<stem>/` is current (else it says
//!    which files differ and which `build` command fixes them);
//! 2. checks the seed file, if any, against the model, and that the ports are free;
//! 3. `cargo build -p <stem>-backend -p <stem>-relay`, with cargo's progress visible;
//! 4. starts the backend (`DATABASE_URL`: SQLite at `.shopgen/<stem>.db` unless
//!    `--database-url`), waits for `/readyz`; starts the relay in front of it, waits for
//!    `/healthz`; loads the seed through the backend's internal API;
//! 5. serves the local API Gateway emulator (`shopgen-gateway-local`) in-process, from
//!    `generated/<stem>/openapi/gateway.yaml` with the backend address pointed at the
//!    relay, and prints the three URLs;
//! 6. on Ctrl-C or SIGTERM stops the gateway, then the relay, then the backend (SIGTERM,
//!    then SIGKILL after a grace period) and reaps them; if the backend or the relay
//!    exits by itself, says so and stops the rest (exit code 1).
//!
//! Every service listens on 127.0.0.1 only.

mod http;
mod procs;
mod seed;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

use shopgen::model::Model;
use shopgen::{diagnostics, emit, output};
use shopgen_gateway_local::{Gateway, GatewayConfig, GatewayDocument};

use http::Http;
use procs::Service;
use seed::Seed;

/// Environment variable with API keys, comma-separated.
pub const API_KEYS_ENV: &str = "SHOPGEN_API_KEYS";
/// Time the backend and relay get to drain after SIGTERM before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// `shopgen up` flags.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The spec file, e.g. specs/shop.toml.
    pub spec: PathBuf,
    /// Folder of the generated code (default generated/<spec stem>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Port of the local API Gateway emulator (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub gateway_port: u16,
    /// Port of the relay (0: any free port).
    #[arg(long, default_value_t = 8081)]
    pub relay_port: u16,
    /// Port of the backend (default: the spec's service port, 3000; 0: any free port).
    #[arg(long)]
    pub backend_port: Option<u16>,
    /// Backend database: sqlite://FILE or postgres://… (default: SQLite at
    /// .shopgen/<spec stem>.db).
    #[arg(long)]
    pub database_url: Option<String>,
    /// An API key the gateway accepts (repeatable); when none is given, one is generated
    /// and printed.
    #[arg(long = "api-key", env = API_KEYS_ENV, value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// Sample data to load through the internal API after start (JSON: resources'
    /// plural names → records; has-many members hold child records), e.g.
    /// specs/shop.seed.json.
    #[arg(long)]
    pub seed: Option<PathBuf>,
}

/// Runs `shopgen up` to the end; the exit code to give.
pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(up(args))
}

/// The three ports, after `0` was resolved.
struct Ports {
    gateway: u16,
    relay: u16,
    backend: u16,
}

async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let src = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("cannot read {}", args.spec.display()))?;
    let source = shopgen::source_for(&args.spec);
    let model = match shopgen::compile(&src, source.clone()) {
        Ok(model) => model,
        Err(diags) => {
            eprint!(
                "{}",
                diagnostics::render(&diags, &source.display_path, &src)
            );
            return Ok(ExitCode::from(1));
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("generated").join(&source.stem));
    if !generated_is_current(&model, &args, &out)? {
        return Ok(ExitCode::from(1));
    }
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the seed file {}", path.display()))?;
            let seed = Seed::parse(&text, &model)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(seed)
        }
        None => None,
    };
    let mut keys: BTreeSet<String> = args
        .api_keys
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let generated_key = keys.is_empty().then(generate_key);
    if let Some(k) = &generated_key {
        keys.insert(k.clone());
    }
    let gateway_doc_path = out.join("openapi").join("gateway.yaml");
    let gateway_doc = std::fs::read_to_string(&gateway_doc_path)
        .with_context(|| format!("cannot read {}", gateway_doc_path.display()))?;
    let gateway_doc = GatewayDocument::parse(&gateway_doc)
        .map_err(|e| anyhow::anyhow!("{}: {e}", gateway_doc_path.display()))?;

    // Ports: the gateway's listener is held from now on; the others are checked now
    // (so a busy port is reported before a long build) and again just before use.
    let backend_port = args.backend_port.unwrap_or(model.service.container_port);
    let gateway_listener = bind(args.gateway_port, "gateway", "--gateway-port")?;
    let ports = Ports {
        gateway: gateway_listener.local_addr()?.port(),
        relay: free_port(args.relay_port, "relay", "--relay-port")?,
        backend: free_port(backend_port, "backend", "--backend-port")?,
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

    let (backend_exe, relay_exe) = build(&out, &model).await?;

    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(".shopgen").context("cannot create .shopgen/")?;
            format!("sqlite://.shopgen/{}.db", source.stem)
        }
    };
    let http = Http::new();
    let mut backend: Option<Service> = None;
    let mut relay: Option<Service> = None;
    let started = start(
        &model,
        &http,
        &ports,
        &database_url,
        (&backend_exe, &relay_exe),
        seed.as_ref(),
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
                &model,
                &ports,
                &database_url,
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

/// Says whether `out` holds what the spec generates; prints the differences if not.
fn generated_is_current(model: &Model, args: &UpArgs, out: &Path) -> anyhow::Result<bool> {
    let files = emit::emit_all(model);
    let drift =
        output::drift(out, &files).with_context(|| format!("cannot read {}", out.display()))?;
    if drift.is_empty() {
        return Ok(true);
    }
    for d in &drift {
        eprintln!("{:>22}: {}", d.describe(), out.join(d.path()).display());
    }
    let fix = match &args.out {
        Some(o) => format!(
            "cargo run -p shopgen -- build {} --out {}",
            args.spec.display(),
            o.display()
        ),
        None => format!("cargo run -p shopgen -- build {}", args.spec.display()),
    };
    eprintln!(
        "error: {} is not current for {} ({} file(s) differ); run `{fix}` first",
        out.display(),
        args.spec.display(),
        drift.len()
    );
    Ok(false)
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
async fn build(out: &Path, model: &Model) -> anyhow::Result<(PathBuf, PathBuf)> {
    let names = &model.service.names;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "building {} and {} (cargo build) …",
        names.backend_crate, names.relay_crate
    );
    let mut child = tokio::process::Command::new(&cargo)
        .args([
            "build",
            "-p",
            &names.backend_crate,
            "-p",
            &names.relay_crate,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(out)
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
            names.backend_crate,
            names.relay_crate
        );
    }
    let find = |krate: &str| {
        executables
            .iter()
            .find(|(pkg, target, _)| target == krate || package_is(pkg, krate))
            .map(|(_, _, exe)| exe.clone())
            .ok_or_else(|| anyhow::anyhow!("cargo built no executable for `{krate}`"))
    };
    Ok((find(&names.backend_crate)?, find(&names.relay_crate)?))
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
    model: &Model,
    http: &Http,
    ports: &Ports,
    database_url: &str,
    (backend_exe, relay_exe): (&Path, &Path),
    seed: Option<&Seed>,
    (backend, relay): (&mut Option<Service>, &mut Option<Service>),
) -> anyhow::Result<()> {
    free_port(ports.backend, "backend", "--backend-port")?;
    let b = backend.insert(
        Service::spawn(
            "backend",
            backend_exe,
            &[
                ("HOST", "127.0.0.1".into()),
                ("PORT", ports.backend.to_string()),
                ("DATABASE_URL", database_url.into()),
                (
                    "CACHE_CONTROL_ROUTES",
                    model.cache_control_routes().unwrap_or_default(),
                ),
            ],
        )
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
    let mut relay_env = vec![
        ("HOST", "127.0.0.1".into()),
        ("PORT", ports.relay.to_string()),
        ("UPSTREAM_URL", backend_url.clone()),
        ("API_KEY_HEADER", model.gateway.api_key_header.clone()),
        (
            "UPSTREAM_TIMEOUT_MS",
            model.relay.upstream_timeout_ms.to_string(),
        ),
        ("MAX_BODY_BYTES", model.relay.max_body_bytes.to_string()),
    ];
    // The same CORS policy the deployed relay gets from Terraform.
    if let Some(cors) = &model.gateway.cors {
        relay_env.extend(crate::emit::terraform::relay_cors_env(cors));
    }
    let r = relay.insert(
        Service::spawn("relay", relay_exe, &relay_env)
            .with_context(|| format!("cannot start {}", relay_exe.display()))?,
    );
    r.wait_ready(
        http,
        &format!("http://127.0.0.1:{}/healthz", ports.relay),
        Duration::from_secs(20),
    )
    .await
    .map_err(anyhow::Error::msg)?;

    if let Some(seed) = seed {
        if let Some(present) = seed.already_present(model, http, &backend_url).await {
            eprintln!(
                "seed not loaded: the database already has {present} (loading again would \
                 duplicate them; start from an empty database to reseed)"
            );
            return Ok(());
        }
        let n = seed
            .load(model, http, &backend_url)
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
    model: &Model,
    ports: &Ports,
    database_url: &str,
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

    print_banner(model, ports, database_url, keys, generated_key);

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
    model: &Model,
    ports: &Ports,
    database_url: &str,
    keys: &BTreeSet<String>,
    generated_key: Option<&str>,
) {
    let header = &model.gateway.api_key_header;
    let database = match database_url.strip_prefix("sqlite://") {
        Some(path) => format!("SQLite at {path}"),
        None if database_url.starts_with("sqlite:") => "SQLite".to_string(),
        None => "PostgreSQL from --database-url".to_string(),
    };
    let example_key = generated_key
        .or_else(|| keys.iter().next().map(String::as_str))
        .unwrap_or("KEY");
    let example_path = model
        .public_endpoints()
        .map(|e| e.path)
        .find(|p| !p.contains('{'))
        .unwrap_or("/");
    println!();
    println!(
        "{} is up: local API Gateway emulator → relay → backend",
        model.service.name
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
