//! Security schemes and requirements: API keys and the JWT providers API Gateway
//! verifies end-user tokens with.
//!
//! The field names, per dialect, as Google's "Using JWT to authenticate users" page of
//! the API Gateway documentation (docs.cloud.google.com/api-gateway/docs/authenticating-users-jwt)
//! gives them:
//!
//! - **Swagger 2.0**: `securityDefinitions.<name>` with `type: oauth2`, `flow: implicit`,
//!   `authorizationUrl: ""`, `x-google-issuer`, `x-google-jwks_uri`, and the optional
//!   `x-google-audiences` (comma-separated) and `x-google-jwt-locations`
//!   (`- header: NAME` with `value_prefix`, or `- query: NAME`);
//! - **OpenAPI 3.x**: `components.securitySchemes.<name>` with `type: oauth2` and an
//!   `x-google-auth` object: `issuer`, `jwksUri`, the optional `audiences` and
//!   `jwtLocations` (`- header: NAME` with `valuePrefix`, or `- query: NAME`).
//!
//! `security` (at the root or on an operation) is a list of requirement objects: every
//! scheme named in one object is needed (AND), any one object suffices (OR), and an
//! empty object makes credentials optional. Scopes are ignored, as API Gateway ignores
//! them (its OpenAPI limitations page).
//!
//! Where no locations are given, ESPv2 looks for the token where
//! `defaultJwtLocations` in its `src/go/configgenerator/filtergen/jwt_authn.go` says
//! (GoogleCloudPlatform/esp-v2): `Authorization: Bearer <token>`, the
//! `X-Goog-Iap-Jwt-Assertion` header, and the `access_token` query parameter.

use hyper::header::HeaderName;
use serde_json::{Map, Value};

use super::{DocumentError, KeyLocation, invalid};

/// Where a request may carry a JWT (the verifier's type, so the document's locations
/// reach it as read).
pub use shopgen_jwt::JwtLocation;

/// One JWT provider: a security scheme of type `oauth2` with Google's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtProvider {
    /// The scheme's name in the document.
    pub name: String,
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// Where the provider's JSON Web Key Set is published.
    pub jwks_uri: String,
    /// The accepted `aud` values; empty when the document names none (the gateway
    /// then applies its default, see `crate::jwt`).
    pub audiences: Vec<String>,
    /// Where the token is looked for, in order.
    pub locations: Vec<JwtLocation>,
}

/// A security scheme the emulator can enforce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `type: apiKey`.
    ApiKey(KeyLocation),
    /// `type: oauth2` with a Google issuer: an index into [`Schemes::providers`].
    Jwt(usize),
    /// Any other type; an error only when a requirement names it.
    Unsupported(String),
}

/// Every security scheme of a document, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemes {
    pub by_name: Vec<(String, Scheme)>,
    pub providers: Vec<JwtProvider>,
}

/// One requirement object of a `security` list: all of it is needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// An API key is among the schemes.
    pub api_key: bool,
    /// The JWT providers (names) whose tokens are needed.
    pub jwt: Vec<String>,
}

impl Requirement {
    /// The empty object `{}`: nothing is needed.
    pub fn is_empty(&self) -> bool {
        !self.api_key && self.jwt.is_empty()
    }
}

/// Reads the schemes of a document (`securityDefinitions` or
/// `components.securitySchemes`).
pub(super) fn read_schemes(
    defs: Option<&Value>,
    at: &str,
    openapi3: bool,
) -> Result<Schemes, DocumentError> {
    let mut schemes = Schemes::default();
    let defs = match defs {
        None => return Ok(schemes),
        Some(Value::Object(d)) => d,
        Some(_) => return Err(invalid(at, "not a mapping")),
    };
    for (name, def) in defs {
        let at = format!("{at}.{name}");
        let Value::Object(def) = def else {
            return Err(invalid(at, "a security scheme is a mapping"));
        };
        let scheme = match def.get("type").and_then(Value::as_str) {
            Some("apiKey") => Scheme::ApiKey(key_location(def, &at)?),
            Some("oauth2") => {
                let provider = if openapi3 {
                    provider_openapi3(name, def, &at)?
                } else {
                    provider_swagger2(name, def, &at)?
                };
                schemes.providers.push(provider);
                Scheme::Jwt(schemes.providers.len() - 1)
            }
            Some(other) => Scheme::Unsupported(other.to_string()),
            None => return Err(invalid(at, "a security scheme needs a `type`")),
        };
        schemes.by_name.push((name.clone(), scheme));
    }
    Ok(schemes)
}

fn key_location(def: &Map<String, Value>, at: &str) -> Result<KeyLocation, DocumentError> {
    let key_name = def
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at, "an apiKey scheme needs a `name`"))?;
    match def.get("in").and_then(Value::as_str) {
        Some("header") => Ok(KeyLocation::Header(
            HeaderName::from_bytes(key_name.as_bytes())
                .map_err(|_| invalid(at, "`name` is not a valid header name"))?,
        )),
        Some("query") => Ok(KeyLocation::Query(key_name.to_string())),
        _ => Err(invalid(at, "`in` must be `header` or `query`")),
    }
}

/// A required non-empty string field.
fn string_field(obj: &Map<String, Value>, field: &str, at: &str) -> Result<String, DocumentError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(_) => Err(invalid(
            format!("{at}.{field}"),
            "must be a non-empty string",
        )),
        None => Err(invalid(at, format!("a JWT provider needs `{field}`"))),
    }
}

/// Audiences: a comma-separated string (both dialects) or a list of strings (3.x).
fn audiences(value: Option<&Value>, at: &str) -> Result<Vec<String>, DocumentError> {
    let split = |s: &str| {
        s.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(split(s)),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let s = item
                    .as_str()
                    .ok_or_else(|| invalid(at, "each audience is a string"))?;
                out.extend(split(s));
            }
            Ok(out)
        }
        Some(_) => Err(invalid(
            at,
            "audiences are a comma-separated string or a list of strings",
        )),
    }
}

/// `x-google-jwt-locations` (2.0, `value_prefix`) or `jwtLocations` (3.x, `valuePrefix`).
fn locations(
    value: Option<&Value>,
    at: &str,
    prefix_field: &str,
) -> Result<Vec<JwtLocation>, DocumentError> {
    let Some(value) = value else {
        return Ok(JwtLocation::defaults());
    };
    let Value::Array(items) = value else {
        return Err(invalid(at, "a list of locations"));
    };
    if items.is_empty() {
        return Ok(JwtLocation::defaults());
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Value::Object(item) = item else {
            return Err(invalid(at, "a location is a mapping"));
        };
        let prefix = match item.get(prefix_field) {
            None => String::new(),
            Some(Value::String(p)) => p.clone(),
            Some(_) => return Err(invalid(at, format!("`{prefix_field}` is a string"))),
        };
        match (item.get("header"), item.get("query")) {
            (Some(Value::String(h)), None) => out.push(JwtLocation::Header {
                name: HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| invalid(&at, "`header` is not a valid header name"))?,
                value_prefix: prefix,
            }),
            (None, Some(Value::String(q))) if !q.is_empty() => {
                if item.contains_key(prefix_field) {
                    return Err(invalid(
                        at,
                        format!("`{prefix_field}` applies to a header location only"),
                    ));
                }
                out.push(JwtLocation::Query(q.clone()))
            }
            _ => {
                return Err(invalid(
                    at,
                    "a location names exactly one `header` or `query` (a string)",
                ));
            }
        }
    }
    Ok(out)
}

fn provider_swagger2(
    name: &str,
    def: &Map<String, Value>,
    at: &str,
) -> Result<JwtProvider, DocumentError> {
    if !def.contains_key("x-google-issuer") {
        return Err(invalid(
            at,
            "an oauth2 scheme needs `x-google-issuer` (and `x-google-jwks_uri`): API Gateway \
             verifies tokens of Google-extended schemes only",
        ));
    }
    if let Some(flow) = def.get("flow")
        && flow.as_str() != Some("implicit")
    {
        return Err(invalid(
            format!("{at}.flow"),
            "API Gateway's JWT schemes use `flow: implicit`",
        ));
    }
    Ok(JwtProvider {
        name: name.to_string(),
        issuer: string_field(def, "x-google-issuer", at)?,
        jwks_uri: jwks_uri(def, "x-google-jwks_uri", at)?,
        audiences: audiences(
            def.get("x-google-audiences"),
            &format!("{at}.x-google-audiences"),
        )?,
        locations: locations(
            def.get("x-google-jwt-locations"),
            &format!("{at}.x-google-jwt-locations"),
            "value_prefix",
        )?,
    })
}

fn provider_openapi3(
    name: &str,
    def: &Map<String, Value>,
    at: &str,
) -> Result<JwtProvider, DocumentError> {
    let auth_at = format!("{at}.x-google-auth");
    let auth = match def.get("x-google-auth") {
        Some(Value::Object(a)) => a,
        Some(_) => return Err(invalid(auth_at, "not a mapping")),
        None => {
            return Err(invalid(
                at,
                "an oauth2 scheme needs `x-google-auth` (`issuer`, `jwksUri`): API Gateway \
                 verifies tokens of Google-extended schemes only",
            ));
        }
    };
    Ok(JwtProvider {
        name: name.to_string(),
        issuer: string_field(auth, "issuer", &auth_at)?,
        jwks_uri: jwks_uri(auth, "jwksUri", &auth_at)?,
        audiences: audiences(auth.get("audiences"), &format!("{auth_at}.audiences"))?,
        locations: locations(
            auth.get("jwtLocations"),
            &format!("{auth_at}.jwtLocations"),
            "valuePrefix",
        )?,
    })
}

/// The JWKS URI: required, `http://` or `https://`.
fn jwks_uri(obj: &Map<String, Value>, field: &str, at: &str) -> Result<String, DocumentError> {
    let uri = string_field(obj, field, at)?;
    if !(uri.starts_with("https://") || uri.starts_with("http://")) {
        return Err(invalid(
            format!("{at}.{field}"),
            "the JWKS URI is an http:// or https:// URL",
        ));
    }
    Ok(uri)
}

/// Resolves a `security` list into requirement objects; `None` when there is no
/// `security` at all (nothing asked).
pub(super) fn requirements(
    schemes: &Schemes,
    security: Option<&Value>,
    at: &str,
) -> Result<Vec<Requirement>, DocumentError> {
    let Some(security) = security else {
        return Ok(Vec::new());
    };
    let Value::Array(alternatives) = security else {
        return Err(invalid(at, "`security` is a list of requirements"));
    };
    let mut out = Vec::new();
    for alt in alternatives {
        let Value::Object(alt) = alt else {
            return Err(invalid(at, "each requirement is a mapping"));
        };
        let mut requirement = Requirement::default();
        for name in alt.keys() {
            let scheme = schemes
                .by_name
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| invalid(at, format!("no security definition named `{name}`")))?;
            match &scheme.1 {
                Scheme::ApiKey(_) => requirement.api_key = true,
                Scheme::Jwt(i) => requirement.jwt.push(schemes.providers[*i].name.clone()),
                Scheme::Unsupported(kind) => {
                    return Err(invalid(
                        at,
                        format!(
                            "`{name}` is of type `{kind}`; API Gateway (and the local gateway) \
                             enforce API keys and Google-extended oauth2 (JWT) schemes only"
                        ),
                    ));
                }
            }
        }
        out.push(requirement);
    }
    Ok(out)
}
