//! Request extractors with the service's error bodies.
//!
//! [`JsonBody`] reads a JSON object: a wrong `Content-Type` is 415, a body over the
//! limit 413, anything that is not a JSON object 400. [`Id`] reads the `{id}` path
//! segment; anything but a positive integer is a 404 (no such record can exist).

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde_json::{Map, Value};

/// The largest body a request may have; set once at start from the settings.
pub(crate) static MAX_BODY_BYTES: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Default limit when the server did not set one (1 MiB).
const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;

/// The largest body a request may have.
pub(crate) fn max_body_bytes() -> u64 {
    *MAX_BODY_BYTES.get().unwrap_or(&DEFAULT_MAX_BODY_BYTES)
}

/// A request body that is a JSON object.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v.split(';').next().unwrap_or_default().trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.len() > 5
                        && mime[..mime.len() - 5].contains('/')
                        && mime[mime.len() - 5..].eq_ignore_ascii_case("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = max_body_bytes();
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        let bytes = axum::body::to_bytes(Body::new(req.into_body()), limit_usize)
            .await
            .map_err(|e| {
                let inner = e.into_inner();
                if inner.is::<http_body_util::LengthLimitError>() {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::MalformedJson(format!("cannot read the body: {inner}"))
                }
            })?;
        crate::idempotency::read_body(&bytes);
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            Ok(_) => Err(ApiError::MalformedJson(
                "the body must be a JSON object".into(),
            )),
            Err(e) => Err(ApiError::MalformedJson(e.to_string())),
        }
    }
}

/// The `{id}` path parameter.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("not found".into()))?;
        match raw.parse::<i64>() {
            Ok(id) if id >= 1 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(Id(id)),
            _ => Err(ApiError::NotFound(format!("no record has the id `{raw}`"))),
        }
    }
}
