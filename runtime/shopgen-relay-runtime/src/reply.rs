//! The answers the relay writes itself: the health check and the JSON errors.
//!
//! Every error has one shape, `{"error":{"code":"…","message":"…"}}`, with
//! `Content-Type: application/json` and the request's `X-Request-Id`:
//!
//! | status | code                | when |
//! |--------|---------------------|------|
//! | 400    | `invalid_path`      | a path servers could read in different ways (see `route`), or a target with a character URLs always escape (see `admission`) |
//! | 400    | `bad_request`       | a malformed or ambiguous request head or body (see `h1`), or the client's body stream failed |
//! | 400    | `duplicate_identity` | a request on a route that takes a user token with more than one `X-Forwarded-Authorization` or `X-Apigateway-Api-Userinfo` (see `admission`) |
//! | 401    | `unauthenticated`   | a request on a route that takes a user token without a `Bearer` token in `X-Forwarded-Authorization` (see `admission`); with `WWW-Authenticate: Bearer` |
//! | 403    | `cors_rejected`     | a CORS preflight the policy refuses (see `cors`) |
//! | 403    | `forbidden`         | the verified caller is not API Gateway's account (see `caller`) |
//! | 404    | `not_found`         | no public route matches the method and path |
//! | 413    | `payload_too_large` | the body is over the limit (the connection is closed) |
//! | 414    | `uri_too_long`      | the path or the query is over its limit |
//! | 431    | `header_too_large`  | the request head is over its limit (see `h1`) |
//! | 502    | `bad_gateway`       | the upstream could not be reached or failed mid-exchange |
//! | 504    | `gateway_timeout`   | the upstream did not answer before the deadline |

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::body::ResponseBody;
use crate::headers::X_REQUEST_ID;
use crate::log::push_json_str;

/// Why the relay answered a request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 400 `invalid_path`, with the rule that was broken.
    InvalidPath(&'static str),
    /// 400 `bad_request`.
    BadRequest,
    /// 400 `bad_request`: a malformed request, with what is wrong.
    Malformed(&'static str),
    /// 431 `header_too_large`.
    HeaderTooLarge,
    /// 401 `unauthenticated`: no user token on a route that takes one.
    Unauthenticated,
    /// 400 `duplicate_identity`: more than one copy of an identity header.
    DuplicateIdentity,
    /// 403 `forbidden`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 414 `uri_too_long`.
    UriTooLong,
    /// 502 `bad_gateway`.
    BadGateway,
    /// 504 `gateway_timeout`.
    GatewayTimeout,
}

impl Reject {
    /// The status code.
    pub fn status(self) -> StatusCode {
        match self {
            Reject::InvalidPath(_)
            | Reject::BadRequest
            | Reject::Malformed(_)
            | Reject::DuplicateIdentity => StatusCode::BAD_REQUEST,
            Reject::Unauthenticated => StatusCode::UNAUTHORIZED,
            Reject::HeaderTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reject::Forbidden => StatusCode::FORBIDDEN,
            Reject::NotFound => StatusCode::NOT_FOUND,
            Reject::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::UriTooLong => StatusCode::URI_TOO_LONG,
            Reject::BadGateway => StatusCode::BAD_GATEWAY,
            Reject::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Reject::InvalidPath(_) => "invalid_path",
            Reject::BadRequest | Reject::Malformed(_) => "bad_request",
            Reject::HeaderTooLarge => "header_too_large",
            Reject::Unauthenticated => "unauthenticated",
            Reject::DuplicateIdentity => "duplicate_identity",
            Reject::Forbidden => "forbidden",
            Reject::NotFound => "not_found",
            Reject::PayloadTooLarge => "payload_too_large",
            Reject::UriTooLong => "uri_too_long",
            Reject::BadGateway => "bad_gateway",
            Reject::GatewayTimeout => "gateway_timeout",
        }
    }

    /// The human-readable message.
    pub fn message(self) -> &'static str {
        match self {
            Reject::InvalidPath(reason) | Reject::Malformed(reason) => reason,
            Reject::HeaderTooLarge => "the request head is too large",
            Reject::Unauthenticated => {
                "this route needs a signed-in user: no user token reached the relay in X-Forwarded-Authorization"
            }
            Reject::DuplicateIdentity => {
                "the request has more than one X-Forwarded-Authorization or X-Apigateway-Api-Userinfo header"
            }
            Reject::BadRequest => "the request body could not be read",
            Reject::Forbidden => "only the API's gateway may call this service",
            Reject::NotFound => "no public route matches this method and path",
            Reject::PayloadTooLarge => "the request body is larger than this API accepts",
            Reject::UriTooLong => "the request path or query is too long",
            Reject::BadGateway => "the service behind this API could not be reached",
            Reject::GatewayTimeout => "the service behind this API did not answer in time",
        }
    }

    /// The JSON body.
    pub fn body(self) -> String {
        let mut s = String::with_capacity(96);
        s.push_str("{\"error\":{\"code\":\"");
        s.push_str(self.code());
        s.push_str("\",\"message\":");
        push_json_str(&mut s, self.message());
        s.push_str("}}");
        s
    }

    /// The `WWW-Authenticate` challenge the answer carries (a 401 must have one, RFC
    /// 9110 15.5.2), if any.
    pub fn challenge(self) -> Option<&'static str> {
        matches!(self, Reject::Unauthenticated).then_some("Bearer")
    }

    /// Whether answering this closes the connection (the rest of the request cannot be
    /// read, or must not be).
    pub fn closes(self) -> bool {
        matches!(
            self,
            Reject::PayloadTooLarge
                | Reject::Malformed(_)
                | Reject::HeaderTooLarge
                | Reject::BadRequest
        )
    }

    /// The full response. A 413 closes the connection, so the rest of the body is never
    /// read.
    pub fn response(self, request_id: HeaderValue, head: bool) -> Response<ResponseBody> {
        let body = if head {
            ResponseBody::empty()
        } else {
            ResponseBody::local(self.body())
        };
        let mut res = json_response(self.status(), body, request_id);
        if let Some(challenge) = self.challenge() {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if self == Reject::PayloadTooLarge {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

/// 403 `cors_rejected`: a preflight from an origin, for a method or with headers the
/// CORS policy does not allow. It carries no CORS header, so the browser refuses the
/// call it was asking about.
pub fn cors_refused(reason: &str, request_id: HeaderValue) -> Response<ResponseBody> {
    let body = cors_refused_body(reason);
    json_response(StatusCode::FORBIDDEN, ResponseBody::local(body), request_id)
}

/// The body of a refused preflight (403 `cors_rejected`).
pub fn cors_refused_body(reason: &str) -> String {
    let mut s = String::with_capacity(96);
    s.push_str("{\"error\":{\"code\":\"cors_rejected\",\"message\":");
    push_json_str(&mut s, reason);
    s.push_str("}}");
    s
}

/// The health check's body.
pub const HEALTH_BODY: &str = "{\"status\":\"ok\"}";

/// The health check's answer.
pub fn health(request_id: HeaderValue, head: bool) -> Response<ResponseBody> {
    let body = if head {
        ResponseBody::empty()
    } else {
        ResponseBody::local(HEALTH_BODY)
    };
    json_response(StatusCode::OK, body, request_id)
}

fn json_response(
    status: StatusCode,
    body: ResponseBody,
    request_id: HeaderValue,
) -> Response<ResponseBody> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_REQUEST_ID.clone(), request_id);
    res
}

#[cfg(test)]
mod documented {
    use super::Reject;

    /// docs/api.md's paragraph on the relay's own answers names every status and
    /// code it answers with. The `match` has no wildcard, so a new kind does not
    /// compile until it is listed here.
    #[test]
    fn the_relay_paragraph_names_every_status_and_code() {
        let all = [
            Reject::InvalidPath(""),
            Reject::BadRequest,
            Reject::Malformed(""),
            Reject::HeaderTooLarge,
            Reject::Unauthenticated,
            Reject::DuplicateIdentity,
            Reject::Forbidden,
            Reject::NotFound,
            Reject::PayloadTooLarge,
            Reject::UriTooLong,
            Reject::BadGateway,
            Reject::GatewayTimeout,
        ];
        for r in all {
            match r {
                Reject::InvalidPath(_)
                | Reject::BadRequest
                | Reject::Malformed(_)
                | Reject::HeaderTooLarge
                | Reject::Unauthenticated
                | Reject::DuplicateIdentity
                | Reject::Forbidden
                | Reject::NotFound
                | Reject::PayloadTooLarge
                | Reject::UriTooLong
                | Reject::BadGateway
                | Reject::GatewayTimeout => {}
            }
        }
        let doc = include_str!("../../../docs/api.md");
        let start = doc
            .find("The relay answers on its own only with")
            .expect("the paragraph on the relay's own answers");
        let paragraph = &doc[start..];
        let paragraph = &paragraph[..paragraph.find("\n\n").unwrap_or(paragraph.len())];
        for r in all {
            let (status, code) = (r.status().as_u16(), r.code());
            assert!(paragraph.contains(&status.to_string()), "{status}");
            assert!(paragraph.contains(&format!("`{code}`")), "`{code}`");
        }
    }
}
