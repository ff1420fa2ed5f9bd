//! The OpenAPI documents: `openapi/gateway.yaml` (Google API Gateway, 3.0.3 or
//! Swagger 2.0) and `openapi/api.yaml` (the backend's full API).
//!
//! Google's dialect rules are checked here in Rust (a port of the Spectral ruleset the
//! team keeps for API Gateway): 3.x needs the root `x-google-api-management.backends`
//! and a string `x-google-backend` naming one of them; 2.0 needs the object form with
//! an `https` address; explicit `APPEND_PATH_TO_ADDRESS`; a JWT audience; the API key
//! in the header the spec names, required on every operation; only the public routes;
//! whole-segment path parameters; unique operation ids. The documents are also
//! validated with `openapi-spec-validator`, as checked in and with the relay's URL
//! filled in the way Terraform's `templatefile` does.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::infra::{Variant, body, files, model, variants, write, yaml};
use crate::support::{run_ok, tool};
use serde_json::Value;
use shopgen::model::{Model, OpenApiDialect};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const FILLED_HOST: &str = "shop-api-relay-3kq7x2fz4a-nw.a.run.app";

fn gateway(v: &Variant) -> (Model, Value, String) {
    let m = model(v);
    let files = files(&m);
    let text = body(&files, "openapi/gateway.yaml").to_string();
    (m, yaml(&text), text)
}

/// (METHOD, path, operationId) of every operation in a document.
fn operations(doc: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.insert((
                    m.to_uppercase(),
                    path.clone(),
                    op["operationId"].as_str().expect("operationId").to_string(),
                ));
            }
        }
    }
    out
}

fn model_routes(m: &Model, public_only: bool) -> BTreeSet<(String, String, String)> {
    m.routes()
        .filter(|(_, r)| !public_only || r.exposure == shopgen::model::Exposure::Public)
        .map(|(_, r)| {
            (
                r.method.as_str().to_string(),
                r.path.clone(),
                r.operation_id.clone(),
            )
        })
        .collect()
}

/// Every value of `key` anywhere in the document.
fn find_all<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k == key {
                    out.push(val);
                }
                find_all(val, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| find_all(i, key, out)),
        _ => {}
    }
}

/// The Google dialect rules; returns every violation.
pub(crate) fn google_rules(m: &Model, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut backends_values = Vec::new();
    find_all(doc, "x-google-backend", &mut backends_values);
    if backends_values.is_empty() {
        errors.push("no x-google-backend".to_string());
    }
    let https = |s: &Value| s.as_str().is_some_and(|s| s.starts_with("https://"));
    if doc.get("openapi").is_some() {
        let backends = &doc["x-google-api-management"]["backends"];
        match backends.as_object() {
            Some(b) if !b.is_empty() => {
                for (name, be) in b {
                    if !https(&be["address"]) {
                        errors.push(format!("backend {name}: address must be https"));
                    }
                    if be["pathTranslation"] != "APPEND_PATH_TO_ADDRESS" {
                        errors.push(format!(
                            "backend {name}: pathTranslation not explicit APPEND_PATH_TO_ADDRESS"
                        ));
                    }
                    if !https(&be["jwtAudience"]) && be["disableAuth"] != true {
                        errors.push(format!("backend {name}: needs jwtAudience or disableAuth"));
                    }
                    if !be["deadline"].is_number() {
                        errors.push(format!("backend {name}: deadline must be a number"));
                    }
                }
                for v in &backends_values {
                    match v.as_str() {
                        Some(name) if b.contains_key(name) => {}
                        _ => errors.push(format!(
                            "3.x x-google-backend must be a string naming a backend, found {v}"
                        )),
                    }
                }
            }
            _ => errors.push("3.x needs root x-google-api-management.backends".into()),
        }
        let schemes = &doc["components"]["securitySchemes"];
        check_api_key_schemes(m, schemes, &mut errors);
    } else {
        assert_eq!(doc["swagger"], "2.0");
        for v in &backends_values {
            if !https(&v["address"]) {
                errors.push(format!("2.0 x-google-backend needs an https address: {v}"));
            }
            if v["path_translation"] != "APPEND_PATH_TO_ADDRESS" {
                errors.push("2.0 path_translation not explicit APPEND_PATH_TO_ADDRESS".into());
            }
            if !https(&v["jwt_audience"]) {
                errors.push("2.0 x-google-backend needs jwt_audience".into());
            }
            if !v["deadline"].is_number() {
                errors.push("2.0 deadline must be a number".into());
            }
            if !matches!(v["protocol"].as_str(), Some("http/1.1" | "h2")) {
                errors.push("2.0 protocol must be http/1.1 or h2".into());
            }
        }
        check_api_key_schemes(m, &doc["securityDefinitions"], &mut errors);
    }
    if doc.get("x-google-allow").is_some_and(|a| a == "all") {
        errors.push("x-google-allow: all passes unlisted paths without a key".into());
    }
    let schemes = if doc.get("openapi").is_some() {
        &doc["components"]["securitySchemes"]
    } else {
        &doc["securityDefinitions"]
    };
    check_jwt_schemes(m, schemes, doc.get("openapi").is_some(), &mut errors);
    let root_security = doc["security"].to_string();
    if !root_security.contains("\"api_key\"") {
        errors.push("root security must require the API key".into());
    }
    errors.extend(cors_and_quota_rules(m, doc));
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for seg in path.split('/') {
            let whole = seg.starts_with('{') && seg.ends_with('}') && seg.matches('{').count() == 1;
            if seg.contains('{') && !whole {
                errors.push(format!("{path}: parameter is not a whole segment"));
            }
        }
        if path == "/" {
            errors.push("root path operations are rejected by the gateway".into());
        }
        for mth in METHODS {
            let Some(op) = item.get(mth) else { continue };
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            if !ids.insert(id.clone()) {
                errors.push(format!("duplicate operationId {id}"));
            }
            let sec = op["security"].as_array().cloned().unwrap_or_default();
            let expected = m
                .public_endpoints()
                .find(|e| e.operation_id == id)
                .map(|e| expected_security(m, e.access));
            let key_expected = expected.as_ref().is_none_or(|e| {
                e.as_array()
                    .is_some_and(|a| a.iter().all(|r| r.get("api_key").is_some()))
            });
            if key_expected && (sec.is_empty() || sec.iter().any(|r| r.get("api_key").is_none())) {
                errors.push(format!("{mth} {path}: API key not required"));
            } else if let Some(expected) = expected
                && Value::Array(sec.clone()) != expected
            {
                errors.push(format!(
                    "{mth} {path}: security {} is not the spec's {expected}",
                    Value::Array(sec.clone())
                ));
            }
            errors.extend(
                requirement_rules(&sec, schemes)
                    .into_iter()
                    .map(|e| format!("{mth} {path}: {e}")),
            );
            for name in shopgen::emit::openapi::path_params(path) {
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true)
                });
                if !declared {
                    errors.push(format!("{mth} {path}: path parameter {name} not declared"));
                }
            }
        }
    }
    errors
}

/// CORS: with `cors`, every public path has a keyless `options` operation (API Gateway
/// passes it to the relay, which answers the preflight); without, none. Quota: with a
/// quota, the dialect's metric and per-minute limit, and a cost on every keyed
/// operation naming that metric; without, no quota extension at all.
fn cors_and_quota_rules(m: &Model, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        match (item.get("options"), &m.gateway.cors) {
            (Some(op), Some(_)) => {
                if op["security"] != serde_json::json!([]) {
                    errors.push(format!(
                        "options {path}: must need no API key (security: [])"
                    ));
                }
                if op.get("x-google-quota").is_some() {
                    errors.push(format!(
                        "options {path}: a keyless preflight has no consumer to charge"
                    ));
                }
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                if !ids.insert(id.clone()) {
                    errors.push(format!("duplicate preflight operationId {id}"));
                }
                for name in shopgen::emit::openapi::path_params(path) {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["in"] == "path" && p["name"] == name)
                    });
                    if !declared {
                        errors.push(format!(
                            "options {path}: path parameter {name} not declared"
                        ));
                    }
                }
            }
            (None, Some(_)) => errors.push(format!("{path}: no options operation for CORS")),
            (Some(_), None) => errors.push(format!("{path}: options operation without cors")),
            (None, None) => {}
        }
        for mth in METHODS {
            let Some(op) = item.get(mth) else { continue };
            let costs = &op["x-google-quota"]["metricCosts"];
            match &m.gateway.quota {
                Some(q) => {
                    let expected = q.cost(op["operationId"].as_str().unwrap_or_default());
                    if costs[&q.metric] != expected {
                        errors.push(format!(
                            "{mth} {path}: metricCosts must charge {expected} to {}",
                            q.metric
                        ));
                    }
                }
                None if op.get("x-google-quota").is_some() => {
                    errors.push(format!("{mth} {path}: x-google-quota without a quota"));
                }
                None => {}
            }
        }
    }
    let (metrics, limits) = if doc.get("openapi").is_some() {
        let mgmt = &doc["x-google-api-management"];
        (
            mgmt["metrics"]
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            mgmt["quota"]["limits"].as_object().map(|o| {
                o.values()
                    .map(|l| (l["metric"].clone(), l["values"].clone()))
                    .collect::<Vec<_>>()
            }),
        )
    } else {
        let mgmt = &doc["x-google-management"];
        (
            mgmt["metrics"].as_array().map(|a| {
                a.iter()
                    .map(|x| x["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            }),
            mgmt["quota"]["limits"].as_array().map(|a| {
                a.iter()
                    .inspect(|l| {
                        if l["unit"] != "1/min/{project}" {
                            errors.push(format!(
                                "2.0 quota limit unit must be 1/min/{{project}}: {l}"
                            ));
                        }
                    })
                    .map(|l| (l["metric"].clone(), l["values"]["STANDARD"].clone()))
                    .collect()
            }),
        )
    };
    match &m.gateway.quota {
        Some(q) => {
            if metrics != Some(vec![q.metric.clone()]) {
                errors.push(format!(
                    "quota: one metric {} expected, found {metrics:?}",
                    q.metric
                ));
            }
            let expected = vec![(
                Value::String(q.metric.clone()),
                serde_json::json!(q.requests_per_minute),
            )];
            if limits.as_ref() != Some(&expected) {
                errors.push(format!(
                    "quota: limit {expected:?} expected, found {limits:?}"
                ));
            }
        }
        None => {
            if metrics.is_some() || limits.is_some() {
                errors.push("quota extensions without a quota".into());
            }
        }
    }
    errors
}

/// The `security` list an operation with this access must carry: alternatives, each
/// naming its schemes (the API key as `api_key`).
fn expected_security(m: &Model, access: &shopgen::model::Access) -> Value {
    use shopgen::model::Credential;
    Value::Array(
        access
            .requirements()
            .into_iter()
            .map(|alt| {
                let mut req = serde_json::Map::new();
                for c in alt {
                    let name = match c {
                        Credential::ApiKey => "api_key".to_string(),
                        Credential::UserToken(p) => m.gateway.provider(p).scheme.clone(),
                    };
                    req.insert(name, serde_json::json!([]));
                }
                Value::Object(req)
            })
            .collect(),
    )
}

/// What API Gateway accepts in one operation's `security` (its OpenAPI limitations
/// page): every scheme defined; the API key never one alternative among several;
/// never two OAuth 2 (user token) schemes in one requirement.
fn requirement_rules(sec: &[Value], schemes: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for req in sec {
        let Some(req) = req.as_object() else {
            errors.push(format!("requirement {req} is not an object"));
            continue;
        };
        for name in req.keys() {
            if schemes.get(name).is_none() {
                errors.push(format!("scheme {name} is not defined"));
            }
        }
        if sec.len() > 1 && req.contains_key("api_key") {
            errors.push("the API key cannot be an alternative".into());
        }
        let tokens = req
            .keys()
            .filter(|k| schemes[k.as_str()]["type"] == "oauth2")
            .count();
        if tokens > 1 {
            errors.push("two user-token schemes cannot be required together".into());
        }
    }
    errors
}

/// One OAuth 2 scheme per identity provider, in the dialect's form: 3.x
/// `x-google-auth` with `issuer`, `jwksUri` and an `audiences` list; 2.0
/// `flow: implicit`, `authorizationUrl: ""` and the `x-google-issuer`,
/// `x-google-jwks_uri` and comma-separated `x-google-audiences`.
fn check_jwt_schemes(m: &Model, schemes: &Value, v3: bool, errors: &mut Vec<String>) {
    let jwt: Vec<_> = schemes
        .as_object()
        .map(|o| o.iter().filter(|(_, s)| s["type"] == "oauth2").collect())
        .unwrap_or_default();
    if jwt.len() != m.gateway.identity.len() {
        errors.push(format!(
            "{} user-token schemes for {} providers",
            jwt.len(),
            m.gateway.identity.len()
        ));
    }
    for p in &m.gateway.identity {
        let s = &schemes[p.scheme.as_str()];
        if s["type"] != "oauth2" {
            errors.push(format!("{}: not an oauth2 scheme: {s}", p.scheme));
            continue;
        }
        if v3 {
            let auth = &s["x-google-auth"];
            let audiences: Vec<_> = auth["audiences"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if auth["issuer"] != p.issuer.as_str()
                || auth["jwksUri"] != p.jwks_uri.as_str()
                || audiences != p.audiences
            {
                errors.push(format!(
                    "{}: x-google-auth does not say {p:?}: {s}",
                    p.scheme
                ));
            }
            if s["flows"]["implicit"]["authorizationUrl"]
                .as_str()
                .is_none()
            {
                errors.push(format!("{}: 3.x oauth2 needs flows.implicit", p.scheme));
            }
        } else {
            if s["flow"] != "implicit" || s["authorizationUrl"] != "" {
                errors.push(format!(
                    "{}: 2.0 needs flow implicit, authorizationUrl \"\"",
                    p.scheme
                ));
            }
            if s["x-google-issuer"] != p.issuer.as_str()
                || s["x-google-jwks_uri"] != p.jwks_uri.as_str()
                || s["x-google-audiences"] != p.audiences.join(",").as_str()
            {
                errors.push(format!("{}: x-google-* do not say {p:?}: {s}", p.scheme));
            }
        }
    }
}

fn check_api_key_schemes(m: &Model, schemes: &Value, errors: &mut Vec<String>) {
    let Some(map) = schemes.as_object() else {
        errors.push("no security schemes".into());
        return;
    };
    let keys: Vec<_> = map.values().filter(|s| s["type"] == "apiKey").collect();
    if keys.is_empty() {
        errors.push("no apiKey scheme".into());
    }
    for s in keys {
        if s["in"] != "header" || s["name"] != m.gateway.api_key_header.as_str() {
            errors.push(format!(
                "apiKey must be in header {}: {s}",
                m.gateway.api_key_header
            ));
        }
    }
}

#[test]
fn gateway_documents_follow_googles_dialect() {
    let mut dialects = BTreeSet::new();
    for v in variants() {
        let (m, doc, _) = gateway(&v);
        dialects.insert(format!("{:?}", m.gateway.dialect));
        match m.gateway.dialect {
            OpenApiDialect::OpenApi30 => assert_eq!(doc["openapi"], "3.0.3"),
            OpenApiDialect::Swagger20 => assert_eq!(doc["swagger"], "2.0"),
        }
        let errors = google_rules(&m, &doc);
        assert!(errors.is_empty(), "{}:\n{}", v.name, errors.join("\n"));
    }
    assert_eq!(dialects.len(), 2, "both dialects are exercised");
}

#[test]
fn cors_and_quota_appear_in_both_dialects_and_the_rules_catch_their_mistakes() {
    let mut seen = BTreeSet::new();
    for v in variants() {
        let (m, doc, _) = gateway(&v);
        if m.gateway.cors.is_some() && m.gateway.quota.is_some() {
            seen.insert(format!("{:?}", m.gateway.dialect));
            let keyed = doc["paths"]["/products"]["get"].clone();
            assert_eq!(
                keyed["x-google-quota"]["metricCosts"]["shop-api-requests"], 2,
                "{}",
                v.name
            );
            let mut bad = doc.clone();
            bad["paths"]["/products"]["options"]["security"] = serde_json::json!([{"api_key": []}]);
            assert!(
                cors_and_quota_rules(&m, &bad)
                    .iter()
                    .any(|e| e.contains("security: []"))
            );
            let mut bad = doc.clone();
            bad["paths"]["/products"]
                .as_object_mut()
                .unwrap()
                .remove("options");
            assert!(
                cors_and_quota_rules(&m, &bad)
                    .iter()
                    .any(|e| e.contains("no options"))
            );
            let mut bad = doc.clone();
            bad["paths"]["/products"]["get"]["x-google-quota"] =
                serde_json::json!({"metricCosts": {"other": 1}});
            assert!(
                cors_and_quota_rules(&m, &bad)
                    .iter()
                    .any(|e| e.contains("metricCosts"))
            );
        }
    }
    assert_eq!(
        seen.len(),
        2,
        "both dialects carry CORS and quota: {seen:?}"
    );
}

#[test]
fn the_dialect_rules_catch_the_classic_mistakes() {
    let (m, doc, _) = gateway(&variants()[0]);
    // The 2.0 object form of x-google-backend inside a 3.x document.
    let mut bad = doc.clone();
    bad["x-google-backend"] = serde_json::json!({"address": "https://x.run.app"});
    assert!(
        google_rules(&m, &bad)
            .iter()
            .any(|e| e.contains("must be a string"))
    );
    // No root backends.
    let mut bad = doc.clone();
    bad.as_object_mut()
        .unwrap()
        .remove("x-google-api-management");
    assert!(
        google_rules(&m, &bad)
            .iter()
            .any(|e| e.contains("x-google-api-management"))
    );
    // A keyless operation.
    let mut bad = doc.clone();
    bad["paths"]["/products"]["get"]["security"] = serde_json::json!([]);
    assert!(
        google_rules(&m, &bad)
            .iter()
            .any(|e| e.contains("API key not required"))
    );
    // The key in a query parameter.
    let mut bad = doc.clone();
    bad["components"]["securitySchemes"]["api_key"]["in"] = "query".into();
    assert!(
        google_rules(&m, &bad)
            .iter()
            .any(|e| e.contains("apiKey must be in header"))
    );
    // A partial-segment parameter.
    let mut bad = doc;
    let item = bad["paths"]["/products/{id}"].clone();
    bad["paths"]["/products/p{id}"] = item;
    assert!(
        google_rules(&m, &bad)
            .iter()
            .any(|e| e.contains("whole segment"))
    );
}

#[test]
fn the_gateway_lists_exactly_the_public_routes_and_api_yaml_all_of_them() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let gw: Value = yaml(body(&files, "openapi/gateway.yaml"));
        assert_eq!(operations(&gw), model_routes(&m, true), "{}", v.name);
        let api: Value = yaml(body(&files, "openapi/api.yaml"));
        assert_eq!(operations(&api), model_routes(&m, false), "{}", v.name);
        assert!(model_routes(&m, false).len() > model_routes(&m, true).len());
        let api_text = body(&files, "openapi/api.yaml");
        assert!(
            !api_text.contains("x-google"),
            "api.yaml is the internal API"
        );
        assert!(!api_text.contains("${"));
    }
}

#[test]
fn openapi_30_documents_read_back_as_typed_openapiv3() {
    let m = model(&variants()[0]);
    let files = files(&m);
    for path in ["openapi/gateway.yaml", "openapi/api.yaml"] {
        let doc: openapiv3::OpenAPI = yaml(body(&files, path));
        assert_eq!(doc.openapi, "3.0.3");
        assert!(!doc.paths.paths.is_empty());
        // Members in the order the backend writes them (`Resource::json`).
        let schemas = doc.components.expect("components").schemas;
        let order = |name: &str| -> Vec<String> {
            match &schemas[name] {
                openapiv3::ReferenceOr::Item(s) => match &s.schema_kind {
                    openapiv3::SchemaKind::Type(openapiv3::Type::Object(o)) => {
                        o.properties.keys().cloned().collect()
                    }
                    other => panic!("{name} is not an object: {other:?}"),
                },
                r => panic!("{name} is a reference: {r:?}"),
            }
        };
        assert_eq!(order("Product"), ["title", "price", "reviews"]);
        assert_eq!(order("Review"), ["id", "name", "message", "rate"]);
    }
}

#[test]
fn schemas_match_the_backends_json() {
    for v in variants() {
        let (_, doc, _) = gateway(&v);
        let defs = if doc.get("openapi").is_some() {
            doc["components"]["schemas"].clone()
        } else {
            doc["definitions"].clone()
        };
        // Sorted: serde_json's map does not keep order (the typed test below does).
        let keys = |s: &Value| -> Vec<String> {
            s["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .cloned()
                .collect()
        };
        // {"products": [{"title", "price", "reviews": [{"id", "name", "message", "rate"}]}]}
        assert_eq!(
            keys(&defs["Product"]),
            sorted(&["title", "price", "reviews"]),
            "{}",
            v.name
        );
        assert_eq!(defs["Product"]["properties"]["price"]["type"], "string");
        assert_eq!(
            keys(&defs["Review"]),
            sorted(&["id", "name", "message", "rate"])
        );
        assert_eq!(keys(&defs["ProductListResponse"]), ["products"]);
        assert_eq!(keys(&defs["ProductResponse"]), ["product"]);
        assert_eq!(keys(&defs["ErrorResponse"]), ["error"]);
        let err = &defs["ErrorResponse"]["properties"]["error"];
        assert_eq!(keys(err), sorted(&["status", "code", "message", "fields"]));
        assert_eq!(defs["Review"]["properties"]["rate"]["maximum"], 5);
    }
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort_unstable();
    v
}

/// What Terraform's `templatefile` does with the document: every `${relay_host}`
/// replaced; any other `${…}` or `%{…}` would be an error (or a silent substitution).
pub(crate) fn fill(text: &str) -> String {
    let without = text.replace("${relay_host}", "");
    assert!(
        !without.contains("${") && !without.contains("%{"),
        "gateway.yaml holds a template sequence other than ${{relay_host}}"
    );
    text.replace("${relay_host}", FILLED_HOST)
}

#[test]
fn the_document_is_valid_before_and_after_terraform_fills_it_in() {
    for v in variants() {
        let (m, _, text) = gateway(&v);
        assert!(text.contains("https://${relay_host}"));
        let filled: Value = yaml(&fill(&text));
        assert!(google_rules(&m, &filled).is_empty());
        let s = filled.to_string();
        assert!(s.contains(&format!("https://{FILLED_HOST}")));
        assert!(!s.contains("${"));
    }
}

#[test]
fn openapi_spec_validator_accepts_every_document() {
    let Some(validator) = tool(
        "openapi-spec-validator",
        "pip install openapi-spec-validator",
    ) else {
        return;
    };
    for v in variants() {
        let files = files(&model(&v));
        let dir = write(&files);
        let gw = dir.path().join("openapi/gateway.yaml");
        let filled = dir.path().join("openapi/gateway.filled.yaml");
        std::fs::write(&filled, fill(&std::fs::read_to_string(&gw).unwrap())).unwrap();
        // API Gateway documents a user-token definition with `authorizationUrl: ""`
        // (https://docs.cloud.google.com/api-gateway/docs/authenticating-users-jwt);
        // the Swagger 2.0 schema wants a URI there. The gateway reads the `x-google-*`
        // members and ignores that one, so the documents keep Google's form and the
        // generic schema checks a copy with a URI in its place.
        for doc in [&gw, &filled] {
            let text = std::fs::read_to_string(doc).unwrap();
            if text.starts_with("swagger") || text.contains("\nswagger: ") {
                let text = text.replace(
                    "authorizationUrl: ''",
                    "authorizationUrl: https://accounts.example/authorize",
                );
                std::fs::write(
                    doc,
                    text.replace(
                        "authorizationUrl: \"\"",
                        "authorizationUrl: https://accounts.example/authorize",
                    ),
                )
                .unwrap();
            }
        }
        let out = run_ok(
            Command::new(&validator)
                .arg(&gw)
                .arg(&filled)
                .arg(dir.path().join("openapi/api.yaml")),
        );
        assert_eq!(out.matches(": OK").count(), 3, "{}:\n{out}", v.name);
    }
}

/// The sign-in variants: the providers' schemes exactly as API Gateway documents them
/// in each dialect, each operation's `security` exactly as its `auth` says, the bearer
/// schemes of api.yaml, and `Authorization` among the CORS headers.
#[test]
fn identity_providers_give_the_exact_security_sections() {
    use serde_json::json;
    let firebase_jwks = "https://www.googleapis.com/service_accounts/v1/metadata/jwk/securetoken@system.gserviceaccount.com";
    let google_audiences = [
        "1234567890-web.apps.googleusercontent.com",
        "1234567890-ios.apps.googleusercontent.com",
    ];
    for name in ["identity", "identity-swagger2"] {
        let v = variants().into_iter().find(|v| v.name == name).unwrap();
        let (m, doc, _) = gateway(&v);
        let security = |path: &str, method: &str| doc["paths"][path][method]["security"].clone();
        assert_eq!(
            security("/products", "get"),
            json!([{"api_key": []}]),
            "{name}"
        );
        assert_eq!(
            security("/products/{id}", "get"),
            json!([{"api_key": [], "firebase": []}]),
            "{name}"
        );
        assert_eq!(
            security("/products", "post"),
            json!([{"firebase": []}, {"google": []}]),
            "{name}"
        );
        assert_eq!(security("/products", "options"), json!([]), "{name}");
        assert_eq!(doc["security"], json!([{"api_key": []}]), "{name}");
        if name == "identity" {
            assert_eq!(
                security("/products/{id}/reviews", "get"),
                json!([{"firebase": []}])
            );
            let schemes = &doc["components"]["securitySchemes"];
            let flows = json!({"implicit": {"authorizationUrl": "", "scopes": {}}});
            assert_eq!(schemes["firebase"]["type"], "oauth2");
            assert_eq!(schemes["firebase"]["flows"], flows);
            assert_eq!(
                schemes["firebase"]["x-google-auth"],
                json!({
                    "issuer": "https://securetoken.google.com/acme-shop",
                    "jwksUri": firebase_jwks,
                    "audiences": ["acme-shop"],
                })
            );
            assert_eq!(
                schemes["google"]["x-google-auth"],
                json!({
                    "issuer": "https://accounts.google.com",
                    "jwksUri": "https://www.googleapis.com/oauth2/v3/certs",
                    "audiences": google_audiences,
                })
            );
        } else {
            let defs = &doc["securityDefinitions"];
            let strip = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("description");
                v
            };
            assert_eq!(
                strip(&defs["firebase"]),
                json!({
                    "type": "oauth2",
                    "flow": "implicit",
                    "authorizationUrl": "",
                    "scopes": {},
                    "x-google-issuer": "https://securetoken.google.com/acme-shop",
                    "x-google-jwks_uri": firebase_jwks,
                    "x-google-audiences": "acme-shop",
                })
            );
            assert_eq!(
                defs["google"]["x-google-audiences"],
                google_audiences.join(",")
            );
            assert_eq!(defs["api_key"]["type"], "apiKey");
        }
        let files = files(&m);
        let api: Value = yaml(body(&files, "openapi/api.yaml"));
        let schemes = &api["components"]["securitySchemes"];
        // The backend's own document names the header the backend reads the token
        // from (the relay forwards it there), so a client of the backend, or a fuzzer,
        // knows which header makes the caller.
        for p in ["firebase", "google"] {
            assert_eq!(schemes[p]["type"], "apiKey", "{name}");
            assert_eq!(schemes[p]["in"], "header", "{name}");
            assert_eq!(schemes[p]["name"], "X-Forwarded-Authorization", "{name}");
        }
        assert!(schemes.get("api_key").is_none(), "api.yaml has no API key");
        let api_security =
            |path: &str, method: &str| api["paths"][path][method]["security"].clone();
        assert_eq!(api_security("/products", "get"), Value::Null);
        assert_eq!(
            api_security("/products/{id}", "get"),
            json!([{"firebase": []}])
        );
        assert_eq!(
            api_security("/products", "post"),
            json!([{"firebase": []}, {"google": []}])
        );
        let cors = m.gateway.cors.as_ref().expect("cors");
        assert!(
            cors.allowed_headers.iter().any(|h| h == "authorization"),
            "{name}"
        );
    }
    // Without providers, nothing of this appears.
    let (m, doc, text) = gateway(&variants()[0]);
    assert!(m.gateway.identity.is_empty());
    assert!(!text.contains("oauth2") && !text.contains("x-google-auth"));
    let api_text = body(&files(&m), "openapi/api.yaml").to_string();
    assert!(!api_text.contains("securitySchemes") && !api_text.contains("bearer"));
    assert!(
        doc["components"]["securitySchemes"]
            .get("firebase")
            .is_none()
    );
}

/// The rules refuse what API Gateway refuses: the API key as an alternative, two user
/// tokens together, an undefined scheme, a security list unlike the spec's.
#[test]
fn the_dialect_rules_catch_auth_mistakes() {
    let v = variants()
        .into_iter()
        .find(|v| v.name == "identity")
        .unwrap();
    let (m, doc, _) = gateway(&v);
    assert!(
        google_rules(&m, &doc).is_empty(),
        "{:?}",
        google_rules(&m, &doc)
    );
    for (security, expected) in [
        (
            serde_json::json!([{"api_key": []}, {"firebase": []}]),
            "cannot be an alternative",
        ),
        (
            serde_json::json!([{"firebase": [], "google": []}]),
            "required together",
        ),
        (serde_json::json!([{"okta": []}]), "not defined"),
        (serde_json::json!([{"google": []}]), "is not the spec's"),
    ] {
        let mut bad = doc.clone();
        bad["paths"]["/products"]["post"]["security"] = security;
        let errors = google_rules(&m, &bad);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{expected}: {errors:?}"
        );
    }
}
