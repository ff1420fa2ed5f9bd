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
//!   was deleted since;
//! - the same key with another request answers `422 idempotency_key_reused`;
//! - two at once with one key: the second waits for the first's commit (the key's
//!   primary key), then answers as a repeat; if the first rolled back, it creates.
//!
//! A key is 1 to 255 visible ASCII characters (a UUID, say); another value, or two
//! headers, is `400 invalid_idempotency_key`. Keys are kept per caller (the verified
//! user of a route that takes a user token, else one space for every caller) for
//! [`KEEP_SECONDS`]; after that the key may be used again. The keys live in
//! [`TABLE`], which the backend creates at start beside the table versions.
//!
//! Only the generated creates of resources without hooks honour the key (a hooked
//! create's "after" hook runs outside the transaction, so it could not be made
//! idempotent); every other route ignores it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::db::{Db, Engine, FromRow, Row, Value};
use crate::error::ApiError;
use crate::validate::{Assignment, Table};
use crate::write::insert_returning_on;

/// The request header.
pub static HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that repeats an earlier create's.
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
    key: String,
    /// SHA-256 of the method, path and query, and body.
    fingerprint: String,
    /// Set when the answer repeats an earlier create's.
    replayed: AtomicBool,
}

tokio::task_local! {
    static CLAIM: Arc<Claim>;
}

/// The key of the request this task serves, if it sent one.
pub(crate) fn current() -> Option<Arc<Claim>> {
    CLAIM.try_with(Arc::clone).ok()
}

/// Middleware: reads the key of a `POST` and keeps it for the create
/// (`insert`); marks a repeated answer.
pub async fn layer(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(&HEADER) {
        return next.run(req).await;
    }
    let key = match key_of(&req) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let (parts, body) = req.into_parts();
    let limit = crate::extract::max_body_bytes();
    let bytes = match axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await
    {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge(limit).into_response(),
    };
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str());
    hash.update([0]);
    hash.update(parts.uri.path_and_query().map_or("", |p| p.as_str()));
    hash.update([0]);
    hash.update(&bytes);
    let claim = Arc::new(Claim {
        key,
        fingerprint: hex(&hash.finalize()),
        replayed: AtomicBool::new(false),
    });
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut response = CLAIM.scope(Arc::clone(&claim), next.run(req)).await;
    if claim.replayed.load(Ordering::SeqCst) {
        response
            .headers_mut()
            .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    }
    response
}

/// The request's one key, if usable.
fn key_of(req: &Request) -> Result<String, ApiError> {
    let mut values = req.headers().get_all(&HEADER).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the table of keys (at start, after the migrations).
pub async fn install(db: &Db) -> Result<(), sqlx::Error> {
    db.execute(
        format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (scope TEXT NOT NULL, key TEXT NOT NULL, \
             fingerprint TEXT NOT NULL, row_id BIGINT NOT NULL DEFAULT 0, \
             created_at BIGINT NOT NULL, PRIMARY KEY (scope, key))"
        ),
        &[],
    )
    .await?;
    Ok(())
}

/// A key's record.
struct Record {
    fingerprint: String,
    row_id: i64,
    created_at: i64,
}

impl FromRow for Record {
    fn from_row(row: &Row<'_>) -> Result<Self, sqlx::Error> {
        Ok(Record {
            fingerprint: row.get(0)?,
            row_id: row.get(1)?,
            created_at: row.get(2)?,
        })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The create of `values` into `table` (under row `parent.1` of `parent.0` for a
/// nested create) for a request that sent `claim`: the row and the key in one
/// transaction, or the row an earlier request with the key created.
pub(crate) async fn insert<T: FromRow + Send + 'static>(
    db: &Db,
    table: &Table,
    values: Vec<Assignment>,
    columns: &'static str,
    parent: Option<(&Table, i64)>,
    claim: &Claim,
) -> Result<T, ApiError> {
    let scope = crate::identity::current_caller()
        .map(|c| format!("{}:{}", c.provider(), c.subject()))
        .unwrap_or_default();
    let key = [Value::Text(scope.clone()), Value::Text(claim.key.clone())];
    // Twice at most: a claim that conflicts with a key that is then gone (its
    // transaction rolled back, or it expired) is tried once more.
    for _ in 0..2 {
        let mut tx = db.begin().await?;
        let claimed = tx
            .execute(
                format!(
                    "INSERT INTO {TABLE} (scope, key, fingerprint, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING"
                ),
                &[
                    key[0].clone(),
                    key[1].clone(),
                    Value::Text(claim.fingerprint.clone()),
                    Value::Int(now()),
                ],
            )
            .await?;
        if claimed == 1 {
            if let Some((parent, id)) = parent {
                let sql = format!("SELECT id FROM {} WHERE id = $1", parent.name);
                if tx
                    .fetch_optional::<i64>(sql, &[Value::Int(id)])
                    .await?
                    .is_none()
                {
                    return Err(parent.not_found(id));
                }
            }
            let row: T = insert_returning_on(&mut tx, table, values, columns).await?;
            let last_id = match db.engine() {
                Engine::Postgres => "lastval()",
                Engine::Sqlite => "last_insert_rowid()",
            };
            tx.execute(
                format!("UPDATE {TABLE} SET row_id = {last_id} WHERE scope = $1 AND key = $2"),
                &key,
            )
            .await?;
            tx.commit().await?;
            forget_expired(db);
            return Ok(row);
        }
        drop(tx);
        let sql = format!(
            "SELECT fingerprint, row_id, created_at FROM {TABLE} WHERE scope = $1 AND key = $2"
        );
        let Some(record) = db.fetch_optional::<Record>(sql, &key).await? else {
            continue;
        };
        if record.created_at + KEEP_SECONDS < now() {
            db.execute(
                format!("DELETE FROM {TABLE} WHERE scope = $1 AND key = $2 AND created_at = $3"),
                &[
                    key[0].clone(),
                    key[1].clone(),
                    Value::Int(record.created_at),
                ],
            )
            .await?;
            continue;
        }
        if record.fingerprint != claim.fingerprint {
            return Err(ApiError::IdempotencyKeyReused);
        }
        claim.replayed.store(true, Ordering::SeqCst);
        let sql = format!("SELECT {columns} FROM {} WHERE id = $1", table.name);
        return db
            .fetch_optional::<T>(sql, &[Value::Int(record.row_id)])
            .await?
            .ok_or_else(|| table.not_found(record.row_id));
    }
    Err(ApiError::Conflict {
        message: "the Idempotency-Key is being used by another request; send it again".into(),
        fields: Default::default(),
    })
}

/// Deletes keys older than [`KEEP_SECONDS`] now and then (after about one create
/// with a key in a hundred), beside the request, so the table holds about a day of
/// keys. A failure is only logged: the keys are deleted next time.
fn forget_expired(db: &Db) {
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
