//! The compiler's integration tests, as one test binary (one link, not one per file):
//! each module is a group of tests, and `support` is what they share (running
//! `shopgen`, scratch projects, HTTP, external tools, goldens, `shopgen up`).
//!
//! ```text
//! cargo test -p shopgen --test suite                 # all of them
//! cargo test -p shopgen --test suite -- deploy::     # one group
//! SHOPGEN_BLESS=1 cargo test -p shopgen --test suite -- diagnostics:: diff::
//! ```
//!
//! The groups that start `shopgen up` or compile generated crates (`e2e_*`,
//! `init_up`, `browser`, `backend_emit`, `random_specs`) build in scratch workspaces
//! that share this workspace's target folder, lock file and profiles.

mod support;

mod architecture;
mod backend_emit;
mod browser;
mod build;
mod builds;
mod cli;
mod deploy;
mod diagnostics;
mod diff;
mod docs;
mod e2e_extension;
mod e2e_ownership;
mod e2e_up;
mod e2e_upstream;
mod escape_hatches;
mod extension_scaffold;
mod faults;
mod fuzz;
mod idempotency;
mod import;
mod infra_consistency;
mod infra_docker;
mod infra_k8s;
mod infra_openapi;
mod infra_runbook;
mod infra_terraform;
mod infra_upstream;
mod init_up;
mod migrations;
mod operations;
mod random_specs;
mod warnings;
