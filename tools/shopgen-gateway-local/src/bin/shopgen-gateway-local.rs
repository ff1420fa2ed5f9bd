//! `shopgen-gateway-local`: the API Gateway emulator on its own, for a gateway document
//! and a backend address (`shopgen up` runs the same engine in-process).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use shopgen_gateway_local::{Gateway, GatewayConfig, GatewayDocument, JwksSource, serve};

/// A local emulator of Google API Gateway (not a production gateway): serves the
/// operations of a gateway document, checks API keys, and forwards to the backend.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The gateway document (Swagger 2.0 or OpenAPI 3.x with Google extensions).
    document: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Replaces the document's backend addresses, e.g. http://127.0.0.1:8081.
    #[arg(long, env = "BACKEND_ADDRESS")]
    backend_address: Option<String>,
    /// A valid API key (repeatable; the environment variable takes a comma-separated list).
    #[arg(
        long = "api-key",
        env = "API_KEYS",
        value_delimiter = ',',
        required = true
    )]
    api_keys: Vec<String>,
    /// PROVIDER=FILE: verify the JWTs of a provider (its security scheme's name, or its
    /// issuer) with the JWKS in FILE instead of fetching its jwks_uri (repeatable).
    #[arg(long = "jwks", value_name = "PROVIDER=FILE", value_parser = parse_jwks)]
    jwks: Vec<(String, PathBuf)>,
}

fn parse_jwks(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((p, f)) if !p.is_empty() && !f.is_empty() => Ok((p.to_string(), PathBuf::from(f))),
        _ => Err("expected PROVIDER=FILE".into()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let text = match std::fs::read_to_string(&args.document) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.document.display());
            return ExitCode::from(2);
        }
    };
    let doc = match GatewayDocument::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}: {e}", args.document.display());
            return ExitCode::from(2);
        }
    };
    let config = GatewayConfig {
        api_keys: args
            .api_keys
            .iter()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect::<BTreeSet<_>>(),
        backend_override: args.backend_address.clone(),
        deadline_override: None,
        access_log: Some(Arc::new(|line| println!("{line}"))),
    };
    let jwks: BTreeMap<String, JwksSource> = args
        .jwks
        .iter()
        .map(|(p, f)| (p.clone(), JwksSource::File(f.clone())))
        .collect();
    let gateway = match Gateway::new(&doc, config).and_then(|g| g.with_jwks_override(&jwks)) {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        let signals = match shopgen_process::StopSignals::register() {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("error: cannot handle SIGTERM/SIGINT: {e}");
                return ExitCode::from(1);
            }
        };
        eprintln!("gateway (local emulator) on http://{addr}");
        serve(listener, gateway, signals.recv()).await;
        ExitCode::SUCCESS
    })
}
