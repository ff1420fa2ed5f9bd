//! Emit `iam.tf`: the relay's, the gateway's and the image builder's service accounts
//! and their roles.

use super::*;

pub(super) fn iam(model: &Model) -> File {
    let n = &model.service.names.derived;
    let mut f = File::new();
    f.push_commented(
        "The relay's identity on Cloud Run. It calls no Google API, so it holds no role.",
        resource(
            "google_service_account",
            "relay",
            Body::new()
                .attr("account_id", str(&n.relay_service_account))
                .attr(
                    "display_name",
                    str(&format!("{} relay (Cloud Run)", model.service.name)),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "API Gateway signs its calls to the relay as this account; it may invoke the relay\nand nothing else, and the relay refuses every other caller.",
        resource(
            "google_service_account",
            "gateway",
            Body::new()
                .attr("account_id", str(&n.gateway_service_account))
                .attr(
                    "display_name",
                    str(&format!("{} API Gateway backend caller", model.service.name)),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push_commented(
        "Cloud Build runs the image builds as this account (new projects' default build\naccount may lack these permissions): it writes logs, reads the uploaded source and\npushes to the image repository.",
        resource(
            "google_service_account",
            "build",
            Body::new()
                .attr("account_id", str(&model.service.names.derived.build_service_account))
                .attr(
                    "display_name",
                    str(&format!("{} image builds (Cloud Build)", model.service.name)),
                )
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    f.push(resource(
        "google_project_iam_member",
        "build",
        Body::new()
            .attr("for_each", toset(strs(&BUILD_PROJECT_ROLES)))
            .blank()
            .attr("project", var("project"))
            .attr("role", Ref::each_value())
            .attr(
                "member",
                sa_member(res("google_service_account", "build", "email")),
            ),
    ));
    f
}
