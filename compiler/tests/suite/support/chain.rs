//! The reference chain built by hand from its real pieces: the local API Gateway
//! emulator (in process) in front of the generated relay in front of the generated
//! backend (or any upstream), each on its own port on 127.0.0.1, so a test can stop,
//! kill or stall one of them.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::run::shopgen_exe;
use super::up::free_port;
use super::{cargo_in, repo};

/// The API key the hand-built gateway accepts.
pub const API_KEY: &str = "chain-key";

/// The reference spec's generated binaries.
pub struct Binaries {
    pub backend: PathBuf,
    pub relay: PathBuf,
}

/// The generated backend and relay, next to the `shopgen` binary, built as `shopgen
/// up` builds them (`cargo build -p shop-backend -p shop-relay -p shopgen-up`; here
/// too so a test stands alone).
pub fn reference_binaries() -> Binaries {
    let status = cargo_in(&repo())
        .args([
            "build",
            "-p",
            "shop-backend",
            "-p",
            "shop-relay",
            "-p",
            "shopgen-up",
        ])
        .status()
        .expect("cargo build");
    assert!(status.success());
    Binaries {
        backend: shopgen_exe().with_file_name("shop-backend"),
        relay: shopgen_exe().with_file_name("shop-relay"),
    }
}

/// Waits until something accepts connections on `port`.
pub fn wait_listening(port: u16, what: &str) {
    let started = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the relay in front of `upstream_port` with the given upstream deadline;
/// waits until it listens.
pub fn start_relay(exe: &Path, upstream_port: u16, upstream_timeout_ms: u32) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(exe)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("UPSTREAM_URL", format!("http://127.0.0.1:{upstream_port}"))
        .env("UPSTREAM_TIMEOUT_MS", upstream_timeout_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the relay");
    wait_listening(port, "the relay");
    (child, port)
}

/// The local gateway for the reference document, in front of the relay at
/// `relay_port`; `deadline` replaces the document's backend deadline.
pub fn start_gateway(
    runtime: &tokio::runtime::Runtime,
    relay_port: u16,
    deadline: Option<Duration>,
) -> u16 {
    let text = std::fs::read_to_string(repo().join("generated/shop/openapi/gateway.yaml"))
        .expect("gateway.yaml");
    let doc = shopgen_gateway_local::GatewayDocument::parse(&text).expect("document");
    let config = shopgen_gateway_local::GatewayConfig {
        api_keys: BTreeSet::from([API_KEY.to_string()]),
        backend_override: Some(format!("http://127.0.0.1:{relay_port}")),
        deadline_override: deadline,
        access_log: None,
    };
    let gateway = Arc::new(shopgen_gateway_local::Gateway::new(&doc, config).expect("gateway"));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        shopgen_gateway_local::serve(listener, gateway, std::future::pending()).await;
    });
    port
}
