//! shopgen: one TOML spec → a deployable API stack.
//!
//! The pipeline is a chain of pure stages, [`spec`] (parse TOML, keep spans) →
//! [`check`] (the only stage that rejects input; it collects every error) →
//! [`model`] (lowering into the IR, infallible) → [`emit`] (one module per artifact,
//! returns files in memory). Only [`output`] and the CLI touch the disk.

pub mod check;
pub mod diagnostics;
pub mod diff;
pub mod emit;
pub mod import;
pub mod init;
pub mod model;
pub mod output;
pub mod schema;
pub mod spec;

use diagnostics::{Code, Diagnostic};
use model::{Model, SpecSource};

/// Parses, checks and lowers spec source text: the model, or every diagnostic.
pub fn compile(src: &str, source: SpecSource) -> Result<Model, Vec<Diagnostic>> {
    let (spec, mut diags) = spec::parse(src);
    if diags.iter().any(|d| d.code == Code::E0101) {
        return Err(diags);
    }
    let checked = check::check(&spec, &diags);
    diags.extend(checked);
    if !check::idents::is_dns_label(&source.stem.replace('_', "-")) || source.stem.len() > 40 {
        diags.push(
            Diagnostic::new(
                Code::E0230,
                0..0,
                "(file name)",
                format!("the spec's file name `{}` cannot name the generated crates", source.stem),
            )
            .hint("rename the file: lower-case letters, digits, `-` or `_`, starting with a letter (`specs/shop.toml` → crate `shop-backend`)"),
        );
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut model = model::lower(&spec, source);
    model.spec_record = emit::spec_record::normalize(src).unwrap_or_default();
    model.warnings = check::lints::lints(&spec);
    let diags = check::check_model(&spec, &model);
    if diags.is_empty() {
        Ok(model)
    } else {
        Err(diags)
    }
}

/// [`compile`] for the raw bytes of a spec file. Gives, with the result, the text the
/// diagnostics refer to (render them against it): the file itself, or, when the file
/// is not UTF-8, the file with each bad byte sequence shown as U+FFFD and a single
/// diagnostic (E0100) at the first one, so it gets a `line:col` like every other error.
pub fn compile_bytes(
    bytes: &[u8],
    source: SpecSource,
) -> (std::borrow::Cow<'_, str>, Result<Model, Vec<Diagnostic>>) {
    match std::str::from_utf8(bytes) {
        Ok(src) => (src.into(), compile(src, source)),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes);
            let at = e.valid_up_to();
            let bad = &bytes[at..at + e.error_len().unwrap_or(bytes.len() - at)];
            let shown: Vec<String> = bad.iter().map(|b| format!("0x{b:02X}")).collect();
            let (noun, verb) = if bad.len() == 1 {
                ("byte", "is")
            } else {
                ("bytes", "are")
            };
            let diag = Diagnostic::new(
                Code::E0100,
                at..at + char::REPLACEMENT_CHARACTER.len_utf8(),
                "(file encoding)",
                format!(
                    "the spec is not UTF-8 text: {noun} {} {verb} not a valid character",
                    shown.join(" ")
                ),
            )
            .hint(
                "TOML files are UTF-8: save the file as UTF-8 (a single byte such as 0xE9 \
                 usually means it was saved as Latin-1 or Windows-1252)",
            );
            (text, Err(vec![diag]))
        }
    }
}

/// The spec source for a path as the user typed it: `specs/shop.toml` → stem `shop`.
/// An absolute path inside the current folder is shown relative to it, so generated
/// headers do not depend on where a checkout lives.
pub fn source_for(path: &std::path::Path) -> SpecSource {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec".into());
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .filter(|_| path.is_absolute())
        .unwrap_or(path);
    let text = shown.to_string_lossy().replace('\\', "/");
    let display_path = text.strip_prefix("./").unwrap_or(&text).to_string();
    SpecSource { stem, display_path }
}
