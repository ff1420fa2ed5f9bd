//! `shopgen import openapi`: real-world documents (compiler/tests/import/documents/,
//! from @readme/oas-examples; SOURCE.md there) imported into specs compared with
//! goldens (compiler/tests/import/*.toml), every refusal with nothing written, and an
//! import over a spec the user edited since.

use std::process::Command;

use crate::infra_openapi::{fill, google_rules};
use crate::support::up::Up;
use crate::support::{golden, http, project, repo, run_ok, tool};

const DOCS: &str = "compiler/tests/import/documents";

/// (document, --name, --public routes): each golden is `compiler/tests/import/NAME.toml`.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "petstore-3.0.yaml",
        "petstore",
        &["GET /v2/pet/findByStatus", "GET /store/order/{orderId}"],
    ),
    (
        "petstore-2.0.json",
        "petstore-swagger",
        &["get_order_by_id"],
    ),
    (
        "uspto-3.0.yaml",
        "uspto",
        &["GET /ds-api/{dataset}/{version}/fields"],
    ),
    ("schema-circular-3.0.yaml", "circular", &[]),
    ("polymorphism-3.0.yaml", "polymorphism", &[]),
];

fn doc(name: &str) -> String {
    std::fs::read_to_string(repo().join(DOCS).join(name)).unwrap()
}

#[test]
fn real_world_documents_import_into_their_goldens_byte_for_byte() {
    let mut failures = Vec::new();
    for (file, name, public) in CASES {
        let dir = project().file(file, doc(file)).build();
        let out = format!("specs/{name}.toml");
        let mut args = vec!["import", "openapi", file, "--name", name];
        for p in *public {
            args.extend(["--public", p]);
        }
        let run = dir.shopgen(&args).run();
        assert!(run.success(), "{file}: {}", run.stderr);
        let text = dir.read(&out);
        // Every route the document has is listed in the summary line.
        assert!(
            run.stderr.contains(&format!("wrote {out}: ")),
            "{}",
            run.stderr
        );
        if let Err(why) = golden::check(
            &repo().join(format!("compiler/tests/import/{name}.toml")),
            &text,
        ) {
            failures.push(why);
        }
        // The same document again: the same bytes, and nothing written.
        let again = dir.shopgen(&args).run();
        assert!(again.success(), "{}", again.stderr);
        assert!(again.stderr.contains("nothing changed"), "{}", again.stderr);
        assert_eq!(
            dir.read(&out),
            text,
            "{file}: a second import changed the spec"
        );
        // The spec is valid TOML, and every public route asked for is public.
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let ops = parsed["operations"].as_table().unwrap();
        let public_count = ops
            .values()
            .filter(|o| o["exposure"].as_str() == Some("public"))
            .count();
        assert_eq!(public_count, public.len(), "{file}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A golden with its wrapped comments joined into one line each.
fn golden_text(name: &str) -> String {
    std::fs::read_to_string(repo().join(format!("compiler/tests/import/{name}.toml")))
        .unwrap()
        .replace("\n#   ", " ")
}

#[test]
fn what_the_spec_language_cannot_say_is_named_on_its_route() {
    let text = golden_text("petstore");
    for expected in [
        // a map, a header parameter, an array query parameter, non-JSON bodies
        "# get_inventory: not carried over: response 200 not typed",
        "the schema is a map (`additionalProperties`",
        "# delete_pet: not carried over: header parameter `api_key`",
        "# find_pets_by_status: not carried over: query parameter `status` is an array",
        "request body of type `multipart/form-data`",
        "`category` is a nested object (`Category`)",
        "# find_pets_by_tags: deprecated in the document.",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    let circular = golden_text("circular");
    assert!(
        circular.contains("`arr` is an array of arrays"),
        "{circular}"
    );
    let poly = golden_text("polymorphism");
    assert!(poly.contains("is a `oneOf` of"), "{poly}");
    assert!(
        poly.contains("is a `anyOf` of") || poly.contains("is an `anyOf` of"),
        "{poly}"
    );
    // The server prefix stays in every path; Swagger's basePath too.
    assert!(text.contains("path = \"/v2/pet/{petId}\""), "{text}");
    let swagger = golden_text("petstore-swagger");
    assert!(swagger.contains("path = \"/v2/pet/{petId}\""), "{swagger}");
    let uspto = golden_text("uspto");
    assert!(
        uspto.contains("path = \"/ds-api/{dataset}/{version}/fields\""),
        "{uspto}"
    );
}

/// Runs an import that must fail; gives its stderr and checks nothing was written.
fn refused(files: &[(&str, &str)], args: &[&str]) -> String {
    let mut b = project();
    for (path, text) in files {
        b = b.file(path, *text);
    }
    let dir = b.build();
    let run = dir.shopgen(args).run();
    assert_eq!(run.code(), Some(1), "{args:?}: {}", run.text());
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(!dir.path("specs").exists(), "{args:?} wrote specs/");
    run.stderr
}

#[test]
fn unreadable_invalid_and_unsupported_documents_write_nothing() {
    let err = refused(&[], &["import", "openapi", "missing.yaml"]);
    assert!(err.contains("cannot read missing.yaml"), "{err}");

    let yaml = "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths:\n  /a: [unclosed\n";
    let err = refused(&[("bad.yaml", yaml)], &["import", "openapi", "bad.yaml"]);
    assert!(err.contains("error: bad.yaml:"), "{err}");
    assert!(err.contains(": invalid YAML: unclosed bracket"), "{err}");
    let located = err
        .split("bad.yaml:")
        .nth(1)
        .and_then(|rest| rest.split(": invalid").next())
        .unwrap();
    let (line, col) = located.split_once(':').unwrap();
    assert!(line.parse::<u32>().unwrap() >= 6, "{err}");
    assert!(col.parse::<u32>().unwrap() >= 1, "{err}");

    let json = "{\n  \"swagger\": \"2.0\",\n  \"paths\": {,}\n}\n";
    let err = refused(&[("bad.json", json)], &["import", "openapi", "bad.json"]);
    assert!(err.contains("error: bad.json:3:13: invalid JSON"), "{err}");

    let k8s = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n";
    let err = refused(&[("svc.yaml", k8s)], &["import", "openapi", "svc.yaml"]);
    assert!(
        err.contains("svc.yaml: not an OpenAPI document: no `openapi` or `swagger` key"),
        "{err}"
    );

    let none = "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths:\n  /a:\n    head:\n      responses: {}\n";
    let err = refused(&[("none.yaml", none)], &["import", "openapi", "none.yaml"]);
    assert!(
        err.contains("none.yaml has no operation that can be a route (HEAD /a: shopgen routes GET, PUT, POST, PATCH, DELETE only)"),
        "{err}"
    );

    let v31 = doc("petstore-3.1.yaml");
    let err = refused(&[("p.yaml", &v31)], &["import", "openapi", "p.yaml"]);
    assert!(
        err.contains(
            "OpenAPI 3.1.0 is not supported: shopgen imports OpenAPI 3.0.x and Swagger 2.0"
        ),
        "{err}"
    );
}

#[test]
fn a_spec_of_a_generated_backend_is_never_imported_over() {
    let shop = std::fs::read_to_string(repo().join("specs/shop.toml")).unwrap();
    let dir = project()
        .file("petstore.yaml", doc("petstore-3.0.yaml"))
        .file("specs/shop.toml", shop.clone())
        .build();
    let run = dir
        .shopgen([
            "import",
            "openapi",
            "petstore.yaml",
            "--out",
            "specs/shop.toml",
        ])
        .run();
    assert_eq!(run.code(), Some(1), "{}", run.text());
    assert!(
        run.stderr
            .contains("error: specs/shop.toml: the spec has no `[upstream]` table"),
        "{}",
        run.stderr
    );
    assert_eq!(dir.read("specs/shop.toml"), shop);
}

#[test]
fn an_unknown_public_route_is_refused_with_close_matches() {
    let pet = doc("petstore-3.0.yaml");
    let err = refused(
        &[("petstore.yaml", &pet)],
        &[
            "import",
            "openapi",
            "petstore.yaml",
            "--public",
            "GET /pet/{petid}",
            "--public",
            "GET /v2/store/inventory",
            "--public",
            "DELETE /nothing/like/it/at/all/here",
        ],
    );
    assert!(
        err.contains("--public `GET /pet/{petid}` names no operation of the document; close matches: `GET /v2/pet/{petId}`"),
        "{err}"
    );
    assert!(
        err.contains("--public `DELETE /nothing/like/it/at/all/here` names no operation"),
        "{err}"
    );
    assert!(!err.contains("GET /v2/store/inventory` names"), "{err}");
}

#[test]
fn a_public_route_that_would_open_internal_ones_is_refused_with_the_checkers_error() {
    let pet = doc("petstore-3.0.yaml");
    let err = refused(
        &[("petstore.yaml", &pet)],
        &[
            "import",
            "openapi",
            "petstore.yaml",
            "--public",
            "GET /pet/{petId}",
        ],
    );
    assert!(err.contains("error[E0246]: public `GET /v2/pet/{petId}` (operation `get_pet_by_id`) matches the internal `/v2/pet/findByStatus`"), "{err}");
    assert!(err.contains("--> specs/swagger-petstore.toml:"), "{err}");
}

/// `doc` with the operation `GET /user/logout` removed and `GET /pet/{petId}/photos`
/// added.
fn changed_petstore() -> String {
    let pet = doc("petstore-3.0.yaml");
    let start = pet.find("  '/user/logout':\n").unwrap();
    let end = start + pet[start..].find("  '/user/{username}':\n").unwrap();
    let mut changed = format!("{}{}", &pet[..start], &pet[end..]);
    let at = changed.find("  '/pet/{petId}/uploadImage':\n").unwrap();
    changed.insert_str(
        at,
        "  '/pet/{petId}/photos':\n    get:\n      operationId: listPetPhotos\n      summary: The photos of a pet\n      parameters:\n        - name: petId\n          in: path\n          required: true\n          schema:\n            type: integer\n            format: int64\n        - name: limit\n          in: query\n          schema:\n            type: integer\n            format: int32\n            minimum: 1\n            maximum: 50\n      responses:\n        '200':\n          description: ok\n",
    );
    changed
}

#[test]
fn importing_again_keeps_what_the_user_set_and_reports_what_changed() {
    let pet = doc("petstore-3.0.yaml");
    let dir = project().file("petstore.yaml", pet.clone()).build();
    let spec = "specs/petstore.toml";
    dir.shopgen([
        "import",
        "openapi",
        "petstore.yaml",
        "--name",
        "petstore",
        "--public",
        "GET /store/order/{orderId}",
    ])
    .ok();
    // The user edits the settings and exposes two more routes, one with a user token.
    let first = dir.read(spec);
    let edited = first
        .replace("project = \"my-gcp-project\"", "project = \"acme-pets-prod\"")
        .replace(
            "openapi = \"3.0\"\n",
            "openapi = \"3.0\"\n# partners get their own keys\nconsumers = [\"web\", \"partner-a\"]\n\n[gateway.identity.firebase]\nissuer = \"https://securetoken.google.com/acme-pets\"\njwks_uri = \"https://www.googleapis.com/service_accounts/v1/metadata/x509/securetoken@system.gserviceaccount.com\"\naudiences = [\"acme-pets\"]\n",
        )
        .replace("selector = { app = \"petstore\" }", "selector = { app = \"pets\", tier = \"web\" }");
    let edited = set_route(
        &edited,
        "place_order",
        "exposure = \"public\"\nauth = [\"api_key\", \"firebase\"]",
    );
    let edited = set_route(&edited, "logout_user", "exposure = \"internal\"");
    let edited = set_route(&edited, "update_user", "exposure = \"public\"");
    // An edit of a key the document owns: importing again puts the document's back.
    let edited = edited.replace(
        "summary = \"Find purchase order by ID\"",
        "summary = \"One order\"",
    );
    dir.write(spec, &edited);
    let marker = edited.find("# Routes imported by").unwrap();

    // The document changes: GET /user/logout removed (internal: no question asked),
    // GET /pet/{petId}/photos added.
    dir.write("petstore.yaml", &changed_petstore());
    let run = dir
        .shopgen(["import", "openapi", "petstore.yaml", "--out", spec])
        .ok();
    let after = dir.read(spec);
    assert_eq!(
        &after[..marker],
        &edited[..marker],
        "the user's settings changed"
    );
    assert!(
        run.stderr
            .contains("added operations.list_pet_photos (GET /v2/pet/{petId}/photos)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("removed operations.logout_user (GET /v2/user/logout)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "updated operations.get_order_by_id (GET /v2/store/order/{orderId}): summary\n"
        ),
        "{}",
        run.stderr
    );
    assert!(after.contains("summary = \"Find purchase order by ID\""));
    assert!(
        run.stderr.matches("updated operations.").count() == 1,
        "nothing else changed: {}",
        run.stderr
    );
    let parsed: toml::Table = toml::from_str(&after).unwrap();
    let ops = parsed["operations"].as_table().unwrap();
    let exposure = |name: &str| ops[name]["exposure"].as_str().unwrap().to_string();
    assert_eq!(exposure("get_order_by_id"), "public");
    assert_eq!(exposure("place_order"), "public");
    assert_eq!(exposure("update_user"), "public");
    assert_eq!(exposure("get_user_by_name"), "internal");
    assert_eq!(exposure("list_pet_photos"), "internal");
    assert_eq!(
        ops["place_order"]["auth"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>(),
        ["api_key", "firebase"]
    );
    assert!(!ops.contains_key("logout_user"));
    assert_eq!(
        ops["list_pet_photos"]["query"]["limit"]
            .as_table()
            .unwrap()
            .get("max")
            .and_then(|v| v.as_integer()),
        Some(50)
    );

    // The document drops a route the spec exposes: refused, the spec untouched …
    let without = changed_petstore();
    let start = without.find("  '/user/{username}':\n").unwrap();
    let end = without.find("\ncomponents:\n").unwrap() + 1;
    let without = format!("{}{}", &without[..start], &without[end..]);
    dir.write("petstore.yaml", &without);
    let refused = dir
        .shopgen(["import", "openapi", "petstore.yaml", "--out", spec])
        .run();
    assert_eq!(refused.code(), Some(1), "{}", refused.text());
    assert!(
        refused
            .stderr
            .contains("removed operations.update_user (PUT /v2/user/{username}), which was public"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(dir.read(spec), after);
    // A spec that is not TOML any more: its error, located, and nothing written.
    let broken = format!("{after}\n[gcp\n");
    dir.write(spec, &broken);
    let bad = dir
        .shopgen(["import", "openapi", "petstore.yaml", "--out", spec])
        .run();
    assert_eq!(bad.code(), Some(1), "{}", bad.text());
    let line = broken.lines().count();
    assert!(
        bad.stderr.contains(&format!(
            "error: {spec}:{line}:5: the spec to update is not valid TOML"
        )),
        "{}",
        bad.stderr
    );
    assert_eq!(dir.read(spec), broken);
    dir.write(spec, &after);
    // … and with --force, gone.
    dir.shopgen([
        "import",
        "openapi",
        "petstore.yaml",
        "--out",
        spec,
        "--force",
    ])
    .ok();
    let forced = dir.read(spec);
    assert!(!forced.contains("[operations.update_user]"), "{forced}");
    assert!(
        !forced.contains("[operations.get_user_by_name]"),
        "{forced}"
    );
    assert_eq!(&forced[..marker], &edited[..marker]);
}

/// Replaces the `exposure` line of route `name` with `lines`.
fn set_route(text: &str, name: &str, lines: &str) -> String {
    let header = format!("[operations.{name}]\n");
    let at = text.find(&header).unwrap_or_else(|| panic!("no {header}"));
    let rel = text[at..].find("exposure = \"internal\"\n").unwrap();
    let start = at + rel;
    format!(
        "{}{}\n{}",
        &text[..start],
        lines,
        &text[start + "exposure = \"internal\"\n".len()..]
    )
}

/// The round trip: every imported spec builds with `shopgen build`, and its gateway
/// document, in both dialects, follows API Gateway's rules (infra_openapi's) and
/// passes openapi-spec-validator with api.yaml.
#[test]
fn imported_specs_build_and_their_gateway_documents_pass_the_dialect_checks() {
    let mut b = project();
    let mut specs = Vec::new();
    for (_, name, _) in CASES {
        let text =
            std::fs::read_to_string(repo().join(format!("compiler/tests/import/{name}.toml")))
                .unwrap();
        let swagger = text.replace("openapi = \"3.0\"\n", "openapi = \"2.0\"\n");
        assert_ne!(swagger, text);
        b = b
            .file(&format!("specs/{name}.toml"), text.clone())
            .file(&format!("specs/{name}-v2.toml"), swagger.clone());
        specs.push((name.to_string(), text));
        specs.push((format!("{name}-v2"), swagger));
    }
    let dir = b.build();
    let validator = tool(
        "openapi-spec-validator",
        "pip install openapi-spec-validator",
    );
    for (name, text) in &specs {
        let spec = format!("specs/{name}.toml");
        let run = dir.shopgen(["build", &spec]).run();
        assert!(run.success(), "shopgen build {spec}:\n{}", run.stderr);
        let source = shopgen::model::SpecSource {
            stem: name.clone(),
            display_path: spec.clone(),
        };
        let model = shopgen::compile(text, source).unwrap();
        let gw = dir.read(&format!("generated/{name}/openapi/gateway.yaml"));
        let doc: serde_json::Value = serde_saphyr::from_str(&fill(&gw)).unwrap();
        let errors = google_rules(&model, &doc);
        assert!(errors.is_empty(), "{spec}:\n{}", errors.join("\n"));
        // Exactly the routes made public are in the gateway document.
        let parsed: toml::Table = toml::from_str(text).unwrap();
        let public = parsed["operations"]
            .as_table()
            .unwrap()
            .values()
            .filter(|o| o["exposure"].as_str() == Some("public"))
            .count();
        assert!(public > 0 || name.starts_with("circular") || name.starts_with("polymorphism"));
        let listed: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| {
                ["get", "put", "post", "patch", "delete"]
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .count()
            })
            .sum();
        assert_eq!(
            listed, public,
            "{spec}: the gateway lists only the public routes"
        );
        if let Some(validator) = &validator {
            let filled = dir.path(&format!("generated/{name}/openapi/gateway.filled.yaml"));
            std::fs::write(&filled, fill(&gw)).unwrap();
            let out = run_ok(
                Command::new(validator)
                    .arg(&filled)
                    .arg(dir.path(&format!("generated/{name}/openapi/api.yaml"))),
            );
            assert_eq!(out.matches(": OK").count(), 2, "{spec}:\n{out}");
        }
    }
}

/// A stand-in for the Swagger Petstore in Python (standard library only): every
/// request answered with what it received, as JSON, and a `Cache-Control` of its own.
const PETSTORE_PY: &str = r#"
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def echo(self, status):
        length = int(self.headers.get("Content-Length") or 0)
        got = self.rfile.read(length).decode() if length else ""
        body = json.dumps({"method": self.command, "target": self.path, "body": got}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "private, max-age=5")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.echo(200)

    def do_POST(self):
        self.echo(201)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The Python stand-in, stopped when dropped.
struct Petstore(std::process::Child);

impl Drop for Petstore {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The whole way: a document imported, the spec built, and `shopgen up --upstream`
/// serving it in front of a running service: the public routes reach it through the
/// gateway with the key, path as the document writes it (server prefix kept), answer
/// unchanged; the internal ones do not.
#[test]
fn an_imported_spec_serves_its_public_routes_in_front_of_the_running_service() {
    use std::io::BufRead;
    let ws = project()
        .workspace(&["generated/*/relay"])
        .runner()
        .file("petstore.yaml", doc("petstore-3.0.yaml"))
        .build();
    ws.shopgen([
        "import",
        "openapi",
        "petstore.yaml",
        "--name",
        "petstore",
        "--public",
        "GET /store/order/{orderId}",
        "--public",
        "POST /store/order",
    ])
    .ok();
    ws.shopgen(["build", "specs/petstore.toml"]).ok();
    let script = ws.path("petstore.py");
    std::fs::write(&script, PETSTORE_PY).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
    let _service = Petstore(child);
    let up = Up::spawn_upstream(ws.shopgen([
        "up",
        "specs/petstore.toml",
        "--upstream",
        &format!("http://127.0.0.1:{port}"),
        "--api-key",
        "k-pets",
    ]));
    let key = ("x-api-key", "k-pets");

    let a = http("GET", up.gateway, "/v2/store/order/7", &[key], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body,
        r#"{"method": "GET", "target": "/v2/store/order/7", "body": ""}"#
    );
    assert_eq!(a.header("cache-control"), Some("private, max-age=5"));
    let order = r#"{"petId":1,"quantity":2}"#;
    let a = http("POST", up.gateway, "/v2/store/order", &[key], Some(order));
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.json()["body"], order);

    let a = http("GET", up.gateway, "/v2/store/order/7", &[], None);
    assert_eq!(a.status, 401, "{a:?}");
    for (method, path) in [("GET", "/v2/store/inventory"), ("GET", "/v2/user/login")] {
        let a = http(method, up.gateway, path, &[key], None);
        assert!(matches!(a.status, 404 | 405), "{method} {path}: {a:?}");
        let a = http(method, up.relay, path, &[], None);
        assert_eq!(a.status, 404, "{method} {path} on the relay: {a:?}");
    }
    up.stop();
}
