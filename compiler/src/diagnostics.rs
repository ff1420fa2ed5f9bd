//! Diagnostics: user errors as plain data, rendered in one place in rustc's style.
//!
//! Every stage that rejects input (`spec` for shape, `check` for meaning) pushes
//! [`Diagnostic`]s into a list instead of returning early, so one run reports every
//! error. [`render`] turns them into text with `file:line:col`, the source line, a
//! caret under the offending span, the item path and a hint. The migration planner
//! (`emit::history`) reports the schema changes it refuses the same way, located at
//! the spec items that cause them. Every code is a [`Code`] from the one registry in
//! [`codes`].

pub mod codes;
pub mod warnings;

use std::ops::Range;

pub use codes::Code;
pub use warnings::{Lint, Warning};

/// One user error in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code (`E0101`), from the registry and listed in docs/spec.md.
    pub code: Code,
    pub message: String,
    /// Byte range in the spec source.
    pub span: Range<usize>,
    /// Dotted item path (`resources.review.fields.rate`); empty for the whole file.
    pub path: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(
        code: Code,
        span: Range<usize>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            span,
            path: path.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_char_boundary(src, offset);
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

fn clamp_to_char_boundary(src: &str, offset: usize) -> usize {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders every diagnostic, sorted by position, followed by a summary line.
pub fn render(diagnostics: &[Diagnostic], file: &str, src: &str) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by(|a, b| {
        (a.span.start, a.span.end, a.code, &a.message).cmp(&(
            b.span.start,
            b.span.end,
            b.code,
            &b.message,
        ))
    });
    sorted.dedup_by(|a, b| a == b);
    let mut out = String::new();
    for d in &sorted {
        render_one(&mut out, d, file, src);
        out.push('\n');
    }
    let n = sorted.len();
    out.push_str(&format!(
        "error: {file} has {n} error{s}; nothing was written\n",
        s = if n == 1 { "" } else { "s" }
    ));
    out
}

/// Renders every warning ([`warnings`]), in the order of the spec, followed
/// by a count; nothing for none.
pub fn render_warnings(warnings: &[Warning], file: &str, src: &str) -> String {
    let mut sorted: Vec<_> = warnings.iter().collect();
    sorted.sort_by_key(|w| (w.span.start, w.lint));
    let mut out = String::new();
    for w in &sorted {
        let head = format!("warning[{}]: {}", w.lint.name(), w.message);
        render_at(&mut out, &head, &w.span, &w.path, Some(&w.hint), file, src);
        out.push('\n');
    }
    if let n @ 1.. = sorted.len() {
        out.push_str(&format!(
            "warning: {file} has {n} warning{s}\n",
            s = if n == 1 { "" } else { "s" }
        ));
    }
    out
}

fn render_one(out: &mut String, d: &Diagnostic, file: &str, src: &str) {
    let head = format!("error[{}]: {}", d.code, d.message);
    render_at(out, &head, &d.span, &d.path, d.hint.as_deref(), file, src);
}

/// `head`, then where `span` is in `src` (with a caret under it), the item path and
/// the hint.
fn render_at(
    out: &mut String,
    head: &str,
    span: &Range<usize>,
    path: &str,
    hint: Option<&str>,
    file: &str,
    src: &str,
) {
    let start = clamp_to_char_boundary(src, span.start);
    let end = clamp_to_char_boundary(src, span.end.max(start));
    let (line, col) = line_col(src, start);
    out.push_str(head);
    out.push('\n');
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    out.push_str(&format!("{pad}--> {file}:{line}:{col}\n"));
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
    let text = src[line_start..line_end].trim_end_matches('\r');
    if !src.is_empty() {
        let underline_end = end.min(line_end).max(start);
        let width = src[start..underline_end].chars().count().max(1);
        let lead: String = src[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        out.push_str(&format!("{pad} |\n"));
        out.push_str(&format!("{line} | {text}\n"));
        out.push_str(&format!("{pad} | {lead}{}\n", "^".repeat(width)));
    }
    if !path.is_empty() {
        out.push_str(&format!("{pad} = at: {path}\n"));
    }
    if let Some(hint) = hint {
        out.push_str(&format!("{pad} = help: {hint}\n"));
    }
}

/// The closest candidate to `word`, if any is close enough to suggest.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        let eq = src.find("= 2").unwrap();
        assert_eq!(line_col(src, eq), (2, 4));
    }

    #[test]
    fn suggestion_picks_closest() {
        let c = ["max_length", "min_length", "pattern"];
        assert_eq!(did_you_mean("max_lenght", c), Some("max_length"));
        assert_eq!(did_you_mean("colour", c), None);
    }
}
