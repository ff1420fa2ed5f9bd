//! `shopgen up`'s runner: the whole stack on one machine, from the generated files.
//!
//! This crate holds everything `shopgen up` needs that links the server stack (tokio,
//! hyper, the local API Gateway emulator), so the compiler does not. Its binary,
//! `shopgen-up`, is built by the `shopgen` command in the same `cargo build` as the
//! generated backend and relay, and the command then replaces itself with it (see
//! `shopgen-up-stack` for why). It knows nothing about specs: the command compiles the
//! spec, checks that the output folder is current, claims the ports, builds, and
//! describes the stack as a [`Stack`]. [`run`] then, until Ctrl-C or SIGTERM:
//!
//! 1. binds the gateway's port (the others are checked again as each service starts);
//! 2. starts the backend, waits for `/readyz`; starts the relay in front of it, waits
//!    for `/healthz`; loads the seed through the backend's internal API;
//! 3. serves the local API Gateway emulator (`shopgen-gateway-local`) in-process, from
//!    the output's `openapi/gateway.yaml` with the backend address pointed at the
//!    relay, and prints the three URLs;
//! 4. on Ctrl-C or SIGTERM stops the gateway, then the relay, then the backend (SIGTERM,
//!    then SIGKILL after a grace period) and reaps them; if the backend or the relay
//!    exits by itself, says so and stops the rest (exit code 1).
//!
//! Every service listens on 127.0.0.1 only.

mod http;
mod procs;
mod seed;

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use shopgen_facts::{backend::env as backend, relay::env as relay};
use shopgen_gateway_local::{Gateway, GatewayConfig, GatewayDocument, JwksSource};
use shopgen_up_stack::{Ports, Role, bind_loopback};

use http::Http;
use procs::Service;
pub use shopgen_up_stack::Stack;

/// Time the backend and relay get to drain after SIGTERM before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Runs the stack to the end; the exit code to give.
pub fn run(stack: Stack) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(up(stack))
}

async fn up(stack: Stack) -> anyhow::Result<ExitCode> {
    let mut keys = stack.api_keys.clone();
    let generated_key = keys.is_empty().then(generate_key);
    if let Some(k) = &generated_key {
        keys.insert(k.clone());
    }
    let gateway_doc_path = &stack.gateway_document;
    let gateway_doc = std::fs::read_to_string(gateway_doc_path)
        .with_context(|| format!("cannot read {}", gateway_doc_path.display()))?;
    let gateway_doc = GatewayDocument::parse(&gateway_doc)
        .map_err(|e| anyhow::anyhow!("{}: {e}", gateway_doc_path.display()))?;

    // The command claimed the ports before its build; the gateway's is held from now
    // on, the others are checked again just before each service starts.
    let ports = stack.ports;
    let gateway_listener = bind_loopback(ports.gateway, Role::Gateway)?;

    let http = Http::new();
    let mut backend: Option<Service> = None;
    let mut relay: Option<Service> = None;
    let started = start(&stack, &http, (&mut backend, &mut relay)).await;
    let code = match started {
        Ok(()) => {
            let Some(r) = relay.as_mut() else {
                bail!("internal error: the relay is missing after start");
            };
            let b = backend.as_mut();
            let std_listener = gateway_listener;
            std_listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(std_listener)?;
            let config = GatewayConfig {
                api_keys: keys.clone(),
                backend_override: Some(format!("http://127.0.0.1:{}", ports.relay)),
                deadline_override: None,
                access_log: Some(Arc::new(|line| println!("{:>7} | {line}", "gateway"))),
            };
            let mut gateway = Gateway::new(&gateway_doc, config)
                .map_err(|e| anyhow::anyhow!("{}: {e}", gateway_doc_path.display()))?;
            if !stack.jwks.is_empty() {
                // `shopgen up --jwks PROVIDER=FILE`: the provider's keys from a local
                // file instead of its `jwks_uri`.
                let files: std::collections::BTreeMap<String, JwksSource> = stack
                    .jwks
                    .iter()
                    .map(|(scheme, path)| (scheme.clone(), JwksSource::File(path.clone())))
                    .collect();
                gateway = gateway
                    .with_jwks_override(&files)
                    .map_err(|e| anyhow::anyhow!("--jwks: {e}"))?;
            }
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

/// Starts the backend and the relay, waits for both, loads the seed.
async fn start(
    stack: &Stack,
    http: &Http,
    (backend, relay): (&mut Option<Service>, &mut Option<Service>),
) -> anyhow::Result<()> {
    let ports = &stack.ports;
    let relay_exe = &stack.relay_exe;
    let backend_url = match (&stack.upstream, &stack.backend_exe) {
        (Some(upstream), _) => {
            if let Some(health) = &upstream.health_url {
                wait_for_upstream(http, health, Duration::from_secs(30)).await?;
            }
            upstream.url.clone()
        }
        (None, Some(exe)) => start_backend(stack, http, exe, backend).await?,
        (None, None) => bail!("internal error: the stack has neither a backend nor an upstream"),
    };
    drop(bind_loopback(ports.relay, Role::Relay)?);
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
        if let Some(present) = seed::already_present(seed, http, &backend_url).await {
            eprintln!(
                "seed not loaded: the database already has {present} (loading again would \
                 duplicate them; start from an empty database to reseed)"
            );
            return Ok(());
        }
        let n = seed::load(seed, http, &backend_url)
            .await
            .map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        eprintln!("seeded {n} records through the internal API");
    }
    Ok(())
}

/// Starts the generated backend and waits until it is ready; gives its URL.
async fn start_backend(
    stack: &Stack,
    http: &Http,
    backend_exe: &std::path::Path,
    backend: &mut Option<Service>,
) -> anyhow::Result<String> {
    let ports = &stack.ports;
    drop(bind_loopback(ports.backend, Role::Backend)?);
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
    Ok(backend_url)
}

/// Waits until an existing service answers its health endpoint with a 2xx.
async fn wait_for_upstream(http: &Http, url: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = match http
            .send(hyper::Method::GET, url, None, Duration::from_secs(2))
            .await
        {
            Ok(answer) if answer.status.is_success() => return Ok(()),
            Ok(answer) => format!("it answered {}", answer.status),
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the upstream is not healthy at {url} after {within:?} ({last}); start it \
                 first, or check `--upstream` and the spec's `upstream.health_path`"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    backend: Option<&mut Service>,
    relay: &mut Service,
) -> ExitCode {
    // In front of an existing service there is no backend process to watch.
    let backend_exited = async {
        match backend {
            Some(b) => b.exited().await,
            None => std::future::pending().await,
        }
    };
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
    let all = if stack.upstream.is_some() {
        "the gateway and the relay"
    } else {
        "the gateway, the relay and the backend"
    };
    let code = tokio::select! {
        _ = &mut ctrl_c => {
            eprintln!("Ctrl-C: stopping {all}");
            ExitCode::SUCCESS
        }
        _ = term => {
            eprintln!("SIGTERM: stopping {all}");
            ExitCode::SUCCESS
        }
        status = backend_exited => {
            eprintln!("error: the backend exited unexpectedly ({}); stopping the relay and the gateway", describe(status));
            ExitCode::from(1)
        }
        status = relay.exited() => {
            eprintln!("error: the relay exited unexpectedly ({}); stopping the {}", describe(status), if stack.upstream.is_some() { "gateway" } else { "backend and the gateway" });
            ExitCode::from(1)
        }
        _ = &mut gateway_task => {
            eprintln!("error: the gateway stopped unexpectedly; stopping the relay{}", if stack.upstream.is_some() { "" } else { " and the backend" });
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
    let upstream = stack.upstream.as_ref();
    println!(
        "{} is up: local API Gateway emulator → relay → {}",
        stack.service_name,
        if upstream.is_some() {
            "upstream"
        } else {
            "backend"
        }
    );
    println!(
        "  gateway  http://127.0.0.1:{:<5}  (API key required: header {header})",
        ports.gateway
    );
    println!("  relay    http://127.0.0.1:{}", ports.relay);
    match upstream {
        Some(u) => println!("  upstream {}  (the existing service, --upstream)", u.url),
        None => println!(
            "  backend  http://127.0.0.1:{:<5}  (internal API, {database})",
            ports.backend
        ),
    }
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
    if upstream.is_some() {
        println!("Ctrl-C stops the gateway and the relay (the upstream keeps running).");
    } else {
        println!("Ctrl-C stops all three.");
    }
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
    fn generated_keys_differ() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 32);
    }
}
