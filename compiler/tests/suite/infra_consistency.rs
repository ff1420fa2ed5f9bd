//! What must agree across artifacts, for every variant (both egress modes, both
//! gateway dialects): the gateway's operations = the model's public routes = the
//! relay's allowlist (`PUBLIC_ROUTES` in the generated relay) = public routes the
//! backend serves; the relay's user-token routes = the model's; Service targetPort = container port = `PORT` = `EXPOSE`; the one
//! reserved address feeds the Service annotation and the relay's `UPSTREAM_URL`; the
//! API-key header is the same everywhere; image names agree; names fit every limit.

use std::collections::BTreeSet;

use crate::support::infra::{body, files, model, variants, yaml};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use shopgen::emit::GeneratedFile;
use shopgen::model::{Egress, Model};

type Op = (String, String, String);

fn gateway_ops(files: &[GeneratedFile]) -> BTreeSet<Op> {
    let doc: Value = yaml(body(files, "openapi/gateway.yaml"));
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            if m == "options" {
                // The CORS preflights: keyless, answered by the relay itself, checked
                // in `preflights_cover_exactly_the_public_paths`.
                continue;
            }
            out.insert((
                m.to_uppercase(),
                path.clone(),
                op["operationId"].as_str().expect("operationId").into(),
            ));
        }
    }
    out
}

/// `PublicRoute::new(Method::Get, "/products", "listProducts")` entries of the
/// generated relay.
fn relay_allowlist(files: &[GeneratedFile]) -> BTreeSet<Op> {
    relay_routes(files).into_iter().map(|(op, _)| op).collect()
}

/// The generated relay's routes, each with whether it is marked `.user_token()`.
fn relay_routes(files: &[GeneratedFile]) -> BTreeSet<(Op, bool)> {
    let main = body(files, "relay/src/main.rs");
    let table = main
        .split("PUBLIC_ROUTES")
        .nth(1)
        .expect("relay main.rs has a PUBLIC_ROUTES table");
    let table = &table[..table.find("];").expect("end of PUBLIC_ROUTES")];
    let mut out = BTreeSet::new();
    for entry in table.split("PublicRoute::new(").skip(1) {
        let args = &entry[..entry.find(')').expect("closing paren")];
        let parts: Vec<&str> = args.split(',').map(str::trim).collect();
        let method = parts[0]
            .strip_prefix("Method::")
            .expect("Method::X")
            .to_uppercase();
        let unquote = |s: &str| s.trim_matches('"').to_string();
        let rest = &entry[entry.find(')').expect("closing paren") + 1..];
        let user_token = match rest.trim_start() {
            r if r.starts_with(".user_token()") => true,
            r if r.starts_with(',') || r.is_empty() => false,
            r => panic!("unexpected after a PublicRoute: {r:?}"),
        };
        out.insert(((method, unquote(parts[1]), unquote(parts[2])), user_token));
    }
    out
}

#[test]
fn the_relay_marks_exactly_the_user_token_routes() {
    let mut seen_token_routes = false;
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let expected: BTreeSet<(Op, bool)> = m
            .public_endpoints()
            .map(|e| {
                (
                    (
                        e.method.as_str().into(),
                        e.path.to_string(),
                        e.operation_id.to_string(),
                    ),
                    e.access.needs_user_token(),
                )
            })
            .collect();
        seen_token_routes |= expected.iter().any(|(_, t)| *t);
        assert_eq!(relay_routes(&files), expected, "{}", v.name);
        if !m.takes_user_tokens() {
            assert!(
                !body(&files, "relay/src/main.rs").contains("user_token"),
                "{}",
                v.name
            );
        }
    }
    assert!(seen_token_routes, "a variant has user-token routes");
}

fn model_public(m: &Model) -> BTreeSet<Op> {
    m.public_routes()
        .map(|(_, r)| {
            (
                r.method.as_str().into(),
                r.path.clone(),
                r.operation_id.clone(),
            )
        })
        .collect()
}

#[test]
fn preflights_cover_exactly_the_public_paths() {
    for v in variants() {
        let m = model(&v);
        let doc: Value = yaml(body(&files(&m), "openapi/gateway.yaml"));
        let with_options: BTreeSet<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .filter(|(_, item)| item.get("options").is_some())
            .map(|(p, _)| p.clone())
            .collect();
        let expected: BTreeSet<String> = if m.gateway.cors.is_some() {
            m.public_endpoints().map(|e| e.path.to_string()).collect()
        } else {
            BTreeSet::new()
        };
        assert_eq!(with_options, expected, "{}", v.name);
    }
}

#[test]
fn gateway_relay_backend_and_model_agree_on_the_public_routes() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let public = model_public(&m);
        assert!(!public.is_empty());
        assert_eq!(gateway_ops(&files), public, "{}: gateway", v.name);
        assert_eq!(relay_allowlist(&files), public, "{}: relay", v.name);
        // The backend serves every route, public ones included (api.yaml is the document
        // it serves; its router must hold each public path).
        let api: Value = yaml(body(&files, "openapi/api.yaml"));
        for (method, path, id) in &public {
            let op = &api["paths"][path][method.to_lowercase()];
            assert_eq!(
                op["operationId"],
                id.as_str(),
                "{}: api.yaml lacks {method} {path}",
                v.name
            );
        }
        let backend_src: String = files
            .iter()
            .filter(|f| f.path.starts_with("backend/src/") && f.path.ends_with(".rs"))
            .map(|f| f.contents.as_str())
            .collect();
        if backend_src.is_empty() {
            eprintln!("note: no generated backend sources yet; backend routes not compared");
        } else {
            for (_, path, _) in &public {
                assert!(
                    backend_src.contains(&format!("\"{path}\"")),
                    "{}: the backend's router lacks {path}",
                    v.name
                );
            }
        }
    }
}

#[test]
fn ports_agree_from_service_to_container_to_image() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let svc: Service = yaml(body(&files, "k8s/service.yaml"));
        let port = &svc.spec.expect("spec").ports.expect("ports")[0];
        assert_eq!(port.port, i32::from(m.service.service_port));
        let d: Deployment = yaml(body(&files, "k8s/deployment.yaml"));
        let c = &d.spec.expect("spec").template.spec.expect("pod").containers[0];
        let container_port = c.ports.as_ref().expect("ports")[0].container_port;
        assert_eq!(port.target_port, Some(IntOrString::Int(container_port)));
        let env_port = c
            .env
            .as_ref()
            .expect("env")
            .iter()
            .find(|e| e.name == "PORT")
            .and_then(|e| e.value.clone())
            .expect("PORT");
        assert_eq!(env_port, container_port.to_string());
        assert_eq!(container_port, i32::from(m.service.container_port));
        let dockerfile = body(&files, "backend/Dockerfile");
        assert!(dockerfile.contains(&format!("EXPOSE {container_port}\n")));
        // The relay: Cloud Run's container port is what its image exposes.
        let relay_tf = body(&files, "terraform/relay.tf");
        assert!(relay_tf.contains("container_port = 8080"));
        assert!(body(&files, "relay/Dockerfile").contains("EXPOSE 8080\n"));
    }
}

#[test]
fn one_reserved_address_feeds_the_service_and_the_relay() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let svc: Service = yaml(body(&files, "k8s/service.yaml"));
        let name = svc.metadata.annotations.expect("annotations")
            ["networking.gke.io/load-balancer-ip-addresses"]
            .clone();
        let network = body(&files, "terraform/network.tf");
        let address = network
            .split("resource \"google_compute_address\" \"ilb\" {")
            .nth(1)
            .expect("address resource");
        let tf_name = address
            .lines()
            .find_map(|l| l.trim().strip_prefix("name"))
            .map(|l| l.trim().trim_start_matches('=').trim().trim_matches('"'))
            .expect("address name");
        assert_eq!(name, tf_name, "{}", v.name);
        let relay = body(&files, "terraform/relay.tf");
        assert!(
            relay.contains("value = \"http://${google_compute_address.ilb.address}\""),
            "{}: UPSTREAM_URL comes from the reserved address",
            v.name
        );
        assert_eq!(
            network
                .matches("resource \"google_compute_address\"")
                .count(),
            1,
            "exactly one address"
        );
    }
}

#[test]
fn the_api_key_header_is_the_same_everywhere() {
    for v in variants() {
        let m = model(&v);
        let files = files(&m);
        let header = &m.gateway.api_key_header;
        let doc: Value = yaml(body(&files, "openapi/gateway.yaml"));
        let scheme = if doc.get("openapi").is_some() {
            &doc["components"]["securitySchemes"]["api_key"]
        } else {
            &doc["securityDefinitions"]["api_key"]
        };
        assert_eq!(scheme["name"], header.as_str());
        assert_eq!(scheme["in"], "header");
        let relay = body(&files, "terraform/relay.tf");
        assert!(relay.contains("name  = \"API_KEY_HEADER\"\n"));
        assert!(relay.contains(&format!("value = \"{header}\"")));
        assert!(body(&files, "terraform/outputs.tf").contains(&format!("`{header}` header")));
    }
}

#[test]
fn the_backend_image_is_the_same_in_terraform_and_kubernetes() {
    let m = model(&variants()[0]);
    let files = files(&m);
    let d: Deployment = yaml(body(&files, "k8s/deployment.yaml"));
    let image = d.spec.expect("spec").template.spec.expect("pod").containers[0]
        .image
        .clone()
        .expect("image");
    let kustomization = body(&files, "k8s/kustomization.yaml");
    assert!(kustomization.contains(&format!("- name: {image}\n")));
    // local.backend_image with the variables at their defaults.
    let registry = body(&files, "terraform/registry.tf");
    let line = registry
        .lines()
        .find(|l| l.trim_start().starts_with("backend_image"))
        .expect("local.backend_image");
    let repo_line = registry
        .lines()
        .find(|l| l.trim_start().starts_with("image_repository"))
        .expect("local.image_repository");
    let unquote = |l: &str| {
        l.split_once('=')
            .unwrap()
            .1
            .trim()
            .trim_matches('"')
            .to_string()
    };
    let resolved = unquote(line)
        .replace("${local.image_repository}", &unquote(repo_line))
        .replace(
            "${google_artifact_registry_repository.images.location}",
            &m.gcp.region,
        )
        .replace("${var.project}", &m.gcp.project)
        .replace(
            "${google_artifact_registry_repository.images.repository_id}",
            &m.service.names.derived.artifact_repository,
        );
    // Terraform names the tagged image; the Deployment the untagged name deploy tags.
    assert_eq!(resolved, format!("{image}:${{var.image_tag}}"));
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[test]
fn every_name_fits_its_platform_limit() {
    for v in variants() {
        let m = model(&v);
        let n = &m.service.names;
        for (what, name, min, max) in [
            ("k8s name", n.derived.k8s_name.as_str(), 1, 63),
            ("k8s namespace", m.service.namespace.as_str(), 1, 63),
            ("k8s secret", n.k8s_database_secret.as_str(), 1, 63),
            (
                "Cloud Run service",
                n.derived.cloud_run_service.as_str(),
                1,
                49,
            ),
            (
                "relay service account",
                n.derived.relay_service_account.as_str(),
                6,
                30,
            ),
            (
                "gateway service account",
                n.derived.gateway_service_account.as_str(),
                6,
                30,
            ),
            ("API id", n.derived.api_id.as_str(), 1, 63),
            ("gateway id", n.derived.gateway_id.as_str(), 1, 63),
            ("address", n.derived.ilb_address.as_str(), 1, 63),
            ("repository", n.derived.artifact_repository.as_str(), 1, 63),
        ] {
            assert!(
                dns_label(name),
                "{}: {what} `{name}` is not a DNS label",
                v.name
            );
            assert!(
                (min..=max).contains(&name.len()),
                "{}: {what} `{name}` is not {min}–{max} chars",
                v.name
            );
        }
        if matches!(m.gcp.egress, Egress::Connector { .. }) {
            assert!(dns_label(&n.derived.vpc_connector) && n.derived.vpc_connector.len() <= 25);
        }
        let files = files(&m);
        let gateway_tf = body(&files, "terraform/gateway.tf");
        // One key (`client`), or one per consumer (`consumer`, named by `each.key`).
        let label = if m.gateway.consumers.is_empty() {
            "client"
        } else {
            "consumer"
        };
        let key_name = gateway_tf
            .split(&format!("resource \"google_apikeys_key\" \"{label}\" {{"))
            .nth(1)
            .and_then(|b| b.lines().find_map(|l| l.trim().strip_prefix("name")))
            .map(|l| {
                l.trim()
                    .trim_start_matches('=')
                    .trim()
                    .trim_matches('"')
                    .to_string()
            })
            .expect("key name");
        // The suffix is 3 random bytes in hex.
        let key_name = key_name.replace("${random_id.api_key.hex}", "0a1b2c");
        let longest_consumer = m
            .gateway
            .consumers
            .iter()
            .map(|c| c.name.as_str())
            .max_by_key(|n| n.len())
            .unwrap_or("");
        let key_name = key_name.replace("${each.key}", longest_consumer);
        assert!(
            dns_label(&key_name) && key_name.len() <= 63,
            "API key name {key_name}"
        );
        // api_config_id_prefix + the provider's 26-character unique suffix ≤ 63.
        assert!(
            n.derived.api_id.len() + 1 + 26 <= 63,
            "api config id too long"
        );
        if let Some(nodes) = body(&files, "terraform/cluster.tf")
            .split("resource \"google_service_account\" \"nodes\" {")
            .nth(1)
        {
            let id = nodes
                .lines()
                .find_map(|l| l.trim().strip_prefix("account_id"))
                .map(|l| {
                    l.trim()
                        .trim_start_matches('=')
                        .trim()
                        .trim_matches('"')
                        .to_string()
                })
                .expect("node account id");
            assert!((6..=30).contains(&id.len()) && dns_label(&id), "{id}");
        }
    }
}
