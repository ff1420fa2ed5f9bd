//! Sample data for `shopgen up --seed FILE`: a small JSON format, checked against the
//! model before anything starts, and resolved into the stack's `Seed`; the runner loads
//! it through the backend's internal API.
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

use indexmap::IndexMap;
use serde_json::{Map, Value};

use shopgen::model::{Model, Resource, RouteKind};
use shopgen_up_stack::{Batch, Create, Record, Seed};

/// Parses seed text and checks it against the model: every key names a resource or a
/// has-many relation, and every record has a route that creates it.
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
        let Some(path) = create_path(resource) else {
            return Err(format!(
                "`{key}`: the spec gives {} no create route, so the seed cannot create them",
                resource.plural.snake
            ));
        };
        let list_path = resource
            .routes
            .iter()
            .find(|r| r.kind == RouteKind::List)
            .map(|r| r.path.clone());
        let records = records(model, resource, &key, list, &Create::Post(path.into()))?;
        batches.push(Batch {
            plural: key,
            list_path,
            records,
        });
    }
    Ok(Seed { batches })
}

/// Checks one list of records of `resource`, each created by `create`.
fn records(
    model: &Model,
    resource: &Resource,
    at: &str,
    list: Value,
    create: &Create,
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
                    let child_create = match nested_create_path(child, &rel.inverse) {
                        Some(path) => Create::Nested(path.into()),
                        None => match (create_path(child), child.belongs_to(&rel.inverse)) {
                            (Some(path), Some(bt)) => Create::WithForeignKey {
                                path: path.into(),
                                column: bt.column.clone(),
                            },
                            _ => {
                                return Err(format!(
                                    "`{at}.{name}`: the spec gives {} no create route",
                                    child.plural.snake
                                ));
                            }
                        },
                    };
                    children.extend(records(
                        model,
                        child,
                        &format!("{at}.{name}"),
                        value,
                        &child_create,
                    )?);
                }
                None => {
                    payload.insert(name, value);
                }
            }
        }
        out.push(Record {
            at,
            singular: resource.names.snake.clone(),
            create: create.clone(),
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
    fn the_shipped_seed_is_valid_and_resolved() {
        let text = include_str!("../../../specs/shop.seed.json");
        let seed = parse(text, &shop()).expect("valid seed");
        assert!(seed.len() >= 2);
        let products = &seed.batches[0];
        assert_eq!(products.plural, "products");
        assert_eq!(products.list_path.as_deref(), Some("/products"));
        let first = &products.records[0];
        assert_eq!(first.create, Create::Post("/products".into()));
        assert_eq!(first.singular, "product");
        assert_eq!(
            first.children[0].create,
            Create::Nested("/products/{id}/reviews".into())
        );
        assert!(!first.payload.contains_key("reviews"));
    }

    #[test]
    fn unknown_resources_and_bad_shapes_are_named() {
        let model = shop();
        let err = parse(r#"{"orders": []}"#, &model).expect_err("unknown");
        assert!(err.contains("`orders` is not a resource"), "{err}");
        let err = parse(r#"{"products": [1]}"#, &model).expect_err("not an object");
        assert!(err.contains("`products[0]` must be an object"), "{err}");
        let err = parse(r#"{"products": [{"reviews": {}}]}"#, &model).expect_err("not a list");
        assert!(
            err.contains("`products[0].reviews` must be a list"),
            "{err}"
        );
    }
}
