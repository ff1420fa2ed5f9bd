//! Writing one row, and the success responses.
//!
//! [`insert`], [`update`] and [`delete`] are what generated handlers call: a table
//! with hooks writes through [`crate::hooks`] (a transaction around its hooks), any
//! other straight on the pool. Either way the row's SQL, and the answers to database
//! errors, come from the crate's `write` module.

use crate::db::Db;
use crate::error::ApiError;
use crate::validate::{Assignment, Table};
use crate::write::{Owned, delete_on, exists_on, insert_on, update_on};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::SerializeMap;

/// Inserts a row; returns its id. A table with hooks writes in a transaction around
/// its "before" hook, and runs its "after" hook once committed ([`crate::hooks`]).
pub async fn insert(db: &Db, table: &Table, values: Vec<Assignment>) -> Result<i64, ApiError> {
    if let Some(hooks) = crate::hooks::of(table) {
        return crate::hooks::insert(db, table, hooks, values).await;
    }
    insert_on(db, table, values).await
}

/// Updates the given columns of row `id`; false when there is no such row.
pub async fn update(
    db: &Db,
    table: &Table,
    id: i64,
    values: Vec<Assignment>,
) -> Result<bool, ApiError> {
    update_scoped(db, table, id, values, None).await
}

/// Updates the given columns of row `id` if its owner column holds `owner` (an owned
/// route); false when the caller has no such row.
pub async fn update_owned(
    db: &Db,
    table: &Table,
    id: i64,
    values: Vec<Assignment>,
    column: &'static str,
    owner: &str,
) -> Result<bool, ApiError> {
    update_scoped(db, table, id, values, Some(Owned { column, owner })).await
}

async fn update_scoped(
    db: &Db,
    table: &Table,
    id: i64,
    values: Vec<Assignment>,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    if let Some(hooks) = crate::hooks::of(table) {
        return crate::hooks::update(db, table, hooks, id, values, scope).await;
    }
    update_on(db, table, id, values, scope).await
}

/// Deletes row `id`; false when there is no such row.
pub async fn delete(db: &Db, table: &Table, id: i64) -> Result<bool, ApiError> {
    delete_scoped(db, table, id, None).await
}

/// Deletes row `id` if its owner column holds `owner` (an owned route); false when
/// the caller has no such row.
pub async fn delete_owned(
    db: &Db,
    table: &Table,
    id: i64,
    column: &'static str,
    owner: &str,
) -> Result<bool, ApiError> {
    delete_scoped(db, table, id, Some(Owned { column, owner })).await
}

async fn delete_scoped(
    db: &Db,
    table: &Table,
    id: i64,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    if let Some(hooks) = crate::hooks::of(table) {
        return crate::hooks::delete(db, table, hooks, id, scope).await;
    }
    delete_on(db, table, id, scope).await
}

/// 404 unless row `id` of `table` exists (the parent of a nested route).
pub async fn exists(db: &Db, table: &Table, id: i64) -> Result<(), ApiError> {
    exists_scoped(db, table, id, None).await
}

/// 404 unless row `id` of `table` exists and its owner column holds `owner` (the
/// owned parent of a nested route: another user's parent is not found).
pub async fn exists_owned(
    db: &Db,
    table: &Table,
    id: i64,
    column: &'static str,
    owner: &str,
) -> Result<(), ApiError> {
    exists_scoped(db, table, id, Some(Owned { column, owner })).await
}

/// 404 unless row `id` of `table` is among the rows `scope` reaches.
async fn exists_scoped(
    db: &Db,
    table: &Table,
    id: i64,
    scope: Option<Owned<'_>>,
) -> Result<(), ApiError> {
    if exists_on(db, table, id, scope).await? {
        Ok(())
    } else {
        Err(table.not_found(id))
    }
}

/// `{"<key>": value}` as one JSON object, without building a map.
struct Wrapped<'a, T: ?Sized> {
    key: &'a str,
    value: &'a T,
}

impl<T: Serialize + ?Sized> Serialize for Wrapped<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, self.value)?;
        map.end()
    }
}

fn json_response<T: Serialize + ?Sized>(
    status: StatusCode,
    key: &str,
    value: &T,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&Wrapped { key, value })
        .map_err(|e| ApiError::Internal(format!("cannot serialise the response: {e}")))?;
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `200 {"<key>": value}`.
pub fn ok<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Response, ApiError> {
    json_response(StatusCode::OK, key, value)
}

/// `201 {"<singular>": value}` with `Location: /<plural>/<id>`.
pub fn created<T: Serialize + ?Sized>(
    table: &Table,
    id: i64,
    value: &T,
) -> Result<Response, ApiError> {
    let mut response = json_response(StatusCode::CREATED, table.singular, value)?;
    let location = format!("{}/{id}", table.path);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `204`, no body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
