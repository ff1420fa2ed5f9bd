//! Emit (backend): one module per resource — its rules table, row, JSON types and
//! handlers.

use super::*;
use crate::emit::rust_types::{field_spec, rust_type};

/// What a resource module needs, worked out once from its routes and relations.
struct Plan<'m> {
    model: &'m Model,
    r: &'m Resource,
    /// Columns of the row struct / `SELECT`, in order.
    columns: Vec<RowColumn<'m>>,
    /// Parents that embed this resource: (parent, its has_many, our belongs_to).
    embedded_in: Vec<(&'m Resource, &'m HasMany, &'m BelongsTo)>,
    /// Children this resource embeds, in JSON order.
    embeds: Vec<(&'m HasMany, &'m Resource)>,
    needs_find: bool,
    /// An owned `GET`/`PATCH`/`PUT` reads the caller's row: `find_owned`.
    needs_find_owned: bool,
    /// A create route answers with the row its `INSERT … RETURNING` gave.
    needs_create: bool,
    /// A custom operation answers with this resource: `find` is `pub(crate)`.
    find_for_operations: bool,
    needs_to_json: bool,
    needs_list: bool,
    needs_table: bool,
}

/// One selected column.
enum RowColumn<'m> {
    Id,
    Field(&'m Field),
    ForeignKey(&'m BelongsTo),
}

impl RowColumn<'_> {
    fn name(&self) -> &str {
        match self {
            RowColumn::Id => "id",
            RowColumn::Field(f) => &f.column,
            RowColumn::ForeignKey(b) => &b.column,
        }
    }

    fn ident(&self) -> Ident {
        format_ident!("{}", self.name())
    }
}

impl<'m> Plan<'m> {
    fn new(model: &'m Model, r: &'m Resource) -> Self {
        let embeds: Vec<(&HasMany, &Resource)> = r
            .json
            .iter()
            .filter_map(|m| match m {
                JsonMember::HasMany(name) => r.has_many(name),
                _ => None,
            })
            .map(|h| (h, model.resource(&h.target)))
            .collect();
        let mut embedded_in = Vec::new();
        for parent in &model.resources {
            for member in &parent.json {
                if let JsonMember::HasMany(name) = member
                    && let Some(h) = parent.has_many(name)
                    && h.target == r.names.snake
                    && let Some(b) = r.belongs_to(&h.inverse)
                {
                    embedded_in.push((parent, h, b));
                }
            }
        }
        // A create answers with the row `INSERT … RETURNING` gave, and needs its id
        // (for `Location`) even when the JSON does not show it.
        let creates = r
            .routes
            .iter()
            .any(|rt| matches!(rt.kind, RouteKind::Create | RouteKind::NestedCreate { .. }));
        let mut columns = Vec::new();
        if !embeds.is_empty() || r.json.contains(&JsonMember::Id) || creates {
            columns.push(RowColumn::Id);
        }
        for f in &r.fields {
            if r.json.contains(&JsonMember::Field(f.names.snake.clone())) {
                columns.push(RowColumn::Field(f));
            }
        }
        for b in &r.belongs_to {
            let shown = r
                .json
                .contains(&JsonMember::ForeignKey(b.name.snake.clone()));
            let grouped = embedded_in.iter().any(|(_, _, eb)| eb.name == b.name);
            if shown || grouped {
                columns.push(RowColumn::ForeignKey(b));
            }
        }
        let kinds: Vec<&RouteKind> = r.routes.iter().map(|rt| &rt.kind).collect();
        let snake = &r.names.snake;
        let find_for_operations = model
            .operations
            .iter()
            .any(|o| matches!(&o.output, Some(Shape::Resource(x) | Shape::List(x)) if x == snake));
        let body_of_operation = model
            .operations
            .iter()
            .any(|o| matches!(&o.body, Some(Shape::Resource(x)) if x == snake));
        let reads_one = |rt: &&Route| {
            matches!(
                rt.kind,
                RouteKind::Get | RouteKind::Update | RouteKind::Replace
            )
        };
        let needs_find = find_for_operations
            || r.routes
                .iter()
                .filter(reads_one)
                .any(|rt| !r.owned_route(rt));
        let needs_find_owned = r
            .routes
            .iter()
            .filter(reads_one)
            .any(|rt| r.owned_route(rt));
        let needs_create = kinds
            .iter()
            .any(|k| matches!(k, RouteKind::Create | RouteKind::NestedCreate { .. }));
        let needs_list = kinds
            .iter()
            .any(|k| matches!(k, RouteKind::List | RouteKind::NestedList { .. }));
        let is_parent_of_nested = model.resources.iter().any(|child| {
            child.routes.iter().any(|rt| match &rt.kind {
                RouteKind::NestedList { relation } | RouteKind::NestedCreate { relation } => child
                    .belongs_to(relation)
                    .is_some_and(|b| b.target == r.names.snake),
                _ => false,
            })
        });
        Plan {
            model,
            r,
            columns,
            needs_to_json: needs_find || needs_find_owned || needs_list || needs_create,
            needs_table: !r.routes.is_empty()
                || is_parent_of_nested
                || find_for_operations
                || body_of_operation,
            embedded_in,
            embeds,
            needs_find,
            needs_find_owned,
            needs_create,
            find_for_operations,
            needs_list,
        }
    }

    /// Module-local names keep every line's length independent of the spec's names
    /// (`product::Record`, `product::Json`), so the layout is rustfmt's whatever the
    /// names are.
    fn row_type(&self) -> Ident {
        format_ident!("Record")
    }

    fn json_type(&self) -> Ident {
        format_ident!("Json")
    }

    /// The struct a parent embeds: the full JSON unless this resource embeds
    /// children of its own (which are not expanded a second level down).
    fn embedded_type(&self) -> Ident {
        if self.embeds.is_empty() {
            self.json_type()
        } else {
            format_ident!("EmbeddedJson")
        }
    }

    /// The method that turns a row into [`Plan::embedded_type`].
    fn embedded_conversion(&self) -> Ident {
        if self.embeds.is_empty() {
            format_ident!("into_json")
        } else {
            format_ident!("into_embedded_json")
        }
    }

    /// The row struct's columns, in order (`id` alone when it has no others).
    fn column_list(&self) -> String {
        let cols: Vec<&str> = if self.columns.is_empty() {
            vec!["id"]
        } else {
            self.columns.iter().map(RowColumn::name).collect()
        };
        cols.join(", ")
    }

    fn select(&self) -> String {
        format!("SELECT {} FROM {}", self.column_list(), self.r.table)
    }
}

/// `const NAME: &str = "value";` with its doc comment.
fn str_const(text: &str, name: &str, value: &str) -> TokenStream {
    let d = doc(text);
    let name = format_ident!("{name}");
    quote! {
        #d
        const #name: &str = #value;
    }
}

pub(super) fn resource_rs(model: &Model, r: &Resource) -> String {
    let plan = Plan::new(model, r);
    let mut items = imports(&plan);
    if plan.needs_table {
        items.extend(table_static(&plan));
    }
    if plan.needs_list {
        items.extend(list_static(&plan));
    }
    let row = plan.row_type();
    if plan.needs_list || !plan.embedded_in.is_empty() {
        items.extend(str_const(
            &format!("The columns of a [`{row}`], in order."),
            "SELECT",
            &plan.select(),
        ));
    }
    if plan.needs_find {
        items.extend(str_const(
            &format!("One [`{row}`] by id."),
            "SELECT_ONE",
            &format!("{} WHERE id = $1", plan.select()),
        ));
    }
    if let (true, Some(o)) = (plan.needs_find_owned, &r.owner) {
        items.extend(str_const(
            &format!("One [`{row}`] by id, if the caller owns it."),
            "SELECT_ONE_OWNED",
            &format!("{} WHERE id = $1 AND {} = $2", plan.select(), o.column),
        ));
    }
    if plan.needs_create {
        items.extend(str_const(
            &format!("The columns of a [`{row}`], as a create's `INSERT … RETURNING` lists them."),
            "COLUMNS",
            &plan.column_list(),
        ));
    }
    if plan.needs_to_json || !plan.embedded_in.is_empty() {
        items.extend(row_struct(&plan));
        items.extend(json_structs(&plan));
    }
    if plan.needs_to_json {
        items.extend(to_json_fn(&plan));
    }
    for (parent, _, b) in &plan.embedded_in {
        items.extend(children_fn(&plan, parent, b));
    }
    if plan.needs_find {
        items.extend(find_fn(&plan));
    }
    if plan.needs_find_owned {
        items.extend(find_owned_fn(&plan));
    }
    for route in &r.routes {
        items.extend(handler(&plan, route));
    }
    rust_file(&module_doc(&plan), items)
}

fn module_doc(plan: &Plan) -> String {
    let r = plan.r;
    let mut out = format!(
        "`{}`: the `{}` table, its JSON and its routes.",
        r.names.snake, r.table
    );
    if !r.routes.is_empty() {
        out.push('\n');
        for route in &r.routes {
            out.push_str(&format!(
                "\n- `{} {}` ({})",
                route.method.as_str(),
                route.path,
                match route.exposure {
                    crate::model::Exposure::Public => "public: also through API Gateway",
                    crate::model::Exposure::Internal => "internal",
                }
            ));
        }
    }
    out
}

fn imports(plan: &Plan) -> TokenStream {
    let r = plan.r;
    let under_owned_parent = |rt: &Route| match &rt.kind {
        RouteKind::NestedCreate { relation } => r
            .belongs_to(relation)
            .is_some_and(|b| parent_owner(plan.model, rt, b).is_some()),
        _ => false,
    };
    let writes = r.routes.iter().any(|rt| {
        matches!(
            rt.kind,
            RouteKind::Update
                | RouteKind::Replace
                | RouteKind::Delete
                | RouteKind::NestedList { .. }
        ) || under_owned_parent(rt)
    });
    let for_users = r.routes.iter().any(|rt| {
        r.owned_route(rt)
            || match &rt.kind {
                RouteKind::NestedList { relation } | RouteKind::NestedCreate { relation } => r
                    .belongs_to(relation)
                    .is_some_and(|b| parent_owner(plan.model, rt, b).is_some()),
                _ => false,
            }
    });
    let mut out = TokenStream::new();
    if plan.needs_create {
        out.extend(quote!(
            use shopgen_backend_runtime::create;
        ));
    }
    if writes {
        out.extend(quote!(
            use shopgen_backend_runtime::crud;
        ));
    }
    if for_users {
        out.extend(quote!(
            use shopgen_backend_runtime::identity;
        ));
    }
    out.extend(quote!(
        use shopgen_backend_runtime::prelude::*;
    ));
    let mut others: Vec<&str> = Vec::new();
    for (_, child) in &plan.embeds {
        others.push(&child.names.snake);
    }
    for route in &r.routes {
        if let RouteKind::NestedList { relation } | RouteKind::NestedCreate { relation } =
            &route.kind
            && let Some(b) = r.belongs_to(relation)
        {
            others.push(&b.target);
        }
    }
    others.retain(|o| *o != r.names.snake);
    others.sort_unstable();
    others.dedup();
    for o in others {
        let o = format_ident!("{o}");
        out.extend(quote!(use crate::#o;));
    }
    out
}

fn table_static(plan: &Plan) -> TokenStream {
    let r = plan.r;
    let d = doc(&format!(
        "The `{}` table: the columns a request may write, with the spec's rules.",
        r.table
    ));
    let name = &r.table;
    let singular = &r.names.snake;
    let plural = &r.plural.snake;
    let path = format!("/{}", r.plural.kebab);
    let specs = r
        .fields
        .iter()
        .map(field_spec)
        .chain(r.belongs_to.iter().map(|b| foreign_key_spec(plan.model, b)));
    quote! {
        #d
        pub static TABLE: Table = Table {
            name: #name,
            singular: #singular,
            plural: #plural,
            path: #path,
            fields: &[#(#specs),*],
        };
    }
}

fn foreign_key_spec(model: &Model, b: &BelongsTo) -> TokenStream {
    let parent = model.resource(&b.target);
    let name = &b.column;
    let table = &parent.table;
    let singular = &parent.names.snake;
    let required = b.required;
    quote! {
        FieldSpec {
            name: #name,
            kind: Kind::Reference {
                table: #table,
                singular: #singular,
            },
            required: #required,
            unique: false,
            default: None,
            writable: true,
        }
    }
}

fn list_static(plan: &Plan) -> TokenStream {
    let l = &plan.r.list;
    let d = doc(&format!(
        "Paging, filters and sorting of `{}` lists.",
        plan.r.plural.snake
    ));
    let default_limit = uint(l.default_limit.into());
    let max_limit = uint(l.max_limit.into());
    let filter = &l.filter;
    let sort = &l.sort;
    quote! {
        #d
        static LIST: ListSpec = ListSpec {
            default_limit: #default_limit,
            max_limit: #max_limit,
            filter: &[#(#filter),*],
            sort: &[#(#sort),*],
        };
    }
}

/// The Rust type of a selected column.
fn column_type(c: &RowColumn) -> TokenStream {
    match c {
        RowColumn::Id => quote!(i64),
        RowColumn::Field(f) => rust_type(&f.ty, !f.required),
        RowColumn::ForeignKey(b) => {
            if b.required {
                quote!(i64)
            } else {
                quote!(Option<i64>)
            }
        }
    }
}

/// The expression that reads column `i`.
fn column_read(c: &RowColumn, i: usize) -> TokenStream {
    let index = uint(i as u64);
    match c {
        RowColumn::Field(Field {
            ty: FieldType::Decimal { scale, .. },
            required,
            ..
        }) => {
            let scale = uint((*scale).into());
            if *required {
                quote!(row.decimal(#index, #scale)?)
            } else {
                quote!(row.opt_decimal(#index, #scale)?)
            }
        }
        _ => quote!(row.get(#index)?),
    }
}

fn row_struct(plan: &Plan) -> TokenStream {
    let name = plan.row_type();
    let d = doc(&format!(
        "A row of `{}`: the columns the API reads.",
        plan.r.table
    ));
    if plan.columns.is_empty() {
        return quote! {
            #d
            pub struct #name;

            impl FromRow for #name {
                fn from_row(_row: &Row) -> Result<Self, DbError> {
                    Ok(#name)
                }
            }
        };
    }
    let fields = plan.columns.iter().map(|c| {
        let (field, ty) = (c.ident(), column_type(c));
        quote!(pub #field: #ty)
    });
    let reads = plan.columns.iter().enumerate().map(|(i, c)| {
        let (field, read) = (c.ident(), column_read(c, i));
        quote!(#field: #read)
    });
    quote! {
        #d
        pub struct #name {
            #(#fields,)*
        }

        impl FromRow for #name {
            fn from_row(row: &Row) -> Result<Self, DbError> {
                Ok(#name {
                    #(#reads,)*
                })
            }
        }
    }
}

/// One member of a JSON struct.
struct JsonField {
    key: Ident,
    ty: TokenStream,
    value: JsonValue,
}

/// Where a JSON member's value comes from.
enum JsonValue {
    /// The row's column of the same name.
    Column,
    /// The children a loader fetched, in the local variable named after the relation.
    Children,
}

impl JsonField {
    /// The value expression, reading the row from `row`.
    fn value(&self, row: &TokenStream) -> TokenStream {
        let key = &self.key;
        match self.value {
            JsonValue::Column => quote!(#row.#key),
            JsonValue::Children => quote!(#key.take(#row.id)),
        }
    }
}

/// The members of the JSON struct, in the spec's JSON order.
fn json_members(plan: &Plan, embedded: bool) -> Vec<JsonField> {
    let r = plan.r;
    let column = |c: &RowColumn| JsonField {
        key: c.ident(),
        ty: column_type(c),
        value: JsonValue::Column,
    };
    let mut members = Vec::new();
    for m in &r.json {
        match m {
            JsonMember::Id => members.push(column(&RowColumn::Id)),
            JsonMember::Field(name) => {
                if let Some(c) = plan
                    .columns
                    .iter()
                    .find(|c| matches!(c, RowColumn::Field(f) if f.names.snake == *name))
                {
                    members.push(column(c));
                }
            }
            JsonMember::ForeignKey(name) => {
                if let Some(c) = plan
                    .columns
                    .iter()
                    .find(|c| matches!(c, RowColumn::ForeignKey(b) if b.name.snake == *name))
                {
                    members.push(column(c));
                }
            }
            JsonMember::HasMany(name) if !embedded => {
                if let Some((h, child)) = plan.embeds.iter().find(|(h, _)| h.name.snake == *name) {
                    let child_plan = Plan::new(plan.model, child);
                    let module = format_ident!("{}", child.names.snake);
                    let ty = child_plan.embedded_type();
                    members.push(JsonField {
                        key: format_ident!("{}", h.name.snake),
                        ty: quote!(Vec<#module::#ty>),
                        value: JsonValue::Children,
                    });
                }
            }
            JsonMember::HasMany(_) => {}
        }
    }
    members
}

fn json_structs(plan: &Plan) -> TokenStream {
    let members = json_members(plan, false);
    let keys: Vec<String> = members.iter().map(|m| format!("`{}`", m.key)).collect();
    let d = doc(&format!(
        "A {} as the API shows it: {}.",
        plan.r.names.snake,
        if keys.is_empty() {
            "an empty object".to_string()
        } else {
            keys.join(", ")
        }
    ));
    let mut out = json_struct(d, &plan.json_type(), &members);
    if plan.embeds.is_empty() {
        if !plan.embedded_in.is_empty() || plan.needs_to_json {
            out.extend(into_json_fn(plan, &plan.json_type(), false));
        }
    } else if !plan.embedded_in.is_empty() {
        let d = doc(&format!(
            "A {} inside its parent's JSON (its own relations are not expanded).",
            plan.r.names.snake
        ));
        out.extend(json_struct(
            d,
            &plan.embedded_type(),
            &json_members(plan, true),
        ));
        out.extend(into_json_fn(plan, &plan.embedded_type(), true));
    }
    out
}

fn json_struct(d: TokenStream, name: &Ident, members: &[JsonField]) -> TokenStream {
    let fields = members.iter().map(|m| {
        let (key, ty) = (&m.key, &m.ty);
        quote!(pub #key: #ty)
    });
    quote! {
        #d
        #[derive(Serialize)]
        pub struct #name {
            #(#fields,)*
        }
    }
}

fn into_json_fn(plan: &Plan, ty: &Ident, embedded: bool) -> TokenStream {
    let members = json_members(plan, embedded);
    let row = plan.row_type();
    let fn_name = if embedded {
        plan.embedded_conversion()
    } else {
        format_ident!("into_json")
    };
    let this = quote!(self);
    let fields = members.iter().map(|m| {
        let (key, value) = (&m.key, m.value(&this));
        quote!(#key: #value)
    });
    quote! {
        impl #row {
            pub fn #fn_name(self) -> #ty {
                #ty {
                    #(#fields,)*
                }
            }
        }
    }
}

fn to_json_fn(plan: &Plan) -> TokenStream {
    let row = plan.row_type();
    let ty = plan.json_type();
    if plan.embeds.is_empty() {
        return quote! {
            #[doc = " The JSON of `rows`."]
            async fn to_json(_db: &Db, rows: Vec<#row>) -> Result<Vec<#ty>, ApiError> {
                Ok(rows.into_iter().map(#row::into_json).collect())
            }
        };
    }
    let names: Vec<String> = plan
        .embeds
        .iter()
        .map(|(h, _)| format!("`{}`", h.name.snake))
        .collect();
    let d = doc(&format!(
        "The JSON of `rows`, with their {} loaded in one query per relation.",
        names.join(", ")
    ));
    let loads = plan.embeds.iter().map(|(h, child)| {
        let var = format_ident!("{}", h.name.snake);
        let module = format_ident!("{}", child.names.snake);
        let loader = children_fn_name(plan.r);
        quote!(let mut #var = #module::#loader(db, &ids).await?;)
    });
    let row_var = quote!(row);
    let fields = json_members(plan, false).into_iter().map(|m| {
        let value = m.value(&row_var);
        let key = m.key;
        quote!(#key: #value)
    });
    quote! {
        #d
        async fn to_json(db: &Db, rows: Vec<#row>) -> Result<Vec<#ty>, ApiError> {
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            #(#loads)*
            Ok(rows
                .into_iter()
                .map(|row| #ty {
                    #(#fields,)*
                })
                .collect())
        }
    }
}

/// `of_products`: the loader a parent calls, named after the parent's plural.
fn children_fn_name(parent: &Resource) -> Ident {
    format_ident!("of_{}", parent.plural.snake)
}

fn children_fn(plan: &Plan, parent: &Resource, b: &BelongsTo) -> TokenStream {
    let r = plan.r;
    let has_inverse = parent
        .has_many
        .iter()
        .any(|h| h.target == r.names.snake && h.inverse == b.name.snake);
    if !has_inverse {
        return TokenStream::new();
    }
    let name = children_fn_name(parent);
    let ty = plan.embedded_type();
    let into = plan.embedded_conversion();
    let column = format_ident!("{}", b.column);
    let key = if b.required {
        quote!(row.#column)
    } else {
        quote!(row.#column.unwrap_or_default())
    };
    let d = doc(&format!(
        "The {} of the given {}, grouped by `{}`: one query.",
        r.plural.snake, parent.plural.snake, b.column
    ));
    let fk = &b.column;
    let row = plan.row_type();
    quote! {
        #d
        pub async fn #name(db: &Db, parent_ids: &[i64]) -> Result<Children<#ty>, ApiError> {
            let fk = #fk;
            let rows: Vec<#row> = db.fetch_children(SELECT, fk, parent_ids).await?;
            let mut children = Children::new();
            for row in rows {
                let parent = #key;
                children.push(parent, row.#into());
            }
            Ok(children)
        }
    }
}

fn find_fn(plan: &Plan) -> TokenStream {
    let row = plan.row_type();
    let ty = plan.json_type();
    let d = doc(&format!("The JSON of {} `id`, or 404.", plan.r.names.snake));
    let vis = if plan.find_for_operations {
        quote!(pub(crate))
    } else {
        quote!()
    };
    quote! {
        #d
        #vis async fn find(db: &Db, id: i64) -> Result<#ty, ApiError> {
            let row: Option<#row> = db.fetch_optional(SELECT_ONE, &[Value::Int(id)]).await?;
            let row = row.ok_or_else(|| TABLE.not_found(id))?;
            let mut json = to_json(db, vec![row]).await?;
            json.pop().ok_or_else(|| TABLE.not_found(id))
        }
    }
}

fn find_owned_fn(plan: &Plan) -> TokenStream {
    let row = plan.row_type();
    let ty = plan.json_type();
    let d = doc(&format!(
        "The JSON of {} `id` if `owner` owns it, or 404 (another user's row is not\nfound).",
        plan.r.names.snake
    ));
    quote! {
        #d
        async fn find_owned(db: &Db, id: i64, owner: &str) -> Result<#ty, ApiError> {
            let args = [Value::Int(id), Value::Text(owner.to_string())];
            let row: Option<#row> = db.fetch_optional(SELECT_ONE_OWNED, &args).await?;
            let row = row.ok_or_else(|| TABLE.not_found(id))?;
            let mut json = to_json(db, vec![row]).await?;
            json.pop().ok_or_else(|| TABLE.not_found(id))
        }
    }
}

/// The owner of the parent of nested route `route` of `r`, when the route reaches it
/// for a user (a public route with a user token under an owned parent).
fn parent_owner<'m>(
    model: &'m Model,
    route: &Route,
    b: &BelongsTo,
) -> Option<&'m crate::model::Ownership> {
    let parent = model.resource(&b.target);
    let for_user =
        route.exposure == crate::model::Exposure::Public && route.access.needs_user_token();
    parent.owner.as_ref().filter(|_| for_user)
}

/// `let owner = identity::owner("sub")?;`: the caller's owner value.
fn owner_let(var: &str, o: &crate::model::Ownership) -> TokenStream {
    let var = format_ident!("{var}");
    let claim = &o.claim;
    quote!(let #var = identity::owner(#claim)?;)
}

/// The statements that look the parent of a nested route up: only the caller's
/// parent when it is owned (404 for another user's), any parent otherwise.
fn parent_check(
    module: &Ident,
    route: &Route,
    b: &BelongsTo,
    plan: &Plan,
    own: Option<&crate::model::Ownership>,
) -> TokenStream {
    match parent_owner(plan.model, route, b) {
        Some(po) => {
            let column = &po.column;
            let (get, var) = match own {
                Some(o) if o.claim == po.claim => (TokenStream::new(), format_ident!("owner")),
                _ => (owner_let("parent_owner", po), format_ident!("parent_owner")),
            };
            quote! {
                #get
                crud::exists_owned(&db, &#module::TABLE, id, #column, &#var).await?;
            }
        }
        None => TokenStream::new(),
    }
}

fn handler(plan: &Plan, route: &Route) -> TokenStream {
    let r = plan.r;
    let name = handler_ident(route);
    let head = format!("`{} {}`", route.method.as_str(), route.path);
    let embeds: Vec<String> = plan
        .embeds
        .iter()
        .map(|(h, _)| h.name.snake.clone())
        .collect();
    let with = if embeds.is_empty() {
        String::new()
    } else {
        format!(" with its {}", embeds.join(" and "))
    };
    let row = plan.row_type();
    let own = r.owner.as_ref().filter(|_| r.owned_route(route));
    let (text, args, body) = match &route.kind {
        RouteKind::List => (
            format!(
                "{head}: a page of {}{with} (`limit`, `offset`, `sort`,\nfilters).",
                r.plural.snake
            ),
            quote!(State(db): State<Db>, OriginalUri(uri): OriginalUri),
            match own {
                Some(o) => {
                    let get = owner_let("owner", o);
                    let column = &o.column;
                    quote! {
                        #get
                        let mut page = LIST
                            .parse(&TABLE, db.engine(), &uri)?
                            .with_owner(#column, &owner);
                        let rows: Vec<#row> = page.fetch(&db, SELECT).await?;
                        page.respond(TABLE.plural, &to_json(&db, rows).await?)
                    }
                }
                None => quote! {
                    let mut page = LIST.parse(&TABLE, db.engine(), &uri)?;
                    let rows: Vec<#row> = page.fetch(&db, SELECT).await?;
                    page.respond(TABLE.plural, &to_json(&db, rows).await?)
                },
            },
        ),
        RouteKind::Get => (
            format!("{head}: one {}{with}.", r.names.snake),
            quote!(State(db): State<Db>, Id(id): Id),
            match own {
                Some(o) => {
                    let get = owner_let("owner", o);
                    quote! {
                        #get
                        ok(TABLE.singular, &find_owned(&db, id, &owner).await?)
                    }
                }
                None => quote!(ok(TABLE.singular, &find(&db, id).await?)),
            },
        ),
        RouteKind::Create => (
            format!(
                "{head}: checks the body against [`TABLE`], inserts, answers 201 with the\n\
                 new {} and its `Location`.",
                r.names.snake
            ),
            quote!(State(db): State<Db>, body: JsonBody),
            {
                let insert = match own {
                    Some(o) => {
                        let get = owner_let("owner", o);
                        let column = &o.column;
                        quote! {
                            #get
                            let row: #row =
                                create::insert_owned_row(&db, &TABLE, body, #column, &owner, COLUMNS)
                                    .await?;
                        }
                    }
                    None => quote! {
                        let values = TABLE.validate(body, Mode::Create)?;
                        let row: #row = create::insert_row(&db, &TABLE, values, COLUMNS).await?;
                    },
                };
                quote! {
                #insert
                let id = row.id;
                let mut json = to_json(&db, vec![row]).await?;
                created(&TABLE, id, &json.pop().ok_or_else(|| TABLE.not_found(id))?)
                }
            },
        ),
        RouteKind::Update | RouteKind::Replace => {
            let (what, mode) = if route.kind == RouteKind::Update {
                ("changes the fields the body names", quote!(Mode::Update))
            } else {
                ("replaces every writable field", quote!(Mode::Replace))
            };
            (
                format!("{head}: {what}."),
                quote!(State(db): State<Db>, Id(id): Id, body: JsonBody),
                match own {
                    Some(o) => {
                        let get = owner_let("owner", o);
                        let column = &o.column;
                        quote! {
                            #get
                            let fixed = [(#column, Value::Text(owner.clone()))];
                            let values = TABLE.validate_with(body, #mode, &fixed)?;
                            if !crud::update_owned(&db, &TABLE, id, values, #column, &owner).await? {
                                return Err(TABLE.not_found(id));
                            }
                            ok(TABLE.singular, &find_owned(&db, id, &owner).await?)
                        }
                    }
                    None => quote! {
                        let values = TABLE.validate(body, #mode)?;
                        if !crud::update(&db, &TABLE, id, values).await? {
                            return Err(TABLE.not_found(id));
                        }
                        ok(TABLE.singular, &find(&db, id).await?)
                    },
                },
            )
        }
        RouteKind::Delete => (
            format!("{head}: removes the {}.", r.names.snake),
            quote!(State(db): State<Db>, Id(id): Id),
            match own {
                Some(o) => {
                    let get = owner_let("owner", o);
                    let column = &o.column;
                    quote! {
                        #get
                        if !crud::delete_owned(&db, &TABLE, id, #column, &owner).await? {
                            return Err(TABLE.not_found(id));
                        }
                        Ok(no_content())
                    }
                }
                None => quote! {
                    if !crud::delete(&db, &TABLE, id).await? {
                        return Err(TABLE.not_found(id));
                    }
                    Ok(no_content())
                },
            },
        ),
        RouteKind::NestedList { relation } => {
            let Some(b) = r.belongs_to(relation) else {
                return TokenStream::new();
            };
            let parent = plan.model.resource(&b.target);
            let module = format_ident!("{}", parent.names.snake);
            let column = &b.column;
            (
                format!(
                    "{head}: a page of the {} of one {}.",
                    r.plural.snake, parent.names.snake
                ),
                quote!(State(db): State<Db>, Id(id): Id, OriginalUri(uri): OriginalUri),
                {
                    let get = own.map(|o| owner_let("owner", o)).unwrap_or_default();
                    let check = match parent_owner(plan.model, route, b) {
                        Some(_) => parent_check(&module, route, b, plan, own),
                        None => quote!(crud::exists(&db, &#module::TABLE, id).await?;),
                    };
                    let scope = match own {
                        Some(o) => {
                            let oc = &o.column;
                            quote!(.with_owner(#oc, &owner))
                        }
                        None => TokenStream::new(),
                    };
                    quote! {
                        #get
                        #check
                        let mut page = LIST
                            .parse(&TABLE, db.engine(), &uri)?
                            .with_parent(#column, id)
                            #scope;
                        let rows: Vec<#row> = page.fetch(&db, SELECT).await?;
                        page.respond(TABLE.plural, &to_json(&db, rows).await?)
                    }
                },
            )
        }
        RouteKind::NestedCreate { relation } => {
            let Some(b) = r.belongs_to(relation) else {
                return TokenStream::new();
            };
            let parent = plan.model.resource(&b.target);
            let module = format_ident!("{}", parent.names.snake);
            let column = &b.column;
            (
                format!(
                    "{head}: creates a {} of {} `id`.",
                    r.names.snake, parent.names.snake
                ),
                quote!(State(db): State<Db>, Id(id): Id, body: JsonBody),
                {
                    let get = own.map(|o| owner_let("owner", o)).unwrap_or_default();
                    let check = parent_check(&module, route, b, plan, own);
                    let insert = match own {
                        Some(o) => {
                            let oc = &o.column;
                            quote! {
                                let row: #row = create::insert_owned_child_row(
                                    &db, &TABLE, body, parent, #column, id, #oc, &owner, COLUMNS,
                                )
                                .await?;
                            }
                        }
                        None => quote! {
                            let row: #row =
                                create::insert_child_row(&db, &TABLE, body, parent, #column, id, COLUMNS)
                                    .await?;
                        },
                    };
                    quote! {
                    #get
                    #check
                    let parent = &#module::TABLE;
                    #insert
                    let id = row.id;
                    let mut json = to_json(&db, vec![row]).await?;
                    created(&TABLE, id, &json.pop().ok_or_else(|| TABLE.not_found(id))?)
                    }
                },
            )
        }
    };
    let d = doc(&text);
    quote! {
        #d
        pub async fn #name(#args) -> Result<Response, ApiError> {
            #body
        }
    }
}
