//! Front ends of `shopgen init`, `shopgen import` and `shopgen diff` (the library does the work; these
//! read and write files, run git, and print).

pub mod diff;
pub mod import;
pub mod init;
