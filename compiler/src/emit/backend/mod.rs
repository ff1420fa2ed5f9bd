//! Emit: the backend crate (`backend/`), the JSON API service.
//!
//! Stage: `emit`. Takes the [`Model`]; gives a Cargo crate that links
//! `shopgen-backend-runtime` for everything generic (server, pool over SQLite and
//! PostgreSQL, validation, paging, errors, telemetry) and holds only what the spec
//! decides:
//!
//! - `backend/Cargo.toml`;
//! - `backend/src/main.rs`: the service's defaults, its migrations, the route table;
//! - `backend/src/<resource>.rs`: per resource, the table's field rules, the row that
//!   is selected, the JSON that is shown, the loader of embedded children (one
//!   `WHERE fk IN (…)` query per relation) and one handler per route;
//! - `backend/migrations/{sqlite,postgres}/0001_create_tables.sql`, and the later
//!   migrations a change of the spec adds (see [`schema`]);
//! - `backend/migrations/schema.toml`: the schema those migrations produce.
//!
//! The Rust is written already formatted the way `rustfmt` (edition 2024) lays it out:
//! every construct whose layout depends on its length is written in its vertical form,
//! which rustfmt keeps; a test runs `rustfmt --check` on every emitted file.

mod migrations;
mod resource;
pub mod schema;

use migrations::{postgres_migration, sqlite_migration};
use resource::resource_rs;

use super::{CommentSyntax, EmittedFile, binary_crate_manifest, rust_str};
use crate::model::{
    BelongsTo, DefaultValue, Field, FieldType, HasMany, HttpMethod, JsonMember, Model, Resource,
    Route, RouteKind,
};
use std::fmt::Write as _;

/// Decimals up to this precision are scaled integers in SQLite (the runtime's rule).
const SQLITE_INTEGER_DECIMAL_PRECISION: u32 = 18;

/// The backend's migrations: every version with its file-name slug, in order (what
/// `main.rs` lists), and the migration files to emit this time. Earlier migrations
/// are not among the files: they are kept on disk exactly as they were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSet {
    pub list: Vec<(i64, String)>,
    pub files: Vec<EmittedFile>,
}

impl MigrationSet {
    /// A first build: `0001_create_tables` on each engine.
    pub fn fresh(model: &Model) -> MigrationSet {
        MigrationSet {
            list: vec![(1, "create_tables".into())],
            files: vec![
                migration_file("sqlite", 1, "create_tables", sqlite_migration(model)),
                migration_file("postgres", 1, "create_tables", postgres_migration(model)),
            ],
        }
    }
}

/// `backend/migrations/schema.toml`: the schema the migrations produce. Emitted next
/// to [`emit`]'s files by `emit_all`, since it only matters to a build that keeps a
/// migration history.
pub fn schema_snapshot(model: &Model) -> EmittedFile {
    EmittedFile::new(
        super::history::SNAPSHOT_PATH,
        schema::Schema::from_model(model).to_toml(),
        CommentSyntax::Hash,
    )
}

/// `backend/migrations/<engine>/<version>_<slug>.sql`.
pub fn migration_path(engine: &str, version: i64, slug: &str) -> String {
    format!("backend/migrations/{engine}/{version:04}_{slug}.sql")
}

/// A migration file of one engine.
pub fn migration_file(engine: &str, version: i64, slug: &str, sql: String) -> EmittedFile {
    EmittedFile::new(
        migration_path(engine, version, slug),
        sql,
        CommentSyntax::Dashes,
    )
}

/// The backend of a first build (no earlier migrations).
pub fn emit(model: &Model) -> Vec<EmittedFile> {
    emit_with(model, &MigrationSet::fresh(model))
}

/// The backend with the given migrations.
pub fn emit_with(model: &Model, migrations: &MigrationSet) -> Vec<EmittedFile> {
    let mut files = vec![cargo_toml(model), main_rs(model, &migrations.list)];
    files.extend(migrations.files.iter().cloned());
    for resource in &model.resources {
        files.push(EmittedFile::new(
            format!("backend/src/{}.rs", resource.names.snake),
            resource_rs(model, resource),
            CommentSyntax::Slashes,
        ));
    }
    files
}

fn cargo_toml(model: &Model) -> EmittedFile {
    let body = binary_crate_manifest(
        &model.service.names.backend_crate,
        &format!(
            "The {} backend: a JSON API over SQLite or PostgreSQL",
            model.service.name
        ),
        &["serde", "shopgen-backend-runtime"],
    );
    EmittedFile::new("backend/Cargo.toml", body, CommentSyntax::Hash)
}

// ---------------------------------------------------------------------------------
// main.rs

fn main_rs(model: &Model, migrations: &[(i64, String)]) -> EmittedFile {
    let mut out = String::new();
    let crate_name = &model.service.names.backend_crate;
    writeln!(
        out,
        "//! `{crate_name}`: the {service} backend, a JSON API over SQLite or PostgreSQL.",
        service = model.service.name
    )
    .ok();
    out.push_str(
        "//!\n\
         //! Run it with `--help` for every setting; `DATABASE_URL` chooses the engine.\n\
         //! One module per resource holds its rules, row, JSON and handlers; the route\n\
         //! table below says which handler answers which request.\n\n",
    );
    for r in &model.resources {
        writeln!(out, "mod {};", r.names.snake).ok();
    }
    out.push_str("\nuse shopgen_backend_runtime::prelude::*;\n");
    let methods = used_methods(model);
    if !methods.is_empty() {
        writeln!(
            out,
            "use shopgen_backend_runtime::routing::{};",
            brace_list(&methods)
        )
        .ok();
    }
    out.push_str(
        "\n/// This service's defaults (each one can be overridden, see `--help`), its\n\
         /// migrations and its API document.\n\
         static SERVICE: Service = Service {\n",
    );
    writeln!(out, "    name: {},", rust_str(crate_name)).ok();
    let about = format!(
        "The {} backend, generated by shopgen from {}",
        model.service.name, model.source.display_path
    );
    writeln!(out, "    about: {},", rust_str(&about)).ok();
    writeln!(out, "    default_port: {},", model.service.container_port).ok();
    let db_url = format!("sqlite://{}.db", model.source.stem);
    writeln!(out, "    default_database_url: {},", rust_str(&db_url)).ok();
    writeln!(
        out,
        "    max_body_bytes: {},",
        int_literal(model.service.max_body_bytes)
    )
    .ok();
    writeln!(out, "    drain_seconds: {},", model.service.drain_seconds).ok();
    out.push_str("    openapi_yaml: include_str!(\"../../openapi/api.yaml\"),\n");
    out.push_str("    migrations: Migrations {\n");
    for engine in ["sqlite", "postgres"] {
        // rustfmt's layout: a lone element hugs the brackets.
        let (open, indent, close) = if migrations.len() == 1 {
            ("&[", "        ", "],")
        } else {
            ("&[\n            ", "            ", ",\n        ],")
        };
        write!(out, "        {engine}: {open}").ok();
        for (i, (version, slug)) in migrations.iter().enumerate() {
            if i > 0 {
                write!(out, ",\n{indent}").ok();
            }
            let path = migration_path(engine, *version, slug);
            let rel = path.strip_prefix("backend/").unwrap_or(&path);
            write!(
                out,
                "Migration {{\n{indent}    \
                 version: {version},\n{indent}    \
                 description: {description},\n{indent}    \
                 sql: include_str!(\"../{rel}\"),\n{indent}\
                 }}",
                description = rust_str(&slug.replace('_', " ")),
            )
            .ok();
        }
        writeln!(out, "{close}").ok();
    }
    out.push_str("    },\n};\n\n");
    out.push_str(
        "fn main() -> std::process::ExitCode {\n    \
         shopgen_backend_runtime::server::run(&SERVICE, routes)\n}\n\n",
    );
    out.push_str("/// Every route of the API, and the handler that answers it.\n");
    out.push_str("fn routes() -> Router<Db> {\n    Router::new()");
    for (path, handlers) in route_table(model) {
        let mut chain = String::new();
        for (i, (method, handler)) in handlers.iter().enumerate() {
            if i == 0 {
                write!(chain, "{method}({handler})").ok();
            } else {
                write!(chain, ".{method}({handler})").ok();
            }
        }
        let args = format!("{}, {chain}", rust_str(&path));
        let chain_fits = match handlers.len() {
            1 | 2 => true,
            _ => chain.len() <= 60,
        };
        let one_line = format!("        .route({args})");
        if chain_fits && one_line.len() <= 100 && args.len() <= 60 {
            write!(out, "\n{one_line}").ok();
        } else {
            // rustfmt's vertical form of a long call with a chained argument.
            write!(out, "\n        .route(\n            {},\n", rust_str(&path)).ok();
            if chain_fits && 12 + chain.len() < 100 {
                writeln!(out, "            {chain},").ok();
            } else {
                let (first_method, first_handler) = &handlers[0];
                write!(out, "            {first_method}({first_handler})").ok();
                for (method, handler) in &handlers[1..] {
                    write!(out, "\n                .{method}({handler})").ok();
                }
                out.push_str(",\n");
            }
            out.push_str("        )");
        }
    }
    out.push_str("\n}\n");
    EmittedFile::new("backend/src/main.rs", out, CommentSyntax::Slashes)
}

/// `1048576` → `1_048_576`? rustfmt leaves literals alone; plain digits read fine.
fn int_literal(n: u64) -> String {
    n.to_string()
}

fn brace_list(items: &[&str]) -> String {
    if items.len() == 1 {
        items[0].to_string()
    } else {
        format!("{{{}}}", items.join(", "))
    }
}

fn method_fn(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Patch => "patch",
        HttpMethod::Delete => "delete",
    }
}

/// The routing functions `main.rs` uses, sorted (rustfmt sorts `use` lists).
fn used_methods(model: &Model) -> Vec<&'static str> {
    let mut firsts: Vec<&'static str> = route_table(model)
        .iter()
        .map(|(_, handlers)| handlers[0].0)
        .collect();
    firsts.sort_unstable();
    firsts.dedup();
    firsts
}

/// Paths in order of first appearance, each with its (method, handler) pairs.
fn route_table(model: &Model) -> Vec<(String, Vec<(&'static str, String)>)> {
    let mut table: Vec<(String, Vec<(&'static str, String)>)> = Vec::new();
    for (resource, route) in model.routes() {
        let handler = format!("{}::{}", resource.names.snake, handler_name(route));
        let entry = (method_fn(route.method), handler);
        match table.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, handlers)) => handlers.push(entry),
            None => table.push((route.path.clone(), vec![entry])),
        }
    }
    table
}

fn handler_name(route: &Route) -> String {
    match &route.kind {
        RouteKind::List => "list".into(),
        RouteKind::Get => "show".into(),
        RouteKind::Create => "create".into(),
        RouteKind::Update => "update".into(),
        RouteKind::Replace => "replace".into(),
        RouteKind::Delete => "delete".into(),
        RouteKind::NestedList { relation } => format!("list_for_{relation}"),
        RouteKind::NestedCreate { relation } => format!("create_for_{relation}"),
    }
}
