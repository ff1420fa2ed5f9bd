//! The relay's integration tests, as one test binary: `support` holds the recording
//! upstream, the in-process relay and the raw HTTP/1.1 client the groups share;
//! `binary` runs the built `shopgen-relay-dev` as a process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken setup

mod support;

mod admission;
mod binary;
mod callers;
mod cors;
mod failures;
mod framing;
mod headers;
mod load;
mod paths;
