//! Builds of the generated crates share the workspace's build of their dependencies.
//!
//! Cargo turns a dependency's features on per build, for the packages that build
//! selects. `./test.sh` builds the whole workspace with its tests; `shopgen up` builds
//! `<spec>-backend`, `<spec>-relay` and `shopgen-up`, in this workspace or in a user's
//! (the tests' scratch workspaces, which share the target folder). When the two
//! resolve a dependency with different features, the second compiles it again, and
//! everything above it: tokio, hyper, axum and sqlx, once per way of building.
//! `runtime/shopgen-workspace-hack` turns on, for every build with a generated
//! backend, the features only the whole workspace would; this test says which feature
//! it lacks.
//! A generated backend built without its relay still resolves some of the relay's
//! features (hyper's client) differently, so the tests always build the two together,
//! as `shopgen up` does.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{cargo_in, repo};

/// Each package a build with `selection` compiles for the target (not build scripts'
/// or proc macros' dependencies), with the feature sets it is compiled with.
fn features(selection: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let out = cargo_in(&repo())
        .args(["tree", "--offline", "--locked", "--prefix", "none"])
        .args(["-e", "normal,no-proc-macro", "-f", "{p} [{f}]"])
        .args(selection)
        .output()
        .expect("cargo tree");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree {selection:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some((package, rest)) = line.split_once(" [") else {
            continue;
        };
        // `name vX.Y.Z` (a path package adds its folder in parentheses).
        let package = package.split(" (").next().unwrap_or(package).to_string();
        let feats = rest.split(']').next().unwrap_or_default().to_string();
        found.entry(package).or_default().insert(feats);
    }
    assert!(found.len() > 20, "cargo tree {selection:?} gave:\n{text}");
    found
}

#[test]
fn builds_of_the_generated_crates_resolve_features_as_the_workspace_does() {
    let workspace = features(&["--workspace", "-e", "dev"]);
    let mut differ = Vec::new();
    for selection in [
        // what `shopgen up` builds
        &["-p", "shop-backend", "-p", "shop-relay", "-p", "shopgen-up"][..],
        &[
            "-p",
            "store-backend",
            "-p",
            "store-relay",
            "-p",
            "shopgen-up",
        ],
        // what the random-spec test checks
        &["-p", "shop-backend", "-p", "shop-relay"],
    ] {
        for (package, feats) in features(selection) {
            let whole = workspace.get(&package).cloned().unwrap_or_default();
            if whole != feats {
                differ.push(format!(
                    "{package} in a build with {}: [{}], in the workspace's: [{}]",
                    selection.join(" "),
                    feats.into_iter().collect::<Vec<_>>().join("] ["),
                    whole.into_iter().collect::<Vec<_>>().join("] [")
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "these dependencies would be compiled twice; turn the workspace's features on in \
         runtime/shopgen-workspace-hack/Cargo.toml:\n{}",
        differ.join("\n")
    );
}
