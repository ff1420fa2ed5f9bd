//! Creates that answer with the new row: `INSERT … RETURNING` its columns.
//!
//! A generated `POST /<plural>` or `POST /<parents>/{id}/<plural>` answers 201 with
//! the row as the API shows it. [`insert_row`] and [`insert_child_row`] write it and
//! read it back in one statement (`RETURNING` the generated row struct's columns),
//! instead of an insert and a `SELECT` by id: one round trip to the database per
//! create, and on SQLite the row comes back from the group commit ([`crate::db`])
//! that made it durable. A nested create's parent that does not exist is 404 before
//! any 422, and the database's refusals get the same answers as [`crate::crud`]'s.
//!
//! A table with hooks writes through [`crate::hooks`] and reads its row back after
//! the commit and the "after" hook, as before: that hook may have changed the row.

use crate::crud::exists;
use crate::db::{Db, FromRow, Row, Value};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::idempotency::Earlier;
use crate::validate::{Assignment, Mode, Table};
use crate::write::{exists_on, insert_returning_on};

/// Inserts a row and returns it as `T`, which reads `columns` (the generated code's
/// column list of its row struct, `id` first).
pub async fn insert_row<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    values: Vec<Assignment>,
    columns: &'static str,
) -> Result<T, ApiError> {
    insert_row_with(db, table, values, columns, &[]).await
}

/// [`insert_row`] of a row whose `fixed` columns the route sets (its owner).
async fn insert_row_with<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    values: Vec<Assignment>,
    columns: &'static str,
    fixed: &[(&'static str, Value)],
) -> Result<T, ApiError> {
    if let Some(hooks) = crate::hooks::of(table) {
        let id = crate::hooks::insert(db, table, hooks, values).await?;
        return read_back(db, table, columns, id, &[]).await;
    }
    if let Some(answer) = keyed(db, table, &values, columns, None, fixed).await {
        return answer;
    }
    insert_returning_on(db, table, values, columns).await
}

/// Inserts a row owned by the caller (an owned route's `POST`): the owner `column`
/// is set to `owner`, the value of the caller's verified token; an owner in the body
/// is ignored, never stored.
pub async fn insert_owned_row<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    body: JsonBody,
    column: &'static str,
    owner: &str,
    columns: &'static str,
) -> Result<T, ApiError> {
    let fixed = [(column, Value::Text(owner.to_string()))];
    let values = table.validate_with(body, Mode::Create, &fixed)?;
    insert_row_with(db, table, values, columns, &fixed).await
}

/// Creates a row of `table` under row `parent_id` of `parent` (`POST
/// /parents/{id}/children`, foreign key `column` set to the parent) and returns it as
/// `T`. A parent that does not exist is 404, whatever the body: on the pool it is
/// looked up only when the body is invalid or the foreign key refuses the write, so a
/// valid create is one statement.
pub async fn insert_child_row<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    body: JsonBody,
    parent: &Table,
    column: &'static str,
    parent_id: i64,
    columns: &'static str,
) -> Result<T, ApiError> {
    let fixed = [(column, Value::Int(parent_id))];
    insert_child_with(db, table, body, parent, &fixed, parent_id, columns).await
}

/// [`insert_child_row`] of an owned table: the new row's owner `owner_column` is
/// `owner`, the caller's (an owner in the body is ignored).
#[allow(clippy::too_many_arguments)]
pub async fn insert_owned_child_row<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    body: JsonBody,
    parent: &Table,
    column: &'static str,
    parent_id: i64,
    owner_column: &'static str,
    owner: &str,
    columns: &'static str,
) -> Result<T, ApiError> {
    let fixed = [
        (column, Value::Int(parent_id)),
        (owner_column, Value::Text(owner.to_string())),
    ];
    insert_child_with(db, table, body, parent, &fixed, parent_id, columns).await
}

/// A nested create with `fixed` columns, the parent's foreign key first.
async fn insert_child_with<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    body: JsonBody,
    parent: &Table,
    fixed: &[(&'static str, Value)],
    parent_id: i64,
    columns: &'static str,
) -> Result<T, ApiError> {
    let column = fixed[0].0;
    let values = match table.validate_with(body, Mode::Create, fixed) {
        Ok(values) => values,
        Err(invalid) => {
            exists(db, parent, parent_id).await?;
            return Err(invalid);
        }
    };
    if crate::hooks::of(table).is_some() {
        exists(db, parent, parent_id).await?;
        return insert_row(db, table, values, columns).await;
    }
    let under = Some((parent, parent_id));
    if let Some(answer) = keyed(db, table, &values, columns, under, fixed).await {
        return answer;
    }
    match insert_returning_on(db, table, values, columns).await {
        Err(ApiError::Invalid(fields)) if fields.contains_key(column) => {
            exists(db, parent, parent_id).await?;
            Err(ApiError::Invalid(fields))
        }
        other => other,
    }
}

/// The create of `values` into `table` (under row `parent.1` of `parent.0` for a
/// nested create; `fixed`: the columns the route sets, the parent's foreign key and
/// the owner) with the request's `Idempotency-Key`, when it sent one and this is its
/// first create ([`crate::idempotency`]): the row and the key in one transaction, or
/// the row an earlier request with the key created, while it is still the route's
/// (under that parent, that caller's). `None` without a key.
async fn keyed<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    values: &[Assignment],
    columns: &'static str,
    parent: Option<(&Table, i64)>,
    fixed: &[(&'static str, Value)],
) -> Option<Result<T, ApiError>> {
    let key = crate::idempotency::take(|| {
        crate::identity::current_caller()
            .map(|c| format!("{}:{}", c.provider(), c.subject()))
            .unwrap_or_default()
    })?;
    Some(
        async {
            let key = key?;
            // Twice at most: a key deleted between this request's claim and its
            // look-up (by the sweep, at the end of its day) is claimed once more.
            for _ in 0..2 {
                let mut tx = db.begin().await?;
                if key.claim(&mut tx).await? {
                    if let Some((parent, id)) = parent
                        && !exists_on(&mut tx, parent, id, None).await?
                    {
                        return Err(parent.not_found(id));
                    }
                    let WithId(id, row) = insert_returning_on::<_, WithId<T>>(
                        &mut tx,
                        table,
                        values.to_vec(),
                        columns,
                    )
                    .await?;
                    key.created(&mut tx, id).await?;
                    tx.commit().await?;
                    crate::idempotency::forget_expired(db);
                    return Ok(row);
                }
                drop(tx);
                if let Earlier::Created(id) = key.earlier(db).await? {
                    let row = read_back(db, table, columns, id, fixed).await?;
                    key.replayed();
                    return Ok(row);
                }
            }
            Err(ApiError::Conflict {
                message: "the Idempotency-Key is being used by another request; send it again"
                    .into(),
                fields: Default::default(),
            })
        }
        .await,
    )
}

/// A row as `T` reads it, with its `id`: the first of a generated column list.
struct WithId<T>(i64, T);

impl<T: FromRow> FromRow for WithId<T> {
    fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
        Ok(WithId(row.get(0)?, T::from_row(row)?))
    }
}

/// Row `id` of `table` as `T`, while its `fixed` columns still hold those values (a
/// hooked create's row after its "after" hook; the row a repeated create made).
async fn read_back<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    columns: &str,
    id: i64,
    fixed: &[(&'static str, Value)],
) -> Result<T, ApiError> {
    let mut sql = format!("SELECT {columns} FROM {} WHERE id = $1", table.name);
    let mut args = vec![Value::Int(id)];
    for (column, value) in fixed {
        args.push(value.clone());
        sql.push_str(&format!(" AND {column} = ${}", args.len()));
    }
    db.fetch_optional::<T>(sql, &args)
        .await?
        .ok_or_else(|| table.not_found(id))
}
