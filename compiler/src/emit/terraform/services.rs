//! Which Google API each Terraform resource type calls, and the service agents the
//! stack creates ahead of first use: one table, so that the project services
//! (`apis.tf`), the APIs `shopgen deploy` enables before Terraform runs, and the
//! test that every emitted resource's API is enabled first all read the same facts.

use crate::model::{Cluster, Database, Egress, Model};

/// The APIs Terraform itself needs before it can enable anything: with
/// `user_project_override` every request carries `X-Goog-User-Project`, so Service
/// Usage (enabling services) and Cloud Resource Manager (project IAM) must already be
/// on in the project (provider `google/transport/config.go`, "Ensure $userProject is
/// set for all HTTP requests"; terraform-google-project-factory#715). `shopgen deploy`
/// enables them with `gcloud services enable` in its preflight.
pub const PREFLIGHT_APIS: [&str; 2] = [
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
];

/// Terraform resource (or data source) type → the API it calls. Types of other
/// providers (`random_*`) call none. The test in `tests/suite/infra_terraform.rs` fails on an
/// emitted type missing here.
pub const RESOURCE_APIS: &[(&str, &str)] = &[
    ("google_api_gateway_api", "apigateway.googleapis.com"),
    ("google_api_gateway_api_config", "apigateway.googleapis.com"),
    ("google_api_gateway_gateway", "apigateway.googleapis.com"),
    ("google_apikeys_key", "apikeys.googleapis.com"),
    (
        "google_artifact_registry_repository",
        "artifactregistry.googleapis.com",
    ),
    (
        "google_artifact_registry_repository_iam_member",
        "artifactregistry.googleapis.com",
    ),
    ("google_cloud_run_v2_service", "run.googleapis.com"),
    (
        "google_cloud_run_v2_service_iam_member",
        "run.googleapis.com",
    ),
    ("google_compute_address", "compute.googleapis.com"),
    ("google_compute_global_address", "compute.googleapis.com"),
    ("google_compute_network", "compute.googleapis.com"),
    ("google_compute_router", "compute.googleapis.com"),
    ("google_compute_router_nat", "compute.googleapis.com"),
    ("google_compute_subnetwork", "compute.googleapis.com"),
    ("google_container_cluster", "container.googleapis.com"),
    ("google_container_node_pool", "container.googleapis.com"),
    ("google_project", "cloudresourcemanager.googleapis.com"),
    (
        "google_project_iam_member",
        "cloudresourcemanager.googleapis.com",
    ),
    ("google_project_service", "serviceusage.googleapis.com"),
    (
        "google_project_service_identity",
        "serviceusage.googleapis.com",
    ),
    (
        "google_secret_manager_secret",
        "secretmanager.googleapis.com",
    ),
    (
        "google_secret_manager_secret_version",
        "secretmanager.googleapis.com",
    ),
    ("google_service_account", "iam.googleapis.com"),
    ("google_service_account_iam_member", "iam.googleapis.com"),
    (
        "google_service_networking_connection",
        "servicenetworking.googleapis.com",
    ),
    ("google_sql_database", "sqladmin.googleapis.com"),
    ("google_sql_database_instance", "sqladmin.googleapis.com"),
    ("google_sql_user", "sqladmin.googleapis.com"),
    ("google_vpc_access_connector", "vpcaccess.googleapis.com"),
];

/// The API a resource type calls; `None` for types of other providers, and for a
/// Google type this table does not know (a test catches that).
pub fn api_of(resource_type: &str) -> Option<&'static str> {
    RESOURCE_APIS
        .iter()
        .find(|(t, _)| *t == resource_type)
        .map(|(_, api)| *api)
}

/// The services whose agents act for the stack, created ahead with
/// `google_project_service_identity` (`services/S:generateServiceIdentity`): an
/// agent otherwise appears on first use, and the first apply fails while it does not
/// exist or its roles have not propagated — API Gateway's agent acting as the
/// gateway's account (terraform-provider-google#11912), Service Networking's agent
/// peering for Cloud SQL ("Error code 7", #14720), the Serverless VPC Access agent
/// creating the connector. `shopgen deploy` creates them in its first, targeted apply
/// and retries the full apply on those errors while the roles propagate.
pub fn service_agents(model: &Model) -> Vec<&'static str> {
    let mut s = vec!["apigateway.googleapis.com", "run.googleapis.com"];
    if matches!(model.gcp.egress, Egress::Connector { .. }) {
        s.push("vpcaccess.googleapis.com");
    }
    if matches!(model.gcp.cluster, Cluster::Create { .. }) {
        s.push("container.googleapis.com");
    }
    if matches!(model.database, Database::CloudSql { .. }) {
        s.extend([
            "servicenetworking.googleapis.com",
            "sqladmin.googleapis.com",
        ]);
    }
    s.sort_unstable();
    s
}
