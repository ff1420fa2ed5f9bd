//! The one error type of a generated backend, and its JSON bodies.
//!
//! Every failure a handler can meet is an [`ApiError`]; axum turns it into a response
//! with the right status and a body of one shape:
//!
//! ```json
//! {"error":{"status":422,"code":"invalid","message":"…","fields":{"title":["…"]}}}
//! ```
//!
//! `fields` appears for 400 (bad query parameters), 409 and 422 and names each failing
//! field with its messages, sorted by field name. Bad input is never a 5xx: 500 is kept
//! for bugs and logged; 503 means the database is unreachable.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shopgen_facts::budget::RETRY_AFTER_SECONDS;
use std::collections::BTreeMap;

/// Messages per field name (sorted, so bodies are deterministic).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the route needs a user token and the request carries none that verifies
    /// (see [`crate::identity`]); answered with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// 404: no such record (or no such route).
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 400: the body is not JSON, or not a JSON object.
    #[error("malformed JSON body: {0}")]
    MalformedJson(String),
    /// 400: query parameters that are unknown or unparsable.
    #[error("invalid query parameters")]
    BadQuery(FieldErrors),
    /// 415: a body that is not `application/json`.
    #[error("expected `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 413: a body over the service's limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(u64),
    /// 400: an `Idempotency-Key` that is not one usable key ([`crate::idempotency`]).
    #[error("{0}")]
    BadIdempotencyKey(String),
    /// 422: an `Idempotency-Key` sent before with another request.
    #[error("this Idempotency-Key was sent with another request")]
    IdempotencyKeyReused,
    /// 422: the payload breaks the spec's rules.
    #[error("the request body is invalid")]
    Invalid(FieldErrors),
    /// 409: a unique value already taken, or a row still referenced.
    #[error("{message}")]
    Conflict {
        message: String,
        fields: FieldErrors,
    },
    /// 503: the database cannot be reached (or the service is draining).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected database failure; logged, details not sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// 500: extension code panicked (logged with the panic's message); the body names
    /// the request id, so the log line can be found.
    #[error("internal error (request id {request_id})")]
    Panicked { request_id: String },
    /// 501: an extension method that is not written yet (the stubs `shopgen build`
    /// writes answer this).
    #[error("`{0}` is not implemented yet")]
    NotImplemented(String),
}

impl ApiError {
    /// `404 {singular} {id} not found`.
    pub fn not_found(singular: &str, id: i64) -> Self {
        ApiError::NotFound(format!("{singular} {id} not found"))
    }

    /// 501 for an extension method still to be written (`rating_summary`).
    pub fn not_implemented(what: &str) -> Self {
        ApiError::NotImplemented(what.to_string())
    }

    /// A 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![message.into()]);
        ApiError::Invalid(fields)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MalformedJson(_) | ApiError::BadQuery(_) | ApiError::BadIdempotencyKey(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) | ApiError::Panicked { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::BadQuery(_) => "bad_query",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Invalid(_) => "invalid",
            ApiError::BadIdempotencyKey(_) => "invalid_idempotency_key",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::Conflict { .. } => "conflict",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) | ApiError::Panicked { .. } => "internal",
            ApiError::NotImplemented(_) => "not_implemented",
        }
    }

    fn fields(&self) -> Option<&FieldErrors> {
        match self {
            ApiError::BadQuery(f) | ApiError::Invalid(f) => Some(f),
            ApiError::Conflict { fields, .. } if !fields.is_empty() => Some(fields),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    status: u16,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal error".to_string()
            }
            ApiError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "service unavailable");
                "service unavailable".to_string()
            }
            other => other.to_string(),
        };
        let body = Body {
            error: Inner {
                status: status.as_u16(),
                code: self.code(),
                message,
                fields: self.fields(),
            },
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let retry = matches!(self, ApiError::Unavailable(_));
        let challenge = matches!(self, ApiError::Unauthorized(_));
        let mut response = (status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if retry {
            // The database is unreachable, its connections are all busy, or the
            // request ran out of time: worth retrying, after a pause.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if challenge {
            // RFC 6750 section 3: the scheme the route takes (`crate::identity` adds
            // `error="invalid_token"` when a token was presented).
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => ApiError::Unavailable(error.to_string()),
            sqlx::Error::Database(e) if e.code().is_some_and(|c| is_transient(&c)) => {
                ApiError::Unavailable(error.to_string())
            }
            _ => ApiError::Internal(error.to_string()),
        }
    }
}

/// Database errors that say "not now" rather than "never": the request may succeed
/// when retried, so they answer 503 with `Retry-After`, not 500.
///
/// PostgreSQL (SQLSTATE, <https://www.postgresql.org/docs/current/errcodes-appendix.html>):
/// class 08 (connection exception), class 53 (insufficient resources, e.g. too many
/// connections), 57014 `query_canceled` (the statement timeout: the request timeout
/// less the acquire budget), 57P01–57P03 (the server shutting down, crashed, or not yet accepting
/// connections), 40001 and 40P01 (serialization failure, deadlock). SQLite: 5
/// `SQLITE_BUSY` and 6 `SQLITE_LOCKED` (another writer held the database for the whole
/// busy timeout).
pub(crate) fn is_transient(code: &str) -> bool {
    if code.len() == 5 {
        // A SQLSTATE.
        code.starts_with("08")
            || code.starts_with("53")
            || matches!(
                code,
                "57014" | "57P01" | "57P02" | "57P03" | "40001" | "40P01"
            )
    } else {
        // A SQLite result code; extended codes keep the primary one in the low byte.
        code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
    }
}

#[cfg(test)]
mod transient_tests {
    use super::is_transient;

    #[test]
    fn not_now_is_told_from_never() {
        for code in ["08006", "57P01", "57014", "53300", "40P01", "5", "517", "6"] {
            assert!(is_transient(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "22001", "19", "2067", "1"] {
            assert!(!is_transient(code), "{code}");
        }
    }
}

#[cfg(test)]
mod documented {
    use super::{ApiError, FieldErrors};

    /// One error of each kind. The `match` has no wildcard, so a new kind does not
    /// compile until it is listed here, and so documented.
    fn every_kind() -> Vec<ApiError> {
        let all = vec![
            ApiError::Unauthorized(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed,
            ApiError::MalformedJson(String::new()),
            ApiError::BadQuery(FieldErrors::new()),
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge(0),
            ApiError::BadIdempotencyKey(String::new()),
            ApiError::IdempotencyKeyReused,
            ApiError::Invalid(FieldErrors::new()),
            ApiError::Conflict {
                message: String::new(),
                fields: FieldErrors::new(),
            },
            ApiError::Unavailable(String::new()),
            ApiError::Internal(String::new()),
            ApiError::Panicked {
                request_id: String::new(),
            },
            ApiError::NotImplemented(String::new()),
        ];
        for e in &all {
            match e {
                ApiError::Unauthorized(_)
                | ApiError::NotFound(_)
                | ApiError::MethodNotAllowed
                | ApiError::MalformedJson(_)
                | ApiError::BadQuery(_)
                | ApiError::UnsupportedMediaType
                | ApiError::PayloadTooLarge(_)
                | ApiError::BadIdempotencyKey(_)
                | ApiError::IdempotencyKeyReused
                | ApiError::Invalid(_)
                | ApiError::Conflict { .. }
                | ApiError::Unavailable(_)
                | ApiError::Internal(_)
                | ApiError::Panicked { .. }
                | ApiError::NotImplemented(_) => {}
            }
        }
        all
    }

    /// docs/api.md's error table has a row for every status and code the backend
    /// answers with (a 500 is described under the table: it is never a client's fault).
    #[test]
    fn the_error_table_lists_every_status_and_code() {
        let doc = include_str!("../../../docs/api.md");
        let rows: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| 4") || l.starts_with("| 5"))
            .collect();
        for e in every_kind() {
            let (status, code) = (e.status().as_u16(), e.code());
            if status == 500 {
                assert!(doc.contains(&format!("A 500 (`{code}`)")), "500 `{code}`");
                continue;
            }
            let row = format!("| {status} | ");
            assert!(
                rows.iter()
                    .any(|r| r.starts_with(&row) && r.contains(&format!("`{code}`"))),
                "docs/api.md has no `{row}` row naming `{code}`"
            );
        }
    }
}
