//! Emit (backend): the first migration of each engine, which creates every table.
//!
//! The per-table pieces (`sqlite_create_table`, `postgres_create_table`,
//! `postgres_foreign_keys`) and the column types are shared with the later migrations
//! that [`super::schema`] derives from a change of the spec.

use super::*;
use std::fmt::Write as _;

/// A field's SQLite column type.
pub(super) fn sqlite_type(f: &Field) -> String {
    match &f.ty {
        FieldType::String { .. }
        | FieldType::Text { .. }
        | FieldType::Enum { .. }
        | FieldType::Timestamp
        | FieldType::Date
        | FieldType::Uuid => "TEXT".to_string(),
        FieldType::Integer { .. } | FieldType::BigInt { .. } | FieldType::Boolean => {
            "INTEGER".to_string()
        }
        FieldType::Decimal { precision, .. } if *precision <= SQLITE_INTEGER_DECIMAL_PRECISION => {
            "INTEGER".to_string()
        }
        FieldType::Decimal { .. } => "TEXT".to_string(),
        FieldType::Float { .. } => "REAL".to_string(),
    }
}

fn sqlite_column(f: &Field) -> String {
    let mut s = format!("{} {}", f.column, sqlite_type(f));
    if f.required {
        s.push_str(" NOT NULL");
    }
    if f.unique {
        s.push_str(" UNIQUE");
    }
    s
}

pub(super) fn sqlite_migration(model: &Model) -> String {
    let mut out = String::from(
        "-- SQLite schema. Decimals are scaled integers (a DECIMAL(10, 2) `83.84` is\n\
         -- stored as 8384): exact, and sortable; the service converts them.\n",
    );
    for r in &model.resources {
        sqlite_create_table(model, r, &mut out);
    }
    out
}

/// `CREATE TABLE` and the foreign-key indexes of one resource, after a blank line.
pub(super) fn sqlite_create_table(model: &Model, r: &Resource, out: &mut String) {
    let mut lines = vec!["id INTEGER PRIMARY KEY AUTOINCREMENT".to_string()];
    for f in &r.fields {
        let mut line = sqlite_column(f);
        if let FieldType::Decimal {
            precision, scale, ..
        } = &f.ty
        {
            if *precision <= SQLITE_INTEGER_DECIMAL_PRECISION {
                write!(
                    line,
                    " -- DECIMAL({precision}, {scale}) in units of 10^-{scale}"
                )
                .ok();
            } else {
                write!(line, " -- DECIMAL({precision}, {scale}) as text").ok();
            }
        }
        lines.push(line);
    }
    for b in &r.belongs_to {
        let parent = model.resource(&b.target);
        lines.push(format!(
            "{} INTEGER{} REFERENCES {} (id) ON DELETE {}",
            b.column,
            if b.required { " NOT NULL" } else { "" },
            parent.table,
            b.on_delete.sql()
        ));
    }
    write!(out, "\nCREATE TABLE {} (\n", r.table).ok();
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        // A trailing comment goes after the comma.
        let (sql, comment) = match line.split_once(" -- ") {
            Some((sql, c)) => (sql.to_string(), format!(" -- {c}")),
            None => (line, String::new()),
        };
        let comma = if i + 1 < n { "," } else { "" };
        writeln!(out, "    {sql}{comma}{comment}").ok();
    }
    out.push_str(");\n");
    for b in &r.belongs_to {
        writeln!(
            out,
            "CREATE INDEX {t}_{c}_idx ON {t} ({c});",
            t = r.table,
            c = b.column
        )
        .ok();
    }
}

/// A field's PostgreSQL column type.
pub(super) fn postgres_type(f: &Field) -> String {
    match &f.ty {
        FieldType::String { max_length, .. } => format!("VARCHAR({max_length})"),
        FieldType::Text { .. } => "TEXT".into(),
        FieldType::Integer { .. } => "INTEGER".into(),
        FieldType::BigInt { .. } => "BIGINT".into(),
        FieldType::Boolean => "BOOLEAN".into(),
        FieldType::Decimal {
            precision, scale, ..
        } => format!("NUMERIC({precision}, {scale})"),
        FieldType::Float { .. } => "DOUBLE PRECISION".into(),
        FieldType::Timestamp => "TIMESTAMPTZ".into(),
        FieldType::Date => "DATE".into(),
        FieldType::Uuid => "UUID".into(),
        FieldType::Enum { .. } => "TEXT".into(),
    }
}

/// `s` as an SQL string literal (both engines): quoted, its quotes doubled.
pub(super) fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An enum field's PostgreSQL `CHECK (…)`; `None` for other types.
pub(super) fn postgres_check(f: &Field) -> Option<String> {
    let FieldType::Enum { values } = &f.ty else {
        return None;
    };
    let list: Vec<String> = values.iter().map(|v| sql_string(v)).collect();
    Some(format!("CHECK ({} IN ({}))", f.column, list.join(", ")))
}

fn postgres_column(f: &Field) -> String {
    let mut s = format!("{} {}", f.column, postgres_type(f));
    if f.required {
        s.push_str(" NOT NULL");
    }
    if let Some(check) = postgres_check(f) {
        write!(s, " {check}").ok();
    }
    s
}

pub(super) fn postgres_migration(model: &Model) -> String {
    let mut out = String::from("-- PostgreSQL schema.\n");
    for r in &model.resources {
        postgres_create_table(r, &mut out);
    }
    // Foreign keys once every table exists, so their order does not matter.
    for r in &model.resources {
        postgres_foreign_keys(model, r, &mut out);
    }
    out
}

/// `CREATE TABLE` of one resource (its foreign keys apart), after a blank line.
pub(super) fn postgres_create_table(r: &Resource, out: &mut String) {
    let mut lines = vec!["id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY".to_string()];
    for f in &r.fields {
        lines.push(postgres_column(f));
    }
    for b in &r.belongs_to {
        lines.push(format!(
            "{} BIGINT{}",
            b.column,
            if b.required { " NOT NULL" } else { "" }
        ));
    }
    for f in r.fields.iter().filter(|f| f.unique) {
        // The name the service reads to say which field a 409 is about.
        lines.push(format!(
            "CONSTRAINT {t}_{c}_key UNIQUE ({c})",
            t = r.table,
            c = f.column
        ));
    }
    write!(
        out,
        "\nCREATE TABLE {} (\n    {}\n);\n",
        r.table,
        lines.join(",\n    ")
    )
    .ok();
}

/// The foreign-key constraints and indexes of one resource.
pub(super) fn postgres_foreign_keys(model: &Model, r: &Resource, out: &mut String) {
    for b in &r.belongs_to {
        let parent = model.resource(&b.target);
        write!(
            out,
            "\nALTER TABLE {t} ADD CONSTRAINT {t}_{c}_fkey\n    \
             FOREIGN KEY ({c}) REFERENCES {p} (id) ON DELETE {d};\n\
             CREATE INDEX {t}_{c}_idx ON {t} ({c});\n",
            t = r.table,
            c = b.column,
            p = parent.table,
            d = b.on_delete.sql()
        )
        .ok();
    }
}
