//! A relay with a fixed sample route table (the shop's public routes and a few more
//! methods), so the runtime's binary behaviour can be tested and benchmarked on its own,
//! before and apart from any generated relay.

use shopgen_relay_runtime::{Method, PublicRoute};

/// The sample's public routes.
const PUBLIC_ROUTES: &[PublicRoute] = &[
    PublicRoute::new(Method::Get, "/products", "listProducts"),
    PublicRoute::new(Method::Get, "/products/{id}", "getProduct"),
    PublicRoute::new(Method::Post, "/products/{id}/reviews", "createReview"),
    PublicRoute::new(Method::Put, "/products/{id}", "replaceProduct"),
];

fn main() -> std::process::ExitCode {
    shopgen_relay_runtime::main("shopgen-relay-dev", PUBLIC_ROUTES)
}
