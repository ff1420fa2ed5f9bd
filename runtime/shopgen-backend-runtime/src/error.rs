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
use std::collections::BTreeMap;

/// Messages per field name (sorted, so bodies are deterministic).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MalformedJson(_) | ApiError::BadQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) | ApiError::Panicked { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::BadQuery(_) => "bad_query",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Invalid(_) => "invalid",
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
        let mut response = (status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
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
            _ => ApiError::Internal(error.to_string()),
        }
    }
}
