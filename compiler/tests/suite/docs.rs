//! The spec format is documented completely: docs/spec.md names every key the parser
//! accepts and lists every diagnostic code of the registry with its meaning (and no
//! other), the JSON Schema lists every key, and the checked-in schema is current.

use std::collections::BTreeMap;

use shopgen::diagnostics::Code;
use shopgen::spec::keys;

use crate::support::{repo, repo_file};

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
        ("upstream", keys::UPSTREAM),
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
}

/// The rows of the code table in docs/spec.md's "Diagnostics": code → meaning.
fn documented_codes(doc: &str) -> BTreeMap<String, String> {
    let section = doc
        .split("\n## Diagnostics\n")
        .nth(1)
        .expect("docs/spec.md has a Diagnostics section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rows = BTreeMap::new();
    for line in section.lines() {
        let Some(row) = line.strip_prefix("| E") else {
            continue;
        };
        let (code, meaning) = row
            .strip_suffix(" |")
            .and_then(|r| r.split_once(" | "))
            .unwrap_or_else(|| panic!("not a `| code | meaning |` row: {line}"));
        let previous = rows.insert(format!("E{code}"), meaning.to_string());
        assert!(previous.is_none(), "docs/spec.md lists E{code} twice");
    }
    rows
}

/// docs/spec.md's code table is the registry (`shopgen::diagnostics::Code`): the same
/// codes, with the same meanings, in the same order.
#[test]
fn reference_page_lists_exactly_the_registered_codes() {
    let doc = repo_file("docs/spec.md");
    let documented = documented_codes(&doc);
    for code in Code::ALL {
        match documented.get(code.as_str()) {
            None => panic!(
                "docs/spec.md's code table lacks {code}; add `| {code} | {} |`",
                code.meaning()
            ),
            Some(meaning) => assert_eq!(
                meaning,
                code.meaning(),
                "{code} means one thing in docs/spec.md and another in the registry"
            ),
        }
    }
    for code in documented.keys() {
        assert!(
            Code::ALL.iter().any(|c| c.as_str() == code),
            "docs/spec.md lists {code}, which the registry (compiler/src/diagnostics/codes.rs) does not"
        );
    }
    let order: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| E"))
        .filter_map(|r| r.split(" |").next())
        .collect();
    let registry: Vec<String> = Code::ALL
        .iter()
        .map(|c| c.as_str()[1..].to_string())
        .collect();
    assert_eq!(
        order, registry,
        "docs/spec.md's code table is not in the registry's order"
    );
}

/// Every code the documentation mentions in its prose and tables (`refused (E0236)`)
/// is registered. Code blocks are left out: they quote rustc's output, whose codes
/// look the same (`error[E0046]`).
#[test]
fn documents_mention_only_registered_codes() {
    let root = repo();
    let mut docs: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.extend(["README.md", "ARCHITECTURE.md"].map(|f| root.join(f)));
    for path in docs {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut fenced = false;
        let prose: String = text
            .lines()
            .filter(|l| {
                if l.trim_start().starts_with("```") {
                    fenced = !fenced;
                }
                !fenced
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let text = prose;
        for (at, _) in text.match_indices("E0") {
            let Some(code) = text.get(at..at + 5) else {
                continue;
            };
            if !code[2..].bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            assert!(
                Code::ALL.iter().any(|c| c.as_str() == code),
                "{} mentions {code}, which the registry does not list",
                path.display()
            );
        }
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
    check(&props["upstream"], keys::UPSTREAM, "upstream");
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
