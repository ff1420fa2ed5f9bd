//! Emit `apis.tf`: the project services, the service agents created ahead, and the
//! API's own managed service.

use super::*;

pub(super) fn apis(model: &Model) -> File {
    let mut f = File::new();
    f.push_commented(
        "Every API the stack uses. Left enabled on destroy: other workloads may use them.",
        resource(
            "google_project_service",
            "apis",
            Body::new()
                .attr("for_each", toset(strs(&project_services(model))))
                .blank()
                .attr("service", Ref::each_value())
                .attr("disable_on_destroy", bool(false)),
        ),
    );
    f.push_commented(
        "The service agents that act for the stack, created ahead of their first use\n(with the APIs, in the first targeted apply): an agent that appears only when first\nneeded makes that first apply fail until it exists and its roles propagate.",
        resource(
            "google_project_service_identity",
            "agents",
            Body::new()
                .attr("provider", Ref::name("google-beta"))
                .attr("for_each", toset(strs(&services::service_agents(model))))
                .blank()
                .attr("service", Ref::each_value())
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "The API's own managed service: API keys restricted to this API are rejected\nuntil it is enabled in the project. A new API's service can take a while to become\nvisible, so it is enabled only after the gateway serves its config; if it is not\nvisible yet, the apply fails on this resource alone and a rerun completes it\n(`shopgen deploy` retries).",
        resource(
            "google_project_service",
            "managed_service",
            Body::new()
                .attr("service", res("google_api_gateway_api", "api", "managed_service"))
                .attr("disable_on_destroy", bool(false))
                .blank()
                .attr(
                    "depends_on",
                    depends_on(&[Ref::resource("google_api_gateway_gateway", "gateway")]),
                ),
        ),
    );
    f
}
