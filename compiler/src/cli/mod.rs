//! Front ends of `shopgen init` and `shopgen diff` (the library does the work; these
//! read and write files, run git, and print).

pub mod diff;
pub mod init;
