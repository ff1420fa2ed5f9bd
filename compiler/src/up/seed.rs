//! Sample data for `shopgen up --seed FILE`: a small JSON format, checked against the
//! model before anything starts, and loaded through the backend's internal API.
//!
//! The format: top-level keys are resources' plural JSON names, each a list of records
//! in the order to create them. A record is the create payload; a member named after
//! one of the resource's has-many relations (`reviews`) holds child records instead,
//! created after their parent through the nested create route
//! (`POST /products/{id}/reviews`), or through the child's own create route with the
//! foreign key filled in when there is no nested one. Children may nest further.
//!
//! ```json
//! {"products": [
//!   {"title": "Veranda Symphony", "price": "83.84",
//!    "reviews": [{"name": "Ada", "message": "Bright, a little thin.", "rate": 2}]}
//! ]}
//! ```
//!
//! Every request is a `POST` in file order, so ids come out as the file reads.

use std::time::Duration;

use hyper::Method;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::http::Http;
use shopgen::model::{Model, Resource, RouteKind};

/// A checked seed: per resource, the records to create.
#[derive(Debug, Clone)]
pub struct Seed {
    batches: Vec<(String, Vec<Record>)>,
}

/// One record and its children.
#[derive(Debug, Clone)]
struct Record {
    /// Where it sits in the file (`products[0].reviews[1]`), for messages.
    at: String,
    payload: Map<String, Value>,
    /// Per has-many relation name, in file order.
    children: Vec<(String, Vec<Record>)>,
}

impl Seed {
    /// Parses seed text and checks it against the model: every key names a resource
    /// or a has-many relation, and every resource it creates has a create route.
    pub fn parse(text: &str, model: &Model) -> Result<Seed, String> {
        let top: IndexMap<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("not a seed file: {e}"))?;
        let mut batches = Vec::new();
        for (key, list) in top {
            let resource = model
                .resources
                .iter()
                .find(|r| r.plural.snake == key)
                .ok_or_else(|| {
                    let known: Vec<&str> = model
                        .resources
                        .iter()
                        .map(|r| r.plural.snake.as_str())
                        .collect();
                    format!(
                        "`{key}` is not a resource of the spec (known: {})",
                        known.join(", ")
                    )
                })?;
            if create_path(resource).is_none() {
                return Err(format!(
                    "`{key}`: the spec gives {} no create route, so the seed cannot create them",
                    resource.plural.snake
                ));
            }
            batches.push((key.clone(), records(model, resource, &key, list)?));
        }
        Ok(Seed { batches })
    }

    /// Number of records, children included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        fn count(records: &[Record]) -> usize {
            records
                .iter()
                .map(|r| 1 + r.children.iter().map(|(_, c)| count(c)).sum::<usize>())
                .sum()
        }
        self.batches.iter().map(|(_, r)| count(r)).sum()
    }

    /// The first seeded resource that already has records in the backend at `base`
    /// (so loading again would duplicate them), if any.
    pub async fn already_present(&self, model: &Model, http: &Http, base: &str) -> Option<String> {
        for (key, _) in &self.batches {
            let resource = resource_by_plural(model, key).ok()?;
            let Some(list) = resource.routes.iter().find(|r| r.kind == RouteKind::List) else {
                continue;
            };
            let url = format!("{base}{}?limit=1", list.path);
            let answer = http
                .send(Method::GET, &url, None, Duration::from_secs(10))
                .await
                .ok()?;
            let body: Value = serde_json::from_slice(&answer.body).ok()?;
            if body
                .get(key.as_str())
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                return Some(key.clone());
            }
        }
        None
    }

    /// Creates every record through the backend at `base` (`http://127.0.0.1:3000`).
    pub async fn load(&self, model: &Model, http: &Http, base: &str) -> Result<usize, String> {
        let mut created = 0;
        for (key, records) in &self.batches {
            let resource = resource_by_plural(model, key)?;
            for record in records {
                created += load_record(model, http, base, resource, record, None).await?;
            }
        }
        Ok(created)
    }
}

fn resource_by_plural<'m>(model: &'m Model, plural: &str) -> Result<&'m Resource, String> {
    model
        .resources
        .iter()
        .find(|r| r.plural.snake == plural)
        .ok_or_else(|| format!("internal error: resource `{plural}` vanished from the model"))
}

/// Checks one list of records of `resource`.
fn records(
    model: &Model,
    resource: &Resource,
    at: &str,
    list: Value,
) -> Result<Vec<Record>, String> {
    let Value::Array(items) = list else {
        return Err(format!("`{at}` must be a list of records"));
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Value::Object(object) = item else {
            return Err(format!("`{at}` must be an object"));
        };
        let mut payload = Map::new();
        let mut children = Vec::new();
        for (name, value) in object {
            match resource.has_many(&name) {
                Some(rel) => {
                    let child = model
                        .resources
                        .iter()
                        .find(|r| r.names.snake == rel.target)
                        .ok_or_else(|| format!("internal error: no resource `{}`", rel.target))?;
                    if nested_create_path(child, &rel.inverse).is_none()
                        && create_path(child).is_none()
                    {
                        return Err(format!(
                            "`{at}.{name}`: the spec gives {} no create route",
                            child.plural.snake
                        ));
                    }
                    let list = records(model, child, &format!("{at}.{name}"), value)?;
                    children.push((name, list));
                }
                None => {
                    payload.insert(name, value);
                }
            }
        }
        out.push(Record {
            at,
            payload,
            children,
        });
    }
    Ok(out)
}

fn create_path(resource: &Resource) -> Option<&str> {
    resource
        .routes
        .iter()
        .find(|r| r.kind == RouteKind::Create)
        .map(|r| r.path.as_str())
}

fn nested_create_path<'r>(child: &'r Resource, relation: &str) -> Option<&'r str> {
    child
        .routes
        .iter()
        .find(|r| matches!(&r.kind, RouteKind::NestedCreate { relation: rel } if rel == relation))
        .map(|r| r.path.as_str())
}

/// Replaces the one `{…}` parameter of a nested route's path with `id`.
fn fill_parent(path: &str, id: i64) -> String {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{id}{}", &path[..open], &path[close + 1..])
        }
        _ => path.to_string(),
    }
}

/// Creates one record (under `parent`: relation name and parent id), then its children.
fn load_record<'a>(
    model: &'a Model,
    http: &'a Http,
    base: &'a str,
    resource: &'a Resource,
    record: &'a Record,
    parent: Option<(&'a str, i64)>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, String>> + Send + 'a>> {
    Box::pin(async move {
        let mut payload = record.payload.clone();
        let path = match parent {
            None => create_path(resource).map(str::to_string),
            Some((relation, id)) => match nested_create_path(resource, relation) {
                Some(p) => Some(fill_parent(p, id)),
                None => {
                    if let Some(bt) = resource.belongs_to(relation) {
                        payload.insert(bt.column.clone(), Value::from(id));
                    }
                    create_path(resource).map(str::to_string)
                }
            },
        }
        .ok_or_else(|| format!("`{}`: no create route", record.at))?;
        let url = format!("{base}{path}");
        let answer = http
            .send(
                Method::POST,
                &url,
                Some(&Value::Object(payload)),
                Duration::from_secs(30),
            )
            .await
            .map_err(|e| format!("`{}`: POST {path}: {e}", record.at))?;
        if !answer.status.is_success() {
            return Err(format!(
                "`{}`: POST {path} answered {}: {}",
                record.at,
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        let id = created_id(resource, &answer).ok_or_else(|| {
            format!(
                "`{}`: POST {path} answered {} without the new record's id (no Location header)",
                record.at, answer.status
            )
        })?;
        let mut created = 1;
        for (relation, children) in &record.children {
            let rel = resource
                .has_many(relation)
                .ok_or_else(|| format!("internal error: relation `{relation}` vanished"))?;
            let child = model
                .resources
                .iter()
                .find(|r| r.names.snake == rel.target)
                .ok_or_else(|| format!("internal error: no resource `{}`", rel.target))?;
            for c in children {
                created +=
                    load_record(model, http, base, child, c, Some((&rel.inverse, id))).await?;
            }
        }
        Ok(created)
    })
}

/// The new record's id: the last segment of `Location`, else `{"<singular>": {"id": …}}`.
fn created_id(resource: &Resource, answer: &super::http::Answer) -> Option<i64> {
    let from_location = answer
        .headers
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
        .and_then(|s| s.parse().ok());
    from_location.or_else(|| {
        let body: Value = serde_json::from_slice(&answer.body).ok()?;
        body.get(&resource.names.snake)?.get("id")?.as_i64()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Model {
        let src = include_str!("../../../specs/shop.toml");
        shopgen::compile(
            src,
            shopgen::source_for(std::path::Path::new("specs/shop.toml")),
        )
        .unwrap_or_else(|d| panic!("the reference spec compiles: {d:?}"))
    }

    #[test]
    fn the_shipped_seed_is_valid() {
        let text = include_str!("../../../specs/shop.seed.json");
        let seed = Seed::parse(text, &shop()).expect("valid seed");
        assert!(seed.len() >= 2);
    }

    #[test]
    fn unknown_resources_and_bad_shapes_are_named() {
        let model = shop();
        let err = Seed::parse(r#"{"orders": []}"#, &model).expect_err("unknown");
        assert!(err.contains("`orders` is not a resource"), "{err}");
        let err = Seed::parse(r#"{"products": [1]}"#, &model).expect_err("not an object");
        assert!(err.contains("`products[0]` must be an object"), "{err}");
        let err =
            Seed::parse(r#"{"products": [{"reviews": {}}]}"#, &model).expect_err("not a list");
        assert!(
            err.contains("`products[0].reviews` must be a list"),
            "{err}"
        );
    }

    #[test]
    fn nested_paths_get_the_parent_id() {
        assert_eq!(
            fill_parent("/products/{id}/reviews", 7),
            "/products/7/reviews"
        );
    }
}
