//! Lower: a checked spec → the [`Model`](super::Model). Infallible by construction.
