//! Emit `outputs.tf`: what deploy and operators read back.

use super::*;

fn output(name: &str, description: &str, value: Expr, sensitive: bool) -> Block {
    let mut body = Body::new()
        .attr("description", str(description))
        .attr("value", value);
    if sensitive {
        body = body.attr("sensitive", bool(true));
    }
    Block::new("output", &[name], body)
}

pub(super) fn outputs(model: &Model) -> File {
    let mut f = File::new();
    f.push(output(
        "gateway_url",
        "Public base URL of the API (API Gateway).",
        template(vec![
            text("https://"),
            interp(res(
                "google_api_gateway_gateway",
                "gateway",
                "default_hostname",
            )),
        ]),
        false,
    ));
    match model.gateway.consumers.first() {
        None => f.push(output(
            "api_key",
            &format!(
                "The client API key; send it in the `{}` header.",
                model.gateway.api_key_header
            ),
            res("google_apikeys_key", "client", "key_string"),
            true,
        )),
        Some(first) => {
            f.push(output(
                "api_key",
                &format!(
                    "The first consumer's ({}) API key; send it in the `{}` header.",
                    first.name, model.gateway.api_key_header
                ),
                Ref::resource("google_apikeys_key", "consumer")
                    .index(&first.name)
                    .attr("key_string")
                    .expr(),
                true,
            ));
            f.push(output(
                "api_keys",
                "Every consumer's API key, by consumer name.",
                for_object(
                    "name",
                    "key",
                    Ref::resource("google_apikeys_key", "consumer"),
                    Ref::name("key").attr("key_string").expr(),
                ),
                true,
            ));
        }
    }
    f.push(output(
        "relay_url",
        "The relay's Cloud Run URL (IAM-protected; only the gateway may call it).",
        res("google_cloud_run_v2_service", "relay", "uri"),
        false,
    ));
    f.push(output(
        "internal_lb_ip",
        "IP of the backend's internal load balancer (the Service's spec.loadBalancerIP).",
        res("google_compute_address", "ilb", "address"),
        false,
    ));
    f.push(output(
        "internal_lb_address_name",
        "Name of the reserved address the Kubernetes Service uses.",
        res("google_compute_address", "ilb", "name"),
        false,
    ));
    let mut ranges = vec![relay_egress_range_expr(model)];
    ranges.extend(model.gcp.ilb_source_ranges.iter().map(|r| str(r)));
    f.push(output(
        "ilb_source_ranges",
        "Source ranges the internal load balancer admits (the Service's spec.loadBalancerSourceRanges): the relay's egress range and the spec's extra ranges.",
        list(ranges),
        false,
    ));
    f.push(output(
        "managed_service",
        "The API's managed service name.",
        res("google_api_gateway_api", "api", "managed_service"),
        false,
    ));
    f.push(output(
        "image_repository",
        "Artifact Registry path the images are pushed to.",
        local("image_repository"),
        false,
    ));
    f.push(output(
        "relay_image",
        "The relay image this configuration deploys.",
        local("relay_image"),
        false,
    ));
    if model.upstream.is_none() {
        f.push(output(
            "backend_image",
            "The backend image this configuration's tag names (kubectl deploys it).",
            local("backend_image"),
            false,
        ));
    }
    f.push(output(
        "build_service_account",
        "The account Cloud Build runs the image builds as.",
        res("google_service_account", "build", "email"),
        false,
    ));
    f.push(output(
        "cluster_name",
        "The GKE cluster.",
        var("cluster_name"),
        false,
    ));
    f.push(output(
        "cluster_location",
        "The GKE cluster's location.",
        var("cluster_location"),
        false,
    ));
    if cloud_sql(model) {
        f.push(output(
            "database_url_secret",
            "Secret Manager secret holding DATABASE_URL.",
            res("google_secret_manager_secret", "database_url", "secret_id"),
            false,
        ));
    }
    f
}
