//! Diff, part 2: data. Tables and columns the change adds, drops or alters, with the
//! migration the next build writes for it.
//!
//! Tables and columns are compared as the migration planner sees them
//! ([`Schema::from_model`]); the migration's name and the changes shopgen refuses come
//! from the planner itself ([`emit_all_with_history`] on the output's history), so
//! what `diff` says is what `build` will do. Field changes that leave the schema alone
//! (bounds, patterns, defaults, read-only) are compared on the model.

use serde::Serialize;

use crate::emit::backend::schema::{Column, Schema};
use crate::emit::history::{ENGINES, parse_migration_path};
use crate::emit::{History, MigrationError, emit_all_with_history};
use crate::model::{DefaultValue, Field, FieldType, Model};

/// What happens to a table or a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// A change shopgen will not migrate: `build` writes nothing until it is undone.
    Refused,
    TableAdded,
    TableDropped,
    ColumnAdded,
    ColumnDropped,
    /// Constraints or type of a column that stays.
    ColumnChanged,
}

/// One data change. Fields that do not apply are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataChange {
    pub change: DataKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The column as it is after the change (before it, for a dropped one), or what
    /// changes (`min 1 → min 0`), or why shopgen refuses.
    pub detail: String,
    /// The rows or values of a dropped table or column are deleted.
    pub data_loss: bool,
    /// The migration the next build writes for it, `0002_add_products_color`: the
    /// files `backend/migrations/{sqlite,postgres}/<migration>.sql`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
}

/// Every data change from `old` to `new`; `history` is the output's migration history.
/// Refused changes first, then by table and column.
pub fn changes(old: Option<&Model>, new: &Model, history: &History) -> Vec<DataChange> {
    let before = old.map(Schema::from_model).unwrap_or_default();
    let after = Schema::from_model(new);
    let mut out = Vec::new();

    // What the next build does: its new migration, or the changes it refuses.
    let mut migration = None;
    match emit_all_with_history(new, history) {
        Ok(files) => {
            migration = files
                .iter()
                .filter(|f| !history.migrations.iter().any(|h| h.path == f.path))
                .filter_map(|f| parse_migration_path(&f.path))
                .find(|(engine, _, _)| *engine == ENGINES[0])
                .map(|(_, version, slug)| format!("{version:04}_{slug}"));
        }
        Err(MigrationError::Unsupported(refusals)) => {
            for d in refusals {
                out.push(refused(d.message));
            }
        }
        Err(e @ MigrationError::History(_)) => out.push(refused(e.to_string())),
    }

    let change =
        |change, table: &str, column: Option<&str>, detail: String, data_loss| DataChange {
            change,
            table: Some(table.to_string()),
            column: column.map(str::to_string),
            detail,
            data_loss,
            migration: migration.clone(),
        };
    for (name, t) in &after.tables {
        let Some(was) = before.tables.get(name) else {
            let cols: Vec<&str> = t.columns.keys().map(String::as_str).collect();
            out.push(change(
                DataKind::TableAdded,
                name,
                None,
                format!("columns {}", cols.join(", ")),
                false,
            ));
            continue;
        };
        for (col, c) in &t.columns {
            match was.columns.get(col) {
                None => out.push(change(
                    DataKind::ColumnAdded,
                    name,
                    Some(col),
                    describe_column(c),
                    false,
                )),
                Some(w) if w != c || was.foreign_keys.get(col) != t.foreign_keys.get(col) => {
                    let mut what = Vec::new();
                    if w.postgres != c.postgres {
                        what.push(format!("type {} → {}", w.postgres, c.postgres));
                    }
                    if w.not_null != c.not_null {
                        what.push(
                            if c.not_null {
                                "optional → required"
                            } else {
                                "required → optional"
                            }
                            .into(),
                        );
                    }
                    if w.unique != c.unique {
                        what.push(
                            if c.unique {
                                "becomes unique"
                            } else {
                                "stops being unique"
                            }
                            .into(),
                        );
                    }
                    if w.check != c.check {
                        what.push(format!(
                            "enum values {} → {}",
                            w.check.as_deref().unwrap_or("-"),
                            c.check.as_deref().unwrap_or("-")
                        ));
                    }
                    if was.foreign_keys.get(col) != t.foreign_keys.get(col) {
                        let fk = |t: &crate::emit::backend::schema::Table| {
                            t.foreign_keys
                                .get(col)
                                .map(|f| {
                                    format!("references {} on delete {}", f.references, f.on_delete)
                                })
                                .unwrap_or_else(|| "no reference".into())
                        };
                        what.push(format!("{} → {}", fk(was), fk(t)));
                    }
                    out.push(change(
                        DataKind::ColumnChanged,
                        name,
                        Some(col),
                        what.join("; "),
                        false,
                    ));
                }
                Some(_) => {}
            }
        }
        for (col, c) in was
            .columns
            .iter()
            .filter(|(c, _)| !t.columns.contains_key(*c))
        {
            out.push(change(
                DataKind::ColumnDropped,
                name,
                Some(col),
                format!("{}; every value in it is deleted", describe_column(c)),
                true,
            ));
        }
    }
    for name in before
        .tables
        .keys()
        .filter(|t| !after.tables.contains_key(*t))
    {
        out.push(change(
            DataKind::TableDropped,
            name,
            None,
            "the table and every row in it are deleted".into(),
            true,
        ));
    }

    // Field changes the schema does not see: validation, defaults, writability.
    if let Some(old) = old {
        for r in &new.resources {
            let Some(was_r) = old.resources.iter().find(|o| o.table == r.table) else {
                continue;
            };
            for f in &r.fields {
                let Some(was) = was_r.fields.iter().find(|o| o.column == f.column) else {
                    continue;
                };
                let (a, b) = (describe_field(was), describe_field(f));
                let schema_change = out.iter().any(|c| {
                    c.change == DataKind::ColumnChanged
                        && c.table.as_deref() == Some(&r.table)
                        && c.column.as_deref() == Some(&f.column)
                });
                if a != b && !schema_change {
                    out.push(change(
                        DataKind::ColumnChanged,
                        &r.table,
                        Some(&f.column),
                        format!("{a} → {b} (validation only; no migration)"),
                        false,
                    ));
                    if let Some(last) = out.last_mut() {
                        last.migration = None;
                    }
                }
            }
        }
    }

    out.sort_by(|a, b| {
        (a.change != DataKind::Refused, &a.table, &a.column, a.change).cmp(&(
            b.change != DataKind::Refused,
            &b.table,
            &b.column,
            b.change,
        ))
    });
    out
}

fn refused(reason: String) -> DataChange {
    DataChange {
        change: DataKind::Refused,
        table: None,
        column: None,
        detail: format!(
            "{reason}; shopgen cannot migrate this automatically and `build` writes nothing \
             (see docs/spec.md, \"Changing a spec after the first deployment\")"
        ),
        data_loss: false,
        migration: None,
    }
}

/// `VARCHAR(20), optional, unique`.
fn describe_column(c: &Column) -> String {
    let mut s = c.postgres.clone();
    s.push_str(if c.not_null {
        ", required"
    } else {
        ", optional"
    });
    if c.unique {
        s.push_str(", unique");
    }
    s
}

/// A field in the spec's words: `integer, required, min 1, max 5`.
pub fn describe_field(f: &Field) -> String {
    let mut parts: Vec<String> = vec![f.ty.keyword().to_string()];
    parts.push(if f.required { "required" } else { "optional" }.into());
    if f.unique {
        parts.push("unique".into());
    }
    if !f.writable {
        parts.push("read-only".into());
    }
    let opt = |parts: &mut Vec<String>, k: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k} {v}"));
        }
    };
    match &f.ty {
        FieldType::String {
            max_length,
            min_length,
            pattern,
        } => {
            opt(&mut parts, "min_length", min_length.map(|n| n.to_string()));
            parts.push(format!("max_length {max_length}"));
            opt(
                &mut parts,
                "pattern",
                pattern.as_ref().map(|p| format!("{p:?}")),
            );
        }
        FieldType::Text {
            min_length,
            max_length,
        } => {
            opt(&mut parts, "min_length", min_length.map(|n| n.to_string()));
            opt(&mut parts, "max_length", max_length.map(|n| n.to_string()));
        }
        FieldType::Integer { min, max } | FieldType::BigInt { min, max } => {
            opt(&mut parts, "min", min.map(|n| n.to_string()));
            opt(&mut parts, "max", max.map(|n| n.to_string()));
        }
        FieldType::Decimal {
            precision,
            scale,
            min,
            max,
        } => {
            parts.push(format!("precision {precision}, scale {scale}"));
            opt(&mut parts, "min", min.clone());
            opt(&mut parts, "max", max.clone());
        }
        FieldType::Float { min, max } => {
            opt(&mut parts, "min", min.map(|n| n.to_string()));
            opt(&mut parts, "max", max.map(|n| n.to_string()));
        }
        FieldType::Enum { values } => parts.push(format!("values {}", values.join("|"))),
        FieldType::Boolean | FieldType::Timestamp | FieldType::Date | FieldType::Uuid => {}
    }
    if let Some(d) = &f.default {
        parts.push(format!(
            "default {}",
            match d {
                DefaultValue::Str(s) => format!("{s:?}"),
                DefaultValue::Int(i) => i.to_string(),
                DefaultValue::Float(x) => x.to_string(),
                DefaultValue::Bool(b) => b.to_string(),
                DefaultValue::Now => "now".into(),
            }
        ));
    }
    parts.join(", ")
}
