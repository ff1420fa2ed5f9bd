//! The command line as a user meets it: what `build` prints by default, with `-v` and
//! with `-q`.

use std::fs;

use crate::support::{project, walk};

#[test]
fn build_prints_one_summary_line_lists_files_with_v_and_nothing_with_q() {
    // A scratch folder holding `specs/shop.toml` (the reference spec).
    let dir = project().repo_file("specs/shop.toml").build();
    let cwd = dir.root();

    let first = dir.shopgen(["build", "specs/shop.toml"]).run();
    assert!(first.success(), "{}", first.stderr);
    assert!(first.stdout.is_empty());
    let lines: Vec<String> = first.stderr.lines().map(String::from).collect();
    let files = walk(&cwd.join("generated/shop")).len();
    assert_eq!(
        lines,
        [format!(
            "specs/shop.toml → generated/shop: {files} written, 0 unchanged, 0 removed; \
             new migration 0001_create_tables"
        )]
    );

    let again = dir.shopgen(["build", "specs/shop.toml"]).run();
    assert_eq!(
        again.stderr.trim_end(),
        format!("specs/shop.toml → generated/shop: 0 written, {files} unchanged, 0 removed")
    );

    // A spec change that adds a column: the summary names the new migration.
    let spec = cwd.join("specs/shop.toml");
    let src = fs::read_to_string(&spec).unwrap().replace(
        "fields.price =",
        "fields.color = { type = \"string\", max_length = 20, required = false }\nfields.price =",
    );
    fs::write(&spec, src).unwrap();
    let changed = dir.shopgen(["build", "-v", "specs/shop.toml"]).run();
    assert!(changed.success(), "{}", changed.stderr);
    let text = changed.stderr;
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

    let quiet = dir.shopgen(["build", "-q", "specs/shop.toml"]).run();
    assert!(quiet.success());
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty());
    let quiet_check = dir.shopgen(["-q", "check", "specs/shop.toml"]).run();
    assert!(quiet_check.success(), "{}", quiet_check.stderr);
    assert!(quiet_check.stderr.is_empty() && quiet_check.stdout.is_empty());

    // Errors print even with -q.
    fs::write(&spec, "[service]\nname = 7\n").unwrap();
    let bad = dir.shopgen(["build", "-q", "specs/shop.toml"]).run();
    assert_eq!(bad.code(), Some(1));
    assert!(bad.stderr.contains("error["), "{}", bad.stderr);
}
