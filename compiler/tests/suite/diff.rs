//! `shopgen diff` over a table of spec changes to the reference spec: each case's
//! report in text, Markdown and JSON matches `tests/diff/<case>.{txt,md,json}` byte for
//! byte (`SHOPGEN_BLESS=1 cargo test -p shopgen --test suite -- diff::` rewrites them), and its
//! exit code is the one the table names. The command itself is run against an output
//! folder and against a git ref.

use std::fs;
use std::path::Path;
use std::process::Command;

use shopgen::diff::{self, render::Format};
use shopgen::emit::{History, emit_all};
use shopgen::model::{Model, SpecSource};

use crate::support::{golden, project, repo, shop_src};

fn compile(src: &str) -> Model {
    compile_spec(src, "shop")
}

/// `src` compiled as `specs/<stem>.toml`.
fn compile_spec(src: &str, stem: &str) -> Model {
    let display_path = format!("specs/{stem}.toml");
    let source = SpecSource {
        stem: stem.into(),
        display_path: display_path.clone(),
    };
    shopgen::compile(src, source)
        .unwrap_or_else(|d| panic!("{}", shopgen::diagnostics::render(&d, &display_path, src)))
}

/// The migration history a first build of `model` leaves in its output folder.
fn history_of(model: &Model) -> History {
    History::of_build(&emit_all(model))
}

/// An edit of the reference spec.
type Edit = fn(String) -> String;

/// `(case, edit of the reference spec, exit code)`.
fn cases() -> Vec<(&'static str, Edit, u8)> {
    vec![
        ("no_change", |s| format!("# only a comment changes\n{s}"), 0),
        (
            "route_becomes_public",
            |s| {
                s.replace(
                    "routes = { list = \"public\", get = \"public\" }",
                    "routes = { list = \"public\", get = \"public\", create = \"public\" }",
                )
            },
            3,
        ),
        (
            "route_becomes_internal",
            |s| {
                s.replace(
                    "routes = { list = \"public\", get = \"public\" }",
                    "routes = { list = \"public\", get = \"internal\" }",
                )
            },
            1,
        ),
        (
            "add_resource",
            |s| {
                format!(
                    "{s}\n[resources.tag]\nfields.label = {{ type = \"string\", max_length = 40, unique = true }}\nroutes = {{ list = \"public\" }}\n"
                )
            },
            3,
        ),
        (
            "drop_field",
            |s| {
                s.replace(
                    "fields.message = { type = \"text\", max_length = 4000 }\n",
                    "",
                )
                .replace(
                    "json = [\"id\", \"name\", \"message\", \"rate\"]",
                    "json = [\"id\", \"name\", \"rate\"]",
                )
            },
            1,
        ),
        (
            "add_nullable_field",
            |s| {
                s.replace(
                "fields.price =",
                "fields.color = { type = \"string\", max_length = 20, required = false }\nfields.price =",
            )
            },
            1,
        ),
        (
            "change_key_header",
            |s| {
                s.replace(
                    "api_key_header = \"x-api-key\"",
                    "api_key_header = \"x-shop-key\"",
                )
            },
            1,
        ),
        (
            "add_quota",
            |s| {
                s.replace(
                    "api_key_header = \"x-api-key\"",
                    "api_key_header = \"x-api-key\"\nquota = { requests_per_minute = 600 }",
                )
            },
            1,
        ),
        (
            "add_cors_origin",
            |s| {
                s.replace(
                    "api_key_header = \"x-api-key\"",
                    "api_key_header = \"x-api-key\"\ncors = { allowed_origins = [\"https://shop.example.com\"] }",
                )
            },
            3,
        ),
        (
            "change_replicas",
            |s| s.replace("replicas = 2", "replicas = 3"),
            1,
        ),
        (
            "refused_type_change",
            |s| {
                s.replace(
                "fields.rate = { type = \"integer\", min = 1, max = 5 }",
                "fields.rate = { type = \"decimal\", precision = 3, scale = 1, min = \"1\", max = \"5\" }",
            )
            },
            1,
        ),
        (
            "add_public_operation",
            |s| {
                format!(
                    "{s}\n[operations.rating_summary]\nmethod = \"GET\"\npath = \"/products/{{id}}/rating-summary\"\n\
                 exposure = \"public\"\nparams.id = {{ type = \"bigint\", min = 1 }}\noutput.average = \"float\"\n"
                )
            },
            3,
        ),
        (
            "validation_only",
            |s| s.replace("min = 1, max = 5", "min = 0, max = 10"),
            1,
        ),
    ]
}

/// A second identity provider, which no route names yet, before `[resources.product]`.
const ADDED_PROVIDER: &str = "
[gateway.identity.partners]
issuer = \"https://partners.example.com/\"
jwks_uri = \"https://partners.example.com/.well-known/jwks.json\"
audiences = [\"https://store.example.com\"]

[resources.product]";

/// Changes to `specs/store.toml`: who may call a public route (its `auth`, an
/// identity provider's settings), and whose rows its routes reach. `(case, edit, exit code)`; their goldens are `store_<case>.*`.
fn store_cases() -> Vec<(&'static str, Edit, u8)> {
    vec![
        (
            "operation_drops_user_token",
            |s| {
                s.replace(
                    "path = \"/me\"\nexposure = \"public\"\nauth = [\"api_key\", \"firebase\"]\n",
                    "path = \"/me\"\nexposure = \"public\"\n",
                )
            },
            3,
        ),
        (
            "operation_asks_for_user_token",
            |s| {
                s.replace(
                    "path = \"/products/{id}/rating-summary\"\nexposure = \"public\"\n",
                    "path = \"/products/{id}/rating-summary\"\nexposure = \"public\"\nauth = [\"api_key\", \"firebase\"]\n",
                )
            },
            1,
        ),
        (
            "identity_audience_added",
            |s| {
                s.replace(
                    "audiences = [\"acme-store-staging\"]",
                    "audiences = [\"acme-store-staging\", \"acme-store-prod\"]",
                )
            },
            3,
        ),
        (
            "identity_provider_added",
            |s| s.replace("\n[resources.product]", ADDED_PROVIDER),
            1,
        ),
        (
            "ownership_removed",
            |s| {
                s.replace(
                    "owner = { field = \"owner\", claim = \"sub\" }",
                    "fields.owner = { type = \"string\", max_length = 255 }",
                )
            },
            3,
        ),
        (
            "ownership_claim_changed",
            |s| {
                s.replace(
                    "owner = { field = \"owner\", claim = \"sub\" }",
                    "owner = { field = \"owner\", claim = \"email\" }",
                )
            },
            1,
        ),
    ]
}

#[test]
fn spec_changes_report_in_every_format_with_their_exit_codes() {
    let failures = report_cases("shop", &shop_src(), cases(), "");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn access_and_ownership_changes_report_in_every_format_with_their_exit_codes() {
    let src = fs::read_to_string(repo().join("specs/store.toml")).expect("specs/store.toml");
    let failures = report_cases("store", &src, store_cases(), "store_");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Each case's report against its goldens (`<prefix><case>.{txt,md,json}`) and its
/// exit code; what differs.
fn report_cases(
    stem: &str,
    base_src: &str,
    cases: Vec<(&'static str, Edit, u8)>,
    prefix: &str,
) -> Vec<String> {
    let base_src = base_src.to_string();
    let base = compile_spec(&base_src, stem);
    let history = history_of(&base);
    let dir = repo().join("compiler/tests/diff");
    let spec_path = format!("specs/{stem}.toml");
    let out_path = format!("generated/{stem}");
    let mut failures = Vec::new();
    for (case, edit, code) in cases {
        let changed = edit(base_src.clone());
        assert_ne!(
            changed, base_src,
            "{case}: the edit changes nothing in the spec"
        );
        let new = compile_spec(&changed, stem);
        let report = diff::diff(Some(&base), &new, &history, &spec_path, &out_path);
        if report.exit_code() != code {
            failures.push(format!(
                "{case}: exit code {} (expected {code})\n{}",
                report.exit_code(),
                diff::render::render(&report, Format::Text)
            ));
        }
        for (format, ext) in [
            (Format::Text, "txt"),
            (Format::Markdown, "md"),
            (Format::Json, "json"),
        ] {
            let got = diff::render::render(&report, format);
            if let Err(why) = golden::check(&dir.join(format!("{prefix}{case}.{ext}")), &got) {
                failures.push(why);
            }
        }
    }
    failures
}

/// An identity provider removed (with no route naming it, as the checker demands) is
/// reported, and widens nothing.
#[test]
fn a_removed_identity_provider_is_reported() {
    let src = fs::read_to_string(repo().join("specs/store.toml")).expect("specs/store.toml");
    let with = compile_spec(
        &src.replace("\n[resources.product]", ADDED_PROVIDER),
        "store",
    );
    let without = compile_spec(&src, "store");
    let report = diff::diff(
        Some(&with),
        &without,
        &history_of(&with),
        "specs/store.toml",
        "generated/store",
    );
    let removed: Vec<_> = report
        .exposure
        .iter()
        .filter(|c| c.name == "gateway.identity.partners")
        .collect();
    assert_eq!(removed.len(), 1, "{:?}", report.exposure);
    assert!(!removed[0].widens);
    assert_eq!(removed[0].to.as_deref(), Some("none"));
    assert!(
        removed[0].summary.contains("is removed"),
        "{}",
        removed[0].summary
    );
    assert_eq!(report.exit_code(), diff::EXIT_CHANGED);
}

#[test]
fn the_json_report_names_what_changed() {
    let base_src = shop_src();
    let base = compile(&base_src);
    let new = compile(&base_src.replace(
        "get = \"public\" }",
        "get = \"public\", delete = \"public\" }",
    ));
    let report = diff::diff(
        Some(&base),
        &new,
        &history_of(&base),
        "specs/shop.toml",
        "generated/shop",
    );
    let json: serde_json::Value =
        serde_json::from_str(&diff::render::render(&report, Format::Json)).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["exposure"][0]["change"], "becomes_public");
    assert_eq!(json["exposure"][0]["name"], "DELETE /products/{id}");
    assert_eq!(json["exposure"][0]["operation_id"], "deleteProduct");
    assert_eq!(json["data"].as_array().unwrap().len(), 0);
}

#[test]
fn a_new_spec_adds_every_route() {
    let base = compile(&shop_src());
    let report = diff::diff(
        None,
        &base,
        &History::default(),
        "specs/shop.toml",
        "git HEAD",
    );
    assert_eq!(report.exit_code(), 3);
    let added: Vec<&str> = report
        .exposure
        .iter()
        .filter(|c| c.widens)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(added, ["GET /products", "GET /products/{id}"]);
    assert!(
        report
            .data
            .iter()
            .all(|d| d.migration.as_deref() == Some("0001_create_tables")),
        "{:?}",
        report.data
    );
}

/// `shopgen` in `cwd`: exit code, stdout, stderr.
fn shopgen(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let run = crate::support::shopgen(args).cwd(cwd).run();
    (run.code(), run.stdout, run.stderr)
}

fn git(cwd: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(cwd)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_command_compares_with_the_output_folder_and_with_a_git_ref() {
    let dir = project().repo_file("specs/shop.toml").build();
    let cwd = dir.root();
    let spec = cwd.join("specs/shop.toml");
    let (code, _, err) = shopgen(cwd, &["build", "-q", "specs/shop.toml"]);
    assert_eq!(code, Some(0), "{err}");
    git(cwd, &["init", "-q"]);
    git(cwd, &["add", "."]);
    git(cwd, &["commit", "-qm", "shop"]);

    // Against the output folder: nothing yet.
    let (code, out, err) = shopgen(cwd, &["diff", "specs/shop.toml"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("no changes"), "{out}");

    // A route becomes public: exit 3, in every format.
    fs::write(
        &spec,
        shop_src().replace(
            "get = \"public\" }",
            "get = \"public\", create = \"public\" }",
        ),
    )
    .unwrap();
    for format in ["text", "markdown", "json"] {
        let (code, out, err) = shopgen(cwd, &["diff", "specs/shop.toml", "--format", format]);
        assert_eq!(code, Some(3), "{format}: {out}{err}");
        assert!(out.contains("POST /products"), "{out}");
    }
    // After the build, the output records the new spec: no change against it, but
    // against the last commit the widening stays.
    let (code, _, err) = shopgen(cwd, &["build", "-q", "specs/shop.toml"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = shopgen(cwd, &["diff", "specs/shop.toml", "--out", "generated/shop"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out, err) = shopgen(cwd, &["diff", "specs/shop.toml", "--against", "HEAD"]);
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(out.contains("against git HEAD"), "{out}");

    // A dropped field against HEAD names the migration a build on HEAD's output adds.
    fs::write(
        &spec,
        shop_src()
            .replace(
                "fields.message = { type = \"text\", max_length = 4000 }\n",
                "",
            )
            .replace("\"message\", ", ""),
    )
    .unwrap();
    let (code, out, err) = shopgen(
        cwd,
        &[
            "diff",
            "specs/shop.toml",
            "--against",
            "HEAD",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drop = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["change"] == "column_dropped")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(drop["column"], "message");
    assert_eq!(drop["data_loss"], true);
    assert_eq!(drop["migration"], "0002_drop_reviews_message");

    // Errors exit 2: a bad ref, a spec that does not compile.
    let (code, _, err) = shopgen(
        cwd,
        &["diff", "specs/shop.toml", "--against", "no-such-ref"],
    );
    assert_eq!(code, Some(2), "{err}");
    fs::write(&spec, "[service]\nname = 7\n").unwrap();
    let (code, _, err) = shopgen(cwd, &["diff", "specs/shop.toml"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("error["), "{err}");
}

#[test]
fn a_custom_operation_that_stops_being_public_is_an_exposure_change() {
    let with_op = |exposure: &str| {
        format!(
            "{}\n[operations.rating_summary]\nmethod = \"GET\"\npath = \"/products/{{id}}/rating-summary\"\n\
             exposure = \"{exposure}\"\nparams.id = {{ type = \"bigint\", min = 1 }}\noutput.average = \"float\"\n",
            shop_src()
        )
    };
    let base = compile(&with_op("public"));
    let new = compile(&with_op("internal"));
    let report = diff::diff(
        Some(&base),
        &new,
        &history_of(&base),
        "specs/shop.toml",
        "generated/shop",
    );
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.exposure.len(), 1, "{:?}", report.exposure);
    let change = &report.exposure[0];
    assert_eq!(change.kind, "operation");
    assert_eq!(change.name, "GET /products/{id}/rating-summary");
    assert_eq!(change.operation_id.as_deref(), Some("ratingSummary"));
    assert_eq!(
        change.change,
        diff::exposure::ExposureKind::StopsBeingPublic
    );
    // And back: widening.
    let back = diff::diff(
        Some(&new),
        &base,
        &history_of(&new),
        "specs/shop.toml",
        "generated/shop",
    );
    assert_eq!(back.exit_code(), 3);
}

/// A stack deployed with the previous shopgen: its generated Terraform as that
/// version wrote it (the created cluster's subnetwork named `default`, the node pool
/// sized by `node_count`, Cloud SQL's range allocated anywhere). `diff` against the
/// output folder compares with those files and shows the replacements this shopgen's
/// output brings before anyone applies it (docs/deploy.md, upgrade notes).
#[test]
fn an_upgrade_that_replaces_resources_shows_them_against_the_output_folder() {
    let src = shop_src()
        .replace("subnetwork = \"default\"\n", "")
        .replace(
            "cluster = { name = \"shop-cluster\", location = \"europe-west2\" }",
            "cluster = { name = \"shop-cluster\", location = \"europe-west2\", create = true }",
        )
        .replace(
            "secret = { name = \"shop-api-db\", key = \"DATABASE_URL\" }",
            "cloud_sql = { tier = \"db-custom-1-3840\" }",
        );
    let dir = project().file("specs/shop.toml", src).build();
    let cwd = dir.root();
    let (code, _, err) = shopgen(cwd, &["build", "-q", "specs/shop.toml"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = shopgen(cwd, &["diff", "specs/shop.toml"]);
    assert_eq!(code, Some(0), "{out}{err}");

    // Turn the output back into what the previous version wrote.
    let tf = cwd.join("generated/shop/terraform");
    let rewrite = |file: &str, edits: &[(&str, &str)]| {
        let path = tf.join(file);
        let mut text = fs::read_to_string(&path).unwrap();
        for (from, to) in edits {
            assert!(text.contains(from), "{file}: `{from}` is not there");
            text = text.replacen(from, to, 1);
        }
        fs::write(&path, text).unwrap();
    };
    rewrite(
        "variables.tf",
        &[(
            "default     = \"shop-api-gke\"",
            "default     = \"default\"",
        )],
    );
    rewrite(
        "cluster.tf",
        &[("  initial_node_count = 1\n", "  node_count = 1\n")],
    );
    rewrite("database.tf", &[("  address       = \"10.96.0.0\"\n", "")]);

    let (code, out, err) = shopgen(cwd, &["diff", "specs/shop.toml"]);
    assert_eq!(code, Some(1), "{out}{err}");
    for replaced in [
        "google_container_node_pool.default",
        "google_compute_global_address.sql_private_range",
        // The subnetwork's name is `var.subnetwork`, whose default changes; the
        // cluster and the reserved address on it follow.
        "google_compute_subnetwork.cluster",
        "google_container_cluster.cluster",
        "google_compute_address.ilb",
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(replaced))
            .unwrap_or_else(|| panic!("{replaced} is not in the report:\n{out}"));
        assert!(line.contains("REPLACED"), "{line}");
    }
    assert!(out.contains("~ terraform variable.subnetwork"), "{out}");
    // Nothing else is replaced.
    assert_eq!(out.matches("REPLACED").count(), 5, "{out}");
}

/// `shopgen diff` for an existing service (specs/legacy.toml): an internal operation
/// made public widens the exposure (exit 3); a changed selector is the Service's
/// change; `shopgen check` sees the folder current before and stale after.
#[test]
fn the_command_reports_an_existing_services_changes() {
    let dir = project().repo_file("specs/legacy.toml").build();
    let cwd = dir.root();
    let spec = cwd.join("specs/legacy.toml");
    let (code, _, err) = shopgen(cwd, &["build", "-q", "specs/legacy.toml"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = shopgen(cwd, &["check", "specs/legacy.toml"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = shopgen(cwd, &["diff", "specs/legacy.toml"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("no changes"), "{out}");

    let src = fs::read_to_string(&spec).unwrap();
    let changed = src
        .replace(
            "summary = \"Add a review to a product\"",
            "summary = \"Add a review to a product\"\nexposure = \"public\"",
        )
        .replace("tier = \"web\"", "tier = \"api\"");
    assert_ne!(src, changed);
    fs::write(&spec, changed).unwrap();
    let (code, out, err) = shopgen(cwd, &["diff", "specs/legacy.toml"]);
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.contains("POST /api/v1/products/{productId}/reviews (createReview) becomes public"),
        "{out}"
    );
    assert!(
        out.contains("Service legacy/legacy-api (k8s/service.yaml): changes spec.selector"),
        "{out}"
    );
    let (code, out, err) = shopgen(cwd, &["check", "specs/legacy.toml"]);
    assert_ne!(code, Some(0), "{out}{err}");
}
