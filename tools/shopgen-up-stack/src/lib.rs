//! What `shopgen up` hands its runner: the stack to run, as plain data.
//!
//! `shopgen up` is two programs. The `shopgen` command does the spec-side half: it
//! compiles the spec, checks that the output folder is current and the seed file
//! against the model, claims the three ports, and builds the generated backend and
//! relay together with the runner, `shopgen-up` (`tools/shopgen-up`), in one
//! `cargo build` in the Cargo workspace that holds the output folder. It then writes
//! a [`Stack`] to a private file and replaces itself with the runner, which starts the
//! backend and the relay, serves the local API Gateway emulator in front, and stops
//! them all on Ctrl-C or SIGTERM.
//!
//! # Decisions
//!
//! - **Two programs.** The runner links tokio, hyper and the gateway emulator. The
//!   compiler links none of them, so `shopgen build` and `check` stay small, and the
//!   plain `shopgen` (`cargo run -p shopgen`, `cargo install --path compiler`) still
//!   has `up`: it builds the runner where it builds the generated crates.
//! - **This crate.** Both sides read the same format, so it is defined once, here,
//!   with serde only: the compiler can link it.
//! - **The command replaces itself (`exec`).** The runner keeps the command's process:
//!   its pid, terminal and process group. Ctrl-C and SIGTERM reach it as they would
//!   have reached `shopgen`, its exit code is the command's, and there is nothing to
//!   forward and no second process to leave behind.
//! - **A file, not arguments.** A seed may be larger than one argument can be. The
//!   file is created readable by its owner only (it holds the API keys), and the
//!   runner deletes it once read.
//! - **A format number.** The command and the runner are built separately (an
//!   installed `shopgen`, the runner from the checkout it is run in), so a runner
//!   refuses a stack of another [`FORMAT`] with a message saying why, instead of
//!   misreading it.

mod ports;
mod seed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use ports::{PortError, Ports, Role, bind_loopback, claim};
pub use seed::{Batch, Create, Record, Seed};

/// The version of the [`Stack`] format; raised on any change to its JSON.
pub const FORMAT: u32 = 3;

/// The stack the runner starts, as the `shopgen` command derives it from the spec,
/// its flags and the `cargo build` it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// [`FORMAT`] of the command that wrote it.
    pub format: u32,
    /// The service's name, for the banner.
    pub service_name: String,
    /// The generated backend's executable, as cargo built it; `None` in front of an
    /// existing service ([`Stack::upstream`]).
    pub backend_exe: Option<PathBuf>,
    /// A service the user already runs, which the relay forwards to instead of a
    /// generated backend (`shopgen up SPEC --upstream URL`).
    pub upstream: Option<Upstream>,
    /// The generated relay's executable, as cargo built it.
    pub relay_exe: PathBuf,
    /// The output's `openapi/gateway.yaml`, which the emulator enforces.
    pub gateway_document: PathBuf,
    /// The three ports, claimed by the command (none is 0).
    pub ports: Ports,
    /// The backend's `DATABASE_URL`.
    pub database_url: String,
    /// The backend's environment besides `HOST`, `PORT` and `DATABASE_URL`.
    pub backend_env: Vec<(String, String)>,
    /// The relay's environment besides `HOST`, `PORT` and `UPSTREAM_URL`.
    pub relay_env: Vec<(String, String)>,
    /// The header API Gateway reads the key from (for the banner's example).
    pub api_key_header: String,
    /// Keys the gateway accepts; when empty, the runner generates one and prints it.
    pub api_keys: BTreeSet<String>,
    /// A public path without parameters, for the banner's example request.
    pub example_path: String,
    /// Records to create through the internal API after start (into an empty
    /// database only).
    pub seed: Option<Seed>,
    /// Local JWKS files that replace identity providers' `jwks_uri`, by the gateway
    /// document's security scheme name (`shopgen up --jwks PROVIDER=FILE`).
    pub jwks: BTreeMap<String, PathBuf>,
}

/// An existing service on this machine (`shopgen up --upstream URL`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Its base URL, plain http (`http://127.0.0.1:3000`): the relay's `UPSTREAM_URL`.
    pub url: String,
    /// Its health endpoint (the spec's `upstream.health_path`) as a full URL: the runner
    /// waits for a 2xx there before it starts the relay.
    pub health_url: Option<String>,
}

/// Why a stack could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a stack description: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the stack is in format {found}, this runner reads format {FORMAT}: the `shopgen` \
         command and the runner (`tools/shopgen-up` of the workspace) come from different \
         shopgen versions; run the `shopgen` of the same checkout \
         (`cargo run -p shopgen -- up …`)"
    )]
    Format { found: u64 },
}

impl Stack {
    /// The stack as JSON, for the runner.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Reads a stack; refuses one of another [`FORMAT`] before anything else.
    pub fn from_json(text: &str) -> Result<Stack, ReadError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let found = value.get("format").and_then(serde_json::Value::as_u64);
        match found {
            Some(f) if f == u64::from(FORMAT) => Ok(serde_json::from_value(value)?),
            Some(found) => Err(ReadError::Format { found }),
            None => Err(ReadError::Format { found: 0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        Stack {
            format: FORMAT,
            service_name: "shop".into(),
            backend_exe: Some("/t/debug/shop-backend".into()),
            upstream: None,
            relay_exe: "/t/debug/shop-relay".into(),
            gateway_document: "generated/shop/openapi/gateway.yaml".into(),
            ports: Ports {
                gateway: 8080,
                relay: 8081,
                backend: 3000,
            },
            database_url: "sqlite://.shopgen/shop.db".into(),
            backend_env: vec![("CACHE_CONTROL_ROUTES".into(), String::new())],
            relay_env: vec![],
            api_key_header: "x-api-key".into(),
            api_keys: BTreeSet::from(["k".to_string()]),
            example_path: "/products".into(),
            seed: Some(Seed {
                batches: vec![Batch {
                    plural: "products".into(),
                    list_path: Some("/products".into()),
                    records: vec![Record {
                        at: "products[0]".into(),
                        singular: "product".into(),
                        create: Create::Post("/products".into()),
                        payload: serde_json::Map::from_iter([(
                            "title".to_string(),
                            serde_json::Value::from("Veranda Symphony"),
                        )]),
                        children: vec![Record {
                            at: "products[0].reviews[0]".into(),
                            singular: "review".into(),
                            create: Create::Nested("/products/{id}/reviews".into()),
                            payload: serde_json::Map::new(),
                            children: vec![],
                        }],
                    }],
                }],
            }),
            jwks: BTreeMap::from([(
                "firebase".to_string(),
                PathBuf::from("/work/keys/jwks.json"),
            )]),
        }
    }

    #[test]
    fn a_stack_reads_back_as_written() {
        let stack = stack();
        let json = stack.to_json().expect("serializes");
        assert_eq!(Stack::from_json(&json).expect("reads"), stack, "{json}");
    }

    #[test]
    fn another_format_is_refused_with_the_reason() {
        let mut value: serde_json::Value =
            serde_json::from_str(&stack().to_json().expect("serializes")).expect("JSON");
        value["format"] = serde_json::Value::from(FORMAT + 1);
        value["a_member_of_a_later_format"] = serde_json::Value::from(true);
        let err = Stack::from_json(&value.to_string()).expect_err("refused");
        assert!(matches!(err, ReadError::Format { found } if found == u64::from(FORMAT + 1)));
        assert!(
            err.to_string().contains("different shopgen versions"),
            "{err}"
        );
        let err = Stack::from_json(r#"{"service_name":"shop"}"#).expect_err("no format");
        assert!(matches!(err, ReadError::Format { found: 0 }), "{err}");
    }

    #[test]
    fn unknown_members_are_refused() {
        let mut value: serde_json::Value =
            serde_json::from_str(&stack().to_json().expect("serializes")).expect("JSON");
        value["surprise"] = serde_json::Value::from(1);
        let err = Stack::from_json(&value.to_string()).expect_err("refused");
        assert!(err.to_string().contains("surprise"), "{err}");
    }
}
