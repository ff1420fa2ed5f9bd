//! shopgen backend runtime: everything a generated backend has in common.
//!
//! A backend that `shopgen build` generates is small and specific to its spec: row
//! types, JSON shapes, field rules, SQL text, handlers and the route table. It links
//! this crate for the rest, which is the same in every service:
//!
//! - [`server`]: settings and CLI (`--help`, `migrate`), the axum server, request ids,
//!   JSON access logs (formatted by [`logout`], batched by
//!   [`shopgen_process::stdout_lines`]), Prometheus metrics, `/healthz`, `/readyz`,
//!   `/openapi.json`, graceful drain on SIGTERM;
//! - [`db`]: one pool over SQLite or PostgreSQL chosen by `DATABASE_URL`, migrations, a
//!   query counter; [`value`] and [`row`]: the engine-neutral values it binds and the
//!   rows it returns; [`migration`]: the embedded migration lists;
//! - [`validate`]: the field rules of a table and the check of create/update payloads;
//! - [`list`]: `limit`/`offset` paging with a `Link: rel="next"` header, equality
//!   filters and sorting;
//! - [`cache`]: whole `GET` responses kept while the tables they read are unchanged,
//!   checked against [`versions`] (per-table counters raised by triggers in every
//!   write's transaction);
//! - [`crud`]: insert, update and delete of one row, with database errors mapped to
//!   409/422; [`create`]: creates that answer with their row, and [`idempotency`]:
//!   the `Idempotency-Key` that makes a create safe to send again;
//! - [`error`]: the one error type and its JSON bodies;
//! - [`extract`]: request extractors (JSON bodies with 400/413/415, path ids);
//! - [`conditional`]: `ETag`, `304 Not Modified` and `Cache-Control` on every route;
//! - [`identity`]: the user token of routes that take one, verified again here
//!   (never the gateway's unsigned `X-Apigateway-Api-Userinfo`), and the [`identity::Caller`];
//! - [`extension`], [`hooks`], [`tx`]: what the user's extension crate runs with
//!   (context, transaction, typed inputs, panics caught) and how writes run hooks.

pub mod cache;
pub mod conditional;
pub mod create;
pub mod crud;
pub mod db;
pub mod error;
pub mod extension;
pub mod extract;
pub mod hooks;
pub mod idempotency;
pub mod identity;
pub mod list;
pub mod logout;
pub mod migration;
mod reads;
pub mod row;
pub mod server;
pub mod types;
pub mod validate;
pub mod value;
mod write;

/// Transactions and table versions are engine code, so they live in [`db`]; their
/// paths here are the ones generated code and extension crates use.
pub use db::{tx, versions};

/// Routing functions for the generated route table (`get`, `post`, …).
pub use axum::routing;
/// For extension crates: their logs go through the service's subscriber.
pub use tracing;

/// What a generated backend imports: `use shopgen_backend_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::crud::{created, no_content, ok};
    pub use crate::db::{Db, FromRow, Row, Value};
    /// What reading a row can fail with.
    pub type DbError = sqlx::Error;
    pub use crate::error::ApiError;
    pub use crate::extract::{Id, JsonBody};
    pub use crate::list::{Children, ListSpec, Page};
    pub use crate::migration::{Migration, Migrations};
    pub use crate::server::Service;
    pub use crate::types::{Date, Decimal, Timestamp, Uuid};
    pub use crate::validate::{DefaultValue, FieldSpec, Kind, Mode, Table};
    pub use axum::Router;
    pub use axum::extract::{OriginalUri, State};
    pub use axum::response::Response;
    pub use serde::Serialize;
}
