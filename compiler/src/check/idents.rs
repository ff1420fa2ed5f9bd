//! Identifier rules: what a resource, field or relation may be called.

/// Rust keywords (strict, 2018+ reserved, and weak ones that break generated code).
pub const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// SQL reserved words in PostgreSQL or SQLite that cannot be a bare table or column name.
pub const SQL_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "fetch",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "index",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "set",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "transaction",
    "trigger",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "values",
    "variadic",
    "verbose",
    "view",
    "when",
    "where",
    "window",
    "with",
];

/// Names the generated code itself uses inside a resource's scope.
pub const GENERATED_FIELD_NAMES: &[&str] = &["id"];

/// Why an identifier is unusable, if it is.
pub fn ident_problem(name: &str) -> Option<(String, String)> {
    if name.is_empty() {
        return Some((
            "an empty name".into(),
            "give it a name made of ASCII letters, digits and `_`".into(),
        ));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii()) {
        return Some((
            format!("`{name}` contains the non-ASCII character `{c}`"),
            "names become Rust, SQL and URL identifiers: use ASCII letters, digits and `_`".into(),
        ));
    }
    let first = name.chars().next().unwrap_or('a');
    if first.is_ascii_digit() {
        return Some((
            format!("`{name}` starts with a digit"),
            "start the name with a letter".into(),
        ));
    }
    if !first.is_ascii_alphabetic() {
        return Some((
            format!("`{name}` must start with a letter"),
            "start the name with a letter".into(),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Some((
            format!("`{name}` contains `{c}`"),
            "use snake_case or camelCase: ASCII letters, digits and `_`".into(),
        ));
    }
    if name.contains("__") || name.ends_with('_') {
        return Some((
            format!("`{name}` has a doubled or trailing `_`"),
            "names must survive case conversion unchanged; remove the extra `_`".into(),
        ));
    }
    if name.len() > 48 {
        return Some((
            format!("`{name}` is {} characters long", name.len()),
            "keep names to 48 characters: they become SQL identifiers (PostgreSQL's limit is 63) with suffixes".into(),
        ));
    }
    None
}

/// Which keyword list a snake_case name is on.
pub fn keyword(snake: &str) -> Option<&'static str> {
    if RUST_KEYWORDS.contains(&snake) {
        Some("a Rust keyword")
    } else if SQL_KEYWORDS.contains(&snake) {
        Some("an SQL reserved word")
    } else {
        None
    }
}

/// A DNS-1123 label: lower-case alphanumerics and `-`, starting with a letter, ending
/// alphanumeric (the Kubernetes and most Google Cloud name rule).
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}
