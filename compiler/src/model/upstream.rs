//! Lower: `[upstream]` → [`Upstream`], the existing service a spec exposes.
//! Infallible: `check::upstream` has rejected unusable labels and paths.

use std::collections::BTreeMap;

use crate::spec::Spec;

/// An existing service in an existing cluster: shopgen generates the gateway, the
/// relay and the internal load balancer in front of it, and nothing that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The labels of the existing pods, which the internal load balancer's Service
    /// selects (sorted by key).
    pub selector: BTreeMap<String, String>,
    /// The upstream's own health endpoint (`/healthz`), when it has one: `shopgen up`
    /// waits for it.
    pub health_path: Option<String>,
    /// Whether the relay hands the client's `Authorization` (which API Gateway moves
    /// to `X-Forwarded-Authorization`) to the upstream as `Authorization`.
    pub forward_authorization: bool,
}

pub(super) fn lower_upstream(spec: &Spec) -> Option<Upstream> {
    let u = spec.upstream.as_ref()?;
    Some(Upstream {
        selector: u
            .selector
            .as_ref()
            .map(|s| {
                s.value
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        health_path: u.health_path.as_ref().map(|h| h.value.clone()),
        forward_authorization: u.forward_authorization.as_ref().is_some_and(|f| f.value),
    })
}
