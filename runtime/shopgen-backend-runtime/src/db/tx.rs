//! A database transaction over either engine, with the same query methods as [`Db`].
//!
//! Writes of resources with hooks run in one: the "before" hooks see (and may use)
//! the transaction, and the row is written and committed only if they all succeed.
//! SQLite transactions start with `BEGIN IMMEDIATE`, so a hook's reads and the write
//! that follows see one snapshot and never fail half-way on a lock upgrade.

use super::{Db, FromRow, Pool, Row, Sql, Value, bind_pg, bind_sqlite, budget, count_query};
use sqlx::{AssertSqlSafe, Postgres, SqlSafeStr, Sqlite, Transaction};

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tx::Sqlite(_) => "Tx::Sqlite",
            Tx::Postgres(_) => "Tx::Postgres",
        })
    }
}

impl Db {
    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        count_query();
        Ok(match &self.0 {
            Pool::Sqlite(pool, ..) => Tx::Sqlite(
                Transaction::begin(
                    budget::acquire(pool).await?,
                    Some("BEGIN IMMEDIATE".into_sql_str()),
                )
                .await?,
            ),
            Pool::Postgres(pool, _) => {
                Tx::Postgres(Transaction::begin(budget::acquire(pool).await?, None).await?)
            }
        })
    }
}

impl Tx {
    /// Makes every write of the transaction durable. In a request, only while the
    /// request may still answer ([`budget::Gate`]): once it was answered 503 at its
    /// timeout, the transaction rolls back instead.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        count_query();
        let committing = budget::pass(budget::gate().as_ref())?;
        let committed = match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        };
        budget::settled(committing, committed)
    }

    /// Every row the query returns.
    pub async fn fetch_all<T: FromRow + Send + 'static>(
        &mut self,
        sql: impl Into<Sql>,
        args: &[Value],
    ) -> Result<Vec<T>, sqlx::Error> {
        count_query();
        // What a transaction reads is not tracked table by table: a response built
        // from it is never cached.
        crate::reads::record_unknown();
        let sql = AssertSqlSafe(sql.into());
        match self {
            Tx::Sqlite(tx) => {
                let q = args.iter().fold(sqlx::query(sql), bind_sqlite);
                let rows = q.fetch_all(&mut **tx).await?;
                rows.into_iter()
                    .map(|r| T::from_row(&Row::Sqlite(r)))
                    .collect()
            }
            Tx::Postgres(tx) => {
                let q = args.iter().fold(sqlx::query(sql), bind_pg);
                let rows = q.fetch_all(&mut **tx).await?;
                rows.into_iter()
                    .map(|r| T::from_row(&Row::Postgres(r)))
                    .collect()
            }
        }
    }

    /// The first row, if any.
    pub async fn fetch_optional<T: FromRow + Send + 'static>(
        &mut self,
        sql: impl Into<Sql>,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        count_query();
        // What a transaction reads is not tracked table by table: a response built
        // from it is never cached.
        crate::reads::record_unknown();
        let sql = AssertSqlSafe(sql.into());
        match self {
            Tx::Sqlite(tx) => {
                let q = args.iter().fold(sqlx::query(sql), bind_sqlite);
                q.fetch_optional(&mut **tx)
                    .await?
                    .map(|r| T::from_row(&Row::Sqlite(r)))
                    .transpose()
            }
            Tx::Postgres(tx) => {
                let q = args.iter().fold(sqlx::query(sql), bind_pg);
                q.fetch_optional(&mut **tx)
                    .await?
                    .map(|r| T::from_row(&Row::Postgres(r)))
                    .transpose()
            }
        }
    }

    /// Runs a statement; returns the number of rows it touched.
    pub async fn execute(
        &mut self,
        sql: impl Into<Sql>,
        args: &[Value],
    ) -> Result<u64, sqlx::Error> {
        count_query();
        // What a transaction reads is not tracked table by table: a response built
        // from it is never cached.
        crate::reads::record_unknown();
        let sql = AssertSqlSafe(sql.into());
        match self {
            Tx::Sqlite(tx) => {
                let q = args.iter().fold(sqlx::query(sql), bind_sqlite);
                Ok(q.execute(&mut **tx).await?.rows_affected())
            }
            Tx::Postgres(tx) => {
                let q = args.iter().fold(sqlx::query(sql), bind_pg);
                Ok(q.execute(&mut **tx).await?.rows_affected())
            }
        }
    }
}
