//! Diff, part 1: exposure. What a client on the internet can reach, and how.
//!
//! A model's exposure is two lists: its [`Reachable`] endpoints (every route, each
//! internal or public, with what a caller presents for a public one) and its gateway
//! [`Setting`]s (the API-key header, consumers, quota, CORS origins and credentials);
//! and each resource's ownership (whose rows a signed-in caller reaches). Comparing
//! two models compares those lists, so a new kind of endpoint or setting plugs in by
//! adding its entries to [`reachable`] or [`settings`]; the comparison, the ordering
//! and the rendering stay as they are.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Access, Exposure, IdentityProvider, Model, Ownership};

/// Something a request can reach, keyed by what a client sends (`GET /products`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachable {
    /// `route` (a generated CRUD route) or `operation` (a custom operation).
    pub kind: &'static str,
    /// `GET /products`: method and path template.
    pub name: String,
    /// `listProducts`.
    pub operation_id: String,
    /// Reachable through API Gateway (with an API key), not only inside the cluster.
    pub public: bool,
    /// What a caller presents at the gateway (for a public endpoint).
    pub access: Access,
}

/// A gateway setting that decides who gets through.
#[derive(Debug, Clone)]
pub struct Setting {
    /// `api_key_header`: the spec's key.
    pub name: &'static str,
    /// What a reader calls it (`API key header`).
    pub label: &'static str,
    pub value: String,
    /// Whether a change from `old` to `new` lets more requests through.
    pub widens: fn(old: &str, new: &str) -> bool,
    /// What the change means for clients.
    pub consequence: &'static str,
}

/// Every endpoint of the model (generated routes and custom operations), by name.
pub fn reachable(model: &Model) -> BTreeMap<String, Reachable> {
    let mut out = BTreeMap::new();
    for (_, route) in model.routes() {
        let name = format!("{} {}", route.method.as_str(), route.path);
        out.insert(
            name.clone(),
            Reachable {
                kind: "route",
                name,
                operation_id: route.operation_id.clone(),
                public: route.exposure == Exposure::Public,
                access: route.access.clone(),
            },
        );
    }
    for op in &model.operations {
        let name = format!("{} {}", op.method.as_str(), op.path);
        out.insert(
            name.clone(),
            Reachable {
                kind: "operation",
                name,
                operation_id: op.operation_id.clone(),
                public: op.exposure == Exposure::Public,
                access: op.access.clone(),
            },
        );
    }
    out
}

/// Every gateway setting that decides who gets through, by name.
pub fn settings(model: &Model) -> Vec<Setting> {
    let g = &model.gateway;
    let quota = match &g.quota {
        Some(q) => format!("{} requests per minute", q.requests_per_minute),
        None => NONE.to_string(),
    };
    let origins = match &g.cors {
        Some(c) => c.allowed_origins.join(", "),
        None => NONE.to_string(),
    };
    let credentials = g.cors.as_ref().is_some_and(|c| c.allow_credentials);
    let consumers = if g.consumers.is_empty() {
        "client".to_string()
    } else {
        let names: Vec<&str> = g.consumers.iter().map(|c| c.name.as_str()).collect();
        names.join(", ")
    };
    vec![
        Setting {
            name: "api_key_header",
            label: "API key header",
            value: g.api_key_header.clone(),
            widens: |_, _| false,
            consequence: "clients must send their key in the new header; requests with the old one get 401",
        },
        Setting {
            name: "consumers",
            label: "API key consumers",
            value: consumers,
            widens: |old, new| list(new).iter().any(|c| !list(old).contains(c)),
            consequence: "each consumer has its own API key: a new consumer is a new key that gets through, a removed one's key is deleted",
        },
        Setting {
            name: "quota",
            label: "Quota",
            value: quota,
            widens: |old, new| match (per_minute(old), per_minute(new)) {
                (Some(_), None) => true,
                (Some(o), Some(n)) => n > o,
                (None, _) => false,
            },
            consequence: "API Gateway rejects calls over the limit with 429, counted per consumer project and minute",
        },
        Setting {
            name: "cors.allowed_origins",
            label: "CORS allowed origins",
            value: origins,
            widens: |old, new| {
                let old = list(old);
                list(new)
                    .iter()
                    .any(|o| *o != NONE && (!old.contains(o) && !old.contains(&"*")))
            },
            consequence: "web pages on these origins may call the public routes from a browser",
        },
        Setting {
            name: "cors.allow_credentials",
            label: "CORS credentials",
            value: credentials.to_string(),
            widens: |old, new| old == "false" && new == "true",
            consequence: "browsers send cookies and HTTP authentication with cross-origin calls when this is true",
        },
    ]
}

/// What a caller presents, as a reader says it: `the API key and a firebase token`.
pub fn describe_access(access: &Access) -> String {
    let tokens = match access.user_token.as_slice() {
        [] => None,
        [one] => Some(format!("a {one} token")),
        many => Some(format!("a token of {}", many.join(" or "))),
    };
    match (access.api_key, tokens) {
        (true, None) => "the API key".to_string(),
        (true, Some(t)) => format!("the API key and {t}"),
        (false, Some(t)) => t,
        (false, None) => "nothing".to_string(),
    }
}

/// Whether a caller refused under `old` gets through under `new`: the API key is no
/// longer asked for, or a token no longer is, or a token of a provider `old` did not
/// accept now is.
pub fn access_widens(old: &Access, new: &Access) -> bool {
    (old.api_key && !new.api_key)
        || (!old.user_token.is_empty()
            && (new.user_token.is_empty()
                || new.user_token.iter().any(|p| !old.user_token.contains(p))))
}

/// Whose rows a caller reaches, as a reader says it.
fn describe_owner(owner: Option<&Ownership>) -> String {
    match owner {
        Some(o) => format!(
            "each caller reaches only the rows whose `{}` is their token's `{}`",
            o.column, o.claim
        ),
        None => "every caller reaches every row".to_string(),
    }
}

/// An identity provider's settings, as a reader says them.
fn describe_provider(p: &IdentityProvider) -> String {
    format!(
        "issuer {}, keys {}, audiences {}",
        p.issuer,
        p.jwks_uri,
        p.audiences.join(", ")
    )
}

/// What changes in a provider's settings: `its audiences from `a` to `a, b``.
fn provider_changes(old: &IdentityProvider, new: &IdentityProvider) -> String {
    let (old_aud, new_aud) = (old.audiences.join(", "), new.audiences.join(", "));
    let parts: Vec<String> = [
        ("issuer", &old.issuer, &new.issuer),
        ("key URL", &old.jwks_uri, &new.jwks_uri),
        ("audiences", &old_aud, &new_aud),
    ]
    .into_iter()
    .filter(|(_, was, now)| was != now)
    .map(|(what, was, now)| format!("its {what} from `{was}` to `{now}`"))
    .collect();
    parts.join(" and ")
}

/// Whether a token `old` refused is accepted under `new`: another issuer or key set,
/// or an audience `old` did not accept.
fn provider_widens(old: &IdentityProvider, new: &IdentityProvider) -> bool {
    old.issuer != new.issuer
        || old.jwks_uri != new.jwks_uri
        || new.audiences.iter().any(|a| !old.audiences.contains(a))
}

/// The exposure line of identity provider `name` (`gateway.identity.NAME`).
fn provider_line(
    name: &str,
    from: String,
    to: String,
    widens: bool,
    summary: String,
) -> ExposureChange {
    ExposureChange {
        change: ExposureKind::SettingChanged,
        kind: "setting",
        name: format!("gateway.identity.{name}"),
        operation_id: None,
        public: None,
        from: Some(from),
        to: Some(to),
        widens,
        summary,
    }
}

/// How a setting that is not in the spec reads.
const NONE: &str = "none";

/// The items of a `, `-separated setting value.
fn list(value: &str) -> Vec<&str> {
    value.split(", ").collect()
}

/// The limit of a quota setting value; `None` for no quota.
fn per_minute(value: &str) -> Option<u64> {
    value.split(' ').next()?.parse().ok()
}

/// What happens to one endpoint or setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureKind {
    /// An internal endpoint becomes reachable through API Gateway.
    BecomesPublic,
    /// A public endpoint becomes internal only.
    StopsBeingPublic,
    /// A new endpoint (public or internal).
    Added,
    /// An endpoint that no longer exists.
    Removed,
    /// What callers of a public endpoint present changes (the API key, user tokens).
    AccessChanged,
    /// Whose rows a resource's public routes reach changes (`owner`).
    OwnershipChanged,
    /// A gateway setting changes its value.
    SettingChanged,
}

/// One exposure change. Fields that do not apply to the kind are left out of the
/// JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureChange {
    pub change: ExposureKind,
    /// `route`, `operation`, `resource` (its ownership) or `setting`.
    pub kind: &'static str,
    /// `GET /products`, the resource (`wishlist`), or the setting's spec key
    /// (`api_key_header`).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// For an endpoint: whether it is public after the change (before it, for a
    /// removed one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// For a setting, an endpoint's access or a resource's ownership: the old and the
    /// new value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// More requests get through from the internet than before.
    pub widens: bool,
    /// One sentence for a reader.
    pub summary: String,
}

/// Every exposure change from `old` to `new`: widening ones first, then the rest, each
/// group in name order.
pub fn changes(old: Option<&Model>, new: &Model) -> Vec<ExposureChange> {
    let before = old.map(reachable).unwrap_or_default();
    let after = reachable(new);
    let mut out = Vec::new();
    for (name, now) in &after {
        let reach = |public: bool| {
            if public {
                "public (through API Gateway, API key required)"
            } else {
                "internal (inside the cluster only)"
            }
        };
        let change = match before.get(name) {
            None => Some((
                ExposureKind::Added,
                now.public,
                format!(
                    "{} {name} ({}) is added, {}",
                    now.kind,
                    now.operation_id,
                    reach(now.public)
                ),
            )),
            Some(was) if !was.public && now.public => Some((
                ExposureKind::BecomesPublic,
                true,
                format!(
                    "{} {name} ({}) becomes public: reachable from the internet through API Gateway",
                    now.kind, now.operation_id
                ),
            )),
            Some(was) if was.public && !now.public => Some((
                ExposureKind::StopsBeingPublic,
                false,
                format!(
                    "{} {name} ({}) stops being public: internal only; API Gateway stops forwarding it",
                    now.kind, now.operation_id
                ),
            )),
            Some(was) if was.public && now.public && was.access != now.access => {
                let (from, to) = (describe_access(&was.access), describe_access(&now.access));
                let widens = access_widens(&was.access, &now.access);
                out.push(ExposureChange {
                    change: ExposureKind::AccessChanged,
                    kind: now.kind,
                    name: name.clone(),
                    operation_id: Some(now.operation_id.clone()),
                    public: Some(true),
                    summary: format!(
                        "{} {name} ({}) asks callers for {to} instead of {from}{}",
                        now.kind,
                        now.operation_id,
                        if widens {
                            ": callers it refused before get through"
                        } else {
                            ": callers without it get 401 at API Gateway"
                        }
                    ),
                    from: Some(from),
                    to: Some(to),
                    widens,
                });
                None
            }
            Some(_) => None,
        };
        if let Some((change, widens, summary)) = change {
            out.push(ExposureChange {
                change,
                kind: now.kind,
                name: name.clone(),
                operation_id: Some(now.operation_id.clone()),
                public: Some(now.public),
                from: None,
                to: None,
                widens,
                summary,
            });
        }
    }
    for (name, was) in before.iter().filter(|(n, _)| !after.contains_key(*n)) {
        out.push(ExposureChange {
            change: ExposureKind::Removed,
            kind: was.kind,
            name: name.clone(),
            operation_id: Some(was.operation_id.clone()),
            public: Some(was.public),
            from: None,
            to: None,
            widens: false,
            summary: format!(
                "{} {name} ({}) is removed{}",
                was.kind,
                was.operation_id,
                if was.public {
                    "; it was public: API Gateway stops forwarding it"
                } else {
                    " (it was internal)"
                }
            ),
        });
    }
    if let Some(old) = old {
        for now in &new.resources {
            let Some(was) = old
                .resources
                .iter()
                .find(|r| r.names.snake == now.names.snake)
            else {
                continue;
            };
            let (was_owner, now_owner) = (was.owner.as_ref(), now.owner.as_ref());
            let same = match (was_owner, now_owner) {
                (Some(a), Some(b)) => a.column == b.column && a.claim == b.claim,
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            let (from, to) = (describe_owner(was_owner), describe_owner(now_owner));
            let widens = now_owner.is_none();
            out.push(ExposureChange {
                change: ExposureKind::OwnershipChanged,
                kind: "resource",
                name: now.names.snake.clone(),
                operation_id: None,
                public: None,
                summary: match (was_owner, now_owner) {
                    (Some(_), None) => format!(
                        "resource {} is no longer owned: every caller reaches every row, where {}",
                        now.names.snake,
                        from.replacen("reaches", "reached", 1)
                    ),
                    (None, Some(_)) => format!("resource {} becomes owned: {to}", now.names.snake),
                    _ => format!(
                        "resource {} changes its owner: {to}; rows stored before keep their owner values",
                        now.names.snake
                    ),
                },
                from: Some(from),
                to: Some(to),
                widens,
            });
        }
        for was in &old.gateway.identity {
            if new.gateway.identity.iter().any(|p| p.name == was.name) {
                continue;
            }
            // The checker refuses a spec whose routes name a provider it lacks, so
            // none takes its tokens any more.
            out.push(provider_line(
                &was.name,
                describe_provider(was),
                NONE.to_string(),
                false,
                format!(
                    "identity provider {} is removed: no route accepts its tokens any more",
                    was.name
                ),
            ));
        }
        for now in &new.gateway.identity {
            let Some(was) = old.gateway.identity.iter().find(|p| p.name == now.name) else {
                // Its tokens get through only where a route's `auth` names it, which
                // that route's own access change reports.
                out.push(provider_line(
                    &now.name,
                    NONE.to_string(),
                    describe_provider(now),
                    false,
                    format!(
                        "identity provider {} is added ({}): a route accepts its tokens only where its `auth` names it",
                        now.name,
                        describe_provider(now)
                    ),
                ));
                continue;
            };
            if was == now {
                continue;
            }
            let widens = provider_widens(was, now);
            out.push(provider_line(
                &now.name,
                describe_provider(was),
                describe_provider(now),
                widens,
                format!(
                    "identity provider {} changes {}{}",
                    now.name,
                    provider_changes(was, now),
                    if widens {
                        ": API Gateway accepts tokens it refused before on the routes that take them"
                    } else {
                        ": tokens it accepted before may get 401"
                    }
                ),
            ));
        }
        for (was, now) in settings(old).iter().zip(settings(new)) {
            if was.value != now.value {
                out.push(ExposureChange {
                    change: ExposureKind::SettingChanged,
                    kind: "setting",
                    name: now.name.to_string(),
                    operation_id: None,
                    public: None,
                    from: Some(was.value.clone()),
                    to: Some(now.value.clone()),
                    widens: (now.widens)(&was.value, &now.value),
                    summary: format!(
                        "{} changes from `{}` to `{}`: {}",
                        now.label, was.value, now.value, now.consequence
                    ),
                });
            }
        }
    }
    out.sort_by(|a, b| (!a.widens, a.change, &a.name).cmp(&(!b.widens, b.change, &b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(api_key: bool, tokens: &[&str]) -> Access {
        Access {
            api_key,
            user_token: tokens.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// A change widens exactly when some caller refused before gets through after.
    #[test]
    fn access_widens_when_a_caller_refused_before_gets_through() {
        let cases = [
            // (old, new, widens)
            (access(true, &[]), access(true, &["firebase"]), false),
            (access(true, &["firebase"]), access(true, &[]), true),
            (
                access(true, &["firebase"]),
                access(false, &["firebase"]),
                true,
            ),
            (
                access(false, &["firebase"]),
                access(true, &["firebase"]),
                false,
            ),
            (
                access(false, &["firebase"]),
                access(false, &["firebase", "google"]),
                true,
            ),
            (
                access(false, &["firebase", "google"]),
                access(false, &["google"]),
                false,
            ),
            (
                access(false, &["firebase"]),
                access(false, &["google"]),
                true,
            ),
            (access(true, &[]), access(true, &[]), false),
        ];
        for (old, new, widens) in cases {
            assert_eq!(access_widens(&old, &new), widens, "{old:?} → {new:?}");
        }
        let provider = |issuer: &str, audiences: &[&str]| IdentityProvider {
            name: "firebase".into(),
            scheme: "firebase".into(),
            issuer: issuer.into(),
            jwks_uri: "https://keys.example.com/jwks".into(),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
        };
        let base = provider("https://a.example.com", &["app", "web"]);
        assert!(provider_widens(
            &base,
            &provider("https://b.example.com", &["app", "web"])
        ));
        assert!(provider_widens(
            &base,
            &provider("https://a.example.com", &["app", "web", "cli"])
        ));
        assert!(!provider_widens(
            &base,
            &provider("https://a.example.com", &["app"])
        ));
        assert_eq!(describe_access(&access(true, &[])), "the API key");
        assert_eq!(
            describe_access(&access(false, &["firebase", "google"])),
            "a token of firebase or google"
        );
    }
}
