//! `shopgen init`: the starter spec a new API begins from.
//!
//! Pure, like the stages: takes the API's name and its Google Cloud placement, gives
//! the text of `specs/NAME.toml` (a small, valid, commented spec: one resource with
//! one public read route, everything else internal). The CLI writes it, never over an
//! existing file.

/// The Google Cloud project the starter names when `--gcp-project` is not given.
pub const DEFAULT_PROJECT: &str = "my-gcp-project";
/// The region the starter names when `--region` is not given.
pub const DEFAULT_REGION: &str = "us-central1";
/// Longest name `init` accepts: every name derived from it must stay within its
/// platform's limit, the tightest being the VPC connector's `NAME-vpc` (25 characters).
pub const MAX_NAME_LEN: usize = 21;

const TEMPLATE: &str = include_str!("starter.toml");

/// Why a name cannot start an API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InitError {
    #[error(
        "`{0}` cannot name an API: use a lower-case letter, then lower-case letters, digits, \
         `-` or `_` (not at the end), at most {MAX_NAME_LEN} characters (e.g. `inventory`)"
    )]
    BadName(String),
}

/// The starter spec for `specs/{name}.toml`. The service is named after the file
/// (`_` becomes `-`).
pub fn starter_spec(name: &str, project: &str, region: &str) -> Result<String, InitError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
        && !matches!(b[b.len() - 1], b'-' | b'_')
        && !name.contains("--")
        && !name.contains("__");
    if !ok {
        return Err(InitError::BadName(name.to_string()));
    }
    let service = name.replace('_', "-");
    Ok(TEMPLATE
        .replace("@NAME@", name)
        .replace("@SERVICE@", &service)
        .replace("@PROJECT@", &toml_string(project))
        .replace("@REGION@", &toml_string(region))
        .replace("@GATEWAY_REGION@", &gateway_region_line(region)))
}

/// `gateway_region = "…"` when API Gateway does not run in `region` (the spec would
/// not build without it), else nothing.
fn gateway_region_line(region: &str) -> String {
    let gateway = shopgen_facts::gcp::nearest_api_gateway_region(region);
    if gateway == region {
        String::new()
    } else {
        format!(
            "# API Gateway does not run in {region}: the gateway goes to the nearest region it does.\ngateway_region = {}\n",
            toml_string(gateway)
        )
    }
}

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpecSource;

    fn compiles(name: &str, project: &str, region: &str) -> Result<(), String> {
        let src = starter_spec(name, project, region).map_err(|e| e.to_string())?;
        let source = SpecSource {
            stem: name.to_string(),
            display_path: format!("specs/{name}.toml"),
        };
        crate::compile(&src, source)
            .map(|_| ())
            .map_err(|d| crate::diagnostics::render(&d, &format!("specs/{name}.toml"), &src))
    }

    #[test]
    fn the_starter_compiles_for_names_of_every_shape() {
        for name in [
            "a",
            "inventory",
            "order_book",
            "pet-store2",
            "abcdefghijklmnopqrstu",
        ] {
            compiles(name, DEFAULT_PROJECT, DEFAULT_REGION)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        compiles("inventory", "acme-prod-1234", "europe-west2").unwrap();
    }

    #[test]
    fn bad_names_are_refused_before_anything_is_written() {
        for name in [
            "",
            "Inventory",
            "1shop",
            "shop-",
            "shop_",
            "a--b",
            "sh op",
            "abcdefghijklmnopqrstuv",
        ] {
            assert_eq!(
                starter_spec(name, DEFAULT_PROJECT, DEFAULT_REGION),
                Err(InitError::BadName(name.into())),
                "{name:?}"
            );
        }
    }

    #[test]
    fn a_region_without_api_gateway_gets_a_gateway_region_and_builds() {
        for (region, gateway) in [
            ("europe-west3", Some("europe-west1")),
            ("asia-south1", Some("asia-northeast1")),
            ("southamerica-east1", Some("us-central1")),
            ("us-east4", None),
        ] {
            compiles("inventory", DEFAULT_PROJECT, region).unwrap();
            let src = starter_spec("inventory", DEFAULT_PROJECT, region).unwrap();
            match gateway {
                Some(g) => assert!(
                    src.contains(&format!("gateway_region = \"{g}\"\n")),
                    "{src}"
                ),
                None => assert!(!src.contains("gateway_region"), "{src}"),
            }
        }
    }

    #[test]
    fn a_bad_project_is_reported_by_the_checker_on_its_line() {
        let err = compiles("inventory", "Bad Project\"", DEFAULT_REGION).unwrap_err();
        assert!(err.contains("gcp.project"), "{err}");
    }

    #[test]
    fn one_public_read_route_everything_else_internal() {
        let src = starter_spec("inventory", DEFAULT_PROJECT, DEFAULT_REGION).unwrap();
        let source = SpecSource {
            stem: "inventory".into(),
            display_path: "specs/inventory.toml".into(),
        };
        let model = crate::compile(&src, source).unwrap();
        let public: Vec<String> = model
            .public_routes()
            .map(|(_, r)| format!("{} {}", r.method.as_str(), r.path))
            .collect();
        assert_eq!(public, ["GET /items"]);
        assert_eq!(model.routes().count(), 5);
        // Every section is explained, with a pointer to the reference.
        for section in [
            "[service]",
            "[gcp]",
            "[gateway]",
            "[database]",
            "[resources.item]",
        ] {
            let before = &src[..src.find(section).unwrap()];
            let comment = before
                .lines()
                .rev()
                .take_while(|l| l.starts_with('#'))
                .collect::<Vec<_>>();
            assert!(
                comment.iter().any(|l| l.contains("docs/spec.md")),
                "{section} has no comment pointing at docs/spec.md"
            );
        }
    }
}
