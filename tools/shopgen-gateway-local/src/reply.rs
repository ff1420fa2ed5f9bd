//! The answers the gateway gives itself, with API Gateway's status codes and bodies.
//!
//! API Gateway runs ESPv2 (Envoy plus Google's filters); its own answers are JSON
//! objects `{"code": <status>, "message": "<text>"}`, where a status from a filter is
//! rendered as `"<CANONICAL_CODE>: <text>"`. Sources, per answer:
//!
//! | status | message | source |
//! |--------|---------|--------|
//! | 404 | `The current request is not defined by this API.` | ESPv2 route generation: the catch-all `UnknownOperationName` direct response (GoogleCloudPlatform/esp-v2, route config tests); seen verbatim from `*.gateway.dev` hosts |
//! | 405 | `The current request is matched to the defined url template "<t>" but its http method is not allowed` | ESPv2 route generation: `UnknownHttpMethodForPath_<t>` direct responses (same tests) |
//! | 401 | `UNAUTHENTICATED: Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.` | ESPv2 `src/envoy/http/service_control/handler_impl.cc` (`callCheck`, no API key); the same body is what API Gateway quickstarts show for a keyless `curl` |
//! | 401 | `Jwt is missing`, `Jwt is expired`, `Jwt verification fails`, … (no `UNAUTHENTICATED:` prefix) | Envoy's `jwt_authn` filter, with `jwt_verify_lib`'s status texts (`src/status.cc`); ESPv2's integration tests expect e.g. `{"code":401,"message":"Jwt is missing"}` (see [`crate::jwt`]) |
//! | 400 | `INVALID_ARGUMENT: API key not valid. Please pass a valid API key.` | ESPv2 `src/api_proxy/service_control/check_response_convert_utils.cc` (`CheckError::API_KEY_INVALID` → `kInvalidArgument`) |
//! | 504 | `upstream request timeout` | Envoy's local reply when the route timeout (the backend `deadline`) passes |
//! | 503 | `upstream connect error or disconnect/reset before headers. reset reason: connection failure` | Envoy's local reply when the backend cannot be reached (after ESPv2's one retry on connect failure) |
//! | 413 | `Payload Too Large` | Envoy's buffer limit; API Gateway's documented request limit is 32 MB |
//! | 429 | `RESOURCE_EXHAUSTED: Quota exceeded for quota metric '<m>' and limit '<l>' of service '<s>' for consumer '…'.` | ESPv2 `check_response_convert_utils.cc` (`ConvertAllocateQuotaResponse`: `QuotaError::RESOURCE_EXHAUSTED` → `kResourceExhausted` with Service Control's description); the description is Service Control's usual quota text, with the consumer (a project number in the cloud) left generic |
//!
//! The 504/503/413 texts are Envoy's well-known defaults, and the 429 description
//! Service Control's usual wording; neither was checked against a live gateway.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::jwt::JwtError;

/// Why the gateway answered a request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// 404: no listed operation has this path.
    NotDefined,
    /// 405: a listed path, but not with this method; carries the template.
    MethodNotAllowed(String),
    /// 401: the operation needs an API key and the request carries none.
    MissingKey,
    /// 400: the API key is not one of the configured keys.
    InvalidKey,
    /// 401: an end-user JWT is missing or not valid for the operation.
    Jwt(JwtError),
    /// 413: the request body is over API Gateway's limit.
    PayloadTooLarge,
    /// 429: the caller's quota for this minute is used up.
    QuotaExceeded {
        metric: String,
        limit: String,
        service: String,
    },
    /// 503: the backend could not be reached.
    Unreachable,
    /// 504: the backend did not answer within the deadline.
    Timeout,
}

impl Reject {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Reject::NotDefined => StatusCode::NOT_FOUND,
            Reject::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Reject::MissingKey => StatusCode::UNAUTHORIZED,
            Reject::InvalidKey => StatusCode::BAD_REQUEST,
            Reject::Jwt(_) => StatusCode::UNAUTHORIZED,
            Reject::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Reject::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
            Reject::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `message` member.
    pub fn message(&self) -> String {
        match self {
            Reject::NotDefined => "The current request is not defined by this API.".into(),
            Reject::MethodNotAllowed(template) => format!(
                "The current request is matched to the defined url template \"{template}\" \
                 but its http method is not allowed"
            ),
            Reject::MissingKey => "UNAUTHENTICATED: Method doesn't allow unregistered callers \
                                   (callers without established identity). Please use API Key \
                                   or other form of API consumer identity to call this API."
                .into(),
            Reject::InvalidKey => {
                "INVALID_ARGUMENT: API key not valid. Please pass a valid API key.".into()
            }
            Reject::Jwt(e) => e.message().into(),
            Reject::PayloadTooLarge => "Payload Too Large".into(),
            Reject::QuotaExceeded {
                metric,
                limit,
                service,
            } => format!(
                "RESOURCE_EXHAUSTED: Quota exceeded for quota metric '{metric}' and limit \
                 '{limit}' of service '{service}' for consumer 'api_key'."
            ),
            Reject::Unreachable => "upstream connect error or disconnect/reset before headers. \
                                    reset reason: connection failure"
                .into(),
            Reject::Timeout => "upstream request timeout".into(),
        }
    }

    /// The JSON body: `{"code":404,"message":"…"}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "code": self.status().as_u16(), "message": self.message() }).to_string()
    }

    /// The whole response.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body())));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_espv2_json() {
        assert_eq!(
            Reject::NotDefined.body(),
            r#"{"code":404,"message":"The current request is not defined by this API."}"#
        );
        assert_eq!(
            Reject::InvalidKey.body(),
            r#"{"code":400,"message":"INVALID_ARGUMENT: API key not valid. Please pass a valid API key."}"#
        );
        assert!(Reject::MissingKey.body().starts_with(
            r#"{"code":401,"message":"UNAUTHENTICATED: Method doesn't allow unregistered callers (callers without"#
        ));
        assert_eq!(
            Reject::MethodNotAllowed("/products".into()).message(),
            "The current request is matched to the defined url template \"/products\" but its \
             http method is not allowed"
        );
    }
}
