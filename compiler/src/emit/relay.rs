//! Emit: the relay crate (`relay/`), the bridge from API Gateway into the VPC.
//!
//! The spec-specific part of the relay is one table: the public routes (method, path
//! template, operation id, and `.user_token()` on those whose callers present a user
//! token), the relay's allowlist. Everything else (the proxy engine,
//! settings, logging) lives in the crate `shopgen-relay-runtime`
//! (`runtime/shopgen-relay-runtime`).

use super::rust::{doc, rust_file};
use super::{CommentSyntax, EmittedFile, binary_crate_manifest};
use crate::model::{HttpMethod, Model};
use proc_macro2::TokenStream;
use quote::quote;

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
        &[],
    );
    EmittedFile::new("relay/Cargo.toml", body, CommentSyntax::Hash)
}

fn method(m: HttpMethod) -> TokenStream {
    match m {
        HttpMethod::Get => quote!(Method::Get),
        HttpMethod::Post => quote!(Method::Post),
        HttpMethod::Put => quote!(Method::Put),
        HttpMethod::Patch => quote!(Method::Patch),
        HttpMethod::Delete => quote!(Method::Delete),
    }
}

fn main_rs(model: &Model) -> EmittedFile {
    let routes: Vec<TokenStream> = model
        .public_endpoints()
        .map(|route| {
            let method = method(route.method);
            let (path, operation_id) = (route.path, route.operation_id);
            if route.access.needs_user_token() {
                quote!(PublicRoute::new(#method, #path, #operation_id).user_token())
            } else {
                quote!(PublicRoute::new(#method, #path, #operation_id))
            }
        })
        .collect();
    let imports = if routes.is_empty() {
        quote!(PublicRoute)
    } else {
        quote!({ Method, PublicRoute })
    };
    let table_doc = if model.takes_user_tokens() {
        doc(
            "The spec's public routes: the only requests this relay forwards. API Gateway's\n\
             document (`openapi/gateway.yaml`) lists the same operations. On a route marked\n\
             `.user_token()` the relay requires the one user token the gateway verified, in\n\
             `X-Forwarded-Authorization`, and forwards it; every other route drops it.",
        )
    } else {
        doc(
            "The spec's public routes: the only requests this relay forwards. API Gateway's\n\
             document (`openapi/gateway.yaml`) lists the same operations.",
        )
    };
    let name = &model.service.names.derived.cloud_run_service;
    let body = rust_file(
        &format!(
            "The {service} relay: forwards the spec's public routes from Google API Gateway\n\
             to the internal load balancer (`UPSTREAM_URL`) and refuses everything else.\n\
             \n\
             Settings come from the environment; run with `--help` to list them.",
            service = model.service.name
        ),
        quote! {
            use shopgen_relay_runtime::#imports;

            #table_doc
            const PUBLIC_ROUTES: &[PublicRoute] = &[#(#routes),*];

            fn main() -> std::process::ExitCode {
                shopgen_relay_runtime::main(#name, PUBLIC_ROUTES)
            }
        },
    );
    EmittedFile::new("relay/src/main.rs", body, CommentSyntax::Slashes)
}
