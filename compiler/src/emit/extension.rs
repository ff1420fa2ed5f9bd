//! Emit: the extension interface of a spec with `[operations.NAME]` or `hooks`.
//!
//! Stage: `emit`. Takes the [`Model`]; gives, only when [`Model::has_extension`],
//! `api/` (crate `<stem>-api`): the typed inputs and outputs of every operation and
//! the one trait, `Extension`, with a method per operation and per hook; the user's
//! crate implements it, so a method the spec gains or loses is a compile error there.
//! The backend's side, the glue that calls the trait (`backend/src/extension_glue.rs`),
//! is the backend emitter's; the names both sides use are in `emit::interface`.
//!
//! [`scaffold`] gives the first version of the user-owned crate
//! (`extensions/<stem>/`): it compiles, and every method answers 501 until written.
//! The CLI writes it only where no such folder exists, and never again.

use super::filters;
use super::interface::{crate_ident, hook_method, hooks, input_members, input_type, user_type};
use super::rust::{doc, rust_file};
use super::rust_types::rust_type;
use super::{CommentSyntax, EmittedFile};
use crate::model::{Hook, Model, Operation, Resource, Shape};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

pub fn emit(model: &Model) -> Vec<EmittedFile> {
    if !model.has_extension() {
        return Vec::new();
    }
    vec![api_cargo_toml(model), api_lib_rs(model)]
}

fn ident(s: &str) -> Ident {
    format_ident!("{}", s)
}

fn api_cargo_toml(model: &Model) -> EmittedFile {
    let body = super::library_crate_manifest(
        &model.service.names.api_crate,
        &format!(
            "The extension interface of the {} backend: what {} implements",
            model.service.name, model.service.names.extension_crate
        ),
        &["serde", "shopgen-backend-runtime"],
    );
    EmittedFile::new("api/Cargo.toml", body, CommentSyntax::Hash)
}

fn output_type(op: &Operation) -> Ident {
    format_ident!("{}Output", op.names.pascal)
}

/// What the trait method returns (inside `Result<_, ApiError>`).
fn method_output(op: &Operation) -> TokenStream {
    match &op.output {
        None => quote!(()),
        Some(Shape::Fields(_)) => {
            let t = output_type(op);
            quote!(#t)
        }
        Some(Shape::Resource(_)) => quote!(i64),
        Some(Shape::List(_)) => quote!(Vec<i64>),
    }
}

fn operation_doc(op: &Operation) -> String {
    let answer = match &op.output {
        None => "Answer `Ok(())` for 204 No Content.".to_string(),
        Some(Shape::Fields(_)) => format!(
            "Answer the [`{}`]; it is sent as the JSON object.",
            output_type(op)
        ),
        Some(Shape::Resource(r)) => format!(
            "Answer the id of the `{r}` to send back; the backend loads it and answers\n\
             `{{\"{r}\": …}}` exactly as `GET` of that `{r}` does (404 if it does not exist)."
        ),
        Some(Shape::List(r)) => format!(
            "Answer the ids of the `{r}` records to send back, in order; the backend loads\n\
             them and answers them as a list, exactly as the `{r}` routes show them."
        ),
    };
    let exposure = match op.exposure {
        crate::model::Exposure::Public => "public: also through API Gateway",
        crate::model::Exposure::Internal => "internal: inside the cluster only",
    };
    format!(
        "{}.\n\n`{} {}` ({exposure}).\n{answer}",
        op.summary.trim_end_matches('.'),
        op.method.as_str(),
        op.path,
    )
}

fn hook_doc(resource: &Resource, hook: Hook) -> String {
    let what = match hook {
        Hook::BeforeCreate => {
            "before a new record is inserted, inside the insert's transaction.\n\
             `record` holds every column the insert will write: change it (`record.set`) or\n\
             reject it (`Err(record.reject(field, message))` is a 422 naming the field)."
        }
        Hook::BeforeUpdate => {
            "before a record is updated (PATCH or PUT), inside the transaction.\n\
             `record` holds the id and the columns the request changes: change or reject them."
        }
        Hook::BeforeDelete => {
            "before a record is deleted, inside the transaction; `record.id()`\n\
             says which. An error rejects the delete."
        }
        Hook::AfterCreate => {
            "after a new record is committed, with its id. A failure is logged;\n\
             the client still gets its 201."
        }
        Hook::AfterUpdate => {
            "after an update is committed, with the id. A failure is logged;\n\
             the client still gets its 200."
        }
        Hook::AfterDelete => {
            "after a delete is committed, with the id. A failure is logged;\n\
             the client still gets its 204."
        }
    };
    format!(
        "Hook `{}` of `{}`.\n\nRuns {what}",
        hook.name(),
        resource.names.snake
    )
}

/// The trait's method signatures (without bodies), shared by the trait and the
/// scaffold's impl.
struct Method {
    doc: String,
    name: Ident,
    /// `ctx: &Context, input: XInput` etc., with the given parameter prefix.
    params: Box<dyn Fn(&str) -> TokenStream>,
    output: TokenStream,
    /// For the scaffold's `not_implemented` message.
    label: String,
}

fn methods(model: &Model) -> Vec<Method> {
    let mut out = Vec::new();
    for op in &model.operations {
        let input = input_type(op);
        let has_input = !input_members(model, op).is_empty();
        out.push(Method {
            doc: operation_doc(op),
            name: ident(&op.names.snake),
            params: Box::new(move |p| {
                let ctx = format_ident!("{p}ctx");
                let inp = format_ident!("{p}input");
                if has_input {
                    quote!(#ctx: &Context, #inp: #input)
                } else {
                    quote!(#ctx: &Context)
                }
            }),
            output: method_output(op),
            label: op.names.snake.clone(),
        });
    }
    for (resource, hook) in hooks(model) {
        out.push(Method {
            doc: hook_doc(resource, hook),
            name: hook_method(resource, hook),
            params: Box::new(move |p| {
                let ctx = format_ident!("{p}ctx");
                if hook.is_before() {
                    let record = format_ident!("{p}record");
                    quote!(#ctx: &mut HookContext, #record: &mut Record)
                } else {
                    let id = format_ident!("{p}id");
                    quote!(#ctx: &Context, #id: i64)
                }
            }),
            output: quote!(()),
            label: format!("{}.{}", resource.names.snake, hook.name()),
        });
    }
    out
}

fn api_lib_rs(model: &Model) -> EmittedFile {
    let module_doc = format!(
        "`{api}`: the extension interface of the {service} backend, generated from the\n\
         spec's `[operations.NAME]` and `hooks`.\n\
         \n\
         `{ext}` (`extensions/{stem}/`, yours: shopgen wrote it once and never touches it)\n\
         implements [`Extension`]. A method the spec adds is a compile error there until it\n\
         is written; a method the spec drops is a compile error until it is removed.\n\
         Inputs reach the methods already checked against the spec's rules.",
        api = model.service.names.api_crate,
        service = model.service.name,
        ext = model.service.names.extension_crate,
        stem = model.source.stem,
    );
    let mut items = Vec::new();
    for op in &model.operations {
        let members = input_members(model, op);
        if !members.is_empty() {
            let d = doc(&format!(
                "The inputs of `{}` (`{} {}`), checked against the spec.",
                op.names.snake,
                op.method.as_str(),
                op.path
            ));
            let name = input_type(op);
            let fields = members.iter().map(|m| {
                let d = doc(&m.doc);
                let n = ident(&m.name);
                let t = &m.ty;
                quote!(#d pub #n: #t)
            });
            items.push(quote! {
                #d
                #[derive(Debug, Clone, PartialEq)]
                pub struct #name {
                    #(#fields,)*
                }
            });
        }
        if let Some(Shape::Fields(fields)) = &op.output {
            let d = doc(&format!(
                "What `{}` answers: sent as the JSON object.",
                op.names.snake
            ));
            let name = output_type(op);
            let members = fields.iter().map(|f| {
                let n = ident(&f.names.snake);
                let t = rust_type(&f.ty, !f.required);
                let fd = doc(&format!(
                    "`{}`{}.",
                    f.names.snake,
                    if f.required {
                        ""
                    } else {
                        " (`null` when `None`)"
                    }
                ));
                quote!(#fd pub #n: #t)
            });
            items.push(quote! {
                #d
                #[derive(Debug, Clone, PartialEq, Serialize)]
                pub struct #name {
                    #(#members,)*
                }
            });
        }
    }
    let trait_methods = methods(model).into_iter().map(|m| {
        let d = doc(&m.doc);
        let name = &m.name;
        let params = (m.params)("");
        let output = &m.output;
        quote! {
            #d
            fn #name(&self, #params) -> impl Future<Output = Result<#output, ApiError>> + Send;
        }
    });
    let trait_doc = doc(&format!(
        "Everything `{}` implements: one method per operation and per hook of the spec.\n\
         \n\
         The backend makes one instance at start (`Default`) and shares it between all\n\
         requests. Every method may fail with any [`ApiError`] (404, 409, 422 with field\n\
         errors, …), which is sent as the uniform JSON error; a panic is a 500 that names\n\
         the request id, and the service keeps serving.",
        model.service.names.extension_crate
    ));
    let serde_use = if model
        .operations
        .iter()
        .any(|o| matches!(o.output, Some(Shape::Fields(_))))
    {
        quote!(
            use serde::Serialize;
        )
    } else {
        quote!()
    };
    let body = rust_file(
        &module_doc,
        quote! {
            pub use shopgen_backend_runtime as runtime;
            pub use shopgen_backend_runtime::db::{Db, Engine, FromRow, Row, Value};
            pub use shopgen_backend_runtime::error::{ApiError, FieldErrors};
            pub use shopgen_backend_runtime::extension::{Context, HookContext, Logger, Record};
            pub use shopgen_backend_runtime::tx::Tx;
            pub use shopgen_backend_runtime::types::{Date, Decimal, Timestamp, Uuid};

            #serde_use
            use std::future::Future;

            #[doc = " What reading a row can fail with."]
            pub type DbError = shopgen_backend_runtime::prelude::DbError;

            #(#items)*

            #trait_doc
            pub trait Extension: Default + Send + Sync + 'static {
                #(#trait_methods)*
            }
        },
    );
    EmittedFile::new("api/src/lib.rs", body, CommentSyntax::Slashes)
}

/// The first version of the user-owned extension crate, as (path inside the crate's
/// folder `extensions/<stem>/`, contents). Every method answers 501 Not Implemented.
/// `api_path` is the generated `api/` folder relative to the crate's folder
/// (`../../generated/<stem>/api`).
pub fn scaffold(model: &Model, api_path: &str) -> Vec<(String, String)> {
    let api = crate_ident(&model.service.names.api_crate);
    let user = user_type(model);
    let mut names: Vec<Ident> = vec![ident("ApiError"), ident("Extension")];
    let mut need_context = false;
    let mut need_hook = false;
    for op in &model.operations {
        need_context = true;
        if !input_members(model, op).is_empty() {
            names.push(input_type(op));
        }
        if let Some(Shape::Fields(_)) = &op.output {
            names.push(output_type(op));
        }
    }
    for (_, hook) in hooks(model) {
        if hook.is_before() {
            need_hook = true;
        } else {
            need_context = true;
        }
    }
    if need_context {
        names.push(ident("Context"));
    }
    if need_hook {
        names.push(ident("HookContext"));
        names.push(ident("Record"));
    }
    names.sort_by_key(|n| n.to_string());
    let impls = methods(model).into_iter().map(|m| {
        let d = doc(&format!(
            "{}\n\nTo do: write it. Until then it answers 501 Not Implemented.",
            m.doc
        ));
        let name = &m.name;
        let params = (m.params)("_");
        let output = &m.output;
        let label = &m.label;
        quote! {
            #d
            async fn #name(&self, #params) -> Result<#output, ApiError> {
                Err(ApiError::not_implemented(#label))
            }
        }
    });
    let module_doc = format!(
        "`{ext}`: the code behind the custom operations and hooks of {spec}.\n\
         \n\
         This crate is yours: `shopgen build` wrote this first version because\n\
         `extensions/{stem}/` did not exist, and will never change or delete it.\n\
         [`{api}::Extension`] (generated) lists what to implement; when the spec gains\n\
         or loses an operation or a hook, `cargo build` names the method to add or\n\
         remove. See docs/extensions.md.",
        ext = model.service.names.extension_crate,
        spec = model.source.display_path,
        stem = model.source.stem,
        api = api,
    );
    let type_doc = doc("The extension; the backend makes one at start with `Default`.");
    let tokens = quote! {
        use #api::{#(#names),*};

        #type_doc
        #[derive(Debug, Default)]
        pub struct #user;

        impl Extension for #user {
            #(#impls)*
        }
    };
    let lib = super::rust::rust_file_owned(&module_doc, tokens);
    let mut manifest = super::render(&ExtensionManifest {
        what: &format!(
            "Custom operations and hooks of the {} backend.",
            model.service.name
        ),
        name: &model.service.names.extension_crate,
        description: &format!(
            "Custom operations and hooks of the {} backend",
            model.service.name
        ),
        api_crate: &model.service.names.api_crate,
        api_path,
    });
    manifest.push('\n');
    vec![
        ("Cargo.toml".to_string(), manifest),
        ("src/lib.rs".to_string(), lib),
    ]
}

/// `templates/extension.Cargo.toml`: the first manifest of the user's crate.
#[derive(askama::Template)]
#[template(path = "extension.Cargo.toml", escape = "none")]
struct ExtensionManifest<'a> {
    what: &'a str,
    name: &'a str,
    description: &'a str,
    api_crate: &'a str,
    api_path: &'a str,
}
