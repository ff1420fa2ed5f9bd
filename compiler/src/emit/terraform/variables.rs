//! Emit `variables.tf`: every input, described, defaulting to the spec's values.

use super::*;

fn variable(name: &str, ty: &'static str, description: &str, default: Option<Expr>) -> Block {
    Block::new(
        "variable",
        &[name],
        Body::new()
            .attr("description", str(description))
            .attr("type", Expr::Type(ty))
            .attr_opt("default", default),
    )
}

pub(super) fn variables(model: &Model) -> File {
    let (cluster_name, cluster_location) = model.cluster_name_location();
    let mut f = File::new();
    f.push(variable(
        "project",
        "string",
        "Google Cloud project id (`shopgen deploy --project` overrides the spec's).",
        Some(str(&model.gcp.project)),
    ));
    f.push(variable(
        "billing_project",
        "string",
        "Quota and billing project for API requests; empty means `project`.",
        Some(str("")),
    ));
    f.push(variable(
        "region",
        "string",
        "Region of the relay, the gateway, the registry and the connector.",
        Some(str(&model.gcp.region)),
    ));
    f.push(variable(
        "gateway_region",
        "string",
        "Region of the API Gateway gateway: API Gateway runs in a subset of regions (the spec's `gcp.gateway_region`, else its region; `shopgen deploy --gateway-region` overrides).",
        Some(str(&model.gcp.gateway_region)),
    ));
    f.push(variable(
        "network",
        "string",
        "VPC network of the cluster and the relay's egress.",
        Some(str(&model.gcp.network)),
    ));
    let subnet_desc = if creates_cluster(model) {
        "Name of the subnetwork created for the cluster (and the relay's Direct VPC egress)."
    } else {
        "Existing subnetwork of the cluster: the internal load balancer's address (and the relay's Direct VPC egress) come from it."
    };
    f.push(variable(
        "subnetwork",
        "string",
        subnet_desc,
        Some(str(&model.gcp.subnetwork)),
    ));
    f.push(variable(
        "cluster_name",
        "string",
        if creates_cluster(model) {
            "Name of the GKE cluster created for the backend."
        } else {
            "Name of the existing GKE cluster the backend runs in."
        },
        Some(str(cluster_name)),
    ));
    f.push(variable(
        "cluster_location",
        "string",
        "Location (region or zone) of the GKE cluster.",
        Some(str(cluster_location)),
    ));
    f.push(variable(
        "image_tag",
        "string",
        "Immutable tag of the images in Artifact Registry (the repository refuses to move a tag). `shopgen deploy` derives it from the sources: the commit, plus a digest of uncommitted changes.",
        None,
    ));
    f.push(variable(
        "relay_min_instances",
        "number",
        "Fewest relay instances Cloud Run keeps running.",
        Some(num(model.relay.min_instances)),
    ));
    f.push(variable(
        "relay_max_instances",
        "number",
        "Most relay instances Cloud Run starts.",
        Some(num(model.relay.max_instances)),
    ));
    f.push(variable(
        "relay_deletion_protection",
        "bool",
        "Refuse to destroy the Cloud Run relay (set true in production).",
        Some(bool(false)),
    ));
    if !creates_cluster(model) && model.upstream.is_none() {
        f.push(variable(
            "gke_node_service_accounts",
            "list(string)",
            "Emails of the existing cluster's node service accounts (its node pools may run as different ones); each is granted read access to the image repository. Leave empty if the nodes can already pull from it.",
            Some(list(vec![])),
        ));
    }
    f
}
