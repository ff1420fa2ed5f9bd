//! A small HCL writer for the Terraform emitter: blocks, attributes and comments laid
//! out exactly as `terraform fmt` lays them out (two-space indent, `=` aligned across
//! each run of single-line attributes), so generated `.tf` files pass
//! `terraform fmt -check` as written.
//!
//! Values are typed expressions ([`Expr`]): literals, references ([`Ref`]: `var.x`,
//! `google_x.y.attr`, `local.z`), function calls, lists, objects, conditionals and
//! template strings are each built by a constructor, so an emitter cannot write a
//! malformed expression (an unbalanced quote, a `${` left unescaped in a literal, an
//! identifier that is not one). Only rendering turns them into text.

use std::fmt::Write as _;

/// One step of a reference: an attribute name (an HCL identifier).
fn check_ident(s: &str) -> &str {
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    assert!(ok, "internal error: `{s}` is not an HCL identifier");
    s
}

/// A reference: a root name and attribute steps (`google_compute_address.ilb.address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref(Vec<String>);

impl Ref {
    fn new(root: &str, steps: &[&str]) -> Self {
        let mut v = vec![check_ident(root).to_string()];
        v.extend(steps.iter().map(|s| check_ident(s).to_string()));
        Ref(v)
    }
    /// `var.NAME`.
    pub fn var(name: &str) -> Self {
        Ref::new("var", &[name])
    }
    /// `local.NAME`.
    pub fn local(name: &str) -> Self {
        Ref::new("local", &[name])
    }
    /// `TYPE.NAME` of a managed resource.
    pub fn resource(ty: &str, name: &str) -> Self {
        Ref::new(ty, &[name])
    }
    /// `data.TYPE.NAME`.
    pub fn data(ty: &str, name: &str) -> Self {
        Ref::new("data", &[ty, name])
    }
    /// `each.value`.
    pub fn each_value() -> Self {
        Ref::new("each", &["value"])
    }
    /// `path.module`.
    pub fn path_module() -> Self {
        Ref::new("path", &["module"])
    }
    /// A bare name (a provider reference such as `google-beta`).
    pub fn name(name: &str) -> Self {
        Ref::new(name, &[])
    }
    /// `each.key`.
    pub fn each_key() -> Self {
        Ref::new("each", &["key"])
    }
    /// This reference with one more attribute step.
    pub fn attr(mut self, step: &str) -> Self {
        self.0.push(check_ident(step).to_string());
        self
    }
    /// This reference indexed by a string key (`TYPE.NAME["key"]`), for an instance
    /// of a resource with `for_each`.
    pub fn index(mut self, key: &str) -> Self {
        let last = self.0.pop().expect("a reference has a root");
        self.0.push(format!("{last}[{}]", quote(key)));
        self
    }
    /// As an expression.
    pub fn expr(self) -> Expr {
        Expr::Ref(self)
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
}

/// One part of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text (escaped, `${` / `%{` doubled).
    Text(String),
    /// `${expr}`.
    Interp(Expr),
}

/// An HCL expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Str(String),
    Bool(bool),
    Num(String),
    Ref(Ref),
    Template(Vec<Part>),
    Call(&'static str, Vec<Expr>),
    /// A list on one line.
    List(Vec<Expr>),
    /// A list with one item per line.
    ListLines(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
    /// A type constraint (`string`, `number`, `bool`, `list(string)`).
    Type(&'static str),
    /// `{ for K, V in COLLECTION : K => VALUE }`: an object built from a map.
    ForObject {
        key: &'static str,
        value: &'static str,
        collection: Ref,
        result: Box<Expr>,
    },
}

impl From<Ref> for Expr {
    fn from(r: Ref) -> Self {
        Expr::Ref(r)
    }
}

impl Expr {
    fn is_multiline(&self) -> bool {
        self.render().contains('\n')
    }

    /// The expression as text; inner lines of multi-line expressions are indented
    /// relative to the first line.
    pub fn render(&self) -> String {
        match self {
            Expr::Str(s) => quote(s),
            Expr::Bool(b) => b.to_string(),
            Expr::Num(n) => n.clone(),
            Expr::Type(t) => (*t).to_string(),
            Expr::Ref(r) => r.0.join("."),
            Expr::Template(parts) => {
                let mut out = String::from("\"");
                for p in parts {
                    match p {
                        Part::Text(t) => {
                            let q = quote(t);
                            out.push_str(&q[1..q.len() - 1]);
                        }
                        Part::Interp(e) => {
                            let inner = e.render();
                            assert!(
                                !inner.contains('\n'),
                                "internal error: multi-line expression in a template"
                            );
                            let _ = write!(out, "${{{inner}}}");
                        }
                    }
                }
                out.push('"');
                out
            }
            Expr::Call(name, args) => {
                let args: Vec<String> = args.iter().map(Expr::render).collect();
                format!("{}({})", check_ident(name), args.join(", "))
            }
            Expr::List(items) => {
                let items: Vec<String> = items.iter().map(Expr::render).collect();
                format!("[{}]", items.join(", "))
            }
            Expr::ListLines(items) => {
                if items.is_empty() {
                    return "[]".into();
                }
                let mut s = String::from("[\n");
                for item in items {
                    for line in item.render().lines() {
                        let _ = writeln!(s, "  {line}");
                    }
                    s.pop();
                    s.push_str(",\n");
                }
                s.push(']');
                s
            }
            Expr::Object(entries) => {
                let mut body = Body::default();
                for (k, v) in entries {
                    body = body.attr(k, v.clone());
                }
                let mut s = String::from("{\n");
                body.render_into(&mut s, 1);
                s.push('}');
                s
            }
            Expr::ForObject {
                key,
                value,
                collection,
                result,
            } => format!(
                "{{ for {}, {} in {} : {} => {} }}",
                check_ident(key),
                check_ident(value),
                collection.0.join("."),
                check_ident(key),
                result.render()
            ),
            Expr::Cond(c, a, b) => format!("{} ? {} : {}", c.render(), a.render(), b.render()),
            Expr::Binary(a, op, b) => {
                let op = match op {
                    Op::Eq => "==",
                };
                format!("{} {op} {}", a.render(), b.render())
            }
        }
    }
}

/// A quoted HCL string literal.
pub fn str(s: &str) -> Expr {
    Expr::Str(s.to_string())
}

/// A template string from literal text and interpolated expressions.
pub fn template(parts: Vec<Part>) -> Expr {
    Expr::Template(parts)
}

/// Literal text in a [`template`].
pub fn text(s: impl Into<String>) -> Part {
    Part::Text(s.into())
}

/// `${expr}` in a [`template`].
pub fn interp(e: impl Into<Expr>) -> Part {
    Part::Interp(e.into())
}

/// A function call.
pub fn call(name: &'static str, args: Vec<Expr>) -> Expr {
    Expr::Call(name, args)
}

/// `cond ? a : b`.
pub fn cond(c: Expr, a: Expr, b: Expr) -> Expr {
    Expr::Cond(Box::new(c), Box::new(a), Box::new(b))
}

/// `{ for KEY, VALUE in COLLECTION : KEY => RESULT }` (RESULT usually refers to
/// `Ref::name(VALUE)`).
pub fn for_object(key: &'static str, value: &'static str, collection: Ref, result: Expr) -> Expr {
    Expr::ForObject {
        key,
        value,
        collection,
        result: Box::new(result),
    }
}

/// `a == b`.
pub fn eq(a: Expr, b: Expr) -> Expr {
    Expr::Binary(Box::new(a), Op::Eq, Box::new(b))
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
    Expr::Bool(b)
}

/// A number.
pub fn num(n: impl Into<u64>) -> Expr {
    Expr::Num(n.into().to_string())
}

/// `[a, b]` on one line.
pub fn list(items: Vec<Expr>) -> Expr {
    Expr::List(items)
}

/// A list with one item per line (for `depends_on` and long lists).
pub fn list_lines(items: Vec<Expr>) -> Expr {
    Expr::ListLines(items)
}

/// An object `{ key = value }` with one attribute per line, `=` aligned.
pub fn object(entries: &[(&str, Expr)]) -> Expr {
    Expr::Object(
        entries
            .iter()
            .map(|(k, v)| (check_ident(k).to_string(), v.clone()))
            .collect(),
    )
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
    pub fn attr(mut self, key: &str, value: impl Into<Expr>) -> Self {
        self.items
            .push(Item::Attr(check_ident(key).to_string(), value.into()));
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
                            let text = v.render();
                            let mut lines = text.lines();
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
            ty: check_ident(ty).to_string(),
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
    fn templates_escape_text_and_interpolate_references() {
        let t = template(vec![
            text("serviceAccount:\"${not}\""),
            interp(Ref::resource("google_service_account", "gw").attr("email")),
        ]);
        assert_eq!(
            t.render(),
            "\"serviceAccount:\\\"$${not}\\\"${google_service_account.gw.email}\""
        );
    }

    #[test]
    fn calls_conditionals_and_nested_layouts() {
        let e = call("toset", vec![list_lines(vec![str("a"), str("b")])]);
        assert_eq!(e.render(), "toset([\n  \"a\",\n  \"b\",\n])");
        let c = cond(
            eq(Ref::var("x").expr(), str("")),
            Expr::Num("0".into()),
            num(1u32),
        );
        assert_eq!(c.render(), "var.x == \"\" ? 0 : 1");
        let f = call(
            "f",
            vec![
                str("p"),
                object(&[("k", Ref::local("v").expr()), ("long_key", bool(true))]),
            ],
        );
        assert_eq!(
            f.render(),
            "f(\"p\", {\n  k        = local.v\n  long_key = true\n})"
        );
    }

    #[test]
    #[should_panic(expected = "not an HCL identifier")]
    fn references_reject_non_identifiers() {
        let _ = Ref::var("a b");
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
                .attr("a", num(1u32))
                .block(Block::new("inner", &[], Body::new().attr("k", bool(true)))),
        ));
        assert_eq!(
            f.render(),
            "resource \"google_x\" \"y\" {\n  name       = \"n\"\n  project_id = \"p\"\n\n  a = 1\n  inner {\n    k = true\n  }\n}\n"
        );
    }
}
