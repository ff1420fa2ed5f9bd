//! What the `infra_*` tests share: the reference spec and its variants (both egress
//! modes, both gateway dialects, both database modes, an existing and a created
//! cluster, a cluster in another region), and building them in memory or into a
//! temporary folder.

use shopgen::emit::{GeneratedFile, emit_all};
use shopgen::model::{Model, SpecSource};

use super::shop_src;

/// One spec to build: a name, and the reference spec with some lines replaced.
pub struct Variant {
    pub name: &'static str,
    pub src: String,
}

fn edit(src: &str, edits: &[(&str, &str)]) -> String {
    let mut out = src.to_string();
    for (from, to) in edits {
        assert!(
            out.contains(from),
            "variant edit: `{from}` is not in specs/shop.toml any more"
        );
        out = out.replace(from, to);
    }
    out
}

/// A created cluster's subnetwork is shopgen's own (`shop-api-gke`): the reference
/// spec's `subnetwork = "default"` names the existing cluster's.
const DEFAULT_SUBNETWORK: &str = "subnetwork = \"default\"\n";
const CONNECTOR: &str = "egress = { connector = \"10.8.0.0/28\" }";
const EXISTING_CLUSTER: &str = "cluster = { name = \"shop-cluster\", location = \"europe-west2\" }";
const OPENAPI_30: &str = "openapi = \"3.0\"";
const SECRET_DB: &str = "secret = { name = \"shop-api-db\", key = \"DATABASE_URL\" }";
const PRODUCT_ROUTES: &str = "routes = { list = \"public\", get = \"public\" }";

/// The public-API keys: CORS for two origins, two consumers, a quota with one
/// per-operation cost, and HTTP caching of products.
pub const PUBLIC_API: &str = "openapi = \"3.0\"
cors = { allowed_origins = [\"https://shop.example.com\", \"http://localhost:5173\"], allowed_headers = [\"X-Client-Version\"], max_age = 600 }
consumers = [\"web\", \"partner-a\"]
quota = { requests_per_minute = 600, costs = { listProducts = 2 } }";

/// Sign-in: two identity providers, CORS, and routes asking for the API key and a
/// Firebase user, a user of either provider, and a Firebase user alone.
pub const IDENTITY: &str = "openapi = \"3.0\"
cors = { allowed_origins = [\"https://shop.example.com\"] }

[gateway.identity.firebase]
issuer = \"https://securetoken.google.com/acme-shop\"
jwks_uri = \"https://www.googleapis.com/service_accounts/v1/metadata/jwk/securetoken@system.gserviceaccount.com\"
audiences = [\"acme-shop\"]

[gateway.identity.google]
issuer = \"https://accounts.google.com\"
jwks_uri = \"https://www.googleapis.com/oauth2/v3/certs\"
audiences = [\"1234567890-web.apps.googleusercontent.com\", \"1234567890-ios.apps.googleusercontent.com\"]";
const IDENTITY_ROUTES: &str = "routes = { list = \"public\", get = { exposure = \"public\", auth = [\"api_key\", \"firebase\"] }, create = { exposure = \"public\", auth = [[\"firebase\"], [\"google\"]] } }";
const NESTED_ROUTES: &str = "routes = { list = \"internal\", create = \"internal\" }";

/// The reference spec and variants covering every infrastructure switch.
pub fn variants() -> Vec<Variant> {
    let shop = shop_src();
    vec![
        Variant {
            name: "shop",
            src: shop.clone(),
        },
        Variant {
            name: "direct-vpc-swagger2",
            src: edit(
                &shop,
                &[
                    (CONNECTOR, "egress = \"direct-vpc\""),
                    (OPENAPI_30, "openapi = \"2.0\""),
                ],
            ),
        },
        Variant {
            name: "cloudsql-created-cluster",
            src: edit(
                &shop,
                &[
                    (SECRET_DB, "cloud_sql = { tier = \"db-custom-1-3840\" }"),
                    (
                        EXISTING_CLUSTER,
                        "cluster = { name = \"shop-gke\", location = \"europe-west2-a\", create = true }",
                    ),
                    (DEFAULT_SUBNETWORK, ""),
                ],
            ),
        },
        Variant {
            name: "cluster-in-other-region",
            src: edit(
                &shop,
                &[
                    (
                        EXISTING_CLUSTER,
                        "cluster = { name = \"shop-cluster\", location = \"europe-west1-b\" }",
                    ),
                    (
                        "subnetwork = \"default\"",
                        "subnetwork = \"default\"\nilb_source_ranges = [\"10.20.0.0/24\"]",
                    ),
                ],
            ),
        },
        Variant {
            name: "direct-vpc-created-cluster",
            src: edit(
                &shop,
                &[
                    (CONNECTOR, "egress = \"direct-vpc\""),
                    (
                        EXISTING_CLUSTER,
                        "cluster = { name = \"shop-gke\", location = \"europe-west2\", create = true }",
                    ),
                    (DEFAULT_SUBNETWORK, ""),
                ],
            ),
        },
        Variant {
            name: "empty-project",
            src: edit(
                &shop,
                &[
                    (
                        SECRET_DB,
                        "cloud_sql = { version = \"POSTGRES_17\", allocated_range = \"10.100.0.0/20\" }",
                    ),
                    (
                        EXISTING_CLUSTER,
                        "cluster = { name = \"shop-gke\", location = \"europe-west2\", create = true, authorized_networks = [\"203.0.113.0/24\"] }\ngateway_region = \"europe-west1\"\nstate = { bucket = \"acme-shop-tfstate\", prefix = \"prod/shop\" }",
                    ),
                    (DEFAULT_SUBNETWORK, ""),
                ],
            ),
        },
        Variant {
            name: "public-api",
            src: edit(
                &shop,
                &[
                    (OPENAPI_30, PUBLIC_API),
                    (
                        PRODUCT_ROUTES,
                        "routes = { list = \"public\", get = \"public\" }\ncache = { max_age = 60, public = true }",
                    ),
                ],
            ),
        },
        Variant {
            name: "public-api-swagger2",
            src: edit(
                &shop,
                &[(
                    OPENAPI_30,
                    &PUBLIC_API.replace("openapi = \"3.0\"", "openapi = \"2.0\""),
                )],
            ),
        },
        Variant {
            name: "identity",
            src: edit(
                &shop,
                &[
                    (OPENAPI_30, IDENTITY),
                    (PRODUCT_ROUTES, IDENTITY_ROUTES),
                    (
                        NESTED_ROUTES,
                        "routes = { list = { exposure = \"public\", auth = \"firebase\" }, create = \"internal\" }",
                    ),
                ],
            ),
        },
        Variant {
            name: "identity-swagger2",
            src: edit(
                &shop,
                &[
                    (
                        OPENAPI_30,
                        &IDENTITY.replace("openapi = \"3.0\"", "openapi = \"2.0\""),
                    ),
                    (PRODUCT_ROUTES, IDENTITY_ROUTES),
                ],
            ),
        },
    ]
}

pub fn source(name: &str) -> SpecSource {
    SpecSource {
        stem: "shop".into(),
        display_path: format!("specs/{name}.toml"),
    }
}

pub fn model(v: &Variant) -> Model {
    shopgen::compile(&v.src, source(v.name)).unwrap_or_else(|d| {
        panic!(
            "variant {} does not compile:\n{}",
            v.name,
            shopgen::diagnostics::render(&d, v.name, &v.src)
        )
    })
}

pub fn files(model: &Model) -> Vec<GeneratedFile> {
    emit_all(model)
}

/// A generated file's body (header stripped).
pub fn body<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    let f = files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} was not generated"));
    shopgen::emit::parse_header(&f.contents)
        .map(|(_, body)| body)
        .unwrap_or_else(|| panic!("{path} has no shopgen header"))
}

/// Files whose path starts with `prefix`, sorted by path.
pub fn under<'a>(files: &'a [GeneratedFile], prefix: &str) -> Vec<&'a GeneratedFile> {
    files
        .iter()
        .filter(|f| f.path.starts_with(prefix))
        .collect()
}

/// Writes the files into a fresh temporary folder.
pub fn write(files: &[GeneratedFile]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_into(dir.path(), files);
    dir
}

/// Writes the files into `dir`, making folders.
pub fn write_into(dir: &std::path::Path, files: &[GeneratedFile]) {
    for f in files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &f.contents).expect("write");
    }
}

/// Parses YAML into `T` (tests only; the emitters only serialise).
pub fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("invalid YAML: {e}\n{text}"))
}
