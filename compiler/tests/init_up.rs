//! `shopgen init` end to end: the starter spec it writes builds, passes `check`, and
//! serves through `shopgen up`, with requests through the local gateway.
//!
//! The starter lives in a scratch workspace that links this repository's runtime
//! crates (with this workspace's lock file and target directory, so dependencies are
//! reused), laid out like a user's checkout: `specs/`, `generated/`.

mod up_support;

use up_support::{Up, http, scratch_workspace, shopgen};

#[test]
fn the_starter_spec_builds_checks_and_serves_through_the_local_gateway() {
    let ws = scratch_workspace(&["generated/*/backend", "generated/*/relay"]);
    let cwd = ws.path();

    let init = shopgen(cwd)
        .args([
            "init",
            "inventory",
            "--gcp-project",
            "acme-inventory",
            "--region",
            "europe-west1",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&init.stderr).into_owned();
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
    let again = shopgen(cwd).args(["init", "inventory"]).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(cwd.join("specs/inventory.toml")).unwrap(),
        "# mine\n"
    );
    std::fs::write(cwd.join("specs/inventory.toml"), &spec).unwrap();

    let build = shopgen(cwd)
        .args(["build", "specs/inventory.toml"])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let check = shopgen(cwd)
        .args(["check", "specs/inventory.toml"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let mut cmd = shopgen(cwd);
    cmd.args(["up", "specs/inventory.toml", "--api-key", "k1"]);
    let up = Up::spawn(cmd, None);
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
