//! Warnings (`shopgen::diagnostics::warnings`, found by `shopgen::check::lints`): every case in `tests/warnings/*.toml` compiles,
//! and its rendered warnings match `*.stderr` byte for byte
//! (`SHOPGEN_BLESS=1 cargo test -p shopgen --test suite -- warnings::` rewrites them).
//! Every lint has a case; the specs shopgen ships warn about nothing; and a warning
//! never stops `build`.

use std::path::{Path, PathBuf};

use shopgen::diagnostics::Lint;
use shopgen::model::SpecSource;

use crate::support::{golden, project, repo};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/warnings");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/warnings exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    out
}

/// A case's warnings, rendered as the command line prints them.
fn rendered(path: &Path) -> String {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let src = std::fs::read_to_string(path).unwrap();
    let display = format!("tests/warnings/{name}.toml");
    let source = SpecSource {
        stem: name.clone(),
        display_path: display.clone(),
    };
    let model = match shopgen::compile(&src, source) {
        Ok(model) => model,
        Err(diags) => panic!(
            "{name} is refused:\n{}",
            shopgen::diagnostics::render(&diags, &display, &src)
        ),
    };
    shopgen::diagnostics::render_warnings(&model.warnings, &display, &src)
}

#[test]
fn every_case_compiles_and_renders_its_expected_warnings() {
    let mut failures = Vec::new();
    let mut all = String::new();
    for path in cases() {
        let got = rendered(&path);
        if got.is_empty() {
            failures.push(format!("{}: no warning", path.display()));
        }
        if let Err(why) = golden::check(&path.with_extension("stderr"), &got) {
            failures.push(why);
        }
        all.push_str(&got);
    }
    for lint in Lint::ALL {
        if !all.contains(&format!("warning[{}]", lint.name())) {
            failures.push(format!(
                "no case in tests/warnings renders {}: add one and bless it",
                lint.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The specs in `specs/` are examples to copy: they warn about nothing.
#[test]
fn the_shipped_specs_warn_about_nothing() {
    for entry in std::fs::read_dir(repo().join("specs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let model = shopgen::compile(&src, shopgen::source_for(&path)).expect("compiles");
        let warnings = model.warnings;
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
    }
}

/// `build` prints the warnings before its summary, even with `-q`, and writes the
/// output all the same.
#[test]
fn a_warning_never_stops_a_build() {
    let case = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/warnings/guessed_plural.toml"),
    )
    .unwrap();
    let dir = project().file("specs/shelves.toml", case).build();
    let run = dir.shopgen(["build", "-q", "specs/shelves.toml"]).run();
    assert!(run.success(), "{}", run.text());
    assert!(
        run.stderr
            .contains("warning[guessed_plural]: resource `shelf`")
            && run.stderr.contains("--> specs/shelves.toml:25:12")
            && run
                .stderr
                .ends_with("warning: specs/shelves.toml has 2 warnings\n"),
        "{}",
        run.stderr
    );
    assert!(
        dir.path("generated/shelves/openapi/gateway.yaml").exists(),
        "the output was written"
    );
}

/// docs/spec.md ("Warnings") lists every lint, and no other.
#[test]
fn the_reference_page_lists_every_lint() {
    let doc = std::fs::read_to_string(repo().join("docs/spec.md")).unwrap();
    let section = doc
        .split_once("### Warnings")
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .expect("docs/spec.md has a Warnings section");
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let lints: Vec<&str> = Lint::ALL.iter().map(|l| l.name()).collect();
    assert_eq!(
        listed, lints,
        "docs/spec.md's Warnings table is not the lints"
    );
}
