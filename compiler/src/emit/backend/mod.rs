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
//! - `backend/migrations/schema.toml`: the schema those migrations produce;
//! - `backend/src/extension_glue.rs`, for a spec with operations or hooks: the glue
//!   that calls the user's extension crate (see `extension_glue`).
//!
//! The Rust is built as tokens and printed by [`super::rust`].

mod extension_glue;
mod migrations;
mod resource;
pub mod schema;

use extension_glue::{GLUE_MODULE, extension_glue_rs};
use migrations::{postgres_migration, sqlite_migration};
use resource::resource_rs;

use super::rust::{doc, int, rust_file, uint};
use super::{CommentSyntax, EmittedFile, binary_crate_manifest};
use crate::model::{
    BelongsTo, DefaultValue, Field, FieldType, HasMany, HttpMethod, JsonMember, Model, Resource,
    Route, RouteKind, Shape,
};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// Decimals up to this precision are scaled integers in SQLite (the runtime's rule).
const SQLITE_INTEGER_DECIMAL_PRECISION: u32 = 18;

/// Where the schema snapshot lives, relative to the output folder. The migration
/// history (`super::history`) reads it; the backend does not depend on the history.
pub const SNAPSHOT_PATH: &str = "backend/migrations/schema.toml";
/// The engines, each with its folder under `backend/migrations/`.
pub const ENGINES: [&str; 2] = ["sqlite", "postgres"];

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
        SNAPSHOT_PATH,
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
    if model.has_extension() {
        files.push(extension_glue_rs(model));
    }
    files
}

fn cargo_toml(model: &Model) -> EmittedFile {
    let names = &model.service.names;
    // With operations or hooks: the generated interface, and the user's crate beside
    // the output folder.
    let extension_path = extension_dir_from_backend(&model.source.stem);
    let path_dependencies: Vec<(&str, &str)> = if model.has_extension() {
        vec![
            (names.api_crate.as_str(), "../api"),
            (names.extension_crate.as_str(), extension_path.as_str()),
        ]
    } else {
        Vec::new()
    };
    let body = binary_crate_manifest(
        &names.backend_crate,
        &format!(
            "The {} backend: a JSON API over SQLite or PostgreSQL",
            model.service.name
        ),
        &["serde", "shopgen-backend-runtime"],
        &path_dependencies,
    );
    EmittedFile::new("backend/Cargo.toml", body, CommentSyntax::Hash)
}

/// Where the user-owned crate lives, relative to the output folder's `backend/`
/// (`generated/<stem>/backend/` → `extensions/<stem>/`): two folders above the output
/// folder, as [`crate::output::extension_dir`] places it.
fn extension_dir_from_backend(stem: &str) -> String {
    format!("../../../extensions/{stem}")
}

// ---------------------------------------------------------------------------------
// main.rs

fn main_rs(model: &Model, migrations: &[(i64, String)]) -> EmittedFile {
    let crate_name = &model.service.names.backend_crate;
    let module_doc = format!(
        "`{crate_name}`: the {service} backend, a JSON API over SQLite or PostgreSQL.\n\
         \n\
         Run it with `--help` for every setting; `DATABASE_URL` chooses the engine.\n\
         One module per resource holds its rules, row, JSON and handlers; the route\n\
         table below says which handler answers which request.",
        service = model.service.name
    );
    let mut mods: Vec<Ident> = model
        .resources
        .iter()
        .map(|r| format_ident!("{}", r.names.snake))
        .collect();
    if model.has_extension() {
        mods.push(format_ident!("{}", GLUE_MODULE));
        mods.sort_by_key(|m| m.to_string());
    }
    let register = if model.has_extension() {
        let glue = format_ident!("{}", GLUE_MODULE);
        quote!(shopgen_backend_runtime::hooks::register(#glue::HOOKS);)
    } else {
        quote!()
    };
    let (identity, register_identity) = identity_static(model);
    let methods: Vec<Ident> = used_methods(model)
        .into_iter()
        .map(|m| format_ident!("{m}"))
        .collect();
    let routing = match methods.as_slice() {
        [] => quote!(),
        [one] => quote!(use shopgen_backend_runtime::routing::#one;),
        many => quote!(use shopgen_backend_runtime::routing::{#(#many),*};),
    };
    let about = format!(
        "The {} backend, generated by shopgen from {}",
        model.service.name, model.source.display_path
    );
    let port = uint(model.service.container_port.into());
    let db_url = format!("sqlite://{}.db", model.source.stem);
    let max_body_bytes = uint(model.service.max_body_bytes);
    let drain_seconds = uint(model.service.drain_seconds.into());
    let request_timeout_ms = uint(model.budget.backend_request_ms.into());
    let database_acquire_timeout_ms = uint(model.budget.database_acquire_ms.into());
    let engine_migrations = |engine: &str| -> TokenStream {
        let list = migrations.iter().map(|(version, slug)| {
            let path = migration_path(engine, *version, slug);
            let rel = format!("../{}", path.strip_prefix("backend/").unwrap_or(&path));
            let description = slug.replace('_', " ");
            let version = int(*version);
            quote! {
                Migration {
                    version: #version,
                    description: #description,
                    sql: include_str!(#rel),
                }
            }
        });
        quote!(&[#(#list),*])
    };
    let sqlite = engine_migrations("sqlite");
    let postgres = engine_migrations("postgres");
    let routes = route_table(model).into_iter().map(|(path, handlers)| {
        let chain = handlers.iter().enumerate().map(|(i, (method, handler))| {
            let method = format_ident!("{method}");
            if i == 0 {
                quote!(#method(#handler))
            } else {
                quote!(.#method(#handler))
            }
        });
        quote!(.route(#path, #(#chain)*))
    });
    let service_doc = doc(
        "This service's defaults (each one can be overridden, see `--help`), its\n\
         migrations and its API document.",
    );
    let routes_doc = doc("Every route of the API, and the handler that answers it.");
    let body = rust_file(
        &module_doc,
        quote! {
            #(mod #mods;)*

            use shopgen_backend_runtime::prelude::*;
            #routing

            #service_doc
            static SERVICE: Service = Service {
                name: #crate_name,
                about: #about,
                default_port: #port,
                default_database_url: #db_url,
                max_body_bytes: #max_body_bytes,
                drain_seconds: #drain_seconds,
                request_timeout_ms: #request_timeout_ms,
                database_acquire_timeout_ms: #database_acquire_timeout_ms,
                openapi_yaml: include_str!("../../openapi/api.yaml"),
                migrations: Migrations {
                    sqlite: #sqlite,
                    postgres: #postgres,
                },
            };

            #identity

            fn main() -> std::process::ExitCode {
                #register
                #register_identity
                shopgen_backend_runtime::server::run(&SERVICE, routes)
            }

            #routes_doc
            fn routes() -> Router<Db> {
                Router::new() #(#routes)*
            }
        },
    );
    EmittedFile::new("backend/src/main.rs", body, CommentSyntax::Slashes)
}

/// `static IDENTITY` (the spec's identity providers and the routes that take a user
/// token, which the backend verifies again) and the call that registers it; nothing
/// for a spec without providers.
fn identity_static(model: &Model) -> (TokenStream, TokenStream) {
    if model.gateway.identity.is_empty() {
        return (quote!(), quote!());
    }
    let providers = model.gateway.identity.iter().map(|p| {
        let (name, issuer, jwks_uri) = (&p.name, &p.issuer, &p.jwks_uri);
        let audiences = &p.audiences;
        quote! {
            shopgen_backend_runtime::identity::Provider {
                name: #name,
                issuer: #issuer,
                jwks_uri: #jwks_uri,
                audiences: &[#(#audiences),*],
            }
        }
    });
    let routes = model
        .public_endpoints()
        .filter(|e| e.access.needs_user_token())
        .map(|e| {
            let method = e.method.as_str();
            let path = e.path;
            let names = &e.access.user_token;
            quote! {
                shopgen_backend_runtime::identity::UserTokenRoute {
                    method: #method,
                    path: #path,
                    providers: &[#(#names),*],
                }
            }
        });
    let doc = doc(
        "The issuers of user tokens, and the routes that take one: the backend verifies\n\
         the token of those again (`X-Forwarded-Authorization`), so no caller, inside\n\
         the cluster or not, chooses an identity.",
    );
    (
        quote! {
            #doc
            static IDENTITY: shopgen_backend_runtime::identity::Identity =
                shopgen_backend_runtime::identity::Identity {
                    providers: &[#(#providers),*],
                    routes: &[#(#routes),*],
                };
        },
        quote!(shopgen_backend_runtime::identity::register(&IDENTITY);),
    )
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
fn route_table(model: &Model) -> Vec<(String, Vec<(&'static str, TokenStream)>)> {
    let mut table: Vec<(String, Vec<(&'static str, TokenStream)>)> = Vec::new();
    for (resource, route) in model.routes() {
        let module = format_ident!("{}", resource.names.snake);
        let function = handler_ident(route);
        let handler = quote!(#module::#function);
        let entry = (method_fn(route.method), handler);
        match table.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, handlers)) => handlers.push(entry),
            None => table.push((route.path.clone(), vec![entry])),
        }
    }
    let glue = format_ident!("{}", GLUE_MODULE);
    for op in &model.operations {
        let function = format_ident!("{}", op.names.snake);
        let entry = (method_fn(op.method), quote!(#glue::#function));
        match table.iter_mut().find(|(p, _)| *p == op.path) {
            Some((_, handlers)) => handlers.push(entry),
            None => table.push((op.path.clone(), vec![entry])),
        }
    }
    table
}

fn handler_ident(route: &Route) -> Ident {
    format_ident!("{}", handler_name(route))
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
