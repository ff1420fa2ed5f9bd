//! Sample data for `shopgen up --seed FILE`, loaded through the backend's internal
//! API.
//!
//! The `shopgen` command reads the seed file and checks it against the spec; what it
//! hands over ([`Seed`], in the stack) is resolved: every record knows the route that
//! creates it. Every request is a `POST` in file order (a parent before its
//! children), so ids come out as the file reads.

use std::time::Duration;

use hyper::Method;
use serde_json::Value;
use shopgen_up_stack::{Create, Record, Seed};

use crate::http::{Answer, Http};

/// The first seeded resource that already has records in the backend at `base` (so
/// loading again would duplicate them), if any.
pub(crate) async fn already_present(seed: &Seed, http: &Http, base: &str) -> Option<String> {
    for batch in &seed.batches {
        let Some(list) = &batch.list_path else {
            continue;
        };
        let url = format!("{base}{list}?limit=1");
        let answer = http
            .send(Method::GET, &url, None, Duration::from_secs(10))
            .await
            .ok()?;
        let body: Value = serde_json::from_slice(&answer.body).ok()?;
        if body
            .get(batch.plural.as_str())
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Some(batch.plural.clone());
        }
    }
    None
}

/// Creates every record through the backend at `base` (`http://127.0.0.1:3000`); gives
/// the number created.
pub(crate) async fn load(seed: &Seed, http: &Http, base: &str) -> Result<usize, String> {
    let mut created = 0;
    for batch in &seed.batches {
        for record in &batch.records {
            created += load_record(http, base, record, None).await?;
        }
    }
    Ok(created)
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

/// Creates one record (under the parent with id `parent`, if any), then its children.
fn load_record<'a>(
    http: &'a Http,
    base: &'a str,
    record: &'a Record,
    parent: Option<i64>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, String>> + Send + 'a>> {
    Box::pin(async move {
        let mut payload = record.payload.clone();
        let path = match (&record.create, parent) {
            (Create::Post(path), _) => path.clone(),
            (Create::Nested(path), Some(id)) => fill_parent(path, id),
            (Create::WithForeignKey { path, column }, Some(id)) => {
                payload.insert(column.clone(), Value::from(id));
                path.clone()
            }
            (_, None) => {
                return Err(format!(
                    "internal error: `{}` is created under a parent but has none",
                    record.at
                ));
            }
        };
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
        let id = created_id(&record.singular, &answer).ok_or_else(|| {
            format!(
                "`{}`: POST {path} answered {} without the new record's id (no Location header)",
                record.at, answer.status
            )
        })?;
        let mut created = 1;
        for child in &record.children {
            created += load_record(http, base, child, Some(id)).await?;
        }
        Ok(created)
    })
}

/// The new record's id: the last segment of `Location`, else `{"<singular>": {"id": …}}`.
fn created_id(singular: &str, answer: &Answer) -> Option<i64> {
    let from_location = answer
        .headers
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
        .and_then(|s| s.parse().ok());
    from_location.or_else(|| {
        let body: Value = serde_json::from_slice(&answer.body).ok()?;
        body.get(singular)?.get("id")?.as_i64()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_get_the_parent_id() {
        assert_eq!(
            fill_parent("/products/{id}/reviews", 7),
            "/products/7/reviews"
        );
    }
}
