//! SQLite reads: `SELECT`s run on connections of their own, rows decoded where they
//! are stepped.
//!
//! Takes the SQL text and [`Value`]s of a `SELECT` and gives the generated row structs
//! ([`FromRow`]). sqlx's SQLite driver steps each statement on a worker thread and sends
//! every row to the request's task through a channel, copying every column with
//! `sqlite3_value_dup` first (one or two allocations per column, freed on another
//! thread). For `GET /products` (100 products, 500 reviews) that copying and handing
//! over was most of the request's cost. Here the whole query runs in one blocking task
//! (tokio's blocking pool): bind, step, read each column straight into the row struct,
//! and hand back the finished `Vec` once.
//!
//! Consistency is the same as through the pool: the connections are ordinary
//! read-write connections to the same WAL database with `query_only` on, every
//! statement runs in autocommit (its read transaction ends when it is reset, which
//! `rusqlite::Rows` does on drop), so a read that starts after a write was
//! acknowledged sees it. Writes, migrations and `ping` stay on the sqlx pool.

use super::versions::Versions;
use crate::row::{FromRow, Row};
use crate::value::{SQLITE_INTEGER_DECIMAL_PRECISION, Sql, Value};
use rusqlite::types::Value as SqliteValue;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections for reads, opened on first use and kept.
#[derive(Debug)]
pub struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Bounds the connections open (and the blocking threads busy) at once.
    permits: Semaphore,
    acquire_timeout: Duration,
    busy_timeout: Duration,
    /// The connection [`Reader::versions`] reads table versions on.
    versions: Mutex<Option<VersionsConnection>>,
}

/// The connection table versions are read on, with the versions it read last and the
/// `PRAGMA data_version` it saw just before reading them.
#[derive(Debug)]
struct VersionsConnection {
    conn: Connection,
    last: Option<(i64, Arc<Versions>)>,
}

/// How long [`Reader::versions`] waits for a lock before giving up (the caller then
/// answers without the cache). Readers of a WAL database do not wait for writers; this
/// only covers rare moments such as a WAL recovery.
const VERSIONS_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

/// Statements kept prepared per connection.
const STATEMENT_CACHE: usize = 64;

impl Reader {
    pub(crate) fn new(
        path: PathBuf,
        max_connections: u32,
        acquire_timeout: Duration,
        busy_timeout: Duration,
    ) -> Self {
        Reader {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_connections.max(1) as usize),
            acquire_timeout,
            busy_timeout,
            versions: Mutex::new(None),
        }
    }

    /// The table versions (`sql` gives `name`, `version` rows), read in place on the
    /// calling thread rather than on the blocking pool: it runs on every cached `GET`
    /// and takes microseconds, less than the hand-off to another thread would cost.
    /// `sql` runs only when `PRAGMA data_version` shows that another connection (of
    /// any process) has committed since the last read; otherwise the last versions are
    /// returned again (see [`crate::versions::read`]).
    pub(crate) fn versions(&self, sql: &str) -> Result<Arc<Versions>, sqlx::Error> {
        let mut slot = self.versions.lock().map_err(|_| sqlx::Error::PoolClosed)?;
        let mut state = match slot.take() {
            Some(state) => state,
            None => VersionsConnection {
                conn: self.open(VERSIONS_BUSY_TIMEOUT)?,
                last: None,
            },
        };
        let read = (|| {
            // Changes when any other connection has committed since this one last
            // asked (never for this connection's own writes: it makes none).
            let seen: i64 = state
                .conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get(0))?;
            if let Some((before, versions)) = &state.last
                && *before == seen
            {
                return Ok((seen, Arc::clone(versions)));
            }
            // Read after the pragma: these versions count at least every commit it saw.
            let mut statement = state.conn.prepare_cached(sql)?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let rows = rows.collect::<Result<Vec<(String, i64)>, _>>()?;
            Ok((seen, Arc::new(Versions::from_pairs(rows))))
        })();
        let result = match read {
            Ok((seen, versions)) => {
                state.last = Some((seen, Arc::clone(&versions)));
                Ok(versions)
            }
            Err(e) => {
                state.last = None;
                Err(db_error(e))
            }
        };
        *slot = Some(state);
        result
    }

    /// The rows of `sql` (at most `limit`), decoded as `T`.
    pub(crate) async fn fetch<T: FromRow + Send + 'static>(
        self: &Arc<Self>,
        sql: Sql,
        args: &[Value],
        limit: Option<usize>,
    ) -> Result<Vec<T>, sqlx::Error> {
        // Within the request's acquire budget (`budget`), or the pool's own timeout
        // outside a request.
        let permit = super::budget::within(tokio::time::timeout(
            self.acquire_timeout,
            self.permits.acquire(),
        ))
        .await
        .and_then(Result::ok)
        .ok_or(sqlx::Error::PoolTimedOut)?;
        let _permit = permit.map_err(|_| sqlx::Error::PoolClosed)?;
        let reader = Arc::clone(self);
        let args: Vec<SqliteValue> = args.iter().map(to_sqlite).collect();
        tokio::task::spawn_blocking(move || {
            let conn = match reader.take_idle() {
                Some(conn) => conn,
                None => reader.open(reader.busy_timeout)?,
            };
            let rows = run::<T>(&conn, &sql, &args, limit, db_error);
            if let Ok(mut idle) = reader.idle.lock() {
                idle.push(conn);
            }
            rows
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("SQLite read task failed: {e}")))?
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn open(&self, busy_timeout: Duration) -> Result<Connection, sqlx::Error> {
        let conn = open_direct(&self.path, busy_timeout).map_err(db_error)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(db_error)?;
        Ok(conn)
    }

    /// Closes the idle connections (the pool is closing).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        if let Ok(mut versions) = self.versions.lock() {
            versions.take();
        }
    }
}

/// A connection of its own to the database file, outside sqlx (the readers', and the
/// group writer's): its busy timeout and a cache of prepared statements.
pub(super) fn open_direct(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Runs `sql` to its end (or `limit` rows): the rows as `T`, SQLite's errors mapped
/// by `error` (the readers' [`db_error`], the group writer's own).
pub(super) fn run<T: FromRow>(
    conn: &Connection,
    sql: &str,
    args: &[SqliteValue],
    limit: Option<usize>,
    error: fn(rusqlite::Error) -> sqlx::Error,
) -> Result<Vec<T>, sqlx::Error> {
    let mut statement = conn.prepare_cached(sql).map_err(error)?;
    bind(&mut statement, sql, args, error)?;
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error)? {
        out.push(T::from_row(&Row::SqliteDirect(row))?);
        if limit == Some(out.len()) {
            break;
        }
    }
    Ok(out)
}

/// The same storage as the sqlx binding in `db.rs`: booleans as 0/1, decimals as
/// scaled integers (text above 18 digits), timestamps, dates and UUIDs as text.
pub(super) fn to_sqlite(value: &Value) -> SqliteValue {
    match value {
        Value::Null(_) => SqliteValue::Null,
        Value::Bool(b) => SqliteValue::Integer(i64::from(*b)),
        Value::Int(i) => SqliteValue::Integer(*i),
        Value::Float(f) => SqliteValue::Real(*f),
        Value::Text(s) => SqliteValue::Text(s.clone()),
        Value::Decimal { value, precision } => {
            if *precision <= SQLITE_INTEGER_DECIMAL_PRECISION {
                SqliteValue::Integer(i64::try_from(value.mantissa()).unwrap_or(i64::MAX))
            } else {
                SqliteValue::Text(value.to_string())
            }
        }
        Value::Timestamp(t) => SqliteValue::Text(t.to_text()),
        Value::Date(d) => SqliteValue::Text(d.to_text()),
        Value::Uuid(u) => SqliteValue::Text(u.hyphenated().to_string()),
    }
}

/// Busy, locked and I/O failures are "unavailable" (503), like the pool's; the rest
/// are internal errors.
/// Binds `args` to `statement`'s parameters. `$n` is a named parameter in SQLite, so
/// each is bound by its number, not by its position; `error` maps SQLite's refusals.
pub(super) fn bind(
    statement: &mut rusqlite::CachedStatement<'_>,
    sql: &str,
    args: &[SqliteValue],
    error: fn(rusqlite::Error) -> sqlx::Error,
) -> Result<(), sqlx::Error> {
    for i in 1..=statement.parameter_count() {
        let n = statement
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(i);
        let value = args.get(n.wrapping_sub(1)).ok_or_else(|| {
            sqlx::Error::Protocol(format!("no value bound to parameter ${n} of `{sql}`"))
        })?;
        statement.raw_bind_parameter(i, value).map_err(error)?;
    }
    Ok(())
}

pub(super) fn db_error(e: rusqlite::Error) -> sqlx::Error {
    use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked, SystemIoFailure};
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                DatabaseBusy | DatabaseLocked | SystemIoFailure | CannotOpen
            ) =>
        {
            sqlx::Error::Io(std::io::Error::other(e))
        }
        _ => sqlx::Error::Protocol(format!("SQLite: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(i64, String);

    impl FromRow for Pair {
        fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
            Ok(Pair(row.get(0)?, row.get(1)?))
        }
    }

    #[test]
    fn binds_dollar_parameters_by_number_not_position() {
        let conn = Connection::open_in_memory().expect("open");
        let args = [
            to_sqlite(&Value::Text("first".into())),
            to_sqlite(&Value::Int(2)),
        ];
        let rows: Vec<Pair> = run(&conn, "SELECT $2, $1", &args, None, db_error).expect("query");
        assert_eq!((rows[0].0, rows[0].1.as_str()), (2, "first"));
        let missing = run::<Pair>(&conn, "SELECT $3, $1", &args, None, db_error);
        assert!(missing.is_err());
    }

    #[test]
    fn stops_at_the_limit() {
        let conn = Connection::open_in_memory().expect("open");
        let sql = "SELECT value, 'x' FROM json_each('[1,2,3]')";
        let rows: Vec<Pair> = run(&conn, sql, &[], Some(1), db_error).expect("query");
        assert_eq!(rows.len(), 1);
        let rows: Vec<Pair> = run(&conn, sql, &[], None, db_error).expect("query");
        assert_eq!(rows.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
