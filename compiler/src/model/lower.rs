//! Lower: a checked [`Spec`] → the [`Model`]. Infallible by construction: `check`
//! has already rejected everything this code would otherwise have to.
//!
//! Defaults live here and, for a field's type, in `lower_field`, and nowhere else
//! (docs/spec.md lists the same values; a test keeps the two in step).

use std::collections::BTreeMap;

use super::lower_auth::access;
use super::lower_field::lower_field;
use super::lower_operations::lower_operations;
use super::names::{DerivedNames, names, plural_of, pluralize, singular_guess};
use super::*;
use crate::spec::{
    AuthSpec, CorsSpec, DatabaseSpec, EgressSpec, ResourceSpec, Sp, Spec, StateSpec,
};
use shopgen_facts::gcp::{DEFAULT_SQL_RANGE, DEFAULT_SQL_TIER, sql_edition_of_tier};

fn s(v: &Option<Sp<String>>, default: &str) -> String {
    v.as_ref()
        .map_or_else(|| default.to_string(), |v| v.value.clone())
}

fn n<T: TryFrom<i64>>(v: &Option<Sp<i64>>, default: T) -> T {
    v.as_ref()
        .and_then(|v| T::try_from(v.value).ok())
        .unwrap_or(default)
}

fn route_access(auth: &[(&'static str, AuthSpec)], key: &str) -> Access {
    access(auth.iter().find(|(k, _)| *k == key).map(|(_, a)| a))
}

fn exposure(v: &Option<Sp<String>>, default: Option<Exposure>) -> Option<Exposure> {
    match v.as_ref().map(|v| v.value.as_str()) {
        Some("public") => Some(Exposure::Public),
        Some("internal") => Some(Exposure::Internal),
        Some(_) => None,
        None => default,
    }
}

/// Lowers a spec that `check` accepted.
/// The deadline budget of the spec ([`budget::derive`]). The checker has refused a
/// spec whose values do not fit; lowering stays infallible all the same.
fn lower_budget(spec: &Spec) -> budget::Budget {
    let (deadline_ms, explicit) = budget::of_spec(spec);
    budget::derive(deadline_ms, explicit)
        .or_else(|_| budget::derive(deadline_ms, budget::Explicit::default()))
        .unwrap_or(budget::Budget::DEFAULT)
}

pub fn lower(spec: &Spec, source: SpecSource) -> Model {
    let service_name = s(&spec.service.name, "api");
    let sv = &spec.service;
    let replicas = n(&sv.replicas, 2u32);
    let derived = DerivedNames::new(&service_name);
    let database = match &spec.database {
        DatabaseSpec::Default => Database::ExistingSecret {
            secret: format!("{service_name}-db"),
            key: "DATABASE_URL".into(),
        },
        DatabaseSpec::Secret { name, key } => Database::ExistingSecret {
            secret: s(name, &format!("{service_name}-db")),
            key: s(key, "DATABASE_URL"),
        },
        DatabaseSpec::CloudSql {
            tier,
            version,
            database,
            user,
            deletion_protection,
            edition,
            allocated_range,
            ..
        } => Database::CloudSql {
            instance: format!("{service_name}-pg"),
            edition: match edition {
                Some(e) => e.value.clone(),
                None => sql_edition_of_tier(&s(tier, DEFAULT_SQL_TIER))
                    .as_str()
                    .to_string(),
            },
            allocated_range: s(allocated_range, DEFAULT_SQL_RANGE),
            tier: s(tier, DEFAULT_SQL_TIER),
            database_version: s(version, "POSTGRES_16"),
            database: s(database, &names(&source.stem).snake),
            user: s(user, "app"),
            deletion_protection: deletion_protection.as_ref().is_none_or(|d| d.value),
        },
    };
    let k8s_database_secret = match &database {
        Database::ExistingSecret { secret, .. } => secret.clone(),
        Database::CloudSql { .. } => format!("{service_name}-db"),
    };
    let service = Service {
        name: service_name.clone(),
        namespace: s(&sv.namespace, &service_name),
        container_port: n(&sv.port, 3000u16),
        service_port: n(&sv.service_port, 80u16),
        replicas,
        cpu_request: s(&sv.cpu_request, "100m"),
        memory_request: s(&sv.memory_request, "128Mi"),
        cpu_limit: s(&sv.cpu_limit, "1"),
        memory_limit: s(&sv.memory_limit, "256Mi"),
        min_replicas: n(&sv.min_replicas, replicas),
        max_replicas: n(
            &sv.max_replicas,
            (replicas * 5).max(n(&sv.min_replicas, replicas)),
        ),
        target_cpu_percent: n(&sv.target_cpu_percent, 70u32),
        drain_seconds: n(&sv.drain_seconds, 20u32),
        max_body_bytes: n(&sv.max_body_bytes, 1024 * 1024u64),
        names: ServiceNames {
            backend_crate: format!("{}-backend", source.stem),
            relay_crate: format!("{}-relay", source.stem),
            api_crate: format!("{}-api", source.stem),
            extension_crate: format!("{}-extension", source.stem),
            k8s_database_secret,
            derived,
            backend_image: "backend".into(),
            relay_image: "relay".into(),
        },
    };
    let g = &spec.gcp;
    let region = s(&g.region, "us-central1");
    let egress = match g.egress.as_ref().map(|e| &e.value) {
        Some(EgressSpec::Connector {
            cidr,
            min_instances,
            max_instances,
            machine_type,
        }) => Egress::Connector {
            cidr: cidr.value.clone(),
            min_instances: n(min_instances, 2u32),
            max_instances: n(max_instances, 3u32),
            machine_type: s(machine_type, "e2-micro"),
        },
        Some(EgressSpec::DirectVpc) | None => Egress::DirectVpc,
    };
    let cluster = match &g.cluster {
        Some(c) if c.create.as_ref().is_some_and(|c| c.value) => Cluster::Create {
            name: s(&c.name, &format!("{service_name}-cluster")),
            location: s(&c.location, &region),
            master_cidr: s(&c.master_cidr, "172.16.0.0/28"),
            pods_cidr: s(&c.pods_cidr, "10.64.0.0/14"),
            services_cidr: s(&c.services_cidr, "10.68.0.0/20"),
            nodes_cidr: s(&c.nodes_cidr, "10.10.0.0/20"),
            authorized_networks: c
                .authorized_networks
                .as_ref()
                .map(|v| v.value.iter().map(|r| r.value.clone()).collect())
                .unwrap_or_default(),
        },
        Some(c) => Cluster::Existing {
            name: s(&c.name, "cluster"),
            location: s(&c.location, &region),
        },
        None => Cluster::Existing {
            name: "cluster".into(),
            location: region.clone(),
        },
    };
    let region_default = region.clone();
    let gcp = Gcp {
        project: s(&g.project, "project"),
        region,
        network: s(&g.network, "default"),
        // A created cluster gets a subnetwork of its own: `default` already exists in
        // every region of an auto-mode network.
        subnetwork: match (&cluster, &g.subnetwork) {
            (_, Some(sub)) => sub.value.clone(),
            (Cluster::Create { .. }, None) => service.names.derived.cluster_subnetwork.clone(),
            (Cluster::Existing { .. }, None) => "default".into(),
        },
        egress,
        cluster,
        ilb_source_ranges: g
            .ilb_source_ranges
            .as_ref()
            .map(|v| v.value.iter().map(|r| r.value.clone()).collect())
            .unwrap_or_default(),
        gateway_region: g
            .gateway_region
            .as_ref()
            .map_or_else(|| region_default.clone(), |r| r.value.clone()),
        state: match g.state.as_ref().map(|s| &s.value) {
            Some(StateSpec::Local) => TerraformState::Local,
            Some(StateSpec::Gcs { bucket, prefix }) => TerraformState::Gcs {
                bucket: bucket.as_ref().map(|b| b.value.clone()),
                prefix: s(prefix, &source.stem),
            },
            None => TerraformState::Gcs {
                bucket: None,
                prefix: source.stem.clone(),
            },
        },
    };
    let gw = &spec.gateway;
    let api_key_header = s(&gw.api_key_header, "x-api-key").to_ascii_lowercase();
    let gateway = Gateway {
        api_key_header: api_key_header.clone(),
        dialect: match gw.openapi.as_ref().map(|o| o.value.as_str()) {
            Some("2.0") => OpenApiDialect::Swagger20,
            _ => OpenApiDialect::OpenApi30,
        },
        deadline_seconds: budget::deadline_seconds(spec),
        title: s(&gw.title, &service_name),
        cors: gw.cors.as_ref().map(|c| lower_cors(c, &api_key_header)),
        consumers: gw
            .consumers
            .as_ref()
            .map(|list| {
                list.value
                    .iter()
                    .map(|c| Consumer {
                        name: c.value.clone(),
                        label: c.value.replace('-', "_"),
                        key_name: format!("{service_name}-{}", c.value),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        identity: {
            let mut providers: Vec<IdentityProvider> = gw
                .identity
                .iter()
                .map(|p| IdentityProvider {
                    name: p.name.value.clone(),
                    scheme: p.name.value.clone(),
                    issuer: s(&p.issuer, ""),
                    jwks_uri: s(&p.jwks_uri, ""),
                    audiences: p
                        .audiences
                        .as_ref()
                        .map(|l| l.value.iter().map(|a| a.value.clone()).collect())
                        .unwrap_or_default(),
                })
                .collect();
            providers.sort_by(|a, b| a.name.cmp(&b.name));
            providers
        },
        quota: gw.quota.as_ref().map(|q| Quota {
            metric: format!("{service_name}-requests"),
            limit: format!("{service_name}-requests-per-minute"),
            requests_per_minute: n(&q.requests_per_minute, 600u64),
            costs: q
                .costs
                .iter()
                .filter_map(|(op, cost)| Some((op.value.clone(), cost.as_ref()?.value as u64)))
                .collect(),
        }),
    };
    let r = &spec.relay;
    let budget = lower_budget(spec);
    let relay = Relay {
        min_instances: n(&r.min_instances, 0u32),
        max_instances: n(&r.max_instances, 10u32),
        concurrency: n(&r.concurrency, 80u32),
        max_body_bytes: n(&r.max_body_bytes, 1024 * 1024u64),
        cpu: s(&r.cpu, "1"),
        memory: s(&r.memory, "512Mi"),
    };
    let resources = lower_resources(&spec.resources);
    let upstream = super::upstream::lower_upstream(spec);
    let operations = lower_operations(&spec.operations, upstream.is_some());
    let mut gateway = gateway;
    let takes_tokens = resources
        .iter()
        .flat_map(|r| r.routes.iter())
        .filter(|r| r.exposure == Exposure::Public)
        .map(|r| &r.access)
        .chain(
            operations
                .iter()
                .filter(|o| o.exposure == Exposure::Public)
                .map(|o| &o.access),
        )
        .any(Access::needs_user_token)
        // An existing service that reads the client's own `Authorization`.
        || upstream.as_ref().is_some_and(|u| u.forward_authorization);
    // A public create of a resource without hooks honours `Idempotency-Key`.
    let takes_keys = resources.iter().any(|r| {
        r.routes
            .iter()
            .any(|route| route.exposure == Exposure::Public && r.honours_idempotency_key(route))
    });
    if let Some(cors) = &mut gateway.cors {
        // A page sends the user token in `Authorization`, and a create's key in
        // `Idempotency-Key`; the preflight must allow them, and a page reads whether
        // a create was repeated.
        if takes_tokens {
            cors.allowed_headers.push("authorization".to_string());
        }
        if takes_keys {
            cors.allowed_headers
                .push(shopgen_facts::backend::IDEMPOTENCY_KEY_HEADER.to_ascii_lowercase());
            let replayed = shopgen_facts::backend::IDEMPOTENT_REPLAYED_HEADER.to_ascii_lowercase();
            if !cors.expose_headers.contains(&replayed) {
                cors.expose_headers.push(replayed);
            }
        }
        cors.allowed_headers.sort();
        cors.allowed_headers.dedup();
    }
    Model {
        source,
        service,
        gcp,
        gateway,
        relay,
        database,
        budget,
        resources,
        operations,
        upstream,
        spec_record: String::new(),
        warnings: Vec::new(),
    }
}

fn lower_resources(specs: &[ResourceSpec]) -> Vec<Resource> {
    let mut sorted: Vec<&ResourceSpec> = specs.iter().collect();
    sorted.sort_by_key(|r| names(&r.name.value).snake);
    // belongs_to per child, then has_many per parent (declared names win).
    let mut belongs: BTreeMap<String, Vec<BelongsTo>> = BTreeMap::new();
    for r in &sorted {
        let snake = names(&r.name.value).snake;
        let mut list: Vec<BelongsTo> = r
            .belongs_to
            .iter()
            .map(|b| {
                let name = names(&b.name.value);
                let required = b.required.as_ref().is_none_or(|r| r.value);
                BelongsTo {
                    target: names(&b.resource.as_ref().unwrap_or(&b.name).value).snake,
                    column: format!("{}_id", name.snake),
                    on_delete: match b.on_delete.as_ref().map(|o| o.value.as_str()) {
                        Some("cascade") => OnDelete::Cascade,
                        Some("set_null") => OnDelete::SetNull,
                        _ => OnDelete::Restrict,
                    },
                    required,
                    nested_list: exposure(&b.routes.list, Some(Exposure::Internal)),
                    nested_create: exposure(&b.routes.create, Some(Exposure::Internal)),
                    name,
                    origin: Origin {
                        path: b.path.clone(),
                        span: b.name.span.clone(),
                    },
                }
            })
            .collect();
        list.sort_by(|a, b| a.name.snake.cmp(&b.name.snake));
        belongs.insert(snake, list);
    }
    let mut has_many: BTreeMap<String, Vec<HasMany>> = BTreeMap::new();
    let mut declared: Vec<(String, String, String)> = Vec::new(); // (parent, child, via)
    for r in &sorted {
        let parent = names(&r.name.value).snake;
        for h in &r.has_many {
            let name = names(&h.name.value);
            let child = h
                .resource
                .as_ref()
                .map_or_else(|| singular_guess(&name.snake), |c| names(&c.value).snake);
            let via = belongs
                .get(&child)
                .into_iter()
                .flatten()
                .find(|b| {
                    b.target == parent
                        && h.via
                            .as_ref()
                            .is_none_or(|v| names(&v.value).snake == b.name.snake)
                })
                .map(|b| (b.name.snake.clone(), b.column.clone()));
            if let Some((inverse, foreign_key)) = via {
                declared.push((parent.clone(), child.clone(), inverse.clone()));
                has_many.entry(parent.clone()).or_default().push(HasMany {
                    name,
                    target: child,
                    inverse,
                    foreign_key,
                });
            }
        }
    }
    let plural_of: BTreeMap<String, Names> = sorted
        .iter()
        .map(|r| (names(&r.name.value).snake, names(&plural_of(r))))
        .collect();
    for (child, list) in &belongs {
        for b in list {
            let key = (b.target.clone(), child.clone(), b.name.snake.clone());
            if declared.contains(&key) {
                continue;
            }
            has_many.entry(b.target.clone()).or_default().push(HasMany {
                name: plural_of[child].clone(),
                target: child.clone(),
                inverse: b.name.snake.clone(),
                foreign_key: b.column.clone(),
            });
        }
    }
    for list in has_many.values_mut() {
        list.sort_by(|a, b| a.name.snake.cmp(&b.name.snake));
    }
    sorted
        .iter()
        .map(|r| {
            let rn = names(&r.name.value);
            let plural = plural_of[&rn.snake].clone();
            let belongs_to = belongs.remove(&rn.snake).unwrap_or_default();
            let has_many = has_many.remove(&rn.snake).unwrap_or_default();
            let owner = lower_owner(r);
            let mut fields = lower_fields(r);
            if let (Some(o), Some(spec)) = (&owner, &r.owner) {
                fields.push(owner_field(o, spec, &r.path));
            }
            let json = lower_json(r, &fields, &belongs_to, &has_many);
            let routes = lower_routes(r, &rn, &plural, &belongs_to, &plural_of);
            let mut hooks: Vec<Hook> = r
                .hooks
                .iter()
                .flat_map(|h| h.value.iter())
                .filter_map(|h| Hook::from_name(&h.value))
                .collect();
            hooks.sort();
            hooks.dedup();
            let list = ListSettings {
                default_limit: n(&r.list.default_limit, 100u32),
                max_limit: n(
                    &r.list.max_limit,
                    n(&r.list.default_limit, 100u32).max(1000),
                ),
                filter: r
                    .list
                    .filter
                    .as_ref()
                    .map(|f| f.value.iter().map(|x| names(&x.value).snake).collect())
                    .unwrap_or_default(),
                sort: r
                    .list
                    .sort
                    .as_ref()
                    .map(|f| f.value.iter().map(|x| names(&x.value).snake).collect())
                    .unwrap_or_default(),
            };
            Resource {
                table: plural.snake.clone(),
                names: rn,
                plural,
                fields,
                belongs_to,
                has_many,
                json,
                list,
                routes,
                hooks,
                cache: r.cache.as_ref().map(|c| CachePolicy {
                    max_age: n(&c.max_age, 0u32),
                    public: c.public.as_ref().is_some_and(|p| p.value),
                }),
                owner,
                origin: Origin {
                    path: r.path.clone(),
                    span: r.name.span.clone(),
                },
            }
        })
        .collect()
}

/// `owner = { … }`, with its defaults (`field = "owner"`, `claim = "sub"`).
fn lower_owner(r: &ResourceSpec) -> Option<Ownership> {
    let o = r.owner.as_ref()?;
    Some(Ownership {
        column: o
            .field
            .as_ref()
            .map_or_else(|| "owner".to_string(), |f| names(&f.value).snake),
        claim: o
            .claim
            .as_ref()
            .map_or_else(|| "sub".to_string(), |c| c.value.clone()),
        existing: o.existing.as_ref().map(|e| e.value.clone()),
    })
}

/// The owner's column as a field: a required string, writable (by internal routes;
/// owned routes fix it to the caller), located at the `owner` key.
fn owner_field(o: &Ownership, spec: &crate::spec::OwnerSpec, path: &str) -> Field {
    Field {
        names: names(&o.column),
        wire: o.column.clone(),
        column: o.column.clone(),
        ty: FieldType::String {
            max_length: Ownership::MAX_LENGTH,
            min_length: Some(1),
            pattern: None,
        },
        required: true,
        unique: false,
        default: None,
        writable: true,
        origin: Origin {
            path: format!("{path}.owner"),
            span: spec
                .field
                .as_ref()
                .map_or(spec.span.clone(), |f| f.span.clone()),
        },
    }
}

/// Response headers a page may read when the spec names none.
pub const DEFAULT_EXPOSE_HEADERS: &[&str] = &["etag", "link", "x-request-id"];

fn lower_cors(c: &CorsSpec, api_key_header: &str) -> Cors {
    let strings = |v: &Option<Sp<Vec<Sp<String>>>>| -> Option<Vec<String>> {
        v.as_ref()
            .map(|l| l.value.iter().map(|s| s.value.clone()).collect())
    };
    let mut allowed_headers: Vec<String> = strings(&c.allowed_headers)
        .unwrap_or_default()
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    allowed_headers.push(api_key_header.to_string());
    allowed_headers.push("content-type".to_string());
    allowed_headers.sort();
    allowed_headers.dedup();
    let mut expose_headers = Vec::new();
    for h in strings(&c.expose_headers).unwrap_or_else(|| {
        DEFAULT_EXPOSE_HEADERS
            .iter()
            .map(|s| s.to_string())
            .collect()
    }) {
        let h = h.to_ascii_lowercase();
        if !expose_headers.contains(&h) {
            expose_headers.push(h);
        }
    }
    Cors {
        allowed_origins: strings(&c.allowed_origins).unwrap_or_default(),
        allowed_headers,
        expose_headers,
        max_age: n(&c.max_age, 600u32),
        allow_credentials: c.allow_credentials.as_ref().is_some_and(|b| b.value),
    }
}

fn lower_fields(r: &ResourceSpec) -> Vec<Field> {
    r.fields.iter().map(|f| lower_field(f, false)).collect()
}

fn lower_json(
    r: &ResourceSpec,
    fields: &[Field],
    belongs_to: &[BelongsTo],
    has_many: &[HasMany],
) -> Vec<JsonMember> {
    match &r.json {
        Some(list) => list
            .value
            .iter()
            .map(|item| {
                let snake = names(&item.value).snake;
                if snake == "id" {
                    JsonMember::Id
                } else if let Some(b) = belongs_to.iter().find(|b| b.column == snake) {
                    JsonMember::ForeignKey(b.name.snake.clone())
                } else if has_many.iter().any(|h| h.name.snake == snake) {
                    JsonMember::HasMany(snake)
                } else {
                    JsonMember::Field(snake)
                }
            })
            .collect(),
        None => std::iter::once(JsonMember::Id)
            .chain(
                fields
                    .iter()
                    .map(|f| JsonMember::Field(f.names.snake.clone())),
            )
            .chain(
                belongs_to
                    .iter()
                    .map(|b| JsonMember::ForeignKey(b.name.snake.clone())),
            )
            .collect(),
    }
}

fn lower_routes(
    r: &ResourceSpec,
    rn: &Names,
    plural: &Names,
    belongs_to: &[BelongsTo],
    plural_of: &BTreeMap<String, Names>,
) -> Vec<Route> {
    let base = format!("/{}", plural.kebab);
    let item = format!("{base}/{{id}}");
    let internal = Some(Exposure::Internal);
    let rt = &r.routes;
    let mut routes = Vec::new();
    let mut push = |kind, method, path: &str, op: String, exposure: Option<Exposure>, access| {
        if let Some(exposure) = exposure {
            routes.push(Route {
                kind,
                method,
                path: path.to_string(),
                operation_id: op,
                exposure,
                access,
            });
        }
    };
    use HttpMethod::*;
    push(
        RouteKind::List,
        Get,
        &base,
        format!("list{}", plural.pascal),
        exposure(&rt.list, internal),
        route_access(&rt.auth, "list"),
    );
    push(
        RouteKind::Get,
        Get,
        &item,
        format!("get{}", rn.pascal),
        exposure(&rt.get, internal),
        route_access(&rt.auth, "get"),
    );
    push(
        RouteKind::Create,
        Post,
        &base,
        format!("create{}", rn.pascal),
        exposure(&rt.create, internal),
        route_access(&rt.auth, "create"),
    );
    push(
        RouteKind::Update,
        Patch,
        &item,
        format!("update{}", rn.pascal),
        exposure(&rt.update, internal),
        route_access(&rt.auth, "update"),
    );
    push(
        RouteKind::Replace,
        Put,
        &item,
        format!("replace{}", rn.pascal),
        exposure(&rt.replace, None),
        route_access(&rt.auth, "replace"),
    );
    push(
        RouteKind::Delete,
        Delete,
        &item,
        format!("delete{}", rn.pascal),
        exposure(&rt.delete, internal),
        route_access(&rt.auth, "delete"),
    );
    for b in belongs_to {
        let parent_plural = plural_of
            .get(&b.target)
            .cloned()
            .unwrap_or_else(|| names(&pluralize(&b.target)));
        let path = format!("/{}/{{id}}/{}", parent_plural.kebab, plural.kebab);
        let nested_auth = r
            .belongs_to
            .iter()
            .find(|s| names(&s.name.value).snake == b.name.snake)
            .map_or(&[][..], |s| s.routes.auth.as_slice());
        // `listProductReviews`; a relation named unlike its target keeps its own name
        // (`listAuthorPosts` for `post belongs_to author → user`).
        push(
            RouteKind::NestedList {
                relation: b.name.snake.clone(),
            },
            Get,
            &path,
            format!("list{}{}", b.name.pascal, plural.pascal),
            b.nested_list,
            route_access(nested_auth, "list"),
        );
        push(
            RouteKind::NestedCreate {
                relation: b.name.snake.clone(),
            },
            Post,
            &path,
            format!("create{}{}", b.name.pascal, rn.pascal),
            b.nested_create,
            route_access(nested_auth, "create"),
        );
    }
    routes.sort_by(|a, b| a.kind.cmp(&b.kind));
    routes
}

#[cfg(test)]
mod tests {
    use crate::model::{Model, SpecSource};

    /// The model of `src`, a variant of `specs/shop.toml`.
    fn shop_with(src: &str) -> Model {
        let source = SpecSource {
            stem: "shop".into(),
            display_path: "specs/shop.toml".into(),
        };
        crate::compile(src, source).unwrap_or_else(|diags| panic!("{diags:?}"))
    }

    /// A parent's inferred `has_many` is named after the child's plural: its own
    /// `plural` when it sets one, as its routes and table are.
    #[test]
    fn an_inferred_has_many_takes_the_childs_own_plural() {
        let src = include_str!("../../../specs/shop.toml")
            .replace(
                "[resources.review]\n",
                "[resources.review]\nplural = \"critiques\"\n",
            )
            .replace("\"price\", \"reviews\"]", "\"price\", \"critiques\"]");
        let model = shop_with(&src);
        let product = model
            .resources
            .iter()
            .find(|r| r.names.snake == "product")
            .expect("product");
        let names: Vec<&str> = product
            .has_many
            .iter()
            .map(|h| h.name.snake.as_str())
            .collect();
        assert_eq!(names, ["critiques"]);
    }

    /// A page may send `Idempotency-Key` (the preflight allows it) once a create is
    /// public.
    #[test]
    fn cors_allows_the_idempotency_key_of_a_public_create() {
        let allowed = |routes: &str| {
            let src = include_str!("../../../specs/shop.toml")
                .replace(
                    "openapi = \"3.0\"\n",
                    "openapi = \"3.0\"\ncors = { allowed_origins = [\"https://shop.example.com\"] }\n",
                )
                .replace("routes = { list = \"public\", get = \"public\" }", routes);
            let model = shop_with(&src);
            let cors = model.gateway.cors.expect("cors");
            (cors.allowed_headers, cors.expose_headers)
        };
        let (headers, exposed) = allowed("routes = { list = \"public\", get = \"public\" }");
        assert_eq!(headers, ["content-type", "x-api-key"]);
        assert_eq!(exposed, ["etag", "link", "x-request-id"]);
        let (headers, exposed) = allowed("routes = { list = \"public\", create = \"public\" }");
        assert_eq!(headers, ["content-type", "idempotency-key", "x-api-key"]);
        assert_eq!(
            exposed,
            ["etag", "link", "x-request-id", "idempotent-replayed"]
        );
    }
}
