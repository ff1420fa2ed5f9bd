//! shopgen relay runtime.
