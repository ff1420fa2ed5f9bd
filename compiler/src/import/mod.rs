//! `shopgen import openapi`: an existing service's own OpenAPI document → an
//! existing-service spec (`[upstream]` and one `[operations.NAME]` per operation).
//!
//! Pure, like the compiler's stages: takes the document's text (and, on a second
//! import, the spec it replaces), gives the spec's text and what changed. The CLI
//! reads and writes the files.
//!
//! Steps: [`document`] reads JSON or YAML and tells Swagger 2.0 from OpenAPI 3.0
//! (3.1 is refused: no maintained Rust crate reads it, and its schemas differ in what
//! the importer relies on); [`convert`] turns operations into routes and records each
//! construct the spec language cannot express, [`schema`] their bodies and responses; [`render`] lays the text out; [`merge`]
//! keeps what the user set when a spec exists already.
//!
//! Decisions:
//! - A route's name is its `operationId` in snake_case, or its method and path when
//!   there is none; names that collide (also as camelCase operation ids) get `_2`,
//!   `_3`, … in the document's order (paths sorted, then GET, PUT, POST, PATCH, DELETE).
//! - Every route is internal unless named with `--public` (or made public earlier).
//! - The server prefix (`servers[0]`'s path, Swagger's `basePath`) stays in every
//!   path: the relay forwards paths unchanged, so the upstream sees the path it serves.

pub mod convert;
pub mod document;
pub mod merge;
pub mod render;
pub mod schema;

use convert::Converted;
use document::Document;

/// Longest default service name: the tightest limit derived from it is the VPC
/// connector's `NAME-vpc` (25 characters), as for `shopgen init`.
pub const MAX_NAME_LEN: usize = crate::init::MAX_NAME_LEN;

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    #[error("{line}:{column}: invalid {format}: {message}")]
    Syntax {
        line: u64,
        column: u64,
        message: String,
        format: &'static str,
    },
    #[error("not an OpenAPI document: {0}")]
    NotOpenApi(String),
    #[error(
        "OpenAPI {0} is not supported: shopgen imports OpenAPI 3.0.x and Swagger 2.0 (no maintained Rust crate reads 3.1, whose schemas differ: `type` lists, numeric `exclusiveMinimum`); convert the document to 3.0 first"
    )]
    Unsupported31(String),
    #[error("invalid OpenAPI document at {pointer}: {message}")]
    Invalid { pointer: String, message: String },
    #[error("{}", unknown_public(.0))]
    UnknownPublic(Vec<(String, Vec<String>)>),
    #[error(
        "`{0}` cannot name an API: use a lower-case letter, then lower-case letters, digits or `-` (not at the end), at most {MAX_NAME_LEN} characters; choose one with --name"
    )]
    BadName(String),
    #[error("{0}")]
    Existing(String),
    #[error("{}", would_lose(.0))]
    WouldLose(Vec<String>),
}

fn unknown_public(list: &[(String, Vec<String>)]) -> String {
    let mut s = String::new();
    for (i, (route, close)) in list.iter().enumerate() {
        if i > 0 {
            s.push_str("\nerror: ");
        }
        s.push_str(&format!(
            "--public `{route}` names no operation of the document"
        ));
        if close.is_empty() {
            s.push_str(" (write it as `METHOD /path`, or the operation's name)");
        } else {
            s.push_str(&format!(
                "; close matches: {}",
                close
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    s
}

fn would_lose(list: &[String]) -> String {
    format!(
        "importing would remove routes the spec exposes:\n{}\nnothing was written; run again with --force to remove them",
        list.iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Routes to expose: `GET /products` (with or without the server prefix) or a
    /// route's name.
    pub public: Vec<String>,
    /// Remove routes the spec exposes when the document no longer has them.
    pub force: bool,
    pub project: String,
    pub region: String,
}

/// A read and converted document.
pub struct Imported {
    pub doc: Document,
    pub converted: Converted,
}

/// The spec's text and what the import changed (one line each, for the terminal).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub text: String,
    pub changes: Vec<String>,
}

impl Imported {
    /// Reads a document's text.
    pub fn read(text: &str) -> Result<Imported, ImportError> {
        let doc = document::read(text)?;
        let converted = convert::convert(&doc);
        Ok(Imported { doc, converted })
    }

    /// The service name when `--name` is not given: the document's title as a
    /// DNS label (`Swagger Petstore` → `swagger-petstore`), else `fallback`.
    pub fn default_name(&self, fallback: &str) -> String {
        let from = self.converted.title.as_deref().unwrap_or(fallback);
        let mut out = String::new();
        for c in from.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let mut out = out
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
            .to_string();
        if out.len() > MAX_NAME_LEN {
            let cut = out[..MAX_NAME_LEN].rfind('-').unwrap_or(MAX_NAME_LEN);
            out.truncate(cut);
        }
        let out = out.trim_end_matches('-').to_string();
        if out.is_empty() { "api".into() } else { out }
    }

    /// The spec for `name`: a new one, or `existing` with its routes updated.
    pub fn spec(
        &self,
        name: &str,
        file: &str,
        opts: &Options,
        existing: Option<&str>,
    ) -> Result<Outcome, ImportError> {
        if !name_ok(name) {
            return Err(ImportError::BadName(name.to_string()));
        }
        let dialect = format!("{} {}", self.doc.dialect.name(), self.doc.version);
        let mut converted = self.converted.clone();
        let public = resolve_public(&converted, &opts.public)?;
        let (preamble, kept, changes) = match existing {
            None => (
                render::preamble(name, file, &converted, &opts.project, &opts.region),
                vec![render::Kept::default(); converted.routes.len()],
                converted
                    .routes
                    .iter()
                    .map(|r| format!("added operations.{} ({} {})", r.name, r.method, r.path))
                    .collect(),
            ),
            Some(old) => merge::merge(old, &mut converted, opts.force)?,
        };
        let mut kept = kept;
        for (r, k) in converted.routes.iter().zip(kept.iter_mut()) {
            if public.contains(&(r.method.clone(), r.path.clone())) {
                k.exposure = Some("\"public\"".into());
            }
        }
        let mut text = preamble;
        text.push_str(&render::routes(file, &dialect, &converted, &kept));
        Ok(Outcome { text, changes })
    }
}

fn name_ok(name: &str) -> bool {
    crate::check::idents::is_dns_label(name) && name.len() <= MAX_NAME_LEN && !name.contains("--")
}

/// `--public` arguments → the (method, path) of each route they name; every unknown
/// one is an error with the closest routes.
fn resolve_public(c: &Converted, asked: &[String]) -> Result<Vec<(String, String)>, ImportError> {
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for a in asked {
        let a = a.trim();
        let (method, path) = match a.split_once(char::is_whitespace) {
            Some((m, p)) => (m.trim().to_ascii_uppercase(), p.trim().to_string()),
            None => (String::new(), a.to_string()),
        };
        let hit = c.routes.iter().find(|r| {
            (r.method == method && (r.path == path || r.doc_path == path)) || r.name == a
        });
        match hit {
            Some(r) => found.push((r.method.clone(), r.path.clone())),
            None => {
                let mut ranked: Vec<(usize, String)> = c
                    .routes
                    .iter()
                    .map(|r| {
                        let full = format!("{} {}", r.method, r.path);
                        let short = format!("{} {}", r.method, r.doc_path);
                        let asked = format!("{method} {path}");
                        let d = strsim::levenshtein(&asked, &full)
                            .min(strsim::levenshtein(&asked, &short))
                            .min(strsim::levenshtein(a, &r.name));
                        (d, full)
                    })
                    .collect();
                ranked.sort();
                let close = ranked
                    .into_iter()
                    .filter(|(d, _)| *d <= a.len().max(8) / 2)
                    .take(3)
                    .map(|(_, s)| s)
                    .collect();
                unknown.push((a.to_string(), close));
            }
        }
    }
    if unknown.is_empty() {
        Ok(found)
    } else {
        Err(ImportError::UnknownPublic(unknown))
    }
}
