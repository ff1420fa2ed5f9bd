//! Values several emitters need that follow from the spec: computed here once, so
//! the Kubernetes manifests, the Terraform and `shopgen up` agree without one emitter
//! importing another. Values that do not depend on the spec are in `shopgen-facts`.

use shopgen_facts::{backend, relay};

use super::{Cluster, Cors, Database, Egress, Model};

/// The label that marks an object as shopgen's.
const K8S_MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "shopgen");
/// The label naming the stack an object belongs to (its value: the service name).
const K8S_PART_OF: &str = "app.kubernetes.io/part-of";

/// The region of a cluster location (`europe-west2-a` → `europe-west2`).
pub fn region_of(location: &str) -> &str {
    let parts: Vec<&str> = location.split('-').collect();
    if parts.len() == 3 && parts[2].len() == 1 && parts[2].chars().all(|c| c.is_ascii_lowercase()) {
        &location[..location.len() - 2]
    } else {
        location
    }
}

impl Model {
    /// The labels every generated Kubernetes object carries; the selector labels
    /// ([`Model::k8s_selector_labels`]) are among them.
    pub fn k8s_labels(&self) -> std::collections::BTreeMap<String, String> {
        let mut l = self.k8s_selector_labels();
        l.insert(K8S_MANAGED_BY.0.into(), K8S_MANAGED_BY.1.into());
        l.insert(K8S_PART_OF.into(), self.service.name.clone());
        l
    }

    /// The labels that select the backend's pods.
    pub fn k8s_selector_labels(&self) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([
            (
                "app.kubernetes.io/component".to_string(),
                "backend".to_string(),
            ),
            (
                "app.kubernetes.io/name".to_string(),
                self.service.names.derived.k8s_name.clone(),
            ),
        ])
    }

    /// A label selector matching every Kubernetes object shopgen generates for this
    /// stack (`shopgen destroy` deletes by it).
    pub fn k8s_stack_selector(&self) -> String {
        format!(
            "{}={},{K8S_PART_OF}={}",
            K8S_MANAGED_BY.0, K8S_MANAGED_BY.1, self.service.name
        )
    }

    /// The cluster's name and location, whether shopgen creates it or reads it.
    pub fn cluster_name_location(&self) -> (&str, &str) {
        match &self.gcp.cluster {
            Cluster::Existing { name, location } | Cluster::Create { name, location, .. } => {
                (name, location)
            }
        }
    }

    /// Whether the internal load balancer needs global access: the relay (in
    /// `gcp.region`) reaches it from another region.
    pub fn needs_global_access(&self) -> bool {
        let (_, location) = self.cluster_name_location();
        region_of(location) != self.gcp.region
    }

    /// The name of the Kubernetes Secret holding the backend's `DATABASE_URL`, and
    /// its key.
    pub fn database_secret(&self) -> (String, String) {
        match &self.database {
            Database::ExistingSecret { secret, key } => (secret.clone(), key.clone()),
            Database::CloudSql { .. } => (
                self.service.names.k8s_database_secret.clone(),
                backend::env::DATABASE_URL.to_string(),
            ),
        }
    }

    /// The address range the relay's traffic to the internal load balancer comes
    /// from, when the spec fixes it (the connector's /28, or the subnetwork shopgen
    /// creates); `None` for Direct VPC egress on an existing subnetwork, whose range
    /// Terraform reads (output `ilb_source_ranges`).
    pub fn relay_egress_range(&self) -> Option<String> {
        match (&self.gcp.egress, &self.gcp.cluster) {
            (Egress::Connector { cidr, .. }, _) => Some(cidr.clone()),
            (Egress::DirectVpc, Cluster::Create { nodes_cidr, .. }) => Some(nodes_cidr.clone()),
            (Egress::DirectVpc, Cluster::Existing { .. }) => None,
        }
    }

    /// The backend's settings from the spec, the same wherever it runs: its part of
    /// the deadline budget and the per-route `Cache-Control` policy. The database URL
    /// and the port depend on where it runs (the Deployment, `shopgen up`).
    pub fn backend_env(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (
                backend::env::REQUEST_TIMEOUT_MS,
                self.budget.backend_request_ms.to_string(),
            ),
            (
                backend::env::DATABASE_ACQUIRE_TIMEOUT_MS,
                self.budget.database_acquire_ms.to_string(),
            ),
        ];
        if let Some(rules) = self.cache_control_routes() {
            out.push((backend::env::CACHE_CONTROL_ROUTES, rules));
        }
        out
    }

    /// The relay's settings from the spec, the same wherever it runs: upstream
    /// deadline, body limit, the API key header it strips, and the CORS policy. What
    /// depends on where it runs (the upstream's URL, the callers it admits, its port)
    /// is added by Terraform (`relay.tf`) and by `shopgen up`.
    pub fn relay_env(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (
                relay::env::UPSTREAM_TIMEOUT_MS,
                self.budget.relay_upstream_ms.to_string(),
            ),
            (
                relay::env::MAX_BODY_BYTES,
                self.relay.max_body_bytes.to_string(),
            ),
            (
                relay::env::API_KEY_HEADER,
                self.gateway.api_key_header.clone(),
            ),
        ];
        if let Some(cors) = &self.gateway.cors {
            out.extend(cors.relay_env());
        }
        if self
            .upstream
            .as_ref()
            .is_some_and(|u| u.forward_authorization)
        {
            out.push((relay::env::FORWARD_AUTHORIZATION, "true".to_string()));
        }
        out
    }
}

impl Cors {
    /// The relay's CORS settings, as the environment it reads (Terraform sets them on
    /// the Cloud Run service, `shopgen up` on the local relay).
    pub fn relay_env(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (
                relay::env::CORS_ALLOWED_ORIGINS,
                self.allowed_origins.join(","),
            ),
            (
                relay::env::CORS_ALLOWED_HEADERS,
                self.allowed_headers.join(","),
            ),
            (
                relay::env::CORS_EXPOSE_HEADERS,
                self.expose_headers.join(","),
            ),
            (relay::env::CORS_MAX_AGE, self.max_age.to_string()),
        ];
        if self.allow_credentials {
            out.push((relay::env::CORS_ALLOW_CREDENTIALS, "true".to_string()));
        }
        out
    }
}
