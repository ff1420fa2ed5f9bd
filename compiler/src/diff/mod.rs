//! Diff: what a spec change does, in the spec's terms.
//!
//! Stage: after `lower`, pure. Takes two lowered models (the spec as the output was
//! built from it, or as it is at a git ref; `None` when there was none) and the
//! migration history the output holds; gives a [`Report`] in four parts, loudest first:
//!
//! 1. [`exposure`]: what becomes reachable through API Gateway, what stops, routes
//!    added or removed, gateway settings (the API-key header) that change;
//! 2. [`data`]: tables and columns added or dropped, with the migration the next build
//!    writes (from the migration planner itself, `emit::history`), data loss on drops,
//!    field changes, and changes shopgen refuses to migrate with the planner's reason;
//! 3. [`infra`]: Terraform resources (by address) and Kubernetes objects (by kind and
//!    name) whose generated definition changes, noting replacements;
//! 4. other generated files that change (backend code, OpenAPI documents).
//!
//! [`Report::exit_code`] is what `shopgen diff` exits with: 0 nothing changes, 1
//! something does, 3 exposure widens. [`render`] prints it as text, Markdown or JSON.

pub mod data;
pub mod exposure;
pub mod infra;
pub mod render;

use serde::Serialize;

use crate::emit::{self, GeneratedFile, History};
use crate::model::Model;

pub use data::DataChange;
pub use exposure::ExposureChange;
pub use infra::InfraChange;

/// Exit code when nothing changes.
pub const EXIT_SAME: u8 = 0;
/// Exit code when something changes and no exposure widens.
pub const EXIT_CHANGED: u8 = 1;
/// Exit code when exposure widens (CI can require an extra approval).
pub const EXIT_WIDENS: u8 = 3;

/// Everything a spec change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The spec as given (`specs/shop.toml`).
    pub spec: String,
    /// What it was compared with, in words (`generated/shop`, `git HEAD`).
    pub against: String,
    /// Widening changes first, then the rest; each group by name.
    pub exposure: Vec<ExposureChange>,
    pub data: Vec<DataChange>,
    pub infrastructure: Vec<InfraChange>,
    /// Other generated files whose bytes change, by path.
    pub files: Vec<FileChange>,
}

/// A generated file outside Terraform, Kubernetes and the migrations that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub change: Change,
    pub path: String,
}

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    /// `+`, `-`, `~`.
    pub fn sign(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Changed => '~',
        }
    }
}

impl Report {
    /// Whether a change makes anything more reachable from the internet.
    pub fn widens(&self) -> bool {
        self.exposure.iter().any(|c| c.widens)
    }

    pub fn is_empty(&self) -> bool {
        self.exposure.is_empty()
            && self.data.is_empty()
            && self.infrastructure.is_empty()
            && self.files.is_empty()
    }

    /// 0 nothing changes, 1 something does, 3 exposure widens.
    pub fn exit_code(&self) -> u8 {
        if self.widens() {
            EXIT_WIDENS
        } else if self.is_empty() {
            EXIT_SAME
        } else {
            EXIT_CHANGED
        }
    }
}

/// Compares `old` (`None`: no spec before) with `new`. `history` is the migration
/// history of the output `old` was built into, from which the next build continues.
pub fn diff(
    old: Option<&Model>,
    new: &Model,
    history: &History,
    spec: &str,
    against: &str,
) -> Report {
    diff_deployed(old, new, history, spec, against, None)
}

/// [`diff`], with the infrastructure compared against the Terraform and Kubernetes
/// files as they are in the output folder (`deployed`) rather than as this shopgen
/// would emit them from the old spec: a new shopgen that changes the generated
/// infrastructure of the same spec (a renamed subnetwork, a node pool that must be
/// recreated) shows those changes, replacements included, before they are applied.
pub fn diff_deployed(
    old: Option<&Model>,
    new: &Model,
    history: &History,
    spec: &str,
    against: &str,
    deployed: Option<&[GeneratedFile]>,
) -> Report {
    let old_files = old.map(emit::emit_all).unwrap_or_default();
    let new_files = emit::emit_all(new);
    let infrastructure = match deployed {
        Some(files) => {
            // The deployed Terraform and Kubernetes files; the rest (the documents
            // Terraform reads) as the old spec gives them.
            let mut old_side: Vec<GeneratedFile> = files.to_vec();
            old_side.extend(
                old_files
                    .iter()
                    .filter(|f| !f.path.starts_with("terraform/") && !f.path.starts_with("k8s/"))
                    .cloned(),
            );
            infra::changes(&old_side, &new_files)
        }
        None => infra::changes(&old_files, &new_files),
    };
    let files = other_files(&old_files, &new_files);
    Report {
        spec: spec.to_string(),
        against: against.to_string(),
        exposure: exposure::changes(old, new),
        data: data::changes(old, new, history),
        infrastructure,
        files,
    }
}

/// Whether a generated path is covered by another part of the report (or is the
/// record of the spec itself).
fn covered(path: &str) -> bool {
    path.starts_with("terraform/")
        || path.starts_with("k8s/")
        || path.starts_with("backend/migrations/")
        || path == emit::spec_record::PATH
}

fn other_files(old: &[GeneratedFile], new: &[GeneratedFile]) -> Vec<FileChange> {
    let body = |f: &GeneratedFile| {
        emit::parse_header(&f.contents)
            .map(|(_, b)| b.to_string())
            .unwrap_or_else(|| f.contents.clone())
    };
    let old: std::collections::BTreeMap<&str, String> = old
        .iter()
        .filter(|f| !covered(&f.path))
        .map(|f| (f.path.as_str(), body(f)))
        .collect();
    let new: std::collections::BTreeMap<&str, String> = new
        .iter()
        .filter(|f| !covered(&f.path))
        .map(|f| (f.path.as_str(), body(f)))
        .collect();
    let mut out = Vec::new();
    for (path, b) in &new {
        match old.get(path) {
            None => out.push(FileChange {
                change: Change::Added,
                path: path.to_string(),
            }),
            Some(o) if o != b => out.push(FileChange {
                change: Change::Changed,
                path: path.to_string(),
            }),
            Some(_) => {}
        }
    }
    for path in old.keys().filter(|p| !new.contains_key(*p)) {
        out.push(FileChange {
            change: Change::Removed,
            path: path.to_string(),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
