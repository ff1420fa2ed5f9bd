//! The extension crate is the user's: `shopgen build` writes a first version of
//! `extensions/<stem>/` only where none exists, never changes or deletes it (also when
//! the spec changes or drops every operation), and `shopgen check` does not look at it.
//! A spec without operations and hooks gets no extension crate and no `api/` crate.

use std::path::Path;

use crate::support::{Project, project, repo_file};

/// `shopgen` in the project: whether it succeeded, and its stderr.
fn shopgen(dir: &Project, args: &[&str]) -> (bool, String) {
    let run = dir.shopgen(args).run();
    (run.success(), run.stderr)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn first_build_writes_the_extension_crate_later_builds_never_touch_it() {
    let spec = repo_file("specs/store.toml");
    let dir = project().file("specs/store.toml", spec.as_str()).build();
    let (ok, err) = shopgen(&dir, &["build", "specs/store.toml"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("extensions/store"),
        "the build says where the crate went: {err}"
    );
    let ext = dir.path("extensions/store");
    let manifest = read(&ext.join("Cargo.toml"));
    assert!(
        manifest.contains("name = \"store-extension\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("store-api = { path = \"../../generated/store/api\" }"),
        "{manifest}"
    );
    let lib = read(&ext.join("src/lib.rs"));
    for method in [
        "async fn me(",
        "async fn rating_summary(",
        "async fn reprice(",
        "async fn review_before_create(",
        "async fn review_after_create(",
    ] {
        assert!(lib.contains(method), "the stub has {method}:\n{lib}");
    }
    assert!(
        !lib.contains("todo!"),
        "stubs answer 501, not todo!():\n{lib}"
    );
    assert_eq!(
        lib.matches("ApiError::not_implemented(").count(),
        5,
        "every stub answers 501:\n{lib}"
    );
    assert!(
        !lib.contains("@generated"),
        "the crate is not generated code"
    );
    let backend = dir.read("generated/store/backend/Cargo.toml");
    assert!(
        backend.contains("store-extension = { path = \"../../../extensions/store\" }"),
        "{backend}"
    );

    // The user writes their code; builds and checks leave it alone.
    let mine = "//! Mine.\n";
    std::fs::write(ext.join("src/lib.rs"), mine).expect("write");
    std::fs::write(ext.join("NOTES.md"), "notes\n").expect("write");
    let (ok, err) = shopgen(&dir, &["build", "specs/store.toml"]);
    assert!(ok, "{err}");
    assert!(!err.contains("extensions/store"), "nothing written: {err}");
    let (ok, err) = shopgen(&dir, &["check", "specs/store.toml"]);
    assert!(ok, "check ignores the extension crate: {err}");

    // A changed spec (an operation less) rebuilds generated/, not the user's crate.
    let start = spec.find("[operations.reprice]").expect("reprice");
    dir.write("specs/store.toml", &spec[..start]);
    let (ok, err) = shopgen(&dir, &["build", "specs/store.toml"]);
    assert!(ok, "{err}");
    assert_eq!(read(&ext.join("src/lib.rs")), mine);
    assert_eq!(read(&ext.join("NOTES.md")), "notes\n");
    let api = dir.read("generated/store/api/src/lib.rs");
    assert!(!api.contains("fn reprice("), "{api}");
    assert!(api.contains("fn rating_summary("), "{api}");
}

#[test]
fn a_spec_without_operations_or_hooks_has_no_extension() {
    let dir = project().repo_file("specs/shop.toml").build();
    let (ok, err) = shopgen(&dir, &["build", "specs/shop.toml"]);
    assert!(ok, "{err}");
    assert!(!dir.path("extensions").exists());
    assert!(!dir.path("generated/shop/api").exists());
    let backend = dir.read("generated/shop/backend/Cargo.toml");
    assert!(!backend.contains("{ path ="), "{backend}");
}
