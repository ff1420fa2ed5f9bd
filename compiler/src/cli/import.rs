//! `shopgen import openapi FILE`: writes an existing-service spec from the service's
//! own OpenAPI document (the library's `import` does the work; this reads and writes
//! the files and prints what changed). Nothing is written on any error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use shopgen::import::{Imported, Options};
use shopgen::init::{DEFAULT_PROJECT, DEFAULT_REGION};

/// `shopgen import` formats.
#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// From an OpenAPI 3.0 or Swagger 2.0 document (YAML or JSON).
    Openapi(OpenapiArgs),
}

/// `shopgen import openapi` flags.
#[derive(Debug, clap::Args)]
pub struct OpenapiArgs {
    /// The document, e.g. openapi.yaml.
    pub file: PathBuf,
    /// The service's name (default: the document's title as a DNS label).
    #[arg(long)]
    pub name: Option<String>,
    /// Expose a route through API Gateway: "GET /products" (with or without the server
    /// prefix) or the route's name. Repeatable.
    #[arg(long, value_name = "ROUTE")]
    pub public: Vec<String>,
    /// The spec to write or update (default: specs/NAME.toml).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Remove exposed routes the document no longer has.
    #[arg(long)]
    pub force: bool,
    /// Google Cloud project id of a new spec (default: a placeholder to replace).
    #[arg(long, value_name = "P")]
    pub gcp_project: Option<String>,
    /// Google Cloud region of a new spec.
    #[arg(long, value_name = "R", default_value = DEFAULT_REGION)]
    pub region: String,
}

pub fn run(cmd: ImportCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    let ImportCommand::Openapi(args) = cmd;
    let shown_file = args.file.display().to_string();
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {shown_file}: {e}; nothing was written");
            return Ok(ExitCode::from(1));
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let (line, col) =
                shopgen::diagnostics::line_col(&String::from_utf8_lossy(&e.into_bytes()), at);
            eprintln!(
                "error: {shown_file}:{line}:{col}: the document is not UTF-8 text; nothing was written"
            );
            return Ok(ExitCode::from(1));
        }
    };
    let fail = |msg: String| {
        eprintln!("error: {msg}");
        eprintln!("error: nothing was written");
        Ok(ExitCode::from(1))
    };
    let imported = match Imported::read(&text) {
        Ok(i) => i,
        Err(e @ shopgen::import::ImportError::Syntax { .. }) => {
            return fail(format!("{shown_file}:{e}"));
        }
        Err(e) => return fail(format!("{shown_file}: {e}")),
    };
    if imported.converted.routes.is_empty() {
        let skipped: Vec<String> = imported
            .converted
            .skipped
            .iter()
            .map(|s| format!("{} {}: {}", s.method, s.path, s.why))
            .collect();
        return fail(format!(
            "{shown_file} has no operation that can be a route{}",
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join("; "))
            }
        ));
    }
    let stem = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| imported.default_name(&stem));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("specs").join(format!("{name}.toml")));
    let existing = match std::fs::read_to_string(&out) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return fail(format!("cannot read {}: {e}", out.display())),
    };
    let file_name = args
        .file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or(shown_file.clone());
    let opts = Options {
        public: args.public.clone(),
        force: args.force,
        project: args
            .gcp_project
            .clone()
            .unwrap_or_else(|| DEFAULT_PROJECT.to_string()),
        region: args.region.clone(),
    };
    let outcome = match imported.spec(&name, &file_name, &opts, existing.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            let where_ = match &e {
                // `3:5: …` when the error is located in the spec, `: …` otherwise.
                shopgen::import::ImportError::Existing(m)
                    if m.starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    format!("{}:", out.display())
                }
                shopgen::import::ImportError::Existing(_) => format!("{}: ", out.display()),
                _ => String::new(),
            };
            return fail(format!("{where_}{e}"));
        }
    };
    // The spec must compile as it is written: otherwise show why, against its text,
    // and write nothing (a route made public that would open an internal one through
    // the gateway, for one).
    let shown_out = out.display().to_string();
    if let Err(diags) = shopgen::compile(&outcome.text, shopgen::source_for(&out)) {
        eprint!(
            "{}",
            shopgen::diagnostics::render(&diags, &shown_out, &outcome.text)
        );
        return fail(format!(
            "the spec imported from {shown_file} does not compile (above); change --public or the spec's settings"
        ));
    }
    if existing.as_deref() == Some(outcome.text.as_str()) {
        if !quiet {
            eprintln!(
                "{}: current with {shown_file}; nothing changed",
                out.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    write_atomically(&out, &outcome.text)?;
    if !quiet {
        for c in &outcome.changes {
            eprintln!("  {c}");
        }
        let routes = imported.converted.routes.len();
        let verb = if existing.is_some() {
            "updated"
        } else {
            "wrote"
        };
        eprintln!(
            "{verb} {}: {routes} route(s) from {shown_file}, {} skipped",
            out.display(),
            imported.converted.skipped.len()
        );
        if existing.is_none() {
            if args.gcp_project.is_none() {
                eprintln!(
                    "note: set `gcp.project`, the cluster, and the pods' namespace, port and labels in it before deploying"
                );
            }
            eprintln!("next: cargo run -p shopgen -- build {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
