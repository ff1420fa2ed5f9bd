//! Build alignment, no code: see `Cargo.toml`. A dependency of the backend runtime
//! whose only effect is the dependency features it turns on.

#![forbid(unsafe_code)]
