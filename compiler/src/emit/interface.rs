//! Emit helper: the extension interface, as both of its sides spell it.
//!
//! Stage: `emit`. Takes the [`Model`]; gives the Rust names and inputs of the
//! interface between the backend and the user's extension crate: the `api/` crate
//! declares them (emitted by [`super::extension`]) and the backend's glue calls them
//! (emitted by [`super::backend`]). Kept apart from both so that neither emitter uses
//! the other, and the two sides cannot drift.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::rust_types::rust_type;
use crate::model::{Field, Hook, Model, Operation, Resource, Shape};

fn ident(s: &str) -> Ident {
    format_ident!("{}", s)
}

/// A crate's name as a Rust path segment (`store-api` → `store_api`).
pub(crate) fn crate_ident(package: &str) -> Ident {
    ident(&package.replace('-', "_"))
}

/// The user's type: the spec stem in PascalCase (`store` → `Store`).
pub(crate) fn user_type(model: &Model) -> Ident {
    ident(&crate::model::names::names(&model.source.stem).pascal)
}

/// Where an input member comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Path,
    Query,
    Body,
}

/// One member of an operation's input struct.
pub(crate) struct InputMember {
    pub(crate) name: String,
    pub(crate) ty: TokenStream,
    pub(crate) source: Source,
    pub(crate) doc: String,
}

/// The members of an operation's input struct, in order: path parameters, query
/// parameters, body members. Empty: the method takes no input.
pub(crate) fn input_members(model: &Model, op: &Operation) -> Vec<InputMember> {
    let mut out = Vec::new();
    for p in &op.params {
        out.push(InputMember {
            name: p.names.snake.clone(),
            ty: rust_type(&p.ty, false),
            source: Source::Path,
            doc: format!("Path parameter `{{{}}}`.", p.names.snake),
        });
    }
    for q in &op.query {
        let optional = !q.required && q.default.is_none();
        out.push(InputMember {
            name: q.names.snake.clone(),
            ty: rust_type(&q.ty, optional),
            source: Source::Query,
            doc: format!(
                "Query parameter `{}`{}.",
                q.names.snake,
                if optional { " (optional)" } else { "" }
            ),
        });
    }
    match &op.body {
        Some(Shape::Fields(fields)) => {
            for f in fields {
                out.push(body_member(f));
            }
        }
        Some(Shape::Resource(r)) => {
            let r = model.resource(r);
            for f in r.fields.iter().filter(|f| f.writable) {
                out.push(body_member(f));
            }
            for b in &r.belongs_to {
                out.push(InputMember {
                    name: b.column.clone(),
                    ty: if b.required {
                        quote!(i64)
                    } else {
                        quote!(Option<i64>)
                    },
                    source: Source::Body,
                    doc: format!("Body member `{}`: the `{}`'s id.", b.column, b.target),
                });
            }
        }
        Some(Shape::List(_)) | None => {}
    }
    out
}

fn body_member(f: &Field) -> InputMember {
    let optional = !f.required && f.default.is_none();
    InputMember {
        name: f.names.snake.clone(),
        ty: rust_type(&f.ty, optional),
        source: Source::Body,
        doc: format!(
            "Body member `{}`{}.",
            f.names.snake,
            if optional { " (optional)" } else { "" }
        ),
    }
}

/// The name of an operation's input struct (`RestockInput`).
pub(crate) fn input_type(op: &Operation) -> Ident {
    format_ident!("{}Input", op.names.pascal)
}

/// The trait method of a resource's hook (`review_before_create`).
pub(crate) fn hook_method(resource: &Resource, hook: Hook) -> Ident {
    format_ident!("{}_{}", resource.names.snake, hook.name())
}

/// Every hook of the spec, resource by resource.
pub(crate) fn hooks(model: &Model) -> impl Iterator<Item = (&Resource, Hook)> {
    model
        .resources
        .iter()
        .flat_map(|r| r.hooks.iter().map(move |h| (r, *h)))
}
