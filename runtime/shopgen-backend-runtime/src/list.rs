//! `GET /{plural}`: paging, equality filters, sorting, and embedded children.
//!
//! Query parameters: `limit` (1..=the spec's maximum, default from the spec), `offset`
//! (rows to skip), `sort` (comma-separated field names, `-` for descending; `id` is
//! always the last tie-breaker, so pages are stable) and one `name=value` equality
//! filter per field the spec lists. Anything else is a 400 that names the parameter.
//!
//! The body keeps the reference shape (`{"products": [...]}`); when more rows follow,
//! the response carries `Link: </products?limit=…&offset=…>; rel="next"` (RFC 8288).

use crate::db::{Db, Engine, FromRow, Value};
use crate::error::{ApiError, FieldErrors};
use crate::validate::{Kind, Table};
use axum::http::{HeaderValue, Uri, header};
use axum::response::Response;
use serde::Serialize;
use std::collections::HashMap;

/// The paging, filter and sort settings of one list route.
#[derive(Debug)]
pub struct ListSpec {
    pub default_limit: u32,
    pub max_limit: u32,
    /// Fields accepted as `?name=value`.
    pub filter: &'static [&'static str],
    /// Fields accepted in `?sort=` (besides `id`).
    pub sort: &'static [&'static str],
}

/// One parsed list request, ready to run.
#[derive(Debug)]
pub struct Page {
    limit: u32,
    offset: u64,
    conditions: Vec<String>,
    args: Vec<Value>,
    order: String,
    path: String,
    /// Parameters to repeat in the next page's link, in request order.
    kept: Vec<(String, String)>,
    has_next: bool,
}

impl ListSpec {
    /// Parses the query string of `uri` against `table`'s fields.
    pub fn parse(&self, table: &Table, engine: Engine, uri: &Uri) -> Result<Page, ApiError> {
        let pairs: Vec<(String, String)> =
            match axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri) {
                Ok(q) => q.0,
                Err(e) => {
                    let mut errors = FieldErrors::new();
                    errors.insert("query".into(), vec![e.body_text()]);
                    return Err(ApiError::BadQuery(errors));
                }
            };
        let mut errors = FieldErrors::new();
        let mut bad = |name: &str, message: String| {
            errors.entry(name.to_string()).or_default().push(message);
        };
        let mut page = Page {
            limit: self.default_limit,
            offset: 0,
            conditions: Vec::new(),
            args: Vec::new(),
            order: String::new(),
            path: uri.path().to_string(),
            kept: Vec::new(),
            has_next: false,
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut sort_keys: Vec<(String, bool)> = Vec::new();
        for (name, value) in &pairs {
            if seen.contains(&name.as_str()) {
                bad(name, "is given more than once".into());
                continue;
            }
            seen.push(name);
            match name.as_str() {
                "limit" => match value.parse::<u32>() {
                    Ok(n) if (1..=self.max_limit).contains(&n) => page.limit = n,
                    _ => bad(name, format!("must be between 1 and {}", self.max_limit)),
                },
                "offset" => match value.parse::<u64>() {
                    Ok(n) if n <= i64::MAX as u64 => page.offset = n,
                    _ => bad(name, "must be a non-negative integer".into()),
                },
                "sort" => {
                    for key in value.split(',') {
                        let (field, descending) = match key.strip_prefix('-') {
                            Some(f) => (f, true),
                            None => (key, false),
                        };
                        if field != "id" && !self.sort.contains(&field) {
                            bad(
                                name,
                                format!("cannot sort by `{field}`{}", choices(self.sort)),
                            );
                        } else if sort_keys.iter().any(|(f, _)| f == field) {
                            bad(name, format!("names `{field}` twice"));
                        } else {
                            sort_keys.push((field.to_string(), descending));
                        }
                    }
                    page.kept.push((name.clone(), value.clone()));
                }
                field if self.filter.contains(&field) => match table.field(field) {
                    Some(spec) => match spec.parse_text(value) {
                        Ok(v) => {
                            page.args.push(v);
                            page.conditions
                                .push(format!("{field} = ${}", page.args.len()));
                            page.kept.push((name.clone(), value.clone()));
                        }
                        Err(message) => bad(name, message),
                    },
                    None => bad(name, "is not a field".into()),
                },
                _ => bad(
                    name,
                    format!(
                        "is not a known parameter (limit, offset, sort{}{})",
                        if self.filter.is_empty() { "" } else { ", " },
                        self.filter.join(", ")
                    ),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::BadQuery(errors));
        }
        let mut order: Vec<String> = sort_keys
            .iter()
            .map(|(field, descending)| {
                let text_like = matches!(
                    table.field(field).map(|f| &f.kind),
                    Some(Kind::String { .. } | Kind::Text { .. } | Kind::Enum { .. })
                );
                // Byte order in both engines, whatever the PostgreSQL locale.
                let collate = if text_like && engine == Engine::Postgres {
                    " COLLATE \"C\""
                } else {
                    ""
                };
                let dir = if *descending { "DESC" } else { "ASC" };
                format!("{field}{collate} {dir}")
            })
            .collect();
        if !sort_keys.iter().any(|(f, _)| f == "id") {
            order.push("id ASC".into());
        }
        page.order = order.join(", ");
        Ok(page)
    }
}

fn choices(names: &[&str]) -> String {
    let mut all = vec!["id"];
    all.extend_from_slice(names);
    format!(" (sortable: {})", all.join(", "))
}

impl Page {
    /// Restricts the page to the children of one parent (nested routes).
    pub fn with_parent(self, foreign_key: &str, parent_id: i64) -> Self {
        self.where_equal(foreign_key, Value::Int(parent_id))
    }

    /// Restricts the page to the caller's rows (an owned route): `column = owner` in
    /// the statement's `WHERE`.
    pub fn with_owner(self, column: &str, owner: &str) -> Self {
        self.where_equal(column, Value::Text(owner.to_string()))
    }

    /// Adds `column = value`, the value bound as the next parameter.
    fn where_equal(mut self, column: &str, value: Value) -> Self {
        self.args.push(value);
        self.conditions
            .push(format!("{column} = ${}", self.args.len()));
        self
    }

    /// Runs `select` (`SELECT … FROM table`) with the page's filters, order and window.
    pub async fn fetch<T: FromRow + Send + 'static>(
        &mut self,
        db: &Db,
        select: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut sql = String::with_capacity(select.len() + 96);
        sql.push_str(select);
        for (i, condition) in self.conditions.iter().enumerate() {
            sql.push_str(if i == 0 { " WHERE " } else { " AND " });
            sql.push_str(condition);
        }
        let n = self.args.len();
        sql.push_str(&format!(
            " ORDER BY {} LIMIT ${} OFFSET ${}",
            self.order,
            n + 1,
            n + 2
        ));
        let mut args = self.args.clone();
        // One more row than asked tells whether a next page exists.
        args.push(Value::Int(i64::from(self.limit) + 1));
        args.push(Value::Int(i64::try_from(self.offset).unwrap_or(i64::MAX)));
        let mut rows: Vec<T> = db.fetch_all(sql, &args).await?;
        self.has_next = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        Ok(rows)
    }

    /// `200 {"<key>": [items]}`, with `Link: rel="next"` when more rows follow.
    pub fn respond<T: Serialize>(&self, key: &str, items: &[T]) -> Result<Response, ApiError> {
        let mut response = crate::crud::ok(key, items)?;
        if self.has_next {
            let next = self.offset.saturating_add(u64::from(self.limit));
            let mut query = format!("limit={}&offset={next}", self.limit);
            for (name, value) in &self.kept {
                query.push('&');
                query.push_str(&encode(name));
                query.push('=');
                query.push_str(&encode(value));
            }
            let link = format!("<{}?{query}>; rel=\"next\"", self.path);
            if let Ok(value) = HeaderValue::from_str(&link) {
                response.headers_mut().insert(header::LINK, value);
            }
        }
        Ok(response)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Embedded children grouped by their parent's id.
#[derive(Debug)]
pub struct Children<T>(HashMap<i64, Vec<T>>);

impl<T> Default for Children<T> {
    fn default() -> Self {
        Children(HashMap::new())
    }
}

impl<T> Children<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next child of `parent` (rows come ordered by id, and keep that order).
    pub fn push(&mut self, parent: i64, child: T) {
        self.0.entry(parent).or_default().push(child);
    }

    /// The children of one parent (empty when it has none).
    pub fn take(&mut self, parent: i64) -> Vec<T> {
        self.0.remove(&parent).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::FieldSpec;

    static FIELDS: [FieldSpec; 1] = [FieldSpec {
        name: "title",
        kind: Kind::String {
            min_length: None,
            max_length: Some(10),
            pattern: None,
        },
        required: true,
        unique: false,
        default: None,
        writable: true,
    }];
    static TABLE: Table = Table {
        name: "things",
        singular: "thing",
        plural: "things",
        path: "/things",
        fields: &FIELDS,
    };
    static LIST: ListSpec = ListSpec {
        default_limit: 2,
        max_limit: 5,
        filter: &["title"],
        sort: &["title"],
    };

    fn parse(q: &str) -> Result<Page, ApiError> {
        let uri: Uri = format!("/things{q}").parse().expect("uri");
        LIST.parse(&TABLE, Engine::Postgres, &uri)
    }

    #[test]
    fn parses_sort_filter_and_window() {
        let page = parse("?sort=-title&title=a%20b&limit=5&offset=3").expect("valid");
        assert_eq!(page.order, "title COLLATE \"C\" DESC, id ASC");
        assert_eq!(page.conditions, vec!["title = $1".to_string()]);
        assert_eq!(page.args, vec![Value::Text("a b".into())]);
        assert_eq!((page.limit, page.offset), (5, 3));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        for q in [
            "?limit=0",
            "?limit=6",
            "?offset=-1",
            "?sort=price",
            "?x=1",
            "?limit=1&limit=2",
        ] {
            assert!(matches!(parse(q), Err(ApiError::BadQuery(_))), "{q}");
        }
    }

    #[test]
    fn next_link_keeps_filters() {
        let mut page = parse("?title=a%26b&sort=title").expect("valid");
        page.has_next = true;
        let response = page.respond::<u8>("things", &[]).expect("response");
        let link = response.headers()[header::LINK].to_str().expect("ascii");
        assert_eq!(
            link,
            "</things?limit=2&offset=2&title=a%26b&sort=title>; rel=\"next\""
        );
    }
}
