//! Typed, span-keeping reads out of a parsed TOML table.
//!
//! Each read either yields a value with its byte span or records a diagnostic (wrong
//! type, out of range) and yields `None`, so the caller can carry on and report more.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Code, Diagnostic, did_you_mean};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Sp { value, span }
    }
}

/// A scalar as the user wrote it (defaults are checked against the field type later).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Shared state of one read: the diagnostics so far.
pub(crate) struct Cx {
    pub diags: Vec<Diagnostic>,
}

/// Describes a TOML value's kind for "expected X, found Y" messages.
pub(crate) fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// `a.b` joined, quoting keys that are not bare TOML keys.
pub(crate) fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// A table being read, with its path and span.
pub(crate) struct Table<'t, 'i> {
    pub table: &'t DeTable<'i>,
    pub span: Range<usize>,
    pub path: String,
}

impl<'t, 'i> Table<'t, 'i> {
    pub fn new(table: &'t DeTable<'i>, span: Range<usize>, path: String) -> Self {
        Table { table, span, path }
    }

    /// Reports every key not in `allowed`, with a suggestion when one is close.
    pub fn only(&self, cx: &mut Cx, allowed: &[&str]) {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let mut d = Diagnostic::new(
                Code::E0102,
                key.span(),
                join(&self.path, name),
                format!("unknown key `{name}`"),
            );
            d = match did_you_mean(name, allowed.iter().copied()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => d.hint(format!("expected one of: {}", allowed.join(", "))),
            };
            cx.diags.push(d);
        }
    }

    pub fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.table.get(key)
    }

    /// The span of the key itself (falls back to the table's span).
    pub fn key_span(&self, key: &str) -> Range<usize> {
        self.table
            .get_key_value(key)
            .map_or(self.span.clone(), |(k, _)| k.span())
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn mismatch(&self, cx: &mut Cx, key: &str, v: &Value<'_>, expected: &str) {
        cx.diags.push(
            Diagnostic::new(
                Code::E0103,
                v.span(),
                self.path_of(key),
                format!("expected {expected}, found {}", kind(v.get_ref())),
            )
            .hint(format!("write `{key}` as {expected}")),
        );
    }

    pub fn string(&self, cx: &mut Cx, key: &str) -> Option<Sp<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
            _ => {
                self.mismatch(cx, key, v, "a string");
                None
            }
        }
    }

    pub fn int(&self, cx: &mut Cx, key: &str) -> Option<Sp<i64>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match parse_int(i.as_str(), i.radix()) {
                Some(n) => Some(Sp::new(n, v.span())),
                None => {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::E0104,
                            v.span(),
                            self.path_of(key),
                            "integer does not fit in 64 bits",
                        )
                        .hint(format!("write `{key}` as a smaller number")),
                    );
                    None
                }
            },
            _ => {
                self.mismatch(cx, key, v, "an integer");
                None
            }
        }
    }

    pub fn float(&self, cx: &mut Cx, key: &str) -> Option<Sp<f64>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
                Ok(x) if x.is_finite() => Some(Sp::new(x, v.span())),
                _ => {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::E0104,
                            v.span(),
                            self.path_of(key),
                            "expected a finite number",
                        )
                        .hint(format!("write `{key}` as a finite number")),
                    );
                    None
                }
            },
            DeValue::Integer(i) => {
                parse_int(i.as_str(), i.radix()).map(|n| Sp::new(n as f64, v.span()))
            }
            _ => {
                self.mismatch(cx, key, v, "a number");
                None
            }
        }
    }

    pub fn boolean(&self, cx: &mut Cx, key: &str) -> Option<Sp<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            _ => {
                self.mismatch(cx, key, v, "a boolean (`true` or `false`)");
                None
            }
        }
    }

    pub fn strings(&self, cx: &mut Cx, key: &str) -> Option<Sp<Vec<Sp<String>>>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push(Sp::new(s.to_string(), item.span())),
                        other => cx.diags.push(
                            Diagnostic::new(
                                Code::E0103,
                                item.span(),
                                self.path_of(key),
                                format!("expected a string, found {}", kind(other)),
                            )
                            .hint(format!("`{key}` is a list of strings")),
                        ),
                    }
                }
                Some(Sp::new(out, v.span()))
            }
            _ => {
                self.mismatch(cx, key, v, "an array of strings");
                None
            }
        }
    }

    pub fn table(&self, cx: &mut Cx, key: &str) -> Option<Table<'t, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, v.span(), self.path_of(key))),
            _ => {
                self.mismatch(cx, key, v, "a table");
                None
            }
        }
    }

    /// A scalar of any type (for `default`).
    pub fn scalar(&self, cx: &mut Cx, key: &str) -> Option<Sp<Scalar>> {
        let v = self.get(key)?;
        let s = match v.get_ref() {
            DeValue::String(s) => Scalar::Str(s.to_string()),
            DeValue::Integer(_) => Scalar::Int(self.int(cx, key)?.value),
            DeValue::Float(_) => Scalar::Float(self.float(cx, key)?.value),
            DeValue::Boolean(b) => Scalar::Bool(*b),
            DeValue::Datetime(d) => Scalar::Str(d.to_string()),
            _ => {
                self.mismatch(cx, key, v, "a string, number or boolean");
                return None;
            }
        };
        Some(Sp::new(s, v.span()))
    }

    /// Entries in source order: (key, key span, value).
    pub fn entries(&self) -> impl Iterator<Item = (&'t str, Range<usize>, &'t Value<'i>)> {
        self.table
            .iter()
            .map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
    }
}

fn parse_int(digits: &str, radix: u32) -> Option<i64> {
    i64::from_str_radix(&digits.replace('_', ""), radix).ok()
}
