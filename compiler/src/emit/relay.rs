//! Emit: the relay crate (`relay/`), the bridge from API Gateway into the VPC.
//!
//! The spec-specific part of the relay is one table: the public routes (method, path
//! template, operation id), the relay's allowlist. Everything else (the proxy engine,
//! settings, logging) lives in `runtime/relay` (`shopgen-relay-runtime`).

use super::{CommentSyntax, EmittedFile, binary_crate_manifest, rust_str};
use crate::model::{HttpMethod, Model};

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    vec![cargo_toml(model), main_rs(model)]
}

fn cargo_toml(model: &Model) -> EmittedFile {
    let body = binary_crate_manifest(
        &model.service.names.relay_crate,
        &format!(
            "Relay from Google API Gateway to the {} internal load balancer",
            model.service.name
        ),
        &["shopgen-relay-runtime"],
    );
    EmittedFile::new("relay/Cargo.toml", body, CommentSyntax::Hash)
}

fn method(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "Method::Get",
        HttpMethod::Post => "Method::Post",
        HttpMethod::Put => "Method::Put",
        HttpMethod::Patch => "Method::Patch",
        HttpMethod::Delete => "Method::Delete",
    }
}

fn main_rs(model: &Model) -> EmittedFile {
    let mut routes = String::new();
    for route in model.public_endpoints() {
        routes.push_str(&format!(
            "    PublicRoute::new({}, {}, {}),\n",
            method(route.method),
            rust_str(route.path),
            rust_str(route.operation_id),
        ));
    }
    let (imports, table) = if routes.is_empty() {
        (
            "PublicRoute",
            "const PUBLIC_ROUTES: &[PublicRoute] = &[];\n".to_string(),
        )
    } else {
        (
            "{Method, PublicRoute}",
            format!("const PUBLIC_ROUTES: &[PublicRoute] = &[\n{routes}];\n"),
        )
    };
    let body = format!(
        r#"//! The {service} relay: forwards the spec's public routes from Google API Gateway
//! to the internal load balancer (`UPSTREAM_URL`) and refuses everything else.
//!
//! Settings come from the environment; run with `--help` to list them.

use shopgen_relay_runtime::{imports};

/// The spec's public routes: the only requests this relay forwards. API Gateway's
/// document (`openapi/gateway.yaml`) lists the same operations.
{table}
fn main() -> std::process::ExitCode {{
    shopgen_relay_runtime::main({name}, PUBLIC_ROUTES)
}}
"#,
        imports = imports,
        service = model.service.name,
        name = rust_str(&model.service.names.cloud_run_service),
    );
    EmittedFile::new("relay/src/main.rs", body, CommentSyntax::Slashes)
}
