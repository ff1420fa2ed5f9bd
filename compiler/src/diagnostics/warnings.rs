//! Warnings: what a spec may say, but its author probably did not mean.
//!
//! A warning never stops a command: `build` still writes, `check` and `lint` still
//! pass. Each is a [`Lint`], named like rustc's (`warning[guessed_plural]`), printed
//! before the command's own output with `file:line:col`, the item path and a hint, as
//! errors are ([`super::render_warnings`]). docs/spec.md ("Warnings") lists them; the
//! check stage finds them (`check::lints`).

use std::ops::Range;

/// A kind of warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lint {
    /// A resource's plural is shopgen's guess, and English writes it otherwise.
    GuessedPlural,
    /// `service.database_acquire_timeout_ms` leaves statements less than half of the
    /// request timeout.
    ShortStatementTimeout,
}

impl Lint {
    /// Every lint, in the order docs/spec.md lists them.
    pub const ALL: &[Lint] = &[Lint::GuessedPlural, Lint::ShortStatementTimeout];

    /// The name a warning is shown with: `warning[guessed_plural]`.
    pub fn name(self) -> &'static str {
        match self {
            Lint::GuessedPlural => "guessed_plural",
            Lint::ShortStatementTimeout => "short_statement_timeout",
        }
    }
}

/// One warning about a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub lint: Lint,
    pub message: String,
    /// Byte range in the spec source.
    pub span: Range<usize>,
    /// Dotted item path (`resources.shelf`).
    pub path: String,
    pub hint: String,
}
