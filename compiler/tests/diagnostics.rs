//! Every invalid-spec case in `tests/diagnostics/*.toml` is rejected, and its rendered
//! diagnostics match `*.stderr` byte for byte. `SHOPGEN_BLESS=1 cargo test -p shopgen
//! --test diagnostics` rewrites the expectations; review them in the diff.
//!
//! The registry of codes (`shopgen::diagnostics::Code`) is held to the cases both
//! ways: every code has a case, and every code a case renders, or the source
//! mentions, is in the registry. (docs/spec.md is held to it by the `docs` test.)

use std::path::Path;

use shopgen::diagnostics::Code;
use shopgen::model::SpecSource;

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
    let bless = std::env::var_os("SHOPGEN_BLESS").is_some();
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
        let expected_path = path.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, &rendered).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!("{name}: rendered diagnostics differ\n--- expected\n{expected}--- actual\n{rendered}"));
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

/// Every expected rendering.
fn rendered_cases() -> String {
    cases()
        .into_iter()
        .map(|p| std::fs::read_to_string(p.with_extension("stderr")).unwrap_or_default())
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
        "no case in tests/diagnostics renders {missing:?}: add a spec and bless it"
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
