//! Diff, part 3: infrastructure. Which Terraform resources (by address) and
//! Kubernetes objects (by kind, namespace and name) the change touches, and which of
//! them are replaced rather than updated in place.
//!
//! Both sides are the emitters' output for each model, read back by structure: the
//! Terraform files are `terraform fmt` layout (a top-level block starts with its type
//! and labels at column 0 and ends with `}` at column 0), the Kubernetes files hold
//! one object each. An object's changed attributes are its top-level attributes (and
//! `spec.*` for Kubernetes) whose text differs. Replacement comes from what the
//! provider documents as immutable ([`forces_replacement`]); a Terraform block that
//! reads a generated file (`${path.module}/../openapi/gateway.yaml`) changes when that
//! file does.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Change;
use crate::emit::{GeneratedFile, parse_header};

/// Which tool owns the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Terraform,
    Kubernetes,
}

/// One object that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfraChange {
    pub change: Change,
    pub system: System,
    /// `google_cloud_run_v2_service.relay`, `data.google_compute_network.vpc`, or
    /// `Deployment shop/shop-api`.
    pub address: String,
    /// The generated file that defines it.
    pub file: String,
    /// Attributes whose value changes (`spec.replicas`), for a changed object.
    pub attributes: Vec<String>,
    /// The change destroys the object and creates a new one.
    pub replaces: bool,
    /// Why it is replaced, or what that means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One top-level object of a generated file: its address, and each top-level
/// attribute's text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    system: System,
    address: String,
    file: String,
    attributes: BTreeMap<String, String>,
    /// Generated files the object reads (Terraform `templatefile`/`file`).
    reads: Vec<String>,
}

/// Every infrastructure change from `old` to `new` (emitted files), by system and
/// address.
pub fn changes(old: &[GeneratedFile], new: &[GeneratedFile]) -> Vec<InfraChange> {
    let changed_files: Vec<&str> = new
        .iter()
        .filter(|f| {
            old.iter()
                .find(|o| o.path == f.path)
                .is_none_or(|o| body(o) != body(f))
        })
        .map(|f| f.path.as_str())
        .collect();
    let before = objects(old);
    let after = objects(new);
    // Variables whose default changes: what reads them changes too (a created
    // subnetwork named `var.subnetwork` is renamed, so replaced).
    let changed_vars: Vec<String> = after
        .iter()
        .filter_map(|(key, now)| {
            let name = now.address.strip_prefix("variable.")?;
            let was = before.get(key)?;
            (was.attributes.get("default") != now.attributes.get("default"))
                .then(|| format!("var.{name}"))
        })
        .collect();
    let reads_var = |text: &str, var: &str| {
        text.match_indices(var).any(|(i, _)| {
            !text[i + var.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let mut out = Vec::new();
    for (key, now) in &after {
        let Some(was) = before.get(key) else {
            out.push(InfraChange {
                change: Change::Added,
                system: now.system,
                address: now.address.clone(),
                file: now.file.clone(),
                attributes: Vec::new(),
                replaces: false,
                note: None,
            });
            continue;
        };
        let mut attributes: Vec<String> = now
            .attributes
            .iter()
            .filter(|(k, v)| was.attributes.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .chain(
                was.attributes
                    .keys()
                    .filter(|k| !now.attributes.contains_key(*k))
                    .cloned(),
            )
            .collect();
        for read in &now.reads {
            if changed_files.contains(&read.as_str()) {
                attributes.push(format!("(reads {read})"));
            }
        }
        for (k, v) in &now.attributes {
            if changed_vars.iter().any(|var| reads_var(v, var)) {
                attributes.push(k.clone());
            }
        }
        if attributes.is_empty() {
            continue;
        }
        attributes.sort();
        attributes.dedup();
        let reason = attributes
            .iter()
            .find_map(|a| forces_replacement(now.system, &now.address, a).map(|r| (a, r)));
        out.push(InfraChange {
            change: Change::Changed,
            system: now.system,
            address: now.address.clone(),
            file: now.file.clone(),
            replaces: reason.is_some(),
            note: reason.map(|(a, r)| {
                if a.starts_with('(') {
                    r.to_string()
                } else {
                    format!("{a} {r}")
                }
            }),
            attributes,
        });
    }
    // A replaced resource gets a new id: what names it in an attribute that cannot
    // change in place is replaced too (a new subnetwork recreates the cluster on it).
    loop {
        let replaced: Vec<String> = out
            .iter()
            .filter(|c| c.replaces && c.system == System::Terraform)
            .map(|c| format!("{}.", c.address))
            .collect();
        let mut grew = false;
        for (key, now) in &after {
            if now.system != System::Terraform || !before.contains_key(key) {
                continue;
            }
            let reasons: Vec<(String, &'static str, String)> = now
                .attributes
                .iter()
                .filter_map(|(k, v)| {
                    let via = replaced.iter().find(|r| v.contains(r.as_str()))?;
                    let why = forces_replacement(now.system, &now.address, k)?;
                    Some((k.clone(), why, via.trim_end_matches('.').to_string()))
                })
                .collect();
            let Some((attr, why, via)) = reasons.first().cloned() else {
                continue;
            };
            let note = format!("{attr} names {via}, which is replaced; {attr} {why}");
            match out.iter_mut().find(|c| c.address == now.address) {
                Some(c) if c.replaces => continue,
                Some(c) => {
                    c.attributes.push(attr);
                    c.attributes.sort();
                    c.attributes.dedup();
                    c.replaces = true;
                    c.note = Some(note);
                }
                None => out.push(InfraChange {
                    change: Change::Changed,
                    system: now.system,
                    address: now.address.clone(),
                    file: now.file.clone(),
                    attributes: vec![attr],
                    replaces: true,
                    note: Some(note),
                }),
            }
            grew = true;
        }
        if !grew {
            break;
        }
    }
    for (key, was) in before.iter().filter(|(k, _)| !after.contains_key(*k)) {
        let _ = key;
        out.push(InfraChange {
            change: Change::Removed,
            system: was.system,
            address: was.address.clone(),
            file: was.file.clone(),
            attributes: Vec::new(),
            replaces: false,
            note: None,
        });
    }
    out.sort_by(|a, b| (a.system, &a.address).cmp(&(b.system, &b.address)));
    out
}

fn body(f: &GeneratedFile) -> &str {
    parse_header(&f.contents)
        .map(|(_, b)| b)
        .unwrap_or(&f.contents)
}

/// Every Terraform block and Kubernetes object, keyed by system and address.
fn objects(files: &[GeneratedFile]) -> BTreeMap<(System, String), Object> {
    let mut out = BTreeMap::new();
    for f in files {
        let found = if f.path.starts_with("terraform/") && f.path.ends_with(".tf") {
            terraform_blocks(&f.path, body(f))
        } else if f.path.starts_with("k8s/") && f.path.ends_with(".yaml") {
            kubernetes_object(&f.path, body(f)).into_iter().collect()
        } else {
            Vec::new()
        };
        for o in found {
            out.insert((o.system, o.address.clone()), o);
        }
    }
    out
}

/// The `resource`, `data` and other top-level blocks of a `.tf` file in `terraform
/// fmt` layout. Addresses: `TYPE.NAME`, `data.TYPE.NAME`, `variable.NAME`,
/// `output.NAME`; unlabelled blocks (`terraform`) by keyword.
fn terraform_blocks(file: &str, text: &str) -> Vec<Object> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(head) = line.strip_suffix(" {") else {
            continue;
        };
        if line.starts_with([' ', '#', '}']) {
            continue;
        }
        let mut words = head.split(' ').map(|w| w.trim_matches('"'));
        let keyword = words.next().unwrap_or_default();
        let labels: Vec<&str> = words.collect();
        let address = match (keyword, labels.as_slice()) {
            ("resource", [ty, name]) => format!("{ty}.{name}"),
            (kw, []) => kw.to_string(),
            (kw, labels) => format!("{kw}.{}", labels.join(".")),
        };
        let mut body = Vec::new();
        for l in lines.by_ref() {
            if l == "}" {
                break;
            }
            body.push(l);
        }
        let reads = body
            .iter()
            .filter_map(|l| l.split("${path.module}/../").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect();
        out.push(Object {
            system: System::Terraform,
            address,
            file: file.to_string(),
            attributes: children(&body, 2, ""),
            reads,
        });
    }
    out
}

/// A Kubernetes object's `Kind namespace/name` and its attributes (top-level keys, and
/// `spec.*` one level down).
fn kubernetes_object(file: &str, text: &str) -> Option<Object> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let kind = lines
        .iter()
        .find_map(|l| l.strip_prefix("kind: "))?
        .trim_matches('"')
        .to_string();
    let metadata = children(&lines, 0, "")
        .remove("metadata")
        .unwrap_or_default();
    let meta_lines: Vec<&str> = metadata.lines().collect();
    let meta = children(&meta_lines, 2, "");
    let field = |k: &str| {
        meta.get(k)
            .and_then(|v| v.trim().split_once(": "))
            .map(|(_, v)| v.trim_matches('"').to_string())
    };
    let name = field("name")?;
    let address = match field("namespace") {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    };
    let mut attributes = children(&lines, 0, "");
    if let Some(spec) = attributes.remove("spec") {
        let spec_lines: Vec<&str> = spec.lines().collect();
        attributes.extend(children(&spec_lines, 2, "spec."));
    }
    Some(Object {
        system: System::Kubernetes,
        address,
        file: file.to_string(),
        attributes,
        reads: Vec::new(),
    })
}

/// Splits indented lines into the attributes that start at `indent` (`key = …`,
/// `key {`, `key:`), each with its text up to the next one; comments and blank lines
/// are left out.
fn children(lines: &[&str], indent: usize, prefix: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    let pad = " ".repeat(indent);
    for l in lines {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let starts_here = l.starts_with(&pad)
            && !l[indent..].starts_with(' ')
            && !trimmed.starts_with(['}', ']', ')', '-']);
        if starts_here {
            let key: String = trimmed
                .chars()
                .take_while(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '/')
                })
                .collect();
            let key = format!("{prefix}{}", key.trim_matches('"'));
            // Repeated blocks (`env { … }` twice) are one attribute.
            let entry = out.entry(key.clone()).or_default();
            entry.push_str(l);
            entry.push('\n');
            current = Some(key);
        } else if let Some(k) = &current {
            let entry = out.entry(k.clone()).or_default();
            entry.push_str(l);
            entry.push('\n');
        }
    }
    out
}

/// Why changing `attribute` of the object at `address` replaces it, when the provider
/// (or Kubernetes) documents it as immutable.
pub fn forces_replacement(system: System, address: &str, attribute: &str) -> Option<&'static str> {
    match system {
        System::Kubernetes => {
            let kind = address.split(' ').next().unwrap_or_default();
            match (kind, attribute) {
                ("Deployment", "spec.selector") => Some("is immutable in a Deployment"),
                ("Service", "spec.clusterIP") => Some("is immutable in a Service"),
                _ => None,
            }
        }
        System::Terraform => {
            let ty = address.split('.').next().unwrap_or_default();
            if ty == "google_api_gateway_api_config" {
                return Some(
                    "API Gateway configs are immutable: a new config is created, the gateway \
                     switches to it, then the old one is deleted",
                );
            }
            let immutable: &[&str] = match ty {
                "google_api_gateway_api" => &["api_id", "project"],
                "google_api_gateway_api_config" => &[
                    "api",
                    "api_config_id",
                    "api_config_id_prefix",
                    "openapi_documents",
                    "gateway_config",
                ],
                "google_api_gateway_gateway" => &["gateway_id", "region", "project"],
                "google_apikeys_key" => &["name", "project"],
                "google_artifact_registry_repository" => {
                    &["repository_id", "location", "format", "project"]
                }
                "google_cloud_run_v2_service" => &["name", "location", "project"],
                "google_compute_address" => &[
                    "name",
                    "address",
                    "address_type",
                    "purpose",
                    "subnetwork",
                    "region",
                    "project",
                ],
                "google_compute_global_address" => &[
                    "name",
                    "address",
                    "address_type",
                    "purpose",
                    "prefix_length",
                    "network",
                ],
                "google_compute_network" => &["name", "auto_create_subnetworks"],
                "google_compute_subnetwork" => &["name", "network", "region"],
                "google_compute_router" => &["name", "network", "region"],
                "google_compute_router_nat" => &["name", "router", "region"],
                "google_container_cluster" => &[
                    "name",
                    "location",
                    "network",
                    "subnetwork",
                    "private_cluster_config",
                    "ip_allocation_policy",
                ],
                "google_container_node_pool" => &[
                    "name",
                    "cluster",
                    "location",
                    "node_config",
                    "initial_node_count",
                ],
                "google_project_iam_member"
                | "google_artifact_registry_repository_iam_member"
                | "google_cloud_run_v2_service_iam_member" => &[
                    "member",
                    "role",
                    "project",
                    "repository",
                    "name",
                    "location",
                ],
                "google_project_service" => &["service", "project"],
                "google_secret_manager_secret" => &["secret_id", "replication"],
                "google_secret_manager_secret_version" => &["secret", "secret_data"],
                "google_service_account" => &["account_id", "project"],
                "google_service_networking_connection" => &["network", "service"],
                "google_sql_database" => &["name", "instance"],
                "google_sql_database_instance" => &["name", "region"],
                "google_sql_user" => &["name", "instance"],
                "google_vpc_access_connector" => {
                    &["name", "region", "network", "ip_cidr_range", "subnet"]
                }
                _ => &[],
            };
            immutable.contains(&attribute).then_some(
                "cannot change in place; the provider destroys and recreates the resource",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_blocks_by_address_with_attributes() {
        let tf = "# c\nresource \"google_x\" \"a\" {\n  name = \"n\"\n  env {\n    v = 1\n  }\n  templ = templatefile(\"${path.module}/../openapi/gateway.yaml\", {})\n}\n\ndata \"google_y\" \"b\" {\n  k = 2\n}\n";
        let blocks = terraform_blocks("terraform/m.tf", tf);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].address, "google_x.a");
        assert_eq!(
            blocks[0].attributes.keys().collect::<Vec<_>>(),
            ["env", "name", "templ"]
        );
        assert_eq!(blocks[0].attributes["env"], "  env {\n    v = 1\n  }\n");
        assert_eq!(blocks[0].reads, ["openapi/gateway.yaml"]);
        assert_eq!(blocks[1].address, "data.google_y.b");
    }

    #[test]
    fn kubernetes_object_by_kind_namespace_and_name() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels:\n    name: x\n  name: api\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      a: b\n";
        let o = kubernetes_object("k8s/deployment.yaml", yaml).unwrap();
        assert_eq!(o.address, "Deployment shop/api");
        assert_eq!(
            o.attributes.keys().collect::<Vec<_>>(),
            [
                "apiVersion",
                "kind",
                "metadata",
                "spec.replicas",
                "spec.selector"
            ]
        );
    }
}
