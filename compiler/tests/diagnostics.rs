//! Every invalid-spec case in `tests/diagnostics/*.toml` is rejected, and its rendered
//! diagnostics match `*.stderr` byte for byte. `SHOPGEN_BLESS=1 cargo test -p shopgen
//! --test diagnostics` rewrites the expectations; review them in the diff.

use std::path::Path;

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
            if d.code != "E0101" {
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
    for code in ["E0219", "E0220", "E0102", "E0208", "E0209"] {
        assert!(codes.contains(&code), "missing {code} in {codes:?}");
    }
}

/// Every diagnostic code the reference page lists has at least one case here.
#[test]
fn every_documented_code_has_a_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/spec.md")).unwrap();
    let codes: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| E"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        codes.len() >= 30,
        "docs/spec.md lists {} codes",
        codes.len()
    );
    let rendered: String = cases()
        .iter()
        .map(|p| std::fs::read_to_string(p.with_extension("stderr")).unwrap_or_default())
        .collect();
    for code in codes {
        assert!(
            rendered.contains(&format!("error[E{code}]")),
            "no case in tests/diagnostics renders E{code}"
        );
    }
}
