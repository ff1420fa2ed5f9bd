//! Which tables a request read: recorded by [`crate::db`] for every statement, collected
//! by the response cache around one handler.
//!
//! The table names come from the statement's text: the identifier after each `FROM` and
//! `JOIN`. Generated code and the runtime only write `SELECT … FROM table [WHERE …]`
//! (subqueries in parentheses have their own `FROM`); anything this cannot read with
//! certainty (a comma join, a table-valued function, a quoted name, a statement that is
//! not a `SELECT`) marks the request as not cacheable rather than guessing.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static READS: RefCell<Reads>;
}

/// The tables one request read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Reads {
    /// Table names, each once, in first-read order.
    pub tables: Vec<String>,
    /// A statement whose tables could not be determined (or that was not a read).
    pub unknown: bool,
}

impl Reads {
    /// Whether a response built from these reads may be cached: it read at least one
    /// table (a response that read none depends on something else) and nothing unknown.
    pub fn cacheable(&self) -> bool {
        !self.unknown && !self.tables.is_empty()
    }

    fn add(&mut self, sql: &str) {
        match tables_of(sql) {
            Some(tables) => {
                for table in tables {
                    if !self.tables.iter().any(|t| t == table) {
                        self.tables.push(table.to_string());
                    }
                }
            }
            None => self.unknown = true,
        }
    }
}

/// Notes that the current request ran `sql` (nothing when no request is tracked).
pub(crate) fn record(sql: &str) {
    let _ = READS.try_with(|reads| reads.borrow_mut().add(sql));
}

/// Notes a statement that changes data or whose tables are unknown.
pub(crate) fn record_unknown() {
    let _ = READS.try_with(|reads| reads.borrow_mut().unknown = true);
}

/// Runs `future`, recording the tables its statements read.
pub(crate) async fn tracking<F: Future>(future: F) -> (F::Output, Reads) {
    READS
        .scope(RefCell::new(Reads::default()), async {
            let output = future.await;
            let reads = READS.with(|reads| std::mem::take(&mut *reads.borrow_mut()));
            (output, reads)
        })
        .await
}

/// The tables a `SELECT` reads, or `None` when that cannot be told for certain.
fn tables_of(sql: &str) -> Option<Vec<&str>> {
    let mut words = sql.split_ascii_whitespace();
    if !words.next()?.eq_ignore_ascii_case("SELECT") {
        return None;
    }
    let mut tables = Vec::new();
    while let Some(word) = words.next() {
        let keyword = word.trim_start_matches('(');
        if !(keyword.eq_ignore_ascii_case("FROM") || keyword.eq_ignore_ascii_case("JOIN")) {
            continue;
        }
        let name = words.next()?;
        if name.starts_with('(') {
            continue; // a subquery: its own FROM follows
        }
        let name = name.trim_end_matches([')', ';']);
        let plain = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain {
            return None;
        }
        if words.clone().next().is_some_and(|w| w.starts_with(',')) {
            return None; // `FROM a , b`
        }
        tables.push(name);
    }
    if tables.is_empty() {
        None
    } else {
        Some(tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tables_of_generated_selects() {
        assert_eq!(
            tables_of("SELECT id, title, price FROM products WHERE id = $1"),
            Some(vec!["products"])
        );
        assert_eq!(
            tables_of("SELECT id, name FROM reviews WHERE product_id IN ($1, $2) ORDER BY id"),
            Some(vec!["reviews"])
        );
        assert_eq!(
            tables_of("SELECT a.id FROM a JOIN b ON a.id = b.a_id"),
            Some(vec!["a", "b"])
        );
        assert_eq!(
            tables_of("SELECT id FROM x WHERE id IN (SELECT y_id FROM y)"),
            Some(vec!["x", "y"])
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_for_certain() {
        for sql in [
            "INSERT INTO products (title) VALUES ($1) RETURNING id",
            "UPDATE products SET title = $1",
            "SELECT 1",
            "SELECT value FROM json_each($1)",
            "SELECT * FROM a, b",
            "SELECT * FROM a ,b",
            "SELECT * FROM \"quoted\"",
        ] {
            assert_eq!(tables_of(sql), None, "{sql}");
        }
    }

    #[tokio::test]
    async fn collects_what_the_request_read() {
        let ((), reads) = tracking(async {
            record("SELECT id FROM products");
            record("SELECT id FROM reviews WHERE product_id = ANY($1)");
            record("SELECT id FROM products WHERE id = $1");
        })
        .await;
        assert_eq!(reads.tables, vec!["products", "reviews"]);
        assert!(reads.cacheable());
        let ((), reads) = tracking(async {
            record("SELECT id FROM products");
            record_unknown();
        })
        .await;
        assert!(!reads.cacheable());
        let ((), reads) = tracking(async {}).await;
        assert!(!reads.cacheable());
    }
}
