//! Emit (backend): one module per resource — its rules table, row, JSON types and
//! handlers.

use super::*;

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
        let mut columns = Vec::new();
        if !embeds.is_empty() || r.json.contains(&JsonMember::Id) {
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
        let needs_find = kinds.iter().any(|k| {
            matches!(
                k,
                RouteKind::Get
                    | RouteKind::Create
                    | RouteKind::Update
                    | RouteKind::Replace
                    | RouteKind::NestedCreate { .. }
            )
        });
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
            needs_to_json: needs_find || needs_list,
            needs_table: !r.routes.is_empty() || is_parent_of_nested,
            embedded_in,
            embeds,
            needs_find,
            needs_list,
        }
    }

    /// Module-local names keep every line's length independent of the spec's names
    /// (`product::Record`, `product::Json`), so the layout is rustfmt's whatever the
    /// names are.
    fn row_type(&self) -> &str {
        "Record"
    }

    fn json_type(&self) -> String {
        "Json".to_string()
    }

    /// The struct a parent embeds: the full JSON unless this resource embeds
    /// children of its own (which are not expanded a second level down).
    fn embedded_type(&self) -> String {
        if self.embeds.is_empty() {
            self.json_type()
        } else {
            "EmbeddedJson".to_string()
        }
    }

    fn select(&self) -> String {
        let cols: Vec<&str> = if self.columns.is_empty() {
            vec!["id"]
        } else {
            self.columns.iter().map(RowColumn::name).collect()
        };
        format!("SELECT {} FROM {}", cols.join(", "), self.r.table)
    }
}

pub(super) fn resource_rs(model: &Model, r: &Resource) -> String {
    let plan = Plan::new(model, r);
    let mut out = String::new();
    module_doc(&mut out, &plan);
    imports(&mut out, &plan);
    if plan.needs_table {
        table_static(&mut out, &plan);
    }
    if plan.needs_list {
        list_static(&mut out, &plan);
    }
    let needs_select = plan.needs_list || !plan.embedded_in.is_empty();
    if needs_select {
        writeln!(
            out,
            "\n/// The columns of a [`{}`], in order.",
            plan.row_type()
        )
        .ok();
        const_str(&mut out, "SELECT", &plan.select());
    }
    if plan.needs_find {
        writeln!(out, "\n/// One [`{}`] by id.", plan.row_type()).ok();
        let one = format!("{} WHERE id = $1", plan.select());
        const_str(&mut out, "SELECT_ONE", &one);
    }
    if plan.needs_to_json || !plan.embedded_in.is_empty() {
        row_struct(&mut out, &plan);
        json_structs(&mut out, &plan);
    }
    if plan.needs_to_json {
        to_json_fn(&mut out, &plan);
    }
    for (parent, _, b) in &plan.embedded_in {
        children_fn(&mut out, &plan, parent, b);
    }
    if plan.needs_find {
        find_fn(&mut out, &plan);
    }
    for route in &r.routes {
        handler(&mut out, &plan, route);
    }
    out
}

/// `const NAME: &str = "…";`, moved to its own line when rustfmt would.
fn const_str(out: &mut String, name: &str, value: &str) {
    let line = format!("const {name}: &str = {};", rust_str(value));
    let next_line = format!("    {};", rust_str(value));
    if line.len() > 100 && next_line.len() <= 100 {
        writeln!(out, "const {name}: &str =\n{next_line}").ok();
    } else {
        // rustfmt leaves a literal that fits nowhere on the `const` line.
        writeln!(out, "{line}").ok();
    }
}

fn module_doc(out: &mut String, plan: &Plan) {
    let r = plan.r;
    writeln!(
        out,
        "//! `{}`: the `{}` table, its JSON and its routes.",
        r.names.snake, r.table
    )
    .ok();
    if !r.routes.is_empty() {
        out.push_str("//!\n");
        for route in &r.routes {
            writeln!(
                out,
                "//! - `{} {}` ({})",
                route.method.as_str(),
                route.path,
                match route.exposure {
                    crate::model::Exposure::Public => "public: also through API Gateway",
                    crate::model::Exposure::Internal => "internal",
                }
            )
            .ok();
        }
    }
    out.push('\n');
}

fn imports(out: &mut String, plan: &Plan) {
    let r = plan.r;
    let writes = r.routes.iter().any(|rt| {
        matches!(
            rt.kind,
            RouteKind::Create
                | RouteKind::Update
                | RouteKind::Replace
                | RouteKind::Delete
                | RouteKind::NestedCreate { .. }
        )
    }) || r
        .routes
        .iter()
        .any(|rt| matches!(rt.kind, RouteKind::NestedList { .. }));
    if writes {
        out.push_str("use shopgen_backend_runtime::crud;\n");
    }
    out.push_str("use shopgen_backend_runtime::prelude::*;\n");
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
    if !others.is_empty() {
        out.push('\n');
        for o in others {
            writeln!(out, "use crate::{o};").ok();
        }
    }
}

fn table_static(out: &mut String, plan: &Plan) {
    let r = plan.r;
    writeln!(
        out,
        "\n/// The `{}` table: the columns a request may write, with the spec's rules.",
        r.table
    )
    .ok();
    out.push_str("pub static TABLE: Table = Table {\n");
    writeln!(out, "    name: {},", rust_str(&r.table)).ok();
    writeln!(out, "    singular: {},", rust_str(&r.names.snake)).ok();
    writeln!(out, "    plural: {},", rust_str(&r.plural.snake)).ok();
    writeln!(
        out,
        "    path: {},",
        rust_str(&format!("/{}", r.plural.kebab))
    )
    .ok();
    let specs: Vec<String> = r
        .fields
        .iter()
        .map(field_spec)
        .chain(r.belongs_to.iter().map(|b| foreign_key_spec(plan.model, b)))
        .collect();
    if specs.is_empty() {
        out.push_str("    fields: &[],\n");
    } else {
        out.push_str("    fields: &[\n");
        for s in specs {
            out.push_str(&s);
        }
        out.push_str("    ],\n");
    }
    out.push_str("};\n");
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    match v {
        Some(v) => format!("Some({v})"),
        None => "None".into(),
    }
}

fn opt_str(v: Option<&String>) -> String {
    match v {
        Some(v) => format!("Some({})", rust_str(v)),
        None => "None".into(),
    }
}

fn float_literal(f: f64) -> String {
    let s = format!("{f:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// A struct literal's fields, each `name: value` on its own line at `indent`.
fn struct_lit(name: &str, fields: &[(&str, String)], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut s = format!("{name} {{\n");
    for (k, v) in fields {
        writeln!(s, "{pad}    {k}: {v},").ok();
    }
    write!(s, "{pad}}}").ok();
    s
}

/// `Kind::…` for a field type, at `indent` (the column of `kind:`).
fn kind_literal(ty: &FieldType, indent: usize) -> String {
    let lit = |name: &str, fields: &[(&str, String)]| -> String {
        // rustfmt keeps a short struct literal on one line (`struct_lit_width`, 18).
        let inline = format!(
            "{name} {{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if inline.len() - name.len() - 1 <= 18 + 4 && fields.len() <= 1 {
            inline
        } else {
            struct_lit(name, fields, indent)
        }
    };
    match ty {
        FieldType::String {
            max_length,
            min_length,
            pattern,
        } => lit(
            "Kind::String",
            &[
                ("min_length", opt(*min_length)),
                ("max_length", opt(Some(*max_length))),
                ("pattern", opt_str(pattern.as_ref())),
            ],
        ),
        FieldType::Text {
            min_length,
            max_length,
        } => lit(
            "Kind::Text",
            &[
                ("min_length", opt(*min_length)),
                ("max_length", opt(*max_length)),
            ],
        ),
        FieldType::Integer { min, max } => {
            lit("Kind::Integer", &[("min", opt(*min)), ("max", opt(*max))])
        }
        FieldType::BigInt { min, max } => {
            lit("Kind::BigInt", &[("min", opt(*min)), ("max", opt(*max))])
        }
        FieldType::Boolean => "Kind::Boolean".into(),
        FieldType::Decimal {
            precision,
            scale,
            min,
            max,
        } => lit(
            "Kind::Decimal",
            &[
                ("precision", precision.to_string()),
                ("scale", scale.to_string()),
                ("min", opt_str(min.as_ref())),
                ("max", opt_str(max.as_ref())),
            ],
        ),
        FieldType::Float { min, max } => lit(
            "Kind::Float",
            &[
                ("min", opt(min.map(float_literal))),
                ("max", opt(max.map(float_literal))),
            ],
        ),
        FieldType::Timestamp => "Kind::Timestamp".into(),
        FieldType::Date => "Kind::Date".into(),
        FieldType::Uuid => "Kind::Uuid".into(),
        FieldType::Enum { values } => {
            let list: Vec<String> = values.iter().map(|v| rust_str(v)).collect();
            let inline = format!("&[{}]", list.join(", "));
            let pad = " ".repeat(indent + 4);
            if inline.len() + "values: ".len() <= 18 {
                return format!("Kind::Enum {{ values: {inline} }}");
            }
            let values =
                if pad.len() + "values: ".len() + inline.len() < 100 && inline.len() - 3 <= 60 {
                    inline
                } else {
                    let mut s = "&[\n".to_string();
                    for v in &list {
                        writeln!(s, "{pad}    {v},").ok();
                    }
                    write!(s, "{pad}]").ok();
                    s
                };
            struct_lit("Kind::Enum", &[("values", values)], indent)
        }
    }
}

fn default_literal(d: Option<&DefaultValue>) -> String {
    match d {
        None => "None".into(),
        Some(DefaultValue::Str(s)) => format!("Some(DefaultValue::Str({}))", rust_str(s)),
        Some(DefaultValue::Int(i)) => format!("Some(DefaultValue::Int({i}))"),
        Some(DefaultValue::Float(f)) => format!("Some(DefaultValue::Float({}))", float_literal(*f)),
        Some(DefaultValue::Bool(b)) => format!("Some(DefaultValue::Bool({b}))"),
        Some(DefaultValue::Now) => "Some(DefaultValue::Now)".into(),
    }
}

fn field_spec(f: &Field) -> String {
    let fields = [
        ("name", rust_str(&f.column)),
        ("kind", kind_literal(&f.ty, 12)),
        ("required", f.required.to_string()),
        ("unique", f.unique.to_string()),
        ("default", default_literal(f.default.as_ref())),
        ("writable", f.writable.to_string()),
    ];
    format!("        {},\n", struct_lit("FieldSpec", &fields, 8))
}

fn foreign_key_spec(model: &Model, b: &BelongsTo) -> String {
    let parent = model.resource(&b.target);
    let kind = struct_lit(
        "Kind::Reference",
        &[
            ("table", rust_str(&parent.table)),
            ("singular", rust_str(&parent.names.snake)),
        ],
        12,
    );
    let fields = [
        ("name", rust_str(&b.column)),
        ("kind", kind),
        ("required", b.required.to_string()),
        ("unique", "false".into()),
        ("default", "None".into()),
        ("writable", "true".into()),
    ];
    format!("        {},\n", struct_lit("FieldSpec", &fields, 8))
}

fn list_static(out: &mut String, plan: &Plan) {
    let l = &plan.r.list;
    writeln!(
        out,
        "\n/// Paging, filters and sorting of `{}` lists.",
        plan.r.plural.snake
    )
    .ok();
    let names = |v: &[String]| -> String {
        let list: Vec<String> = v.iter().map(|s| rust_str(s)).collect();
        let inline = format!("&[{}]", list.join(", "));
        // rustfmt's `array_width` (60).
        if inline.len() - 3 <= 60 {
            inline
        } else {
            let mut s = "&[\n".to_string();
            for item in &list {
                writeln!(s, "        {item},").ok();
            }
            s.push_str("    ]");
            s
        }
    };
    let fields = [
        ("default_limit", l.default_limit.to_string()),
        ("max_limit", l.max_limit.to_string()),
        ("filter", names(&l.filter)),
        ("sort", names(&l.sort)),
    ];
    writeln!(
        out,
        "static LIST: ListSpec = {};",
        struct_lit("ListSpec", &fields, 0)
    )
    .ok();
}

/// The Rust type of a selected column.
fn column_type(c: &RowColumn) -> String {
    match c {
        RowColumn::Id => "i64".into(),
        RowColumn::Field(f) => {
            let t = match &f.ty {
                FieldType::String { .. } | FieldType::Text { .. } | FieldType::Enum { .. } => {
                    "String"
                }
                FieldType::Integer { .. } => "i32",
                FieldType::BigInt { .. } => "i64",
                FieldType::Boolean => "bool",
                FieldType::Decimal { .. } => "Decimal",
                FieldType::Float { .. } => "f64",
                FieldType::Timestamp => "Timestamp",
                FieldType::Date => "Date",
                FieldType::Uuid => "Uuid",
            };
            if f.required {
                t.into()
            } else {
                format!("Option<{t}>")
            }
        }
        RowColumn::ForeignKey(b) => {
            if b.required {
                "i64".into()
            } else {
                "Option<i64>".into()
            }
        }
    }
}

/// The expression that reads column `i`.
fn column_read(c: &RowColumn, i: usize) -> String {
    match c {
        RowColumn::Field(Field {
            ty: FieldType::Decimal { scale, .. },
            required,
            ..
        }) => {
            if *required {
                format!("row.decimal({i}, {scale})?")
            } else {
                format!("row.opt_decimal({i}, {scale})?")
            }
        }
        _ => format!("row.get({i})?"),
    }
}

fn row_struct(out: &mut String, plan: &Plan) {
    let name = plan.row_type();
    writeln!(
        out,
        "\n/// A row of `{}`: the columns the API reads.",
        plan.r.table
    )
    .ok();
    if plan.columns.is_empty() {
        writeln!(out, "pub struct {name};").ok();
        writeln!(
            out,
            "\nimpl FromRow for {name} {{\n    \
             fn from_row(_row: &Row) -> Result<Self, DbError> {{\n        \
             Ok({name})\n    }}\n}}"
        )
        .ok();
        return;
    }
    writeln!(out, "pub struct {name} {{").ok();
    for c in &plan.columns {
        writeln!(out, "    pub {}: {},", c.name(), column_type(c)).ok();
    }
    out.push_str("}\n");
    writeln!(
        out,
        "\nimpl FromRow for {name} {{\n    \
         fn from_row(row: &Row) -> Result<Self, DbError> {{\n        \
         Ok({name} {{"
    )
    .ok();
    for (i, c) in plan.columns.iter().enumerate() {
        writeln!(out, "            {}: {},", c.name(), column_read(c, i)).ok();
    }
    out.push_str("        })\n    }\n}\n");
}

/// The members of the JSON struct: (key, Rust type, value expression from `row`).
fn json_members(plan: &Plan, embedded: bool) -> Vec<(String, String, String)> {
    let r = plan.r;
    let mut members = Vec::new();
    for m in &r.json {
        match m {
            JsonMember::Id => members.push(("id".into(), "i64".into(), "row.id".into())),
            JsonMember::Field(name) => {
                if let Some(c) = plan
                    .columns
                    .iter()
                    .find(|c| matches!(c, RowColumn::Field(f) if f.names.snake == *name))
                {
                    members.push((
                        c.name().to_string(),
                        column_type(c),
                        format!("row.{}", c.name()),
                    ));
                }
            }
            JsonMember::ForeignKey(name) => {
                if let Some(c) = plan
                    .columns
                    .iter()
                    .find(|c| matches!(c, RowColumn::ForeignKey(b) if b.name.snake == *name))
                {
                    members.push((
                        c.name().to_string(),
                        column_type(c),
                        format!("row.{}", c.name()),
                    ));
                }
            }
            JsonMember::HasMany(name) if !embedded => {
                if let Some((h, child)) = plan.embeds.iter().find(|(h, _)| h.name.snake == *name) {
                    let child_plan = Plan::new(plan.model, child);
                    members.push((
                        h.name.snake.clone(),
                        format!("Vec<{}::{}>", child.names.snake, child_plan.embedded_type()),
                        format!("{}.take(row.id)", h.name.snake),
                    ));
                }
            }
            JsonMember::HasMany(_) => {}
        }
    }
    members
}

fn json_structs(out: &mut String, plan: &Plan) {
    let keys: Vec<String> = json_members(plan, false)
        .into_iter()
        .map(|(k, _, _)| format!("`{k}`"))
        .collect();
    writeln!(
        out,
        "\n/// A {} as the API shows it: {}.",
        plan.r.names.snake,
        if keys.is_empty() {
            "an empty object".to_string()
        } else {
            keys.join(", ")
        }
    )
    .ok();
    json_struct(out, &plan.json_type(), &json_members(plan, false));
    if plan.embeds.is_empty() {
        if !plan.embedded_in.is_empty() || plan.needs_to_json {
            into_json_fn(out, plan, &plan.json_type(), "into_json", false);
        }
    } else if !plan.embedded_in.is_empty() {
        writeln!(
            out,
            "\n/// A {} inside its parent's JSON (its own relations are not expanded).",
            plan.r.names.snake
        )
        .ok();
        json_struct(out, &plan.embedded_type(), &json_members(plan, true));
        into_json_fn(out, plan, &plan.embedded_type(), "into_embedded_json", true);
    }
}

fn json_struct(out: &mut String, name: &str, members: &[(String, String, String)]) {
    out.push_str("#[derive(Serialize)]\n");
    if members.is_empty() {
        writeln!(out, "pub struct {name} {{}}").ok();
        return;
    }
    writeln!(out, "pub struct {name} {{").ok();
    for (k, t, _) in members {
        writeln!(out, "    pub {k}: {t},").ok();
    }
    out.push_str("}\n");
}

fn into_json_fn(out: &mut String, plan: &Plan, ty: &str, fn_name: &str, embedded: bool) {
    let members = json_members(plan, embedded);
    let row = plan.row_type();
    writeln!(
        out,
        "\nimpl {row} {{\n    pub fn {fn_name}(self) -> {ty} {{"
    )
    .ok();
    if members.is_empty() {
        writeln!(out, "        {ty} {{}}\n    }}\n}}").ok();
        return;
    }
    writeln!(out, "        {ty} {{").ok();
    for (k, _, v) in &members {
        let v = v
            .strip_prefix("row.")
            .map_or(v.clone(), |rest| format!("self.{rest}"));
        writeln!(out, "            {k}: {v},").ok();
    }
    out.push_str("        }\n    }\n}\n");
}

fn to_json_fn(out: &mut String, plan: &Plan) {
    let row = plan.row_type();
    let ty = plan.json_type();
    if plan.embeds.is_empty() {
        writeln!(
            out,
            "\n/// The JSON of `rows`.\n\
             async fn to_json(_db: &Db, rows: Vec<{row}>) -> Result<Vec<{ty}>, ApiError> {{\n    \
             Ok(rows.into_iter().map({row}::into_json).collect())\n}}"
        )
        .ok();
        return;
    }
    let names: Vec<String> = plan
        .embeds
        .iter()
        .map(|(h, _)| format!("`{}`", h.name.snake))
        .collect();
    writeln!(
        out,
        "\n/// The JSON of `rows`, with their {} loaded in one query per relation.",
        names.join(", ")
    )
    .ok();
    let sig =
        format!("async fn to_json(db: &Db, rows: Vec<{row}>) -> Result<Vec<{ty}>, ApiError> {{");
    if sig.len() <= 100 {
        writeln!(out, "{sig}").ok();
    } else {
        writeln!(
            out,
            "async fn to_json(\n    db: &Db,\n    rows: Vec<{row}>,\n) -> Result<Vec<{ty}>, ApiError> {{"
        )
        .ok();
    }
    out.push_str("    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();\n");
    for (h, child) in &plan.embeds {
        let call = format!(
            "    let mut {} = {}::{}(db, &ids).await?;",
            h.name.snake,
            child.names.snake,
            children_fn_name(plan.r, h)
        );
        if call.len() <= 100 {
            writeln!(out, "{call}").ok();
        } else {
            let (lhs, rhs) = call.split_once(" = ").unwrap_or((&call, ""));
            writeln!(out, "{lhs} =\n        {rhs}").ok();
        }
    }
    out.push_str("    Ok(rows.into_iter().map(|row| ");
    // rustfmt lays the closure body out vertically (a struct literal).
    let members = json_members(plan, false);
    // Reformat as rustfmt would: a chain broken one call per line.
    out.truncate(out.len() - "    Ok(rows.into_iter().map(|row| ".len());
    out.push_str("    Ok(rows\n        .into_iter()\n        .map(|row| ");
    writeln!(out, "{ty} {{").ok();
    for (k, _, v) in &members {
        writeln!(out, "            {k}: {v},").ok();
    }
    out.push_str("        })\n        .collect())\n}\n");
}

/// `of_products`: the loader a parent calls, named after the parent's plural.
fn children_fn_name(parent: &Resource, h: &HasMany) -> String {
    let _ = h;
    format!("of_{}", parent.plural.snake)
}

fn children_fn(out: &mut String, plan: &Plan, parent: &Resource, b: &BelongsTo) {
    let r = plan.r;
    let h = parent
        .has_many
        .iter()
        .find(|h| h.target == r.names.snake && h.inverse == b.name.snake);
    let Some(h) = h else { return };
    let name = children_fn_name(parent, h);
    let ty = plan.embedded_type();
    let into = if plan.embeds.is_empty() {
        "into_json"
    } else {
        "into_embedded_json"
    };
    let key = if b.required {
        format!("row.{}", b.column)
    } else {
        format!("row.{}.unwrap_or_default()", b.column)
    };
    writeln!(
        out,
        "\n/// The {} of the given {}, grouped by `{}`: one query.",
        r.plural.snake, parent.plural.snake, b.column
    )
    .ok();
    let ids = "parent_ids";
    let sig = format!(
        "pub async fn {name}(db: &Db, {ids}: &[i64]) -> Result<Children<{ty}>, ApiError> {{"
    );
    if sig.len() <= 100 {
        writeln!(out, "{sig}").ok();
    } else {
        writeln!(
            out,
            "pub async fn {name}(\n    db: &Db,\n    {ids}: &[i64],\n) -> Result<Children<{ty}>, ApiError> {{"
        )
        .ok();
    }
    writeln!(
        out,
        "    let fk = {};\n    \
         let rows: Vec<{}> = db.fetch_children(SELECT, fk, {ids}).await?;",
        rust_str(&b.column),
        plan.row_type(),
    )
    .ok();
    writeln!(
        out,
        "    let mut children = Children::new();\n    \
         for row in rows {{\n        \
         let parent = {key};\n        \
         children.push(parent, row.{into}());\n    \
         }}\n    \
         Ok(children)\n}}"
    )
    .ok();
}

fn find_fn(out: &mut String, plan: &Plan) {
    let r = plan.r;
    let row = plan.row_type();
    let ty = plan.json_type();
    writeln!(
        out,
        "\n/// The JSON of {} `id`, or 404.\n\
         async fn find(db: &Db, id: i64) -> Result<{ty}, ApiError> {{\n    \
         let row: Option<{row}> = db.fetch_optional(SELECT_ONE, &[Value::Int(id)]).await?;\n    \
         let row = row.ok_or_else(|| TABLE.not_found(id))?;\n    \
         let mut json = to_json(db, vec![row]).await?;\n    \
         json.pop().ok_or_else(|| TABLE.not_found(id))\n}}",
        r.names.snake
    )
    .ok();
}

fn handler(out: &mut String, plan: &Plan, route: &Route) {
    let r = plan.r;
    let name = handler_name(route);
    let head = format!("\n/// `{} {}`", route.method.as_str(), route.path);
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
    let sig = |args: &str| -> String {
        let one = format!("pub async fn {name}({args}) -> Result<Response, ApiError> {{");
        if one.len() <= 100 {
            one
        } else {
            let mut s = format!("pub async fn {name}(\n");
            for a in args.split(", ") {
                writeln!(s, "    {a},").ok();
            }
            s.push_str(") -> Result<Response, ApiError> {");
            s
        }
    };
    match &route.kind {
        RouteKind::List => {
            writeln!(
                out,
                "{head}: a page of {}{with} (`limit`, `offset`, `sort`,\n/// filters).\n{}\n    \
                 let mut page = LIST.parse(&TABLE, db.engine(), &uri)?;\n    \
                 let rows: Vec<{}> = page.fetch(&db, SELECT).await?;\n    \
                 page.respond(TABLE.plural, &to_json(&db, rows).await?)\n}}",
                r.plural.snake,
                sig("State(db): State<Db>, OriginalUri(uri): OriginalUri"),
                plan.row_type(),
            )
            .ok();
        }
        RouteKind::Get => {
            writeln!(
                out,
                "{head}: one {}{with}.\n{}\n    ok(TABLE.singular, &find(&db, id).await?)\n}}",
                r.names.snake,
                sig("State(db): State<Db>, Id(id): Id"),
            )
            .ok();
        }
        RouteKind::Create => {
            writeln!(
                out,
                "{head}: checks the body against [`TABLE`], inserts, answers 201 with the\n\
                 /// new {} and its `Location`.\n{}\n    \
                 let values = TABLE.validate(body, Mode::Create)?;\n    \
                 let id = crud::insert(&db, &TABLE, values).await?;\n    \
                 created(&TABLE, id, &find(&db, id).await?)\n}}",
                r.names.snake,
                sig("State(db): State<Db>, body: JsonBody"),
            )
            .ok();
        }
        RouteKind::Update | RouteKind::Replace => {
            let (what, mode) = if route.kind == RouteKind::Update {
                ("changes the fields the body names", "Mode::Update")
            } else {
                ("replaces every writable field", "Mode::Replace")
            };
            writeln!(
                out,
                "{head}: {what}.\n{}\n    \
                 let values = TABLE.validate(body, {mode})?;\n    \
                 if !crud::update(&db, &TABLE, id, values).await? {{\n        \
                 return Err(TABLE.not_found(id));\n    }}\n    \
                 ok(TABLE.singular, &find(&db, id).await?)\n}}",
                sig("State(db): State<Db>, Id(id): Id, body: JsonBody"),
            )
            .ok();
        }
        RouteKind::Delete => {
            writeln!(
                out,
                "{head}: removes the {}.\n{}\n    \
                 if !crud::delete(&db, &TABLE, id).await? {{\n        \
                 return Err(TABLE.not_found(id));\n    }}\n    \
                 Ok(no_content())\n}}",
                r.names.snake,
                sig("State(db): State<Db>, Id(id): Id"),
            )
            .ok();
        }
        RouteKind::NestedList { relation } => {
            let Some(b) = r.belongs_to(relation) else {
                return;
            };
            let parent = plan.model.resource(&b.target);
            writeln!(
                out,
                "{head}: a page of the {} of one {}.\n{}\n    \
                 crud::exists(&db, &{}::TABLE, id).await?;\n    \
                 let mut page = LIST\n        \
                 .parse(&TABLE, db.engine(), &uri)?\n        \
                 .with_parent({}, id);\n    \
                 let rows: Vec<{}> = page.fetch(&db, SELECT).await?;\n    \
                 page.respond(TABLE.plural, &to_json(&db, rows).await?)\n}}",
                r.plural.snake,
                parent.names.snake,
                sig("State(db): State<Db>, Id(id): Id, OriginalUri(uri): OriginalUri"),
                parent.names.snake,
                rust_str(&b.column),
                plan.row_type(),
            )
            .ok();
        }
        RouteKind::NestedCreate { relation } => {
            let Some(b) = r.belongs_to(relation) else {
                return;
            };
            let parent = plan.model.resource(&b.target);
            let validate = format!(
                "    let parent = [({}, Value::Int(id))];\n    \
                 let values = TABLE.validate_with(body, Mode::Create, &parent)?;",
                rust_str(&b.column)
            );
            writeln!(
                out,
                "{head}: creates a {} of {} `id`.\n{}\n    \
                 crud::exists(&db, &{}::TABLE, id).await?;\n\
                 {validate}\n    \
                 let id = crud::insert(&db, &TABLE, values).await?;\n    \
                 created(&TABLE, id, &find(&db, id).await?)\n}}",
                r.names.snake,
                parent.names.snake,
                sig("State(db): State<Db>, Id(id): Id, body: JsonBody"),
                parent.names.snake,
            )
            .ok();
        }
    }
}
