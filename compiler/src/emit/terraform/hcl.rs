//! A small HCL writer for the Terraform emitter: blocks, attributes and comments laid
//! out exactly as `terraform fmt` lays them out (two-space indent, `=` aligned across
//! each run of single-line attributes), so generated `.tf` files pass
//! `terraform fmt -check` as written.
//!
//! Values are expressions written as text ([`Expr`]); [`str`] quotes and escapes a
//! literal string (including `${` / `%{`, which would otherwise start a template).

use std::fmt::Write as _;

/// An HCL expression, as text. Multi-line expressions (objects, long lists) are
/// written with their inner lines indented relative to the attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr(pub String);

impl Expr {
    /// A reference or any other expression written verbatim (`var.region`).
    pub fn raw(s: impl Into<String>) -> Self {
        Expr(s.into())
    }
    fn is_multiline(&self) -> bool {
        self.0.contains('\n')
    }
}

/// A quoted HCL string literal.
pub fn str(s: &str) -> Expr {
    Expr(quote(s))
}

/// A quoted template string: `${…}` interpolations are kept (for `"${var.x}-y"`), but
/// quotes, backslashes and control characters are escaped.
pub fn template(s: &str) -> Expr {
    let mut out = String::from("\"");
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out.push('"');
    Expr(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{:04X}", c as u32);
        }
        c => out.push(c),
    }
}

/// Quotes a literal: escapes, and turns `${` / `%{` into `$${` / `%%{`.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if (c == '$' || c == '%') && chars.get(i + 1) == Some(&'{') {
            out.push(c);
        }
        push_escaped(&mut out, c);
    }
    out.push('"');
    out
}

/// `true` / `false`.
pub fn bool(b: bool) -> Expr {
    Expr(b.to_string())
}

/// A number.
pub fn num(n: impl std::fmt::Display) -> Expr {
    Expr(n.to_string())
}

/// `[a, b]` on one line.
pub fn list(items: &[Expr]) -> Expr {
    let inner: Vec<&str> = items.iter().map(|e| e.0.as_str()).collect();
    Expr(format!("[{}]", inner.join(", ")))
}

/// A list with one item per line (for `depends_on` and long lists).
pub fn list_lines(items: &[Expr]) -> Expr {
    if items.is_empty() {
        return Expr("[]".into());
    }
    let mut s = String::from("[\n");
    for item in items {
        let _ = writeln!(s, "  {},", item.0);
    }
    s.push(']');
    Expr(s)
}

/// An object `{ key = value }` with one attribute per line, `=` aligned.
pub fn object(entries: &[(&str, Expr)]) -> Expr {
    let mut body = Body::default();
    for (k, v) in entries {
        body = body.attr(k, v.clone());
    }
    let mut s = String::from("{\n");
    body.render_into(&mut s, 1);
    s.push('}');
    Expr(s)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Attr(String, Expr),
    Block(Block),
    Blank,
    Comment(String),
}

/// The inside of a block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    items: Vec<Item>,
}

impl Body {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn attr(mut self, key: &str, value: Expr) -> Self {
        self.items.push(Item::Attr(key.to_string(), value));
        self
    }
    pub fn attr_opt(self, key: &str, value: Option<Expr>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }
    pub fn block(mut self, block: Block) -> Self {
        self.items.push(Item::Block(block));
        self
    }
    pub fn blank(mut self) -> Self {
        self.items.push(Item::Blank);
        self
    }
    pub fn comment(mut self, text: &str) -> Self {
        for line in text.lines() {
            self.items.push(Item::Comment(line.to_string()));
        }
        self
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let mut i = 0;
        let items = &self.items;
        while i < items.len() {
            match &items[i] {
                Item::Attr(..) => {
                    // A run of consecutive single-line attributes aligns its `=`
                    // (terraform fmt); a multi-line attribute stands alone.
                    let start = i;
                    let mut end = i + 1;
                    let single = |it: &Item| matches!(it, Item::Attr(_, v) if !v.is_multiline());
                    if single(&items[start]) {
                        while end < items.len() && single(&items[end]) {
                            end += 1;
                        }
                    }
                    let width = items[start..end]
                        .iter()
                        .map(|it| match it {
                            Item::Attr(k, _) => k.len(),
                            _ => 0,
                        })
                        .max()
                        .unwrap_or(0);
                    for it in &items[start..end] {
                        if let Item::Attr(k, v) = it {
                            let mut lines = v.0.lines();
                            let first = lines.next().unwrap_or("");
                            let _ = writeln!(out, "{pad}{k:<width$} = {first}");
                            for line in lines {
                                if line.is_empty() {
                                    out.push('\n');
                                } else {
                                    let _ = writeln!(out, "{pad}{line}");
                                }
                            }
                        }
                    }
                    i = end;
                }
                Item::Block(b) => {
                    b.render_into(out, depth);
                    i += 1;
                }
                Item::Blank => {
                    out.push('\n');
                    i += 1;
                }
                Item::Comment(c) => {
                    if c.is_empty() {
                        let _ = writeln!(out, "{pad}#");
                    } else {
                        let _ = writeln!(out, "{pad}# {c}");
                    }
                    i += 1;
                }
            }
        }
    }
}

/// `type "label" "label" { body }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    ty: String,
    labels: Vec<String>,
    body: Body,
}

impl Block {
    pub fn new(ty: &str, labels: &[&str], body: Body) -> Self {
        Block {
            ty: ty.to_string(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            body,
        }
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let mut head = format!("{pad}{}", self.ty);
        for l in &self.labels {
            let _ = write!(head, " {}", quote(l));
        }
        if self.body.items.is_empty() {
            let _ = writeln!(out, "{head} {{}}");
            return;
        }
        let _ = writeln!(out, "{head} {{");
        self.body.render_into(out, depth + 1);
        let _ = writeln!(out, "{pad}}}");
    }
}

/// A whole `.tf` file: top-level blocks separated by one blank line, each optionally
/// preceded by a comment.
#[derive(Debug, Clone, Default)]
pub struct File {
    parts: Vec<(Vec<String>, Block)>,
}

impl File {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, block: Block) {
        self.parts.push((Vec::new(), block));
    }
    pub fn push_commented(&mut self, comment: &str, block: Block) {
        self.parts
            .push((comment.lines().map(str::to_string).collect(), block));
    }
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, (comment, block)) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            for c in comment {
                if c.is_empty() {
                    out.push_str("#\n");
                } else {
                    let _ = writeln!(out, "# {c}");
                }
            }
            block.render_into(&mut out, 0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escape_templates() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(quote("${x}"), "\"$${x}\"");
        assert_eq!(quote("%{if}"), "\"%%{if}\"");
        assert_eq!(quote("50$"), "\"50$\"");
    }

    #[test]
    fn aligns_runs_of_attributes() {
        let mut f = File::new();
        f.push(Block::new(
            "resource",
            &["google_x", "y"],
            Body::new()
                .attr("name", str("n"))
                .attr("project_id", str("p"))
                .blank()
                .attr("a", num(1))
                .block(Block::new("inner", &[], Body::new().attr("k", bool(true)))),
        ));
        assert_eq!(
            f.render(),
            "resource \"google_x\" \"y\" {\n  name       = \"n\"\n  project_id = \"p\"\n\n  a = 1\n  inner {\n    k = true\n  }\n}\n"
        );
    }
}
