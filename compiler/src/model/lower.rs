//! Lower: a checked spec → the [`Model`](super::Model). Infallible by construction.

use super::Model;

/// Placeholder until the checker lands.
pub fn lower() -> Option<Model> {
    None
}
