//! Emit `network.tf`: the reserved internal address of the internal load balancer
//! and the relay's egress (connector or Direct VPC).

use super::*;

pub(super) fn network(model: &Model) -> File {
    let n = &model.service.names.derived;
    let mut f = File::new();
    f.push(data(
        "google_compute_network",
        "vpc",
        Body::new().attr("name", var("network")),
    ));
    let subnet_ref = if creates_cluster(model) {
        res("google_compute_subnetwork", "cluster", "id")
    } else {
        f.push(data(
            "google_compute_subnetwork",
            "subnet",
            Body::new()
                .attr("name", var("subnetwork"))
                .attr("region", local("cluster_region")),
        ));
        data_ref("google_compute_subnetwork", "subnet", "self_link")
    };
    f.push_commented(
        "The internal load balancer's address, reserved so Terraform knows the IP before\nthe Service exists. The Service names it (networking.gke.io/load-balancer-ip-addresses,\nread by GKE subsetting); `shopgen deploy` also sets spec.loadBalancerIP to it, which\nclusters without subsetting read. The relay's UPSTREAM_URL carries the IP.",
        resource(
            "google_compute_address",
            "ilb",
            Body::new()
                .attr("name", str(&n.ilb_address))
                .attr("region", local("cluster_region"))
                .attr("subnetwork", subnet_ref)
                .attr("address_type", str("INTERNAL"))
                .attr("purpose", str("GCE_ENDPOINT"))
                .attr(
                    "description",
                    str(&format!(
                        "Internal load balancer of the {} backend (Kubernetes Service {}/{}).",
                        model.service.name, model.service.namespace, model.service.names.derived.k8s_name
                    )),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    if let Egress::Connector {
        cidr,
        min_instances,
        max_instances,
        machine_type,
    } = &model.gcp.egress
    {
        f.push_commented(
            "Serverless VPC Access: the relay's way into the VPC, on its own /28.",
            resource(
                "google_vpc_access_connector",
                "relay",
                Body::new()
                    .attr("name", str(&n.vpc_connector))
                    .attr("region", var("region"))
                    .attr("network", data_ref("google_compute_network", "vpc", "name"))
                    .attr("ip_cidr_range", str(cidr))
                    .attr("machine_type", str(machine_type))
                    .attr("min_instances", num(*min_instances))
                    .attr("max_instances", num(*max_instances))
                    .blank()
                    .attr("depends_on", depends_on_apis()),
            ),
        );
    }
    f
}
