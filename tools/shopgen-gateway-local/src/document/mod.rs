//! Reading a gateway document: the OpenAPI file deployed to Google API Gateway, in
//! either dialect, into the few facts the emulator enforces ([`GatewayDocument`]).
//!
//! Takes the YAML text of `generated/<spec>/openapi/gateway.yaml` (or any document in
//! the same dialects); gives the listed operations (method, path template, API-key
//! requirement, backend) or a [`DocumentError`] naming the offending place.
//!
//! The two dialects, as API Gateway reads them (see the API Gateway pages on OpenAPI
//! 2.0 and 3.x extensions, summarised in shopgen's GCP reference):
//!
//! - **Swagger 2.0**: `x-google-backend` is an object (`address`, `path_translation`,
//!   `deadline`, `jwt_audience`, `disable_auth`) at the root and/or on an operation;
//!   API keys are declared in `securityDefinitions`; `basePath` prefixes every path;
//!   `x-google-allow: all` also passes unlisted paths to the backend.
//! - **OpenAPI 3.x**: backends live in the root `x-google-api-management.backends` map
//!   (camelCase fields) and `x-google-backend` is a *string* naming one of them; API
//!   keys are declared in `components.securitySchemes`; one relative `servers` URL is a
//!   base path.
//!
//! What API Gateway itself rejects is rejected here too, so a document that works
//! locally is one the cloud accepts: a path parameter that is not a whole segment, a
//! security requirement with no matching definition, an OpenAPI 3 `x-google-backend`
//! that is not a name in `backends`. Parameters, schemas and types are read by API
//! Gateway but not enforced, so they are ignored here. The quota section is read in
//! `quota`.

pub mod auth;
mod quota;

use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderName;
use serde_json::{Map, Value};

use crate::quota::QuotaLimit;
use crate::route::{PathTemplate, TemplateError};
pub use auth::{JwtLocation, JwtProvider, Requirement};
use auth::{Scheme, Schemes, read_schemes, requirements};
use quota::{read_costs, read_limits};

/// API Gateway's default backend deadline (`deadline` absent): 15 seconds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15);

/// The document's dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `swagger: "2.0"`.
    Swagger2,
    /// `openapi: "3.0.x"` or `"3.1.x"`.
    OpenApi3,
}

/// Where a request may carry its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// A header (names are case-insensitive).
    Header(HeaderName),
    /// A query parameter (names are case-sensitive).
    Query(String),
}

/// What an operation asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRequirement {
    /// `security: []`: no key is asked for.
    None,
    /// A key must be present in one of these places, and valid.
    Required(Vec<KeyLocation>),
    /// `- {}` among the requirements: a key is optional.
    Optional(Vec<KeyLocation>),
}

/// How the request path reaches the backend (`google.api.BackendRule.PathTranslation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathTranslation {
    /// The whole request path is appended to the address.
    AppendPathToAddress,
    /// The address is used as is; path parameters move into the query string.
    ConstantAddress,
}

/// One backend, as `x-google-backend` (2.0) or an entry of `backends` (3.x) names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// The address exactly as written; it may hold a Terraform `templatefile`
    /// placeholder such as `https://${relay_host}`.
    pub address: String,
    pub path_translation: PathTranslation,
    pub deadline: Duration,
    /// The audience of the ID token the gateway sends; the address when unset.
    pub jwt_audience: Option<String>,
    /// No ID token is sent, and the client's `Authorization` passes unchanged.
    pub disable_auth: bool,
}

/// One listed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: Method,
    /// The path template as listed (with the base path, if any).
    pub template: PathTemplate,
    pub operation_id: Option<String>,
    pub key: KeyRequirement,
    /// The `security` requirements (OR across the list, AND within one); empty when
    /// the operation asks for nothing. API keys are checked per [`Operation::key`].
    pub security: Vec<Requirement>,
    pub backend: Backend,
    /// `x-google-quota.metricCosts`: (metric, cost) charged per call.
    pub metric_costs: Vec<(String, u64)>,
}

/// The facts of a gateway document the emulator enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayDocument {
    pub dialect: Dialect,
    /// `info.title`.
    pub title: String,
    /// In document order.
    pub operations: Vec<Operation>,
    /// The root backend, when one is declared.
    pub default_backend: Option<Backend>,
    /// `x-google-allow: all` (2.0): unlisted requests also go to the root backend,
    /// with no key check.
    pub allow_all: bool,
    /// The quota limits (see [`crate::quota`]).
    pub quota_limits: Vec<QuotaLimit>,
    /// The JWT providers its security schemes declare (see [`auth`]).
    pub jwt_providers: Vec<JwtProvider>,
    /// The host the document names (2.0 `host`, or the host of a 3.x absolute
    /// `servers` URL): the service name API Gateway derives a default JWT audience
    /// from.
    pub host: Option<String>,
}

/// Why a document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not YAML (or JSON) at all.
    #[error("not a YAML document: {0}")]
    Syntax(String),
    /// YAML, but not a gateway document API Gateway would accept.
    #[error("{at}: {message}")]
    Invalid {
        /// Where, as a path into the document (`paths./products.get.security`).
        at: String,
        message: String,
    },
}

fn invalid(at: impl Into<String>, message: impl Into<String>) -> DocumentError {
    DocumentError::Invalid {
        at: at.into(),
        message: message.into(),
    }
}

const METHODS: [(&str, Method); 7] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("head", Method::HEAD),
    ("patch", Method::PATCH),
];

impl GatewayDocument {
    /// Reads a document from its YAML (or JSON) text.
    pub fn parse(text: &str) -> Result<GatewayDocument, DocumentError> {
        let root: Value =
            serde_saphyr::from_str(text).map_err(|e| DocumentError::Syntax(e.to_string()))?;
        let Value::Object(root) = root else {
            return Err(invalid("(root)", "the document is not a mapping"));
        };
        let dialect = if let Some(v) = root.get("swagger") {
            if v.as_str() != Some("2.0") {
                return Err(invalid("swagger", "API Gateway reads Swagger \"2.0\" only"));
            }
            Dialect::Swagger2
        } else if let Some(v) = root.get("openapi") {
            match v.as_str() {
                Some(s) if s.starts_with("3.0.") || s.starts_with("3.1.") => Dialect::OpenApi3,
                _ => {
                    return Err(invalid(
                        "openapi",
                        "API Gateway reads OpenAPI 3.0.x and 3.1.x only",
                    ));
                }
            }
        } else {
            return Err(invalid(
                "(root)",
                "neither `swagger: \"2.0\"` nor `openapi: \"3.x\"`",
            ));
        };
        let title = root
            .get("info")
            .and_then(|i| i.get("title"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let reader = Reader::new(&root, dialect)?;
        let default_backend = reader.root_backend()?;
        let allow_all = match root.get("x-google-allow").and_then(Value::as_str) {
            None | Some("configured") => false,
            Some("all") => true,
            Some(other) => {
                return Err(invalid(
                    "x-google-allow",
                    format!("`{other}` is neither `configured` nor `all`"),
                ));
            }
        };
        if allow_all && default_backend.is_none() {
            return Err(invalid(
                "x-google-allow",
                "`all` needs a root `x-google-backend` to send unlisted requests to",
            ));
        }
        let base_path = reader.base_path()?;
        let (metrics, quota_limits) = read_limits(&root, dialect)?;
        let root_security = root.get("security");
        let mut operations = Vec::new();
        let paths = match root.get("paths") {
            Some(Value::Object(p)) => p.clone(),
            None => Map::new(),
            Some(_) => return Err(invalid("paths", "not a mapping")),
        };
        for (path, item) in &paths {
            let Value::Object(item) = item else {
                return Err(invalid(format!("paths.{path}"), "not a mapping"));
            };
            let full = format!("{base_path}{path}");
            let template = PathTemplate::parse(&full).map_err(|e| match e {
                TemplateError(message) => invalid(format!("paths.{path}"), message),
            })?;
            for (name, method) in &METHODS {
                let Some(op) = item.get(*name) else {
                    continue;
                };
                let at = format!("paths.{path}.{name}");
                let Value::Object(op) = op else {
                    return Err(invalid(at, "not a mapping"));
                };
                let security = op.get("security").or(root_security);
                let key = reader.key_requirement(security, &format!("{at}.security"))?;
                let security = requirements(&reader.schemes, security, &format!("{at}.security"))?;
                let backend = match op.get("x-google-backend") {
                    Some(b) => reader.backend(b, &format!("{at}.x-google-backend"), false)?,
                    None => default_backend.clone().ok_or_else(|| {
                        invalid(
                            at.clone(),
                            "no `x-google-backend` on the operation nor at the root",
                        )
                    })?,
                };
                let metric_costs = read_costs(op, &metrics, &at)?;
                operations.push(Operation {
                    metric_costs,
                    method: method.clone(),
                    template: template.clone(),
                    operation_id: op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    key,
                    security,
                    backend,
                });
            }
        }
        Ok(GatewayDocument {
            dialect,
            title,
            operations,
            default_backend,
            allow_all,
            quota_limits,
            host: reader.host(),
            jwt_providers: reader.schemes.providers,
        })
    }
}

/// Dialect-aware lookups over the document root.
struct Reader<'a> {
    root: &'a Map<String, Value>,
    dialect: Dialect,
    /// The security schemes, by name.
    schemes: Schemes,
}

impl<'a> Reader<'a> {
    fn new(root: &'a Map<String, Value>, dialect: Dialect) -> Result<Self, DocumentError> {
        let (defs, at) = match dialect {
            Dialect::Swagger2 => (root.get("securityDefinitions"), "securityDefinitions"),
            Dialect::OpenApi3 => (
                root.get("components")
                    .and_then(|c| c.get("securitySchemes")),
                "components.securitySchemes",
            ),
        };
        let schemes = read_schemes(defs, at, dialect == Dialect::OpenApi3)?;
        Ok(Reader {
            root,
            dialect,
            schemes,
        })
    }

    /// The service host the document names, if any.
    fn host(&self) -> Option<String> {
        let host = match self.dialect {
            Dialect::Swagger2 => self.root.get("host").and_then(Value::as_str)?.to_string(),
            Dialect::OpenApi3 => {
                let url = self
                    .root
                    .get("servers")?
                    .get(0)?
                    .get("url")
                    .and_then(Value::as_str)?;
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"))?;
                rest.split('/').next()?.to_string()
            }
        };
        (!host.is_empty() && !host.contains("${")).then_some(host)
    }

    /// The base path every listed path is under: 2.0 `basePath`, or a 3.x relative
    /// `servers` URL.
    fn base_path(&self) -> Result<String, DocumentError> {
        let base = match self.dialect {
            Dialect::Swagger2 => self
                .root
                .get("basePath")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            Dialect::OpenApi3 => match self.root.get("servers") {
                Some(Value::Array(servers)) if servers.len() > 1 => {
                    return Err(invalid("servers", "API Gateway uses at most one server"));
                }
                Some(Value::Array(servers)) => servers
                    .first()
                    .and_then(|s| s.get("url"))
                    .and_then(Value::as_str)
                    .filter(|u| u.starts_with('/'))
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            },
        };
        Ok(base.trim_end_matches('/').to_string())
    }

    fn root_backend(&self) -> Result<Option<Backend>, DocumentError> {
        if self.dialect == Dialect::OpenApi3 && !self.root.contains_key("x-google-api-management") {
            return Err(invalid(
                "x-google-api-management",
                "required at the root of an OpenAPI 3.x document for API Gateway",
            ));
        }
        self.root
            .get("x-google-backend")
            .map(|b| self.backend(b, "x-google-backend", true))
            .transpose()
    }

    /// Reads an `x-google-backend` value (2.0 object or 3.x name).
    fn backend(&self, value: &Value, at: &str, top_level: bool) -> Result<Backend, DocumentError> {
        match self.dialect {
            Dialect::Swagger2 => {
                let Value::Object(b) = value else {
                    return Err(invalid(
                        at,
                        "in Swagger 2.0 `x-google-backend` is an object",
                    ));
                };
                backend_fields(
                    b,
                    at,
                    top_level,
                    [
                        "address",
                        "path_translation",
                        "deadline",
                        "jwt_audience",
                        "disable_auth",
                    ],
                )
            }
            Dialect::OpenApi3 => {
                let Value::String(name) = value else {
                    // The error API Gateway gives for the 2.0 form in a 3.x document:
                    // "Extension x-google-backend does not have a valid value. {…} is
                    // not defined in x-google-api-management."
                    return Err(invalid(
                        at,
                        "in OpenAPI 3.x `x-google-backend` is the name of an entry of \
                         `x-google-api-management.backends`, not an object",
                    ));
                };
                let backends_at = "x-google-api-management.backends";
                let entry = self
                    .root
                    .get("x-google-api-management")
                    .and_then(|m| m.get("backends"))
                    .and_then(|b| b.get(name.as_str()))
                    .ok_or_else(|| {
                        invalid(at, format!("`{name}` is not defined in {backends_at}"))
                    })?;
                let Value::Object(b) = entry else {
                    return Err(invalid(format!("{backends_at}.{name}"), "not a mapping"));
                };
                backend_fields(
                    b,
                    &format!("{backends_at}.{name}"),
                    top_level,
                    [
                        "address",
                        "pathTranslation",
                        "deadline",
                        "jwtAudience",
                        "disableAuth",
                    ],
                )
            }
        }
    }

    /// Resolves a `security` list into what the caller must present.
    fn key_requirement(
        &self,
        security: Option<&Value>,
        at: &str,
    ) -> Result<KeyRequirement, DocumentError> {
        let Some(security) = security else {
            return Ok(KeyRequirement::None);
        };
        let Value::Array(alternatives) = security else {
            return Err(invalid(at, "`security` is a list of requirements"));
        };
        if alternatives.is_empty() {
            return Ok(KeyRequirement::None);
        }
        let mut locations = Vec::new();
        let mut optional = false;
        let mut asked = false;
        for alt in alternatives {
            let Value::Object(alt) = alt else {
                return Err(invalid(at, "each requirement is a mapping"));
            };
            if alt.is_empty() {
                optional = true;
            }
            for name in alt.keys() {
                let scheme = self
                    .schemes
                    .by_name
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| invalid(at, format!("no security definition named `{name}`")))?;
                if let Scheme::ApiKey(location) = &scheme.1 {
                    asked = true;
                    if !locations.contains(location) {
                        locations.push(location.clone());
                    }
                }
            }
        }
        Ok(if optional {
            KeyRequirement::Optional(locations)
        } else if asked {
            KeyRequirement::Required(locations)
        } else {
            KeyRequirement::None
        })
    }
}

/// Reads backend fields named in the dialect's spelling:
/// `[address, path translation, deadline, audience, disable auth]`.
fn backend_fields(
    b: &Map<String, Value>,
    at: &str,
    top_level: bool,
    names: [&str; 5],
) -> Result<Backend, DocumentError> {
    let [address_k, translation_k, deadline_k, audience_k, disable_k] = names;
    let address = b
        .get(address_k)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at, format!("`{address_k}` is required")))?
        .to_string();
    // Defaults per the API Gateway docs: APPEND_PATH_TO_ADDRESS for a root backend,
    // CONSTANT_ADDRESS for one set on an operation.
    let path_translation = match b.get(translation_k).and_then(Value::as_str) {
        None if top_level => PathTranslation::AppendPathToAddress,
        None => PathTranslation::ConstantAddress,
        Some("APPEND_PATH_TO_ADDRESS") => PathTranslation::AppendPathToAddress,
        Some("CONSTANT_ADDRESS") => PathTranslation::ConstantAddress,
        Some(other) => {
            return Err(invalid(
                format!("{at}.{translation_k}"),
                format!("`{other}` is neither APPEND_PATH_TO_ADDRESS nor CONSTANT_ADDRESS"),
            ));
        }
    };
    let deadline = match b.get(deadline_k) {
        None => DEFAULT_DEADLINE,
        Some(v) => {
            let secs = v
                .as_f64()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| {
                    invalid(format!("{at}.{deadline_k}"), "a positive number of seconds")
                })?;
            Duration::try_from_secs_f64(secs)
                .map_err(|_| invalid(format!("{at}.{deadline_k}"), "out of range"))?
        }
    };
    Ok(Backend {
        address,
        path_translation,
        deadline,
        jwt_audience: b
            .get(audience_k)
            .and_then(Value::as_str)
            .map(str::to_string),
        disable_auth: b.get(disable_k).and_then(Value::as_bool).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OAS3: &str = r#"
openapi: "3.0.3"
info: {title: shop-api, version: "1.0.0"}
paths:
  /products:
    get:
      operationId: listProducts
      security:
      - api_key: []
  "/products/{id}":
    get:
      operationId: getProduct
components:
  securitySchemes:
    api_key: {type: apiKey, in: header, name: x-api-key}
security:
- api_key: []
x-google-api-management:
  backends:
    relay:
      address: https://${relay_host}
      deadline: 15.0
      jwtAudience: https://${relay_host}
      pathTranslation: APPEND_PATH_TO_ADDRESS
      protocol: http/1.1
x-google-backend: relay
"#;

    const SWAGGER2: &str = r#"
swagger: "2.0"
info: {title: shop-api, version: "1.0.0"}
x-google-backend:
  address: https://${relay_host}
  jwt_audience: https://${relay_host}
  path_translation: APPEND_PATH_TO_ADDRESS
  deadline: 2.5
securityDefinitions:
  api_key: {type: apiKey, name: x-api-key, in: header}
security:
- api_key: []
paths:
  /products:
    get: {operationId: listProducts}
  "/products/{id}":
    get:
      operationId: getProduct
      security: []
"#;

    #[test]
    fn reads_openapi3() {
        let doc = GatewayDocument::parse(OAS3).expect("valid");
        assert_eq!(doc.dialect, Dialect::OpenApi3);
        assert_eq!(doc.title, "shop-api");
        assert_eq!(doc.operations.len(), 2);
        let op = &doc.operations[1];
        assert_eq!(op.method, Method::GET);
        assert_eq!(op.template.as_str(), "/products/{id}");
        assert_eq!(
            op.key,
            KeyRequirement::Required(vec![KeyLocation::Header(HeaderName::from_static(
                "x-api-key"
            ))])
        );
        assert_eq!(op.backend.address, "https://${relay_host}");
        assert_eq!(
            op.backend.path_translation,
            PathTranslation::AppendPathToAddress
        );
        assert_eq!(op.backend.deadline, Duration::from_secs(15));
    }

    #[test]
    fn reads_swagger2() {
        let doc = GatewayDocument::parse(SWAGGER2).expect("valid");
        assert_eq!(doc.dialect, Dialect::Swagger2);
        assert_eq!(
            doc.operations[0].backend.deadline,
            Duration::from_millis(2500)
        );
        assert!(matches!(doc.operations[0].key, KeyRequirement::Required(_)));
        assert_eq!(doc.operations[1].key, KeyRequirement::None);
    }

    #[test]
    fn refuses_the_object_backend_in_openapi3() {
        let text = OAS3.replace(
            "x-google-backend: relay",
            "x-google-backend: {address: https://x, path_translation: APPEND_PATH_TO_ADDRESS}",
        );
        let err = GatewayDocument::parse(&text).expect_err("object form");
        assert!(err.to_string().contains("not an object"), "{err}");
    }

    #[test]
    fn refuses_an_unknown_backend_name() {
        let text = OAS3.replace("x-google-backend: relay", "x-google-backend: other");
        let err = GatewayDocument::parse(&text).expect_err("unknown");
        assert!(err.to_string().contains("`other` is not defined"), "{err}");
    }

    #[test]
    fn refuses_partial_segment_parameters() {
        let text = OAS3.replace("\"/products/{id}\"", "\"/products/p{id}\"");
        let err = GatewayDocument::parse(&text).expect_err("partial segment");
        assert!(err.to_string().contains("whole path segment"), "{err}");
    }

    #[test]
    fn refuses_undefined_security() {
        let text = SWAGGER2.replace("security: []", "security: [{other: []}]");
        let err = GatewayDocument::parse(&text).expect_err("undefined scheme");
        assert!(
            err.to_string()
                .contains("no security definition named `other`"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_requirement_makes_the_key_optional() {
        let text = SWAGGER2.replace("security: []", "security: [{api_key: []}, {}]");
        let doc = GatewayDocument::parse(&text).expect("valid");
        assert!(matches!(doc.operations[1].key, KeyRequirement::Optional(_)));
    }

    #[test]
    fn swagger_base_path_prefixes_paths() {
        let text = SWAGGER2.replace("swagger: \"2.0\"", "swagger: \"2.0\"\nbasePath: /v1");
        let doc = GatewayDocument::parse(&text).expect("valid");
        assert_eq!(doc.operations[0].template.as_str(), "/v1/products");
    }

    #[test]
    fn operation_backend_defaults_to_constant_address() {
        let text = SWAGGER2.replace(
            "get: {operationId: listProducts}",
            "get: {operationId: listProducts, x-google-backend: {address: http://other}}",
        );
        let doc = GatewayDocument::parse(&text).expect("valid");
        assert_eq!(
            doc.operations[0].backend.path_translation,
            PathTranslation::ConstantAddress
        );
    }

    const SWAGGER2_JWT: &str = r#"
swagger: "2.0"
info: {title: shop-api, version: "1.0.0"}
host: shop-api.apigateway.example.cloud.goog
x-google-backend: {address: "http://127.0.0.1:1"}
securityDefinitions:
  api_key: {type: apiKey, name: x-api-key, in: header}
  users:
    type: oauth2
    flow: implicit
    authorizationUrl: ""
    x-google-issuer: https://issuer.example
    x-google-jwks_uri: https://issuer.example/jwks.json
    x-google-audiences: "app-1, app-2"
paths:
  /both:
    get: {security: [{api_key: [], users: []}]}
  /either:
    get: {security: [{api_key: []}, {users: []}]}
  /token:
    get: {security: [{users: []}]}
"#;

    #[test]
    fn reads_swagger2_jwt_providers_and_requirements() {
        let doc = GatewayDocument::parse(SWAGGER2_JWT).expect("valid");
        assert_eq!(
            doc.host.as_deref(),
            Some("shop-api.apigateway.example.cloud.goog")
        );
        let p = &doc.jwt_providers[0];
        assert_eq!(p.name, "users");
        assert_eq!(p.issuer, "https://issuer.example");
        assert_eq!(p.audiences, vec!["app-1".to_string(), "app-2".to_string()]);
        assert_eq!(p.locations, JwtLocation::defaults());
        let both = &doc.operations[0];
        assert_eq!(
            both.security,
            vec![Requirement {
                api_key: true,
                jwt: vec!["users".into()]
            }]
        );
        assert!(matches!(both.key, KeyRequirement::Required(_)));
        assert_eq!(doc.operations[1].security.len(), 2);
        assert_eq!(doc.operations[2].key, KeyRequirement::None);
    }

    #[test]
    fn reads_openapi3_x_google_auth() {
        let text = OAS3
            .replace(
                "    api_key: {type: apiKey, in: header, name: x-api-key}",
                r#"    api_key: {type: apiKey, in: header, name: x-api-key}
    users:
      type: oauth2
      flows: {implicit: {authorizationUrl: "", scopes: {}}}
      x-google-auth:
        issuer: https://issuer.example
        jwksUri: http://127.0.0.1:9/jwks
        audiences: [app-1]
        jwtLocations:
        - {header: X-User-Token, valuePrefix: "Token "}
        - {query: jwt}"#,
            )
            .replace(
                "      - api_key: []
",
                "      - api_key: []
        users: []
",
            );
        let doc = GatewayDocument::parse(&text).expect("valid");
        let p = &doc.jwt_providers[0];
        assert_eq!(p.jwks_uri, "http://127.0.0.1:9/jwks");
        assert_eq!(p.audiences, vec!["app-1".to_string()]);
        assert_eq!(
            p.locations,
            vec![
                JwtLocation::Header {
                    name: HeaderName::from_static("x-user-token"),
                    value_prefix: "Token ".into()
                },
                JwtLocation::Query("jwt".into())
            ]
        );
        assert_eq!(doc.operations[0].security[0].jwt, vec!["users".to_string()]);
    }

    #[test]
    fn refuses_malformed_jwt_schemes() {
        let cases = [
            (
                "    x-google-issuer: https://issuer.example\n",
                "needs `x-google-issuer`",
            ),
            (
                "x-google-jwks_uri: https://issuer.example/jwks.json",
                "needs `x-google-jwks_uri`",
            ),
            (
                "https://issuer.example/jwks.json",
                "http:// or https:// URL",
            ),
            ("flow: implicit", "`flow: implicit`"),
            (
                "x-google-audiences: \"app-1, app-2\"",
                "comma-separated string or a list",
            ),
        ];
        let replacements = [
            "",
            "x-google-jwks_uri_typo: x",
            "file:///jwks.json",
            "flow: password",
            "x-google-audiences: {a: 1}",
        ];
        for ((from, message), to) in cases.iter().zip(replacements) {
            let text = SWAGGER2_JWT.replace(from, to);
            assert_ne!(text, SWAGGER2_JWT, "{from}");
            let err = GatewayDocument::parse(&text).expect_err(from);
            assert!(err.to_string().contains(message), "{from}: {err}");
        }
        let text = SWAGGER2_JWT.replace("type: oauth2", "type: basic");
        let err = GatewayDocument::parse(&text).expect_err("basic");
        assert!(err.to_string().contains("of type `basic`"), "{err}");
        let text = OAS3.replace(
            "{type: apiKey, in: header, name: x-api-key}",
            "{type: oauth2}",
        );
        let err = GatewayDocument::parse(&text).expect_err("no x-google-auth");
        assert!(err.to_string().contains("needs `x-google-auth`"), "{err}");
    }
}
