//! The generated Terraform: every `google`/`google-beta` resource and data block
//! checked against the provider schema (hashicorp/google and google-beta 6.50 and 8.7,
//! the ends of the version range `versions.tf` allows; trimmed copies live in
//! `tests/data/`), `terraform fmt -check`, and the wiring the stack depends on.
//!
//! The schema check is a port of the workspace tool `tfschema_check.py`: unknown
//! arguments and blocks, arguments written as blocks, missing required arguments,
//! unknown resource types, and beta-only resources without `provider = google-beta`.

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::infra::{Variant, body, files, model, under, variants, write};
use crate::support::{run_ok, tool};
use serde::Deserialize;
use shopgen::emit::GeneratedFile;

// ---------------------------------------------------------------------------------
// The schema check
// ---------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct Schema {
    resource: BTreeMap<String, BTreeMap<String, Node>>,
    data: BTreeMap<String, BTreeMap<String, Node>>,
}

/// One block's schema: attributes (name → kind), nested blocks, required names.
#[derive(Debug, Deserialize)]
struct Node {
    a: BTreeMap<String, String>,
    b: BTreeMap<String, Node>,
    #[serde(default)]
    r: Vec<String>,
}

pub(crate) fn schema(version: &str) -> Schema {
    let path = format!(
        "{}/tests/data/google-provider-{version}.trimmed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const META_ATTRS: [&str; 4] = ["count", "for_each", "provider", "depends_on"];
const META_BLOCKS: [&str; 3] = ["lifecycle", "provisioner", "connection"];

/// Every schema problem in one `.tf` text, as `file: where: message` lines.
pub(crate) fn check_tf(schema: &Schema, file: &str, text: &str) -> Vec<String> {
    let body = hcl::parse(text).unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
    let mut problems = Vec::new();
    for block in body.blocks() {
        let section = block.identifier();
        if section != "resource" && section != "data" {
            continue;
        }
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        let (rtype, rname) = (labels[0], labels[1]);
        if !rtype.starts_with("google_") {
            continue;
        }
        let table = if section == "resource" {
            &schema.resource
        } else {
            &schema.data
        };
        let where_ = format!(
            "{file}: {}{rtype}.{rname}",
            if section == "data" { "data." } else { "" }
        );
        let Some(entry) = table.get(rtype) else {
            problems.push(format!("{where_}: unknown {section} type `{rtype}`"));
            continue;
        };
        let provider = block
            .body()
            .attributes()
            .find(|a| a.key() == "provider")
            .map(|a| a.expr().to_string())
            .unwrap_or_else(|| "google".into());
        let provider = if provider.starts_with("google-beta") {
            "google-beta"
        } else {
            "google"
        };
        let node = match entry.get(provider) {
            Some(n) => n,
            None => {
                problems.push(format!(
                    "{where_}: `{rtype}` is not in provider {provider} (add `provider = google-beta`)"
                ));
                continue;
            }
        };
        check_body(block.body(), node, &where_, true, &mut problems);
    }
    problems
}

fn check_body(body: &hcl::Body, node: &Node, where_: &str, top: bool, out: &mut Vec<String>) {
    let mut present = Vec::new();
    for attr in body.attributes() {
        let key = attr.key();
        if top && META_ATTRS.contains(&key) {
            continue;
        }
        present.push(key.to_string());
        if node.a.contains_key(key) {
            continue;
        }
        if node.b.contains_key(key) {
            out.push(format!("{where_}: `{key}` is a block, not an argument"));
        } else {
            out.push(format!("{where_}: unsupported argument `{key}`"));
        }
    }
    for block in body.blocks() {
        let key = block.identifier();
        if top && META_BLOCKS.contains(&key) {
            continue;
        }
        present.push(key.to_string());
        match node.b.get(key) {
            Some(sub) => check_body(block.body(), sub, &format!("{where_}.{key}"), false, out),
            None if node.a.contains_key(key) => {
                out.push(format!("{where_}: `{key}` is an argument, not a block"))
            }
            None => out.push(format!("{where_}: unsupported block `{key}`")),
        }
    }
    for req in &node.r {
        if !present.contains(req) {
            out.push(format!("{where_}: missing required `{req}`"));
        }
    }
}

pub(crate) fn tf_files(files: &[GeneratedFile]) -> Vec<(&str, &str)> {
    under(files, "terraform/")
        .into_iter()
        .filter(|f| f.path.ends_with(".tf"))
        .map(|f| (f.path.as_str(), body(files, &f.path)))
        .collect()
}

#[test]
fn every_google_block_matches_the_provider_schema() {
    for version in ["8.7.0", "6.50.0"] {
        let schema = schema(version);
        for v in variants() {
            let files = files(&model(&v));
            let mut problems = Vec::new();
            let mut checked = 0;
            for (path, text) in tf_files(&files) {
                problems.extend(check_tf(&schema, path, text));
                checked += 1;
            }
            assert!(checked >= 9, "{}: only {checked} .tf files", v.name);
            assert!(
                problems.is_empty(),
                "{} against google {version}:\n{}",
                v.name,
                problems.join("\n")
            );
        }
    }
}

#[test]
fn the_schema_check_catches_mistakes() {
    let schema = schema("8.7.0");
    let bad = r#"
resource "google_api_gateway_api" "a" {
  api_id = "x"
}

resource "google_vpc_access_connector" "c" {
  name          = "c"
  ip_cidr_rnage = "10.8.0.0/28"
}

resource "google_cloud_run_v2_service" "s" {
  name     = "s"
  location = "europe-west2"
  template {
    containers {
      image = "i"
      ports = 8080
    }
  }
}

resource "google_apikeys_key" "k" {
  display_name = "k"
}

resource "google_compute_adress" "x" {
  name = "x"
}
"#;
    let problems = check_tf(&schema, "bad.tf", bad).join("\n");
    for expected in [
        "google_api_gateway_api.a: `google_api_gateway_api` is not in provider google",
        "google_vpc_access_connector.c: unsupported argument `ip_cidr_rnage`",
        "google_cloud_run_v2_service.s.template.containers: `ports` is a block, not an argument",
        "google_apikeys_key.k: missing required `name`",
        "unknown resource type `google_compute_adress`",
    ] {
        assert!(
            problems.contains(expected),
            "expected `{expected}` in:\n{problems}"
        );
    }
}

#[test]
fn terraform_fmt_accepts_the_output() {
    let Some(terraform) = tool(
        "terraform",
        "https://developer.hashicorp.com/terraform/install",
    ) else {
        return;
    };
    for v in variants() {
        let files = files(&model(&v));
        let dir = write(&files);
        run_ok(
            Command::new(&terraform)
                .args(["fmt", "-check", "-diff", "-recursive"])
                .arg(dir.path().join("terraform")),
        );
    }
}

// ---------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------

/// All `.tf` bodies of a variant, concatenated.
fn all_tf(v: &Variant) -> String {
    let files = files(&model(v));
    tf_files(&files)
        .into_iter()
        .map(|(_, t)| t.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body of `resource "<ty>" "<name>"` (or `data`).
fn block_of<'a>(body: &'a hcl::Body, section: &str, ty: &str, name: &str) -> &'a hcl::Body {
    body.blocks()
        .find(|b| {
            b.identifier() == section
                && b.labels().first().map(|l| l.as_str()) == Some(ty)
                && b.labels().get(1).map(|l| l.as_str()).unwrap_or("") == name
        })
        .map(|b| b.body())
        .unwrap_or_else(|| panic!("no {section} {ty}.{name}"))
}

fn attr(body: &hcl::Body, key: &str) -> String {
    body.attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr().to_string())
        .unwrap_or_else(|| panic!("no attribute `{key}`"))
}

fn sub<'a>(body: &'a hcl::Body, key: &str) -> Vec<&'a hcl::Body> {
    body.blocks()
        .filter(|b| b.identifier() == key)
        .map(|b| b.body())
        .collect()
}

/// An expression with its layout whitespace removed.
fn flat(s: &str) -> String {
    s.replace(char::is_whitespace, "")
}

fn parsed(v: &Variant) -> hcl::Body {
    hcl::parse(&all_tf(v)).expect("generated Terraform parses")
}

#[test]
fn versions_pin_both_google_providers_to_the_tested_range() {
    let text = all_tf(&variants()[0]);
    for p in ["hashicorp/google\"", "hashicorp/google-beta\""] {
        assert!(text.contains(p), "versions.tf lacks {p}");
    }
    assert_eq!(
        text.matches("version = \">= 8.7, < 9.0\"").count(),
        2,
        "both providers pinned to the one major the schema test covers"
    );
}

#[test]
fn project_services_include_the_managed_service_and_stay_enabled() {
    for v in variants() {
        let tf = parsed(&v);
        let apis = block_of(&tf, "resource", "google_project_service", "apis");
        let list = attr(apis, "for_each");
        for api in [
            "apigateway.googleapis.com",
            "servicemanagement.googleapis.com",
            "servicecontrol.googleapis.com",
            "apikeys.googleapis.com",
            "run.googleapis.com",
            "compute.googleapis.com",
            "artifactregistry.googleapis.com",
        ] {
            assert!(list.contains(api), "{}: {api} not enabled", v.name);
        }
        assert_eq!(attr(apis, "disable_on_destroy"), "false");
        let managed = block_of(&tf, "resource", "google_project_service", "managed_service");
        assert_eq!(
            attr(managed, "service"),
            "google_api_gateway_api.api.managed_service"
        );
        assert_eq!(attr(managed, "disable_on_destroy"), "false");
        let connector = list.contains("vpcaccess.googleapis.com");
        assert_eq!(
            connector,
            v.src.contains("connector ="),
            "{}: vpcaccess enabled exactly when a connector is used",
            v.name
        );
    }
}

#[test]
fn the_gateway_config_is_templated_from_the_checked_in_document() {
    for v in variants() {
        let tf = parsed(&v);
        for (ty, name) in [
            ("google_api_gateway_api", "api"),
            ("google_api_gateway_api_config", "api"),
            ("google_api_gateway_gateway", "gateway"),
        ] {
            assert_eq!(
                attr(block_of(&tf, "resource", ty, name), "provider"),
                "google-beta"
            );
        }
        let config = block_of(&tf, "resource", "google_api_gateway_api_config", "api");
        assert!(attr(config, "api_config_id_prefix").starts_with('"'));
        assert_eq!(
            attr(sub(config, "lifecycle")[0], "create_before_destroy"),
            "true"
        );
        let doc = sub(sub(config, "openapi_documents")[0], "document")[0];
        let contents = attr(doc, "contents").replace(char::is_whitespace, "");
        assert!(
            contents.starts_with(
                "base64encode(templatefile(\"${path.module}/../openapi/gateway.yaml\",{"
            ),
            "{}: {contents}",
            v.name
        );
        assert!(
            contents.contains(
                "relay_host=trimprefix(google_cloud_run_v2_service.relay.uri,\"https://\")"
            ),
            "{}: {contents}",
            v.name
        );
        let backend = sub(sub(config, "gateway_config")[0], "backend_config")[0];
        assert_eq!(
            attr(backend, "google_service_account"),
            "google_service_account.gateway.email"
        );
        let gw = block_of(&tf, "resource", "google_api_gateway_gateway", "gateway");
        assert_eq!(
            attr(gw, "api_config"),
            "google_api_gateway_api_config.api.id"
        );
    }
}

#[test]
fn the_api_key_is_restricted_to_the_managed_service_and_output_sensitive() {
    let tf = parsed(&variants()[0]);
    let key = block_of(&tf, "resource", "google_apikeys_key", "client");
    let target = sub(sub(key, "restrictions")[0], "api_targets")[0];
    assert_eq!(
        attr(target, "service"),
        "google_api_gateway_api.api.managed_service"
    );
    let out = block_of(&tf, "output", "api_key", "");
    assert_eq!(attr(out, "value"), "google_apikeys_key.client.key_string");
    assert_eq!(attr(out, "sensitive"), "true");
}

#[test]
fn consumers_get_one_restricted_key_each_and_outputs_naming_them() {
    let v = variants()
        .into_iter()
        .find(|v| v.name == "public-api")
        .expect("the public-api variant");
    let m = model(&v);
    assert_eq!(m.gateway.consumers.len(), 2);
    let tf = parsed(&v);
    let key = block_of(&tf, "resource", "google_apikeys_key", "consumer");
    assert_eq!(attr(key, "for_each"), "toset([\"web\", \"partner-a\"])");
    assert_eq!(
        attr(key, "name"),
        "\"shop-api-${each.key}-${random_id.api_key.hex}\""
    );
    let target = sub(sub(key, "restrictions")[0], "api_targets")[0];
    assert_eq!(
        attr(target, "service"),
        "google_api_gateway_api.api.managed_service"
    );
    assert!(
        !all_tf(&v).contains("google_apikeys_key\" \"client\""),
        "consumers replace the single client key"
    );
    let out = block_of(&tf, "output", "api_keys", "");
    assert!(attr(out, "value").contains("google_apikeys_key.consumer"));
    assert_eq!(attr(out, "sensitive"), "true");
    let first = block_of(&tf, "output", "api_key", "");
    assert_eq!(
        attr(first, "value"),
        "google_apikeys_key.consumer[\"web\"].key_string"
    );
    // The relay gets the CORS policy as runtime settings.
    let run = block_of(&tf, "resource", "google_cloud_run_v2_service", "relay");
    let text = all_tf(&v);
    assert!(text.contains("CORS_ALLOWED_ORIGINS"), "{run:?}");
    assert!(text.contains("\"https://shop.example.com,http://localhost:5173\""));
}

#[test]
fn the_relay_is_private_to_the_gateway_and_reaches_the_reserved_address() {
    for v in variants() {
        let text = all_tf(&v);
        for open in ["\"allUsers\"", "\"allAuthenticatedUsers\""] {
            assert!(!text.contains(open), "{}: relay open to {open}", v.name);
        }
        let tf = parsed(&v);
        let run = block_of(&tf, "resource", "google_cloud_run_v2_service", "relay");
        assert_eq!(attr(run, "ingress"), "\"INGRESS_TRAFFIC_ALL\"");
        attr(run, "deletion_protection");
        let template = sub(run, "template")[0];
        let vpc = sub(template, "vpc_access")[0];
        assert_eq!(attr(vpc, "egress"), "\"PRIVATE_RANGES_ONLY\"");
        if v.src.contains("connector =") {
            assert_eq!(
                attr(vpc, "connector"),
                "google_vpc_access_connector.relay.id"
            );
            assert!(sub(vpc, "network_interfaces").is_empty());
            let c = block_of(&tf, "resource", "google_vpc_access_connector", "relay");
            assert_eq!(attr(c, "ip_cidr_range"), "\"10.8.0.0/28\"");
        } else {
            assert_eq!(sub(vpc, "network_interfaces").len(), 1);
            assert!(!text.contains("google_vpc_access_connector"));
        }
        let container = sub(template, "containers")[0];
        let envs: BTreeMap<String, String> = sub(container, "env")
            .into_iter()
            .map(|e| (attr(e, "name"), attr(e, "value")))
            .collect();
        assert_eq!(
            envs["\"UPSTREAM_URL\""],
            "\"http://${google_compute_address.ilb.address}\""
        );
        assert_eq!(envs["\"API_KEY_HEADER\""], "\"x-api-key\"");
        assert_eq!(
            envs["\"ALLOWED_INVOKERS\""],
            "\"${google_service_account.gateway.email},${google_service_account.gateway.unique_id}\""
        );
        assert!(
            !envs.contains_key("\"PORT\""),
            "Cloud Run reserves PORT; it sets it from ports.container_port"
        );
        for probe in ["startup_probe", "liveness_probe"] {
            let p = sub(container, probe)[0];
            assert_eq!(attr(sub(p, "http_get")[0], "path"), "\"/healthz\"");
        }
        let invoker = block_of(
            &tf,
            "resource",
            "google_cloud_run_v2_service_iam_member",
            "gateway_invoker",
        );
        assert_eq!(attr(invoker, "role"), "\"roles/run.invoker\"");
        assert_eq!(
            attr(invoker, "member"),
            "\"serviceAccount:${google_service_account.gateway.email}\""
        );
        let address = block_of(&tf, "resource", "google_compute_address", "ilb");
        assert_eq!(attr(address, "address_type"), "\"INTERNAL\"");
    }
}

#[test]
fn the_cluster_is_read_or_created_as_the_spec_says() {
    for v in variants() {
        let tf = parsed(&v);
        let text = all_tf(&v);
        if v.src.contains("create = true") {
            let c = block_of(&tf, "resource", "google_container_cluster", "cluster");
            assert_eq!(attr(c, "networking_mode"), "\"VPC_NATIVE\"");
            let private = sub(c, "private_cluster_config")[0];
            assert_eq!(attr(private, "enable_private_nodes"), "true");
            let wi = sub(c, "workload_identity_config")[0];
            assert_eq!(attr(wi, "workload_pool"), "\"${var.project}.svc.id.goog\"");
            assert!(text.contains("resource \"google_compute_router_nat\""));
            assert!(!text.contains("data \"google_container_cluster\""));
        } else {
            block_of(&tf, "data", "google_container_cluster", "cluster");
            assert!(!text.contains("resource \"google_container_cluster\""));
        }
    }
}

#[test]
fn the_database_is_referenced_or_created_privately() {
    for v in variants() {
        let text = all_tf(&v);
        if v.src.contains("cloud_sql") {
            let tf = parsed(&v);
            let db = block_of(&tf, "resource", "google_sql_database_instance", "db");
            let ip = sub(sub(db, "settings")[0], "ip_configuration")[0];
            assert_eq!(attr(ip, "ipv4_enabled"), "false");
            // TLS only, and the URL the backend gets asks for it.
            assert_eq!(attr(ip, "ssl_mode"), "\"ENCRYPTED_ONLY\"");
            let version = block_of(
                &tf,
                "resource",
                "google_secret_manager_secret_version",
                "database_url",
            );
            assert!(
                attr(version, "secret_data").ends_with("?sslmode=require\""),
                "{}",
                attr(version, "secret_data")
            );
            assert!(text.contains("resource \"google_secret_manager_secret\" \"database_url\""));
            assert!(text.contains("source  = \"hashicorp/random\""));
        } else {
            assert!(!text.contains("google_sql_database_instance"));
            assert!(
                !text.contains("DATABASE_URL"),
                "the URL is never in Terraform"
            );
        }
    }
}

#[test]
fn variables_are_described_and_default_to_the_spec() {
    let v = &variants()[0];
    let tf = parsed(v);
    let mut n = 0;
    for b in tf.blocks().filter(|b| b.identifier() == "variable") {
        n += 1;
        let name = b.labels()[0].as_str();
        let desc = attr(b.body(), "description");
        assert!(desc.len() > 10, "variable {name} is not described");
        attr(b.body(), "type");
    }
    assert!(n >= 8);
    for (name, value) in [
        ("project", "\"acme-shop-staging\""),
        ("region", "\"europe-west2\""),
        ("cluster_name", "\"shop-cluster\""),
    ] {
        assert_eq!(attr(block_of(&tf, "variable", name, ""), "default"), value);
    }
    for b in tf.blocks().filter(|b| b.identifier() == "output") {
        attr(b.body(), "description");
    }
}

#[test]
fn both_providers_name_a_quota_project_for_user_credentials() {
    for v in variants() {
        let tf = parsed(&v);
        for p in ["google", "google-beta"] {
            let provider = block_of(&tf, "provider", p, "");
            assert_eq!(attr(provider, "user_project_override"), "true", "{p}");
            assert_eq!(
                attr(provider, "billing_project"),
                "var.billing_project == \"\" ? var.project : var.billing_project",
                "{p}"
            );
        }
        let billing = block_of(&tf, "variable", "billing_project", "");
        assert_eq!(attr(billing, "default"), "\"\"");
    }
}

#[test]
fn created_clusters_use_gke_subsetting() {
    let mut created = 0;
    for v in variants() {
        if !v.src.contains("create = true") {
            continue;
        }
        created += 1;
        let tf = parsed(&v);
        let c = block_of(&tf, "resource", "google_container_cluster", "cluster");
        assert_eq!(attr(c, "enable_l4_ilb_subsetting"), "true", "{}", v.name);
    }
    assert!(created >= 2);
}

#[test]
fn the_managed_service_is_enabled_after_the_gateway_serves_the_config() {
    for v in variants() {
        let tf = parsed(&v);
        let managed = block_of(&tf, "resource", "google_project_service", "managed_service");
        assert_eq!(
            flat(&attr(managed, "depends_on")),
            "[google_api_gateway_gateway.gateway]"
        );
        let label = if model(&v).gateway.consumers.is_empty() {
            "client"
        } else {
            "consumer"
        };
        let key = block_of(&tf, "resource", "google_apikeys_key", label);
        assert_eq!(
            flat(&attr(key, "depends_on")),
            "[google_project_service.managed_service]"
        );
    }
}

#[test]
fn images_have_immutable_tags_and_no_default_tag() {
    for v in variants() {
        let tf = parsed(&v);
        let repo = block_of(
            &tf,
            "resource",
            "google_artifact_registry_repository",
            "images",
        );
        assert_eq!(
            attr(sub(repo, "docker_config")[0], "immutable_tags"),
            "true"
        );
        let tag = block_of(&tf, "variable", "image_tag", "");
        assert!(
            tag.attributes().all(|a| a.key() != "default"),
            "{}: a default tag (`latest`) would be pushed by nobody and move",
            v.name
        );
        let text = all_tf(&v);
        assert!(
            text.contains(
                "relay_image      = \"${local.image_repository}/relay:${var.image_tag}\""
            )
        );
        assert!(
            text.contains(
                "backend_image    = \"${local.image_repository}/backend:${var.image_tag}\""
            )
        );
    }
}

#[test]
fn the_api_key_name_gets_a_fresh_suffix_per_stack() {
    for v in variants() {
        let tf = parsed(&v);
        let (label, name) = if model(&v).gateway.consumers.is_empty() {
            ("client", "\"shop-api-client-${random_id.api_key.hex}\"")
        } else {
            (
                "consumer",
                "\"shop-api-${each.key}-${random_id.api_key.hex}\"",
            )
        };
        let key = block_of(&tf, "resource", "google_apikeys_key", label);
        assert_eq!(attr(key, "name"), name, "{}", v.name);
        let suffix = block_of(&tf, "resource", "random_id", "api_key");
        assert_eq!(attr(suffix, "byte_length"), "3");
        assert!(all_tf(&v).contains("source  = \"hashicorp/random\""));
    }
}

#[test]
fn cloud_build_runs_as_its_own_account_with_the_roles_it_needs() {
    for v in variants() {
        let tf = parsed(&v);
        let sa = block_of(&tf, "resource", "google_service_account", "build");
        assert_eq!(attr(sa, "account_id"), "\"shop-api-build\"");
        let push = block_of(
            &tf,
            "resource",
            "google_artifact_registry_repository_iam_member",
            "build_push",
        );
        assert_eq!(attr(push, "role"), "\"roles/artifactregistry.writer\"");
        let roles = attr(
            block_of(&tf, "resource", "google_project_iam_member", "build"),
            "for_each",
        );
        for r in shopgen::emit::terraform::BUILD_PROJECT_ROLES {
            assert!(roles.contains(r), "{roles}");
        }
        // Every target of the first, targeted apply exists.
        for t in shopgen::emit::terraform::BOOTSTRAP_TARGETS {
            let (ty, name) = t.split_once('.').unwrap();
            block_of(&tf, "resource", ty, name);
        }
    }
}

#[test]
fn the_load_balancer_source_ranges_output_names_the_relay_egress_range() {
    for v in variants() {
        let tf = parsed(&v);
        let out = attr(block_of(&tf, "output", "ilb_source_ranges", ""), "value");
        let expected = match v.name {
            "shop"
            | "cloudsql-created-cluster"
            | "empty-project"
            | "public-api"
            | "public-api-swagger2"
            | "identity"
            | "identity-swagger2" => "[\"10.8.0.0/28\"]",
            "never" => "[\"10.8.0.0/28\"]",
            "cluster-in-other-region" => "[\"10.8.0.0/28\",\"10.20.0.0/24\"]",
            "direct-vpc-created-cluster" => "[google_compute_subnetwork.cluster.ip_cidr_range]",
            "direct-vpc-swagger2" => "[data.google_compute_subnetwork.subnet.ip_cidr_range]",
            other => panic!("no expectation for {other}"),
        };
        assert_eq!(flat(&out), expected, "{}", v.name);
        for name in ["internal_lb_ip", "backend_image", "build_service_account"] {
            block_of(&tf, "output", name, "");
        }
    }
}

// ---------------------------------------------------------------------------------
// A first deploy into an empty project (docs/deploy.md, problems 13–24)
// ---------------------------------------------------------------------------------

fn variant(name: &str) -> Variant {
    variants()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

#[test]
fn a_created_cluster_gets_a_subnetwork_of_its_own_never_default() {
    for name in [
        "cloudsql-created-cluster",
        "direct-vpc-created-cluster",
        "empty-project",
    ] {
        let v = variant(name);
        let tf = parsed(&v);
        let sub = block_of(&tf, "resource", "google_compute_subnetwork", "cluster");
        assert_eq!(attr(sub, "name"), "var.subnetwork", "{name}");
        let var = block_of(&tf, "variable", "subnetwork", "");
        assert_eq!(attr(var, "default"), "\"shop-api-gke\"", "{name}");
    }
    // A subnetwork the spec names is used as written (docs: it must not exist yet).
    let mut v = variant("direct-vpc-created-cluster");
    v.src = v.src.replace(
        "network = \"default\"\n",
        "network = \"default\"\nsubnetwork = \"shop-nodes\"\n",
    );
    let tf = parsed(&v);
    let var = block_of(&tf, "variable", "subnetwork", "");
    assert_eq!(attr(var, "default"), "\"shop-nodes\"");
    // An existing cluster keeps reading the spec's (default) subnetwork.
    let tf = parsed(&variant("shop"));
    assert_eq!(
        attr(block_of(&tf, "variable", "subnetwork", ""), "default"),
        "\"default\""
    );
}

#[test]
fn cloud_sql_names_its_edition_from_the_tier_and_pins_its_range() {
    for (name, edition, address, prefix) in [
        ("cloudsql-created-cluster", "ENTERPRISE", "10.96.0.0", "16"),
        ("empty-project", "ENTERPRISE", "10.100.0.0", "20"),
    ] {
        let tf = parsed(&variant(name));
        let db = block_of(&tf, "resource", "google_sql_database_instance", "db");
        let settings = sub(db, "settings");
        assert_eq!(
            attr(settings[0], "edition"),
            format!("\"{edition}\""),
            "{name}"
        );
        let range = block_of(
            &tf,
            "resource",
            "google_compute_global_address",
            "sql_private_range",
        );
        assert_eq!(attr(range, "address"), format!("\"{address}\""), "{name}");
        assert_eq!(attr(range, "prefix_length"), prefix, "{name}");
        let conn = block_of(
            &tf,
            "resource",
            "google_service_networking_connection",
            "sql",
        );
        assert_eq!(attr(conn, "deletion_policy"), "\"ABANDON\"", "{name}");
    }
    let mut v = variant("cloudsql-created-cluster");
    v.src = v.src.replace("db-custom-1-3840", "db-perf-optimized-N-2");
    let tf = parsed(&v);
    let db = block_of(&tf, "resource", "google_sql_database_instance", "db");
    assert_eq!(
        attr(sub(db, "settings")[0], "edition"),
        "\"ENTERPRISE_PLUS\""
    );
}

#[test]
fn a_created_clusters_control_plane_is_restricted_and_its_pool_autoscales_from_an_initial_count() {
    let tf = parsed(&variant("empty-project"));
    let cluster = block_of(&tf, "resource", "google_container_cluster", "cluster");
    let man = sub(cluster, "master_authorized_networks_config");
    assert_eq!(attr(man[0], "gcp_public_cidrs_access_enabled"), "false");
    let cidrs: Vec<String> = sub(man[0], "cidr_blocks")
        .iter()
        .map(|b| attr(b, "cidr_block"))
        .collect();
    assert_eq!(cidrs, ["\"203.0.113.0/24\""]);
    let dns = sub(
        sub(cluster, "control_plane_endpoints_config")[0],
        "dns_endpoint_config",
    );
    assert_eq!(attr(dns[0], "allow_external_traffic"), "true");
    let pool = block_of(&tf, "resource", "google_container_node_pool", "default");
    assert_eq!(attr(pool, "initial_node_count"), "1");
    assert!(
        pool.attributes().all(|a| a.key() != "node_count"),
        "node_count beside autoscaling resets the autoscaler's choice"
    );
    assert_eq!(sub(pool, "autoscaling").len(), 1);
}

#[test]
fn every_resource_calls_an_api_enabled_before_it() {
    use shopgen::emit::terraform::services::{PREFLIGHT_APIS, api_of};
    for v in variants() {
        let tf = parsed(&v);
        let services = attr(
            block_of(&tf, "resource", "google_project_service", "apis"),
            "for_each",
        );
        let enabled =
            |api: &str| services.contains(&format!("\"{api}\"")) || PREFLIGHT_APIS.contains(&api);
        // Which blocks come after the APIs: those that name `google_project_service.apis`,
        // or refer to a block that does.
        let blocks: Vec<(String, String)> = tf
            .blocks()
            .filter(|b| b.identifier() == "resource" || b.identifier() == "data")
            .map(|b| {
                let labels: Vec<&str> = b.labels().iter().map(|l| l.as_str()).collect();
                let address = if b.identifier() == "data" {
                    format!("data.{}.{}", labels[0], labels[1])
                } else {
                    format!("{}.{}", labels[0], labels[1])
                };
                (address, hcl::to_string(b.body()).unwrap_or_default())
            })
            .collect();
        // `seeds`: what certainly exists first. The full apply runs after the first,
        // targeted one has enabled every API, so there data sources count too; the
        // first apply's own targets must follow `google_project_service.apis` itself.
        let closure = |seeds: Vec<String>| {
            let mut after: std::collections::BTreeSet<String> = seeds.into_iter().collect();
            loop {
                let before = after.len();
                for (address, text) in &blocks {
                    if after.iter().any(|a| text.contains(a.as_str())) {
                        after.insert(address.clone());
                    }
                }
                if after.len() == before {
                    return after;
                }
            }
        };
        let first = closure(vec!["google_project_service.apis".to_string()]);
        for target in shopgen::emit::terraform::BOOTSTRAP_TARGETS {
            let ty = target.split('.').next().unwrap_or_default();
            let api = api_of(ty).unwrap_or_default();
            assert!(
                target == "google_project_service.apis"
                    || PREFLIGHT_APIS.contains(&api)
                    || first.contains(target),
                "{}: the first apply's {target} ({api}) may be created before the APIs are enabled",
                v.name
            );
        }
        let mut seeds: Vec<String> = blocks
            .iter()
            .filter(|(a, _)| a.starts_with("data."))
            .map(|(a, _)| a.clone())
            .collect();
        seeds.push("google_project_service.apis".to_string());
        let after = closure(seeds);
        for (address, _) in &blocks {
            let ty = address
                .trim_start_matches("data.")
                .split('.')
                .next()
                .unwrap_or_default();
            // Data sources are read in the full apply, after the first (targeted) apply
            // has enabled every API; managed resources may be in that first apply.
            let data_source = address.starts_with("data.");
            if !ty.starts_with("google_") {
                continue;
            }
            let api = api_of(ty).unwrap_or_else(|| {
                panic!(
                    "{}: {ty} is not in emit::terraform::services::RESOURCE_APIS",
                    v.name
                )
            });
            assert!(
                enabled(api),
                "{}: {address} calls {api}, which is not enabled",
                v.name
            );
            let bootstrap_api = PREFLIGHT_APIS.contains(&api);
            assert!(
                data_source
                    || bootstrap_api
                    || address == "google_project_service.apis"
                    || after.contains(address),
                "{}: {address} ({api}) may be created before the APIs are enabled",
                v.name
            );
        }
    }
}

#[test]
fn service_agents_are_created_ahead_in_the_first_apply() {
    use shopgen::emit::terraform::BOOTSTRAP_TARGETS;
    assert!(BOOTSTRAP_TARGETS.contains(&"google_project_service_identity.agents"));
    for (name, agents) in [
        ("shop", vec!["apigateway", "run", "vpcaccess"]),
        (
            "empty-project",
            vec![
                "apigateway",
                "container",
                "run",
                "servicenetworking",
                "sqladmin",
                "vpcaccess",
            ],
        ),
        ("direct-vpc-swagger2", vec!["apigateway", "run"]),
    ] {
        let tf = parsed(&variant(name));
        let b = block_of(&tf, "resource", "google_project_service_identity", "agents");
        assert_eq!(attr(b, "provider"), "google-beta", "{name}");
        let expected: Vec<String> = agents
            .iter()
            .map(|a| format!("\"{a}.googleapis.com\""))
            .collect();
        assert_eq!(
            flat(&attr(b, "for_each")),
            format!("toset([{}])", expected.join(",")),
            "{name}"
        );
    }
}

#[test]
fn state_stays_out_of_git_and_goes_to_a_bucket_unless_the_spec_says_local() {
    let v = variant("shop");
    let files = files(&model(&v));
    let ignore = body(&files, "terraform/.gitignore");
    for line in [
        ".terraform/",
        "*.tfstate",
        "*.tfstate.*",
        "*.tfvars",
        "*.tfplan",
    ] {
        assert!(ignore.lines().any(|l| l == line), ".gitignore lacks {line}");
    }
    assert!(
        !ignore
            .lines()
            .any(|l| !l.starts_with('#') && l.contains(".terraform.lock.hcl")),
        "the lock file is committed"
    );
    let versions = flat(body(&files, "terraform/versions.tf"));
    assert!(versions.contains("backend\"gcs\"{}"), "{versions}");
    let mut local = variant("shop");
    local.src = local
        .src
        .replace("[gateway]", "state = \"local\"\n\n[gateway]");
    let files = files_of(&local);
    assert!(!body(&files, "terraform/versions.tf").contains("backend"));
    assert!(files.iter().any(|f| f.path == "terraform/.gitignore"));
}

fn files_of(v: &Variant) -> Vec<GeneratedFile> {
    files(&model(v))
}

#[test]
fn the_gateway_region_comes_from_the_spec() {
    let tf = parsed(&variant("empty-project"));
    assert_eq!(
        attr(block_of(&tf, "variable", "gateway_region", ""), "default"),
        "\"europe-west1\""
    );
    let tf = parsed(&variant("shop"));
    assert_eq!(
        attr(block_of(&tf, "variable", "gateway_region", ""), "default"),
        "\"europe-west2\""
    );
}
