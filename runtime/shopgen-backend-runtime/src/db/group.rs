//! SQLite group commit: the pool's row writes to a database file, committed together.
//!
//! At `synchronous = FULL` every SQLite commit waits for an fsync, and SQLite commits
//! one writer at a time: with one transaction per write, a backend writes no faster
//! than the disk syncs (about 2,000 writes a second on the benchmark machine), however
//! many requests wait. Here one thread owns the writing connection. A write hands its
//! statement over and waits; the thread takes every write waiting at that moment (at
//! most [`MAX_BATCH`]), and runs them in one transaction:
//!
//! ```text
//! BEGIN IMMEDIATE
//!   SAVEPOINT w; <write 1>; RELEASE w        -- or ROLLBACK TO w; RELEASE w if it failed
//!   SAVEPOINT w; <write 2>; RELEASE w
//!   …
//! COMMIT                                     -- one fsync for all of them
//! ```
//!
//! and only then answers each write: with its own result, or, when the `COMMIT` failed,
//! with that failure (none of the batch is on disk then). So:
//!
//! - a write is acknowledged only once its commit is durable at the configured
//!   `synchronous` level, exactly as before, and a read that starts after the
//!   acknowledgement sees it (the table-version triggers fire inside each write's
//!   savepoint and commit with it: the response cache sees every write);
//! - a write that fails (a taken unique value, a foreign key to a missing row, a
//!   `NOT NULL` or `CHECK` refusal) is rolled back to its savepoint alone and answered
//!   with its own error; the others of the batch commit;
//! - nothing waits to gather a batch: while one batch's `COMMIT` syncs, the writes that
//!   arrive queue up and become the next batch. One write alone is one transaction, as
//!   before;
//! - a write is taken into its batch's transaction only once the transaction holds
//!   SQLite's write lock (`BEGIN IMMEDIATE` may wait for another process), and only
//!   while its request may still answer ([`super::budget::Gate`]): a write whose
//!   request answered 503 at its timeout meanwhile, or whose client left, is not run,
//!   so a 503 never hides a committed write.
//!
//! Writes that run in a transaction of their own (hooked writes, [`super::tx`]) and
//! writes of other processes take SQLite's write lock as before; the writer waits for
//! it up to the busy timeout, like any connection.
//!
//! Only the single-statement writes of [`crate::write`] on the pool come here
//! ([`super::Db::write_fetch`], [`super::Db::write_execute`]); in-memory databases and
//! PostgreSQL write as before.

use super::SqliteSync;
use super::budget::Ticket;
use super::sqlite_read::{db_error, open_direct, run, to_sqlite};
use crate::row::FromRow;
use crate::value::{Sql, Value};
use rusqlite::Connection;
use rusqlite::types::Value as SqliteValue;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The most writes one transaction commits: bounds how long the write lock is held
/// (and how long the first write of a batch waits for the last).
pub const MAX_BATCH: usize = 256;

/// The writer thread's handle.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: Mutex<Option<Sender<Box<dyn Job>>>>,
    /// Transactions committed so far (also `shopgen_sqlite_group_commits_total`).
    #[cfg_attr(not(test), allow(dead_code))]
    commits: Arc<AtomicU64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// How the writer opens its connection.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub path: PathBuf,
    pub sync: SqliteSync,
    pub busy_timeout: Duration,
}

/// One write waiting for the writer.
trait Job: Send {
    /// Runs the statement in the open transaction; whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own result, unless `failure` says the batch was not
    /// committed.
    fn answer(self: Box<Self>, failure: Option<&str>);
    /// Whether the caller is gone (its request answered 503 at its deadline, or the
    /// client left): such a write is not run, since nobody would learn it was.
    fn abandoned(&self) -> bool;
    /// Takes the write into the transaction that holds the write lock, past its
    /// request's gate: `false` when its caller is gone, and then it is not run.
    fn take(&mut self) -> bool;
}

/// What a write gives back: the rows it returned, and the rows it changed.
type Outcome<T> = Result<(Vec<T>, u64), sqlx::Error>;

struct Statement<T> {
    sql: Sql,
    args: Vec<SqliteValue>,
    outcome: Option<Outcome<T>>,
    reply: oneshot::Sender<Outcome<T>>,
    /// Its request's gate, and its commit once taken.
    ticket: Ticket,
}

impl<T: FromRow + Send + 'static> Job for Statement<T> {
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = execute::<T>(conn, &self.sql, &self.args);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, failure: Option<&str>) {
        let outcome = match (self.outcome, failure) {
            // Its own failure: nothing of it was written, whatever the batch did.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(done)), None) => Ok(done),
            (_, Some(why)) => Err(unavailable(why)),
            (None, None) => Err(sqlx::Error::Protocol("the write did not run".into())),
        };
        // Settled before the answer, so a request that times out meanwhile knows: a
        // write's own failure, or a batch that did not commit, wrote nothing of it.
        self.ticket.end(outcome.is_ok());
        // The caller may have gone (its request was cancelled): nothing to answer.
        let _ = self.reply.send(outcome);
    }

    fn abandoned(&self) -> bool {
        self.reply.is_closed() || self.ticket.gone()
    }

    fn take(&mut self) -> bool {
        !self.reply.is_closed() && self.ticket.take()
    }
}

/// A batch that did not commit: 503, the client may retry.
fn unavailable(why: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "the SQLite transaction did not commit: {why}"
    )))
}

impl Writer {
    /// Starts the writer thread; it opens its connection at the first write (after
    /// the migrations, which run on the pool).
    pub(crate) fn start(settings: Settings) -> std::io::Result<Writer> {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn Job>>();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&settings, &queue, &counted))?;
        Ok(Writer {
            jobs: Mutex::new(Some(jobs)),
            commits,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `sql` in the next batch; once that batch committed, the rows it returned
    /// (as `T`) and the number of rows it changed.
    pub(crate) async fn write<T: FromRow + Send + 'static>(
        &self,
        sql: Sql,
        args: &[Value],
    ) -> Outcome<T> {
        let ticket = Ticket::current()?;
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Statement::<T> {
            sql,
            args: args.iter().map(to_sqlite).collect(),
            outcome: None,
            reply,
            ticket,
        });
        {
            let jobs = self.jobs.lock().map_err(|_| sqlx::Error::PoolClosed)?;
            let jobs = jobs.as_ref().ok_or(sqlx::Error::PoolClosed)?;
            jobs.send(job).map_err(|_| sqlx::Error::PoolClosed)?;
        }
        answer.await.map_err(|_| super::budget::dropped_write())?
    }

    /// Transactions the writer has committed.
    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Lets the writer finish the writes already handed over, then stops it.
    pub(crate) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// The writer thread: one batch per turn until every sender is gone.
fn serve(settings: &Settings, queue: &Receiver<Box<dyn Job>>, commits: &AtomicU64) {
    let mut conn: Option<Connection> = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        batch.retain(|job| !job.abandoned());
        if batch.is_empty() {
            continue;
        }
        if conn.is_none() {
            match open(settings) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    let why = e.to_string();
                    for job in batch {
                        job.answer(Some(&why));
                    }
                    continue;
                }
            }
        }
        if let Some(c) = &conn
            && let Err(e) = commit(c, &mut batch)
        {
            let why = e.to_string();
            for job in batch {
                job.answer(Some(&why));
            }
            // The connection may be in any state after a failed commit: start afresh.
            conn = None;
            continue;
        }
        if batch.is_empty() {
            continue;
        }
        commits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("shopgen_sqlite_group_commits_total").increment(1);
        metrics::counter!("shopgen_sqlite_group_commit_writes_total").increment(batch.len() as u64);
        for job in batch {
            job.answer(None);
        }
    }
}

fn open(settings: &Settings) -> rusqlite::Result<Connection> {
    let conn = open_direct(&settings.path, settings.busy_timeout)?;
    // Per connection, as the pool's connections set them (`Db::connect`).
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(
        None,
        "synchronous",
        match settings.sync {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        },
    )?;
    Ok(conn)
}

/// One transaction for the whole batch, one savepoint per write. An error here (the
/// `BEGIN`, a savepoint, the `COMMIT`) means nothing of the batch was committed. The
/// writes are taken once the write lock is held; those whose callers are gone by then
/// leave the batch unrun (an empty batch rolls back).
fn commit(conn: &Connection, batch: &mut Vec<Box<dyn Job>>) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    batch.retain_mut(|job| job.take());
    if batch.is_empty() {
        return conn.execute_batch("ROLLBACK");
    }
    let result = (|| {
        for job in batch.iter_mut() {
            conn.prepare_cached("SAVEPOINT shopgen_write")?
                .execute([])?;
            if !job.run(conn) {
                conn.prepare_cached("ROLLBACK TO shopgen_write")?
                    .execute([])?;
            }
            conn.prepare_cached("RELEASE shopgen_write")?.execute([])?;
        }
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    })();
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// Runs one statement to its end: the rows it returned and the rows it changed.
fn execute<T: FromRow>(conn: &Connection, sql: &str, args: &[SqliteValue]) -> Outcome<T> {
    let rows = run::<T>(conn, sql, args, None, write_error)?;
    Ok((rows, conn.changes()))
}

/// A refused write as the pool reports it (`sqlx::Error::Database`, with SQLite's
/// extended code and message), so `crate::write` answers it as it answers the pool's:
/// 409 for a taken unique value, 422 for a missing reference, and so on. Busy and I/O
/// failures stay 503.
fn write_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(f, message)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            sqlx::Error::Database(Box::new(Refused {
                code: f.extended_code,
                message: message.unwrap_or_else(|| f.to_string()),
            }))
        }
        other => db_error(other),
    }
}

/// A constraint SQLite refused a write for.
#[derive(Debug)]
struct Refused {
    code: std::ffi::c_int,
    message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

impl sqlx::error::DatabaseError for Refused {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    /// As sqlx's SQLite driver maps the extended codes.
    fn kind(&self) -> sqlx::error::ErrorKind {
        use libsqlite3_sys::{
            SQLITE_CONSTRAINT_CHECK, SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_CONSTRAINT_NOTNULL,
            SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE,
        };
        match self.code {
            SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY => {
                sqlx::error::ErrorKind::UniqueViolation
            }
            SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
            SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
            SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::db::budget::{Closing, Gate};
    use crate::row::Row;

    #[derive(Debug)]
    struct Id(i64);

    impl FromRow for Id {
        fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
            Ok(Id(row.get(0)?))
        }
    }

    fn database() -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE parents (id INTEGER PRIMARY KEY);
             INSERT INTO parents (id) VALUES (1);
             CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                 parent_id INTEGER NOT NULL REFERENCES parents (id));
             CREATE TABLE versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
             INSERT INTO versions VALUES ('items', 0);
             CREATE TRIGGER bump AFTER INSERT ON items BEGIN
                 UPDATE versions SET version = version + 1 WHERE name = 'items'; END;",
        )
        .unwrap();
        let settings = Settings {
            path,
            sync: SqliteSync::Full,
            busy_timeout: Duration::from_secs(5),
        };
        (dir, settings)
    }

    /// The names of the stored items, in id order.
    fn stored_names(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT name FROM items ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn insert(name: &str, parent: i64) -> (Sql, Vec<Value>) {
        (
            "INSERT INTO items (name, parent_id) VALUES ($1, $2) RETURNING id".into(),
            vec![Value::Text(name.into()), Value::Int(parent)],
        )
    }

    /// Many concurrent writes, every fifth a duplicate name and every seventh a
    /// missing parent: each failure gets its own constraint error, every success is
    /// on disk with the id it was answered, and the trigger ran once per success.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_commit_together_and_fail_alone() {
        let (_dir, settings) = database();
        let writer = std::sync::Arc::new(Writer::start(settings.clone()).unwrap());
        let (sql, args) = insert("taken", 1);
        let first = writer.write::<Id>(sql, &args).await.unwrap();
        assert_eq!((first.0.len(), first.1), (1, 1));

        let mut tasks = Vec::new();
        for i in 0..200 {
            let writer = std::sync::Arc::clone(&writer);
            tasks.push(tokio::spawn(async move {
                let name = if i % 5 == 0 {
                    "taken".to_string()
                } else {
                    format!("item {i}")
                };
                let parent = if i % 7 == 0 { 99 } else { 1 };
                let (sql, args) = insert(&name, parent);
                (i, writer.write::<Id>(sql, &args).await)
            }));
        }
        let mut written = Vec::new();
        for task in tasks {
            let (i, outcome) = task.await.unwrap();
            match outcome {
                Ok((rows, changed)) => {
                    assert!(i % 5 != 0 && i % 7 != 0, "write {i} should have failed");
                    assert_eq!((rows.len(), changed), (1, 1));
                    written.push((rows[0].0, format!("item {i}")));
                }
                Err(sqlx::Error::Database(e)) => {
                    let expected = if i % 5 == 0 {
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
            (0..200).filter(|i| i % 5 != 0 && i % 7 != 0).count()
        );
        // 201 writes, fewer transactions: writes that waited together committed together.
        let commits = writer.commits();
        assert!(commits < 201, "{commits} transactions for 201 writes");
        writer.close().await;

        // A fresh connection (the writer is gone) finds exactly the acknowledged rows.
        let conn = Connection::open(&settings.path).unwrap();
        for (id, name) in &written {
            let stored: String = conn
                .query_row("SELECT name FROM items WHERE id = ?1", [id], |r| r.get(0))
                .unwrap();
            assert_eq!(&stored, name);
        }
        let count: i64 = conn
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count as usize, written.len() + 1);
        let version: i64 = conn
            .query_row("SELECT version FROM versions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, count);
    }

    /// A write whose caller gave up while another connection held the write lock is
    /// not run once the lock is free; the write that still waits is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_caller_is_gone_is_not_run() {
        let (_dir, settings) = database();
        let writer = std::sync::Arc::new(Writer::start(settings.clone()).unwrap());
        let blocker = Connection::open(&settings.path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        // The first write's batch waits for the lock (busy timeout 5 s) ...
        let first = tokio::spawn({
            let writer = std::sync::Arc::clone(&writer);
            async move {
                let (sql, args) = insert("kept", 1);
                writer.write::<Id>(sql, &args).await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        // ... so the second queues behind it, and its caller gives up.
        let (sql, args) = insert("abandoned", 1);
        let gave_up =
            tokio::time::timeout(Duration::from_millis(100), writer.write::<Id>(sql, &args)).await;
        assert!(gave_up.is_err(), "{gave_up:?}");
        blocker.execute_batch("ROLLBACK").unwrap();
        first.await.unwrap().unwrap();
        let (sql, args) = insert("after", 1);
        writer.write::<Id>(sql, &args).await.unwrap();
        let names = stored_names(&blocker);
        assert_eq!(names, vec!["kept".to_string(), "after".to_string()]);
        writer.close().await;
    }

    /// A write whose request was answered 503 (its gate closed, as the request
    /// timeout closes it) while its batch waited for the write lock is not run once
    /// the lock is held; the write beside it in the batch is, and both callers hear.
    #[test]
    fn a_write_answered_503_while_its_batch_waited_for_the_lock_is_not_run() {
        let (_dir, settings) = database();
        let statement = |name: &str, gate: &Arc<Gate>| {
            let (sql, args) = insert(name, 1);
            let (reply, answer) = oneshot::channel::<Outcome<Id>>();
            let job: Box<dyn Job> = Box::new(Statement::<Id> {
                sql,
                args: args.iter().map(to_sqlite).collect(),
                outcome: None,
                reply,
                ticket: Ticket::of(gate),
            });
            (job, answer)
        };
        let (kept_gate, gone_gate) = (Arc::new(Gate::default()), Arc::new(Gate::default()));
        let (kept, mut kept_answer) = statement("kept", &kept_gate);
        let (gone, mut gone_answer) = statement("gone", &gone_gate);
        let blocker = Connection::open(&settings.path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let writer = std::thread::spawn({
            let settings = settings.clone();
            move || {
                let conn = open(&settings).unwrap();
                let mut batch = vec![kept, gone];
                commit(&conn, &mut batch).unwrap();
                for job in batch {
                    job.answer(None);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(!writer.is_finished(), "the batch should wait for the lock");
        assert_eq!(
            gone_gate.close(),
            Closing::Closed,
            "nothing is committing yet"
        );
        blocker.execute_batch("ROLLBACK").unwrap();
        writer.join().unwrap();
        assert!(kept_answer.try_recv().unwrap().is_ok());
        assert_eq!(
            kept_gate.close(),
            Closing::Committed,
            "settled as committed"
        );
        assert!(
            gone_answer.try_recv().is_err(),
            "the gone write was not run"
        );
        let names = stored_names(&blocker);
        assert_eq!(names, vec!["kept".to_string()]);
    }

    /// A batch whose transaction cannot start (another connection holds the write
    /// lock past the busy timeout) answers every write with 503-class I/O errors and
    /// writes nothing; the next batch works.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_cannot_commit_answers_every_write_with_the_failure() {
        let (_dir, mut settings) = database();
        settings.busy_timeout = Duration::from_millis(50);
        let writer = Writer::start(settings.clone()).unwrap();
        let blocker = Connection::open(&settings.path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (sql, args) = insert("blocked", 1);
        let outcome = writer.write::<Id>(sql, &args).await;
        assert!(matches!(outcome, Err(sqlx::Error::Io(_))), "{outcome:?}");
        blocker.execute_batch("ROLLBACK").unwrap();
        let (sql, args) = insert("after", 1);
        let (rows, _) = writer.write::<Id>(sql, &args).await.unwrap();
        assert_eq!(rows.len(), 1);
        let names: Vec<String> = blocker
            .prepare("SELECT name FROM items")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, vec!["after".to_string()]);
        writer.close().await;
    }
}
