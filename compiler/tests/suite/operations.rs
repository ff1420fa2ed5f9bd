//! Custom operations reach every document that lists routes: `openapi/api.yaml` (all
//! of them, with their parameters and schemas), `openapi/gateway.yaml` and the relay's
//! allowlist (public ones only, exactly like public CRUD routes), in both gateway
//! dialects. The input is the example spec (a copy in `tests/data/store.toml`).

use std::path::Path;

use shopgen::emit::{GeneratedFile, emit_all};
use shopgen::model::{Model, SpecSource};

fn store_src() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/store.toml"))
        .expect("tests/data/store.toml")
}

fn compile(src: &str) -> Model {
    let source = SpecSource {
        stem: "store".into(),
        display_path: "specs/store.toml".into(),
    };
    shopgen::compile(src, source).unwrap_or_else(|d| panic!("spec rejected: {d:?}"))
}

fn file<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} is not generated"))
        .contents
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("valid YAML")
}

#[test]
fn internal_document_lists_every_operation_with_its_inputs_and_output() {
    let files = emit_all(&compile(&store_src()));
    let api = yaml(file(&files, "openapi/api.yaml"));
    let summary = &api["paths"]["/products/{id}/rating-summary"]["get"];
    assert_eq!(summary["operationId"], "ratingSummary");
    let params = summary["parameters"].as_array().expect("parameters");
    let by_name = |n: &str| {
        params
            .iter()
            .find(|p| p["name"] == n)
            .unwrap_or_else(|| panic!("no parameter {n}"))
    };
    assert_eq!(by_name("id")["in"], "path");
    assert_eq!(by_name("id")["schema"]["minimum"], 1);
    assert_eq!(by_name("min_rate")["in"], "query");
    assert_ne!(by_name("min_rate")["required"], true);
    assert_eq!(by_name("min_rate")["schema"]["maximum"], 5);
    assert_eq!(
        summary["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RatingSummaryResult"
    );
    let result = &api["components"]["schemas"]["RatingSummaryResult"];
    assert_eq!(
        result["required"],
        serde_json::json!(["product_id", "reviews"])
    );
    assert_eq!(result["properties"]["average"]["nullable"], true);

    let reprice = &api["paths"]["/products/{id}/reprice"]["post"];
    assert_eq!(
        reprice["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RepriceBody"
    );
    assert_eq!(
        reprice["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ProductResponse"
    );
    let body = &api["components"]["schemas"]["RepriceBody"];
    assert_eq!(body["properties"]["percent"]["minimum"], -90);
    assert_eq!(body["additionalProperties"], false);
}

#[test]
fn only_public_operations_reach_the_gateway_and_the_relay() {
    let files = emit_all(&compile(&store_src()));
    let gateway = yaml(file(&files, "openapi/gateway.yaml"));
    let op = &gateway["paths"]["/products/{id}/rating-summary"]["get"];
    assert_eq!(op["operationId"], "ratingSummary");
    assert_eq!(op["security"], serde_json::json!([{"api_key": []}]));
    assert!(
        gateway["paths"]["/products/{id}/reprice"].is_null(),
        "an internal operation is in gateway.yaml"
    );
    assert!(gateway["components"]["schemas"]["RepriceBody"].is_null());
    let relay = file(&files, "relay/src/main.rs");
    assert!(
        relay.contains(
            r#"PublicRoute::new(Method::Get, "/products/{id}/rating-summary", "ratingSummary")"#
        ),
        "relay allowlist lacks the public operation:\n{relay}"
    );
    assert!(
        !relay.contains("reprice"),
        "relay allows an internal operation"
    );

    // Swagger 2.0 lists the same operations.
    let src = store_src().replace("[gcp]", "[gateway]\nopenapi = \"2.0\"\n\n[gcp]");
    let files = emit_all(&compile(&src));
    let gateway = yaml(file(&files, "openapi/gateway.yaml"));
    let op = &gateway["paths"]["/products/{id}/rating-summary"]["get"];
    assert_eq!(op["operationId"], "ratingSummary");
    assert!(gateway["paths"]["/products/{id}/reprice"].is_null());
}

#[test]
fn making_an_operation_public_adds_it_and_nothing_else() {
    let internal = emit_all(&compile(&store_src()));
    let src = store_src().replace(
        "summary = \"Change a product's price by a percentage\"",
        "summary = \"Change a product's price by a percentage\"\nexposure = \"public\"",
    );
    let public = emit_all(&compile(&src));
    let gateway = yaml(file(&public, "openapi/gateway.yaml"));
    assert_eq!(
        gateway["paths"]["/products/{id}/reprice"]["post"]["operationId"],
        "reprice"
    );
    assert_eq!(
        file(&internal, "openapi/api.yaml"),
        file(&public, "openapi/api.yaml"),
        "exposure changes only what the gateway and relay list"
    );
}
