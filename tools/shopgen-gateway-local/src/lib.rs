//! A local **emulator** of Google API Gateway, for running shopgen's stack on one
//! machine (`shopgen up`). It is not a production gateway: it has no TLS, no Service
//! Control (each API key stands for its own consumer project), and the ID token it
//! sends is a fake that proves nothing.
//!
//! It reads the very document deployed to API Gateway
//! (`generated/<spec>/openapi/gateway.yaml`, Swagger 2.0 or OpenAPI 3.x) and enforces
//! what API Gateway enforces, with API Gateway's answers:
//!
//! - only listed operations pass (method and path template, whole-segment parameters,
//!   case-sensitive); an unlisted path gets 404, a listed path with another method 405
//!   ([`route`], [`reply`]);
//! - end-user JWTs of the document's Google-extended `oauth2` schemes: signature
//!   (RS256, ES256) against the provider's JWKS, issuer, audiences, `exp`/`nbf` with
//!   60 s of leeway; refused → 401 with Envoy's `jwt_authn` messages, accepted → the
//!   payload goes to the backend in `X-Apigateway-Api-Userinfo` ([`jwt`]);
//! - the API key, from the header or query parameter the security scheme names, or the
//!   `key` query parameter: missing → 401, not one of the configured keys → 400;
//! - the quota (`x-google-management` / `x-google-api-management` limits and each
//!   operation's `x-google-quota` costs), per API key and minute: over it → 429
//!   ([`quota`]);
//! - the backend named in the document, with `APPEND_PATH_TO_ADDRESS` or
//!   `CONSTANT_ADDRESS` path translation, its address overridable (locally: the relay),
//!   under the backend's `deadline` (→ 504), with API Gateway's request headers
//!   ([`proxy`]).
//!
//! Stages: [`document`] (YAML → [`GatewayDocument`]) → [`Gateway::new`] (with a
//! [`GatewayConfig`]) → [`serve`].

pub mod document;
pub mod jwt;
pub mod proxy;
pub mod quota;
pub mod reply;
pub mod route;
pub mod server;

pub use document::{DocumentError, GatewayDocument};
pub use jwt::JwksSource;
pub use proxy::{Gateway, GatewayConfig, GatewayError, LogSink};
pub use server::serve;
