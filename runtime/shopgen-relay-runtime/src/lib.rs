//! shopgen's relay runtime: the engine behind every generated relay, the service that
//! sits between Google API Gateway and the private network (API Gateway → this relay on
//! Cloud Run → the GKE internal load balancer → the backend).
//!
//! A generated relay is a table of [`PublicRoute`]s and a call to [`main`]; everything
//! else lives here, in private modules (the crate's public face is what generated
//! relays, the local gateway and the tests use, re-exported at the root):
//!
//! * `admission`: what the relay does with a request, decided from its head by one
//!   function both HTTP paths call (route table, caller, CORS preflight, limits);
//! * `route`: the public-route table and the strict path matcher (allowlist);
//! * `config`: settings from flags and the environment, validated at start;
//! * `proxy`: the engine (forwarding, deadline, retry, body limit, access log) of the
//!   general path;
//! * `conn`: the relay's own HTTP/1.1 path, which serves ordinary API calls without
//!   hyper's general-purpose codecs (the same `admission` as `proxy`);
//! * `h1`: HTTP/1.1 head parsing and body framing for that path;
//! * `upstream`: each client connection's own connection to the upstream;
//! * `caller`: only API Gateway's service account may call (`ALLOWED_INVOKERS`);
//! * `headers`: which headers are stripped, added and kept;
//! * `cors`: the CORS policy, the local preflight answer, headers on responses;
//! * `body`: streamed request and response bodies;
//! * `reply`: the health check and the JSON error shape;
//! * `server`: the HTTP/1.1 listener and graceful shutdown;
//! * `log`: JSON log lines.
//!
//! For tests and local stacks, [`Relay::new`] and [`serve`] run a relay on any listener.
//!
//! ## The process interface
//!
//! Settings come from flags or the environment (`--help` lists them: `HOST`, `PORT`,
//! `UPSTREAM_URL`, `UPSTREAM_TIMEOUT_MS`, `CONNECT_TIMEOUT_MS`, `MAX_BODY_BYTES`,
//! `API_KEY_HEADER`, `DRAIN_TIMEOUT_MS`, `WORKER_THREADS`, `ACCESS_LOG`, and the CORS
//! policy: `CORS_ALLOWED_ORIGINS`, `CORS_ALLOWED_HEADERS`, `CORS_EXPOSE_HEADERS`,
//! `CORS_MAX_AGE`, `CORS_ALLOW_CREDENTIALS`; see `cors`; and `ALLOWED_INVOKERS`, see
//! `caller`). Exit codes: 0
//! after SIGTERM/Ctrl-C and draining, 2 for a bad setting, 1 when the port cannot be
//! bound, 70 for a malformed route table. The first stdout line is a JSON `listening`
//! event carrying the bound `addr`, so a supervisor can start a relay with `PORT=0` and
//! read its port from there. Every other stdout line is JSON too (see `log`).
//!
//! ## Decisions
//!
//! * A wrong method on a known path is a 404, like API Gateway's answer for an unlisted
//!   operation, so a local stack behaves like the deployed one and the relay reveals
//!   no more than the gateway does.
//! * Ambiguous paths are refused (400), never normalised; the path forwarded is the
//!   exact bytes that matched (see `route`). A fragment (`#…`) is not part of the
//!   target: both paths read it up to the `#` (hyper's parser drops the rest) and
//!   forward only that (see `admission`).
//! * Only plain `http` upstreams: the upstream is the internal load balancer inside the
//!   VPC, and leaving TLS out keeps the binary small.
//! * One JSON error shape for everything the relay answers itself (see `reply`).

mod admission;
mod body;
mod caller;
mod config;
mod conn;
mod cors;
mod h1;
mod headers;
mod log;
mod proxy;
mod reply;
mod route;
mod server;
mod upstream;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory as _, FromArgMatches as _};

pub use admission::{Admission, Head, MAX_QUERY_BYTES, admit};
pub use caller::AllowedInvokers;
pub use config::{RelayConfig, Settings, UpstreamUrl};
pub use cors::CorsPolicy;
pub use headers::strip_hop_by_hop;
pub use proxy::{Relay, RelayError};
pub use route::{Method, PublicRoute, RouteTable, RouteTableError};
pub use server::serve;

use crate::log::{Line, Severity, Value};

/// Exit code for a route table that cannot be served (a bug in the generated code).
const EXIT_SOFTWARE: u8 = 70;

/// Runs a relay process: parses the settings (flags or environment; `--help` lists them),
/// listens, and serves `routes` until SIGTERM or Ctrl-C, then drains and returns success.
///
/// A bad setting prints clap's message and gives exit code 2; a port that cannot be bound
/// gives 1.
pub fn main(service: &'static str, routes: &'static [PublicRoute]) -> ExitCode {
    let matches = match Settings::command().name(service).try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_exit(&e),
    };
    let settings = match Settings::from_arg_matches(&matches) {
        Ok(s) => s,
        Err(e) => return clap_exit(&e),
    };
    if let Err(e) = settings.cors_policy() {
        eprintln!("error: CORS_ALLOWED_ORIGINS / CORS_*: {e}");
        return ExitCode::from(2);
    }
    let relay = match Relay::new(service, routes, settings.relay_config()) {
        Ok(relay) => Arc::new(relay),
        Err(e) => {
            eprintln!(
                "error: {e} (the route table and the upstream are checked when shopgen generates them: this is a bug in shopgen)"
            );
            return ExitCode::from(EXIT_SOFTWARE);
        }
    };
    let loops = usize::from(settings.worker_threads);
    let runtimes: Result<Vec<_>, _> = (0..loops)
        .map(|_| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        })
        .collect();
    let runtimes = match runtimes {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One listening socket per event loop, each registered with its own loop; with
    // more than one they share the port (SO_REUSEPORT) and the kernel spreads the
    // connections over them, as over nginx's workers.
    let mut listeners = Vec::with_capacity(loops);
    let mut addr = std::net::SocketAddr::new(settings.host, settings.port);
    for runtime in &runtimes {
        let _context = runtime.enter();
        match listen(addr, loops > 1) {
            Ok(listener) => {
                if let Ok(bound) = listener.local_addr() {
                    addr = bound;
                }
                listeners.push(listener);
            }
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {}:{} (HOST, PORT): {e}",
                    settings.host, settings.port
                );
                return ExitCode::FAILURE;
            }
        }
    }
    // The stop signals are registered before the `listening` line: from then on a
    // worker loop may serve, and a SIGTERM must drain the relay, not kill it.
    let Some(main_runtime) = runtimes.first() else {
        return ExitCode::FAILURE;
    };
    let signals = {
        let _context = main_runtime.enter();
        match shopgen_process::StopSignals::register() {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("error: cannot handle SIGTERM/SIGINT: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    Line::new(Severity::Info, "listening")
        .str("service", service)
        .str("addr", &addr.to_string())
        .str("upstream", &settings.upstream_url.to_string())
        .field("routes", Value::U64(routes.len() as u64))
        .emit();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut runtimes = runtimes.into_iter();
    let mut listeners = listeners.into_iter();
    let (Some(main_runtime), Some(main_listener)) = (runtimes.next(), listeners.next()) else {
        return ExitCode::FAILURE;
    };
    let workers: Vec<_> = runtimes
        .zip(listeners)
        .enumerate()
        .filter_map(|(i, (runtime, listener))| {
            let relay = relay.clone();
            let mut stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("relay-{}", i + 1))
                .spawn(move || {
                    runtime.block_on(serve(listener, relay, async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    }));
                })
                .ok()
        })
        .collect();
    main_runtime.block_on(serve(main_listener, relay, async move {
        signals.recv().await;
        let _ = stop.send(true);
    }));
    for worker in workers {
        let _ = worker.join();
    }
    Line::new(Severity::Info, "stopped").emit();
    ExitCode::SUCCESS
}

/// A listening socket on `addr`, sharing the port with others when `shared`.
fn listen(addr: std::net::SocketAddr, shared: bool) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    {
        socket.set_reuseaddr(true)?;
        if shared {
            socket.set_reuseport(true)?;
        }
    }
    #[cfg(not(unix))]
    let _ = shared;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn clap_exit(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}
