//! The `shopgen` command: a thin front end over the compiler library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use shopgen::{diagnostics, emit, output};

mod cli;
mod deploy_cli;
mod up;

/// shopgen: one TOML spec → a deployable API stack (backend service, relay,
/// Kubernetes manifests, Terraform, API Gateway OpenAPI).
#[derive(Parser)]
#[command(name = "shopgen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// List every file written or removed, not only the summary.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Print nothing on success (errors are always printed).
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// How much a successful command prints; errors always print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Subcommand)]
enum Command {
    /// Generate every artifact into the output folder (default generated/<spec stem>/).
    Build {
        /// The spec file, e.g. specs/shop.toml.
        spec: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check that the output folder is current: exit 0 if so, 1 if anything differs.
    Check {
        spec: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate a spec without writing anything.
    Lint { spec: PathBuf },
    /// Print the JSON Schema of the spec format (for editor completion).
    Schema,
    /// Start an API of your own: write a commented starter spec, specs/NAME.toml.
    Init(cli::init::InitArgs),
    /// Write an existing-service spec from the service's own API description:
    /// `shopgen import openapi openapi.yaml --public "GET /products"`.
    #[command(subcommand)]
    Import(cli::import::ImportCommand),
    /// What a spec change does: exposure, data and infrastructure changes, compared
    /// with the spec the output was built from or the spec at a git ref. Exit 0: no
    /// change; 1: changes; 3: exposure widens; 2: error.
    Diff(cli::diff::DiffArgs),
    /// Run the whole stack locally: the backend, the relay, and a local emulator of
    /// API Gateway in front, from the generated files (Ctrl-C stops all three). Builds
    /// them and its runner with cargo in the workspace that holds the output folder.
    Up(up::UpArgs),
    /// Deploy the stack to Google Cloud with terraform, gcloud, docker and kubectl:
    /// preflight, APIs and registry, images (immutable tag), full apply, database
    /// Secret, kubectl apply, smoke test through the gateway. Resumable; --dry-run
    /// prints every command and runs none.
    Deploy(deploy_cli::DeployArgs),
    /// Remove the deployed stack (needs --yes; Cloud SQL is kept while its
    /// deletion_protection holds).
    Destroy(deploy_cli::DeployArgs),
    /// Show what is deployed and call one public route through the gateway.
    Status(deploy_cli::DeployArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn default_out(spec: &Path) -> PathBuf {
    let stem = shopgen::source_for(spec).stem;
    PathBuf::from("generated").join(stem)
}

/// A compiled spec, with its source text: the text that diagnostics found after
/// compiling (the migration planner's refusals) are rendered against.
pub(crate) struct Compiled {
    pub model: shopgen::model::Model,
    pub src: String,
}

/// Reads and compiles a spec; prints diagnostics and returns `None` on user errors,
/// and prints its warnings when it compiles.
fn compile(spec: &Path) -> anyhow::Result<Option<Compiled>> {
    let bytes = std::fs::read(spec).with_context(|| format!("cannot read {}", spec.display()))?;
    let source = shopgen::source_for(spec);
    match shopgen::compile_bytes(&bytes, source.clone()) {
        (src, Ok(model)) => {
            eprint!(
                "{}",
                diagnostics::render_warnings(&model.warnings, &source.display_path, &src)
            );
            Ok(Some(Compiled {
                model,
                src: src.into_owned(),
            }))
        }
        (src, Err(diags)) => {
            eprint!(
                "{}",
                diagnostics::render(&diags, &source.display_path, &src)
            );
            Ok(None)
        }
    }
}

/// What `out` should contain for the spec ([`output::expected`], the one answer
/// `build`, `check` and `up` share); prints the error and returns `None` when the
/// spec's schema change cannot be migrated (each refused change a diagnostic at its
/// place in the spec) or the history is not shopgen's.
fn expected(
    spec: &Path,
    compiled: &Compiled,
    out: &Path,
) -> anyhow::Result<Option<Vec<emit::GeneratedFile>>> {
    match output::expected(&compiled.model, out) {
        Ok(files) => Ok(Some(files)),
        Err(e @ output::ExpectedError::Read { .. }) => Err(e.into()),
        Err(output::ExpectedError::Migration(emit::MigrationError::Unsupported(diags))) => {
            let file = &compiled.model.source.display_path;
            eprint!("{}", diagnostics::render(&diags, file, &compiled.src));
            Ok(None)
        }
        Err(output::ExpectedError::Migration(e)) => {
            eprintln!("error: {}: {e}", spec.display());
            Ok(None)
        }
    }
}

/// Whether `out` holds exactly what the spec generates. When it does not, prints each
/// difference and the `build` command that fixes it (`--out` only when `out_given`),
/// and gives `None`; when it does, gives the number of files.
fn current(
    spec: &Path,
    compiled: &Compiled,
    out: &Path,
    out_given: bool,
) -> anyhow::Result<Option<usize>> {
    let Some(files) = expected(spec, compiled, out)? else {
        return Ok(None);
    };
    let drift =
        output::drift(out, &files).with_context(|| format!("cannot read {}", out.display()))?;
    if drift.is_empty() {
        return Ok(Some(files.len()));
    }
    for d in &drift {
        eprintln!("{:>22}: {}", d.describe(), out.join(d.path()).display());
    }
    let fix = if out_given {
        format!(
            "cargo run -p shopgen -- build {} --out {}",
            spec.display(),
            out.display()
        )
    } else {
        format!("cargo run -p shopgen -- build {}", spec.display())
    };
    eprintln!(
        "error: {} differs from {} in {} file(s); run `{fix}`",
        out.display(),
        spec.display(),
        drift.len()
    );
    if drift
        .iter()
        .any(|d| matches!(d, output::Drift::HandEdited(_)))
    {
        eprintln!("note: hand edits are overwritten by a build; change the spec instead");
    }
    Ok(None)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let say = |line: std::fmt::Arguments| {
        if verbosity > Verbosity::Quiet {
            eprintln!("{line}");
        }
    };
    match cli.command {
        Command::Up(args) => up::run(args),
        Command::Init(args) => cli::init::run(args, verbosity == Verbosity::Quiet),
        Command::Diff(args) => cli::diff::run(args),
        Command::Import(cmd) => cli::import::run(cmd, verbosity == Verbosity::Quiet),
        Command::Deploy(args) => deploy_cli::run(deploy_cli::Which::Deploy, args),
        Command::Destroy(args) => deploy_cli::run(deploy_cli::Which::Destroy, args),
        Command::Status(args) => deploy_cli::run(deploy_cli::Which::Status, args),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&shopgen::schema::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Lint { spec } => Ok(match compile(&spec)? {
            Some(_) => {
                say(format_args!("{}: ok", spec.display()));
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        }),
        Command::Build { spec, out } => {
            let out = out.unwrap_or_else(|| default_out(&spec));
            let Some(compiled) = compile(&spec)? else {
                return Ok(ExitCode::from(1));
            };
            let Some(files) = expected(&spec, &compiled, &out)? else {
                return Ok(ExitCode::from(1));
            };
            let plan = output::plan(&out, &files)
                .with_context(|| format!("cannot read {}", out.display()))?;
            output::apply(&out, &plan)
                .with_context(|| format!("cannot write {}", out.display()))?;
            if verbosity == Verbosity::Verbose {
                for (path, _) in &plan.writes {
                    eprintln!("   wrote {}", out.join(path).display());
                }
                for path in &plan.removals {
                    eprintln!(" removed {}", out.join(path).display());
                }
            }
            say(format_args!("{}", build_summary(&spec, &out, &plan)));
            let model = &compiled.model;
            if model.has_extension() {
                let dir = output::extension_dir(&out, &model.source.stem);
                let scaffold =
                    emit::extension::scaffold(model, &output::api_path_from_extension(&out));
                if output::write_scaffold(&dir, &scaffold)
                    .with_context(|| format!("cannot write {}", dir.display()))?
                {
                    say(format_args!(
                        "wrote {}: the extension crate, yours from now on (shopgen never changes it)",
                        dir.display()
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { spec, out } => {
            let out_given = out.is_some();
            let out = out.unwrap_or_else(|| default_out(&spec));
            let Some(compiled) = compile(&spec)? else {
                return Ok(ExitCode::from(1));
            };
            Ok(match current(&spec, &compiled, &out, out_given)? {
                Some(n) => {
                    say(format_args!(
                        "{}: {} is current ({n} files)",
                        spec.display(),
                        out.display()
                    ));
                    ExitCode::SUCCESS
                }
                None => ExitCode::from(1),
            })
        }
    }
}

/// The one line `build` prints: where the output went and what changed in it.
/// `specs/shop.toml → generated/shop: 2 written, 81 unchanged, 0 removed; new migration 0002_add_products_color`
fn build_summary(spec: &Path, out: &Path, plan: &output::Plan) -> String {
    let migrations: Vec<String> = plan
        .writes
        .iter()
        .filter_map(|(path, _)| emit::history::parse_migration_path(path))
        .filter(|(engine, _, _)| *engine == emit::history::ENGINES[0])
        .map(|(_, version, slug)| format!("{version:04}_{slug}"))
        .collect();
    let mut line = format!(
        "{} \u{2192} {}: {} written, {} unchanged, {} removed",
        spec.display(),
        out.display(),
        plan.writes.len(),
        plan.unchanged.len(),
        plan.removals.len()
    );
    match migrations.as_slice() {
        [] => {}
        [one] => line.push_str(&format!("; new migration {one}")),
        many => line.push_str(&format!("; new migrations {}", many.join(", "))),
    }
    line
}
