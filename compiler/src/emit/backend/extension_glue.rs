//! Emit (backend): the glue between the backend and the user's extension crate, for a
//! spec with `[operations.NAME]` or `hooks`.
//!
//! `backend/src/extension_glue.rs`: one handler per operation (path, query and body
//! checked against the spec before the method runs, errors mapped to the uniform JSON
//! error, panics caught), the hook table the runtime's writes consult, and the one
//! instance of the user's type. The trait it calls is in the `api/` crate
//! ([`crate::emit::extension`]); the names both use are in [`crate::emit::interface`].

use super::*;
use crate::emit::interface::{
    Source, crate_ident, hook_method, hooks, input_members, input_type, user_type,
};
use crate::emit::rust_types::field_spec;
use crate::model::{Hook, Operation};

/// The backend module holding the glue (`backend/src/extension_glue.rs`).
pub(super) const GLUE_MODULE: &str = "extension_glue";

/// The backend's `extension_glue.rs`: handlers of the operations, the hook table.
pub(super) fn extension_glue_rs(model: &Model) -> EmittedFile {
    let api = crate_ident(&model.service.names.api_crate);
    let ext = crate_ident(&model.service.names.extension_crate);
    let user = user_type(model);
    let module_doc = format!(
        "The glue between the routes and `{}`: each operation's handler checks its\n\
         inputs against the spec, calls the extension's method (a panic there is a 500\n\
         naming the request id) and answers; [`HOOKS`] tells the runtime's writes which\n\
         hooks to run.",
        model.service.names.extension_crate
    );
    let mut items = Vec::new();
    for op in &model.operations {
        items.push(operation_handler(model, op, &api));
    }
    let mut table = Vec::new();
    for r in &model.resources {
        if r.hooks.is_empty() {
            continue;
        }
        let mut slots = Vec::new();
        for hook in Hook::ALL {
            let slot = ident(hook.name());
            if r.hooks.contains(&hook) {
                let f = hook_method(r, hook);
                let label = format!("{}.{}", r.names.snake, hook.name());
                slots.push(quote!(#slot: Some((#label, #f))));
                let d = doc(&format!("`{label}`, boxed for the runtime's hook table."));
                items.push(if hook.is_before() {
                    quote! {
                        #d
                        fn #f<'a>(ctx: &'a mut HookContext, record: &'a mut Record) -> HookFuture<'a> {
                            Box::pin(extension().#f(ctx, record))
                        }
                    }
                } else {
                    quote! {
                        #d
                        fn #f(ctx: &Context, id: i64) -> HookFuture<'_> {
                            Box::pin(extension().#f(ctx, id))
                        }
                    }
                });
            } else {
                slots.push(quote!(#slot: None));
            }
        }
        let t = &r.table;
        table.push(quote!(TableHooks { table: #t, #(#slots,)* }));
    }
    let uses = glue_uses(model);
    let hooks_doc = doc("The hooks of each table, which the runtime's writes run.");
    let instance_doc = doc("The one instance of the extension, made on first use.");
    let body = rust_file(
        &module_doc,
        quote! {
            #uses
            use std::sync::LazyLock;
            use #api::Extension as _;

            #instance_doc
            static EXTENSION: LazyLock<#ext::#user> = LazyLock::new(Default::default);

            fn extension() -> &'static #ext::#user {
                &EXTENSION
            }

            #hooks_doc
            pub static HOOKS: &[TableHooks] = &[#(#table),*];

            #(#items)*
        },
    );
    EmittedFile::new(
        format!("backend/src/{GLUE_MODULE}.rs"),
        body,
        CommentSyntax::Slashes,
    )
}

/// The glue module's imports: exactly what its items use (unused imports are
/// warnings, and generated code is warning-free).
fn glue_uses(model: &Model) -> TokenStream {
    let ops = &model.operations;
    let any_hooks = hooks(model).next().is_some();
    let before = hooks(model).any(|(_, h)| h.is_before());
    let after = hooks(model).any(|(_, h)| !h.is_before());
    let mut ext: Vec<&str> = Vec::new();
    if !ops.is_empty() || after {
        ext.push("Context");
    }
    if before {
        ext.push("HookContext");
    }
    if !ops.is_empty() {
        ext.push("Inputs");
    }
    if ops.iter().any(|o| !o.params.is_empty()) {
        ext.push("PathParams");
    }
    if before {
        ext.push("Record");
    }
    if !ops.is_empty() {
        ext.push("RequestId");
        ext.push("guard");
    }
    if ops
        .iter()
        .any(|o| matches!(o.output, Some(Shape::Fields(_))))
    {
        ext.push("json");
    }
    let ext: Vec<Ident> = ext.into_iter().map(ident).collect();
    let ext = match ext.as_slice() {
        [] => quote!(),
        [one] => quote!(use shopgen_backend_runtime::extension::#one;),
        many => quote!(use shopgen_backend_runtime::extension::{#(#many),*};),
    };
    let hooks_use = if any_hooks {
        quote!(
            use shopgen_backend_runtime::hooks::{HookFuture, TableHooks};
        )
    } else {
        quote!(
            use shopgen_backend_runtime::hooks::TableHooks;
        )
    };
    let prelude = if ops.is_empty() {
        quote!()
    } else {
        quote!(
            use shopgen_backend_runtime::prelude::*;
        )
    };
    quote!(#ext #hooks_use #prelude)
}

fn operation_handler(model: &Model, op: &Operation, api: &Ident) -> TokenStream {
    let name = ident(&op.names.snake);
    let label = &op.names.snake;
    let shouty = op.names.shouty.clone();
    let members = input_members(model, op);
    let mut statics = Vec::new();
    let mut prelude = Vec::new();
    let mut args = vec![quote!(State(db): State<Db>), quote!(request_id: RequestId)];
    let params_static = format_ident!("{shouty}_PARAMS");
    let query_static = format_ident!("{shouty}_QUERY");
    if !op.params.is_empty() {
        let specs = op.params.iter().map(field_spec);
        statics.push(quote! {
            static #params_static: &[FieldSpec] = &[#(#specs),*];
        });
        args.push(quote!(PathParams(params): PathParams));
        prelude.push(quote!(let mut path = Inputs::path(&params, #params_static)?;));
    }
    let specs = op.query.iter().map(field_spec);
    statics.push(quote! {
        static #query_static: &[FieldSpec] = &[#(#specs),*];
    });
    args.push(quote!(OriginalUri(uri): OriginalUri));
    let query_binding = if op.query.is_empty() {
        quote!(_query)
    } else {
        quote!(mut query)
    };
    prelude.push(quote!(let #query_binding = Inputs::query(uri.query(), #query_static)?;));
    match &op.body {
        Some(Shape::Fields(fields)) => {
            let body_static = format_ident!("{shouty}_BODY");
            let specs = fields.iter().map(field_spec);
            let path = &op.path;
            statics.push(quote! {
                static #body_static: Table = Table {
                    name: #label,
                    singular: #label,
                    plural: #label,
                    path: #path,
                    fields: &[#(#specs),*],
                };
            });
            args.push(quote!(body: JsonBody));
            prelude.push(quote!(let mut body = Inputs::body(body, &#body_static)?;));
        }
        Some(Shape::Resource(r)) => {
            let module = ident(&model.resource(r).names.snake);
            args.push(quote!(body: JsonBody));
            prelude.push(quote!(let mut body = Inputs::body(body, &crate::#module::TABLE)?;));
        }
        Some(Shape::List(_)) | None => {}
    }
    let input_ty = input_type(op);
    let call_args = if members.is_empty() {
        quote!(&ctx)
    } else {
        let fields = members.iter().map(|m| {
            let n = ident(&m.name);
            let key = &m.name;
            let src = match m.source {
                Source::Path => quote!(path),
                Source::Query => quote!(query),
                Source::Body => quote!(body),
            };
            quote!(#n: #src.take(#key)?)
        });
        prelude.push(quote!(let input = #api::#input_ty { #(#fields,)* };));
        quote!(&ctx, input)
    };
    let respond = match &op.output {
        None => quote!(Ok(no_content())),
        Some(Shape::Fields(_)) => quote!(json(&output)),
        Some(Shape::Resource(r)) => {
            let module = ident(&model.resource(r).names.snake);
            quote!(ok(crate::#module::TABLE.singular, &crate::#module::find(ctx.db(), output).await?))
        }
        Some(Shape::List(r)) => {
            let module = ident(&model.resource(r).names.snake);
            quote! {
                let mut items = Vec::with_capacity(output.len());
                for id in output {
                    items.push(crate::#module::find(ctx.db(), id).await?);
                }
                ok(crate::#module::TABLE.plural, &items)
            }
        }
    };
    let call = if op.output.is_none() {
        quote!(guard(ctx.request_id(), #label, extension().#name(#call_args)).await?;)
    } else {
        quote!(let output = guard(ctx.request_id(), #label, extension().#name(#call_args)).await?;)
    };
    let d = doc(&format!(
        "`{} {}`: checks the inputs, then runs `{}` of the extension.",
        op.method.as_str(),
        op.path,
        op.names.snake
    ));
    quote! {
        #(#statics)*

        #d
        pub async fn #name(#(#args),*) -> Result<Response, ApiError> {
            #(#prelude)*
            let ctx = Context::new(db, request_id, #label);
            #call
            #respond
        }
    }
}

fn ident(s: &str) -> Ident {
    format_ident!("{}", s)
}
