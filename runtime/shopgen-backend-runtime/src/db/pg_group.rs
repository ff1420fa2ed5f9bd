//! PostgreSQL group inserts: the pool's row inserts that wait at the same moment,
//! written by one statement.
//!
//! Every PostgreSQL statement in autocommit is a transaction of its own: it is parsed
//! and planned (or looked up among the prepared ones), takes a snapshot, fires the
//! table-version trigger ([`super::versions`]), writes a commit record and waits for
//! its WAL to be flushed. Under a burst of creates that per-statement work, not the
//! rows, is what the server spends its time on (measured: `benches/backend/writes.sh`,
//! BENCHMARKS.md "Writes and mixed traffic against Rails"). Here a write hands its
//! insert over and waits; a task takes every insert waiting at that moment (at most
//! [`MAX_BATCH`]), and writes those of one table and one column list with one
//! statement:
//!
//! ```text
//! INSERT INTO reviews (product_id, name, message, rate)
//! SELECT v1, v2, v3, v4 FROM unnest($1, $2, $3, $4)
//!     WITH ORDINALITY AS shopgen_rows (v1, v2, v3, v4, n)
//! ORDER BY n
//! RETURNING id, name, message, rate, product_id
//! ```
//!
//! one array parameter per column. So:
//!
//! - a write is acknowledged only once the statement that wrote it has committed, as
//!   before; the version trigger fires once for the statement, inside it, so a read
//!   that starts after the acknowledgement sees the write (the response cache too);
//! - each write gets its own row back. The rows are inserted in the order of `n` (the
//!   `ORDER BY` of an `INSERT … SELECT` decides the order in which the rows are
//!   inserted, and so the order in which the `id` column's sequence hands out its
//!   numbers), so sorting the returned rows by `id` pairs the i-th row with the i-th
//!   write: the technique SQLAlchemy's "insertmanyvalues" documents for PostgreSQL;
//! - a statement is all or nothing. When PostgreSQL refuses it for a row's data (a
//!   SQLSTATE of class 22, data exception, or 23, integrity constraint: a taken unique
//!   value, a foreign key to a missing row, a `CHECK`), nothing of it was written, and
//!   each half of the group is written again the same way, down to the writes that
//!   are refused on their own, as single-row statements: each gets its own answer
//!   (404, 409, 422…), and the others are still written together. Any other failure
//!   (the server unreachable, the statement timeout) is every write's answer, 503
//!   where it is transient;
//! - nothing waits to gather a group: while [`IN_FLIGHT`] groups are being written,
//!   the inserts that arrive queue up and become the next. One insert alone is its
//!   own single-row statement, as before.
//!
//! A group waits for a pooled connection as long as its most hurried write may (each
//! write brings what is left of its request's acquire budget, [`super::budget`]); when
//! none comes in time, every write of the group is answered 503 and none was sent.
//!
//! Only the pool's single-row inserts come here ([`super::Db::insert_fetch`]);
//! updates, deletes and the writes of a hooked transaction ([`super::tx`]) run as
//! before.

use super::bind_pg;
use crate::value::{Sql, SqlType, Value};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row as _};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

/// The most inserts one statement writes.
pub const MAX_BATCH: usize = 256;

/// Groups written at the same time, each on a pooled connection of its own: while one
/// group's commit waits for its WAL flush, the next is already being written.
pub const IN_FLIGHT: usize = 2;

/// What an insert writes, but for its values: inserts of the same shape are written
/// together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    pub table: &'static str,
    /// The columns given values, in the order of the values.
    pub columns: Vec<&'static str>,
    /// The `RETURNING` list, `id` first.
    pub returning: &'static str,
}

impl Shape {
    /// Whether inserts of this shape can be written together: they name columns, and
    /// return the `id` the rows are paired with their writes by.
    pub(crate) fn groups(&self) -> bool {
        !self.columns.is_empty() && self.returning.split(',').next().map(str::trim) == Some("id")
    }

    /// The statement for a group, with one array parameter per column.
    fn group_sql(&self) -> String {
        let values: Vec<String> = (1..=self.columns.len()).map(|i| format!("v{i}")).collect();
        let params: Vec<String> = (1..=self.columns.len()).map(|i| format!("${i}")).collect();
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM unnest({}) WITH ORDINALITY AS shopgen_rows ({}, n) \
             ORDER BY n RETURNING {}",
            self.table,
            self.columns.join(", "),
            values.join(", "),
            params.join(", "),
            values.join(", "),
            self.returning
        )
    }
}

/// What an insert is answered: the row it returned.
type Outcome = Result<Option<PgRow>, sqlx::Error>;

/// One insert waiting for its group.
#[derive(Debug)]
struct Job {
    shape: Shape,
    /// The insert as a statement of its own.
    sql: Sql,
    args: Vec<Value>,
    /// When its request's acquire budget runs out.
    deadline: Option<Instant>,
    reply: oneshot::Sender<Outcome>,
}

impl Job {
    fn answer(self, outcome: Outcome) {
        // The caller may have gone (its request was cancelled): nothing to answer.
        let _ = self.reply.send(outcome);
    }
}

/// The grouping task's handle.
#[derive(Debug)]
pub(crate) struct Inserter {
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Group statements written so far (also `shopgen_pg_group_inserts_total`).
    #[cfg_attr(not(test), allow(dead_code))]
    groups: Arc<AtomicU64>,
}

impl Inserter {
    /// Starts the grouping task on the current runtime.
    pub(crate) fn start(pool: PgPool) -> Inserter {
        let (jobs, queue) = mpsc::unbounded_channel();
        let groups = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(serve(pool, queue, Arc::clone(&groups)));
        Inserter {
            jobs: Mutex::new(Some(jobs)),
            task: tokio::sync::Mutex::new(Some(task)),
            groups,
        }
    }

    /// Writes one row with the inserts waiting at the same moment; the row its
    /// `RETURNING` gave, once the statement that wrote it committed.
    pub(crate) async fn insert(&self, shape: Shape, sql: Sql, args: &[Value]) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            shape,
            sql,
            args: args.to_vec(),
            deadline: super::budget::deadline(),
            reply,
        };
        {
            let jobs = self.jobs.lock().map_err(|_| sqlx::Error::PoolClosed)?;
            let jobs = jobs.as_ref().ok_or(sqlx::Error::PoolClosed)?;
            jobs.send(job).map_err(|_| sqlx::Error::PoolClosed)?;
        }
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// Group statements written so far.
    #[cfg(test)]
    pub(crate) fn groups(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }

    /// Lets the task finish the inserts already handed over, then stops it.
    pub(crate) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// The grouping task: takes what waits, up to [`IN_FLIGHT`] groups at a time, until
/// every sender is gone; then waits for the groups still being written.
async fn serve(pool: PgPool, mut queue: mpsc::UnboundedReceiver<Job>, groups: Arc<AtomicU64>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        let groups = Arc::clone(&groups);
        tokio::spawn(async move {
            write(&pool, batch, &groups).await;
            drop(permit);
        });
    }
    let _ = in_flight.acquire_many(IN_FLIGHT as u32).await;
}

/// Writes a batch: one statement per shape, the shapes side by side.
async fn write(pool: &PgPool, batch: Vec<Job>, groups: &AtomicU64) {
    let mut shapes: Vec<Vec<Job>> = Vec::new();
    for job in batch {
        match shapes.iter_mut().find(|g| g[0].shape == job.shape) {
            Some(group) => group.push(job),
            None => shapes.push(vec![job]),
        }
    }
    futures_util::future::join_all(
        shapes
            .into_iter()
            .map(|group| write_group(pool, group, groups)),
    )
    .await;
}

async fn write_group(pool: &PgPool, mut group: Vec<Job>, groups: &AtomicU64) {
    if group.len() == 1 {
        let job = group.remove(0);
        let outcome = alone(pool, &job).await;
        job.answer(outcome);
        return;
    }
    let Some(columns) = columns(&group) else {
        // Values of one column with different types: not one array. Each alone.
        each_alone(pool, group).await;
        return;
    };
    let deadline = group.iter().filter_map(|j| j.deadline).min();
    let sql = group[0].shape.group_sql();
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for column in columns {
        query = column.bind(query);
    }
    let outcome = match acquire(pool, deadline).await {
        Ok(mut conn) => query.fetch_all(&mut *conn).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(rows) => {
            groups.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("shopgen_pg_group_inserts_total").increment(1);
            metrics::counter!("shopgen_pg_group_insert_rows_total").increment(rows.len() as u64);
            match paired(rows, group.len()) {
                Ok(rows) => {
                    for (job, row) in group.into_iter().zip(rows) {
                        job.answer(Ok(Some(row)));
                    }
                }
                Err(why) => {
                    for job in group {
                        job.answer(Err(sqlx::Error::Protocol(why.clone())));
                    }
                }
            }
        }
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| refused_for_data(&c)) => {
            // Nothing was written. Each half again, down to the writes that are
            // refused alone (with their own errors): a few refused writes cost a few
            // statements more, and the others are still written together.
            let second = group.split_off(group.len() / 2);
            Box::pin(write_group(pool, group, groups)).await;
            Box::pin(write_group(pool, second, groups)).await;
        }
        Err(e) => {
            let mut group = group.into_iter();
            if let Some(first) = group.next() {
                for job in group {
                    job.answer(Err(copy(&e)));
                }
                first.answer(Err(e));
            }
        }
    }
}

/// The group's rows in the order of its writes: sorted by `id` (see the module
/// documentation).
fn paired(rows: Vec<PgRow>, writes: usize) -> Result<Vec<PgRow>, String> {
    if rows.len() != writes {
        return Err(format!(
            "a group insert of {writes} rows returned {}",
            rows.len()
        ));
    }
    let mut keyed = rows
        .into_iter()
        .map(|row| row.try_get::<i64, _>(0).map(|id| (id, row)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a group insert's ids: {e}"))?;
    keyed.sort_by_key(|(id, _)| *id);
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): a
/// row's values were refused, and a statement of that row alone would say which.
fn refused_for_data(code: &str) -> bool {
    code.len() == 5 && (code.starts_with("22") || code.starts_with("23"))
}

/// Every write of `group` as a statement of its own, side by side.
async fn each_alone(pool: &PgPool, group: Vec<Job>) {
    futures_util::future::join_all(group.into_iter().map(|job| async move {
        let outcome = alone(pool, &job).await;
        job.answer(outcome);
    }))
    .await;
}

/// One insert as its own statement.
async fn alone(pool: &PgPool, job: &Job) -> Outcome {
    let mut conn = acquire(pool, job.deadline).await?;
    let query = job
        .args
        .iter()
        .fold(sqlx::query(AssertSqlSafe(job.sql.clone())), bind_pg);
    query.fetch_optional(&mut *conn).await
}

/// A pooled connection by `deadline` (the pool's own acquire timeout without one).
async fn acquire(
    pool: &PgPool,
    deadline: Option<Instant>,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
    match deadline {
        // `timeout_at` polls the acquire once before it looks at the clock: a free
        // connection is taken even when the budget is spent.
        Some(deadline) => tokio::time::timeout_at(deadline, pool.acquire())
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut)),
        None => pool.acquire().await,
    }
}

/// A failure of the group's statement, for each of its other writes: the same answer
/// (503 where it is transient).
fn copy(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => {
            sqlx::Error::Io(std::io::Error::other(e.to_string()))
        }
        sqlx::Error::Database(d) if d.code().is_some_and(|c| crate::error::is_transient(&c)) => {
            sqlx::Error::Io(std::io::Error::other(e.to_string()))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// One column's values of a group, as the array bound to its parameter.
enum Column {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Decimal(Vec<Option<crate::types::Decimal>>),
    Timestamp(Vec<Option<time::OffsetDateTime>>),
    Date(Vec<Option<time::Date>>),
    Uuid(Vec<Option<crate::types::Uuid>>),
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl Column {
    fn bind(self, query: PgQuery<'_>) -> PgQuery<'_> {
        match self {
            Column::Bool(v) => query.bind(v),
            Column::Int(v) => query.bind(v),
            Column::Float(v) => query.bind(v),
            Column::Text(v) => query.bind(v),
            Column::Decimal(v) => query.bind(v),
            Column::Timestamp(v) => query.bind(v),
            Column::Date(v) => query.bind(v),
            Column::Uuid(v) => query.bind(v),
        }
    }
}

/// The type a value has in its column.
fn type_of(value: &Value) -> SqlType {
    match value {
        Value::Null(ty) => *ty,
        Value::Bool(_) => SqlType::Bool,
        Value::Int(_) => SqlType::Int,
        Value::Float(_) => SqlType::Float,
        Value::Text(_) => SqlType::Text,
        Value::Decimal { precision, .. } => SqlType::Decimal {
            precision: *precision,
        },
        Value::Timestamp(_) => SqlType::Timestamp,
        Value::Date(_) => SqlType::Date,
        Value::Uuid(_) => SqlType::Uuid,
    }
}

/// The group's values as one array per column; `None` when a column's values differ
/// in type (or a write has a different number of values).
fn columns(group: &[Job]) -> Option<Vec<Column>> {
    let width = group[0].shape.columns.len();
    if group.iter().any(|j| j.args.len() != width) {
        return None;
    }
    (0..width)
        .map(|c| {
            let ty = type_of(&group[0].args[c]);
            if group.iter().any(|j| type_of(&j.args[c]) != ty) {
                return None;
            }
            let values = group.iter().map(|j| &j.args[c]);
            Some(match ty {
                SqlType::Bool => Column::Bool(
                    values
                        .map(|v| match v {
                            Value::Bool(b) => Some(*b),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Int => Column::Int(
                    values
                        .map(|v| match v {
                            Value::Int(i) => Some(*i),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Float => Column::Float(
                    values
                        .map(|v| match v {
                            Value::Float(f) => Some(*f),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Text => Column::Text(
                    values
                        .map(|v| match v {
                            Value::Text(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Decimal { .. } => Column::Decimal(
                    values
                        .map(|v| match v {
                            Value::Decimal { value, .. } => Some(*value),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Timestamp => Column::Timestamp(
                    values
                        .map(|v| match v {
                            Value::Timestamp(t) => Some(t.0),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Date => Column::Date(
                    values
                        .map(|v| match v {
                            Value::Date(d) => Some(d.0),
                            _ => None,
                        })
                        .collect(),
                ),
                SqlType::Uuid => Column::Uuid(
                    values
                        .map(|v| match v {
                            Value::Uuid(u) => Some(*u),
                            _ => None,
                        })
                        .collect(),
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::db::{ConnectOptions, Db, FromRow, Pool, SqliteSync};
    use crate::row::Row;
    use crate::types::{Date, Decimal, Timestamp, Uuid};
    use shopgen_testkit::Postgres;
    use std::time::Duration;

    /// A row of `items` as the inserts return it.
    #[derive(Debug, Clone, PartialEq)]
    struct Item {
        id: i64,
        name: String,
        parent_id: i64,
        rate: Option<i32>,
        price: Option<Decimal>,
        at: Option<Timestamp>,
        day: Option<Date>,
        tag: Option<Uuid>,
        flag: Option<bool>,
        score: Option<f64>,
    }

    const RETURNING: &str = "id, name, parent_id, rate, price, at, day, tag, flag, score";

    impl FromRow for Item {
        fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
            Ok(Item {
                id: row.get(0)?,
                name: row.get(1)?,
                parent_id: row.get(2)?,
                rate: row.get(3)?,
                price: if row.is_null(4)? {
                    None
                } else {
                    Some(row.decimal(4, 2)?)
                },
                at: row.get(5)?,
                day: row.get(6)?,
                tag: row.get(7)?,
                flag: row.get(8)?,
                score: row.get(9)?,
            })
        }
    }

    /// A fresh database in the test binary's cluster (kept running while the
    /// returned handle lives).
    async fn database(max_connections: u32) -> (Arc<Postgres>, Db) {
        let pg = Postgres::shared();
        let url = pg.fresh_database();
        let db = Db::connect(&ConnectOptions {
            url,
            max_connections,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            sqlite_sync: SqliteSync::Full,
        })
        .await
        .unwrap();
        for sql in [
            "CREATE TABLE parents (id BIGSERIAL PRIMARY KEY)",
            "INSERT INTO parents DEFAULT VALUES",
            "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, \
             parent_id BIGINT NOT NULL REFERENCES parents (id), \
             rate INTEGER CHECK (rate BETWEEN 1 AND 5), price NUMERIC(10, 2), \
             at TIMESTAMPTZ, day DATE, tag UUID, flag BOOLEAN, score DOUBLE PRECISION)",
        ] {
            db.execute(sql, &[]).await.unwrap();
        }
        (pg, db)
    }

    fn inserter(db: &Db) -> &Inserter {
        match &db.0 {
            Pool::Postgres(_, inserter) => inserter,
            Pool::Sqlite(..) => unreachable!("a PostgreSQL database"),
        }
    }

    /// Write `i` of the concurrent test: every fifth takes a name already taken,
    /// every seventh names a missing parent, every eleventh breaks the `CHECK`; every
    /// third leaves the optional columns NULL.
    fn write(i: i64) -> (Vec<&'static str>, Vec<Value>) {
        let name = if i % 5 == 0 {
            "taken".to_string()
        } else {
            format!("item {i}")
        };
        let parent = if i % 7 == 0 { 99 } else { 1 };
        let rate = if i % 11 == 0 { 9 } else { i % 5 + 1 };
        let mut columns = vec!["name", "parent_id", "rate"];
        let mut values = vec![Value::Text(name), Value::Int(parent), Value::Int(rate)];
        columns.extend(["price", "at", "day", "tag", "flag", "score"]);
        if i % 3 == 0 {
            values.extend([
                Value::Null(SqlType::Decimal { precision: 10 }),
                Value::Null(SqlType::Timestamp),
                Value::Null(SqlType::Date),
                Value::Null(SqlType::Uuid),
                Value::Null(SqlType::Bool),
                Value::Null(SqlType::Float),
            ]);
        } else {
            let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + i).unwrap();
            values.extend([
                Value::Decimal {
                    value: Decimal::new(i * 101, 2),
                    precision: 10,
                },
                Value::Timestamp(Timestamp::new(at)),
                Value::Date(Date(at.date())),
                Value::Uuid(Uuid::from_u128(i as u128)),
                Value::Bool(i % 2 == 0),
                Value::Float(i as f64 / 4.0),
            ]);
        }
        (columns, values)
    }

    fn expected(id: i64, values: &[Value]) -> Item {
        let text = |v: &Value| match v {
            Value::Text(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        let int = |v: &Value| match v {
            Value::Int(i) => *i,
            other => panic!("{other:?}"),
        };
        Item {
            id,
            name: text(&values[0]),
            parent_id: int(&values[1]),
            rate: Some(int(&values[2]) as i32),
            price: match &values[3] {
                Value::Decimal { value, .. } => Some(*value),
                _ => None,
            },
            at: match &values[4] {
                Value::Timestamp(t) => Some(*t),
                _ => None,
            },
            day: match &values[5] {
                Value::Date(d) => Some(*d),
                _ => None,
            },
            tag: match &values[6] {
                Value::Uuid(u) => Some(*u),
                _ => None,
            },
            flag: match &values[7] {
                Value::Bool(b) => Some(*b),
                _ => None,
            },
            score: match &values[8] {
                Value::Float(f) => Some(*f),
                _ => None,
            },
        }
    }

    async fn insert(
        db: &Db,
        columns: Vec<&'static str>,
        values: &[Value],
    ) -> Result<Item, sqlx::Error> {
        let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO items ({}) VALUES ({}) RETURNING {RETURNING}",
            columns.join(", "),
            params.join(", ")
        );
        let shape = Shape {
            table: "items",
            columns,
            returning: RETURNING,
        };
        db.insert_fetch::<Item>(shape, sql.into(), values)
            .await
            .map(|row| row.expect("a row"))
    }

    /// Many concurrent inserts: they are written in groups; each success gets back
    /// exactly the row it wrote (every type, NULLs included), and that row is stored
    /// under the id it was answered; each failure gets its own constraint error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_inserts_are_grouped_and_fail_alone() {
        let (_pg, db) = database(10).await;
        let db = Arc::new(db);
        let (columns, values) = write(1);
        let mut taken = values.clone();
        taken[0] = Value::Text("taken".into());
        insert(&db, columns, &taken).await.unwrap();

        let mut tasks = Vec::new();
        for i in 1..=400 {
            let db = Arc::clone(&db);
            tasks.push(tokio::spawn(async move {
                let (columns, values) = write(i);
                let outcome = insert(&db, columns, &values).await;
                (i, values, outcome)
            }));
        }
        let mut written = Vec::new();
        for task in tasks {
            let (i, values, outcome) = task.await.unwrap();
            match outcome {
                Ok(item) => {
                    assert!(
                        i % 5 != 0 && i % 7 != 0 && i % 11 != 0,
                        "write {i} should have failed"
                    );
                    assert_eq!(item, expected(item.id, &values), "write {i}");
                    written.push(item);
                }
                Err(sqlx::Error::Database(e)) => {
                    // PostgreSQL checks a row's CHECK constraints, then its unique
                    // indexes, then (after the row) its foreign keys.
                    let expected = if i % 11 == 0 {
                        sqlx::error::ErrorKind::CheckViolation
                    } else if i % 5 == 0 {
                        sqlx::error::ErrorKind::UniqueViolation
                    } else {
                        sqlx::error::ErrorKind::ForeignKeyViolation
                    };
                    assert_eq!(e.kind(), expected, "write {i}: {}", e.message());
                }
                Err(e) => panic!("write {i}: {e}"),
            }
        }
        assert_eq!(
            written.len(),
            (1..=400)
                .filter(|i| i % 5 != 0 && i % 7 != 0 && i % 11 != 0)
                .count()
        );
        assert!(inserter(&db).groups() > 0, "no insert was grouped");

        // What is stored is what each write was answered.
        let stored: Vec<Item> = db
            .fetch_all(
                format!("SELECT {RETURNING} FROM items WHERE name <> 'taken' ORDER BY id"),
                &[],
            )
            .await
            .unwrap();
        written.sort_by_key(|item| item.id);
        assert_eq!(stored, written);
        db.close().await;
    }

    /// A group that gets no connection within its writes' budget answers each of
    /// them 503-class (`PoolTimedOut`) and writes nothing; once a connection is free,
    /// inserts work again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_without_a_connection_in_time_writes_nothing() {
        let (_pg, db) = database(1).await;
        let db = Arc::new(db);
        let pool = match &db.0 {
            Pool::Postgres(pool, _) => pool.clone(),
            Pool::Sqlite(..) => unreachable!(),
        };
        let held = pool.acquire().await.unwrap();
        let mut tasks = Vec::new();
        for i in 1..=8 {
            let db = Arc::clone(&db);
            tasks.push(tokio::spawn(crate::db::budget::scope(
                Duration::from_millis(200),
                async move {
                    let (columns, values) = write(i * 2);
                    insert(&db, columns, &values).await
                },
            )));
        }
        for task in tasks {
            let outcome = task.await.unwrap();
            assert!(
                matches!(outcome, Err(sqlx::Error::PoolTimedOut)),
                "{outcome:?}"
            );
        }
        drop(held);
        let count: Vec<i64> = db
            .fetch_all("SELECT count(*) FROM items", &[])
            .await
            .unwrap();
        assert_eq!(count, vec![0]);
        let (columns, values) = write(2);
        insert(&db, columns, &values).await.unwrap();
        db.close().await;
    }

    #[test]
    fn the_group_statement_inserts_in_the_order_of_the_writes() {
        let shape = Shape {
            table: "reviews",
            columns: vec!["product_id", "name"],
            returning: "id, name, product_id",
        };
        assert!(shape.groups());
        assert_eq!(
            shape.group_sql(),
            "INSERT INTO reviews (product_id, name) SELECT v1, v2 FROM unnest($1, $2) \
             WITH ORDINALITY AS shopgen_rows (v1, v2, n) ORDER BY n RETURNING id, name, product_id"
        );
        let no_id = Shape {
            returning: "name, id",
            ..shape.clone()
        };
        assert!(!no_id.groups());
        let no_columns = Shape {
            columns: Vec::new(),
            ..shape
        };
        assert!(!no_columns.groups());
    }

    #[test]
    fn a_failed_group_gives_each_write_the_same_class_of_answer() {
        let api = |e: sqlx::Error| crate::error::ApiError::from(e);
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::other("reset")),
        ] {
            let copied = copy(&e);
            assert_eq!(
                std::mem::discriminant(&api(copied)),
                std::mem::discriminant(&api(e))
            );
        }
    }
}
