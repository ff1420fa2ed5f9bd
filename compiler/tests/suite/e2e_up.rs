//! End-to-end: `shopgen up` on the reference spec, as real processes on 127.0.0.1.
//!
//! Each test starts the built `shopgen` binary (`up specs/shop.toml`; the plain
//! binary, which builds its runner `shopgen-up` with the generated crates and hands
//! over to it) from the repository root on free ports with its own SQLite file, waits
//! for the banner, and speaks HTTP to the gateway, the relay and the backend. The API key's journey and a
//! dead backend are checked on a chain built by hand from the same pieces (the local
//! gateway in front of the generated relay in front of a recording upstream).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::chain;
use crate::support::up::{Up, free_port, signal};
use crate::support::{Project, http, project, repo, shopgen};

/// Starts `shopgen up specs/shop.toml` from the repository root on its own SQLite
/// file, with `extra` flags and `SHOPGEN_API_KEYS` set to `keys_env` (or unset).
fn start(extra: &[&str], keys_env: Option<&str>) -> Up {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shop.db").display());
    let mut cmd = shopgen(["up", "specs/shop.toml", "--database-url", &db]).args(extra);
    if let Some(keys) = keys_env {
        cmd = cmd.env("SHOPGEN_API_KEYS", keys);
    }
    Up::spawn(cmd, Some(dir))
}

/// Live processes whose parent is `parent` (from /proc), with their command lines.
fn children_of(parent: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so split after the last ')'.
        let Some((_, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or_default();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && state != "Z" {
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            out.push((pid, cmdline));
        }
    }
    out
}

/// Every live process below `root` (children, their children, …).
fn descendants(root: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for (pid, cmd) in children_of(parent) {
            queue.push(pid);
            found.push((pid, cmd));
        }
    }
    found
}

/// Live processes in the process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid pgrp …`
                    let (_, after) = stat.rsplit_once(')')?;
                    let mut fields = after.split_whitespace();
                    let state = fields.next()?;
                    let pgrp = fields.nth(1)?.parse::<u32>().ok()?;
                    Some(state != "Z" && pgrp == pgid)
                })
                .unwrap_or(false)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, a)| a.split_whitespace().next() != Some("Z"))
        })
        .unwrap_or(false)
}

fn wait_gone(pid: u32, timeout: Duration) {
    let started = Instant::now();
    while alive(pid) {
        assert!(
            started.elapsed() < timeout,
            "process {pid} still alive after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The generated backend and relay, with their pids.
fn services(up: &Up) -> (u32, u32) {
    let kids = children_of(up.child.id());
    let find = |name: &str| {
        kids.iter()
            .find(|(_, cmd)| cmd.contains(name))
            .map(|(pid, _)| *pid)
            .unwrap_or_else(|| panic!("no {name} among the children of shopgen up: {kids:?}"))
    };
    (find("shop-backend"), find("shop-relay"))
}

const REFERENCE: &str = r#"{"products":[{"title":"Veranda Symphony","price":"83.84","reviews":[{"id":1,"name":"Edsger Dijkstra","message":"Too bitter for me.","rate":2}]}]}"#;

#[test]
fn reference_scenario_through_gateway_relay_backend_then_sigterm_stops_all() {
    let mut up = start(&[], Some("k-one, k-two"));
    let key_header = [("X-API-KEY", "k-two")];

    // No key, then a wrong key: API Gateway's answers, from the local gateway.
    let a = http("GET", up.gateway, "/products", &[], None);
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(a.json()["code"], 401);
    assert!(
        a.json()["message"].as_str().is_some_and(
            |m| m.starts_with("UNAUTHENTICATED: Method doesn't allow unregistered callers")
        ),
        "{a:?}"
    );
    let a = http(
        "GET",
        up.gateway,
        "/products",
        &[("x-api-key", "nope")],
        None,
    );
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(
        a.json()["message"],
        "INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
    );

    // The reference scenario: create through the internal API, read through the gateway.
    let a = http(
        "POST",
        up.backend,
        "/products",
        &[],
        Some(r#"{"title":"Veranda Symphony","price":"83.84"}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.header("location"), Some("/products/1"));
    let a = http(
        "POST",
        up.backend,
        "/products/1/reviews",
        &[],
        Some(r#"{"name":"Edsger Dijkstra","message":"Too bitter for me.","rate":2}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = http("GET", up.gateway, "/products", &key_header, None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, REFERENCE);
    // The key may also come as `?key=`.
    let a = http("GET", up.gateway, "/products/1?key=k-one", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["product"]["title"], "Veranda Symphony");

    // An internal route: refused by the gateway, and by the relay when called directly.
    let body = r#"{"title":"Sneaky","price":"1.00"}"#;
    let a = http("POST", up.gateway, "/products", &key_header, Some(body));
    assert!(
        matches!(a.status, 404 | 405),
        "gateway let POST /products through: {a:?}"
    );
    let a = http("POST", up.relay, "/products", &[], Some(body));
    assert_eq!(a.status, 404, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "not_found");
    let a = http("GET", up.relay, "/reviews", &[], None);
    assert_eq!(a.status, 404, "{a:?}");
    let a = http("GET", up.backend, "/products", &[], None);
    assert_eq!(
        a.json()["products"].as_array().map(Vec::len),
        Some(1),
        "nothing leaked"
    );

    // A request id sent to the gateway is in the backend's log line for the request.
    let a = http(
        "GET",
        up.gateway,
        "/products",
        &[("x-api-key", "k-one"), ("X-Request-Id", "e2e-trace-4711")],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    // The services' output reaches `shopgen up` through separate pipes, so the relay's
    // line may be printed before the backend's: wait for the backend's own.
    let at = up.wait_for(&["backend | ", "e2e-trace-4711"], Duration::from_secs(10));
    assert!(
        up.output()[at].trim_start().starts_with("backend |"),
        "{}",
        up.output()[at]
    );

    // SIGTERM: the gateway, the relay and the backend stop; no process is left.
    let (backend_pid, relay_pid) = services(&up);
    up.signal(libc::SIGTERM);
    assert_eq!(up.wait_exit(Duration::from_secs(60)), Some(0));
    for pid in [backend_pid, relay_pid] {
        wait_gone(pid, Duration::from_secs(5));
    }
    assert!(children_of(up.child.id()).is_empty());
    let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, up.gateway)).is_err();
    assert!(refused, "the gateway port still accepts connections");
}

/// What a new user runs, `shopgen up specs/shop.toml --api-key k` with the plain
/// `shopgen` (this test's binary is built as `cargo run -p shopgen` builds it: no
/// features, no server stack linked): it builds its runner and the generated crates,
/// serves the reference document through the local gateway, and a Ctrl-C (SIGINT to
/// its process group, as a terminal sends it) stops every process it started.
#[test]
fn plain_shopgen_up_serves_the_reference_document_and_ctrl_c_leaves_no_process() {
    let mut up = start(&["--api-key", "k"], None);
    for (path, body) in [
        (
            "/products",
            r#"{"title":"Veranda Symphony","price":"83.84"}"#,
        ),
        (
            "/products/1/reviews",
            r#"{"name":"Edsger Dijkstra","message":"Too bitter for me.","rate":2}"#,
        ),
    ] {
        let a = http("POST", up.backend, path, &[], Some(body));
        assert_eq!(a.status, 201, "{a:?}");
    }
    let a = http("GET", up.gateway, "/products", &[("X-API-KEY", "k")], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, REFERENCE);
    assert_eq!(http("GET", up.gateway, "/products", &[], None).status, 401);

    // The stack file the command handed over (it holds the key) is gone.
    let pid = up.child.id();
    let leftover: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("shopgen-up-{pid}-")))
        .collect();
    assert!(leftover.is_empty(), "{leftover:?}");

    let tree = descendants(pid);
    let (backend_pid, relay_pid) = services(&up);
    for p in [backend_pid, relay_pid] {
        assert!(tree.iter().any(|(t, _)| *t == p), "{tree:?}");
    }
    up.signal_group(libc::SIGINT);
    assert_eq!(up.wait_exit(Duration::from_secs(60)), Some(0));
    assert!(
        up.output()
            .iter()
            .any(|l| l.contains("Ctrl-C: stopping the gateway, the relay and the backend")),
        "no stop message"
    );
    for (p, _) in &tree {
        wait_gone(*p, Duration::from_secs(5));
    }
    assert!(group_members(pid).is_empty(), "{:?}", group_members(pid));
    let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, up.gateway)).is_err();
    assert!(refused, "the gateway port still accepts connections");
}

#[test]
fn seed_and_generated_key_then_a_crash_of_the_backend_stops_the_rest() {
    let seed_path = repo().join("specs/shop.seed.json");
    let seed_arg = seed_path.to_string_lossy().into_owned();
    let mut up = start(&["--seed", &seed_arg], None);

    let line = up.wait_for_line("API key (generated", Duration::from_secs(5));
    let key = line
        .rsplit(' ')
        .next()
        .expect("the key ends the line")
        .to_string();
    assert!(key.starts_with("dev-"), "{line}");

    // What the seed file describes, with ids in file order.
    let seed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seed_path).expect("seed")).expect("json");
    let mut review_id = 0;
    let products: Vec<serde_json::Value> = seed["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| {
            let reviews: Vec<serde_json::Value> = p["reviews"]
                .as_array()
                .expect("reviews")
                .iter()
                .map(|r| {
                    review_id += 1;
                    serde_json::json!({"id": review_id, "name": r["name"], "message": r["message"], "rate": r["rate"]})
                })
                .collect();
            serde_json::json!({"title": p["title"], "price": p["price"], "reviews": reviews})
        })
        .collect();
    let a = http("GET", up.gateway, "/products", &[("x-api-key", &key)], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json(), serde_json::json!({ "products": products }));
    assert!(
        a.body.starts_with(
            r#"{"products":[{"title":"Veranda Symphony","price":"83.84","reviews":[{"id":1,"#
        ),
        "{}",
        a.body
    );

    // The backend dies: reported, and the relay and the gateway are stopped too.
    let (backend_pid, relay_pid) = services(&up);
    signal(backend_pid, libc::SIGKILL);
    assert_eq!(up.wait_exit(Duration::from_secs(60)), Some(1));
    wait_gone(relay_pid, Duration::from_secs(5));
    assert!(
        up.output()
            .iter()
            .any(|l| l.contains("the backend exited unexpectedly")),
        "no crash report"
    );
}

#[test]
fn busy_ports_are_named_with_their_flag() {
    let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = busy.local_addr().expect("addr").port();
    for (flag, what) in [
        ("--gateway-port", "gateway"),
        ("--relay-port", "relay"),
        ("--backend-port", "backend"),
    ] {
        let mut args = vec!["up".to_string(), "specs/shop.toml".to_string()];
        for f in ["--gateway-port", "--relay-port", "--backend-port"] {
            args.push(f.to_string());
            args.push(if f == flag {
                port.to_string()
            } else {
                free_port().to_string()
            });
        }
        let out = shopgen(&args).args(["--api-key", "k"]).run();
        let stderr = &out.stderr;
        assert!(!out.success(), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("port {port} ({what}) is already in use"))
                && stderr.contains(flag),
            "{flag}: {stderr}"
        );
    }
    drop(busy);
}

#[test]
fn a_local_jwks_must_name_a_provider_of_the_spec_and_a_file() {
    let out = shopgen([
        "up",
        "specs/shop.toml",
        "--api-key",
        "k",
        "--jwks",
        "firebase=keys.json",
    ])
    .run();
    assert!(!out.success(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the spec has no identity provider `firebase` (it has: none)"),
        "{}",
        out.stderr
    );
    let out = shopgen([
        "up",
        "specs/shop.toml",
        "--api-key",
        "k",
        "--jwks",
        "firebase",
    ])
    .run();
    assert!(!out.success());
    assert!(out.stderr.contains("write PROVIDER=FILE"), "{}", out.stderr);
}

/// The reference spec under another name (`grocer`: crates `grocer-backend` and
/// `grocer-relay`, so its binaries never overwrite the reference ones in the shared
/// target folder).
const GROCER: &str = include_str!("../../../specs/shop.toml");

/// The grocer after a schema change: a new optional column (`color`) and a new
/// required one with a default (`stock`) on products, the reviews' `message` column
/// dropped, and a new table (`tags`).
fn changed_grocer() -> String {
    let changed = GROCER
        .replace(
            "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n",
            "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n\
             fields.color = { type = \"string\", max_length = 30, required = false }\n\
             fields.stock = { type = \"integer\", default = 7 }\n",
        )
        .replace(
            "json = [\"title\", \"price\", \"reviews\"]",
            "json = [\"title\", \"price\", \"color\", \"stock\", \"reviews\"]",
        )
        .replace(
            "fields.message = { type = \"text\", max_length = 4000 }\n",
            "",
        )
        .replace(
            "json = [\"id\", \"name\", \"message\", \"rate\"]",
            "json = [\"id\", \"name\", \"rate\"]",
        );
    assert!(
        !changed.contains("message"),
        "the spec no longer has `message`"
    );
    changed
        + "\n[resources.tag]\n\
           belongs_to.product = { on_delete = \"cascade\", routes = { list = \"internal\", create = \"internal\" } }\n\
           fields.label = { type = \"string\", max_length = 40 }\n"
}

/// A project of a user's own: a workspace with `specs/grocer.toml` and its generated
/// crates as members, linking this repository's runtime crates, with this repository's
/// lock file and target folder (so dependencies are reused, and nothing is fetched).
fn grocer_project(spec: &str) -> Project {
    project()
        .workspace(&["generated/grocer/backend", "generated/grocer/relay"])
        .runner()
        .file("specs/grocer.toml", spec)
        .build()
}

/// `shopgen up` on the SQLite file `db` in the project folder.
fn grocer_up(project: &Project, db: &str) -> Up {
    let url = format!("sqlite://{}", project.path(db).display());
    Up::spawn(
        project
            .shopgen(["up", "specs/grocer.toml", "--database-url", &url])
            .env("SHOPGEN_API_KEYS", "grocer-key"),
        None,
    )
}

#[test]
fn up_after_a_schema_change_keeps_the_rows_and_serves_the_new_columns() {
    let key = [("x-api-key", "grocer-key")];
    let project = grocer_project(GROCER);
    project.build_and_check("specs/grocer.toml");

    // Rows written through the first version.
    let up = grocer_up(&project, "grocer.db");
    let a = http(
        "POST",
        up.backend,
        "/products",
        &[],
        Some(r#"{"title":"Veranda Symphony","price":"83.84"}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = http(
        "POST",
        up.backend,
        "/products/1/reviews",
        &[],
        Some(r#"{"name":"Edsger Dijkstra","message":"Too bitter for me.","rate":2}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = http("GET", up.gateway, "/products", &key, None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, REFERENCE);
    up.stop();

    // The spec changes; the build appends a migration that `check` (and `up`) accept.
    project.write("specs/grocer.toml", &changed_grocer());
    project.build_and_check("specs/grocer.toml");
    let migrations = project.path("generated/grocer/backend/migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(&migrations)
        .expect("migrations")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with("0001_") && names[1].starts_with("0002_"),
        "{names:?}"
    );

    // The same SQLite file: the old rows, with the new columns' defaults.
    let up = grocer_up(&project, "grocer.db");
    let a = http("GET", up.gateway, "/products", &key, None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.json(),
        serde_json::json!({"products": [{
            "title": "Veranda Symphony", "price": "83.84", "color": null, "stock": 7,
            "reviews": [{"id": 1, "name": "Edsger Dijkstra", "rate": 2}]
        }]})
    );
    // A new field, written through the internal API, read through the gateway.
    let a = http(
        "POST",
        up.backend,
        "/products",
        &[],
        Some(r#"{"title":"Kilimanjaro","price":"12.50","color":"amber","stock":3}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.header("location"), Some("/products/2"));
    let a = http("GET", up.gateway, "/products/2", &key, None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["product"]["color"], "amber");
    assert_eq!(a.json()["product"]["stock"], 3);
    // The dropped column is gone from the API (unknown members are refused).
    let a = http(
        "POST",
        up.backend,
        "/products/1/reviews",
        &[],
        Some(r#"{"name":"Ada","message":"Bright.","rate":4}"#),
    );
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.json()["error"]["fields"]["message"].is_array(), "{a:?}");
    // The new table.
    let a = http(
        "POST",
        up.backend,
        "/products/1/tags",
        &[],
        Some(r#"{"label":"bestseller"}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = http("GET", up.backend, "/products/1/tags", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["tags"][0]["label"], "bestseller");
    up.stop();
}

/// What an upstream received: the request head's lines.
type Heads = Arc<Mutex<Vec<Vec<String>>>>;

/// An upstream that records request heads and answers `{"products":[]}`.
fn recording_upstream() -> (u16, Heads) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let heads: Heads = Arc::new(Mutex::new(Vec::new()));
    let record = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = record.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut stream = stream;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let line = line.trim_end().to_string();
                        if line.is_empty() {
                            break;
                        }
                        head.push(line);
                    }
                    record.lock().expect("lock").push(head);
                    let body = r#"{"products":[]}"#;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, heads)
}

#[test]
fn the_api_key_never_reaches_the_backend_and_a_dead_backend_gives_the_relays_502() {
    let relay_exe = chain::reference_binaries().relay;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    // gateway → relay → recording upstream (standing in for the backend).
    let (upstream_port, heads) = recording_upstream();
    let (mut relay, relay_port) = chain::start_relay(&relay_exe, upstream_port, 2000);
    let gateway_port = chain::start_gateway(&runtime, relay_port, None);
    let a = http(
        "GET",
        gateway_port,
        "/products",
        &[
            ("X-API-KEY", "chain-key"),
            ("Authorization", "Bearer the-clients-own"),
            ("X-Request-Id", "chain-1"),
        ],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let heads = heads.lock().expect("lock").clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head: Vec<String> = heads[0].iter().map(|l| l.to_ascii_lowercase()).collect();
    assert!(head[0].starts_with("get /products "), "{head:?}");
    assert!(
        !head.iter().any(|l| l.starts_with("x-api-key:")),
        "the API key reached the backend: {head:?}"
    );
    assert!(
        !head.iter().any(|l| l.starts_with("authorization:")),
        "the gateway's token reached the backend: {head:?}"
    );
    assert!(
        head.iter().any(|l| l == "x-request-id: chain-1"),
        "{head:?}"
    );
    let _ = relay.kill();
    let _ = relay.wait();

    // gateway → relay → nothing: the relay's 502 JSON reaches the client unchanged.
    let dead_port = free_port();
    let (mut relay, relay_port) = chain::start_relay(&relay_exe, dead_port, 2000);
    let gateway_port = chain::start_gateway(&runtime, relay_port, None);
    let a = http(
        "GET",
        gateway_port,
        "/products",
        &[("x-api-key", "chain-key")],
        None,
    );
    assert_eq!(a.status, 502, "{a:?}");
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.json()["error"]["code"], "bad_gateway");
    let _ = relay.kill();
    let _ = relay.wait();
}
