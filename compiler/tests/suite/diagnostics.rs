//! Every invalid-spec case in `tests/diagnostics/*.toml` is rejected, and its rendered
//! diagnostics match `*.stderr` byte for byte. Every refused schema change in
//! `tests/diagnostics/migrations/<case>/` (a build of `before.toml`, then `after.toml`
//! against the migration history it left) renders as `after.stderr`.
//! `SHOPGEN_BLESS=1 cargo test -p shopgen --test suite -- diagnostics::` rewrites the
//! expectations (`support::golden`); review them in the diff.
//!
//! The registry of codes (`shopgen::diagnostics::Code`) is held to the cases both
//! ways: every code has a case, and every code a case renders, or the source
//! mentions, is in the registry. (docs/spec.md is held to it by the `docs` test.)

use std::path::{Path, PathBuf};

use shopgen::diagnostics::{Code, Diagnostic};
use shopgen::emit::{History, MigrationError, emit_all, emit_all_with_history};
use shopgen::model::SpecSource;

use crate::support::golden;

fn cases() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diagnostics exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_invalid_spec_renders_its_expected_diagnostics() {
    let mut failures = Vec::new();
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "expected at least 30 invalid-spec cases, found {}",
        cases.len()
    );
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let display = format!("tests/diagnostics/{name}.toml");
        let source = SpecSource {
            stem: name.clone(),
            display_path: display.clone(),
        };
        let (src, result) = shopgen::compile_bytes(&bytes, source);
        let diags = match result {
            Ok(_) => {
                failures.push(format!("{name}: the spec was accepted"));
                continue;
            }
            Err(d) => d,
        };
        let rendered = shopgen::diagnostics::render(&diags, &display, &src);
        if let Err(why) = golden::check(&path.with_extension("stderr"), &rendered) {
            failures.push(format!("{name}: rendered diagnostics: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diagnostics_carry_location_path_and_hint() {
    for path in cases() {
        let bytes = std::fs::read(&path).unwrap();
        let source = SpecSource {
            stem: path.file_stem().unwrap().to_string_lossy().into_owned(),
            display_path: "case.toml".into(),
        };
        let (src, result) = shopgen::compile_bytes(&bytes, source);
        let diags = result.expect_err("invalid spec");
        for d in diags {
            assert!(
                d.hint.is_some(),
                "{}: {} has no hint",
                path.display(),
                d.message
            );
            assert!(
                d.span.end <= src.len(),
                "{}: span out of bounds",
                path.display()
            );
            if d.code != Code::E0101 {
                assert!(
                    !d.path.is_empty(),
                    "{}: {} has no item path",
                    path.display(),
                    d.message
                );
            }
        }
    }
}

#[test]
fn many_errors_are_reported_in_one_run() {
    let src = r#"
[service]
name = "Bad Name"

[gcp]
project = "acme-shop"
region = "europe-west2"
cluster = { name = "c" }
egress = { connector = "10.8.0.0/24" }

[resources.product]
fields.title = { type = "string", max_lenght = 10 }
fields.rate = { type = "integer", min = 5, max = 1 }
"#;
    let source = SpecSource {
        stem: "x".into(),
        display_path: "x.toml".into(),
    };
    let diags = shopgen::compile(src, source).expect_err("invalid");
    let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    for code in [
        Code::E0219,
        Code::E0220,
        Code::E0102,
        Code::E0208,
        Code::E0209,
    ] {
        assert!(codes.contains(&code), "missing {code} in {codes:?}");
    }
}

/// The refused-migration cases: folders under `tests/diagnostics/migrations/`.
fn migration_cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics/migrations");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diagnostics/migrations exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// A refused-migration case: `before.toml` built into an output folder (in memory),
/// then `after.toml` compiled and planned against the history that build left. Gives
/// the source of `after.toml` and the planner's diagnostics, or why there are none.
fn refused_migration(case: &Path) -> Result<(String, Vec<Diagnostic>), String> {
    let compile = |file: &str| -> Result<(String, shopgen::model::Model), String> {
        let src = std::fs::read_to_string(case.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let source = SpecSource {
            stem: "shop".into(),
            display_path: file.into(),
        };
        match shopgen::compile(&src, source) {
            Ok(model) => Ok((src, model)),
            Err(d) => Err(format!(
                "{file} does not compile:\n{}",
                shopgen::diagnostics::render(&d, file, &src)
            )),
        }
    };
    let (_, before) = compile("before.toml")?;
    let history = History::of_build(&emit_all(&before));
    let (src, after) = compile("after.toml")?;
    match emit_all_with_history(&after, &history) {
        Err(MigrationError::Unsupported(diags)) => Ok((src, diags)),
        Err(e) => Err(format!("not a refused schema change: {e}")),
        Ok(_) => Err("the change was migrated".into()),
    }
}

#[test]
fn every_refused_migration_renders_its_expected_diagnostics() {
    let mut failures = Vec::new();
    let cases = migration_cases();
    assert!(
        cases.len() >= 8,
        "expected a case per refused change, found {}",
        cases.len()
    );
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (src, diags) = match refused_migration(case) {
            Ok(found) => found,
            Err(why) => {
                failures.push(format!("{name}: {why}"));
                continue;
            }
        };
        for d in &diags {
            if d.hint.is_none() || d.path.is_empty() || d.span.is_empty() || d.span.end > src.len()
            {
                failures.push(format!(
                    "{name}: {} is not located in after.toml with a path and a hint: {d:?}",
                    d.code
                ));
            }
        }
        let display = format!("tests/diagnostics/migrations/{name}/after.toml");
        let rendered = shopgen::diagnostics::render(&diags, &display, &src);
        if let Err(why) = golden::check(&case.join("after.stderr"), &rendered) {
            failures.push(format!("{name}: rendered diagnostics: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every expected rendering: the invalid specs' and the refused migrations'.
fn rendered_cases() -> String {
    let invalid = cases().into_iter().map(|p| p.with_extension("stderr"));
    let refused = migration_cases()
        .into_iter()
        .map(|p| p.join("after.stderr"));
    invalid
        .chain(refused)
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

/// `E0` and three digits at `at` in `text`.
fn code_at(text: &str, at: usize) -> Option<&str> {
    let code = text.get(at..at + 5)?;
    let digits = code[2..].bytes().all(|b| b.is_ascii_digit());
    let alone = !text[at + 5..].starts_with(|c: char| c.is_ascii_alphanumeric());
    (digits && alone).then_some(code)
}

/// Every `E0ddd` in `text`, with the text before it.
fn codes_in(text: &str) -> Vec<(&str, &str)> {
    text.match_indices("E0")
        .filter_map(|(at, _)| code_at(text, at).map(|c| (c, &text[..at])))
        .collect()
}

fn registered(code: &str) -> bool {
    Code::ALL.iter().any(|c| c.as_str() == code)
}

/// Every code in the registry has a case here, and every case renders only codes in
/// the registry.
#[test]
fn every_code_in_the_registry_has_a_case_and_no_case_another_code() {
    let rendered = rendered_cases();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !rendered.contains(&format!("error[{c}]")))
        .collect();
    assert!(
        missing.is_empty(),
        "no case in tests/diagnostics renders {missing:?}: add a spec (or a \
         migrations/<case>/ with before.toml and after.toml) and bless it"
    );
    for (code, before) in codes_in(&rendered) {
        if before.ends_with("error[") {
            assert!(
                registered(code),
                "a case renders {code}, which the registry does not list"
            );
        }
    }
}

/// Codes are typed ([`Code`]), so a diagnostic cannot carry one the registry lacks;
/// this keeps it that way: no code is written as a string in the compiler's source,
/// and every code its comments and messages mention is in the registry.
#[test]
fn the_source_names_only_registered_codes_and_never_as_strings() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    let mut problems = Vec::new();
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            let shown = path.strip_prefix(&src).unwrap().display().to_string();
            for (code, before) in codes_in(&text) {
                if !registered(code) {
                    problems.push(format!(
                        "src/{shown} names {code}, which is not in the registry"
                    ));
                }
                if before.ends_with('"') {
                    problems.push(format!(
                        "src/{shown} writes {code} as a string: use `Code::{code}`"
                    ));
                }
            }
        }
    }
    assert!(files > 20, "walked only {files} source files");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
