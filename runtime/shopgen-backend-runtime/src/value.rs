//! Engine-neutral values bound to `$n` placeholders, and the SQL text type.
//!
//! A leaf module: [`crate::db`] binds these through sqlx, `sqlite_read` through
//! rusqlite.

use crate::types::{Date, Decimal, Timestamp, Uuid};
use std::borrow::Cow;

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL; PostgreSQL wants to know its type.
    Null(SqlType),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Already at the column's scale.
    Decimal {
        value: Decimal,
        precision: u32,
    },
    Timestamp(Timestamp),
    Date(Date),
    Uuid(Uuid),
}

/// The type of a [`Value::Null`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Bool,
    Int,
    Float,
    Text,
    Decimal { precision: u32 },
    Timestamp,
    Date,
    Uuid,
}

/// Decimals up to this precision are scaled integers in SQLite.
pub(crate) const SQLITE_INTEGER_DECIMAL_PRECISION: u32 = 18;

/// SQL text: a literal from generated code, or built per request by the runtime from
/// identifiers the spec declared (never from request input, which is always bound).
pub type Sql = Cow<'static, str>;
