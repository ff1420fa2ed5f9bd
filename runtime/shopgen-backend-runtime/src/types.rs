//! Value types of generated row and JSON structs that need a fixed JSON form.
//!
//! Decimals are [`rust_decimal::Decimal`] serialised as exact strings (`"83.84"`),
//! timestamps RFC 3339 in UTC with microseconds, dates `YYYY-MM-DD`, UUIDs hyphenated.

pub use rust_decimal::Decimal;
pub use uuid::Uuid;

use serde::{Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time, kept in UTC with microsecond precision (what PostgreSQL stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// Normalises to UTC and truncates to microseconds, so both engines agree.
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let micros = utc.nanosecond() / 1_000 * 1_000;
        Timestamp(utc.replace_nanosecond(micros).unwrap_or(utc))
    }

    pub fn now() -> Self {
        Timestamp::new(OffsetDateTime::now_utc())
    }

    /// Parses RFC 3339 (`2024-05-01T12:00:00Z`, any offset).
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(Timestamp::new)
    }

    /// Fixed-width RFC 3339 in UTC (`2024-05-01T12:00:00.000000Z`): sorts as text in
    /// the order of time, which is how SQLite stores it.
    pub fn to_text(self) -> String {
        let t = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_text())
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub time::Date);

impl Date {
    pub fn parse(text: &str) -> Option<Self> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        if text.len() != 10 {
            return None;
        }
        time::Date::parse(text, &format).ok().map(Date)
    }

    pub fn today() -> Self {
        Date(OffsetDateTime::now_utc().date())
    }

    pub fn to_text(self) -> String {
        let d = self.0;
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_normalise_to_utc_micros() {
        let t = Timestamp::parse("2024-05-01T14:00:00.1234567+02:00").expect("valid");
        assert_eq!(t.to_text(), "2024-05-01T12:00:00.123456Z");
        assert!(Timestamp::parse("2024-05-01").is_none());
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            Date::parse("2024-02-29").map(Date::to_text).as_deref(),
            Some("2024-02-29")
        );
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2024-2-1").is_none());
    }
}
