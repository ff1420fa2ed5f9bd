//! shopgen backend runtime.
