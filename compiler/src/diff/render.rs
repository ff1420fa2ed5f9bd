//! Diff: the report as text (a terminal), Markdown (a pull-request comment) or JSON
//! (tools; the format is documented in docs/diff.md and versioned by
//! [`JSON_FORMAT_VERSION`]).

use std::fmt::Write as _;

use serde::Serialize;

use super::data::DataKind;
use super::exposure::ExposureKind;
use super::{Change, Report};

/// `format_version` of the JSON output; raised only when a field changes meaning or
/// goes away (new fields and new `change` values may appear without it).
pub const JSON_FORMAT_VERSION: u32 = 1;

/// How `shopgen diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Markdown => markdown(report),
        Format::Json => json(report),
    }
}

fn exposure_sign(kind: ExposureKind, widens: bool) -> &'static str {
    match (kind, widens) {
        (_, true) => "!",
        (ExposureKind::Added, _) => "+",
        (ExposureKind::Removed | ExposureKind::StopsBeingPublic, _) => "-",
        _ => "~",
    }
}

fn data_sign(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Refused => "x",
        DataKind::TableAdded | DataKind::ColumnAdded => "+",
        DataKind::TableDropped | DataKind::ColumnDropped => "-",
        DataKind::ColumnChanged => "~",
    }
}

fn data_line(c: &super::DataChange) -> String {
    let what = match (c.change, &c.table, &c.column) {
        (DataKind::Refused, _, _) => "refused".to_string(),
        (DataKind::TableAdded, Some(t), _) => format!("table {t} added"),
        (DataKind::TableDropped, Some(t), _) => format!("table {t} dropped"),
        (DataKind::ColumnAdded, Some(t), Some(col)) => format!("column {t}.{col} added"),
        (DataKind::ColumnDropped, Some(t), Some(col)) => format!("column {t}.{col} dropped"),
        (DataKind::ColumnChanged, Some(t), Some(col)) => format!("column {t}.{col} changes"),
        (_, t, col) => format!(
            "{} {}",
            t.as_deref().unwrap_or("-"),
            col.as_deref().unwrap_or("")
        ),
    };
    let loss = if c.data_loss { " DATA LOSS," } else { "" };
    let migration = c
        .migration
        .as_ref()
        .map(|m| format!(" [migration backend/migrations/{{sqlite,postgres}}/{m}.sql]"))
        .unwrap_or_default();
    format!("{what}:{loss} {}{migration}", c.detail)
}

fn infra_line(c: &super::InfraChange) -> String {
    let system = match c.system {
        super::infra::System::Terraform => "terraform",
        super::infra::System::Kubernetes => "kubernetes",
    };
    let what = match c.change {
        Change::Added => "added".to_string(),
        Change::Removed => "removed".to_string(),
        Change::Changed => format!("changes {}", c.attributes.join(", ")),
    };
    let note = c
        .note
        .as_ref()
        .map(|n| format!("; {n}"))
        .unwrap_or_default();
    let replaces = if c.replaces { " is REPLACED" } else { "" };
    format!(
        "{system} {} ({}){replaces}: {what}{note}",
        c.address, c.file
    )
}

fn verdict(report: &Report) -> String {
    match report.exit_code() {
        super::EXIT_WIDENS => {
            "exposure widens: something becomes reachable from the internet".into()
        }
        super::EXIT_CHANGED => "changes, no exposure widens".into(),
        _ => "no changes".into(),
    }
}

fn text(r: &Report) -> String {
    let mut s = String::new();
    writeln!(s, "shopgen diff {} against {}", r.spec, r.against).ok();
    if r.is_empty() {
        writeln!(s, "\nno changes").ok();
        return s;
    }
    if !r.exposure.is_empty() {
        let title = if r.widens() {
            "EXPOSURE (WIDENS)"
        } else {
            "EXPOSURE"
        };
        writeln!(s, "\n{title}").ok();
        for c in &r.exposure {
            writeln!(s, "  {} {}", exposure_sign(c.change, c.widens), c.summary).ok();
        }
    }
    if !r.data.is_empty() {
        writeln!(s, "\nDATA").ok();
        for c in &r.data {
            writeln!(s, "  {} {}", data_sign(c.change), data_line(c)).ok();
        }
    }
    if !r.infrastructure.is_empty() {
        writeln!(s, "\nINFRASTRUCTURE").ok();
        for c in &r.infrastructure {
            let sign = if c.replaces { '!' } else { c.change.sign() };
            writeln!(s, "  {sign} {}", infra_line(c)).ok();
        }
    }
    if !r.files.is_empty() {
        writeln!(s, "\nOTHER GENERATED FILES").ok();
        for f in &r.files {
            writeln!(s, "  {} {}", f.change.sign(), f.path).ok();
        }
    }
    writeln!(s, "\n{}", verdict(r)).ok();
    s
}

/// Markdown cells cannot hold `|` or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(r: &Report) -> String {
    let mut s = String::new();
    writeln!(s, "### shopgen diff: `{}` against {}\n", r.spec, r.against).ok();
    if r.is_empty() {
        writeln!(s, "No changes.").ok();
        return s;
    }
    if r.widens() {
        writeln!(
            s,
            "> [!WARNING]\n> **Exposure widens**: this change makes something reachable from the internet through API Gateway. It needs an extra approval.\n"
        )
        .ok();
    }
    if !r.exposure.is_empty() {
        writeln!(s, "#### Exposure\n\n| | change |\n|---|---|").ok();
        for c in &r.exposure {
            let mark = if c.widens {
                "**widens**"
            } else {
                exposure_sign(c.change, false)
            };
            writeln!(s, "| {mark} | {} |", cell(&c.summary)).ok();
        }
        s.push('\n');
    }
    if !r.data.is_empty() {
        writeln!(s, "#### Data\n\n| | change | migration |\n|---|---|---|").ok();
        for c in &r.data {
            let mark = match (c.change, c.data_loss) {
                (DataKind::Refused, _) => "**refused**",
                (_, true) => "**data loss**",
                (k, _) => data_sign(k),
            };
            let mut line = data_line(&super::DataChange {
                migration: None,
                ..c.clone()
            });
            if c.data_loss {
                line = line.replace(" DATA LOSS,", "");
            }
            let migration = c
                .migration
                .as_ref()
                .map(|m| format!("`{m}.sql`"))
                .unwrap_or_default();
            writeln!(s, "| {mark} | {} | {migration} |", cell(&line)).ok();
        }
        s.push('\n');
    }
    if !r.infrastructure.is_empty() {
        writeln!(
            s,
            "#### Infrastructure\n\n| | object | file | change |\n|---|---|---|---|"
        )
        .ok();
        for c in &r.infrastructure {
            let mark = if c.replaces {
                "**replaced**".to_string()
            } else {
                c.change.sign().to_string()
            };
            let system = match c.system {
                super::infra::System::Terraform => "Terraform",
                super::infra::System::Kubernetes => "Kubernetes",
            };
            let what = match c.change {
                Change::Added => "added".to_string(),
                Change::Removed => "removed".to_string(),
                Change::Changed => c
                    .attributes
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let note = c
                .note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(
                s,
                "| {mark} | {system} `{}` | `{}` | {}{} |",
                c.address,
                c.file,
                cell(&what),
                cell(&note)
            )
            .ok();
        }
        s.push('\n');
    }
    if !r.files.is_empty() {
        writeln!(
            s,
            "<details><summary>Other generated files ({})</summary>\n",
            r.files.len()
        )
        .ok();
        for f in &r.files {
            writeln!(s, "- {} `{}`", f.change.sign(), f.path).ok();
        }
        writeln!(s, "\n</details>\n").ok();
    }
    writeln!(s, "Result: {} (exit code {}).", verdict(r), r.exit_code()).ok();
    s
}

#[derive(Serialize)]
struct Json<'a> {
    format_version: u32,
    exit_code: u8,
    exposure_widens: bool,
    #[serde(flatten)]
    report: &'a Report,
}

fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&Json {
        format_version: JSON_FORMAT_VERSION,
        exit_code: r.exit_code(),
        exposure_widens: r.widens(),
        report: r,
    })
    .unwrap_or_else(|e| panic!("internal error: the diff report does not serialize: {e}"));
    s.push('\n');
    s
}
