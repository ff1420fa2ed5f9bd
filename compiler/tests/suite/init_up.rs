//! `shopgen init` end to end: the starter spec it writes builds, passes `check`, and
//! serves through `shopgen up`, with requests through the local gateway.
//!
//! The starter lives in a scratch workspace that links this repository's runtime
//! crates (with this workspace's lock file and target directory, so dependencies are
//! reused), laid out like a user's checkout: `specs/`, `generated/`.

use crate::support::up::Up;
use crate::support::{http, project};

#[test]
fn the_starter_spec_builds_checks_and_serves_through_the_local_gateway() {
    let ws = project()
        .workspace(&["generated/*/backend", "generated/*/relay"])
        .runner()
        .build();
    let cwd = ws.root();

    let init = ws
        .shopgen([
            "init",
            "inventory",
            "--gcp-project",
            "acme-inventory",
            "--region",
            "europe-west1",
        ])
        .run();
    let said = init.stderr;
    assert!(init.status.success(), "{said}");
    assert!(
        said.contains("cargo run -p shopgen -- build specs/inventory.toml"),
        "{said}"
    );
    assert!(
        said.contains("cargo run -p shopgen -- up specs/inventory.toml"),
        "{said}"
    );
    let spec = std::fs::read_to_string(cwd.join("specs/inventory.toml")).unwrap();
    assert!(spec.contains("project = \"acme-inventory\""), "{spec}");
    assert!(spec.contains("region = \"europe-west1\""), "{spec}");

    // It refuses to overwrite.
    std::fs::write(cwd.join("specs/inventory.toml"), "# mine\n").unwrap();
    let again = ws.shopgen(["init", "inventory"]).run();
    assert_eq!(again.code(), Some(1));
    assert!(again.stderr.contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(cwd.join("specs/inventory.toml")).unwrap(),
        "# mine\n"
    );
    std::fs::write(cwd.join("specs/inventory.toml"), &spec).unwrap();

    let build = ws.shopgen(["build", "specs/inventory.toml"]).run();
    assert!(build.success(), "{}", build.stderr);
    let check = ws.shopgen(["check", "specs/inventory.toml"]).run();
    assert!(check.success(), "{}", check.stderr);

    let up = Up::spawn(
        ws.shopgen(["up", "specs/inventory.toml", "--api-key", "k1"]),
        None,
    );
    let (gateway, backend) = (up.gateway, up.backend);

    // Create through the internal API (inside the cluster), read through the gateway.
    let a = http(
        "POST",
        backend,
        "/items",
        &[],
        Some(r#"{"name":"Lantern","description":"Brass, 30 cm"}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = http("GET", gateway, "/items", &[("X-API-KEY", "k1")], None);
    assert_eq!(a.status, 200, "{a:?}");
    let json = a.json();
    assert_eq!(json["items"][0]["name"], "Lantern", "{a:?}");
    assert_eq!(json["items"][0]["description"], "Brass, 30 cm", "{a:?}");
    // No key: 401. Internal routes are not reachable through the gateway.
    assert_eq!(http("GET", gateway, "/items", &[], None).status, 401);
    let a = http("GET", gateway, "/items/1", &[("X-API-KEY", "k1")], None);
    assert!(
        matches!(a.status, 404 | 405),
        "GET /items/1 through the gateway: {a:?}"
    );
    let a = http(
        "POST",
        gateway,
        "/items",
        &[("X-API-KEY", "k1")],
        Some("{}"),
    );
    assert!(
        matches!(a.status, 404 | 405),
        "POST /items through the gateway: {a:?}"
    );
    up.stop();
}
