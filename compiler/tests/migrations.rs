//! Schema changes after the first build: `shopgen build` keeps every earlier migration
//! byte for byte and adds the next one for both engines; the migrations are applied
//! to a real SQLite file (the `sqlite3` command) and a real PostgreSQL server (a
//! throwaway cluster from `shopgen-testkit`), with rows in the tables.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use shopgen_testkit::Postgres;

const SHOP: &str = include_str!("../../specs/shop.toml");
const MIGRATIONS: &str = "generated/shop/backend/migrations";

/// A copy of the shop spec in a temp folder, built with the real CLI.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(spec: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("specs")).unwrap();
        let p = Project { dir };
        p.set_spec(spec);
        p
    }

    fn set_spec(&self, spec: &str) {
        fs::write(self.dir.path().join("specs/shop.toml"), spec).unwrap();
    }

    fn shopgen(&self, command: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_shopgen"))
            .args([command, "specs/shop.toml"])
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    fn build(&self) {
        let out = self.shopgen("build");
        assert!(
            out.status.success(),
            "build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn assert_check_clean(&self) {
        let out = self.shopgen("check");
        assert!(
            out.status.success(),
            "check not clean:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn migrations_dir(&self) -> PathBuf {
        self.dir.path().join(MIGRATIONS)
    }

    /// Every file under `generated/`, relative path → bytes.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let root = self.dir.path().join("generated");
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.migrations_dir().join(rel)).unwrap()
    }
}

/// The shop with an optional field, a required field with a default, a new
/// resource with a relation, and the reviews' `message` field dropped.
fn changed_shop() -> String {
    SHOP.replace(
        "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n",
        "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n\
         fields.color = { type = \"string\", max_length = 30, required = false }\n\
         fields.stock = { type = \"integer\", default = 7 }\n",
    )
    .replace(
        "fields.message = { type = \"text\", max_length = 4000 }\n",
        "",
    )
    .replace(
        "json = [\"id\", \"name\", \"message\", \"rate\"]",
        "json = [\"id\", \"name\", \"rate\"]",
    ) + "\n[resources.tag]\n\
         belongs_to.product = { on_delete = \"cascade\" }\n\
         fields.label = { type = \"string\", max_length = 40, unique = true }\n"
}

#[test]
fn a_changed_spec_appends_a_migration_and_keeps_the_earlier_ones() {
    let p = Project::new(SHOP);
    p.build();
    let first = p.files();
    assert!(first.contains_key("shop/backend/migrations/schema.toml"));

    // Unchanged spec: nothing new, nothing rewritten.
    p.build();
    assert_eq!(p.files(), first);
    p.assert_check_clean();

    p.set_spec(&changed_shop());
    // `check` sees the missing migration before the build.
    assert!(!p.shopgen("check").status.success());
    p.build();
    let second = p.files();
    for engine in ["sqlite", "postgres"] {
        let key = format!("shop/backend/migrations/{engine}/0001_create_tables.sql");
        assert_eq!(second[&key], first[&key], "{key} was rewritten");
        assert!(
            second.contains_key(&format!(
                "shop/backend/migrations/{engine}/0002_update_schema.sql"
            )),
            "no 0002 for {engine}: {:?}",
            second.keys().collect::<Vec<_>>()
        );
    }
    assert_ne!(
        second["shop/backend/migrations/schema.toml"],
        first["shop/backend/migrations/schema.toml"]
    );

    let sqlite = p.read("sqlite/0002_update_schema.sql");
    for stmt in [
        "ALTER TABLE products ADD COLUMN color TEXT;",
        "ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 7;",
        "ALTER TABLE reviews DROP COLUMN message;",
        "CREATE TABLE tags (",
        "    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE",
        "CREATE INDEX tags_product_id_idx ON tags (product_id);",
    ] {
        assert!(
            sqlite.contains(stmt),
            "sqlite 0002 lacks `{stmt}`:\n{sqlite}"
        );
    }
    let postgres = p.read("postgres/0002_update_schema.sql");
    for stmt in [
        "ALTER TABLE products ADD COLUMN color VARCHAR(30);",
        "ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 7;",
        "ALTER TABLE products ALTER COLUMN stock DROP DEFAULT;",
        "ALTER TABLE reviews DROP COLUMN message;",
        "CONSTRAINT tags_label_key UNIQUE (label)",
        "ALTER TABLE tags ADD CONSTRAINT tags_product_id_fkey",
    ] {
        assert!(
            postgres.contains(stmt),
            "postgres 0002 lacks `{stmt}`:\n{postgres}"
        );
    }
    let main_rs =
        fs::read_to_string(p.dir.path().join("generated/shop/backend/src/main.rs")).unwrap();
    assert!(main_rs.contains("include_str!(\"../migrations/sqlite/0002_update_schema.sql\")"));
    assert!(main_rs.contains("version: 2,"));
    p.assert_check_clean();

    // Same spec, same history: same bytes.
    p.build();
    assert_eq!(p.files(), second);

    // A third change: 0001 and 0002 stay, 0003 appears with its own name.
    p.set_spec(&changed_shop().replace(
        "fields.rate = { type = \"integer\", min = 1, max = 5 }\n",
        "fields.rate = { type = \"integer\", min = 1, max = 5 }\n\
         fields.flagged = { type = \"boolean\", required = false }\n",
    ));
    p.build();
    let third = p.files();
    for (k, v) in &second {
        if k.contains("/migrations/") && k.ends_with(".sql") {
            assert_eq!(&third[k], v, "{k} was rewritten");
        }
    }
    assert!(
        p.read("sqlite/0003_add_reviews_flagged.sql")
            .contains("ALTER TABLE reviews ADD COLUMN flagged INTEGER;")
    );
    p.assert_check_clean();
}

#[test]
fn the_emitted_main_rs_lists_several_migrations_rustfmt_clean() {
    let p = Project::new(SHOP);
    p.build();
    p.set_spec(&changed_shop());
    p.build();
    let main_rs = p.dir.path().join("generated/shop/backend/src/main.rs");
    let out = Command::new("rustfmt")
        .args(["--edition", "2024", "--check"])
        .arg(&main_rs)
        .output()
        .expect("rustfmt (rustup component add rustfmt)");
    assert!(
        out.status.success(),
        "main.rs is not rustfmt-clean:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Each refused change is a located diagnostic, rendered like every other spec error:
/// its code and message, `file:line:col` at the field that causes it, the item path
/// and a hint; nothing is written, by `build` or by `check`.
#[test]
fn unsupported_changes_are_errors_that_write_nothing() {
    let cases = [
        (
            SHOP.replace("precision = 10, scale = 2", "precision = 12, scale = 2"),
            [
                "error[E0301]: column products.price changes type from NUMERIC(10, 2) to \
                 NUMERIC(12, 2)\n",
                "--> specs/shop.toml:31:8\n",
                "= at: resources.product.fields.price\n",
                "= help: keep the old type and size, or add the new definition under a new name",
            ],
        ),
        (
            SHOP.replace(
                "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n",
                "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n\
                 fields.sku = { type = \"string\", max_length = 20 }\n",
            ),
            [
                "error[E0306]: required field products.sku is new and has no default to fill \
                 the rows that exist\n",
                "--> specs/shop.toml:32:8\n",
                "= at: resources.product.fields.sku\n",
                "= help: add a default or make it optional (`required = false`)\n",
            ],
        ),
        (
            SHOP.replace(
                "fields.rate = { type = \"integer\", min = 1, max = 5 }",
                "fields.rate = { type = \"integer\", min = 1, max = 5, required = false }",
            ),
            [
                "error[E0302]: column reviews.rate changes from required to optional\n",
                "--> specs/shop.toml:39:8\n",
                "= at: resources.review.fields.rate\n",
                "= help: keep it required, or add the new definition under a new name",
            ],
        ),
    ];
    for (spec, expected) in cases {
        let p = Project::new(SHOP);
        p.build();
        let before = p.files();
        p.set_spec(&spec);
        for command in ["build", "check"] {
            let out = p.shopgen(command);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
            for part in expected {
                assert!(
                    stderr.contains(part),
                    "{command}: `{part}` not in:\n{stderr}"
                );
            }
            assert!(
                stderr.ends_with("error: specs/shop.toml has 1 error; nothing was written\n"),
                "{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        assert_eq!(p.files(), before, "a failed build wrote files");
    }
}

/// 0001, a few rows, then 0002: the columns are the spec's and the rows survived.
#[test]
fn the_migrations_apply_to_a_real_sqlite_database() {
    let p = Project::new(SHOP);
    p.build();
    p.set_spec(&changed_shop());
    p.build();
    let db = p.dir.path().join("shop.db");
    let sqlite3 = |sql: &str| -> String {
        let out = Command::new("sqlite3")
            .arg("-bail")
            .arg(&db)
            .arg(sql)
            .output()
            .expect("the sqlite3 command (apt-get install -y sqlite3)");
        assert!(
            out.status.success(),
            "sqlite3 failed on:\n{sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // As the backend runs them: foreign keys on, each migration in a transaction.
    let apply = |file: &str| {
        sqlite3(&format!(
            "PRAGMA foreign_keys = ON; BEGIN; {} COMMIT;",
            p.read(&format!("sqlite/{file}"))
        ));
    };
    apply("0001_create_tables.sql");
    sqlite3(
        "INSERT INTO products (title, price) VALUES ('Mug', 850);
         INSERT INTO reviews (product_id, name, message, rate) VALUES (1, 'Ann', 'Fine', 4);",
    );
    apply("0002_update_schema.sql");
    let columns = |table: &str| -> Vec<String> {
        sqlite3(&format!(
            "SELECT name, type, \"notnull\" FROM pragma_table_info('{table}');"
        ))
        .lines()
        .map(str::to_string)
        .collect()
    };
    assert_eq!(
        columns("products"),
        [
            "id|INTEGER|0",
            "title|TEXT|1",
            "price|INTEGER|1",
            "color|TEXT|0",
            "stock|INTEGER|1"
        ]
    );
    assert_eq!(
        columns("reviews"),
        [
            "id|INTEGER|0",
            "name|TEXT|1",
            "rate|INTEGER|1",
            "product_id|INTEGER|1"
        ]
    );
    assert_eq!(
        columns("tags"),
        ["id|INTEGER|0", "label|TEXT|1", "product_id|INTEGER|1"]
    );
    assert_eq!(
        sqlite3("SELECT title, color IS NULL, stock FROM products;"),
        "Mug|1|7\n"
    );
    sqlite3("INSERT INTO tags (product_id, label) VALUES (1, 'kitchen');");
    let dup = Command::new("sqlite3")
        .arg(&db)
        .arg("INSERT INTO tags (product_id, label) VALUES (1, 'kitchen');")
        .output()
        .unwrap();
    assert!(!dup.status.success(), "tags.label is not unique");
    sqlite3("PRAGMA foreign_keys = ON; DELETE FROM products;");
    assert_eq!(sqlite3("SELECT count(*) FROM tags;"), "0\n", "no cascade");
}

/// The same on PostgreSQL.
#[test]
fn the_migrations_apply_to_a_real_postgres_database() {
    let p = Project::new(SHOP);
    p.build();
    p.set_spec(&changed_shop());
    p.build();
    let pg = Postgres::start();
    let url = pg.url();
    let psql = |sql: &str| -> String {
        let out = Command::new("psql")
            .args([
                url.as_str(),
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-A",
                "-t",
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql failed on:\n{sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let apply = |file: &str| {
        psql(&format!(
            "BEGIN; {} COMMIT;",
            p.read(&format!("postgres/{file}"))
        ));
    };
    apply("0001_create_tables.sql");
    psql(
        "INSERT INTO products (title, price) VALUES ('Mug', 8.50);
         INSERT INTO reviews (product_id, name, message, rate) VALUES (1, 'Ann', 'Fine', 4);",
    );
    apply("0002_update_schema.sql");
    let columns = |table: &str| -> String {
        psql(&format!(
            "SELECT column_name, data_type, is_nullable, column_default IS NULL \
             FROM information_schema.columns WHERE table_name = '{table}' \
             ORDER BY ordinal_position;"
        ))
    };
    assert_eq!(
        columns("products"),
        "id|bigint|NO|t\ntitle|character varying|NO|t\nprice|numeric|NO|t\n\
         color|character varying|YES|t\nstock|integer|NO|t\n"
    );
    assert_eq!(
        columns("reviews"),
        "id|bigint|NO|t\nname|character varying|NO|t\nrate|integer|NO|t\nproduct_id|bigint|NO|t\n"
    );
    assert_eq!(
        psql("SELECT title, color IS NULL, stock FROM products;"),
        "Mug|t|7\n"
    );
    psql("INSERT INTO tags (product_id, label) VALUES (1, 'kitchen');");
    psql("DELETE FROM products;");
    assert_eq!(psql("SELECT count(*) FROM tags;"), "0\n", "no cascade");
}
