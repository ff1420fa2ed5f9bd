//! Emit `gateway.tf`: API Gateway (`google-beta`), its config from
//! `../openapi/gateway.yaml`, and the API keys.

use super::*;

pub(super) fn gateway(model: &Model) -> File {
    let n = &model.service.names.derived;
    let beta = || Ref::name("google-beta");
    let mut f = File::new();
    f.push_commented(
        "API Gateway exists only in the google-beta provider.",
        resource(
            "google_api_gateway_api",
            "api",
            Body::new()
                .attr("provider", beta())
                .attr("api_id", str(&n.api_id))
                .attr("display_name", str(&model.gateway.title))
                .blank()
                .attr("depends_on", depends_on_apis()),
        ),
    );
    let contents = call(
        "base64encode",
        vec![call(
            "templatefile",
            vec![
                template(vec![
                    interp(Ref::path_module()),
                    text("/../openapi/gateway.yaml"),
                ]),
                object(&[(
                    gateway_facts::RELAY_HOST_VAR,
                    call(
                        "trimprefix",
                        vec![
                            res("google_cloud_run_v2_service", "relay", "uri"),
                            str("https://"),
                        ],
                    ),
                )]),
            ],
        )],
    );
    f.push_commented(
        "Configs are immutable: each change creates a new one (random suffix) before the\nold one goes, so the gateway always points at a live config. The document is\nopenapi/gateway.yaml with the relay's host filled in.",
        resource(
            "google_api_gateway_api_config",
            "api",
            Body::new()
                .attr("provider", beta())
                .attr("api", res("google_api_gateway_api", "api", "api_id"))
                .attr("api_config_id_prefix", str(&format!("{}-", n.api_id)))
                .attr(
                    "display_name",
                    str(&format!("{} (shopgen)", model.gateway.title)),
                )
                .blank()
                .block(block(
                    "openapi_documents",
                    Body::new().block(block(
                        "document",
                        Body::new()
                            .attr("path", str("gateway.yaml"))
                            .attr("contents", contents),
                    )),
                ))
                .blank()
                .block(block(
                    "gateway_config",
                    Body::new().block(block(
                        "backend_config",
                        Body::new().attr(
                            "google_service_account",
                            res("google_service_account", "gateway", "email"),
                        ),
                    )),
                ))
                .blank()
                .block(block(
                    "lifecycle",
                    Body::new().attr("create_before_destroy", bool(true)),
                )),
        ),
    );
    f.push(resource(
        "google_api_gateway_gateway",
        "gateway",
        Body::new()
            .attr("provider", beta())
            .attr("gateway_id", str(&n.gateway_id))
            .attr("region", var("gateway_region"))
            .attr(
                "api_config",
                res("google_api_gateway_api_config", "api", "id"),
            )
            .attr("display_name", str(&model.gateway.title)),
    ));
    f.push_commented(
        "A deleted key's name stays taken for about 30 days: each key gets a fresh suffix,\nso destroying and re-creating the stack does not collide with the old key.",
        resource(
            "random_id",
            "api_key",
            Body::new().attr("byte_length", num(3u32)),
        ),
    );
    let (comment, label, body) = if model.gateway.consumers.is_empty() {
        (
            format!(
                "The client key, accepted only by this API; clients send it in the `{}` header.",
                model.gateway.api_key_header
            ),
            "client",
            Body::new()
                .attr(
                    "name",
                    template(vec![
                        text(format!("{}-client-", model.service.name)),
                        interp(res("random_id", "api_key", "hex")),
                    ]),
                )
                .attr(
                    "display_name",
                    str(&format!("{} client key", model.gateway.title)),
                ),
        )
    } else {
        let names: Vec<Expr> = model
            .gateway
            .consumers
            .iter()
            .map(|c| str(&c.name))
            .collect();
        (
            format!(
                "One key per consumer (the spec's `consumers`), each accepted only by this API;\n\
                 clients send it in the `{}` header. All of them count against this project's\n\
                 quota: see docs/api.md on giving a partner a quota of its own.",
                model.gateway.api_key_header
            ),
            "consumer",
            Body::new()
                .attr("for_each", call("toset", vec![list(names)]))
                .attr(
                    "name",
                    template(vec![
                        text(format!("{}-", model.service.name)),
                        interp(Ref::each_key()),
                        text("-"),
                        interp(res("random_id", "api_key", "hex")),
                    ]),
                )
                .attr(
                    "display_name",
                    template(vec![
                        text(format!("{} key for ", model.gateway.title)),
                        interp(Ref::each_key()),
                    ]),
                ),
        )
    };
    f.push_commented(
        &comment,
        resource(
            "google_apikeys_key",
            label,
            body.blank()
                .block(block(
                    "restrictions",
                    Body::new().block(block(
                        "api_targets",
                        Body::new().attr(
                            "service",
                            res("google_api_gateway_api", "api", "managed_service"),
                        ),
                    )),
                ))
                .blank()
                .attr(
                    "depends_on",
                    depends_on(&[Ref::resource("google_project_service", "managed_service")]),
                ),
        ),
    );
    f
}
