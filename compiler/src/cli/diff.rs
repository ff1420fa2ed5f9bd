//! `shopgen diff SPEC [--against GIT_REF | --out DIR] [--format F]`: reads the spec
//! and the one it is compared with (the record in the output folder, or git), and
//! prints the library's report. Exit 0 / 1 / 3 as the report says; 2 on errors.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use shopgen::diff::render::{Format, render};
use shopgen::emit::history::{ENGINES, SNAPSHOT_PATH};
use shopgen::emit::{GeneratedFile, History, parse_header, spec_record};
use shopgen::model::Model;

/// `shopgen diff` flags.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The spec file, e.g. specs/shop.toml.
    pub spec: PathBuf,
    /// Compare with the spec at this git commit, branch or tag (e.g. origin/main).
    #[arg(long, value_name = "GIT_REF", conflicts_with = "out")]
    pub against: Option<String>,
    /// Compare with the spec this output folder was built from (default
    /// generated/<spec stem>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// text for a terminal, markdown for a pull-request comment, json for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Exit code for errors (1 and 3 say what changed).
const EXIT_ERROR: u8 = 2;

pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    match compare(&args) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn compare(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let source = shopgen::source_for(&args.spec);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("generated").join(&source.stem));
    let src = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("cannot read {}", args.spec.display()))?;
    let Some(new) = compile(&src, &source.display_path, "")? else {
        return Ok(ExitCode::from(EXIT_ERROR));
    };

    let (old, history, against, deployed) = match &args.against {
        None => {
            let record = out.join(spec_record::PATH);
            let text = std::fs::read_to_string(&record).with_context(|| {
                format!(
                    "cannot read {} (the spec the output was built from; a build by this \
                     shopgen writes it): run `cargo run -p shopgen -- build {}`, or compare \
                     with git: --against HEAD",
                    record.display(),
                    args.spec.display()
                )
            })?;
            let body = parse_header(&text).map(|(_, b)| b).unwrap_or(&text);
            let shown = record.display().to_string();
            let Some(old) = compile(body, &source.display_path, &shown)? else {
                return Ok(ExitCode::from(EXIT_ERROR));
            };
            let history = History::read(&out)
                .with_context(|| format!("cannot read the migrations in {}", out.display()))?;
            let deployed = deployed_infrastructure(&out)?;
            (
                Some(old),
                history,
                out.display().to_string(),
                Some(deployed),
            )
        }
        Some(git_ref) => {
            let spec_at_ref = git_show(git_ref, &args.spec)?;
            let old = match spec_at_ref {
                Some(text) => {
                    let shown = format!("{git_ref}:{}", args.spec.display());
                    match compile(&text, &source.display_path, &shown)? {
                        Some(m) => Some(m),
                        None => return Ok(ExitCode::from(EXIT_ERROR)),
                    }
                }
                None => None,
            };
            (
                old,
                history_at(git_ref, &out)?,
                format!("git {git_ref}"),
                None,
            )
        }
    };
    let report = shopgen::diff::diff_deployed(
        old.as_ref(),
        &new,
        &history,
        &source.display_path,
        &against,
        deployed.as_deref(),
    );
    print!("{}", render(&report, args.format));
    Ok(ExitCode::from(report.exit_code()))
}

/// Compiles spec text; prints the diagnostics (naming `shown` when it is not the spec
/// file itself) and gives `None` when it does not compile.
fn compile(src: &str, display_path: &str, shown: &str) -> anyhow::Result<Option<Model>> {
    let source = shopgen::model::SpecSource {
        stem: Path::new(display_path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        display_path: display_path.to_string(),
    };
    match shopgen::compile(src, source) {
        Ok(m) => Ok(Some(m)),
        Err(diags) => {
            let name = if shown.is_empty() {
                display_path
            } else {
                shown
            };
            eprint!("{}", shopgen::diagnostics::render(&diags, name, src));
            if !shown.is_empty() {
                eprintln!("error: {shown} does not compile with this shopgen");
            }
            Ok(None)
        }
    }
}

/// `REF:./path` for a path relative to the current folder (git resolves `./` from
/// there); an absolute path inside the current folder is made relative first.
fn git_path(git_ref: &str, path: &Path) -> anyhow::Result<String> {
    let rel = if path.is_absolute() {
        let cwd = std::env::current_dir()?;
        path.strip_prefix(&cwd)
            .with_context(|| format!("{} is outside the current folder", path.display()))?
            .to_path_buf()
    } else {
        path.to_path_buf()
    };
    let rel = rel.to_string_lossy().replace('\\', "/");
    Ok(format!("{git_ref}:./{}", rel.trim_start_matches("./")))
}

fn git(args: &[&str]) -> anyhow::Result<std::process::Output> {
    Command::new("git")
        .args(args)
        .output()
        .context("cannot run git")
}

/// A file at a git ref; `None` when the ref exists but the file does not.
fn git_show(git_ref: &str, path: &Path) -> anyhow::Result<Option<String>> {
    let verify = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{git_ref}^{{commit}}"),
    ])?;
    if !verify.status.success() {
        bail!("`{git_ref}` is not a git commit, branch or tag here");
    }
    let spec = git_path(git_ref, path)?;
    let out = git(&["show", &spec])?;
    if out.status.success() {
        Ok(Some(
            String::from_utf8(out.stdout).with_context(|| format!("{spec} is not UTF-8"))?,
        ))
    } else {
        Ok(None)
    }
}

/// The migration history the output folder held at a git ref.
fn history_at(git_ref: &str, out: &Path) -> anyhow::Result<History> {
    let mut history = History::default();
    let marker = |text: &str| parse_header(text).is_some();
    if let Some(text) = git_show(git_ref, &out.join(SNAPSHOT_PATH))?
        && marker(&text)
    {
        history.snapshot = Some(text);
    }
    for engine in ENGINES {
        let folder = out.join("backend/migrations").join(engine);
        let tree = git_path(git_ref, &folder)?;
        let listing = git(&["ls-tree", "--name-only", &format!("{tree}/")])?;
        if !listing.status.success() {
            continue;
        }
        for line in String::from_utf8_lossy(&listing.stdout).lines() {
            let name = line.rsplit('/').next().unwrap_or(line);
            if !name.ends_with(".sql") {
                continue;
            }
            if let Some(text) = git_show(git_ref, &folder.join(name))?
                && marker(&text)
            {
                history.migrations.push(GeneratedFile {
                    path: format!("backend/migrations/{engine}/{name}"),
                    contents: text,
                });
            }
        }
    }
    history.migrations.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(history)
}

/// The generated Terraform and Kubernetes files in the output folder as they are (the
/// infrastructure the last build wrote, and what was applied from it).
fn deployed_infrastructure(out: &Path) -> anyhow::Result<Vec<GeneratedFile>> {
    let mut files = Vec::new();
    for (dir, ext) in [("terraform", "tf"), ("k8s", "yaml")] {
        let Ok(entries) = std::fs::read_dir(out.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        paths.sort();
        for path in paths {
            let contents = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if parse_header(&contents).is_none() {
                continue; // a file of the user's (an override), not generated
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            files.push(GeneratedFile {
                path: format!("{dir}/{}", name.unwrap_or_default()),
                contents,
            });
        }
    }
    Ok(files)
}
