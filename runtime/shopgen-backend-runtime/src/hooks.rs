//! Resource hooks: the extension crate's methods around a table's writes.
//!
//! A generated backend whose spec lists `hooks` registers them at start
//! ([`register`]), one [`TableHooks`] per table. [`crate::crud`]'s `insert`, `update`
//! and `delete` then hand a hooked table's write to this module, which runs it like
//! this (the row's SQL itself comes from the crate's `write` module):
//!
//! 1. open a transaction (`BEGIN IMMEDIATE` on SQLite);
//! 2. update/delete: 404 (`false`) if the row does not exist, before any hook runs;
//! 3. the "before" hook, with the transaction and the [`Record`]: it may change the
//!    record (each change checked against the field's rules), write through the
//!    transaction, or fail (any [`ApiError`]: the transaction rolls back and the
//!    client gets that error); a panic is a 500 naming the request id;
//! 4. the write, in the transaction; commit;
//! 5. the "after" hook, with the pool: its failure or panic is logged, and the client
//!    still gets the success it is owed.
//!
//! Tables without hooks take none of this path.

use crate::db::Db;
use crate::error::ApiError;
use crate::extension::{Context, HookContext, Record, RequestId, after, current_request_id, guard};
use crate::validate::{Assignment, Table};
use crate::write::{Owned, delete_on, exists_on, insert_on, update_on};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// A boxed future borrowing its hook's arguments.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>>;

/// A "before" hook: the open write and the record it is about to write.
pub type BeforeHook = for<'a> fn(&'a mut HookContext, &'a mut Record) -> HookFuture<'a>;

/// An "after" hook: the committed row's id.
pub type AfterHook = for<'a> fn(&'a Context, i64) -> HookFuture<'a>;

/// The hooks of one table; `None` where the spec lists none.
#[derive(Debug, Clone, Copy)]
pub struct TableHooks {
    /// SQL table name, as in [`Table::name`].
    pub table: &'static str,
    pub before_create: Option<(&'static str, BeforeHook)>,
    pub before_update: Option<(&'static str, BeforeHook)>,
    pub before_delete: Option<(&'static str, BeforeHook)>,
    pub after_create: Option<(&'static str, AfterHook)>,
    pub after_update: Option<(&'static str, AfterHook)>,
    pub after_delete: Option<(&'static str, AfterHook)>,
}

static HOOKS: OnceLock<&'static [TableHooks]> = OnceLock::new();

/// Registers the service's hooks; called once by a generated `main` before serving.
pub fn register(hooks: &'static [TableHooks]) {
    let _ = HOOKS.set(hooks);
}

/// The hooks of `table`, if it has any.
pub(crate) fn of(table: &Table) -> Option<&'static TableHooks> {
    HOOKS.get()?.iter().find(|h| h.table == table.name)
}

fn context(db: &Db, source: &'static str) -> Context {
    Context::new(db.clone(), RequestId(current_request_id()), source)
}

/// Runs a before hook, panics caught.
async fn before(
    cx: &mut HookContext,
    record: &mut Record,
    hook: Option<(&'static str, BeforeHook)>,
) -> Result<(), ApiError> {
    let Some((source, hook)) = hook else {
        return Ok(());
    };
    cx.set_source(source);
    let request_id = cx.request_id().to_string();
    guard(&request_id, source, hook(cx, record)).await
}

async fn run_after(context: Context, id: i64, hook: Option<(&'static str, AfterHook)>) {
    if let Some((source, hook)) = hook {
        let context = context.for_source(source);
        after(&context, hook(&context, id)).await;
    }
}

/// `INSERT` with hooks; the new id.
pub(crate) async fn insert(
    db: &Db,
    table: &Table,
    hooks: &TableHooks,
    values: Vec<Assignment>,
) -> Result<i64, ApiError> {
    let mut cx = HookContext::begin(context(db, "")).await?;
    let mut record = Record::new(table, None, values);
    before(&mut cx, &mut record, hooks.before_create).await?;
    let id = insert_on(cx.tx(), table, record.into_values()).await?;
    let context = cx.commit().await?;
    run_after(context, id, hooks.after_create).await;
    Ok(id)
}

/// `UPDATE` with hooks; false when there is no such row (no hook ran).
pub(crate) async fn update(
    db: &Db,
    table: &Table,
    hooks: &TableHooks,
    id: i64,
    values: Vec<Assignment>,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    let mut cx = HookContext::begin(context(db, "")).await?;
    if !exists_on(cx.tx(), table, id, scope).await? {
        return Ok(false);
    }
    let mut record = Record::new(table, Some(id), values);
    before(&mut cx, &mut record, hooks.before_update).await?;
    if !update_on(cx.tx(), table, id, record.into_values(), scope).await? {
        return Ok(false);
    }
    let context = cx.commit().await?;
    run_after(context, id, hooks.after_update).await;
    Ok(true)
}

/// `DELETE` with hooks; false when there is no such row (no hook ran).
pub(crate) async fn delete(
    db: &Db,
    table: &Table,
    hooks: &TableHooks,
    id: i64,
    scope: Option<Owned<'_>>,
) -> Result<bool, ApiError> {
    let mut cx = HookContext::begin(context(db, "")).await?;
    if !exists_on(cx.tx(), table, id, scope).await? {
        return Ok(false);
    }
    let mut record = Record::new(table, Some(id), Vec::new());
    before(&mut cx, &mut record, hooks.before_delete).await?;
    if !delete_on(cx.tx(), table, id, scope).await? {
        return Ok(false);
    }
    let context = cx.commit().await?;
    run_after(context, id, hooks.after_delete).await;
    Ok(true)
}
