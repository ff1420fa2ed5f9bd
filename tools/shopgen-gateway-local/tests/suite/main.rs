//! The emulator over real HTTP on 127.0.0.1, as one test binary: `support` holds the
//! recording upstream, the gateway server and the client the groups share.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken setup

mod support;

mod gateway;
mod jwt;
mod quota_cors;
