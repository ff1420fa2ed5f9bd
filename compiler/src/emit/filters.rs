//! Quoting filters for the askama templates in `templates/`. The templates have no
//! escaper (`escape = "none"`): every value that lands inside a string of the target
//! syntax goes through that syntax's filter.

use askama::{Result, Values};
use std::fmt::Write as _;

/// A TOML basic string: `"…"` with `"`, `\` and control characters escaped.
#[askama::filter_fn]
pub fn toml_str(value: impl std::fmt::Display, _: &dyn Values) -> Result<String> {
    Ok(toml_basic_string(&value.to_string()))
}

/// A TOML key: bare when it may be (`A-Za-z0-9_-`), a basic string otherwise.
#[askama::filter_fn]
pub fn toml_key(value: impl std::fmt::Display, _: &dyn Values) -> Result<String> {
    let key = value.to_string();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    Ok(if bare { key } else { toml_basic_string(&key) })
}

/// A JSON string (a Dockerfile's exec form is a JSON array).
#[askama::filter_fn]
pub fn json_str(value: impl std::fmt::Display, _: &dyn Values) -> Result<String> {
    Ok(serde_json::Value::String(value.to_string()).to_string())
}

fn toml_basic_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str(r#"\""#),
            '\\' => out.push_str(r"\\"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::toml_basic_string;

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "plain",
            r#"with "quotes" and \ slash"#,
            "tab\tnew\nline\u{7f}\u{1}",
            "ünïcode",
        ] {
            let doc = format!("k = {}", toml_basic_string(s));
            let parsed: toml::Table = toml::from_str(&doc).expect("valid TOML");
            assert_eq!(parsed["k"].as_str(), Some(s), "{doc}");
        }
    }
}
