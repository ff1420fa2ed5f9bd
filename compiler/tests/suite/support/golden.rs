//! Expected files (goldens), in the style of expectorate: what a test produced is
//! compared byte for byte with a checked-in file; with `SHOPGEN_BLESS=1` the file is
//! rewritten instead, to be reviewed in the diff.
//!
//! ```text
//! SHOPGEN_BLESS=1 cargo test -p shopgen --test suite -- diagnostics:: diff::
//! ```

use std::path::Path;

/// The variable that turns comparing into rewriting.
pub const BLESS: &str = "SHOPGEN_BLESS";

/// Whether this run rewrites the expected files.
pub fn blessing() -> bool {
    std::env::var_os(BLESS).is_some()
}

/// Compares `actual` with the file at `path` (or, when blessing, writes it there,
/// making its folder). A mismatch, or a missing file, is described in the `Err`, so
/// that a test going through many cases can report all of them at once.
pub fn check(path: &Path, actual: &str) -> Result<(), String> {
    if blessing() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return Ok(());
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => Ok(()),
        Ok(expected) => Err(format!(
            "{} differs ({BLESS}=1 rewrites it)\n--- expected\n{expected}--- actual\n{actual}",
            path.display()
        )),
        Err(e) => Err(format!(
            "{} cannot be read ({e}; {BLESS}=1 writes it)\n--- actual\n{actual}",
            path.display()
        )),
    }
}

/// [`check`], panicking on a mismatch.
pub fn assert(path: &Path, actual: &str) {
    if let Err(why) = check(path, actual) {
        panic!("{why}");
    }
}
