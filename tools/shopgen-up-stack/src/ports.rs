//! The three loopback ports of `shopgen up` and the one check both programs make:
//! the command claims them before its build (a busy port is reported before a long
//! `cargo build`, and `0` becomes a real port), the runner binds them again when it
//! starts each service. Both say which flag picks another port.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use serde::{Deserialize, Serialize};

/// The gateway's, the relay's and the backend's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    pub gateway: u16,
    pub relay: u16,
    pub backend: u16,
}

/// One of the three services, for messages about its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Gateway,
    Relay,
    Backend,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Relay => "relay",
            Role::Backend => "backend",
        }
    }

    /// The `shopgen up` flag that sets its port.
    pub fn flag(self) -> &'static str {
        match self {
            Role::Gateway => "--gateway-port",
            Role::Relay => "--relay-port",
            Role::Backend => "--backend-port",
        }
    }
}

/// A port that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("port {port} ({}) is already in use; choose another with {} <PORT>", .role.name(), .role.flag())]
    InUse { port: u16, role: Role },
    #[error("cannot listen on 127.0.0.1:{port} ({}): {source}; see {}", .role.name(), .role.flag())]
    Listen {
        port: u16,
        role: Role,
        source: std::io::Error,
    },
    #[error(
        "the gateway, relay and backend need three different ports (got {}, {}, {})",
        .0.gateway, .0.relay, .0.backend
    )]
    Shared(Ports),
}

/// Binds 127.0.0.1:`port` (0: any free port) for `role`.
pub fn bind_loopback(port: u16, role: Role) -> Result<TcpListener, PortError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            PortError::InUse { port, role }
        } else {
            PortError::Listen { port, role, source }
        }
    })
}

/// Checks that the requested ports are different and free, with each `0` replaced by
/// a free port. All three are held until all are chosen, so two `0`s never get the
/// same port. The ports are free again when this returns.
pub fn claim(requested: Ports) -> Result<Ports, PortError> {
    let Ports {
        gateway,
        relay,
        backend,
    } = requested;
    let twice = |a: u16, b: u16| a != 0 && a == b;
    if twice(gateway, relay) || twice(gateway, backend) || twice(relay, backend) {
        return Err(PortError::Shared(requested));
    }
    let gateway = bind_loopback(requested.gateway, Role::Gateway)?;
    let relay = bind_loopback(requested.relay, Role::Relay)?;
    let backend = bind_loopback(requested.backend, Role::Backend)?;
    let port = |listener: &TcpListener, role: Role, requested: u16| {
        listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|source| PortError::Listen {
                port: requested,
                role,
                source,
            })
    };
    Ok(Ports {
        gateway: port(&gateway, Role::Gateway, requested.gateway)?,
        relay: port(&relay, Role::Relay, requested.relay)?,
        backend: port(&backend, Role::Backend, requested.backend)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_become_three_different_free_ports() {
        let ports = claim(Ports {
            gateway: 0,
            relay: 0,
            backend: 0,
        })
        .expect("free ports");
        let all = [ports.gateway, ports.relay, ports.backend];
        assert!(all.iter().all(|p| *p != 0), "{ports:?}");
        assert!(
            all[0] != all[1] && all[1] != all[2] && all[0] != all[2],
            "{ports:?}"
        );
    }

    #[test]
    fn a_busy_port_names_its_service_and_flag() {
        let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = busy.local_addr().expect("addr").port();
        let err = claim(Ports {
            gateway: 0,
            relay: port,
            backend: 0,
        })
        .expect_err("busy");
        assert_eq!(
            err.to_string(),
            format!(
                "port {port} (relay) is already in use; choose another with --relay-port <PORT>"
            )
        );
    }

    #[test]
    fn one_port_for_two_services_is_refused() {
        let err = claim(Ports {
            gateway: 3000,
            relay: 0,
            backend: 3000,
        })
        .expect_err("shared");
        assert!(matches!(err, PortError::Shared(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("the gateway, relay and backend need three different ports"),
            "{err}"
        );
    }
}
