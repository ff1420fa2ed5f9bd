//! Emit: the backend's migration history, and emission as a function of the model
//! and that history.
//!
//! Stage: `emit`. A [`History`] is plain data that the CLI reads from the output
//! folder beforehand ([`History::read`] in `crate::output`): the migration files that
//! carry shopgen's header and the schema snapshot `backend/migrations/schema.toml`.
//! [`emit_all_with_history`] keeps every earlier migration byte for byte (a database
//! has applied it and checks its checksum) and, when the spec's schema differs from
//! the snapshot, adds the next migration for both engines.

use std::collections::BTreeMap;

use super::backend::schema::{self, Schema};
use super::backend::{MigrationSet, migration_file};
use super::{GeneratedFile, parse_header};
use crate::diagnostics::Diagnostic;
use crate::model::Model;

pub use super::backend::{ENGINES, SNAPSHOT_PATH};

/// What an earlier build left in the output folder, read before emitting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The contents of `backend/migrations/schema.toml`, when it carries the header.
    pub snapshot: Option<String>,
    /// Migration files with shopgen's header: path relative to the output folder, and
    /// contents.
    pub migrations: Vec<GeneratedFile>,
}

impl History {
    /// The history a build leaves in its output folder, taken from the files it
    /// generated: the schema snapshot and the migration files.
    pub fn of_build(files: &[GeneratedFile]) -> History {
        History {
            snapshot: files
                .iter()
                .find(|f| f.path == SNAPSHOT_PATH)
                .map(|f| f.contents.clone()),
            migrations: files
                .iter()
                .filter(|f| parse_migration_path(&f.path).is_some())
                .cloned()
                .collect(),
        }
    }
}

/// Why the migrations cannot be emitted; nothing is written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MigrationError {
    /// The spec changes the schema in a way shopgen does not migrate by itself: one
    /// diagnostic (E03xx) per refused change, located in the spec; render them with
    /// [`crate::diagnostics::render`] against the spec's source.
    #[error(
        "the spec changes the database schema in a way shopgen cannot migrate automatically: {}",
        .0.iter().map(|d| format!("[{}] {}", d.code, d.message)).collect::<Vec<_>>().join("; ")
    )]
    Unsupported(Vec<Diagnostic>),
    /// The files in `backend/migrations/` do not form a history shopgen wrote.
    #[error("backend/migrations/ is not a migration history shopgen wrote: {0}")]
    History(String),
}

/// Every generated file, given the migrations an earlier build wrote.
pub fn emit_all_with_history(
    model: &Model,
    history: &History,
) -> Result<Vec<GeneratedFile>, MigrationError> {
    let (set, kept) = plan(model, history)?;
    Ok(super::emit_files(model, &set, kept))
}

/// Which migrations `main.rs` lists, which are new, and which earlier files are kept.
fn plan(
    model: &Model,
    history: &History,
) -> Result<(MigrationSet, Vec<GeneratedFile>), MigrationError> {
    let bad = |m: String| MigrationError::History(m);
    // No snapshot (a first build, or output from before snapshots): start at 0001.
    let (Some(snapshot), false) = (&history.snapshot, history.migrations.is_empty()) else {
        return Ok((MigrationSet::fresh(model), Vec::new()));
    };
    let body = parse_header(snapshot)
        .map(|(_, body)| body)
        .ok_or_else(|| bad(format!("{SNAPSHOT_PATH} has no shopgen header")))?;
    let old = Schema::from_toml(body).map_err(|e| bad(format!("{SNAPSHOT_PATH}: {e}")))?;

    // Each engine's migrations by version; both engines must list the same ones.
    let mut by_engine: BTreeMap<&str, BTreeMap<i64, String>> = BTreeMap::new();
    for f in &history.migrations {
        let (engine, version, slug) = parse_migration_path(&f.path)
            .ok_or_else(|| bad(format!("unexpected migration file {}", f.path)))?;
        by_engine
            .entry(engine)
            .or_default()
            .insert(version, slug.to_string());
    }
    let list: Vec<(i64, String)> = by_engine
        .get(ENGINES[0])
        .map(|m| m.iter().map(|(v, s)| (*v, s.clone())).collect())
        .unwrap_or_default();
    for engine in ENGINES {
        let theirs: Vec<(i64, String)> = by_engine
            .get(engine)
            .map(|m| m.iter().map(|(v, s)| (*v, s.clone())).collect())
            .unwrap_or_default();
        if theirs != list {
            return Err(bad(format!(
                "the sqlite and postgres folders hold different migrations ({} and {})",
                list.len(),
                theirs.len()
            )));
        }
    }
    if list
        .iter()
        .enumerate()
        .any(|(i, (v, _))| *v != i as i64 + 1)
    {
        return Err(bad(
            "the migration versions are not 1, 2, 3, … without gaps".into(),
        ));
    }

    let mut kept = history.migrations.clone();
    kept.sort_by(|a, b| a.path.cmp(&b.path));
    let mut set = MigrationSet {
        list,
        files: Vec::new(),
    };
    let new = Schema::from_model(model);
    if new != old {
        let next = schema::migration(model, &old, &new).map_err(MigrationError::Unsupported)?;
        let version = set.list.len() as i64 + 1;
        set.files = vec![
            migration_file("sqlite", version, &next.slug, next.sqlite),
            migration_file("postgres", version, &next.slug, next.postgres),
        ];
        set.list.push((version, next.slug));
    }
    Ok((set, kept))
}

/// `backend/migrations/sqlite/0002_add_products_color.sql` → (`sqlite`, 2,
/// `add_products_color`).
pub fn parse_migration_path(path: &str) -> Option<(&'static str, i64, &str)> {
    let rest = path.strip_prefix("backend/migrations/")?;
    let (engine, file) = rest.split_once('/')?;
    let engine = ENGINES.into_iter().find(|e| *e == engine)?;
    let (version, slug) = file.strip_suffix(".sql")?.split_once('_')?;
    if version.len() != 4 || !version.chars().all(|c| c.is_ascii_digit()) || slug.is_empty() {
        return None;
    }
    let slug_ok = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    slug_ok.then_some((engine, version.parse().ok()?, slug))
}

#[cfg(test)]
mod tests {
    use super::parse_migration_path;

    #[test]
    fn migration_paths() {
        assert_eq!(
            parse_migration_path("backend/migrations/sqlite/0001_create_tables.sql"),
            Some(("sqlite", 1, "create_tables"))
        );
        for bad in [
            "backend/migrations/mysql/0001_x.sql",
            "backend/migrations/sqlite/1_x.sql",
            "backend/migrations/sqlite/0001_.sql",
            "backend/migrations/sqlite/0001_x.txt",
            "backend/migrations/sqlite/0001_a/b.sql",
        ] {
            assert_eq!(parse_migration_path(bad), None, "{bad}");
        }
    }
}
