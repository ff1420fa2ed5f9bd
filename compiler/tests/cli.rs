//! The command line as a user meets it: what `build` prints by default, with `-v` and
//! with `-q`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn shopgen(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shopgen"));
    c.current_dir(cwd);
    c
}

fn run(cwd: &Path, args: &[&str]) -> Output {
    shopgen(cwd).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch folder holding `specs/shop.toml` (the reference spec).
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("specs")).unwrap();
    fs::copy(
        repo().join("specs/shop.toml"),
        dir.path().join("specs/shop.toml"),
    )
    .unwrap();
    dir
}

#[test]
fn build_prints_one_summary_line_lists_files_with_v_and_nothing_with_q() {
    let dir = scratch();
    let cwd = dir.path();

    let first = run(cwd, &["build", "specs/shop.toml"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(first.stdout.is_empty());
    let lines: Vec<String> = stderr(&first).lines().map(String::from).collect();
    let files = walk(&cwd.join("generated/shop")).len();
    assert_eq!(
        lines,
        [format!(
            "specs/shop.toml → generated/shop: {files} written, 0 unchanged, 0 removed; \
             new migration 0001_create_tables"
        )]
    );

    let again = run(cwd, &["build", "specs/shop.toml"]);
    assert_eq!(
        stderr(&again).trim_end(),
        format!("specs/shop.toml → generated/shop: 0 written, {files} unchanged, 0 removed")
    );

    // A spec change that adds a column: the summary names the new migration.
    let spec = cwd.join("specs/shop.toml");
    let src = fs::read_to_string(&spec).unwrap().replace(
        "fields.price =",
        "fields.color = { type = \"string\", max_length = 20, required = false }\nfields.price =",
    );
    fs::write(&spec, src).unwrap();
    let changed = run(cwd, &["build", "-v", "specs/shop.toml"]);
    assert!(changed.status.success(), "{}", stderr(&changed));
    let text = stderr(&changed);
    assert!(
        text.contains(
            "   wrote generated/shop/backend/migrations/sqlite/0002_add_products_color.sql\n"
        ),
        "{text}"
    );
    assert!(
        text.lines().count() > 3,
        "-v lists every file written: {text}"
    );
    assert!(
        text.trim_end()
            .ends_with("; new migration 0002_add_products_color"),
        "{text}"
    );

    let quiet = run(cwd, &["build", "-q", "specs/shop.toml"]);
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty());
    let quiet_check = run(cwd, &["-q", "check", "specs/shop.toml"]);
    assert!(quiet_check.status.success(), "{}", stderr(&quiet_check));
    assert!(quiet_check.stderr.is_empty() && quiet_check.stdout.is_empty());

    // Errors print even with -q.
    fs::write(&spec, "[service]\nname = 7\n").unwrap();
    let bad = run(cwd, &["build", "-q", "specs/shop.toml"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("error["), "{}", stderr(&bad));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
