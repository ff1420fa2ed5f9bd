//! Schema changes after the first build: `shopgen build` keeps every earlier migration
//! byte for byte and adds the next one for both engines; the migrations are applied
//! to a real SQLite file (the `sqlite3` command) and a real PostgreSQL server (a
//! throwaway cluster from `shopgen-testkit`), with rows in the tables.

use std::fs;
use std::process::Command;

use shopgen_testkit::Postgres;

use crate::support::{Project, project};

const SHOP: &str = include_str!("../../../specs/shop.toml");
const MIGRATIONS: &str = "generated/shop/backend/migrations";

/// A copy of the shop spec in a scratch folder, built with the real CLI.
fn shop_project(spec: &str) -> Project {
    project().file("specs/shop.toml", spec).build()
}

fn set_spec(p: &Project, spec: &str) {
    p.write("specs/shop.toml", spec);
}

fn build(p: &Project) {
    let out = p.shopgen(["build", "specs/shop.toml"]).run();
    assert!(out.success(), "build failed:\n{}", out.stderr);
}

fn assert_check_clean(p: &Project) {
    let out = p.shopgen(["check", "specs/shop.toml"]).run();
    assert!(out.success(), "check not clean:\n{}", out.stderr);
}

/// A migration file, by its path under the backend's `migrations/`.
fn migration(p: &Project, rel: &str) -> String {
    p.read(&format!("{MIGRATIONS}/{rel}"))
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
    let p = shop_project(SHOP);
    build(&p);
    let first = p.files("generated");
    assert!(first.contains_key("shop/backend/migrations/schema.toml"));

    // Unchanged spec: nothing new, nothing rewritten.
    build(&p);
    assert_eq!(p.files("generated"), first);
    assert_check_clean(&p);

    set_spec(&p, &changed_shop());
    // `check` sees the missing migration before the build.
    assert!(!p.shopgen(["check", "specs/shop.toml"]).run().success());
    build(&p);
    let second = p.files("generated");
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

    let sqlite = migration(&p, "sqlite/0002_update_schema.sql");
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
    let postgres = migration(&p, "postgres/0002_update_schema.sql");
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
    let main_rs = fs::read_to_string(p.path("generated/shop/backend/src/main.rs")).unwrap();
    assert!(main_rs.contains("include_str!(\"../migrations/sqlite/0002_update_schema.sql\")"));
    assert!(main_rs.contains("version: 2,"));
    assert_check_clean(&p);

    // Same spec, same history: same bytes.
    build(&p);
    assert_eq!(p.files("generated"), second);

    // A third change: 0001 and 0002 stay, 0003 appears with its own name.
    set_spec(
        &p,
        &changed_shop().replace(
            "fields.rate = { type = \"integer\", min = 1, max = 5 }\n",
            "fields.rate = { type = \"integer\", min = 1, max = 5 }\n\
         fields.flagged = { type = \"boolean\", required = false }\n",
        ),
    );
    build(&p);
    let third = p.files("generated");
    for (k, v) in &second {
        if k.contains("/migrations/") && k.ends_with(".sql") {
            assert_eq!(&third[k], v, "{k} was rewritten");
        }
    }
    assert!(
        migration(&p, "sqlite/0003_add_reviews_flagged.sql")
            .contains("ALTER TABLE reviews ADD COLUMN flagged INTEGER;")
    );
    assert_check_clean(&p);
}

#[test]
fn the_emitted_main_rs_lists_several_migrations_rustfmt_clean() {
    let p = shop_project(SHOP);
    build(&p);
    set_spec(&p, &changed_shop());
    build(&p);
    let main_rs = p.path("generated/shop/backend/src/main.rs");
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
        let p = shop_project(SHOP);
        build(&p);
        let before = p.files("generated");
        set_spec(&p, &spec);
        for command in ["build", "check"] {
            let out = p.shopgen([command, "specs/shop.toml"]).run();
            let stderr = &out.stderr;
            assert_eq!(out.code(), Some(1), "{command}: {stderr}");
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
        assert_eq!(p.files("generated"), before, "a failed build wrote files");
    }
}

/// 0001, a few rows, then 0002: the columns are the spec's and the rows survived.
#[test]
fn the_migrations_apply_to_a_real_sqlite_database() {
    let p = shop_project(SHOP);
    build(&p);
    set_spec(&p, &changed_shop());
    build(&p);
    let db = p.path("shop.db");
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
            migration(&p, &format!("sqlite/{file}"))
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
    let p = shop_project(SHOP);
    build(&p);
    set_spec(&p, &changed_shop());
    build(&p);
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
            migration(&p, &format!("postgres/{file}"))
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
