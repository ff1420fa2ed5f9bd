//! shopgen: one TOML spec → a deployable API stack.
//!
//! The pipeline is a chain of pure stages, `spec` (parse TOML, keep spans) →
//! `check` (the only stage that rejects input; it collects every error) → `model`
//! (lowering into the IR, infallible) → `emit` (one module per artifact, returns files
//! in memory). Only `output` and the CLI touch the disk.

pub mod emit;
pub mod model;
pub mod spec;
