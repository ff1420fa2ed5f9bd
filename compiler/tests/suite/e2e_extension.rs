//! End-to-end: the example spec with custom operations and hooks (`specs/store.toml`
//! and its extension crate `extensions/store/`), and what a rebuild does to a user's
//! extension crate.
//!
//! - Through `shopgen up` on SQLite and on a throwaway PostgreSQL: the public
//!   operation through the local gateway and the relay, the internal one directly on
//!   the backend (and refused by the gateway and the relay), and the review hooks:
//!   a modified record, a 422 rejection that writes nothing, an after-commit audit row;
//!   and the wishlists owned by their users (`e2e_ownership`).
//! - Regeneration: a copy of the example spec in a workspace of its own; the first
//!   build writes stubs that compile, which are replaced by the example's crate. The
//!   spec gains a product field, an operation and a hook. The rebuild leaves the extension crate
//!   untouched and `cargo build` fails naming the new methods; once written, the build
//!   passes and the new operation answers through the gateway (a panic in it is a 500
//!   naming the request id, a failing after hook leaves the write standing). An
//!   operation removed from the spec makes the leftover method an error.

use std::time::Duration;

use crate::support::tokens::{self, Signer};
use crate::support::up::Up;
use crate::support::{Answer, Project, http, project, repo, shopgen};

const KEY: (&str, &str) = ("x-api-key", "store-key");

/// `specs/store.toml`'s identity provider (`[gateway.identity.firebase]`).
const ISSUER: &str = "https://securetoken.google.com/acme-store-staging";
const AUDIENCE: &str = "acme-store-staging";

/// `shopgen up specs/store.toml` in the repository on `database_url`, with the
/// Firebase provider's keys replaced by a key the test made (`--jwks`).
fn up_store(database_url: &str, signer: &Signer) -> Up {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks = tokens::write_jwks(signer, dir.path());
    let jwks = format!("firebase={}", jwks.display());
    Up::spawn(
        shopgen([
            "up",
            "specs/store.toml",
            "--database-url",
            database_url,
            "--jwks",
            &jwks,
        ])
        .env("SHOPGEN_API_KEYS", KEY.1),
        Some(dir),
    )
}

/// Whether the backend or the relay printed a line with `request_id`.
fn reached_the_services(up: &Up, request_id: &str) -> bool {
    up.output().iter().any(|l| {
        let l = l.trim_start();
        (l.starts_with("backend |") || l.starts_with("relay |")) && l.contains(request_id)
    })
}

/// `GET /me` (`auth = "firebase"`): the gateway, the relay and the backend each
/// verify what they must, and no header a client writes chooses the identity.
fn identity_scenario(up: &mut Up, signer: &Signer) {
    let alice = signer.token(&tokens::claims(ISSUER, AUDIENCE, "alice"));
    let bearer = |t: &str| format!("Bearer {t}");
    let mallory = tokens::claims(ISSUER, AUDIENCE, "mallory");

    // Through gateway → relay → backend: the verified subject, answered for one caller.
    let a = http(
        "GET",
        up.gateway,
        "/me",
        &[KEY, ("Authorization", &bearer(&alice))],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["subject"], "alice", "{a:?}");
    assert_eq!(a.json()["email"], "alice@example.com", "{a:?}");
    assert!(
        a.header("vary")
            .is_some_and(|v| v.contains("Authorization")),
        "{a:?}"
    );

    // (a) A client's own identity headers next to its token choose nothing: the
    // gateway replaces `X-Forwarded-Authorization` with the token it verified, and the
    // backend never reads `X-Apigateway-Api-Userinfo`.
    let forged_userinfo = tokens::userinfo(&mallory);
    let forged_token = bearer(&tokens::unsigned(&mallory));
    let a = http(
        "GET",
        up.gateway,
        "/me",
        &[
            KEY,
            ("Authorization", &bearer(&alice)),
            ("X-Apigateway-Api-Userinfo", &forged_userinfo),
            ("X-Forwarded-Authorization", &forged_token),
        ],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["subject"], "alice", "{a:?}");

    // Tokens the gateway refuses (401 in ESPv2's shape), and nothing reaches the relay
    // or the backend.
    let now = tokens::now();
    let claims_with = |key: &str, value: serde_json::Value| {
        let mut c = tokens::claims(ISSUER, AUDIENCE, "alice");
        c[key] = value;
        c
    };
    // The same `kid` as the provider's key, another key: the signature does not verify.
    let other = Signer::ec("firebase-key-0");
    let refused = [
        (
            "expired",
            signer.token(&claims_with("exp", (now - 3600).into())),
        ),
        (
            "not-yet-valid",
            signer.token(&claims_with("nbf", (now + 3600).into())),
        ),
        (
            "wrong-issuer",
            signer.token(&claims_with("iss", "https://evil.example".into())),
        ),
        (
            "wrong-audience",
            signer.token(&claims_with("aud", "another-app".into())),
        ),
        (
            "bad-signature",
            other.token(&tokens::claims(ISSUER, AUDIENCE, "alice")),
        ),
        (
            "alg-none",
            tokens::unsigned(&tokens::claims(ISSUER, AUDIENCE, "alice")),
        ),
    ];
    for (case, token) in &refused {
        let id = format!("identity-refused-{case}");
        let a = http(
            "GET",
            up.gateway,
            "/me",
            &[
                KEY,
                ("Authorization", &bearer(token)),
                ("X-Request-Id", &id),
            ],
            None,
        );
        assert_eq!(a.status, 401, "{case}: {a:?}");
        assert_eq!(a.json()["code"], 401, "{case}: {a:?}");
    }
    let a = http(
        "GET",
        up.gateway,
        "/me",
        &[
            KEY,
            ("X-Apigateway-Api-Userinfo", &forged_userinfo),
            ("X-Request-Id", "identity-refused-missing"),
        ],
        None,
    );
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(a.json()["message"], "Jwt is missing", "{a:?}");
    // `auth = ["api_key", "firebase"]`: a valid token without the key is refused too.
    let a = http(
        "GET",
        up.gateway,
        "/me",
        &[
            ("Authorization", &bearer(&alice)),
            ("X-Request-Id", "identity-refused-keyless"),
        ],
        None,
    );
    assert_eq!(a.status, 401, "{a:?}");
    assert!(
        a.json()["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("UNAUTHENTICATED")),
        "{a:?}"
    );
    // A good request after them: once its backend line is printed, the refused ones'
    // would have been too.
    let a = http(
        "GET",
        up.gateway,
        "/me",
        &[
            KEY,
            ("Authorization", &bearer(&alice)),
            ("X-Request-Id", "identity-accepted-after"),
        ],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    up.wait_for(
        &["backend | ", "identity-accepted-after"],
        Duration::from_secs(10),
    );
    for case in refused
        .iter()
        .map(|(c, _)| *c)
        .chain(["missing", "keyless"])
    {
        let id = format!("identity-refused-{case}");
        assert!(
            !reached_the_services(up, &id),
            "{case} reached the services"
        );
    }

    // (b) In the cluster, straight to the backend: only a token that verifies makes a
    // caller; the gateway's unsigned header alone, an unsigned token, another key's
    // token or another issuer's are 401 with `WWW-Authenticate: Bearer`.
    let direct = |headers: &[(&str, &str)]| http("GET", up.backend, "/me", headers, None);
    let a = direct(&[("X-Forwarded-Authorization", &bearer(&alice))]);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["subject"], "alice", "{a:?}");
    let wrong_issuer = signer.token(&claims_with("iss", "https://evil.example".into()));
    let forged = [
        vec![],
        vec![("X-Apigateway-Api-Userinfo", forged_userinfo.clone())],
        vec![("X-Forwarded-Authorization", forged_token.clone())],
        vec![("X-Forwarded-Authorization", bearer(&other.token(&mallory)))],
        vec![("X-Forwarded-Authorization", bearer(&wrong_issuer))],
        vec![("Authorization", bearer(&alice))],
    ];
    for headers in &forged {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = direct(&headers);
        assert_eq!(a.status, 401, "{headers:?}: {a:?}");
        assert_eq!(a.json()["error"]["code"], "unauthorized", "{a:?}");
        assert!(
            a.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{a:?}"
        );
    }
    // One caller's answer is never another's, even when the other caller revalidates
    // with the first one's `ETag`; the answer says it is private.
    let bob = signer.token(&tokens::claims(ISSUER, AUDIENCE, "bob"));
    let a = direct(&[("X-Forwarded-Authorization", &bearer(&alice))]);
    assert_eq!(a.json()["subject"], "alice", "{a:?}");
    let alice_tag = a.header("etag").expect("an ETag").to_string();
    assert!(
        a.header("cache-control")
            .is_some_and(|c| !c.contains("public") && (c.contains("private") || c == "no-store")),
        "{a:?}"
    );
    for _ in 0..2 {
        let a = direct(&[
            ("X-Forwarded-Authorization", &bearer(&bob)),
            ("If-None-Match", &alice_tag),
        ]);
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.json()["subject"], "bob", "{a:?}");
        let a = http(
            "GET",
            up.gateway,
            "/me",
            &[KEY, ("Authorization", &bearer(&bob))],
            None,
        );
        assert_eq!(a.json()["subject"], "bob", "{a:?}");
    }
    // Alice's own tag still revalidates her answer.
    let a = direct(&[
        ("X-Forwarded-Authorization", &bearer(&alice)),
        ("If-None-Match", &alice_tag),
    ]);
    assert_eq!(a.status, 304, "{a:?}");
    // `HEAD` runs the `GET` handler, so it needs the same token.
    let a = http(
        "HEAD",
        up.backend,
        "/me",
        &[("X-Apigateway-Api-Userinfo", &forged_userinfo)],
        None,
    );
    assert_eq!(a.status, 401, "{a:?}");
    // Two tokens: the backend does not choose between them.
    let a = direct(&[
        ("X-Forwarded-Authorization", &bearer(&alice)),
        (
            "X-Forwarded-Authorization",
            &bearer(&signer.token(&mallory)),
        ),
    ]);
    assert_eq!(a.status, 401, "{a:?}");
    // A route that takes no user token ignores identity headers altogether.
    let a = http(
        "GET",
        up.backend,
        "/products",
        &[("X-Apigateway-Api-Userinfo", &forged_userinfo)],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
}

fn post(up: &Up, path: &str, body: &str) -> Answer {
    http("POST", up.backend, path, &[], Some(body))
}

/// The example's whole story on one database.
fn store_scenario(mut up: Up, signer: &Signer) {
    identity_scenario(&mut up, signer);
    let chain = crate::e2e_ownership::Chain {
        up: &up,
        key: KEY,
        issuer: ISSUER,
        audience: AUDIENCE,
    };
    crate::e2e_ownership::wishlists_scenario(&chain, signer);
    let a = post(
        &up,
        "/products",
        r#"{"title":"Copper Kettle","price":"40.00"}"#,
    );
    assert_eq!(a.status, 201, "{a:?}");
    let product = a.json()["product"]["id"].as_i64().expect("product id");
    let reviews = format!("/products/{product}/reviews");

    // before_create modifies the record: the name is stored trimmed.
    let a = post(
        &up,
        &reviews,
        r#"{"name":"   Ada Lovelace  ","message":"Boils fast, whistles politely.","rate":5}"#,
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.json()["review"]["name"], "Ada Lovelace", "{a:?}");
    let first_review = a.json()["review"]["id"].as_i64().expect("review id");
    let a = post(
        &up,
        &reviews,
        r#"{"name":"Grace","message":"Handle gets hot.","rate":2}"#,
    );
    assert_eq!(a.status, 201, "{a:?}");

    // before_create rejects: a 422 in the uniform error body, nothing written.
    let a = post(
        &up,
        &reviews,
        r#"{"name":"Mallory","message":"Best COPPER KETTLE ever!!!","rate":5}"#,
    );
    assert_eq!(a.status, 422, "{a:?}");
    let error = &a.json()["error"];
    assert_eq!(error["status"], 422, "{a:?}");
    assert_eq!(error["code"], "invalid", "{a:?}");
    assert!(
        error["fields"]["message"][0]
            .as_str()
            .is_some_and(|m| m.contains("must not quote the product's title")),
        "{a:?}"
    );
    // A blank name is rejected on its field too (the field rules pass it: it is not
    // empty, only blank).
    let a = post(
        &up,
        &reviews,
        r#"{"name":"   ","message":"Fine.","rate":3}"#,
    );
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.json()["error"]["fields"]["name"].is_array(), "{a:?}");
    let a = http("GET", up.backend, &reviews, &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.json()["reviews"].as_array().map(Vec::len),
        Some(2),
        "the rejected reviews were not written: {a:?}"
    );

    // after_create: one audit entry per committed review, none for the rejected ones.
    let a = http("GET", up.backend, "/audit-entries", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    let entries = a.json()["audit_entries"].clone();
    let subjects: Vec<&str> = entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            assert_eq!(e["action"], "review.created", "{e}");
            e["subject"].as_str().expect("subject")
        })
        .collect();
    assert_eq!(
        subjects,
        vec![
            format!("review {first_review}"),
            format!("review {}", first_review + 1)
        ],
        "{a:?}"
    );

    // The public operation, through the gateway (and so the relay).
    let summary = format!("/products/{product}/rating-summary");
    let a = http("GET", up.gateway, &summary, &[KEY], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.json(),
        serde_json::json!({"product_id": product, "reviews": 2, "average": "3.50"}),
        "{a:?}"
    );
    let a = http(
        "GET",
        up.gateway,
        &format!("{summary}?min_rate=4"),
        &[KEY],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["reviews"], 1, "{a:?}");
    assert_eq!(a.json()["average"], "5.00", "{a:?}");
    let a = http(
        "GET",
        up.gateway,
        &format!("{summary}?min_rate=4"),
        &[KEY, ("X-Request-Id", "summary-trace-1")],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    up.wait_for(
        &["summary-trace-1", "rating summary of product"],
        Duration::from_secs(10),
    );
    // Query and path parameters are checked before the method runs.
    let a = http(
        "GET",
        up.gateway,
        &format!("{summary}?min_rate=9"),
        &[KEY],
        None,
    );
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "bad_query", "{a:?}");
    assert!(a.json()["error"]["fields"]["min_rate"].is_array(), "{a:?}");
    let a = http(
        "GET",
        up.gateway,
        &format!("{summary}?rate=4"),
        &[KEY],
        None,
    );
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.json()["error"]["fields"]["rate"].is_array(), "{a:?}");
    let a = http(
        "GET",
        up.gateway,
        "/products/0/rating-summary",
        &[KEY],
        None,
    );
    assert_eq!(a.status, 404, "{a:?}");
    // The method's own 404.
    let a = http(
        "GET",
        up.gateway,
        "/products/999/rating-summary",
        &[KEY],
        None,
    );
    assert_eq!(a.status, 404, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "not_found", "{a:?}");
    // Without a key the gateway refuses it, as any public route.
    let a = http("GET", up.gateway, &summary, &[], None);
    assert_eq!(a.status, 401, "{a:?}");

    // The internal operation: directly on the backend. (The product is read through
    // the gateway first, so a cached answer would show the old price.)
    let a = http(
        "GET",
        up.gateway,
        &format!("/products/{product}"),
        &[KEY],
        None,
    );
    assert_eq!(a.json()["product"]["price"], "40.00", "{a:?}");
    let reprice = format!("/products/{product}/reprice");
    let a = post(&up, &reprice, r#"{"percent":15}"#);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["product"]["price"], "46.00", "{a:?}");
    assert_eq!(a.json()["product"]["title"], "Copper Kettle", "{a:?}");
    let a = post(&up, &reprice, r#"{"percent":1000}"#);
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.json()["error"]["fields"]["percent"].is_array(), "{a:?}");
    let a = post(&up, &reprice, r#"{}"#);
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.json()["error"]["fields"]["percent"].is_array(), "{a:?}");
    let a = post(&up, &reprice, r#"{"percent":"#);
    assert_eq!(a.status, 400, "{a:?}");
    let a = post(&up, "/products/999/reprice", r#"{"percent":5}"#);
    assert_eq!(a.status, 404, "{a:?}");
    // The new price is what the public routes show now (no stale cached answer).
    let a = http(
        "GET",
        up.gateway,
        &format!("/products/{product}"),
        &[KEY],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["product"]["price"], "46.00", "{a:?}");
    // The gateway and the relay refuse the internal operation.
    let a = http(
        "POST",
        up.gateway,
        &reprice,
        &[KEY],
        Some(r#"{"percent":15}"#),
    );
    assert!(matches!(a.status, 404 | 405), "{a:?}");
    let a = http("POST", up.relay, &reprice, &[], Some(r#"{"percent":15}"#));
    assert_eq!(a.status, 404, "{a:?}");
    let a = http(
        "GET",
        up.backend,
        &format!("/products/{product}"),
        &[],
        None,
    );
    assert_eq!(a.json()["product"]["price"], "46.00", "unchanged: {a:?}");
    // The backend's own document lists both operations.
    let a = http("GET", up.backend, "/openapi.json", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    let doc = a.json();
    assert!(doc["paths"]["/products/{id}/rating-summary"]["get"].is_object());
    assert!(doc["paths"]["/products/{id}/reprice"]["post"].is_object());
    assert!(a.header("content-type").is_some());
    up.stop();
}

#[test]
fn store_through_up_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let signer = Signer::ec("firebase-key-0");
    store_scenario(up_store(&url, &signer), &signer);
}

#[test]
fn store_through_up_on_postgresql() {
    let pg = shopgen_testkit::Postgres::shared();
    let signer = Signer::ec("firebase-key-0");
    store_scenario(up_store(&pg.fresh_database(), &signer), &signer);
}

// ---------------------------------------------------------------------------------
// Regeneration

/// A workspace of the user's own with a copy of the example: `specs/store.toml`, its
/// generated crates and `extensions/store/` as members, this repository's runtime
/// crates, lock file and target folder (so dependencies are reused, nothing fetched).
fn store_project() -> Project {
    project()
        .workspace(&[
            "generated/store/backend",
            "generated/store/relay",
            "generated/store/api",
            "extensions/store",
        ])
        .runner()
        .repo_file("specs/store.toml")
        .build()
}

/// Replaces the extension crate with the example's finished one.
fn copy_example_extension(project: &Project) {
    for file in ["Cargo.toml", "src/lib.rs"] {
        let to = project.path("extensions/store").join(file);
        std::fs::copy(repo().join("extensions/store").join(file), to).expect("copy");
    }
}

/// `cargo build -p store-backend` (with the relay, as `shopgen up` builds them, so
/// the build reuses the workspace's dependencies: see `builds.rs`): whether it
/// succeeded, and its stderr.
fn cargo_build(project: &Project) -> (bool, String) {
    let out = project
        .cargo(&["build", "-q", "-p", "store-backend", "-p", "store-relay"])
        .output()
        .expect("run cargo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `shopgen up` in the project, on a SQLite file of its own.
fn up(project: &Project) -> Up {
    let url = format!("sqlite://{}", project.path("store.db").display());
    Up::spawn(
        project
            .shopgen(["up", "specs/store.toml", "--database-url", &url])
            .env("SHOPGEN_API_KEYS", KEY.1),
        None,
    )
}

/// The example spec after a change: products gain `sku` (in their JSON, so in what
/// `reprice` answers), a public operation lists the best-rated products, and reviews
/// get an `after_delete` hook.
fn changed_spec(spec: &str) -> String {
    let changed = spec
        .replace(
            "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n",
            "fields.price = { type = \"decimal\", precision = 10, scale = 2, min = \"0\" }\n\
             fields.sku = { type = \"string\", max_length = 20, required = false }\n",
        )
        .replace(
            "json = [\"id\", \"title\", \"price\", \"reviews\"]",
            "json = [\"id\", \"title\", \"price\", \"sku\", \"reviews\"]",
        )
        .replace(
            "hooks = [\"before_create\", \"after_create\"]",
            "hooks = [\"before_create\", \"after_create\", \"after_delete\"]",
        );
    assert!(changed.contains("\"sku\", \"reviews\""), "json changed");
    assert!(changed.contains("\"after_delete\""), "hooks changed");
    changed
        + "\n[operations.top_rated]\n\
           method = \"GET\"\n\
           path = \"/top-rated-products\"\n\
           exposure = \"public\"\n\
           summary = \"Products with at least one review, best average rate first\"\n\
           query.limit = { type = \"integer\", min = 1, max = 50, default = 10 }\n\
           output = [\"product\"]\n"
}

/// What the user writes for the new methods (inside `impl Extension for Store`).
const NEW_METHODS: &str = r#"
    async fn top_rated(
        &self,
        ctx: &Context,
        input: store_api::TopRatedInput,
    ) -> Result<Vec<i64>, ApiError> {
        if input.limit == 13 {
            panic!("unlucky limit");
        }
        let rows: Vec<TopRated> = ctx
            .db()
            .fetch_all(
                "SELECT product_id, AVG(rate) FROM reviews GROUP BY product_id \
                 ORDER BY AVG(rate) DESC, product_id LIMIT $1",
                &[Value::Int(i64::from(input.limit))],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn review_after_delete(&self, ctx: &Context, id: i64) -> Result<(), ApiError> {
        ctx.log().info(format!("review {id} deleted"));
        Err(ApiError::Internal("the audit service is down".into()))
    }
"#;

/// The row type the new method reads (outside the `impl`).
const NEW_ROW: &str = r#"
/// A product id of the top-rated query (the average is only for ordering).
struct TopRated(i64);

impl FromRow for TopRated {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(TopRated(row.get(0)?))
    }
}
"#;

#[test]
fn regeneration_keeps_the_extension_and_the_compiler_names_what_to_change() {
    let project = store_project();

    // The first build writes the extension crate's stubs, which compile as they are.
    project.build_and_check("specs/store.toml");
    let stub = project.read("extensions/store/src/lib.rs");
    assert!(
        stub.contains("ApiError::not_implemented(\"rating_summary\")"),
        "{stub}"
    );
    let (ok, stderr) = cargo_build(&project);
    assert!(ok, "the stubs compile:\n{stderr}");

    // The user writes the methods (here: the example's finished crate).
    copy_example_extension(&project);
    let original_lib = project.read("extensions/store/src/lib.rs");
    let original_manifest = project.read("extensions/store/Cargo.toml");
    let spec = project.read("specs/store.toml");

    // The spec gains a field, an operation and a hook; the rebuild leaves the user's
    // crate alone, and cargo names the two methods it lacks.
    project.write("specs/store.toml", &changed_spec(&spec));
    project.build_and_check("specs/store.toml");
    assert_eq!(project.read("extensions/store/src/lib.rs"), original_lib);
    assert_eq!(
        project.read("extensions/store/Cargo.toml"),
        original_manifest
    );
    let (ok, stderr) = cargo_build(&project);
    assert!(
        !ok,
        "the build must fail until the methods exist:\n{stderr}"
    );
    assert!(
        stderr.contains(
            "error[E0046]: not all trait items implemented, missing: `top_rated`, `review_after_delete`"
        ),
        "{stderr}"
    );

    // The user writes them; the build passes and the new operation answers.
    let lib = original_lib.replacen(
        "impl Extension for Store {\n",
        &format!("impl Extension for Store {{\n{NEW_METHODS}"),
        1,
    ) + NEW_ROW;
    assert_ne!(lib, original_lib);
    project.write("extensions/store/src/lib.rs", &lib);
    let (ok, stderr) = cargo_build(&project);
    assert!(ok, "{stderr}");

    let mut up = up(&project);
    let a = post(
        &up,
        "/products",
        r#"{"title":"Tea Tin","price":"9.50","sku":"TT-1"}"#,
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = post(&up, "/products", r#"{"title":"Teapot","price":"31.00"}"#);
    assert_eq!(a.status, 201, "{a:?}");
    for (product, rate) in [(1, 3), (2, 5), (2, 4)] {
        let a = post(
            &up,
            &format!("/products/{product}/reviews"),
            &format!(r#"{{"name":"R","message":"Fine.","rate":{rate}}}"#),
        );
        assert_eq!(a.status, 201, "{a:?}");
    }
    let a = http(
        "GET",
        up.gateway,
        "/top-rated-products?limit=2",
        &[KEY],
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let products = a.json()["products"].clone();
    let titles: Vec<&str> = products
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["title"].as_str().expect("title"))
        .collect();
    assert_eq!(titles, ["Teapot", "Tea Tin"], "{a:?}");
    assert_eq!(
        products[1]["sku"], "TT-1",
        "the new field is in the output: {a:?}"
    );
    assert_eq!(products[0]["sku"], serde_json::Value::Null, "{a:?}");
    let a = http(
        "GET",
        up.gateway,
        "/top-rated-products?limit=0",
        &[KEY],
        None,
    );
    assert_eq!(a.status, 400, "{a:?}");
    // The operation that returns a product shows the new field too.
    let a = post(&up, "/products/1/reprice", r#"{"percent":-10}"#);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["product"]["sku"], "TT-1", "{a:?}");
    assert_eq!(a.json()["product"]["price"], "8.55", "{a:?}");

    // A panic in the method: a 500 naming the request id; the service keeps serving.
    let a = http(
        "GET",
        up.gateway,
        "/top-rated-products?limit=13",
        &[KEY, ("X-Request-Id", "unlucky-4711")],
        None,
    );
    assert_eq!(a.status, 500, "{a:?}");
    assert_eq!(a.json()["error"]["code"], "internal", "{a:?}");
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unlucky-4711")),
        "{a:?}"
    );
    up.wait_for(&["unlucky-4711", "unlucky limit"], Duration::from_secs(10));
    let a = http("GET", up.gateway, "/top-rated-products", &[KEY], None);
    assert_eq!(a.status, 200, "{a:?}");

    // A failing after hook: the delete is acknowledged and stands; the failure is logged.
    let a = http("DELETE", up.backend, "/reviews/1", &[], None);
    assert_eq!(a.status, 204, "{a:?}");
    let a = http("GET", up.backend, "/reviews/1", &[], None);
    assert_eq!(a.status, 404, "{a:?}");
    up.wait_for(
        &["after-commit hook failed", "the audit service is down"],
        Duration::from_secs(10),
    );
    up.stop();

    // The operation leaves the spec: its method is now an error in the user's crate.
    let changed = changed_spec(&spec);
    let cut = changed
        .find("\n[operations.top_rated]")
        .expect("the new operation");
    project.write("specs/store.toml", &changed[..=cut]);
    project.build_and_check("specs/store.toml");
    assert_eq!(project.read("extensions/store/src/lib.rs"), lib);
    let (ok, stderr) = cargo_build(&project);
    assert!(!ok, "a leftover method must fail the build:\n{stderr}");
    assert!(
        stderr.contains("error[E0407]: method `top_rated` is not a member of trait `Extension`"),
        "{stderr}"
    );
}
