//! Emit `relay.tf`: the relay on Cloud Run v2, invokable only by the gateway's account.

use super::*;

/// The relay's `UPSTREAM_URL`: plain HTTP to the internal load balancer's reserved IP.
fn upstream_url(model: &Model) -> Expr {
    let mut parts = vec![
        text("http://"),
        interp(res("google_compute_address", "ilb", "address")),
    ];
    if model.service.service_port != 80 {
        parts.push(text(format!(":{}", model.service.service_port)));
    }
    template(parts)
}

fn env(name: &str, value: Expr) -> Block {
    block(
        "env",
        Body::new().attr("name", str(name)).attr("value", value),
    )
}

fn http_probe(name: &str, period: u32, timeout: u32, failures: u32) -> Block {
    block(
        name,
        Body::new()
            .attr("period_seconds", num(period))
            .attr("timeout_seconds", num(timeout))
            .attr("failure_threshold", num(failures))
            .blank()
            .block(block(
                "http_get",
                Body::new().attr("path", str(relay_facts::HEALTH_PATH)),
            )),
    )
}

pub(super) fn relay(model: &Model) -> File {
    let n = &model.service.names.derived;
    let vpc_access = match &model.gcp.egress {
        Egress::Connector { .. } => block(
            "vpc_access",
            Body::new()
                .attr(
                    "connector",
                    res("google_vpc_access_connector", "relay", "id"),
                )
                .attr("egress", str("PRIVATE_RANGES_ONLY")),
        ),
        Egress::DirectVpc => block(
            "vpc_access",
            Body::new()
                .attr("egress", str("PRIVATE_RANGES_ONLY"))
                .blank()
                .block(block(
                    "network_interfaces",
                    Body::new()
                        .attr("network", data_ref("google_compute_network", "vpc", "id"))
                        .attr(
                            "subnetwork",
                            if creates_cluster(model) {
                                res("google_compute_subnetwork", "cluster", "id")
                            } else {
                                data_ref("google_compute_subnetwork", "subnet", "id")
                            },
                        ),
                )),
        ),
    };
    // Inside the gateway's deadline, around the relay's own upstream timeout
    // (model::budget): Cloud Run never cuts off the relay's answer.
    let timeout_s = model.budget.cloud_run_timeout_s;
    let mut container = Body::new()
        .attr("image", local("relay_image"))
        .blank()
        .block(block(
            "ports",
            Body::new().attr("container_port", num(relay_facts::CONTAINER_PORT)),
        ))
        .blank()
        .block(env(relay_facts::env::UPSTREAM_URL, upstream_url(model)));
    for (name, value) in model.relay_env() {
        container = container.block(env(name, str(&value)));
    }
    container = container.block(env(
        relay_facts::env::ALLOWED_INVOKERS,
        template(vec![
            interp(res("google_service_account", "gateway", "email")),
            text(","),
            interp(res("google_service_account", "gateway", "unique_id")),
        ]),
    ));
    let container = block(
        "containers",
        container
            .blank()
            .block(block(
                "resources",
                Body::new()
                    .attr(
                        "limits",
                        object(&[
                            ("cpu", str(&model.relay.cpu)),
                            ("memory", str(&model.relay.memory)),
                        ]),
                    )
                    .attr("cpu_idle", bool(true)),
            ))
            .blank()
            .block(http_probe("startup_probe", 1, 1, 10))
            .blank()
            .block(http_probe("liveness_probe", 15, 2, 3)),
    );
    let mut f = File::new();
    f.push_commented(
        "The relay: API Gateway calls it on its run.app URL with an ID token; it forwards\nthe public routes to the internal load balancer through the VPC. Ingress stays\nopen to the internet, guarded by IAM: only the gateway's account may invoke it.\nIAM also lets the project's Owners and Editors in, so the relay itself refuses\nevery caller but the gateway's account (ALLOWED_INVOKERS, 403).",
        resource(
            "google_cloud_run_v2_service",
            "relay",
            Body::new()
                .attr("name", str(&n.cloud_run_service))
                .attr("location", var("region"))
                .attr("ingress", str("INGRESS_TRAFFIC_ALL"))
                .attr("deletion_protection", var("relay_deletion_protection"))
                .blank()
                .block(block(
                    "template",
                    Body::new()
                        .attr("service_account", res("google_service_account", "relay", "email"))
                        .attr(
                            "max_instance_request_concurrency",
                            num(model.relay.concurrency),
                        )
                        .attr("timeout", str(&format!("{timeout_s}s")))
                        .blank()
                        .block(block(
                            "scaling",
                            Body::new()
                                .attr("min_instance_count", var("relay_min_instances"))
                                .attr("max_instance_count", var("relay_max_instances")),
                        ))
                        .blank()
                        .block(vpc_access)
                        .blank()
                        .block(container),
                ))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let relay = |attr: &str| res("google_cloud_run_v2_service", "relay", attr);
    f.push_commented(
        "Only API Gateway (its service account) may call the relay; never allUsers.",
        resource(
            "google_cloud_run_v2_service_iam_member",
            "gateway_invoker",
            Body::new()
                .attr("project", relay("project"))
                .attr("location", relay("location"))
                .attr("name", relay("name"))
                .attr("role", str("roles/run.invoker"))
                .attr(
                    "member",
                    sa_member(res("google_service_account", "gateway", "email")),
                ),
        ),
    );
    f
}
