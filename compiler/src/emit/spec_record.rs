//! Emit: `spec.toml`, the spec the output folder was built from, so `shopgen diff`
//! can tell what a later spec change does without git.
//!
//! The record is normalized: comments and layout are dropped, the top-level tables
//! and the resources and operations are sorted by name, and every other table keeps
//! the spec's order (a resource's `fields` are its column order). A spec that only
//! changes comments or reorders its tables records the same bytes.

use super::{CommentSyntax, EmittedFile};
use crate::model::Model;

/// Where the record lives, relative to the output folder.
pub const PATH: &str = "spec.toml";

/// The record of the model's spec.
pub fn emit(model: &Model) -> EmittedFile {
    EmittedFile::new(
        PATH,
        format!(
            "# The spec this folder was built from, normalized (no comments, tables sorted).\n\
             # `shopgen diff {}` compares the spec with it.\n\n{}",
            model.source.display_path, model.spec_record
        ),
        CommentSyntax::Hash,
    )
}

/// The normalized form of spec source text that parses as TOML; `None` if it does not.
pub fn normalize(src: &str) -> Option<String> {
    let mut table: toml::Table = src.parse().ok()?;
    sort_keys(&mut table);
    for named in NAMED_ENTRIES {
        if let Some(toml::Value::Table(entries)) = table.get_mut(*named) {
            sort_keys(entries);
        }
    }
    toml::to_string(&table).ok()
}

/// Top-level tables whose entries are named items the model sorts by name, so their
/// order in the spec means nothing. Everywhere else the spec's order is kept: it can be
/// significant (a resource's `fields` are its column order, an operation's `query` its
/// parameter order).
const NAMED_ENTRIES: &[&str] = &["resources", "operations"];

fn sort_keys(table: &mut toml::Table) {
    let mut entries: Vec<(String, toml::Value)> = std::mem::take(table).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    table.extend(entries);
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn comments_and_table_order_do_not_matter_field_order_does() {
        let a = "# c\n[service]\nname = \"s\"\n[resources.b]\nfields.x = \"text\"\n\
                 [resources.a]\nfields.z = \"text\"\nfields.y = \"text\" # c\n\
                 [operations.o]\nquery.q2 = \"text\"\nquery.q1 = \"text\"\n";
        let b = "[operations.o]\nquery.q2 = \"text\"\nquery.q1 = \"text\"\n\
                 [resources.a]\nfields.z = \"text\"\nfields.y = \"text\"\n\n\
                 [resources.b]\nfields.x = \"text\"\n[service]\nname = \"s\"\n";
        let c = a.replace(
            "fields.z = \"text\"\nfields.y",
            "fields.y = \"text\"\nfields.z",
        );
        let d = a.replace(
            "query.q2 = \"text\"\nquery.q1",
            "query.q1 = \"text\"\nquery.q2",
        );
        assert_eq!(normalize(a), normalize(b));
        assert_ne!(normalize(a), normalize(&c));
        assert_ne!(normalize(a), normalize(&d));
        let n = normalize(a).unwrap();
        assert!(n.find("z =").unwrap() < n.find("y =").unwrap(), "{n}");
        assert!(n.find("q2 =").unwrap() < n.find("q1 =").unwrap(), "{n}");
        assert!(
            n.find("[resources.a").unwrap() < n.find("[resources.b").unwrap(),
            "{n}"
        );
        assert_eq!(normalize("[a"), None);
    }
}
