//! Emit `cluster.tf`: the GKE cluster the backend runs in — an existing one read as a
//! data source, or a new private, VPC-native one with its subnetwork, Cloud NAT, node
//! service account and node pool.

use super::*;

pub(super) fn cluster(model: &Model) -> File {
    let mut f = File::new();
    f.push_commented(
        "The cluster's region (a zonal location like europe-west2-a lies in europe-west2):\nthe internal load balancer and its address live there.",
        Block::new(
            "locals",
            &[],
            Body::new().attr("cluster_region", {
                let parts = || call("split", vec![str("-"), var("cluster_location")]);
                cond(
                    eq(call("length", vec![parts()]), num(3u32)),
                    call(
                        "join",
                        vec![str("-"), call("slice", vec![parts(), num(0u32), num(2u32)])],
                    ),
                    var("cluster_location"),
                )
            }),
        ),
    );
    let Cluster::Create {
        master_cidr,
        pods_cidr,
        services_cidr,
        nodes_cidr,
        authorized_networks,
        ..
    } = &model.gcp.cluster
    else {
        f.push_commented(
            "The existing cluster the backend runs in (Terraform only reads it).",
            data(
                "google_container_cluster",
                "cluster",
                Body::new()
                    .attr("name", var("cluster_name"))
                    .attr("location", var("cluster_location")),
            ),
        );
        return f;
    };
    let svc = &model.service.name;
    f.push_commented(
        "The cluster's subnetwork, with secondary ranges for pods and services (VPC-native).",
        resource(
            "google_compute_subnetwork",
            "cluster",
            Body::new()
                .attr("name", var("subnetwork"))
                .attr("region", local("cluster_region"))
                .attr("network", data_ref("google_compute_network", "vpc", "id"))
                .attr("ip_cidr_range", str(nodes_cidr))
                .attr("private_ip_google_access", bool(true))
                .blank()
                .block(block(
                    "secondary_ip_range",
                    Body::new()
                        .attr("range_name", str("pods"))
                        .attr("ip_cidr_range", str(pods_cidr)),
                ))
                .block(block(
                    "secondary_ip_range",
                    Body::new()
                        .attr("range_name", str("services"))
                        .attr("ip_cidr_range", str(services_cidr)),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "Private nodes have no public IP: Cloud NAT lets them reach the internet.",
        resource(
            "google_compute_router",
            "nat",
            Body::new()
                .attr("name", str(&format!("{svc}-router")))
                .attr("region", local("cluster_region"))
                .attr("network", data_ref("google_compute_network", "vpc", "id")),
        ),
    );
    f.push(resource(
        "google_compute_router_nat",
        "nat",
        Body::new()
            .attr("name", str(&format!("{svc}-nat")))
            .attr("router", res("google_compute_router", "nat", "name"))
            .attr("region", res("google_compute_router", "nat", "region"))
            .attr("nat_ip_allocate_option", str("AUTO_ONLY"))
            .attr(
                "source_subnetwork_ip_ranges_to_nat",
                str("ALL_SUBNETWORKS_ALL_IP_RANGES"),
            ),
    ));
    f.push_commented(
        "The nodes' identity: logs, metrics and image pulls only.",
        resource(
            "google_service_account",
            "nodes",
            Body::new()
                .attr(
                    "account_id",
                    str(&model.service.names.derived.node_service_account),
                )
                .attr("display_name", str(&format!("{svc} GKE nodes")))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let roles = strs(&[
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
    ]);
    f.push(resource(
        "google_project_iam_member",
        "nodes",
        Body::new()
            .attr("for_each", toset(roles))
            .blank()
            .attr("project", var("project"))
            .attr("role", Ref::each_value())
            .attr(
                "member",
                sa_member(res("google_service_account", "nodes", "email")),
            ),
    ));
    f.push_commented(
        "A private, VPC-native cluster with Workload Identity. kubectl reaches the control\nplane through its DNS endpoint, which checks IAM on every request; its IP endpoint\nadmits only the spec's `authorized_networks` (none by default) and the VPC.",
        resource(
            "google_container_cluster",
            "cluster",
            Body::new()
                .attr("name", var("cluster_name"))
                .attr("location", var("cluster_location"))
                .attr("network", data_ref("google_compute_network", "vpc", "id"))
                .attr("subnetwork", res("google_compute_subnetwork", "cluster", "id"))
                .attr("networking_mode", str("VPC_NATIVE"))
                .attr("enable_l4_ilb_subsetting", bool(true))
                .attr("deletion_protection", bool(false))
                .blank()
                .comment("Node pools are managed separately.")
                .attr("remove_default_node_pool", bool(true))
                .attr("initial_node_count", num(1u32))
                .blank()
                .block(block(
                    "ip_allocation_policy",
                    Body::new()
                        .attr("cluster_secondary_range_name", str("pods"))
                        .attr("services_secondary_range_name", str("services")),
                ))
                .blank()
                .block(block(
                    "private_cluster_config",
                    Body::new()
                        .attr("enable_private_nodes", bool(true))
                        .attr("enable_private_endpoint", bool(false))
                        .attr("master_ipv4_cidr_block", str(master_cidr)),
                ))
                .blank()
                .block(block("master_authorized_networks_config", {
                    let mut b = Body::new().attr("gcp_public_cidrs_access_enabled", bool(false));
                    for cidr in authorized_networks {
                        b = b.block(block(
                            "cidr_blocks",
                            Body::new()
                                .attr("cidr_block", str(cidr))
                                .attr("display_name", str(&format!("spec: {cidr}"))),
                        ));
                    }
                    b
                }))
                .blank()
                .block(block(
                    "control_plane_endpoints_config",
                    Body::new().block(block(
                        "dns_endpoint_config",
                        Body::new().attr("allow_external_traffic", bool(true)),
                    )),
                ))
                .blank()
                .block(block(
                    "workload_identity_config",
                    Body::new().attr(
                        "workload_pool",
                        template(vec![interp(var("project")), text(".svc.id.goog")]),
                    ),
                ))
                .blank()
                .block(block(
                    "release_channel",
                    Body::new().attr("channel", str("REGULAR")),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push(resource(
        "google_container_node_pool",
        "default",
        Body::new()
            .attr("name", str("default"))
            .attr("cluster", res("google_container_cluster", "cluster", "id"))
            .attr("location", var("cluster_location"))
            .comment("The autoscaler owns the node count after creation.")
            .attr("initial_node_count", num(1u32))
            .blank()
            .block(block(
                "autoscaling",
                Body::new()
                    .attr("min_node_count", num(1u32))
                    .attr("max_node_count", num(3u32)),
            ))
            .blank()
            .block(block(
                "node_config",
                Body::new()
                    .attr("machine_type", str("e2-standard-2"))
                    .attr(
                        "service_account",
                        res("google_service_account", "nodes", "email"),
                    )
                    .attr(
                        "oauth_scopes",
                        list(vec![str("https://www.googleapis.com/auth/cloud-platform")]),
                    )
                    .blank()
                    .block(block(
                        "workload_metadata_config",
                        Body::new().attr("mode", str("GKE_METADATA")),
                    )),
            )),
    ));
    f
}
