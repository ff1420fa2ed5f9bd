//! Table versions: a counter per table that every committed write raises, in the
//! write's own transaction, so the response cache can tell cheaply whether anything it
//! read has changed since.
//!
//! At start (after the migrations) [`install`] creates `shopgen_table_versions` and a
//! trigger on every table of the schema:
//!
//! - PostgreSQL: one `FOR EACH STATEMENT` trigger per table, `AFTER INSERT OR UPDATE OR
//!   DELETE OR TRUNCATE`, adding 1 to one of [`PG_SHARDS`] rows of that table (chosen by
//!   the server process id, so concurrent writers to one table rarely wait for each
//!   other's commit on the same row). Cascaded deletes run as statements on the child
//!   table and fire its trigger too.
//! - SQLite: `AFTER INSERT`, `AFTER UPDATE` and `AFTER DELETE` row triggers per table
//!   (SQLite has no statement triggers), one row per table: SQLite commits one writer
//!   at a time anyway.
//!
//! Writes by anything else (another replica, `psql`, a later migration) fire the same
//! triggers. A table's version is the sum of its rows; it only grows, by at least one
//! per committed write. [`read`] returns every table's version in one statement.
//!
//! Why this is enough for "a read that starts after a write was acknowledged sees
//! it": the trigger's update commits atomically with the write, so once a write is
//! acknowledged, every later statement in any session sees the higher version. The
//! cache reads the versions *before* it runs the handler's queries, so a cached body
//! contains at least every write counted in the versions stored with it; it is served
//! only while those versions are still current, i.e. no write to any table it read has
//! committed since.
//!
//! [`install`] also raises every version once: an entry cached before the triggers
//! existed (or while a migration had replaced a table and its triggers) is never
//! served again.

use super::{Db, Pool};
use sqlx::{AssertSqlSafe, Executor as _};

/// The table holding the versions.
pub const TABLE: &str = "shopgen_table_versions";

/// The tables without a version: the migrations' bookkeeping, the versions' own and
/// the idempotency keys' (`crate::idempotency::TABLE`), which no read depends on.
pub const NOT_VERSIONED: [&str; 3] = ["_sqlx_migrations", TABLE, "shopgen_idempotency_keys"];

/// Rows per table on PostgreSQL (see the module documentation).
pub const PG_SHARDS: i32 = 16;

/// Serialises [`install`] across replicas starting at once (`pg_advisory_xact_lock`).
const INSTALL_LOCK: i64 = 0x73686f7067656e; // "shopgen"

/// Every table's version at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions(Vec<(String, i64)>);

impl Versions {
    pub(crate) fn from_pairs(pairs: Vec<(String, i64)>) -> Self {
        Versions(pairs)
    }

    /// The version of `table`; `None` for a table without a trigger.
    pub fn get(&self, table: &str) -> Option<i64> {
        self.0.iter().find(|(t, _)| t == table).map(|(_, v)| *v)
    }
}

const READ: &str =
    "SELECT name, CAST(sum(version) AS BIGINT) FROM shopgen_table_versions GROUP BY name";

/// The current version of every table, in one statement.
///
/// On SQLite with its reader connections the check is cheaper still when nothing was
/// written: the versions connection asks `PRAGMA data_version` first, which changes
/// whenever any other connection, in this process or another, has committed since
/// the connection last asked. Unchanged, the versions read after the previous check
/// are still the current ones (they were read after that check, and nothing has
/// committed since); changed, the versions are read again. Either way this counts as
/// one statement in [`crate::db::queries_executed`].
pub async fn read(db: &Db) -> Result<std::sync::Arc<Versions>, sqlx::Error> {
    super::count_query();
    let rows: Vec<(String, i64)> = match &db.0 {
        Pool::Sqlite(_, Some(reader), _) => return reader.versions(READ),
        Pool::Sqlite(pool, None, _) => {
            sqlx::query_as(READ)
                .fetch_all(&mut *super::budget::acquire(pool).await?)
                .await?
        }
        Pool::Postgres(pool, _) => {
            sqlx::query_as(READ)
                .fetch_all(&mut *super::budget::acquire(pool).await?)
                .await?
        }
    };
    Ok(std::sync::Arc::new(Versions(rows)))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Creates the versions table and the triggers of every table that lacks them, then
/// raises every version once.
pub async fn install(db: &Db) -> Result<(), sqlx::Error> {
    match &db.0 {
        Pool::Postgres(pool, _) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(INSTALL_LOCK)
                .execute(&mut *tx)
                .await?;
            tx.execute(
                "CREATE TABLE IF NOT EXISTS shopgen_table_versions (\
                 name TEXT NOT NULL, shard INTEGER NOT NULL, version BIGINT NOT NULL DEFAULT 0, \
                 PRIMARY KEY (name, shard))",
            )
            .await?;
            tx.execute(AssertSqlSafe(format!(
                "CREATE OR REPLACE FUNCTION shopgen_bump_table_version() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                 UPDATE shopgen_table_versions SET version = version + 1 \
                 WHERE name = TG_TABLE_NAME AND shard = pg_backend_pid() % {PG_SHARDS}; \
                 RETURN NULL; END $$"
            )))
            .await?;
            let mut tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
                 ORDER BY tablename",
            )
            .fetch_all(&mut *tx)
            .await?;
            tables.retain(|t| !NOT_VERSIONED.contains(&t.as_str()));
            let with_trigger: Vec<String> = sqlx::query_scalar(
                "SELECT c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 WHERE t.tgname = 'shopgen_table_version' \
                 AND c.relnamespace = current_schema()::regnamespace",
            )
            .fetch_all(&mut *tx)
            .await?;
            for table in &tables {
                if !with_trigger.contains(table) {
                    tx.execute(AssertSqlSafe(format!(
                        "CREATE TRIGGER shopgen_table_version \
                         AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} \
                         FOR EACH STATEMENT EXECUTE FUNCTION shopgen_bump_table_version()",
                        quoted(table)
                    )))
                    .await?;
                }
            }
            sqlx::query(
                "INSERT INTO shopgen_table_versions (name, shard) \
                 SELECT t, s FROM unnest($1::text[]) AS t, generate_series(0, $2 - 1) AS s \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&tables)
            .bind(PG_SHARDS)
            .execute(&mut *tx)
            .await?;
            tx.execute("UPDATE shopgen_table_versions SET version = version + 1 WHERE shard = 0")
                .await?;
            tx.commit().await
        }
        Pool::Sqlite(pool, ..) => {
            let mut tx = pool.begin().await?;
            tx.execute(
                "CREATE TABLE IF NOT EXISTS shopgen_table_versions (\
                 name TEXT NOT NULL, shard INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0, \
                 PRIMARY KEY (name, shard))",
            )
            .await?;
            let mut tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_schema WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(&mut *tx)
            .await?;
            tables.retain(|t| !NOT_VERSIONED.contains(&t.as_str()));
            for table in &tables {
                sqlx::query(
                    "INSERT OR IGNORE INTO shopgen_table_versions (name, shard) VALUES ($1, 0)",
                )
                .bind(table)
                .execute(&mut *tx)
                .await?;
                for event in ["insert", "update", "delete"] {
                    let trigger = quoted(&format!("shopgen_version_{table}_{event}"));
                    tx.execute(AssertSqlSafe(format!(
                        "CREATE TRIGGER IF NOT EXISTS {trigger} AFTER {} ON {} BEGIN \
                         UPDATE shopgen_table_versions SET version = version + 1 \
                         WHERE name = {} AND shard = 0; END",
                        event.to_uppercase(),
                        quoted(table),
                        literal(table)
                    )))
                    .await?;
                }
            }
            tx.execute("UPDATE shopgen_table_versions SET version = version + 1")
                .await?;
            tx.commit().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_names_and_literals() {
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn a_table_without_a_version_has_none() {
        let v = Versions(vec![("products".into(), 3)]);
        assert_eq!(v.get("products"), Some(3));
        assert_eq!(v.get("reviews"), None);
    }
}
