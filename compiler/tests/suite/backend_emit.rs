//! The Rust emitters: every emitted Rust file parses and is rustfmt-clean, the
//! output is deterministic, and a spec that uses every field type, relation kind and
//! route (with long names) yields a crate that compiles clippy-clean (`-D warnings`).

use shopgen::emit::rust::render_file;
use shopgen::emit::{backend, emit_all, parse_header};
use shopgen::model::{Model, SpecSource};
use std::process::Command;

use crate::support::{infra, project, shop_src};

/// Every field type, unique fields, a read-only default, an optional `set_null`
/// relation, two relations to one parent, PUT, filters and sorts, and a resource whose
/// long name would push lines past 100 columns if layouts depended on it.
const KITCHEN: &str = r#"
[service]
name = "kitchen-api"
namespace = "kitchen"

[gcp]
project = "acme-kitchen"
region = "europe-west2"
network = "default"
subnetwork = "default"
egress = { connector = "10.8.0.0/28" }
cluster = { name = "kitchen-cluster", location = "europe-west2" }

[database]
secret = { name = "kitchen-db", key = "DATABASE_URL" }

[resources.author]
fields.name = { type = "string", max_length = 60, min_length = 1, pattern = "^[A-Z]", unique = true }
fields.email = { type = "string", max_length = 200, unique = true }
fields.joined = { type = "timestamp", default = "now", read_only = true }
fields.born = { type = "date", required = false }
fields.verified = { type = "boolean", default = false }
fields.rating = { type = "float", min = 0, max = 5, required = false }
fields.balance = { type = "decimal", precision = 24, scale = 4, required = false, min = "-1000.5" }
fields.token = { type = "uuid", required = false }
fields.level = { type = "enum", values = ["junior", "senior", "principal_engineer_of_the_year"], default = "junior" }
fields.bio = { type = "text", required = false, min_length = 1 }
fields.score = { type = "bigint", min = -5, required = false }
json = ["id", "name", "email", "joined", "born", "verified", "rating", "balance", "token", "level", "bio", "score", "posts"]
routes = { list = "public", get = "public", replace = "internal" }
list = { filter = ["level", "verified", "email"], sort = ["name", "joined", "balance"], default_limit = 20, max_limit = 50 }

[resources.post]
belongs_to.author = { on_delete = "restrict", routes = { list = "internal", create = "internal" } }
fields.title = { type = "string", max_length = 200 }
json = ["id", "title", "author_id", "comments"]
list = { filter = ["author_id"] }

[resources.comment]
belongs_to.post = { on_delete = "cascade" }
belongs_to.editor = { resource = "author", on_delete = "set_null", required = false }
fields.body = "text"
routes = { list = "internal", get = "off", update = "off", delete = "off" }

[resources.warehouse_inventory_adjustment_record]
fields.adjustment_quantity_description_text = { type = "string", max_length = 255 }
fields.quantity = { type = "integer" }
routes = { list = "internal", get = "internal", create = "off", update = "off", delete = "off" }
"#;

fn model(src: &str, stem: &str) -> Model {
    let source = SpecSource {
        stem: stem.to_string(),
        display_path: format!("specs/{stem}.toml"),
    };
    shopgen::compile(src, source).unwrap_or_else(|d| panic!("{stem}: {d:?}"))
}

fn shop() -> Model {
    model(&shop_src(), "shop")
}

/// One resource with a single field and no relation, and a public nested create route
/// with ordinary names: layouts rustfmt would rewrite if shopgen imitated it by hand.
const NOTES: &str = r#"
[service]
name = "notes-api"
namespace = "notes"

[gcp]
project = "acme-notes"
region = "europe-west2"
network = "default"
subnetwork = "default"
egress = { connector = "10.8.0.0/28" }
cluster = { name = "notes-cluster", location = "europe-west2" }

[database]
secret = { name = "notes-db", key = "DATABASE_URL" }

[resources.note]
fields.body = "text"

[resources.invoice]
fields.number = { type = "string", max_length = 20 }
routes = { list = "public", get = "public" }

[resources.widget]
belongs_to.invoice = { on_delete = "cascade", routes = { list = "public", create = "public" } }
fields.label = { type = "string", max_length = 40 }
"#;

/// Every generated `.rs` file parses, says it is laid out by shopgen rather than
/// rustfmt, is a fixed point of shopgen's printer (parse and print again: same
/// bytes), and `rustfmt --check` (edition 2024) accepts it.
#[test]
fn emitted_rust_parses_is_a_printer_fixed_point_and_rustfmt_clean() {
    for m in [shop(), model(KITCHEN, "kitchen"), model(NOTES, "notes")] {
        let dir = tempfile::tempdir().expect("dir");
        let files = emit_all(&m);
        let rust: Vec<_> = files.iter().filter(|f| f.path.ends_with(".rs")).collect();
        assert!(
            rust.len() >= 3,
            "{}: {} Rust files",
            m.source.stem,
            rust.len()
        );
        for file in &rust {
            let path = dir.path().join(&file.path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &file.contents).expect("write");
        }
        for file in rust {
            let path = dir.path().join(&file.path);
            let (_, body) = parse_header(&file.contents).expect("header");
            assert!(
                body.contains("\n#![cfg_attr(rustfmt, rustfmt::skip)]\n"),
                "{}: {body}",
                file.path
            );
            let parsed = syn::parse_file(&file.contents)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.path));
            assert_eq!(
                render_file(parsed),
                body,
                "{} ({}) is not a fixed point of the printer",
                file.path,
                m.source.stem
            );
            let out = Command::new("rustfmt")
                .args(["--check", "--edition", "2024"])
                .arg(&path)
                .output()
                .expect("rustfmt (rustup component add rustfmt)");
            assert!(
                out.status.success(),
                "{} ({}) is not rustfmt-clean:\n{}{}",
                file.path,
                m.source.stem,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn output_is_deterministic_and_complete() {
    let m = shop();
    let first = backend::emit(&m);
    assert_eq!(first, backend::emit(&shop()));
    let paths: Vec<&str> = first.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "backend/Cargo.toml",
            "backend/src/main.rs",
            "backend/migrations/sqlite/0001_create_tables.sql",
            "backend/migrations/postgres/0001_create_tables.sql",
            "backend/src/product.rs",
            "backend/src/review.rs",
        ]
    );
    for f in &first {
        assert!(
            f.body.ends_with('\n') && !f.body.contains('\r'),
            "{}",
            f.path
        );
    }
    let cargo = &first[0].body;
    assert!(cargo.contains("name = \"shop-backend\""), "{cargo}");
    assert!(
        cargo.contains("shopgen-backend-runtime.workspace = true"),
        "{cargo}"
    );
    // Embedded reviews are loaded by one `IN` query, never per product.
    let product = &first[4].body;
    assert!(
        product.contains("review::of_products(db, &ids)"),
        "{product}"
    );
    let review = &first[5].body;
    assert!(
        review.contains("db.fetch_children(SELECT, fk, parent_ids)"),
        "{review}"
    );
}

#[test]
fn migrations_fit_each_engine() {
    let files = backend::emit(&model(KITCHEN, "kitchen"));
    let body = |p: &str| {
        files
            .iter()
            .find(|f| f.path == p)
            .map(|f| f.body.clone())
            .expect(p)
    };
    let sqlite = body("backend/migrations/sqlite/0001_create_tables.sql");
    let pg = body("backend/migrations/postgres/0001_create_tables.sql");
    assert!(
        sqlite.contains("balance TEXT, -- DECIMAL(24, 4) as text"),
        "{sqlite}"
    );
    assert!(sqlite.contains("name TEXT NOT NULL UNIQUE"), "{sqlite}");
    assert!(
        sqlite.contains("editor_id INTEGER REFERENCES authors (id) ON DELETE SET NULL"),
        "{sqlite}"
    );
    assert!(pg.contains("balance NUMERIC(24, 4)"), "{pg}");
    assert!(
        pg.contains("CONSTRAINT authors_name_key UNIQUE (name)"),
        "{pg}"
    );
    assert!(pg.contains("joined TIMESTAMPTZ NOT NULL"), "{pg}");
    assert!(
        pg.contains("level TEXT NOT NULL CHECK (level IN ('junior', 'senior', 'principal_engineer_of_the_year'))"),
        "{pg}"
    );
    assert!(
        pg.contains("FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT"),
        "{pg}"
    );
}

/// Writes the kitchen spec's whole output into a scratch workspace that links this
/// repository's runtime, and runs `cargo clippy -- -D warnings` on its backend (and
/// its relay, which a build of the backend always comes with: a build of the two
/// resolves dependencies as this workspace's build does, see `builds.rs`), with this
/// workspace's lock file, profiles and target directory (so dependencies are reused).
#[test]
fn kitchen_backend_compiles_clippy_clean() {
    let m = model(KITCHEN, "kitchen");
    let kitchen = project().workspace(&["backend", "relay"]).build();
    infra::write_into(kitchen.root(), &emit_all(&m));
    let out = kitchen
        .cargo(&[
            "clippy",
            "--offline",
            "--quiet",
            "-p",
            "kitchen-backend",
            "-p",
            "kitchen-relay",
            "--",
            "-D",
            "warnings",
        ])
        .output()
        .expect("cargo clippy");
    assert!(
        out.status.success(),
        "the kitchen backend does not build clippy-clean:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
