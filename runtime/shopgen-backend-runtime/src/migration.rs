//! The schema migrations a generated backend embeds, one list per engine.
//!
//! Plain data: the generated `main` declares them in its [`crate::server::Service`],
//! [`crate::db::Db::migrate`] applies them.

/// The schema migrations of each engine, in version order.
#[derive(Debug)]
pub struct Migrations {
    pub sqlite: &'static [Migration],
    pub postgres: &'static [Migration],
}

/// One migration file.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}
