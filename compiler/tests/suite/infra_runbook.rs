//! docs/deploy.md only uses what the generated files offer: every `terraform output`
//! it reads is declared, every `-var`/`TF_VAR_` it sets is a variable, every
//! `-target` is a resource, every `generated/shop/…` path it names is generated, and
//! the Secret it creates is the one the Deployment reads.

use crate::support::infra::{body, files, model, variants};
use crate::support::repo;

fn runbook() -> String {
    std::fs::read_to_string(repo().join("docs/deploy.md")).expect("docs/deploy.md")
}

/// Words following `marker` in the runbook (up to a space, quote or `=`).
fn after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"')=`".contains(c))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|w| !w.is_empty() && !w.starts_with('<'))
        .collect()
}

#[test]
fn the_runbook_uses_only_what_the_generated_files_declare() {
    let doc = runbook();
    // Union over the variants: an output may exist only in one mode (Cloud SQL).
    let mut tf = String::new();
    let mut paths = Vec::new();
    for v in variants() {
        let files = files(&model(&v));
        for f in &files {
            if f.path.starts_with("terraform/") {
                tf.push_str(body(&files, &f.path));
            }
            paths.push(format!("generated/shop/{}", f.path));
        }
    }
    let outputs = after(&doc, "output -raw ");
    assert!(outputs.len() >= 4, "{outputs:?}");
    for o in outputs {
        assert!(
            tf.contains(&format!("output \"{o}\"")),
            "runbook reads undeclared output {o}"
        );
    }
    let mut vars = after(&doc, "-var ");
    vars.extend(after(&doc, "TF_VAR_"));
    assert!(vars.len() >= 3, "{vars:?}");
    for v in vars {
        assert!(
            tf.contains(&format!("variable \"{v}\"")),
            "runbook sets unknown variable {v}"
        );
    }
    for t in after(&doc, "-target=") {
        let (ty, name) = t.split_once('.').expect("TYPE.NAME");
        assert!(
            tf.contains(&format!("resource \"{ty}\" \"{name}\"")),
            "runbook targets unknown resource {t}"
        );
    }
    for p in after(&doc, "generated/shop/") {
        let full = format!("generated/shop/{p}");
        let full = full.trim_end_matches(['.', ',', ';', '/']);
        assert!(
            paths
                .iter()
                .any(|g| g == full || g.starts_with(&format!("{full}/"))),
            "runbook names {full}, which shopgen does not generate"
        );
    }
}

#[test]
fn the_runbook_creates_the_secret_the_deployment_reads() {
    let doc = runbook();
    let m = model(&variants()[0]);
    let shopgen::model::Database::ExistingSecret { secret, key } = &m.database else {
        panic!("the reference spec uses an existing database");
    };
    assert!(doc.contains(&format!(
        "kubectl -n {} create secret generic {secret}",
        m.service.namespace
    )));
    assert!(doc.contains(&format!("--from-literal={key}=")));
    assert!(doc.contains(&format!("--from-file={key}=")));
    assert!(doc.contains("curl -sS -H \"X-API-KEY: $KEY\" \"$GATEWAY/products\""));
    assert!(doc.contains(&format!(
        "kubectl -n {} rollout status deployment/{}",
        m.service.namespace, m.service.names.derived.k8s_name
    )));
}
