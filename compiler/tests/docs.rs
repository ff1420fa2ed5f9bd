//! The spec format is documented completely: docs/spec.md names every key the parser
//! accepts, the JSON Schema lists every key, and the checked-in schema is current.

use std::path::Path;

use shopgen::spec::keys;

fn repo_file(p: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)).unwrap()
}

fn all_key_lists() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("top", keys::TOP),
        ("service", keys::SERVICE),
        ("gcp", keys::GCP),
        ("egress", keys::CONNECTOR),
        ("cluster", keys::CLUSTER),
        ("gateway", keys::GATEWAY),
        ("relay", keys::RELAY),
        ("database", keys::DATABASE),
        ("secret", keys::DATABASE_SECRET),
        ("cloud_sql", keys::CLOUD_SQL),
        ("resource", keys::RESOURCE),
        ("field", keys::FIELD),
        ("belongs_to", keys::BELONGS_TO),
        ("nested routes", keys::NESTED_ROUTES),
        ("has_many", keys::HAS_MANY),
        ("routes", keys::ROUTES),
        ("list", keys::LIST),
        ("operation", keys::OPERATION),
        ("hooks", keys::HOOKS),
        ("cors", keys::CORS),
        ("quota", keys::QUOTA),
        ("cache", keys::CACHE),
    ]
}

#[test]
fn reference_page_documents_every_key() {
    let doc = repo_file("docs/spec.md");
    for (table, keys) in all_key_lists() {
        for key in keys {
            assert!(
                doc.contains(&format!("`{key}`"))
                    || doc.contains(&format!("`{key}."))
                    || doc.contains(&format!(".{key}`"))
                    || doc.contains(&format!("[{key}]")),
                "docs/spec.md does not document `{key}` of {table}"
            );
        }
    }
    for code in ["E0101", "E0102", "E0201", "E0219", "E0228", "E0229"] {
        assert!(doc.contains(code), "docs/spec.md does not list {code}");
    }
}

#[test]
fn json_schema_lists_every_key() {
    let schema = shopgen::schema::json_schema();
    let props = &schema["properties"];
    let check = |v: &serde_json::Value, keys: &[&str], what: &str| {
        let listed = shopgen::schema::keys_of(v);
        for k in keys {
            assert!(
                listed.iter().any(|l| l == k),
                "schema of {what} lacks `{k}`"
            );
        }
        for l in &listed {
            assert!(
                keys.contains(&l.as_str()),
                "schema of {what} lists unknown `{l}`"
            );
        }
    };
    check(&schema, keys::TOP, "top");
    check(&props["service"], keys::SERVICE, "service");
    check(&props["gcp"], keys::GCP, "gcp");
    check(&props["gateway"], keys::GATEWAY, "gateway");
    check(&props["relay"], keys::RELAY, "relay");
    check(&props["database"], keys::DATABASE, "database");
    let resource = &props["resources"]["additionalProperties"];
    check(resource, keys::RESOURCE, "resource");
    check(&resource["properties"]["routes"], keys::ROUTES, "routes");
    check(&resource["properties"]["list"], keys::LIST, "list");
    check(
        &props["operations"]["additionalProperties"],
        keys::OPERATION,
        "operation",
    );
    check(
        &resource["properties"]["fields"]["additionalProperties"]["oneOf"][1],
        keys::FIELD,
        "field",
    );
}

#[test]
fn checked_in_schema_is_current() {
    let printed = serde_json::to_string_pretty(&shopgen::schema::json_schema()).unwrap() + "\n";
    assert_eq!(
        repo_file("docs/shopgen.schema.json"),
        printed,
        "docs/shopgen.schema.json is stale: run `cargo run -p shopgen -- schema > docs/shopgen.schema.json`"
    );
}
