//! Path templates and request-path matching, as ESPv2 (the proxy API Gateway runs)
//! matches them.
//!
//! Takes a listed path (`/products/{id}`) and a request path; gives the bound
//! parameters or no match. The rules, from ESPv2's route generation (its route
//! configuration tests in GoogleCloudPlatform/esp-v2 show a template `/v1/shelves/{s}`
//! becoming the regex `^/v1/shelves/[^\/:]+\/?$`, and a literal path `/echo` becoming two
//! exact routes, `/echo` and `/echo/`):
//!
//! - literal segments match exactly and case-sensitively;
//! - a parameter is a whole segment and matches one non-empty segment without `/` or
//!   `:` (a parameter inside a segment, `/items/p{id}`, is rejected when the document
//!   is read, as API Gateway rejects it);
//! - one trailing slash is tolerated;
//! - the query string plays no part.
//!
//! Before matching, the request path is normalised the way ESPv2 does by default
//! (`--normalize_path`, `--merge_slashes_in_path`): `.` and `..` segments are resolved
//! and repeated slashes merged; the normalised path is also what the backend receives.

/// A listed path: literal segments and whole-segment parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// Why a listed path is not a template API Gateway accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl PathTemplate {
    /// Parses a listed path such as `/products/{id}/reviews`.
    pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(TemplateError("a path must start with `/`".into()));
        };
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                if seg.contains(['{', '}']) {
                    let name = seg
                        .strip_prefix('{')
                        .and_then(|s| s.strip_suffix('}'))
                        .filter(|n| {
                            !n.is_empty()
                                && n.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                        })
                        .ok_or_else(|| {
                            TemplateError(format!(
                                "`{seg}`: a path parameter must be a whole path segment \
                                 (`/items/{{id}}`), as API Gateway requires"
                            ))
                        })?;
                    segments.push(Segment::Param(name.to_string()));
                } else {
                    segments.push(Segment::Literal(seg.to_string()));
                }
            }
        }
        Ok(PathTemplate {
            text: text.to_string(),
            segments,
        })
    }

    /// The template as listed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Matches a normalised request path (see [`normalize`]); gives the parameters
    /// in template order.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/')?;
        let path = path.strip_suffix('/').unwrap_or(path);
        let parts: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() || part.contains(':') => return None,
                Segment::Param(name) => params.push((name.clone(), part.to_string())),
            }
        }
        Some(params)
    }
}

/// Resolves `.` and `..` segments and merges repeated slashes; keeps one trailing
/// slash. `None` when the path does not start with `/`.
pub fn normalize(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    let trailing = rest.ends_with('/') || rest.ends_with("/.") || rest.ends_with("/..");
    let mut out: Vec<&str> = Vec::new();
    for seg in rest.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut text = String::with_capacity(path.len());
    for seg in &out {
        text.push('/');
        text.push_str(seg);
    }
    if text.is_empty() || (trailing && !out.is_empty()) {
        text.push('/');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> PathTemplate {
        PathTemplate::parse(s).expect("valid template")
    }

    #[test]
    fn whole_segment_parameters() {
        let tpl = t("/products/{id}");
        assert_eq!(
            tpl.matches("/products/42"),
            Some(vec![("id".into(), "42".into())])
        );
        assert_eq!(tpl.matches("/products/42/reviews"), None);
        assert_eq!(tpl.matches("/products"), None);
        assert_eq!(tpl.matches("/products/"), None);
        assert_eq!(tpl.matches("/products/a:b"), None);
    }

    #[test]
    fn case_sensitive_literals() {
        assert!(t("/products").matches("/products").is_some());
        assert!(t("/products").matches("/Products").is_none());
        assert!(t("/products").matches("/PRODUCTS").is_none());
    }

    #[test]
    fn one_trailing_slash_is_tolerated() {
        assert!(t("/products").matches("/products/").is_some());
        assert!(t("/products/{id}").matches("/products/7/").is_some());
    }

    #[test]
    fn partial_segment_parameters_are_refused() {
        assert!(PathTemplate::parse("/items/p{id}").is_err());
        assert!(PathTemplate::parse("/items/{id}.json").is_err());
        assert!(PathTemplate::parse("/items/{}").is_err());
        assert!(PathTemplate::parse("items").is_err());
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize("/products").as_deref(), Some("/products"));
        assert_eq!(normalize("//products").as_deref(), Some("/products"));
        assert_eq!(normalize("/a/../products").as_deref(), Some("/products"));
        assert_eq!(normalize("/products/./1").as_deref(), Some("/products/1"));
        assert_eq!(normalize("/products/").as_deref(), Some("/products/"));
        assert_eq!(normalize("/../..").as_deref(), Some("/"));
        assert_eq!(normalize("/").as_deref(), Some("/"));
        assert_eq!(normalize("products"), None);
    }
}
