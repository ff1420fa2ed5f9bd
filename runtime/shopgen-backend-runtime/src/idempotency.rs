//! `Idempotency-Key`: a create that a client may send again without writing twice.
//!
//! A client that got no answer to a `POST` (its connection dropped, or the backend
//! answered `500` because a commit's outcome was unknown, [`crate::db::budget`])
//! cannot tell whether the row was written. With an `Idempotency-Key` header (the
//! IETF httpapi draft "The Idempotency-Key HTTP Header Field"; Stripe's API works the
//! same way), the generated create routes write the row and the key in one
//! transaction, so that:
//!
//! - the first request with a key creates the row and answers `201`, as without one;
//! - the same request again (same key, method, path, query and body bytes, same
//!   caller) writes nothing and answers `201` with the row that request created,
//!   as it is now, its `Location`, and `Idempotent-Replayed: true`; `404` if the row
//!   was deleted since, or is no longer the route's (moved to another parent, given
//!   to another owner);
//! - the same key with another request answers `422 idempotency_key_reused`;
//! - two at once with one key: the second waits for the first's commit (for the
//!   key's row on PostgreSQL, for the write lock on SQLite), then answers as a
//!   repeat; if the first rolled back, it creates.
//!
//! A key is 1 to 255 visible ASCII characters (a UUID, say); another value, or two
//! headers, is `400 invalid_idempotency_key`. Keys are kept per caller (the verified
//! user of a route that takes a user token, else one space for every caller) for
//! [`KEEP_SECONDS`]; after that the key may be used again. The keys live in
//! [`TABLE`], which the backend creates at start beside the table versions.
//!
//! Only the generated creates of resources without hooks honour the key, and only
//! for their one row: a request that runs extension code (an operation, a hooked
//! create, whose "after" hook runs outside the transaction) never uses it, and every
//! other route never looks at the header. The key is checked when a create uses it,
//! and its request's body is hashed as [`crate::extract::JsonBody`] reads it, so the
//! header changes nothing else about a request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::db::{Db, Engine, FromRow, Row, Value};
use crate::error::ApiError;
use crate::tx::Tx;

/// The request header: `shopgen_facts`'s, as the OpenAPI documents name it (a test
/// holds them together).
pub static HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that repeats an earlier create's (`shopgen_facts`'s too).
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The table of keys.
pub const TABLE: &str = "shopgen_idempotency_keys";
/// How long a key is kept: a day, Stripe's 24 hours.
pub const KEEP_SECONDS: i64 = 24 * 60 * 60;
/// The longest key.
pub const MAX_KEY_LENGTH: usize = shopgen_facts::backend::IDEMPOTENCY_KEY_MAX_LENGTH;

/// The key a request carries, and what it was sent with.
#[derive(Debug)]
pub(crate) struct Claim {
    /// The header's values, checked only when a create uses them.
    values: Vec<HeaderValue>,
    /// The method, path and query.
    target: String,
    /// SHA-256 of the body, as [`crate::extract::JsonBody`] read it.
    body: OnceLock<[u8; 32]>,
    /// A create took the key: a second write of the request (a hook's) does not.
    taken: AtomicBool,
    /// Set when the answer repeats an earlier create's.
    replayed: AtomicBool,
}

tokio::task_local! {
    static CLAIM: Arc<Claim>;
}

/// Middleware: keeps the `Idempotency-Key` of a `POST` for the create that may use
/// it (`insert`), and marks a successful answer that repeats an earlier create's.
/// Nothing is checked or read here: a route that is not such a create never looks at
/// the header.
pub async fn layer(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(&HEADER) {
        return next.run(req).await;
    }
    let claim = Arc::new(Claim {
        values: req.headers().get_all(&HEADER).iter().cloned().collect(),
        target: format!(
            "{} {}",
            req.method(),
            req.uri().path_and_query().map_or("", |p| p.as_str())
        ),
        body: OnceLock::new(),
        taken: AtomicBool::new(false),
        replayed: AtomicBool::new(false),
    });
    let mut response = CLAIM.scope(Arc::clone(&claim), next.run(req)).await;
    if claim.replayed.load(Ordering::SeqCst) && response.status().is_success() {
        response
            .headers_mut()
            .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    }
    response
}

/// Notes the body of the request this task serves, when it carries a key.
pub(crate) fn read_body(bytes: &[u8]) {
    let _ = CLAIM.try_with(|claim| claim.body.set(Sha256::digest(bytes).into()));
}

/// Makes the request's key unusable for the rest of it: a request that runs
/// extension code (an operation, a hooked create) does not honour the key.
pub(crate) fn decline() {
    let _ = CLAIM.try_with(|claim| claim.taken.store(true, Ordering::SeqCst));
}

/// The one usable key of a claim.
fn key_of(claim: &Claim) -> Result<String, ApiError> {
    let [value] = claim.values.as_slice() else {
        return Err(ApiError::BadIdempotencyKey(
            "send one Idempotency-Key header".into(),
        ));
    };
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_KEY_LENGTH
        || !bytes.iter().all(|b| (0x21..=0x7e).contains(b))
    {
        return Err(ApiError::BadIdempotencyKey(format!(
            "an Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible ASCII characters"
        )));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    crate::conditional::push_hex(&mut s, bytes);
    s
}

/// Creates the table of keys and its index (at start, after the migrations; on
/// PostgreSQL under a lock, as replicas may start at once).
pub async fn install(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if db.engine() == Engine::Postgres {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[Value::Int(INSTALL_LOCK)],
        )
        .await?;
    }
    tx.execute(
        format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (scope TEXT NOT NULL, key TEXT NOT NULL, \
             fingerprint TEXT NOT NULL, row_id BIGINT NOT NULL DEFAULT 0, \
             created_at BIGINT NOT NULL, PRIMARY KEY (scope, key))"
        ),
        &[],
    )
    .await?;
    tx.execute(
        format!("CREATE INDEX IF NOT EXISTS {TABLE}_created_at ON {TABLE} (created_at)"),
        &[],
    )
    .await?;
    tx.commit().await
}

/// Serialises [`install`] across replicas (`pg_advisory_xact_lock`).
const INSTALL_LOCK: i64 = 0x73686f7067656e01; // "shopgen" 1

/// A key's record.
struct Record {
    fingerprint: String,
    row_id: i64,
}

impl FromRow for Record {
    fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
        Ok(Record {
            fingerprint: row.get(0)?,
            row_id: row.get(1)?,
        })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A request's key, checked, for its first create.
pub(crate) struct Key {
    /// The caller's scope and the key: the table's primary key.
    id: [Value; 2],
    fingerprint: String,
    claim: Arc<Claim>,
}

/// The key of the request this task serves, checked, for its first create; `None`
/// without one, for a later write of the request, or for a request whose body was not
/// read as JSON (its fingerprint would leave the body out). `scope`: whose key it is
/// (the verified caller, or empty), stored as its SHA-256.
pub(crate) fn take(scope: impl FnOnce() -> String) -> Option<Result<Key, ApiError>> {
    let claim = CLAIM
        .try_with(Arc::clone)
        .ok()
        .filter(|claim| !claim.taken.swap(true, Ordering::SeqCst))?;
    let body = *claim.body.get()?;
    let key = match key_of(&claim) {
        Ok(key) => key,
        Err(error) => return Some(Err(error)),
    };
    let mut hash = Sha256::new();
    hash.update(claim.target.as_bytes());
    hash.update([0]);
    hash.update(body);
    Some(Ok(Key {
        id: [
            Value::Text(hex(&Sha256::digest(scope().as_bytes()))),
            Value::Text(key),
        ],
        fingerprint: hex(&hash.finalize()),
        claim,
    }))
}

/// What an earlier request with the key did.
pub(crate) enum Earlier {
    /// It created row `id` of the table its route writes.
    Created(i64),
    /// Nothing any more: the key was deleted after this request's claim found it (the
    /// sweep, at the end of its day).
    Gone,
}

impl Key {
    /// Claims the key in `tx`: `false` when a request made within [`KEEP_SECONDS`]
    /// holds it (this waits for its transaction on PostgreSQL). An older one is taken
    /// over, as if it were new.
    pub(crate) async fn claim(&self, tx: &mut Tx) -> Result<bool, sqlx::Error> {
        let now = now();
        let claimed = tx
            .execute(
                format!(
                    "INSERT INTO {TABLE} (scope, key, fingerprint, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO UPDATE \
                     SET fingerprint = excluded.fingerprint, row_id = 0, \
                     created_at = excluded.created_at \
                     WHERE {TABLE}.created_at < $5"
                ),
                &[
                    self.id[0].clone(),
                    self.id[1].clone(),
                    Value::Text(self.fingerprint.clone()),
                    Value::Int(now),
                    Value::Int(now - KEEP_SECONDS),
                ],
            )
            .await?;
        Ok(claimed == 1)
    }

    /// Records in `tx` that the request created row `id`.
    pub(crate) async fn created(&self, tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
        tx.execute(
            format!("UPDATE {TABLE} SET row_id = $3 WHERE scope = $1 AND key = $2"),
            &[self.id[0].clone(), self.id[1].clone(), Value::Int(id)],
        )
        .await?;
        Ok(())
    }

    /// What the earlier request with the key did; `422` when it was another request.
    pub(crate) async fn earlier(&self, db: &Db) -> Result<Earlier, ApiError> {
        let sql = format!("SELECT fingerprint, row_id FROM {TABLE} WHERE scope = $1 AND key = $2");
        match db.fetch_optional::<Record>(sql, &self.id).await? {
            None => Ok(Earlier::Gone),
            Some(record) if record.fingerprint != self.fingerprint => {
                Err(ApiError::IdempotencyKeyReused)
            }
            Some(record) => Ok(Earlier::Created(record.row_id)),
        }
    }

    /// Marks the answer a repeat of the earlier request's (`Idempotent-Replayed`).
    pub(crate) fn replayed(&self) {
        self.claim.replayed.store(true, Ordering::SeqCst);
    }
}

/// Deletes keys older than [`KEEP_SECONDS`] now and then (after about one create
/// with a key in a hundred), beside the request, so the table holds about a day of
/// keys. A failure is only logged: the keys are deleted next time.
pub(crate) fn forget_expired(db: &Db) {
    use std::sync::atomic::AtomicU64;
    static CREATES: AtomicU64 = AtomicU64::new(0);
    if !CREATES.fetch_add(1, Ordering::Relaxed).is_multiple_of(100) {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        let sql = format!("DELETE FROM {TABLE} WHERE created_at < $1");
        if let Err(error) = db.execute(sql, &[Value::Int(now() - KEEP_SECONDS)]).await {
            tracing::warn!(%error, "cannot delete expired idempotency keys");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(values: &[&'static str]) -> Arc<Claim> {
        Arc::new(Claim {
            values: values.iter().map(|v| HeaderValue::from_static(v)).collect(),
            target: "POST /products".into(),
            body: OnceLock::new(),
            taken: AtomicBool::new(false),
            replayed: AtomicBool::new(false),
        })
    }

    /// The keys' table raises no table version: no read depends on it.
    #[test]
    fn the_keys_table_has_no_version() {
        assert!(crate::db::versions::NOT_VERSIONED.contains(&TABLE));
    }

    /// The first create of a request takes its key; a later write of the request,
    /// and every write of a request that ran extension code, does not.
    #[tokio::test]
    async fn a_key_serves_one_create_and_never_extension_code() {
        CLAIM
            .scope(claim(&["k"]), async {
                read_body(b"{}");
                assert!(matches!(take(String::new), Some(Ok(_))));
                assert!(take(String::new).is_none(), "a second create");
            })
            .await;
        CLAIM
            .scope(claim(&["k"]), async {
                read_body(b"{}");
                decline();
                assert!(take(String::new).is_none(), "after extension code ran");
            })
            .await;
        assert!(take(String::new).is_none(), "outside a request with a key");
        CLAIM
            .scope(claim(&["k"]), async {
                assert!(take(String::new).is_none(), "a body not read as JSON");
            })
            .await;
    }

    #[test]
    fn the_headers_are_the_ones_the_openapi_documents_name() {
        use shopgen_facts::backend::{IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};
        assert!(HEADER.as_str().eq_ignore_ascii_case(IDEMPOTENCY_KEY_HEADER));
        assert!(
            REPLAYED
                .as_str()
                .eq_ignore_ascii_case(IDEMPOTENT_REPLAYED_HEADER)
        );
    }

    #[test]
    fn keys_are_one_header_of_visible_ascii() {
        assert_eq!(
            key_of(&claim(&["order-1"])).ok().as_deref(),
            Some("order-1")
        );
        let long: &'static str = Box::leak("k".repeat(MAX_KEY_LENGTH + 1).into_boxed_str());
        for bad in [&[""][..], &["with space"], &["a", "b"], &[long]] {
            assert!(
                matches!(key_of(&claim(bad)), Err(ApiError::BadIdempotencyKey(_))),
                "{bad:?}"
            );
        }
    }
}
