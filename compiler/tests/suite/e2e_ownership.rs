//! End-to-end: rows owned by their user (`specs/store.toml`'s `wishlist`, with the
//! nested `wishes`), through gateway → relay → backend under `shopgen up`, on the
//! SQLite and the PostgreSQL run of `e2e_extension` (one build, both engines).
//!
//! Two users each create and list their wishlists and never see, change or delete the
//! other's (404); an owner in the body is ignored and the caller's stored; another
//! user's wishlist is 404 for its nested wishes (list and create); the internal routes
//! on the backend are unscoped and may give a wishlist to another user; no cached
//! answer or `ETag` of one user's list is answered to the other; and a create sent
//! again with its `Idempotency-Key` is written once, per user.

use crate::support::tokens::{self, Signer};
use crate::support::up::Up;
use crate::support::{Answer, http};

/// What the scenario calls the chain with: the API key header and the provider's
/// issuer and audience.
pub(crate) struct Chain<'a> {
    pub up: &'a Up,
    pub key: (&'a str, &'a str),
    pub issuer: &'a str,
    pub audience: &'a str,
}

impl Chain<'_> {
    fn token(&self, signer: &Signer, subject: &str) -> String {
        format!(
            "Bearer {}",
            signer.token(&tokens::claims(self.issuer, self.audience, subject))
        )
    }

    /// Through the local gateway, with the key and `user`'s token.
    fn user(&self, method: &str, path: &str, user: &str, body: Option<&str>) -> Answer {
        let headers = [self.key, ("Authorization", user)];
        http(method, self.up.gateway, path, &headers, body)
    }

    /// Directly on the backend, as an in-cluster caller of an internal route.
    fn internal(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        http(method, self.up.backend, path, &[], body)
    }
}

fn ids(a: &Answer) -> Vec<i64> {
    a.json()["wishlists"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {a:?}"))
        .iter()
        .map(|w| w["id"].as_i64().expect("id"))
        .collect()
}

fn created(a: &Answer, owner: &str) -> i64 {
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.json()["wishlist"]["owner"], owner, "{a:?}");
    a.json()["wishlist"]["id"].as_i64().expect("id")
}

/// The whole story of owned rows on one database.
pub(crate) fn wishlists_scenario(chain: &Chain, signer: &Signer) {
    let alice = chain.token(signer, "alice");
    let bob = chain.token(signer, "bob");

    // A forged owner in the body is ignored: the row is the caller's.
    let kitchen = created(
        &chain.user(
            "POST",
            "/wishlists",
            &alice,
            Some(r#"{"title":"Kitchen","owner":"bob"}"#),
        ),
        "alice",
    );
    let garden = created(
        &chain.user("POST", "/wishlists", &alice, Some(r#"{"title":"Garden"}"#)),
        "alice",
    );
    let books = created(
        &chain.user("POST", "/wishlists", &bob, Some(r#"{"title":"Books"}"#)),
        "bob",
    );
    // The backend itself needs the token on these routes, for in-cluster callers too.
    let a = chain.internal("GET", "/wishlists", None);
    assert_eq!(a.status, 401, "{a:?}");

    // Each lists only their own.
    let a = chain.user("GET", "/wishlists", &alice, None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(ids(&a), vec![kitchen, garden], "{a:?}");
    let a = chain.user("GET", "/wishlists", &bob, None);
    assert_eq!(ids(&a), vec![books], "{a:?}");
    assert_eq!(a.json()["wishlists"][0]["owner"], "bob", "{a:?}");

    // Bob cannot read, change or delete Alice's: 404, as for a row that does not exist.
    let item = format!("/wishlists/{kitchen}");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(r#"{"title":"Mine now"}"#)),
        ("DELETE", None),
    ] {
        let a = chain.user(method, &item, &bob, body);
        assert_eq!(a.status, 404, "{method}: {a:?}");
        assert_eq!(a.json()["error"]["code"], "not_found", "{a:?}");
    }
    let a = chain.user("GET", &item, &alice, None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["wishlist"]["title"], "Kitchen", "unchanged: {a:?}");
    // A PATCH naming another owner changes the title, not the owner.
    let a = chain.user(
        "PATCH",
        &format!("/wishlists/{books}"),
        &bob,
        Some(r#"{"title":"Novels","owner":"alice"}"#),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["wishlist"]["title"], "Novels", "{a:?}");
    assert_eq!(a.json()["wishlist"]["owner"], "bob", "{a:?}");
    // No token: the gateway refuses the route before anything is read.
    let a = http("GET", chain.up.gateway, "/wishlists", &[chain.key], None);
    assert_eq!(a.status, 401, "{a:?}");

    // Nested wishes: only under the caller's own wishlist.
    let wishes = format!("/wishlists/{kitchen}/wishes");
    let a = chain.user(
        "POST",
        &wishes,
        &alice,
        Some(r#"{"note":"A whistling kettle"}"#),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let a = chain.user("POST", &wishes, &bob, Some(r#"{"note":"Bob was here"}"#));
    assert_eq!(a.status, 404, "{a:?}");
    let a = chain.user("GET", &wishes, &bob, None);
    assert_eq!(a.status, 404, "{a:?}");
    let a = chain.user("GET", &wishes, &alice, None);
    assert_eq!(a.status, 200, "{a:?}");
    let json = a.json();
    let notes: Vec<&str> = json["wishes"]
        .as_array()
        .expect("wishes")
        .iter()
        .map(|w| w["note"].as_str().expect("note"))
        .collect();
    assert_eq!(
        notes,
        vec!["A whistling kettle"],
        "Bob's create wrote nothing: {a:?}"
    );
    let a = chain.user("GET", &item, &alice, None);
    assert_eq!(
        a.json()["wishlist"]["wishes"][0]["note"],
        "A whistling kettle"
    );

    // A cached answer or an ETag of Alice's list never answers Bob: he sends her tag
    // and gets his own list in full, and Alice's tag still revalidates hers.
    let mut alice_tag = String::new();
    for _ in 0..2 {
        let a = chain.user("GET", "/wishlists", &alice, None);
        assert_eq!(ids(&a), vec![kitchen, garden], "{a:?}");
        alice_tag = a.header("etag").expect("an ETag").to_string();
    }
    for _ in 0..2 {
        let headers = [
            chain.key,
            ("Authorization", bob.as_str()),
            ("If-None-Match", alice_tag.as_str()),
        ];
        let a = http("GET", chain.up.gateway, "/wishlists", &headers, None);
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(ids(&a), vec![books], "{a:?}");
        assert_eq!(
            a.header("cache-control"),
            Some("private, max-age=30"),
            "{a:?}"
        );
    }
    let headers = [
        chain.key,
        ("Authorization", alice.as_str()),
        ("If-None-Match", alice_tag.as_str()),
    ];
    let a = http("GET", chain.up.gateway, "/wishlists", &headers, None);
    assert_eq!(a.status, 304, "{a:?}");

    // Internal routes, directly on the backend, are not scoped: an in-cluster caller
    // gives Bob's wishlist to Alice (and sees every user's wishes).
    let a = chain.internal(
        "PUT",
        &format!("/wishlists/{books}"),
        Some(r#"{"title":"Novels for Alice","owner":"alice"}"#),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["wishlist"]["owner"], "alice", "{a:?}");
    let a = chain.internal("GET", "/wishes", None);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.json()["wishes"].as_array().map(Vec::len),
        Some(1),
        "{a:?}"
    );
    // The gateway does not route the internal `PUT`.
    let a = chain.user(
        "PUT",
        &format!("/wishlists/{kitchen}"),
        &bob,
        Some(r#"{"title":"x","owner":"bob"}"#),
    );
    assert!(matches!(a.status, 404 | 405), "{a:?}");
    let a = chain.user("GET", "/wishlists", &alice, None);
    assert_eq!(ids(&a), vec![kitchen, garden, books], "{a:?}");
    let a = chain.user("GET", "/wishlists", &bob, None);
    assert_eq!(ids(&a), Vec::<i64>::new(), "{a:?}");
    let a = chain.user("GET", &format!("/wishlists/{books}"), &bob, None);
    assert_eq!(a.status, 404, "{a:?}");

    // Alice deletes her own (its wishes go with it).
    let a = chain.user("DELETE", &item, &alice, None);
    assert_eq!(a.status, 204, "{a:?}");
    let a = chain.user("GET", &item, &alice, None);
    assert_eq!(a.status, 404, "{a:?}");
    let a = chain.internal("GET", "/wishes", None);
    assert_eq!(
        a.json()["wishes"].as_array().map(Vec::len),
        Some(0),
        "{a:?}"
    );

    // `Idempotency-Key` through the gateway and the relay: a create sent again is
    // written once; each user's keys are their own; a repeat of a wishlist given to
    // another user since answers 404, not the other user's row.
    let keyed = |user: &str| {
        let headers = [
            chain.key,
            ("Authorization", user),
            ("Idempotency-Key", "trip-1"),
        ];
        http(
            "POST",
            chain.up.gateway,
            "/wishlists",
            &headers,
            Some(r#"{"title":"Trip"}"#),
        )
    };
    let first = keyed(&alice);
    let trip = created(&first, "alice");
    let again = keyed(&alice);
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{again:?}"
    );
    assert_eq!(again.json(), first.json());
    let bobs = keyed(&bob);
    assert_ne!(created(&bobs, "bob"), trip, "{bobs:?}");
    assert_eq!(bobs.header("idempotent-replayed"), None, "{bobs:?}");
    let a = chain.internal(
        "PUT",
        &format!("/wishlists/{trip}"),
        Some(r#"{"title":"Trip","owner":"carol"}"#),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let again = keyed(&alice);
    assert_eq!(again.status, 404, "{again:?}");
    let a = chain.user("GET", "/wishlists", &alice, None);
    assert!(!ids(&a).contains(&trip), "{a:?}");
}

// ---------------------------------------------------------------------------------
// Ownership added after the first deployment

const NOTES_ISSUER: &str = "https://securetoken.google.com/acme-notes";
const NOTES_AUDIENCE: &str = "acme-notes";
const NOTES_KEY: (&str, &str) = ("x-api-key", "notes-key");

/// A first version without owners: notes written by in-cluster callers.
const NOTES: &str = r#"[service]
name = "notes-api"

[gcp]
project = "acme-notes"
region = "europe-west2"
cluster = { name = "notes", location = "europe-west2" }

[gateway.identity.firebase]
issuer = "https://securetoken.google.com/acme-notes"
jwks_uri = "https://www.googleapis.com/service_accounts/v1/metadata/jwk/securetoken@system.gserviceaccount.com"
audiences = ["acme-notes"]

[resources.note]
fields.body = { type = "string", max_length = 200 }
routes = { list = "internal", get = "internal", create = "internal" }
"#;

/// The next version: notes belong to users, the existing ones to `legacy-admin`, and
/// users list and read theirs through the gateway.
fn owned_notes() -> String {
    NOTES.replace(
        "routes = { list = \"internal\", get = \"internal\", create = \"internal\" }\n",
        "owner = { field = \"owner\", claim = \"sub\", existing = \"legacy-admin\" }\n\
         routes.list = { exposure = \"public\", auth = [\"api_key\", \"firebase\"] }\n\
         routes.get = { exposure = \"public\", auth = [\"api_key\", \"firebase\"] }\n\
         routes.create = \"internal\"\n",
    )
}

fn notes_up(project: &crate::support::Project, url: &str, signer: &Signer) -> Up {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks = format!(
        "firebase={}",
        tokens::write_jwks(signer, dir.path()).display()
    );
    Up::spawn(
        project
            .shopgen([
                "up",
                "specs/notes.toml",
                "--database-url",
                url,
                "--jwks",
                &jwks,
            ])
            .env("SHOPGEN_API_KEYS", NOTES_KEY.1),
        Some(dir),
    )
}

/// A spec without owners runs and stores rows; `owner` with `existing` is added, the
/// build appends a migration, and the service run again on the same databases (a
/// SQLite file and a PostgreSQL database) gives the old rows to `legacy-admin`, shows
/// each user only theirs, and lets in-cluster callers write rows for any owner.
#[test]
fn ownership_added_after_data_exists_gives_the_rows_to_existing() {
    let project = crate::support::project()
        .workspace(&["generated/notes/backend", "generated/notes/relay"])
        .runner()
        .file("specs/notes.toml", NOTES)
        .build();
    project.build_and_check("specs/notes.toml");
    let signer = Signer::ec("notes-key-0");
    let pg = shopgen_testkit::Postgres::shared();
    let urls = [
        format!("sqlite://{}", project.path("notes.db").display()),
        pg.fresh_database(),
    ];
    for url in &urls {
        let up = notes_up(&project, url, &signer);
        for body in ["Water the plants", "Call the plumber"] {
            let a = http(
                "POST",
                up.backend,
                "/notes",
                &[],
                Some(&format!(r#"{{"body":"{body}"}}"#)),
            );
            assert_eq!(a.status, 201, "{url}: {a:?}");
        }
        up.stop();
    }

    project.write("specs/notes.toml", &owned_notes());
    project.build_and_check("specs/notes.toml");
    let sql = project.read("generated/notes/backend/migrations/postgres/0002_add_notes_owner.sql");
    assert!(
        sql.contains("ADD COLUMN owner VARCHAR(255) NOT NULL DEFAULT 'legacy-admin'")
            && sql.contains("ALTER COLUMN owner DROP DEFAULT"),
        "{sql}"
    );

    for url in &urls {
        let up = notes_up(&project, url, &signer);
        let chain = Chain {
            up: &up,
            key: NOTES_KEY,
            issuer: NOTES_ISSUER,
            audience: NOTES_AUDIENCE,
        };
        let admin = chain.token(&signer, "legacy-admin");
        let alice = chain.token(&signer, "alice");
        let bodies = |a: &Answer| -> Vec<(String, String)> {
            a.json()["notes"]
                .as_array()
                .unwrap_or_else(|| panic!("a list: {a:?}"))
                .iter()
                .map(|n| {
                    (
                        n["body"].as_str().unwrap().into(),
                        n["owner"].as_str().unwrap().into(),
                    )
                })
                .collect()
        };
        let a = chain.user("GET", "/notes", &admin, None);
        assert_eq!(a.status, 200, "{url}: {a:?}");
        let old = |body: &str| (body.to_string(), "legacy-admin".to_string());
        assert_eq!(
            bodies(&a),
            vec![old("Water the plants"), old("Call the plumber")],
            "{url}"
        );
        let a = chain.user("GET", "/notes", &alice, None);
        assert_eq!(bodies(&a), Vec::new(), "{url}: {a:?}");
        let a = chain.user("GET", "/notes/1", &alice, None);
        assert_eq!(a.status, 404, "{url}: {a:?}");
        // An in-cluster create names the owner; without one it is refused.
        let a = http(
            "POST",
            up.backend,
            "/notes",
            &[],
            Some(r#"{"body":"Lost"}"#),
        );
        assert_eq!(a.status, 422, "{url}: {a:?}");
        assert!(a.json()["error"]["fields"]["owner"].is_array(), "{a:?}");
        let a = http(
            "POST",
            up.backend,
            "/notes",
            &[],
            Some(r#"{"body":"Buy milk","owner":"alice"}"#),
        );
        assert_eq!(a.status, 201, "{url}: {a:?}");
        let id = a.json()["note"]["id"].as_i64().expect("id");
        let a = chain.user("GET", "/notes", &alice, None);
        assert_eq!(
            bodies(&a),
            vec![("Buy milk".to_string(), "alice".to_string())],
            "{url}"
        );
        let a = chain.user("GET", &format!("/notes/{id}"), &admin, None);
        assert_eq!(a.status, 404, "{url}: {a:?}");
        up.stop();
    }
}
