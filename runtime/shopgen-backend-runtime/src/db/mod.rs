//! The database: one pool over SQLite or PostgreSQL, chosen by `DATABASE_URL`.
//!
//! Generated code writes one SQL text per query, with `$1`-style placeholders that
//! both engines read, and binds engine-neutral [`Value`]s; rows come back as [`Row`]
//! and are read by column index. Engine code lives in this module and its submodules:
//! [`Db`] is opaque, so no other module matches on the engine (they ask
//! [`Db::engine`]). The one exception is reading a column, which [`Row`] (the leaf
//! module `crate::row`) does for each engine's row type. What differs by engine:
//!
//! - decimals are `NUMERIC(p, s)` in PostgreSQL; in SQLite (which has no exact decimal
//!   type) they are scaled integers (`83.84` in a `DECIMAL(10, 2)` is stored as `8384`),
//!   which keeps them exact *and* sortable; precisions above 18 fall back to text;
//! - timestamps are `TIMESTAMPTZ` / fixed-width UTC text, dates `DATE` / text, UUIDs
//!   `UUID` / hyphenated text, booleans `BOOLEAN` / 0-1 integers;
//! - `WHERE fk IN (…)` for loading embedded relations ([`Db::fetch_children`]);
//! - SQLite `SELECT`s run on reader connections of their own, decoded in place
//!   (`sqlite_read`), instead of through sqlx's worker thread and per-row channel;
//!   writes, migrations and `ping` go through the sqlx pool;
//! - transactions ([`tx`]: `BEGIN IMMEDIATE` on SQLite) and the triggers that count
//!   each table's writes for the response cache ([`versions`]);
//! - writes that arrive together are written together: on a SQLite file in one
//!   transaction (`group`), on PostgreSQL the creates in one statement (`pg_group`).
//!
//! SQLite runs in WAL mode with `synchronous = FULL` by default: a write is on disk
//! before it is acknowledged, so it survives a crash of the process *and* of the
//! machine. `SQLITE_SYNCHRONOUS=normal` trades the latter for write throughput (a WAL
//! commit then survives a killed process, not a power loss).
//!
//! Every statement increments a counter ([`queries_executed`], and
//! `shopgen_db_queries_total` on `/metrics`), which the tests use to prove that a list
//! with embedded relations costs a constant number of queries.

pub mod budget;
mod group;
mod pg_group;
mod sqlite_read;
pub mod tx;
pub mod versions;

use crate::migration::Migrations;
pub use crate::row::{Column, FromRow, Row};
use crate::types::{Decimal, Uuid};
use crate::value::SQLITE_INTEGER_DECIMAL_PRECISION;
pub use crate::value::{Sql, SqlType, Value};
pub(crate) use pg_group::Shape as InsertShape;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlite_read::Reader;

static QUERIES: AtomicU64 = AtomicU64::new(0);

/// How many statements this process has sent to the database.
pub fn queries_executed() -> u64 {
    QUERIES.load(Ordering::Relaxed)
}

/// A pooled PostgreSQL connection idle this long is checked with a round trip before
/// it is used again.
const PG_CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Whether the server has installed its metrics recorder ([`metrics_recorder_installed`]).
static RECORDER: AtomicBool = AtomicBool::new(false);

/// The handle of `shopgen_db_queries_total` in the installed recorder, looked up at
/// the first statement after the recorder was installed: no registry lookup per
/// statement.
static QUERIES_METRIC: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();

/// Tells the statement counter that the server's metrics recorder is installed.
pub(crate) fn metrics_recorder_installed() {
    RECORDER.store(true, Ordering::SeqCst);
}

pub(crate) fn count_query() {
    QUERIES.fetch_add(1, Ordering::Relaxed);
    if RECORDER.load(Ordering::Relaxed) {
        QUERIES_METRIC
            .get_or_init(|| metrics::counter!("shopgen_db_queries_total"))
            .increment(1);
    } else {
        metrics::counter!("shopgen_db_queries_total").increment(1);
    }
}

/// Process-wide SQLite settings, applied once before the library's first use.
///
/// Memory statistics off (`SQLITE_CONFIG_MEMSTATUS`): with them on (SQLite's default)
/// every `sqlite3_malloc` and `sqlite3_free` takes one global mutex, and sqlx copies each
/// column of each row with `sqlite3_value_dup` on its per-connection worker threads and
/// frees it on the async threads. A `GET /products` of 100 products and 500 reviews is
/// ~2,900 such allocations, and under load those threads spent most of their time
/// waiting for each other on that mutex (futex wait/wake in the profile). Nothing here
/// reads SQLite's memory statistics.
fn configure_sqlite_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` may only be called while the library is not
        // initialised; before that it changes a global that nothing reads concurrently,
        // and afterwards it is refused with SQLITE_MISUSE (ignored: the setting is only
        // a speed-up). `Once` keeps this the only call from this crate.
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

/// Which database a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A connection pool to either engine. Cheap to clone.
///
/// Opaque: which engine it talks to is matched only in this module and its
/// submodules; everyone else asks [`Db::engine`].
#[derive(Debug, Clone)]
pub struct Db(Pool);

/// The pool behind a [`Db`]. SQLite files also get `Reader` connections, which run
/// the `SELECT`s (see `sqlite_read`), and a `Writer`, which commits the pool's row
/// writes in groups (see `group`); in-memory databases (one per connection) read and
/// write through the pool.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool, Option<Arc<Reader>>, Option<Arc<group::Writer>>),
    Postgres(PgPool, Arc<pg_group::Inserter>),
}

/// How SQLite syncs commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    /// fsync on every commit: acknowledged writes survive power loss.
    Full,
    /// fsync at checkpoints: acknowledged writes survive a killed process.
    Normal,
}

/// What [`Db::connect`] needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `sqlite://path/to/file.db`, `sqlite::memory:` or `postgres://user@host:port/db`.
    pub url: String,
    pub max_connections: u32,
    /// How long a wait for a connection may take outside a request (inside one, the
    /// request's own budget applies: [`budget`]).
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` and SQLite's busy timeout, so the database
    /// gives up work that no request waits for any more: the server gives what is left
    /// of the request timeout after the acquire budget ([`budget::Gate::on_time`]).
    pub statement_timeout: Duration,
    pub sqlite_sync: SqliteSync,
}

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL must start with `sqlite:` or `postgres://` (got `{0}`)")]
    UnknownScheme(String),
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot set up the table versions: {0}")]
    Versions(sqlx::Error),
    #[error("cannot set up the idempotency keys: {0}")]
    IdempotencyKeys(sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Rows a SQLite connection's worker thread may hand over before the request reads
/// them. sqlx's default (50) made the worker block on a full channel several times per
/// `GET /products` (600 rows) and wait to be woken by the async side, a pair of context
/// switches each time. Every caller here collects all rows anyway (lists are bounded by
/// their `limit`), so a larger buffer costs no memory that the result does not.
const SQLITE_ROW_BUFFER: usize = 4096;

type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments>;
type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

pub(crate) fn bind_sqlite<'q>(q: SqliteQuery<'q>, value: &Value) -> SqliteQuery<'q> {
    match value {
        Value::Null(_) => q.bind(None::<i64>),
        Value::Bool(b) => q.bind(*b),
        Value::Int(i) => q.bind(*i),
        Value::Float(f) => q.bind(*f),
        Value::Text(s) => q.bind(s.clone()),
        Value::Decimal { value, precision } => {
            if *precision <= SQLITE_INTEGER_DECIMAL_PRECISION {
                q.bind(i64::try_from(value.mantissa()).unwrap_or(i64::MAX))
            } else {
                q.bind(value.to_string())
            }
        }
        Value::Timestamp(t) => q.bind(t.to_text()),
        Value::Date(d) => q.bind(d.to_text()),
        Value::Uuid(u) => q.bind(u.hyphenated().to_string()),
    }
}

pub(crate) fn bind_pg<'q>(q: PgQuery<'q>, value: &Value) -> PgQuery<'q> {
    match value {
        Value::Null(ty) => match ty {
            SqlType::Bool => q.bind(None::<bool>),
            SqlType::Int => q.bind(None::<i64>),
            SqlType::Float => q.bind(None::<f64>),
            SqlType::Text => q.bind(None::<String>),
            SqlType::Decimal { .. } => q.bind(None::<Decimal>),
            SqlType::Timestamp => q.bind(None::<time::OffsetDateTime>),
            SqlType::Date => q.bind(None::<time::Date>),
            SqlType::Uuid => q.bind(None::<Uuid>),
        },
        Value::Bool(b) => q.bind(*b),
        Value::Int(i) => q.bind(*i),
        Value::Float(f) => q.bind(*f),
        Value::Text(s) => q.bind(s.clone()),
        Value::Decimal { value, .. } => q.bind(*value),
        Value::Timestamp(t) => q.bind(t.0),
        Value::Date(d) => q.bind(d.0),
        Value::Uuid(u) => q.bind(*u),
    }
}

/// Runs a write on PostgreSQL: its first row (when `returning`, as `T`) or the rows it
/// changed.
async fn pg_write<'c, T: FromRow>(
    conn: impl sqlx::PgExecutor<'c>,
    q: PgQuery<'_>,
    returning: bool,
) -> Result<(Option<T>, u64), sqlx::Error> {
    if returning {
        let row = q.fetch_optional(conn).await?;
        Ok((row.map(|r| T::from_row(&Row::Postgres(r))).transpose()?, 0))
    } else {
        Ok((None, q.execute(conn).await?.rows_affected()))
    }
}

impl Db {
    /// Opens a pool; SQLite files are created on first start.
    pub async fn connect(options: &ConnectOptions) -> Result<Db, ConnectError> {
        let url = options.url.as_str();
        if url.starts_with("sqlite:") {
            configure_sqlite_library();
            let busy_timeout = options.statement_timeout;
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match options.sqlite_sync {
                    SqliteSync::Full => SqliteSynchronous::Full,
                    SqliteSync::Normal => SqliteSynchronous::Normal,
                })
                .foreign_keys(true)
                .busy_timeout(busy_timeout)
                .row_buffer_size(SQLITE_ROW_BUFFER);
            // `sqlite://.shopgen/shop.db` works on a fresh checkout: the file is created
            // on first start, and so is the folder it lives in.
            if let Some(dir) = connect.get_filename().parent()
                && !dir.as_os_str().is_empty()
                && !dir.exists()
            {
                std::fs::create_dir_all(dir).map_err(|source| ConnectError::Folder {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let reader = (!in_memory).then(|| {
                Arc::new(Reader::new(
                    connect.get_filename().to_path_buf(),
                    options.max_connections,
                    options.acquire_timeout,
                    busy_timeout,
                ))
            });
            let writer = if in_memory {
                None
            } else {
                let settings = group::Settings {
                    path: connect.get_filename().to_path_buf(),
                    sync: options.sqlite_sync,
                    busy_timeout,
                };
                let writer = group::Writer::start(settings)
                    .map_err(|e| ConnectError::Open(sqlx::Error::Io(e)))?;
                Some(Arc::new(writer))
            };
            Ok(Db(Pool::Sqlite(pool, reader, writer)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)?.options([(
                "statement_timeout",
                options.statement_timeout.as_millis().to_string(),
            )]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                // sqlx would check every idle connection it hands out with a round trip
                // of its own (on top of the one it makes when the connection comes
                // back), doubling the round trips of every statement, the response
                // cache's version read included. Only a connection idle for a while
                // (the database may have restarted meanwhile) is checked; one that
                // fails is replaced, as before.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PG_CHECK_IDLE_AFTER {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(connect)
                .await?;
            let inserter = Arc::new(pg_group::Inserter::start(
                pool.clone(),
                options.statement_timeout,
            ));
            Ok(Db(Pool::Postgres(pool, inserter)))
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_string();
            Err(ConnectError::UnknownScheme(scheme))
        }
    }

    pub fn engine(&self) -> Engine {
        match &self.0 {
            Pool::Sqlite(..) => Engine::Sqlite,
            Pool::Postgres(..) => Engine::Postgres,
        }
    }

    /// The SQLite reader, when `sql` is a `SELECT` and this database has one.
    fn reader_for(&self, sql: &str) -> Option<&Arc<Reader>> {
        match &self.0 {
            Pool::Sqlite(_, Some(reader), _) if sql.starts_with("SELECT ") => Some(reader),
            _ => None,
        }
    }

    /// Every row the query returns.
    pub async fn fetch_all<T: FromRow + Send + 'static>(
        &self,
        sql: impl Into<Sql>,
        args: &[Value],
    ) -> Result<Vec<T>, sqlx::Error> {
        count_query();
        let sql = sql.into();
        crate::reads::record(&sql);
        if let Some(reader) = self.reader_for(&sql) {
            return reader.fetch(sql, args, None).await;
        }
        let sql = AssertSqlSafe(sql);
        match &self.0 {
            Pool::Sqlite(pool, ..) => {
                let q = args.iter().fold(sqlx::query(sql), bind_sqlite);
                let rows = q.fetch_all(&mut *budget::acquire(pool).await?).await?;
                rows.into_iter()
                    .map(|r| T::from_row(&Row::Sqlite(r)))
                    .collect()
            }
            Pool::Postgres(pool, _) => {
                let q = args.iter().fold(sqlx::query(sql), bind_pg);
                let rows = q.fetch_all(&mut *budget::acquire(pool).await?).await?;
                rows.into_iter()
                    .map(|r| T::from_row(&Row::Postgres(r)))
                    .collect()
            }
        }
    }

    /// The first row, if any.
    pub async fn fetch_optional<T: FromRow + Send + 'static>(
        &self,
        sql: impl Into<Sql>,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        count_query();
        let sql = sql.into();
        crate::reads::record(&sql);
        if let Some(reader) = self.reader_for(&sql) {
            return Ok(reader.fetch(sql, args, Some(1)).await?.pop());
        }
        let sql = AssertSqlSafe(sql);
        match &self.0 {
            Pool::Sqlite(pool, ..) => {
                let q = args.iter().fold(sqlx::query(sql), bind_sqlite);
                q.fetch_optional(&mut *budget::acquire(pool).await?)
                    .await?
                    .map(|r| T::from_row(&Row::Sqlite(r)))
                    .transpose()
            }
            Pool::Postgres(pool, _) => {
                let q = args.iter().fold(sqlx::query(sql), bind_pg);
                q.fetch_optional(&mut *budget::acquire(pool).await?)
                    .await?
                    .map(|r| T::from_row(&Row::Postgres(r)))
                    .transpose()
            }
        }
    }

    /// Runs a statement; returns the number of rows it touched. It may write, so it
    /// commits as the generated routes' writes on the pool do: through the request's
    /// gate ([`budget::Gate`]), and on a SQLite file with the writes waiting at the
    /// same moment.
    pub async fn execute(&self, sql: impl Into<Sql>, args: &[Value]) -> Result<u64, sqlx::Error> {
        self.write_execute(sql.into(), args).await
    }

    /// A row write (`INSERT`, `UPDATE`, `DELETE`, maybe `RETURNING`): its first
    /// returned row, if any. On a SQLite file it is committed with the writes waiting
    /// at the same moment (`group`); elsewhere it runs on the pool, committed through
    /// its request's gate ([`Db::gated_write`]).
    pub(crate) async fn write_fetch<T: FromRow + Send + 'static>(
        &self,
        sql: Sql,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        match &self.0 {
            Pool::Sqlite(_, _, Some(writer)) => {
                count_query();
                crate::reads::record_unknown();
                Ok(writer.write::<T>(sql, args).await?.0.into_iter().next())
            }
            _ => Ok(self.gated_write::<T>(sql, args, true).await?.0),
        }
    }

    /// A single-row `INSERT … RETURNING` on the pool: its row. On PostgreSQL it is
    /// written with the inserts of the same `shape` waiting at the same moment, by one
    /// statement (`pg_group`); elsewhere it is [`Db::write_fetch`].
    pub(crate) async fn insert_fetch<T: FromRow + Send + 'static>(
        &self,
        shape: InsertShape,
        sql: Sql,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        match &self.0 {
            Pool::Postgres(_, inserter) if shape.groups() => {
                count_query();
                crate::reads::record_unknown();
                inserter
                    .insert(shape, sql, args)
                    .await?
                    .map(|row| T::from_row(&Row::Postgres(row)))
                    .transpose()
            }
            _ => self.write_fetch(sql, args).await,
        }
    }

    /// A row write without `RETURNING`: the number of rows it changed. Committed as
    /// [`Db::write_fetch`]'s writes are.
    pub(crate) async fn write_execute(&self, sql: Sql, args: &[Value]) -> Result<u64, sqlx::Error> {
        match &self.0 {
            Pool::Sqlite(_, _, Some(writer)) => {
                count_query();
                crate::reads::record_unknown();
                Ok(writer.write::<i64>(sql, args).await?.1)
            }
            _ => Ok(self.gated_write::<i64>(sql, args, false).await?.1),
        }
    }

    /// A write on a pooled connection: its first row (when `returning`) and the rows it
    /// changed. In a request it commits only through the request's gate
    /// ([`budget::Gate`]), so a request answered 503 at its timeout never has its write
    /// committed afterwards. On PostgreSQL a write that is on time (its statement
    /// timeout ends before the request's) passes the gate and is sent as its own
    /// commit, one round trip; one that is not (the request spent its time elsewhere
    /// first) runs in a transaction whose `COMMIT` is sent only while the request may
    /// still answer. In-memory SQLite (nothing waits on a disk or another process)
    /// passes the gate before its statement.
    async fn gated_write<T: FromRow + Send + 'static>(
        &self,
        sql: Sql,
        args: &[Value],
        returning: bool,
    ) -> Result<(Option<T>, u64), sqlx::Error> {
        count_query();
        crate::reads::record_unknown();
        let sql = AssertSqlSafe(sql);
        let gate = budget::gate();
        match &self.0 {
            Pool::Sqlite(pool, ..) => {
                let q = args.iter().fold(sqlx::query(sql), bind_sqlite);
                let mut conn = budget::acquire(pool).await?;
                let committing = budget::pass(gate.as_ref())?;
                let outcome = if returning {
                    q.fetch_optional(&mut *conn).await.and_then(|row| {
                        let row = row.map(|r| T::from_row(&Row::Sqlite(r))).transpose()?;
                        Ok((row, 0))
                    })
                } else {
                    q.execute(&mut *conn)
                        .await
                        .map(|r| (None, r.rows_affected()))
                };
                budget::settled(committing, outcome)
            }
            Pool::Postgres(pool, inserter) => {
                let q = args.iter().fold(sqlx::query(sql), bind_pg);
                let mut conn = budget::acquire(pool).await?;
                let on_time = gate
                    .as_ref()
                    .is_none_or(|g| g.on_time(inserter.statement_timeout()));
                if on_time {
                    let committing = budget::pass(gate.as_ref())?;
                    let outcome = pg_write::<T>(&mut *conn, q, returning).await;
                    return budget::settled(committing, outcome);
                }
                // Late: a transaction that rolls back unless the gate lets it commit.
                // A request answered 503 meanwhile drops it, at any point (sqlx ≥ 0.9.1
                // rolls back a transaction dropped during its `BEGIN` too,
                // transact-rs/sqlx#4393).
                let mut tx = Transaction::begin(conn, None).await?;
                let outcome = pg_write::<T>(&mut *tx, q, returning).await?;
                let committing = budget::pass(gate.as_ref())?;
                budget::settled(committing, tx.commit().await).map(|()| outcome)
            }
        }
    }

    /// The rows of `select` whose `foreign_key` is one of `parent_ids`, ordered by id:
    /// one query however many parents (none when `parent_ids` is empty).
    pub async fn fetch_children<T: FromRow + Send + 'static>(
        &self,
        select: &str,
        foreign_key: &str,
        parent_ids: &[i64],
    ) -> Result<Vec<T>, sqlx::Error> {
        if parent_ids.is_empty() {
            return Ok(Vec::new());
        }
        match &self.0 {
            Pool::Sqlite(..) => {
                let mut sql = format!("{select} WHERE {foreign_key} IN (");
                for i in 1..=parent_ids.len() {
                    if i > 1 {
                        sql.push_str(", ");
                    }
                    sql.push('$');
                    sql.push_str(&i.to_string());
                }
                sql.push_str(") ORDER BY id");
                let args: Vec<Value> = parent_ids.iter().map(|id| Value::Int(*id)).collect();
                self.fetch_all(sql, &args).await
            }
            Pool::Postgres(pool, _) => {
                count_query();
                let sql = format!("{select} WHERE {foreign_key} = ANY($1) ORDER BY id");
                crate::reads::record(&sql);
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(parent_ids.to_vec())
                    .fetch_all(&mut *budget::acquire(pool).await?)
                    .await?;
                rows.into_iter()
                    .map(|r| T::from_row(&Row::Postgres(r)))
                    .collect()
            }
        }
    }

    /// `SELECT 1`: is the database reachable?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.fetch_optional::<i64>("SELECT CAST(1 AS BIGINT)", &[])
            .await
            .map(|_| ())
    }

    /// Applies the migrations of this engine that are not applied yet.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), ConnectError> {
        let list = match &self.0 {
            Pool::Sqlite(..) => migrations.sqlite,
            Pool::Postgres(..) => migrations.postgres,
        };
        let migrator = sqlx::migrate::Migrator::with_migrations(
            list.iter()
                .map(|m| {
                    sqlx::migrate::Migration::new(
                        m.version,
                        Cow::Borrowed(m.description),
                        sqlx::migrate::MigrationType::Simple,
                        sqlx::SqlSafeStr::into_sql_str(m.sql),
                        false,
                    )
                })
                .collect(),
        );
        match &self.0 {
            Pool::Sqlite(pool, ..) => migrator.run(pool).await?,
            Pool::Postgres(pool, _) => migrator.run(pool).await?,
        }
        Ok(())
    }

    /// Waits for connections in use, then closes the pool (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.0 {
            Pool::Sqlite(pool, reader, writer) => {
                if let Some(writer) = writer {
                    writer.close().await;
                }
                if let Some(reader) = reader {
                    reader.close();
                }
                pool.close().await
            }
            Pool::Postgres(pool, inserter) => {
                inserter.close().await;
                pool.close().await
            }
        }
    }
}

#[cfg(test)]
impl Db {
    /// An in-memory SQLite pool that connects on first use, for unit tests that build
    /// a `Db` and never query it.
    pub(crate) fn unconnected_sqlite() -> Db {
        let pool = SqlitePoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .expect("lazy pool");
        Db(Pool::Sqlite(pool, None, None))
    }
}
