//! Errors a first deploy into a new project is known to meet and that go away by
//! themselves: the table [`TRANSIENT`], and the one function that matches a failed
//! command's error output against it.
//!
//! Each entry says what is being waited for (printed on every retry), how often and
//! how long to wait, and where the behaviour is documented. The table is data: adding
//! a case is a row with its source, not a new `contains` somewhere in a phase. Every
//! error in the output must be one of the table's for a retry: an output with one
//! transient and one real error stops at once, as does any error the table does not
//! know.

/// One kind of error that goes away by itself.
#[derive(Debug)]
pub struct Transient {
    /// What is being waited for, as printed on each retry.
    pub waiting_for: &'static str,
    /// Alternatives; each is a set of fragments that must all occur in one error
    /// (compared without case).
    pub any_of: &'static [&'static [&'static str]],
    /// How many times the command runs at most while this error persists.
    pub attempts: u32,
    /// Seconds between attempts (`SHOPGEN_DEPLOY_RETRY_SECONDS` overrides).
    pub delay_secs: u64,
    /// Where the behaviour is documented.
    pub source: &'static str,
}

/// An API that is not enabled (or whose enablement has not propagated yet): Google's
/// `SERVICE_DISABLED` error.
pub const API_DISABLED: &[&[&str]] = &[
    &["service_disabled"],
    &["has not been used in project", "or it is disabled"],
];

/// The errors the applies wait out, most specific first.
pub const TRANSIENT: &[Transient] = &[
    Transient {
        waiting_for: "the API's managed service is not visible yet (a new API's can take up to 30 minutes)",
        any_of: &[&["google_project_service.managed_service"]],
        attempts: 31,
        delay_secs: 60,
        source: "API Gateway \"Enable the API\" (a new managed service takes a while to appear)",
    },
    Transient {
        waiting_for: "Service Networking's service agent is not yet allowed to read the new peering range (\"Error code 7\" on a project's first private services connection)",
        any_of: &[
            &["create service networking connection", "error code 7"],
            &[
                "create service networking connection",
                "compute.globalAddresses.list",
            ],
        ],
        attempts: 10,
        delay_secs: 60,
        source: "hashicorp/terraform-provider-google#14720; GoogleCloudPlatform/cloud-foundation-fabric#1399",
    },
    Transient {
        waiting_for: "the Serverless VPC Access connector's service agents are not ready yet (\"Error code 7\" on a project's first connector)",
        any_of: &[&["creating connector", "error code 7"]],
        attempts: 10,
        delay_secs: 60,
        source: "google/exposure-notifications-server#639 and #1046",
    },
    Transient {
        waiting_for: "a new service account or service agent is not yet allowed to act (IAM propagation: the API Gateway service agent acting as the relay's account, Cloud Build as the builder's)",
        any_of: &[
            &["service agent is missing the required permissions"],
            &["does not have permission to act as service account"],
            &["iam.serviceaccounts.actas", "denied"],
            &["service account", "does not exist"],
            &["service agent", "does not exist"],
            &["service agent", "not found"],
        ],
        attempts: 15,
        delay_secs: 30,
        source: "hashicorp/terraform-provider-google#11912 and #11826; terraform-google-modules/terraform-google-project-factory#997; IAM \"access change propagation\" (typically 2, up to 7 minutes)",
    },
    Transient {
        waiting_for: "an API enabled moments ago is not in effect everywhere yet (enablement propagation)",
        any_of: API_DISABLED,
        attempts: 10,
        delay_secs: 30,
        source: "Service Usage \"Enabling services\" (enablement takes a few minutes to propagate); googleapi error reason SERVICE_DISABLED",
    },
];

/// Whether `text` contains every fragment of one of the alternatives, without case.
pub fn matches(any_of: &[&[&str]], text: &str) -> bool {
    let text = text.to_lowercase();
    any_of
        .iter()
        .any(|all| all.iter().all(|f| text.contains(&f.to_lowercase())))
}

/// The errors in a command's error output: Terraform's diagnostics (`Error: …` up to
/// the next one, inside or outside its `│` boxes) or gcloud's (`ERROR: …`); output
/// with no such line is one error.
fn errors(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let body = line.trim_start_matches(['│', '╷', '╵', ' ', '\t']);
        if body.starts_with("Error:") || body.starts_with("ERROR:") {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    if out.is_empty() && !stderr.trim().is_empty() {
        out.push(stderr.to_string());
    }
    out
}

/// The table entry (its index) to wait for when every error in `stderr` is a known
/// transient one: the first error's. `None` when any error is not in the table.
pub fn classify(stderr: &str) -> Option<usize> {
    let errors = errors(stderr);
    let mut first = None;
    for e in &errors {
        let i = TRANSIENT.iter().position(|t| matches(t.any_of, e))?;
        first.get_or_insert(i);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn which(stderr: &str) -> Option<&'static str> {
        classify(stderr).map(|i| TRANSIENT[i].waiting_for)
    }

    #[test]
    fn each_entry_matches_its_documented_error() {
        let cases = [
            (
                "Error: Error when reading or editing Project Service : Service shop-api-1a2b.apigateway.p.cloud.goog not found\n  with google_project_service.managed_service,\n",
                "managed service",
            ),
            (
                "╷\n│ Error: Error waiting for Create Service Networking Connection: Error code 7, message: Required 'compute.globalAddresses.list' permission for 'projects/p'\n│ \n│   with google_service_networking_connection.sql,\n╵\n",
                "Service Networking",
            ),
            (
                "Error: Error waiting to create Connector: Error waiting for Creating Connector: Error code 7, message: Operation failed: Google APIs Service Agent (123@cloudservices.gserviceaccount.com) needs editor role in the project.",
                "connector's service agents",
            ),
            (
                "│ Error: Error creating Gateway: googleapi: Error 400: API Gateway service agent is missing the required permissions on service account \"projects/-/serviceAccounts/shop-api-gateway@p.iam.gserviceaccount.com\".",
                "IAM propagation",
            ),
            (
                "Error: Error creating Service: googleapi: Error 400: Permission 'iam.serviceaccounts.actAs' denied on service account shop-api-relay@p.iam.gserviceaccount.com (or it may not exist).",
                "IAM propagation",
            ),
            (
                "Error: Error setting IAM policy: googleapi: Error 400: Service account service-123@gcp-sa-apigateway.iam.gserviceaccount.com does not exist., badRequest",
                "IAM propagation",
            ),
            (
                "Error: Error creating Repository: googleapi: Error 403: Artifact Registry API has not been used in project 123 before or it is disabled. Enable it by visiting …\nDetails:\n[{\"reason\": \"SERVICE_DISABLED\"}]",
                "enablement propagation",
            ),
        ];
        for (stderr, expected) in cases {
            let w = which(stderr).unwrap_or_else(|| panic!("not matched: {stderr}"));
            assert!(w.contains(expected), "{stderr}\n→ {w}");
        }
    }

    #[test]
    fn other_errors_are_not_retried() {
        for stderr in [
            "Error: Error creating Connector: googleapi: Error 400: The IP range 10.8.0.0/28 overlaps with subnetwork default",
            "Error: Error waiting for Create Service Networking Connection: Error code 9, message: Constraint constraints/compute.restrictVpcPeering violated for project 123.",
            "Error: Invalid value for variable\n  on variables.tf line 3",
            "Error 403: The caller does not have permission",
            "",
        ] {
            assert_eq!(which(stderr), None, "{stderr}");
        }
    }

    #[test]
    fn one_unknown_error_among_transient_ones_stops() {
        let both = "Error: Error when reading or editing Project Service : not found\n  with google_project_service.managed_service,\n\nError: Error creating Connector: overlaps with subnetwork default\n";
        assert_eq!(which(both), None);
        // Two transient ones: the first decides what is waited for.
        let two = "Error: x\n  with google_project_service.managed_service,\nError: googleapi: Error 403: SERVICE_DISABLED\n";
        assert!(which(two).unwrap().contains("managed service"));
    }

    #[test]
    fn every_entry_is_bounded_and_sourced() {
        for t in TRANSIENT {
            assert!(t.attempts > 1 && t.attempts <= 31, "{}", t.waiting_for);
            assert!(t.delay_secs > 0 && t.delay_secs <= 60);
            assert!(!t.source.is_empty() && !t.any_of.is_empty());
        }
    }
}
