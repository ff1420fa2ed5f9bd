//! The backend runtime's integration tests, as one test binary: `support` starts the
//! generated shop backend as a process (and holds its HTTP client); the other groups
//! drive the runtime in process against SQLite and a throwaway PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken setup

mod support;

mod caching;
mod consistency;
mod engines;
mod errors;
mod extension;
mod group_commit;
mod lifecycle;
mod properties;
mod reference;
mod tls;
