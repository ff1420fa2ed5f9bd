//! Check: resources, their relations, JSON members, routes and list settings, and
//! the route and operation-id uniqueness that needs the lowered model.

use std::collections::{BTreeMap, BTreeSet};

use super::fields::check_fields;
use super::*;

/// Per-resource facts the cross-resource checks need.
struct ResInfo<'s> {
    spec: &'s ResourceSpec,
    snake: String,
    fields: BTreeSet<String>,
}

pub(super) fn check_resources(c: &mut Checker) {
    let spec = c.spec;
    // An existing service's spec has operations instead (`check::upstream`).
    if spec.resources.is_empty() && spec.upstream.is_some() {
        if spec.operations.is_empty() {
            let doc = spec.span.start..spec.span.start;
            c.err(
                Code::E0201,
                doc,
                "operations",
                "the spec declares no operations to expose",
                "add the upstream's routes: `[operations.list_products]` with `method = \"GET\"` and `path = \"/api/v1/products\"`",
            );
        }
        return;
    }
    if spec.resources.is_empty() {
        let doc = spec.span.start..spec.span.start;
        c.err(
            Code::E0201,
            doc,
            "resources",
            "the spec declares no resources",
            "add a resource: `[resources.product]` with `fields.title = { type = \"string\", max_length = 120 }`",
        );
        return;
    }
    let mut infos: Vec<ResInfo> = Vec::new();
    let mut by_snake: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    let mut by_plural: BTreeMap<String, (&Sp<String>, String)> = BTreeMap::new();
    for r in &spec.resources {
        let Some(snake) = ident(c, &r.name, &r.path, "resource") else {
            continue;
        };
        if let Some(first) = by_snake.get(&snake) {
            c.err(
                Code::E0204,
                r.name.span.clone(),
                &r.path,
                format!(
                    "resource `{}` collides with `{}`: both are `{snake}`",
                    r.name.value, first.value
                ),
                "names are compared after conversion to snake_case; rename one of them",
            );
            continue;
        }
        by_snake.insert(snake.clone(), &r.name);
        let plural = match &r.plural {
            Some(p) => ident(c, p, &format!("{}.plural", r.path), "plural"),
            None => Some(pluralize(&snake)),
        };
        if let Some(plural) = plural {
            let plural = names(&plural).snake;
            if let Some((other, other_snake)) = by_plural.get(&plural) {
                c.err(
                    Code::E0204,
                    r.name.span.clone(),
                    &r.path,
                    format!(
                        "resource `{}` has the plural `{plural}`, like `{}`",
                        r.name.value, other.value
                    ),
                    format!("set `plural` on one of `{snake}` or `{other_snake}`"),
                );
            } else if plural == snake && r.plural.is_none() {
                c.err(
                    Code::E0204,
                    r.name.span.clone(),
                    &r.path,
                    format!("resource `{}` has the same singular and plural", r.name.value),
                    "set `plural` to a different word: the list and single-record JSON keys must differ",
                );
            } else if let Some(kind) = keyword(&plural) {
                c.err(
                    Code::E0203,
                    r.name.span.clone(),
                    &r.path,
                    format!("the table name `{plural}` is {kind}"),
                    "set `plural` to another word",
                );
            } else {
                by_plural.insert(plural, (&r.name, snake.clone()));
            }
        }
        let mut fields = check_fields(c, r);
        if let Some(column) = check_owner(c, r, &fields) {
            fields.insert(column);
        }
        infos.push(ResInfo {
            spec: r,
            snake,
            fields,
        });
    }
    let all: BTreeSet<String> = infos.iter().map(|i| i.snake.clone()).collect();
    // relations: resource → (relation snake → target snake)
    let mut belongs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for info in &infos {
        let mut rels = BTreeMap::new();
        for b in &info.spec.belongs_to {
            let Some(bsnake) = ident(c, &b.name, &b.path, "relation") else {
                continue;
            };
            let target_sp = b.resource.clone().unwrap_or_else(|| b.name.clone());
            let target = names(&target_sp.value).snake;
            if !all.contains(&target) {
                let hint = match did_you_mean(&target, all.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "declare `[resources.{target}]`, or set `resource` to one of: {}",
                        all.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                c.err(
                    Code::E0214,
                    target_sp.span.clone(),
                    &b.path,
                    format!("`{}` is not a resource of this spec", target_sp.value),
                    hint,
                );
                continue;
            }
            let fk = format!("{bsnake}_id");
            if info.fields.contains(&fk) || info.fields.contains(&bsnake) {
                c.err(
                    Code::E0205,
                    b.name.span.clone(),
                    &b.path,
                    format!("relation `{bsnake}` needs the column `{fk}`, which a field of `{}` already uses", info.snake),
                    format!("rename the field, or name the relation differently (`belongs_to.other = {{ resource = \"{target}\" }}`)"),
                );
            }
            if rels.insert(bsnake.clone(), target.clone()).is_some() {
                c.err(
                    Code::E0204,
                    b.name.span.clone(),
                    &b.path,
                    format!("relation `{bsnake}` is declared twice"),
                    "rename one of them",
                );
            }
            let on_delete = b.on_delete.as_ref().map(|o| o.value.as_str());
            if let Some(o) = &b.on_delete
                && !ON_DELETE.contains(&o.value.as_str())
            {
                let hint = match did_you_mean(&o.value, ON_DELETE.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of: {}", ON_DELETE.join(", ")),
                };
                c.err(
                    Code::E0217,
                    o.span.clone(),
                    format!("{}.on_delete", b.path),
                    format!("unknown on_delete `{}`", o.value),
                    hint,
                );
            }
            let required = b.required.as_ref().is_none_or(|r| r.value);
            if on_delete == Some("set_null")
                && required
                && let Some(o) = &b.on_delete
            {
                c.err(
                    Code::E0217,
                    o.span.clone(),
                    format!("{}.on_delete", b.path),
                    "`set_null` needs an optional relation",
                    "add `required = false`, or use `cascade` or `restrict`",
                );
            }
            for (v, key) in [(&b.routes.list, "list"), (&b.routes.create, "create")] {
                let path = format!("{}.routes.{key}", b.path);
                exposure(c, v, &path);
                if let Some((_, auth)) = b.routes.auth.iter().find(|(k, _)| *k == key) {
                    let public = v.as_ref().is_some_and(|v| v.value == "public");
                    super::identity::check_auth(c, auth, &path, public);
                }
            }
            let public = |v: &Option<Sp<String>>| v.as_ref().is_some_and(|v| v.value == "public");
            let parent_get_public = infos
                .iter()
                .find(|i| i.snake == target)
                .is_some_and(|p| public(&p.spec.routes.get));
            for (v, key) in [(&b.routes.list, "list"), (&b.routes.create, "create")] {
                if public(v) && !parent_get_public {
                    let v = v.as_ref().map_or(b.name.span.clone(), |v| v.span.clone());
                    c.err(
                        Code::E0218,
                        v,
                        format!("{}.routes.{key}", b.path),
                        format!("public nested route under `{target}`, whose `get` route is not public"),
                        format!("a client cannot reach a `{target}` through the gateway: make `resources.{target}.routes.get` public, or this route internal"),
                    );
                }
            }
        }
        belongs.insert(info.snake.clone(), rels);
    }
    // has_many: inferred from belongs_to, renamed by declarations.
    let mut has_many: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for info in &infos {
        for h in &info.spec.has_many {
            let Some(hsnake) = ident(c, &h.name, &h.path, "relation") else {
                continue;
            };
            let child = match &h.resource {
                Some(r) => r.clone(),
                None => Sp::new(
                    crate::model::names::singular_guess(&hsnake),
                    h.name.span.clone(),
                ),
            };
            let child_snake = names(&child.value).snake;
            let Some(child_rels) = belongs.get(&child_snake) else {
                c.err(
                    Code::E0214,
                    child.span.clone(),
                    &h.path,
                    format!("`{}` is not a resource of this spec", child.value),
                    "set `resource` to the child resource that `belongs_to` this one",
                );
                continue;
            };
            let via = h.via.as_ref().map(|v| names(&v.value).snake);
            let candidates: Vec<&String> = child_rels
                .iter()
                .filter(|(_, t)| **t == info.snake)
                .map(|(r, _)| r)
                .filter(|r| via.as_ref().is_none_or(|v| v == *r))
                .collect();
            match candidates.as_slice() {
                [one] => {
                    let hm = has_many.entry(info.snake.clone()).or_default();
                    if hm
                        .insert(hsnake.clone(), (child_snake.clone(), (*one).clone()))
                        .is_some()
                    {
                        c.err(
                            Code::E0204,
                            h.name.span.clone(),
                            &h.path,
                            format!("relation `{hsnake}` is declared twice"),
                            "rename one of them",
                        );
                    }
                }
                [] => {
                    let span = h
                        .via
                        .as_ref()
                        .map_or(h.name.span.clone(), |v| v.span.clone());
                    c.err(
                        Code::E0215,
                        span,
                        &h.path,
                        format!(
                            "`{child_snake}` has no `belongs_to` relation to `{}`{}",
                            info.snake,
                            via.map(|v| format!(" named `{v}`")).unwrap_or_default()
                        ),
                        format!(
                            "declare `belongs_to.{} = {{}}` on `{child_snake}` first",
                            info.snake
                        ),
                    );
                }
                _ => c.err(
                    Code::E0215,
                    h.name.span.clone(),
                    &h.path,
                    format!(
                        "`{child_snake}` belongs to `{}` through several relations",
                        info.snake
                    ),
                    "say which with `via = \"relation\"`",
                ),
            }
        }
    }
    for (child, rels) in &belongs {
        for (rel, parent) in rels {
            let declared = has_many
                .get(parent)
                .is_some_and(|hm| hm.values().any(|(ch, via)| ch == child && via == rel));
            if declared {
                continue;
            }
            // Named after the child's plural, its own `plural` when it sets one.
            let name = infos
                .iter()
                .find(|i| &i.snake == child)
                .map_or_else(|| pluralize(child), |i| plural_of(i.spec));
            let hm = has_many.entry(parent.clone()).or_default();
            if let Some((other_child, other_rel)) = hm.get(&name) {
                let span = infos
                    .iter()
                    .find(|i| &i.snake == child)
                    .and_then(|i| {
                        i.spec
                            .belongs_to
                            .iter()
                            .find(|b| names(&b.name.value).snake == *rel)
                    })
                    .map_or(0..0, |b| b.name.span.clone());
                c.err(
                    Code::E0226,
                    span,
                    format!("resources.{child}.belongs_to.{rel}"),
                    format!("`{parent}` would get two `{name}` relations (via `{other_child}.{other_rel}` and `{child}.{rel}`)"),
                    format!("name them: `[resources.{parent}.has_many.<name>]` with `resource = \"{child}\"` and `via = \"{rel}\"`"),
                );
                continue;
            }
            hm.insert(name, (child.clone(), rel.clone()));
        }
    }
    for info in &infos {
        let empty = BTreeMap::new();
        let rels = belongs.get(&info.snake).unwrap_or(&empty);
        let hm = has_many.get(&info.snake).cloned().unwrap_or_default();
        for name in hm.keys() {
            if info.fields.contains(name) || rels.contains_key(name) {
                let span = info.spec.name.span.clone();
                c.err(
                    Code::E0205,
                    span,
                    &info.spec.path,
                    format!("`{}` has a field or relation named `{name}`, which its has_many relation also uses", info.snake),
                    format!("rename the field, or name the has_many side with `[resources.{}.has_many.<name>]`", info.snake),
                );
            }
        }
        check_json(c, info, rels, &hm);
        check_routes(c, info);
        check_list(c, info, rels);
    }
}

fn exposure(c: &mut Checker, v: &Option<Sp<String>>, path: &str) {
    if let Some(v) = v
        && !EXPOSURES.contains(&v.value.as_str())
    {
        let hint = match did_you_mean(&v.value, EXPOSURES.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "use `public` (through API Gateway, API key required), `internal` (in-cluster only) or `off`".to_string(),
        };
        c.err(
            Code::E0216,
            v.span.clone(),
            path,
            format!("unknown exposure `{}`", v.value),
            hint,
        );
    }
}

fn check_routes(c: &mut Checker, info: &ResInfo) {
    let r = &info.spec.routes;
    for (v, key) in [
        (&r.list, "list"),
        (&r.get, "get"),
        (&r.create, "create"),
        (&r.update, "update"),
        (&r.replace, "replace"),
        (&r.delete, "delete"),
    ] {
        let path = format!("{}.routes.{key}", info.spec.path);
        exposure(c, v, &path);
        if let Some((_, auth)) = r.auth.iter().find(|(k, _)| *k == key) {
            let public = v.as_ref().is_some_and(|v| v.value == "public");
            super::identity::check_auth(c, auth, &path, public);
        }
    }
}

fn check_list(c: &mut Checker, info: &ResInfo, rels: &BTreeMap<String, String>) {
    if let Some(cache) = &info.spec.cache {
        let path = format!("{}.cache", info.spec.path);
        if cache.max_age.is_none() {
            missing(
                c,
                cache.span.clone(),
                &path,
                "max_age",
                "write e.g. `cache = { max_age = 60, public = true }`",
            );
        }
        range(c, &cache.max_age, &format!("{path}.max_age"), 0, 31_536_000);
    }
    let l = &info.spec.list;
    let path = format!("{}.list", info.spec.path);
    range(
        c,
        &l.default_limit,
        &format!("{path}.default_limit"),
        1,
        10_000,
    );
    range(c, &l.max_limit, &format!("{path}.max_limit"), 1, 10_000);
    if let (Some(d), Some(m)) = (&l.default_limit, &l.max_limit)
        && d.value > m.value
    {
        c.err(
            Code::E0209,
            d.span.clone(),
            format!("{path}.default_limit"),
            format!(
                "default_limit ({}) is greater than max_limit ({})",
                d.value, m.value
            ),
            "make `default_limit` at most `max_limit`",
        );
    }
    let fks: Vec<String> = rels.keys().map(|r| format!("{r}_id")).collect();
    let mut known: Vec<&str> = info.fields.iter().map(String::as_str).collect();
    known.push("id");
    known.extend(fks.iter().map(String::as_str));
    for (list, key) in [(&l.filter, "filter"), (&l.sort, "sort")] {
        let Some(list) = list else { continue };
        for item in &list.value {
            let snake = names(&item.value).snake;
            if !known.contains(&snake.as_str()) {
                let hint = match did_you_mean(&snake, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of: {}", known.join(", ")),
                };
                c.err(
                    Code::E0215,
                    item.span.clone(),
                    format!("{path}.{key}"),
                    format!("`{}` is not a field of `{}`", item.value, info.snake),
                    hint,
                );
            }
        }
    }
}

/// `owner = { field, claim, existing }`: the owner's column, when it is usable (a new
/// column: not one of the declared fields).
fn check_owner(c: &mut Checker, r: &ResourceSpec, fields: &BTreeSet<String>) -> Option<String> {
    let o = r.owner.as_ref()?;
    let path = format!("{}.owner", r.path);
    let column = match &o.field {
        Some(f) => ident(c, f, &format!("{path}.field"), "owner field")?,
        None => "owner".to_string(),
    };
    let span = o.field.as_ref().map_or(o.span.clone(), |f| f.span.clone());
    let mut usable = true;
    if fields.contains(&column) || column == "id" {
        c.err(
            Code::E0309,
            span,
            format!("{path}.field"),
            format!(
                "the owner's column `{column}` is already a field of `{}`",
                names(&r.name.value).snake
            ),
            "ownership adds its own string column: remove the field, or name the owner's \
             column differently (`owner = { field = \"owned_by\" }`)",
        );
        usable = false;
    }
    if let Some(claim) = &o.claim
        && (claim.value.is_empty()
            || claim.value.len() > 100
            || claim.value.chars().any(char::is_control))
    {
        c.err(
            Code::E0309,
            claim.span.clone(),
            format!("{path}.claim"),
            format!(
                "`{}` is not a usable token claim",
                claim.value.escape_debug()
            ),
            "name the claim that identifies the user, as the token carries it: `sub` (the \
             default) or another string claim such as `email`",
        );
    }
    if let Some(existing) = &o.existing {
        let chars = existing.value.chars().count();
        if chars == 0
            || chars > crate::model::Ownership::MAX_LENGTH as usize
            || existing.value.chars().any(char::is_control)
        {
            c.err(
                Code::E0309,
                existing.span.clone(),
                format!("{path}.existing"),
                format!(
                    "`existing` must be an owner value of 1 to {} characters",
                    crate::model::Ownership::MAX_LENGTH
                ),
                "name the user (the claim's value, e.g. their `sub`) who owns the rows that \
                 exist when ownership is added",
            );
        }
    }
    usable.then_some(column)
}

fn check_json(
    c: &mut Checker,
    info: &ResInfo,
    rels: &BTreeMap<String, String>,
    hm: &BTreeMap<String, (String, String)>,
) {
    let Some(json) = &info.spec.json else { return };
    let path = format!("{}.json", info.spec.path);
    let mut seen = BTreeSet::new();
    let fks: Vec<String> = rels.keys().map(|r| format!("{r}_id")).collect();
    for item in &json.value {
        let snake = names(&item.value).snake;
        if !seen.insert(snake.clone()) {
            c.err(
                Code::E0225,
                item.span.clone(),
                &path,
                format!("`{}` is listed twice", item.value),
                "list each member once",
            );
            continue;
        }
        let ok = snake == "id"
            || info.fields.contains(&snake)
            || fks.contains(&snake)
            || hm.contains_key(&snake);
        if ok {
            continue;
        }
        if rels.contains_key(&snake) {
            c.err(
                Code::E0225,
                item.span.clone(),
                &path,
                format!("`{snake}` is a belongs_to relation; embedding a parent is not supported"),
                format!("list its foreign key `{snake}_id` instead"),
            );
            continue;
        }
        let mut known: Vec<&str> = vec!["id"];
        known.extend(info.fields.iter().map(String::as_str));
        known.extend(fks.iter().map(String::as_str));
        known.extend(hm.keys().map(String::as_str));
        // `shelves` for the has_many of a `shelf`, whose guessed plural is `shelfs`.
        let misspelt = hm.iter().find(|(name, (child, _))| {
            **name == pluralize(child)
                && super::lints::english_plural_of(child).as_deref() == Some(snake.as_str())
        });
        let hint = if let Some((name, (child, _))) = misspelt {
            format!(
                "the has_many of `{child}` is named after its plural, guessed as `{name}`: set `plural = \"{snake}\"` on `{child}` (or list `{name}`)"
            )
        } else {
            match did_you_mean(&snake, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "members are `id`, fields, foreign keys and has_many relations: {}",
                    known.join(", ")
                ),
            }
        };
        c.err(
            Code::E0215,
            item.span.clone(),
            &path,
            format!(
                "`{}` is not a field or relation of `{}`",
                item.value, info.snake
            ),
            hint,
        );
    }
}

/// Checks that need the lowered model: every route's method and path, and every
/// operation id, must be unique across the API.
pub fn check_model(spec: &Spec, model: &crate::model::Model) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut paths: BTreeMap<(String, &'static str), String> = BTreeMap::new();
    let mut ops: BTreeMap<String, String> = BTreeMap::new();
    if let Some(q) = &spec.gateway.quota {
        let public: Vec<&str> = model.public_endpoints().map(|e| e.operation_id).collect();
        for (op, _) in &q.costs {
            if public.contains(&op.value.as_str()) {
                continue;
            }
            let hint = match did_you_mean(&op.value, public.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if public.is_empty() => "no route is public: remove `costs`".to_string(),
                None => format!("the public operations are: {}", public.join(", ")),
            };
            diags.push(
                Diagnostic::new(
                    Code::E0234,
                    op.span.clone(),
                    format!("gateway.quota.costs.{}", op.value),
                    format!("`{}` is not a public operation", op.value),
                )
                .hint(hint),
            );
        }
    }
    for (res, route) in model.routes() {
        let span = spec
            .resources
            .iter()
            .find(|r| names(&r.name.value).snake == res.names.snake)
            .map_or(0..0, |r| r.name.span.clone());
        let path = format!("resources.{}", res.names.snake);
        let key = (route.path.clone(), route.method.as_str());
        if let Some(other) = paths.insert(key, res.names.snake.clone()) {
            diags.push(
                Diagnostic::new(
                    Code::E0228,
                    span.clone(),
                    path.clone(),
                    format!(
                        "`{} {}` is generated twice (by `{other}` and `{}`)",
                        route.method.as_str(),
                        route.path,
                        res.names.snake
                    ),
                )
                .hint("set `plural` on one resource, or turn one of the routes `off`"),
            );
        }
        if let Some(other) = ops.insert(route.operation_id.clone(), res.names.snake.clone()) {
            diags.push(
                Diagnostic::new(
                    Code::E0228,
                    span,
                    path,
                    format!(
                        "operation id `{}` is generated twice (by `{other}` and `{}`)",
                        route.operation_id, res.names.snake
                    ),
                )
                .hint("rename one resource or relation, or turn one of the routes `off`"),
            );
        }
    }
    diags.extend(check_ownership(spec, model));
    diags.extend(super::operations::check_operations_model(spec, model));
    diags
}

/// Where a route of resource `r` is written: its exposure value (or the resource's
/// name, for a route left at its default) and its item path.
fn route_item(
    spec: &Spec,
    r: &crate::model::Resource,
    kind: &crate::model::RouteKind,
) -> (std::ops::Range<usize>, String) {
    use crate::model::RouteKind;
    let Some(rs) = spec
        .resources
        .iter()
        .find(|s| names(&s.name.value).snake == r.names.snake)
    else {
        return (0..0, r.origin.path.clone());
    };
    let at = |v: &Option<Sp<String>>, path: String| {
        (
            v.as_ref().map_or(rs.name.span.clone(), |v| v.span.clone()),
            path,
        )
    };
    let routes = &rs.routes;
    let flat = |v: &Option<Sp<String>>, key: &str| at(v, format!("{}.routes.{key}", rs.path));
    match kind {
        RouteKind::List => flat(&routes.list, "list"),
        RouteKind::Get => flat(&routes.get, "get"),
        RouteKind::Create => flat(&routes.create, "create"),
        RouteKind::Update => flat(&routes.update, "update"),
        RouteKind::Replace => flat(&routes.replace, "replace"),
        RouteKind::Delete => flat(&routes.delete, "delete"),
        RouteKind::NestedList { relation } | RouteKind::NestedCreate { relation } => {
            let key = if matches!(kind, RouteKind::NestedList { .. }) {
                "list"
            } else {
                "create"
            };
            match rs
                .belongs_to
                .iter()
                .find(|b| names(&b.name.value).snake == *relation)
            {
                Some(b) => {
                    let v = if key == "list" {
                        &b.routes.list
                    } else {
                        &b.routes.create
                    };
                    at(v, format!("{}.routes.{key}", b.path))
                }
                None => at(&None, rs.path.clone()),
            }
        }
    }
}

/// Rows that belong to users stay theirs: a public route of an owned resource, or a
/// public nested route under an owned parent, must take a user token (the owner comes
/// from it); a child of an owned parent is reached publicly only through its parent;
/// an owned resource is not embedded in the JSON of one that is not owned.
fn check_ownership(spec: &Spec, model: &crate::model::Model) -> Vec<Diagnostic> {
    use crate::model::{Exposure, JsonMember, RouteKind};
    let mut diags = Vec::new();
    for r in &model.resources {
        let owned_parents: Vec<&crate::model::BelongsTo> = r
            .belongs_to
            .iter()
            .filter(|b| model.resource(&b.target).owner.is_some())
            .collect();
        for route in &r.routes {
            if route.exposure != Exposure::Public {
                continue;
            }
            let nested_parent = match &route.kind {
                RouteKind::NestedList { relation } | RouteKind::NestedCreate { relation } => {
                    owned_parents.iter().find(|b| b.name.snake == *relation)
                }
                _ => None,
            };
            let nested = matches!(
                route.kind,
                RouteKind::NestedList { .. } | RouteKind::NestedCreate { .. }
            );
            let (span, path) = route_item(spec, r, &route.kind);
            let what = format!("`{} {}`", route.method.as_str(), route.path);
            if (r.owner.is_some() || nested_parent.is_some()) && !route.access.needs_user_token() {
                let message = match nested_parent {
                    Some(b) => format!(
                        "public route {what} is under `{}`, whose rows belong to users \
                         (`owner`), but takes no user token",
                        b.target
                    ),
                    None => format!(
                        "the rows of `{}` belong to users (`owner`), but public route {what} \
                         takes no user token",
                        r.names.snake
                    ),
                };
                let provider = model
                    .gateway
                    .identity
                    .first()
                    .map_or("PROVIDER".to_string(), |p| p.name.clone());
                diags.push(
                    Diagnostic::new(Code::E0310, span, path, message).hint(format!(
                        "without a token every caller would reach every user's rows: require \
                         one (`{{ exposure = \"public\", auth = [\"{provider}\"] }}`, a provider \
                         of `[gateway.identity]`), or make the route `internal`"
                    )),
                );
                continue;
            }
            if nested || owned_parents.is_empty() {
                continue;
            }
            let writes_parent = matches!(
                route.kind,
                RouteKind::Create | RouteKind::Update | RouteKind::Replace
            );
            if r.owner.is_none() || writes_parent {
                let b = owned_parents[0];
                let (reason, hint) = if r.owner.is_none() {
                    (
                        format!(
                            "it would reach the `{}` of every user's `{}`",
                            r.plural.snake, b.target
                        ),
                        "reach them through the parent's nested routes \
                         (`belongs_to.REL.routes`), which are scoped to the caller's parent, \
                         make the route `internal`, or give this resource an `owner` too"
                            .to_string(),
                    )
                } else {
                    (
                        format!(
                            "its body names a `{}`, which could be another user's",
                            b.target
                        ),
                        "create them through the parent's nested route \
                         (`belongs_to.REL.routes.create`), which is scoped to the caller's \
                         parent, or make the route `internal`"
                            .to_string(),
                    )
                };
                diags.push(
                    Diagnostic::new(
                        Code::E0311,
                        span,
                        path,
                        format!(
                            "public route {what} of `{}`, a child of owned `{}`: {reason}",
                            r.names.snake, b.target
                        ),
                    )
                    .hint(hint),
                );
            }
        }
        if r.owner.is_none() {
            for member in &r.json {
                let JsonMember::HasMany(rel) = member else {
                    continue;
                };
                let Some(h) = r.has_many.iter().find(|h| h.name.snake == *rel) else {
                    continue;
                };
                if model.resource(&h.target).owner.is_none() {
                    continue;
                }
                let (span, path) = spec
                    .resources
                    .iter()
                    .find(|s| names(&s.name.value).snake == r.names.snake)
                    .and_then(|s| {
                        let json = s.json.as_ref()?;
                        let item = json.value.iter().find(|i| names(&i.value).snake == *rel)?;
                        Some((item.span.clone(), format!("{}.json", s.path)))
                    })
                    .unwrap_or((r.origin.span.clone(), r.origin.path.clone()));
                diags.push(
                    Diagnostic::new(
                        Code::E0311,
                        span,
                        path,
                        format!(
                            "`{}` embeds `{rel}`, whose rows belong to users, but `{}` is not \
                             owned: its JSON would show every user's `{rel}`",
                            r.names.snake, r.names.snake
                        ),
                    )
                    .hint(format!(
                        "remove `{rel}` from `json` (list them through the nested route), or \
                         give `{}` an `owner` too",
                        r.names.snake
                    )),
                );
            }
        }
    }
    diags
}
