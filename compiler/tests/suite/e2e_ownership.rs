//! End-to-end: rows owned by their user (`specs/store.toml`'s `wishlist`, with the
//! nested `wishes`), through gateway → relay → backend under `shopgen up`, on the
//! SQLite and the PostgreSQL run of `e2e_extension` (one build, both engines).
//!
//! Two users each create and list their wishlists and never see, change or delete the
//! other's (404); an owner in the body is ignored and the caller's stored; another
//! user's wishlist is 404 for its nested wishes (list and create); the internal routes
//! on the backend are unscoped and may give a wishlist to another user; and no cached
//! answer or `ETag` of one user's list is answered to the other.

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
            signer.sign(&tokens::claims(self.issuer, self.audience, subject))
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
    let a = chain.user("POST", &wishes, &alice, Some(r#"{"note":"A whistling kettle"}"#));
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
    assert_eq!(notes, vec!["A whistling kettle"], "Bob's create wrote nothing: {a:?}");
    let a = chain.user("GET", &item, &alice, None);
    assert_eq!(a.json()["wishlist"]["wishes"][0]["note"], "A whistling kettle");

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
        assert_eq!(a.header("cache-control"), Some("private, max-age=30"), "{a:?}");
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
    assert_eq!(a.json()["wishes"].as_array().map(Vec::len), Some(1), "{a:?}");
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
    assert_eq!(a.json()["wishes"].as_array().map(Vec::len), Some(0), "{a:?}");
}
