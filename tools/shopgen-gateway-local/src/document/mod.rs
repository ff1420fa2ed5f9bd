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

mod quota;

use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderName;
use serde_json::{Map, Value};

use crate::quota::QuotaLimit;
use crate::route::{PathTemplate, TemplateError};
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
        })
    }
}

/// Dialect-aware lookups over the document root.
struct Reader<'a> {
    root: &'a Map<String, Value>,
    dialect: Dialect,
    /// API-key schemes by name; other scheme types map to `None`.
    schemes: Vec<(String, Option<KeyLocation>)>,
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
        let mut schemes = Vec::new();
        if let Some(Value::Object(defs)) = defs {
            for (name, def) in defs {
                let at = format!("{at}.{name}");
                if def.get("type").and_then(Value::as_str) != Some("apiKey") {
                    schemes.push((name.clone(), None));
                    continue;
                }
                let key_name = def
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&at, "an apiKey scheme needs a `name`"))?;
                let location = match def.get("in").and_then(Value::as_str) {
                    Some("header") => KeyLocation::Header(
                        HeaderName::from_bytes(key_name.as_bytes())
                            .map_err(|_| invalid(&at, "`name` is not a valid header name"))?,
                    ),
                    Some("query") => KeyLocation::Query(key_name.to_string()),
                    _ => return Err(invalid(&at, "`in` must be `header` or `query`")),
                };
                schemes.push((name.clone(), Some(location)));
            }
        }
        Ok(Reader {
            root,
            dialect,
            schemes,
        })
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
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| invalid(at, format!("no security definition named `{name}`")))?;
                match &scheme.1 {
                    Some(location) if !locations.contains(location) => {
                        locations.push(location.clone())
                    }
                    Some(_) => {}
                    None => {
                        return Err(invalid(
                            at,
                            format!(
                                "`{name}` is not an API key; the local gateway emulates API \
                                 keys only"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(if optional {
            KeyRequirement::Optional(locations)
        } else {
            KeyRequirement::Required(locations)
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
}
