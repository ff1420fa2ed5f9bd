//! Sample data for `shopgen up --seed FILE`, resolved: what the runner loads through
//! the backend's internal API.
//!
//! The `shopgen` command reads the seed file and checks it against the spec; what it
//! hands over is resolved: every record knows the route that creates it. The runner
//! sends every request as a `POST` in file order (a parent before its children), so
//! ids come out as the file reads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A checked seed: per resource, the records to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub batches: Vec<Batch>,
}

/// The records of one resource, as the file lists them under one top-level key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The resource's plural JSON name: the file's key and the list answer's member.
    pub plural: String,
    /// The resource's list route, if it has one (to see whether it has records).
    pub list_path: Option<String>,
    pub records: Vec<Record>,
}

/// One record and its children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Where it sits in the file (`products[0].reviews[1]`), for messages.
    pub at: String,
    /// The resource's singular JSON name (the member a create answer's body holds).
    pub singular: String,
    /// How it is created.
    pub create: Create,
    /// The create payload, without the children.
    pub payload: Map<String, Value>,
    /// Records created after this one, each under it.
    pub children: Vec<Record>,
}

/// The route that creates a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Create {
    /// `POST path`.
    Post(String),
    /// A child through its nested route: `POST path` with the one `{…}` parameter
    /// replaced by the parent's id (`/products/{id}/reviews`).
    Nested(String),
    /// A child through its own route: `POST path` with the parent's id in `column`.
    WithForeignKey { path: String, column: String },
}

impl Seed {
    /// Number of records, children included.
    pub fn len(&self) -> usize {
        fn count(records: &[Record]) -> usize {
            records.iter().map(|r| 1 + count(&r.children)).sum()
        }
        self.batches.iter().map(|b| count(&b.records)).sum()
    }

    /// Whether the seed creates nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_count() {
        let record = |children| Record {
            at: "x".into(),
            singular: "x".into(),
            create: Create::Post("/x".into()),
            payload: Map::new(),
            children,
        };
        let seed = Seed {
            batches: vec![Batch {
                plural: "xs".into(),
                list_path: None,
                records: vec![record(vec![record(vec![]), record(vec![])]), record(vec![])],
            }],
        };
        assert_eq!(seed.len(), 4);
        assert!(!seed.is_empty());
    }
}
