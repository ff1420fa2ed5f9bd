//! Names: one identifier in every spelling, English plurals, and the Google Cloud and
//! Kubernetes object names derived from the service name.

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use super::Names;

/// Every spelling of an identifier written in snake_case or camelCase.
pub fn names(ident: &str) -> Names {
    let snake = ident.to_snake_case();
    Names {
        pascal: snake.to_upper_camel_case(),
        camel: snake.to_lower_camel_case(),
        kebab: snake.to_kebab_case(),
        shouty: snake.to_shouty_snake_case(),
        snake,
    }
}

/// The English plural of a snake_case noun (its last word is pluralised).
pub fn pluralize(snake: &str) -> String {
    let (head, last) = match snake.rfind('_') {
        Some(i) => (&snake[..=i], &snake[i + 1..]),
        None => ("", snake),
    };
    let irregular = [
        ("person", "people"),
        ("child", "children"),
        ("man", "men"),
        ("woman", "women"),
        ("mouse", "mice"),
        ("datum", "data"),
        ("index", "indices"),
    ];
    if let Some((_, p)) = irregular.iter().find(|(s, _)| *s == last) {
        return format!("{head}{p}");
    }
    let uncountable = [
        "news",
        "series",
        "species",
        "sheep",
        "fish",
        "equipment",
        "information",
        "data",
    ];
    if uncountable.contains(&last) {
        return snake.to_string();
    }
    let vowel = |c: char| "aeiou".contains(c);
    let plural = if let Some(stem) = last.strip_suffix('y') {
        if stem.chars().last().is_some_and(|c| !vowel(c)) {
            format!("{stem}ies")
        } else {
            format!("{last}s")
        }
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| last.ends_with(s))
    {
        format!("{last}es")
    } else {
        format!("{last}s")
    };
    format!("{head}{plural}")
}

/// A resource's plural, snake_case: its `plural`, or the plural of its name.
pub fn plural_of(r: &crate::spec::ResourceSpec) -> String {
    r.plural.as_ref().map_or_else(
        || pluralize(&names(&r.name.value).snake),
        |p| names(&p.value).snake,
    )
}

/// A best guess at the singular of a snake_case plural (for `has_many.reviews`
/// without `resource`).
pub fn singular_guess(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["ches", "shes", "sses", "xes", "zes"] {
        if let Some(stem) = plural.strip_suffix(suffix) {
            return format!("{stem}{}", &suffix[..suffix.len() - 2]);
        }
    }
    plural.strip_suffix('s').unwrap_or(plural).to_string()
}

/// The Google Cloud and Kubernetes object names derived from the service name.
/// The model holds them ([`super::ServiceNames::derived`]); the checker holds each to
/// its platform's limit ([`DerivedNames::limits`]), so the two can never disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedNames {
    /// Kubernetes Deployment / Service / ServiceAccount name (= service name).
    pub k8s_name: String,
    /// Cloud Run service running the relay (`shop-api-relay`).
    pub cloud_run_service: String,
    /// Serverless VPC Access connector (≤ 25 chars), when that egress is chosen.
    pub vpc_connector: String,
    /// Service account ids (6–30 chars).
    pub relay_service_account: String,
    pub gateway_service_account: String,
    pub backend_service_account: String,
    /// API Gateway API id, gateway id.
    pub api_id: String,
    pub gateway_id: String,
    /// Reserved internal address for the internal load balancer.
    pub ilb_address: String,
    /// Artifact Registry repository id.
    pub artifact_repository: String,
    /// The image builder's service account id (6–30 chars; the service name is cut to
    /// fit). Terraform creates it; `shopgen deploy` runs Cloud Build as it.
    pub build_service_account: String,
    /// A created cluster's node service account id (6–30 chars, cut to fit).
    pub node_service_account: String,
    /// The subnetwork shopgen creates for a created cluster unless the spec names one
    /// (`shop-api-gke`): never `default`, which an auto-mode network already has in
    /// every region.
    pub cluster_subnetwork: String,
    /// Cloud SQL's private services access range (`shop-api-sql-range`): Terraform
    /// creates it, `shopgen deploy` knows it as the stack's own.
    pub sql_private_range: String,
}

/// `<service>-<suffix>` cut to `max` characters (the service part shortened, no
/// trailing `-`).
fn fitted(service: &str, suffix: &str, max: usize) -> String {
    let mut base = service.to_string();
    base.truncate(max.saturating_sub(suffix.len() + 1));
    format!("{}-{suffix}", base.trim_end_matches('-'))
}

/// One derived name, what it names, and its length limits.
pub struct DerivedName<'a> {
    pub what: &'static str,
    pub value: &'a str,
    pub min: usize,
    pub max: usize,
}

impl DerivedNames {
    pub fn new(service: &str) -> Self {
        DerivedNames {
            k8s_name: service.to_string(),
            cloud_run_service: format!("{service}-relay"),
            vpc_connector: format!("{service}-vpc"),
            relay_service_account: format!("{service}-relay"),
            gateway_service_account: format!("{service}-gateway"),
            backend_service_account: format!("{service}-backend"),
            api_id: service.to_string(),
            gateway_id: format!("{service}-gateway"),
            ilb_address: format!("{service}-ilb"),
            artifact_repository: service.to_string(),
            build_service_account: fitted(service, "build", 30),
            node_service_account: fitted(service, "nodes", 30),
            cluster_subnetwork: fitted(service, "gke", 63),
            sql_private_range: fitted(service, "sql-range", 63),
        }
    }

    /// Every name with its platform's length limits.
    pub fn limits(&self) -> [DerivedName<'_>; 10] {
        fn n<'a>(what: &'static str, value: &'a str, min: usize, max: usize) -> DerivedName<'a> {
            DerivedName {
                what,
                value,
                min,
                max,
            }
        }
        [
            n("Kubernetes object name", &self.k8s_name, 1, 63),
            n("Cloud Run service name", &self.cloud_run_service, 1, 49),
            n(
                "Serverless VPC Access connector name",
                &self.vpc_connector,
                1,
                25,
            ),
            n(
                "relay service account id",
                &self.relay_service_account,
                6,
                30,
            ),
            n(
                "gateway service account id",
                &self.gateway_service_account,
                6,
                30,
            ),
            n(
                "backend service account id",
                &self.backend_service_account,
                6,
                30,
            ),
            n("API Gateway API id", &self.api_id, 1, 63),
            n("API Gateway gateway id", &self.gateway_id, 1, 63),
            n("internal address name", &self.ilb_address, 1, 63),
            n(
                "Artifact Registry repository id",
                &self.artifact_repository,
                1,
                63,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let n = names("orderItem");
        assert_eq!(n.snake, "order_item");
        assert_eq!(n.pascal, "OrderItem");
        assert_eq!(n.camel, "orderItem");
        assert_eq!(n.kebab, "order-item");
        assert_eq!(n.shouty, "ORDER_ITEM");
        assert_eq!(names("order_item"), n);
    }

    #[test]
    fn plurals() {
        for (s, p) in [
            ("product", "products"),
            ("review", "reviews"),
            ("category", "categories"),
            ("day", "days"),
            ("box", "boxes"),
            ("order_item", "order_items"),
            ("address", "addresses"),
            ("person", "people"),
            ("branch", "branches"),
        ] {
            assert_eq!(pluralize(s), p);
        }
    }
}
