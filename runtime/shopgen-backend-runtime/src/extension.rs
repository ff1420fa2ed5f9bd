//! What the user-owned extension crate's code runs with, and how the generated code
//! calls it.
//!
//! A spec's `[operations.NAME]` and resources' `hooks` are methods of a trait the
//! generated `<stem>-api` crate declares and the user's `<stem>-extension` crate
//! implements. The generated backend calls them through this module:
//!
//! - [`Context`]: what an operation (and an "after" hook) gets: the database pool, the
//!   request id, a [`Logger`] whose lines carry both, and the verified [`Caller`] on
//!   routes that take a user token;
//! - [`HookContext`]: what a "before" hook gets: the same, plus the write's open
//!   transaction ([`Tx`]);
//! - [`Record`]: the row a "before" hook may change (every change is checked against
//!   the field's rules) or reject;
//! - [`Inputs`]: path, query and body values checked against the spec's field rules
//!   (404 / 400 / 422) before the method runs, then taken out typed ([`FromValue`]);
//! - [`guard`] and [`after`]: a panic in user code becomes a 500 naming the request id
//!   (never a dead worker); an "after" hook's failure is logged and the write stands.

use crate::db::{Db, Value};
use crate::error::{ApiError, FieldErrors};
use crate::extract::JsonBody;
pub use crate::identity::Caller;
use crate::tx::Tx;
use crate::types::{Date, Decimal, Timestamp, Uuid};
use crate::validate::{Assignment, FieldSpec, Mode, Table};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// The request's id (`X-Request-Id`: the client's when sane, else a fresh UUID), as
/// the server put it on the request; also on every log line and the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(current_request_id()))
    }
}

/// Log lines from user code: JSON like every other line of the service, with the
/// request id and the operation or hook they come from.
#[derive(Debug, Clone)]
pub struct Logger {
    request_id: String,
    source: &'static str,
}

impl Logger {
    pub fn info(&self, message: impl Display) {
        tracing::info!(request_id = %self.request_id, extension = self.source, "{message}");
    }
    pub fn warn(&self, message: impl Display) {
        tracing::warn!(request_id = %self.request_id, extension = self.source, "{message}");
    }
    pub fn error(&self, message: impl Display) {
        tracing::error!(request_id = %self.request_id, extension = self.source, "{message}");
    }
}

/// What an operation or an "after" hook runs with.
#[derive(Debug, Clone)]
pub struct Context {
    db: Db,
    request_id: String,
    log: Logger,
    caller: Option<std::sync::Arc<Caller>>,
}

impl Context {
    /// `source` names the operation or hook (`rating_summary`, `review.after_create`).
    pub fn new(db: Db, request_id: RequestId, source: &'static str) -> Self {
        // Extension code's writes never use the request's `Idempotency-Key`.
        crate::idempotency::decline();
        Context {
            db,
            log: Logger {
                request_id: request_id.0.clone(),
                source,
            },
            request_id: request_id.0,
            caller: crate::identity::current_caller(),
        }
    }
    /// The caller whose user token the backend verified, on a route or operation
    /// whose `auth` takes one; `None` elsewhere (see [`crate::identity`]).
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_deref()
    }
    /// The same context with another caller: for extension crates' own tests.
    pub fn with_caller(mut self, caller: Option<Caller>) -> Context {
        self.caller = caller.map(std::sync::Arc::new);
        self
    }
    /// The connection pool (SQLite or PostgreSQL; see [`Db::engine`]).
    pub fn db(&self) -> &Db {
        &self.db
    }
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
    pub fn log(&self) -> &Logger {
        &self.log
    }
    /// The same context for another source (an "after" hook of this request).
    pub fn for_source(&self, source: &'static str) -> Context {
        Context {
            db: self.db.clone(),
            request_id: self.request_id.clone(),
            log: Logger {
                request_id: self.request_id.clone(),
                source,
            },
            caller: self.caller.clone(),
        }
    }
}

/// What a "before" hook runs with: a [`Context`] and the write's transaction.
#[derive(Debug)]
pub struct HookContext {
    context: Context,
    tx: Tx,
}

impl HookContext {
    /// Opens the write's transaction.
    pub async fn begin(context: Context) -> Result<HookContext, ApiError> {
        let tx = context.db.begin().await?;
        Ok(HookContext { context, tx })
    }
    /// The write's transaction: what a hook reads here sees the write's snapshot, what
    /// it writes commits (or rolls back) with the write.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }
    pub fn db(&self) -> &Db {
        &self.context.db
    }
    pub fn request_id(&self) -> &str {
        &self.context.request_id
    }
    pub fn log(&self) -> &Logger {
        &self.context.log
    }
    /// The verified caller, as [`Context::caller`].
    pub fn caller(&self) -> Option<&Caller> {
        self.context.caller()
    }
    /// Commits; the context stays for the "after" hooks.
    pub async fn commit(self) -> Result<Context, ApiError> {
        self.tx.commit().await?;
        Ok(self.context)
    }
    /// The hook's source name changed, for the next hook of the same write.
    pub fn set_source(&mut self, source: &'static str) {
        self.context.log.source = source;
    }
}

/// The row a "before" hook sees: on create, every column the insert will write; on
/// update, the columns the request changes; on delete, none (only [`Record::id`]).
#[derive(Debug)]
pub struct Record {
    fields: &'static [FieldSpec],
    id: Option<i64>,
    values: Vec<Assignment>,
}

impl Record {
    pub fn new(table: &Table, id: Option<i64>, values: Vec<Assignment>) -> Self {
        Record {
            fields: table.fields,
            id,
            values,
        }
    }
    /// The columns to write, as the hooks left them.
    pub fn into_values(self) -> Vec<Assignment> {
        self.values
    }
    /// The row's id; `None` before a create.
    pub fn id(&self) -> Option<i64> {
        self.id
    }
    /// The value the write will store in `field`, if it writes that column.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|a| a.field.name == field)
            .map(|a| &a.value)
    }
    /// A text value (string, text, enum columns).
    pub fn text(&self, field: &str) -> Option<&str> {
        match self.get(field) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }
    /// An integer value (integer, bigint and foreign-key columns).
    pub fn int(&self, field: &str) -> Option<i64> {
        match self.get(field) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }
    /// Sets `field` to a JSON value, checked against the field's rules like a request
    /// body's (a value the field cannot hold is a 422 naming it).
    pub fn set(&mut self, field: &str, value: impl Into<Json>) -> Result<(), ApiError> {
        let fields: &'static [FieldSpec] = self.fields;
        let spec = fields
            .iter()
            .find(|f| f.name == field)
            .ok_or_else(|| ApiError::Internal(format!("a hook set the unknown field `{field}`")))?;
        let value = match value.into() {
            Json::Null if spec.required => {
                return Err(ApiError::invalid(field, "must not be null"));
            }
            Json::Null => Value::Null(spec.kind.sql_type()),
            other => spec
                .kind
                .check(&other)
                .map_err(|m| ApiError::invalid(field, m))?,
        };
        match self.values.iter_mut().find(|a| a.field.name == field) {
            Some(a) => a.value = value,
            None => self.values.push(Assignment { field: spec, value }),
        }
        Ok(())
    }
    /// A 422 naming `field`: the uniform error body, as if the field rules failed.
    pub fn reject(&self, field: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(field, message)
    }
}

/// The request a task serves: its id, and whether log lines written while serving it
/// name that id (see [`crate::logout::JsonLines`]).
struct RequestScope {
    id: HeaderValue,
    in_log: bool,
}

tokio::task_local! {
    /// The request this task serves (set by the server around each request; the
    /// header value itself, so setting it copies no bytes).
    static REQUEST: RequestScope;
}

/// Runs `work` with `id` as the current request id; with `in_log`, JSON log lines
/// written while it runs carry the id (as the `request` span's field).
pub(crate) async fn with_request_id<F: Future>(
    id: HeaderValue,
    in_log: bool,
    work: F,
) -> F::Output {
    REQUEST.scope(RequestScope { id, in_log }, work).await
}

/// The current request's id, `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST
        .try_with(|r| r.id.to_str().unwrap_or("-").to_string())
        .unwrap_or_else(|_| "-".to_string())
}

/// The id log lines written by the current task carry, if any (a cheap clone: the
/// header value shares its bytes).
pub(crate) fn logged_request_id() -> Option<HeaderValue> {
    REQUEST
        .try_with(|r| r.in_log.then(|| r.id.clone()))
        .ok()
        .flatten()
}

/// A route's path parameters, percent-decoded, by name; a path that does not fit
/// is a 404 like any unknown path.
#[derive(Debug, Clone)]
pub struct PathParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(params)) => Ok(PathParams(params)),
            Err(_) => Err(ApiError::NotFound("no such route".into())),
        }
    }
}

/// `200` with `value` as the JSON body (an operation's field-table output).
pub fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::Internal(format!("cannot serialise the response: {e}")))?;
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Runs user code; a panic becomes a logged 500 whose body names the request id.
pub async fn guard<T>(
    request_id: &str,
    source: &'static str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    // What user code answers may depend on more than the tables it reads (the clock,
    // another service, its own state), so the response cache never keeps it.
    crate::reads::record_unknown();
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic_message(&*panic);
            tracing::error!(request_id, extension = source, panic = %message, "extension code panicked");
            Err(ApiError::Panicked {
                request_id: request_id.to_string(),
            })
        }
    }
}

/// Runs an "after" hook: the write is committed, so a failure (an error or a panic)
/// is logged and the request still succeeds.
pub async fn after(context: &Context, work: impl Future<Output = Result<(), ApiError>>) {
    let source = context.log.source;
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(request_id = %context.request_id, extension = source, error = %error, "after-commit hook failed; the write stands");
        }
        Err(panic) => {
            let message = panic_message(&*panic);
            tracing::error!(request_id = %context.request_id, extension = source, panic = %message, "after-commit hook panicked; the write stands");
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Checked input values by name, taken out typed by the generated code.
#[derive(Debug, Default)]
pub struct Inputs {
    values: BTreeMap<&'static str, Value>,
}

impl Inputs {
    /// Path parameters: a value that breaks its rules names no resource, so 404.
    pub fn path(
        raw: &[(String, String)],
        fields: &'static [FieldSpec],
    ) -> Result<Inputs, ApiError> {
        let mut out = Inputs::default();
        for field in fields {
            let text = raw
                .iter()
                .find(|(k, _)| k == field.name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| ApiError::NotFound("no such route".into()))?;
            let value = field.parse_text(text).map_err(|message| {
                ApiError::NotFound(format!(
                    "`{text}` is not a valid `{}`: {message}",
                    field.name
                ))
            })?;
            out.values.insert(field.name, value);
        }
        Ok(out)
    }

    /// Query parameters: unknown, repeated, missing required or invalid ones are one
    /// 400 naming each.
    pub fn query(query: Option<&str>, fields: &'static [FieldSpec]) -> Result<Inputs, ApiError> {
        let mut out = Inputs::default();
        let mut errors = FieldErrors::new();
        let mut seen = std::collections::BTreeSet::new();
        for (key, text) in form_urlencoded(query.unwrap_or_default()) {
            let Some(field) = fields.iter().find(|f| f.name == key) else {
                errors
                    .entry(key.clone())
                    .or_default()
                    .push("is not a parameter of this operation".into());
                continue;
            };
            if !seen.insert(field.name) {
                errors
                    .entry(key)
                    .or_default()
                    .push("is given more than once".into());
                continue;
            }
            match field.parse_text(&text) {
                Ok(value) => {
                    out.values.insert(field.name, value);
                }
                Err(message) => errors.entry(key).or_default().push(message),
            }
        }
        for field in fields {
            if out.values.contains_key(field.name) {
                continue;
            }
            if let Some(default) = field.default {
                out.values
                    .insert(field.name, field.kind.default_value(default));
            } else if field.required {
                errors
                    .entry(field.name.to_string())
                    .or_default()
                    .push("is required".into());
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ApiError::BadQuery(errors))
        }
    }

    /// A JSON body, checked like a resource's create body against `table` (422 naming
    /// every failing field; absent optional fields take their default).
    pub fn body(body: JsonBody, table: &'static Table) -> Result<Inputs, ApiError> {
        let mut out = Inputs::default();
        for a in table.validate(body, Mode::Create)? {
            out.values.insert(a.field.name, a.value);
        }
        Ok(out)
    }

    /// The value of `name` as `T`; an absent value is `None` for `Option<T>`.
    pub fn take<T: FromValue>(&mut self, name: &str) -> Result<T, ApiError> {
        let value = self.values.remove(name);
        T::from_value(value).ok_or_else(|| {
            ApiError::Internal(format!("input `{name}` does not have its declared type"))
        })
    }
}

/// `a=1&b=x%20y` → pairs, percent- and `+`-decoded.
fn form_urlencoded(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Rust type an input value is taken out as.
pub trait FromValue: Sized {
    /// `None` when the value is absent, NULL (for a non-`Option`) or of another type.
    fn from_value(value: Option<Value>) -> Option<Self>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Option<Value>) -> Option<Self> {
        match value {
            None | Some(Value::Null(_)) => Some(None),
            some => T::from_value(some).map(Some),
        }
    }
}

macro_rules! from_value {
    ($t:ty, $($pat:pat => $e:expr),+) => {
        impl FromValue for $t {
            fn from_value(value: Option<Value>) -> Option<Self> {
                match value? {
                    $($pat => $e,)+
                    _ => None,
                }
            }
        }
    };
}

from_value!(i64, Value::Int(i) => Some(i));
from_value!(i32, Value::Int(i) => i32::try_from(i).ok());
from_value!(f64, Value::Float(f) => Some(f));
from_value!(bool, Value::Bool(b) => Some(b));
from_value!(String, Value::Text(s) => Some(s));
from_value!(Decimal, Value::Decimal { value, .. } => Some(value));
from_value!(Timestamp, Value::Timestamp(t) => Some(t));
from_value!(Date, Value::Date(d) => Some(d));
from_value!(Uuid, Value::Uuid(u) => Some(u));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        assert_eq!(
            form_urlencoded("a=1&b=x%20y+z&c"),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y z".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
