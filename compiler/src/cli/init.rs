//! `shopgen init NAME`: writes `specs/NAME.toml` from the starter spec, never over an
//! existing file, and prints the next two commands.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use shopgen::init::{DEFAULT_PROJECT, DEFAULT_REGION, starter_spec};

/// `shopgen init` flags.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The API's name: the spec is specs/NAME.toml, the service NAME (`_` becomes `-`).
    pub name: String,
    /// Google Cloud project id (default: a placeholder to replace before deploying).
    #[arg(long, value_name = "P")]
    pub gcp_project: Option<String>,
    /// Google Cloud region.
    #[arg(long, value_name = "R", default_value = DEFAULT_REGION)]
    pub region: String,
}

pub fn run(args: InitArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let project = args.gcp_project.as_deref().unwrap_or(DEFAULT_PROJECT);
    let text = match starter_spec(&args.name, project, &args.region) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let path = PathBuf::from("specs").join(format!("{}.toml", args.name));
    let shown = format!("specs/{}.toml", args.name);
    // The starter must compile with the given project and region; if it does not,
    // show why (against the text it would have written) and write nothing.
    let source = shopgen::source_for(&path);
    if let Err(diags) = shopgen::compile(&text, source) {
        eprint!("{}", shopgen::diagnostics::render(&diags, &shown, &text));
        eprintln!("error: check --gcp-project and --region; nothing was written");
        return Ok(ExitCode::from(1));
    }
    std::fs::create_dir_all("specs").context("cannot create specs/")?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {shown} already exists; shopgen init does not overwrite it (choose another name, or edit it)"
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {shown}")),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {shown}"))?;
    if !quiet {
        eprintln!("created {shown}: one resource (`item`), `GET /items` public, the rest internal");
        if args.gcp_project.is_none() {
            eprintln!("note: set `gcp.project` in it (or pass --gcp-project) before deploying");
        }
        eprintln!("next:");
        eprintln!(
            "  cargo run -p shopgen -- build {shown}   # writes generated/{}/",
            args.name
        );
        eprintln!("  cargo run -p shopgen -- up {shown}      # runs it on this machine");
    }
    Ok(ExitCode::SUCCESS)
}
