//! The registry of diagnostic codes: every code shopgen reports, with its one-line
//! meaning, defined once here.
//!
//! A [`Diagnostic`](super::Diagnostic) takes a [`Code`], so a code that is not listed
//! here does not compile. The tests hold the rest to this table both ways: the code
//! table in docs/spec.md ("Diagnostics") lists exactly these codes with exactly these
//! meanings, and every code has a rendered case under `compiler/tests/diagnostics/`.
//!
//! Numbering: E01xx is the file's shape (parse), E02xx the spec's meaning (check),
//! E03xx a schema change the database cannot be migrated through (the spec compared
//! with the migration snapshot in the output folder); E0309–E0312, rows owned by users
//! (numbered after the others when ownership came). A code, once published, keeps
//! its meaning; a retired one is not reused.

macro_rules! codes {
    ($($code:ident => $meaning:literal,)*) => {
        /// A stable diagnostic code (`E0101`), rendered as `error[E0101]`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $meaning] $code,)*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &[Code] = &[$(Code::$code,)*];

            /// The code as written: `E0101`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// The one-line meaning, as docs/spec.md lists it (Markdown).
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$code => $meaning,)*
                }
            }
        }
    };
}

codes! {
    E0100 => "the file is not UTF-8 text (the first bad byte)",
    E0101 => "TOML syntax",
    E0102 => "unknown key (with the closest known key)",
    E0103 => "wrong value type",
    E0104 => "number out of representable range",
    E0106 => "missing key inside a table (`type`, `connector`)",
    E0107 => "mutually exclusive keys",
    E0201 => "missing required table or key; no resources; a resource without fields",
    E0202 => "unusable identifier (non-ASCII, leading digit, punctuation, too long)",
    E0203 => "Rust keyword or SQL reserved word",
    E0204 => "duplicate name (also after case conversion, and plurals)",
    E0205 => "a name shopgen generates itself (`id`, `REL_id`, has_many names)",
    E0206 => "unknown field type",
    E0207 => "key that does not apply (to this field type, to an existing cluster)",
    E0208 => "field type missing a required parameter (`max_length`, `precision`/`scale`)",
    E0209 => "min greater than max (values, lengths, replicas, limits, timeouts)",
    E0210 => "decimal precision/scale out of range or bounds that do not fit",
    E0211 => "default that violates its own constraints",
    E0212 => "bad enum: no values, duplicates, unusable values",
    E0213 => "invalid regular expression",
    E0214 => "reference to an undefined resource",
    E0215 => "reference to an undefined field or relation",
    E0216 => "unknown exposure",
    E0217 => "bad `on_delete`",
    E0218 => "public nested route whose parent cannot be reached",
    E0219 => "name breaking a downstream limit (DNS-1123, connector ≤ 25, service account 6–30, Secret names)",
    E0220 => "CIDR that is not a private /28 (or not a CIDR)",
    E0221 => "unsupported OpenAPI dialect",
    E0222 => "unusable API key header",
    E0223 => "number out of range",
    E0224 => "invalid Google Cloud project, region, zone or resource name",
    E0225 => "bad `json` member (duplicate, embedded parent)",
    E0226 => "two inferred has_many relations with the same name",
    E0227 => "invalid Kubernetes quantity",
    E0228 => "two routes or operation ids that would collide",
    E0229 => "bound of the wrong type for the field",
    E0230 => "spec file name that cannot name the generated crates",
    E0231 => "Direct VPC egress with the cluster in another region",
    E0232 => "bad `cors`: not an origin, `*` combined with others or with credentials, bad header name",
    E0233 => "bad or duplicate consumer name",
    E0234 => "quota cost for an operation that is not public",
    E0235 => "a gateway region where API Gateway does not run (or a `region` outside them without `gateway_region`)",
    E0236 => "a Cloud SQL edition that does not exist, or a tier the edition does not run",
    E0237 => "address ranges of the spec that overlap (connector, created cluster, Cloud SQL)",
    E0238 => "an unusable state bucket name or prefix",
    E0239 => "`subnetwork = \"default\"` for a cluster shopgen creates in the `default` network (that subnetwork exists already)",
    E0240 => "unknown HTTP method of an operation",
    E0241 => "unusable path template",
    E0242 => "path parameter not declared in `params` (or declared and unused)",
    E0244 => "a body on a GET or DELETE operation",
    E0245 => "path parameter named unlike the route parameter at the same place",
    E0246 => "public route whose template matches an internal route's path",
    E0247 => "unknown hook",
    E0248 => "resource-only field key (`unique`, `read_only`) on an operation field",
    E0249 => "a timeout outside the deadline budget (gateway deadline, Cloud Run, relay, backend request, database acquire: each inside the one before)",
    E0250 => "unusable identity provider name",
    E0251 => "an identity provider's `issuer` missing or not an https URL (or another provider's issuer)",
    E0252 => "an identity provider's `jwks_uri` missing, not an https URL, or Google's X.509 certificate form",
    E0253 => "an identity provider's `audiences` missing, empty, or holding an unusable or duplicate audience",
    E0254 => "`auth` naming a credential that is neither `api_key` nor a provider of `[gateway.identity]`",
    E0255 => "`auth` on a route or operation that is not public",
    E0256 => "an empty `auth` list (or an empty alternative in it)",
    E0257 => "a credential listed twice in one `auth` requirement, or the same alternative twice",
    E0258 => "an `auth` combination API Gateway cannot check (the API key as an alternative, two user tokens required together)",
    E0270 => "bad `[upstream]`: no selector, a label that is not a Kubernetes label, a health path that is not a path",
    E0271 => "a table or key that does not apply to an existing service (`[resources]`, `[database]`, `cluster.create`, the backend's `[service]` keys)",
    E0301 => "a column changes type (a field's `type`, `max_length`, `precision` or `scale`)",
    E0302 => "a field or relation changes between required and optional",
    E0303 => "a field becomes unique or stops being unique",
    E0304 => "an enum's `values` change",
    E0305 => "a relation changes its parent or its `on_delete`",
    E0306 => "a new required field or relation with no `default` to fill the rows that exist",
    E0307 => "a new required field whose `default` is set at insert time (`\"now\"`, `\"today\"`)",
    E0308 => "a unique field removed (SQLite cannot drop a unique column)",
    E0309 => "a bad `owner`: its column is already a field, its `claim` or `existing` is not usable",
    E0310 => "a public route of an owned resource (or a public nested route under an owned parent) that takes no user token",
    E0311 => "a child of an owned resource reachable publicly outside its parent, or an owned resource embedded in one that is not owned",
    E0312 => "`owner` added to a table that has rows, without `existing` to own them",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_listed_once_in_numeric_order() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        for pair in names.windows(2) {
            assert!(pair[0] < pair[1], "{} before {}", pair[0], pair[1]);
        }
        for name in &names {
            assert!(
                name.len() == 5
                    && name.starts_with("E0")
                    && name[1..].bytes().all(|b| b.is_ascii_digit()),
                "{name} is not EXXXX"
            );
        }
        for c in Code::ALL {
            assert!(
                !c.meaning().is_empty() && !c.meaning().contains('|'),
                "{c}: {}",
                c.meaning()
            );
        }
    }
}
