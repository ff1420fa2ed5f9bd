//! One result row from either engine, and how generated row structs read it.
//!
//! A leaf module (besides the value types): [`crate::db`] hands out sqlx rows,
//! `sqlite_read` rusqlite rows; generated code reads both by column index.

use crate::types::{Date, Decimal, Timestamp, Uuid};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, ValueRef as _};

/// One result row from either engine.
pub enum Row<'r> {
    Sqlite(SqliteRow),
    Postgres(PgRow),
    /// A row of a `Reader` query, read in place.
    SqliteDirect(&'r rusqlite::Row<'r>),
}

/// A generated row struct: built from the columns of its `SELECT`, by index.
pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error>;
}

/// One row with a single id column (`RETURNING id`, `SELECT id`).
impl FromRow for i64 {
    fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
        row.get(0)
    }
}

impl Row<'_> {
    pub(crate) fn is_null(&self, index: usize) -> Result<bool, sqlx::Error> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get_raw(index)?.is_null(),
            Row::Postgres(r) => r.try_get_raw(index)?.is_null(),
            Row::SqliteDirect(r) => matches!(
                r.get_ref(index).map_err(|e| decode_error(index, e))?,
                rusqlite::types::ValueRef::Null
            ),
        })
    }

    /// A text column of SQLite (timestamps, dates and UUIDs are stored as text).
    fn sqlite_text(&self, index: usize) -> Result<String, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(index),
            Row::SqliteDirect(r) => r.get(index).map_err(|e| decode_error(index, e)),
            Row::Postgres(_) => Err(sqlx::Error::ColumnDecode {
                index: index.to_string(),
                source: "not a SQLite row".into(),
            }),
        }
    }

    /// The column at `index` as a Rust value (`Option<T>` for nullable columns).
    pub fn get<T: Column>(&self, index: usize) -> Result<T, sqlx::Error> {
        T::read(self, index)
    }

    /// A decimal column of the given scale.
    pub fn decimal(&self, index: usize, scale: u32) -> Result<Decimal, sqlx::Error> {
        let value = match self {
            Row::Sqlite(r) => match r.try_get::<i64, _>(index) {
                Ok(scaled) => Decimal::try_from_i128_with_scale(i128::from(scaled), scale)
                    .map_err(|e| decode_error(index, e))?,
                Err(_) => {
                    let text: String = r.try_get(index)?;
                    Decimal::from_str_exact(&text).map_err(|e| decode_error(index, e))?
                }
            },
            Row::SqliteDirect(r) => match r.get_ref(index).map_err(|e| decode_error(index, e))? {
                rusqlite::types::ValueRef::Integer(scaled) => {
                    Decimal::try_from_i128_with_scale(i128::from(scaled), scale)
                        .map_err(|e| decode_error(index, e))?
                }
                rusqlite::types::ValueRef::Text(text) => std::str::from_utf8(text)
                    .map_err(|e| decode_error(index, e))
                    .and_then(|t| Decimal::from_str_exact(t).map_err(|e| decode_error(index, e)))?,
                other => {
                    return Err(decode_error(
                        index,
                        BadText("decimal", format!("{:?}", other.data_type())),
                    ));
                }
            },
            Row::Postgres(r) => r.try_get::<Decimal, _>(index)?,
        };
        let mut value = value;
        value.rescale(scale);
        Ok(value)
    }

    /// A nullable decimal column.
    pub fn opt_decimal(&self, index: usize, scale: u32) -> Result<Option<Decimal>, sqlx::Error> {
        if self.is_null(index)? {
            Ok(None)
        } else {
            self.decimal(index, scale).map(Some)
        }
    }
}

fn decode_error(index: usize, e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: Box::new(e),
    }
}

/// A Rust type a column can be read as.
pub trait Column: Sized {
    fn read(row: &Row<'_>, index: usize) -> Result<Self, sqlx::Error>;
}

macro_rules! native_column {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn read(row: &Row<'_>, index: usize) -> Result<Self, sqlx::Error> {
                match row {
                    Row::Sqlite(r) => r.try_get(index),
                    Row::Postgres(r) => r.try_get(index),
                    Row::SqliteDirect(r) => r.get(index).map_err(|e| decode_error(index, e)),
                }
            }
        }
    )*};
}

native_column!(i32, i64, f64, bool, String);

impl Column for Timestamp {
    fn read(row: &Row<'_>, index: usize) -> Result<Self, sqlx::Error> {
        match row {
            Row::Sqlite(_) | Row::SqliteDirect(_) => {
                let text = row.sqlite_text(index)?;
                Timestamp::parse(&text)
                    .ok_or_else(|| decode_error(index, BadText("timestamp", text)))
            }
            Row::Postgres(r) => Ok(Timestamp::new(r.try_get(index)?)),
        }
    }
}

impl Column for Date {
    fn read(row: &Row<'_>, index: usize) -> Result<Self, sqlx::Error> {
        match row {
            Row::Sqlite(_) | Row::SqliteDirect(_) => {
                let text = row.sqlite_text(index)?;
                Date::parse(&text).ok_or_else(|| decode_error(index, BadText("date", text)))
            }
            Row::Postgres(r) => Ok(Date(r.try_get(index)?)),
        }
    }
}

impl Column for Uuid {
    fn read(row: &Row<'_>, index: usize) -> Result<Self, sqlx::Error> {
        match row {
            Row::Sqlite(_) | Row::SqliteDirect(_) => {
                let text = row.sqlite_text(index)?;
                Uuid::parse_str(&text).map_err(|e| decode_error(index, e))
            }
            Row::Postgres(r) => r.try_get(index),
        }
    }
}

impl<T: Column> Column for Option<T> {
    fn read(row: &Row<'_>, index: usize) -> Result<Self, sqlx::Error> {
        if row.is_null(index)? {
            Ok(None)
        } else {
            T::read(row, index).map(Some)
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stored {0} `{1}` cannot be read")]
struct BadText(&'static str, String);
