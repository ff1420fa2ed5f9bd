//! The SQL of one row's write, on the pool or in a hooked write's transaction.
//!
//! [`insert_on`], [`update_on`] and [`delete_on`] build their SQL from the [`Table`]
//! the generated code declares (column names come from the spec, values are always
//! bound). Database errors that bad input can cause are answered as such: a taken
//! unique value is 409 naming the field, a foreign key to a missing row 422 naming the
//! field, a delete of a row that others still reference (`on_delete = "restrict"`)
//! 409. [`crate::crud`] runs them on the pool, [`crate::hooks`] in a transaction.

use crate::db::{Db, FromRow, InsertShape, Sql, Value};
use crate::error::{ApiError, FieldErrors};
use crate::tx::Tx;
use crate::validate::{Assignment, Kind, Table};

/// What the row write was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Insert,
    Update,
    Delete,
}

/// Where a write runs: the pool, or a hooked write's transaction.
pub(crate) trait Exec: Send {
    /// Whether a failed statement leaves later ones usable. On the pool it does, so a
    /// write is sent at once and its references are looked up only when the database
    /// refuses it (one round trip per write instead of one per reference more). In a
    /// transaction a failed statement aborts the transaction on PostgreSQL, so the
    /// references are checked first.
    const CHECK_AFTER_FAILURE: bool;

    fn fetch_one_opt<T: FromRow + Send + 'static>(
        &mut self,
        sql: Sql,
        args: &[Value],
    ) -> impl Future<Output = Result<Option<T>, sqlx::Error>> + Send;
    /// A single-row `INSERT … RETURNING` of `shape`.
    fn insert_one_opt<T: FromRow + Send + 'static>(
        &mut self,
        shape: InsertShape,
        sql: Sql,
        args: &[Value],
    ) -> impl Future<Output = Result<Option<T>, sqlx::Error>> + Send;
    fn run(
        &mut self,
        sql: Sql,
        args: &[Value],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
}

impl Exec for &Db {
    const CHECK_AFTER_FAILURE: bool = true;
    async fn fetch_one_opt<T: FromRow + Send + 'static>(
        &mut self,
        sql: Sql,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        self.fetch_optional(sql, args).await
    }
    async fn insert_one_opt<T: FromRow + Send + 'static>(
        &mut self,
        shape: InsertShape,
        sql: Sql,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        self.insert_fetch(shape, sql, args).await
    }
    async fn run(&mut self, sql: Sql, args: &[Value]) -> Result<u64, sqlx::Error> {
        self.write_execute(sql, args).await
    }
}

impl Exec for &mut Tx {
    const CHECK_AFTER_FAILURE: bool = false;
    async fn fetch_one_opt<T: FromRow + Send + 'static>(
        &mut self,
        sql: Sql,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        self.fetch_optional(sql, args).await
    }
    async fn insert_one_opt<T: FromRow + Send + 'static>(
        &mut self,
        _shape: InsertShape,
        sql: Sql,
        args: &[Value],
    ) -> Result<Option<T>, sqlx::Error> {
        self.fetch_optional(sql, args).await
    }
    async fn run(&mut self, sql: Sql, args: &[Value]) -> Result<u64, sqlx::Error> {
        self.execute(sql, args).await
    }
}

/// `INSERT`; the new row's id.
pub(crate) async fn insert_on<E: Exec>(
    db: E,
    table: &Table,
    values: Vec<Assignment>,
) -> Result<i64, ApiError> {
    insert_returning_on(db, table, values, "id").await
}

/// `INSERT … RETURNING <columns>`: the new row as `T` reads those columns, in one
/// statement (`columns` is the generated code's column list, never user input).
pub(crate) async fn insert_returning_on<E: Exec, T: FromRow + Send + 'static>(
    mut db: E,
    table: &Table,
    values: Vec<Assignment>,
    columns: &'static str,
) -> Result<T, ApiError> {
    if !E::CHECK_AFTER_FAILURE {
        check_references(&mut db, &values).await?;
    }
    let shape = InsertShape {
        table: table.name,
        columns: values.iter().map(|a| a.field.name).collect(),
        returning: columns,
    };
    let sql = if values.is_empty() {
        format!(
            "INSERT INTO {} DEFAULT VALUES RETURNING {columns}",
            table.name
        )
    } else {
        let params: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING {columns}",
            table.name,
            shape.columns.join(", "),
            params.join(", ")
        )
    };
    let args: Vec<Value> = values.iter().map(|a| a.value.clone()).collect();
    match db.insert_one_opt::<T>(shape, sql.into(), &args).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(ApiError::Internal("INSERT … RETURNING gave no row".into())),
        Err(e) => Err(refused(&mut db, table, &values, Write::Insert, e).await),
    }
}

/// Which rows a write or a lookup may reach: those whose owner column holds the
/// caller's value (an owned route), as a condition of the statement itself.
#[derive(Debug, Clone, Copy)]
pub struct Owned<'a> {
    /// The owner's column.
    pub column: &'static str,
    /// The caller's owner value.
    pub owner: &'a str,
}

/// ` AND <column> = $n` and its argument, for a statement with `n - 1` arguments.
fn owned_condition(scope: Option<Owned<'_>>, n: usize, args: &mut Vec<Value>) -> String {
    match scope {
        Some(s) => {
            args.push(Value::Text(s.owner.to_string()));
            format!(" AND {} = ${n}", s.column)
        }
        None => String::new(),
    }
}

/// `UPDATE` of the given columns of row `id` (of the caller's rows, when `scope` says
/// so); false when there is no such row.
pub(crate) async fn update_on<E: Exec>(
    mut db: E,
    table: &Table,
    id: i64,
    values: Vec<Assignment>,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    if values.is_empty() {
        return exists_on(db, table, id, scope).await;
    }
    if !E::CHECK_AFTER_FAILURE {
        check_references(&mut db, &values).await?;
    }
    let sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{} = ${}", a.field.name, i + 1))
        .collect();
    let mut args: Vec<Value> = values.iter().map(|a| a.value.clone()).collect();
    args.push(Value::Int(id));
    let owned = owned_condition(scope, values.len() + 2, &mut args);
    let sql = format!(
        "UPDATE {} SET {} WHERE id = ${}{owned}",
        table.name,
        sets.join(", "),
        values.len() + 1
    );
    match db.run(sql.into(), &args).await {
        Ok(n) => Ok(n > 0),
        Err(e) => Err(refused(&mut db, table, &values, Write::Update, e).await),
    }
}

/// `DELETE` of row `id` (of the caller's rows, when `scope` says so); false when
/// there is no such row.
pub(crate) async fn delete_on<E: Exec>(
    mut db: E,
    table: &Table,
    id: i64,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    let mut args = vec![Value::Int(id)];
    let owned = owned_condition(scope, 2, &mut args);
    let sql = format!("DELETE FROM {} WHERE id = $1{owned}", table.name);
    match db.run(sql.into(), &args).await {
        Ok(n) => Ok(n > 0),
        Err(e) => Err(write_error(table, &[], Write::Delete, e)),
    }
}

/// Whether row `id` of `table` exists.
pub(crate) async fn exists_on<E: Exec>(
    mut db: E,
    table: &Table,
    id: i64,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    let mut args = vec![Value::Int(id)];
    let owned = owned_condition(scope, 2, &mut args);
    let sql = format!("SELECT id FROM {} WHERE id = $1{owned}", table.name);
    Ok(db.fetch_one_opt::<i64>(sql.into(), &args).await?.is_some())
}

/// 422 for every foreign key that points at no row (one query per reference set).
async fn check_references<E: Exec>(db: &mut E, values: &[Assignment]) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    for a in values {
        if let (Kind::Reference { table, singular }, Value::Int(id)) = (&a.field.kind, &a.value) {
            let sql = format!("SELECT id FROM {table} WHERE id = $1");
            if db
                .fetch_one_opt::<i64>(sql.into(), &[Value::Int(*id)])
                .await?
                .is_none()
            {
                errors.insert(
                    a.field.name.to_string(),
                    vec![format!("{singular} {id} does not exist")],
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// The answer to a refused insert or update. A foreign key to a missing row on the
/// pool is looked up now, so the 422 names each missing reference with its id, as
/// the check before the write in a transaction does.
async fn refused<E: Exec>(
    db: &mut E,
    table: &Table,
    values: &[Assignment],
    write: Write,
    error: sqlx::Error,
) -> ApiError {
    let answer = write_error(table, values, write, error);
    if E::CHECK_AFTER_FAILURE
        && matches!(answer, ApiError::Invalid(_))
        && values
            .iter()
            .any(|a| matches!(a.field.kind, Kind::Reference { .. }))
        && let Err(detailed) = check_references(db, values).await
    {
        return detailed;
    }
    answer
}

fn write_error(table: &Table, values: &[Assignment], write: Write, error: sqlx::Error) -> ApiError {
    let Some(db_error) = error.as_database_error() else {
        return error.into();
    };
    let message = db_error.message().to_string();
    let constraint = db_error.constraint().unwrap_or_default().to_string();
    let kind = match db_error.kind() {
        // SQLite reports `ON DELETE RESTRICT` as a trigger constraint (code 1811).
        sqlx::error::ErrorKind::Other if message.contains("FOREIGN KEY constraint failed") => {
            sqlx::error::ErrorKind::ForeignKeyViolation
        }
        kind => kind,
    };
    match kind {
        sqlx::error::ErrorKind::UniqueViolation => {
            let mut fields = FieldErrors::new();
            for field in table.fields.iter().filter(|f| f.unique) {
                let sqlite = format!("{}.{}", table.name, field.name);
                let postgres = format!("{}_{}_key", table.name, field.name);
                if message.contains(&sqlite) || constraint == postgres {
                    fields.insert(field.name.to_string(), vec!["is already taken".into()]);
                }
            }
            ApiError::Conflict {
                message: format!("a {} with these values already exists", table.singular),
                fields,
            }
        }
        sqlx::error::ErrorKind::ForeignKeyViolation if write == Write::Delete => {
            ApiError::Conflict {
                message: format!(
                    "this {} is still referenced by other records",
                    table.singular
                ),
                fields: FieldErrors::new(),
            }
        }
        sqlx::error::ErrorKind::ForeignKeyViolation => {
            let mut fields = FieldErrors::new();
            for a in values {
                if let Kind::Reference { singular, .. } = a.field.kind {
                    fields.insert(
                        a.field.name.to_string(),
                        vec![format!("{singular} does not exist")],
                    );
                }
            }
            ApiError::Invalid(fields)
        }
        sqlx::error::ErrorKind::NotNullViolation | sqlx::error::ErrorKind::CheckViolation => {
            ApiError::Invalid(FieldErrors::from([(
                "body".to_string(),
                vec![format!("is rejected by the database: {message}")],
            )]))
        }
        _ => error.into(),
    }
}
