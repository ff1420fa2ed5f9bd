//! Check: end-user sign-in at the gateway. The identity providers of
//! `[gateway.identity.NAME]` (their names, issuers, key sets and audiences) and every
//! `auth` requirement of a route or an operation: the credentials it names exist, the
//! route is public, and the combination is one API Gateway can check.

use std::collections::BTreeMap;

use super::*;
use crate::spec::AuthSpec;

/// Longest provider name: it names a security scheme in both OpenAPI documents.
pub const MAX_PROVIDER_LEN: usize = 40;

/// Why a provider name cannot be used, if it cannot.
/// Google's certificate form of a service account's public keys (Firebase's guides
/// give it), and the JWK-set form of the same keys, which the verifiers read. A
/// generated backend checks tokens again from these keys, so its spec needs the JWK
/// form; for an existing service only API Gateway reads them, and it reads either.
const GOOGLE_X509: &str = "https://www.googleapis.com/service_accounts/v1/metadata/x509/";
const GOOGLE_JWK: &str = "https://www.googleapis.com/service_accounts/v1/metadata/jwk/";

fn provider_name_problem(name: &str) -> Option<String> {
    if name == keys::API_KEY {
        return Some("`api_key` names the API key itself".into());
    }
    if name.is_empty() || name.len() > MAX_PROVIDER_LEN {
        return Some(format!(
            "a provider name has 1 to {MAX_PROVIDER_LEN} characters"
        ));
    }
    if !matches(r"^[a-z][a-z0-9_]*$", name) {
        return Some(
            "a provider name is lower-case letters, digits and `_`, starting with a letter".into(),
        );
    }
    None
}

/// Why `url` is not an absolute https URL, if it is not.
fn https_problem(url: &str) -> Option<&'static str> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Some("it does not start with `https://`");
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if host.is_empty() {
        return Some("it names no host");
    }
    if host.contains('@') {
        return Some("it carries a user name");
    }
    if !matches(
        r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$",
        host,
    ) {
        return Some("its host is not a host name");
    }
    if url.contains('#') {
        return Some("it has a fragment (`#…`)");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains white space");
    }
    None
}

/// The provider names the spec declares (as written).
fn provider_names(c: &Checker) -> Vec<String> {
    c.spec
        .gateway
        .identity
        .iter()
        .map(|p| p.name.value.clone())
        .collect()
}

pub(super) fn check_identity(c: &mut Checker) {
    let spec = c.spec;
    let mut issuers: BTreeMap<&str, &str> = BTreeMap::new();
    for p in &spec.gateway.identity {
        if let Some(problem) = provider_name_problem(&p.name.value) {
            c.err(
                Code::E0250,
                p.name.span.clone(),
                &p.path,
                format!(
                    "`{}` cannot name an identity provider: {problem}",
                    p.name.value
                ),
                "name the provider after who signs the tokens, e.g. `[gateway.identity.firebase]`",
            );
        }
        match &p.issuer {
            None => c.err(
                Code::E0251,
                p.span.clone(),
                &p.path,
                "missing key `issuer`",
                "add the token issuer (`iss`), e.g. `issuer = \"https://securetoken.google.com/PROJECT\"` (docs/api.md, \"Signing users in\")",
            ),
            Some(i) => {
                if let Some(problem) = https_problem(&i.value) {
                    c.err(
                        Code::E0251,
                        i.span.clone(),
                        format!("{}.issuer", p.path),
                        format!("`{}` is not an https URL: {problem}", i.value),
                        "write the issuer exactly as the tokens' `iss` claim has it, e.g. `https://securetoken.google.com/PROJECT`",
                    );
                } else if let Some(other) = issuers.get(i.value.as_str()) {
                    c.err(
                        Code::E0251,
                        i.span.clone(),
                        format!("{}.issuer", p.path),
                        format!("provider `{other}` has the same issuer"),
                        "API Gateway tells providers apart by their issuer: declare one provider per issuer (list several `audiences` instead)",
                    );
                } else {
                    issuers.insert(&i.value, &p.name.value);
                }
            }
        }
        match &p.jwks_uri {
            None => c.err(
                Code::E0252,
                p.span.clone(),
                &p.path,
                "missing key `jwks_uri`",
                "add the URL of the issuer's public keys, e.g. `jwks_uri = \"https://www.googleapis.com/oauth2/v3/certs\"` (docs/api.md, \"Signing users in\")",
            ),
            Some(u) => {
                if let Some(problem) = https_problem(&u.value) {
                    c.err(
                        Code::E0252,
                        u.span.clone(),
                        format!("{}.jwks_uri", p.path),
                        format!("`{}` is not an https URL: {problem}", u.value),
                        "write the URL the issuer publishes its signing keys at as a JWK set, starting with `https://`",
                    );
                } else if let Some(account) = u.value.strip_prefix(GOOGLE_X509)
                    && spec.upstream.is_none()
                {
                    c.err(
                        Code::E0252,
                        u.span.clone(),
                        format!("{}.jwks_uri", p.path),
                        format!(
                            "`{}` serves X.509 certificates, which the backend's token check does not read",
                            u.value
                        ),
                        format!(
                            "Google serves the same keys as a JWK set: `jwks_uri = \"{GOOGLE_JWK}{account}\"` (API Gateway reads either; docs/api.md, \"What the backend checks\")"
                        ),
                    );
                }
            }
        }
        match &p.audiences {
            None => c.err(
                Code::E0253,
                p.span.clone(),
                &p.path,
                "missing key `audiences`",
                "add the audiences (`aud`) the tokens must carry, e.g. `audiences = [\"PROJECT\"]`: without them the gateway would accept tokens issued for other applications",
            ),
            Some(list) if list.value.is_empty() => c.err(
                Code::E0253,
                list.span.clone(),
                format!("{}.audiences", p.path),
                "no audience is listed",
                "list at least one audience (`aud`) the tokens must carry, e.g. `audiences = [\"PROJECT\"]`",
            ),
            Some(list) => {
                let mut seen = std::collections::BTreeSet::new();
                for a in &list.value {
                    let usable = !a.value.is_empty()
                        && !a.value.contains(',')
                        && !a.value.chars().any(|ch| ch.is_whitespace() || ch.is_control());
                    if !usable {
                        c.err(
                            Code::E0253,
                            a.span.clone(),
                            format!("{}.audiences", p.path),
                            format!("`{}` is not a usable audience", a.value),
                            "an audience is one non-empty word or URL without spaces or commas (the Swagger 2.0 document joins them with commas)",
                        );
                    } else if !seen.insert(a.value.as_str()) {
                        c.err(
                            Code::E0253,
                            a.span.clone(),
                            format!("{}.audiences", p.path),
                            format!("`{}` is listed twice", a.value),
                            "remove the duplicate",
                        );
                    }
                }
            }
        }
    }
}

/// Checks one `auth` requirement at `path` (the route or operation; `auth` is appended),
/// given the exposure it sits on (`public` when `public`).
pub(super) fn check_auth(c: &mut Checker, auth: &AuthSpec, path: &str, public: bool) {
    let path = format!("{path}.auth");
    if !public {
        c.err(
            Code::E0255,
            auth.span.clone(),
            &path,
            "`auth` on a route that is not public",
            "only the gateway checks credentials, and it never sees an internal route: add `exposure = \"public\"`, or remove `auth`",
        );
        return;
    }
    let providers = provider_names(c);
    let known = |name: &str| name == keys::API_KEY || providers.iter().any(|p| p == name);
    let mut seen_alternatives: Vec<Vec<&str>> = Vec::new();
    for alt in &auth.alternatives {
        if alt.value.is_empty() {
            c.err(
                Code::E0256,
                alt.span.clone(),
                &path,
                "the requirement lists no credential",
                "name what a caller must present, e.g. `auth = [\"api_key\"]`: every public route needs at least one credential",
            );
            continue;
        }
        let mut names: Vec<&str> = Vec::new();
        let mut usable = true;
        for cred in &alt.value {
            if !known(&cred.value) {
                usable = false;
                let mut all = vec![keys::API_KEY.to_string()];
                all.extend(providers.iter().cloned());
                let hint = match did_you_mean(&cred.value, all.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if providers.is_empty() => format!(
                        "declare the provider as `[gateway.identity.{}]`, or use `api_key`",
                        cred.value
                    ),
                    None => format!("use `api_key` or a provider: {}", providers.join(", ")),
                };
                c.err(
                    Code::E0254,
                    cred.span.clone(),
                    &path,
                    format!("unknown credential `{}`", cred.value),
                    hint,
                );
            } else if names.contains(&cred.value.as_str()) {
                usable = false;
                c.err(
                    Code::E0257,
                    cred.span.clone(),
                    &path,
                    format!("`{}` is listed twice", cred.value),
                    "remove the duplicate",
                );
            } else {
                names.push(&cred.value);
            }
        }
        if !usable {
            continue;
        }
        let tokens = names.iter().filter(|n| **n != keys::API_KEY).count();
        if tokens > 1 {
            c.err(
                Code::E0258,
                alt.span.clone(),
                &path,
                "a requirement needs user tokens of two providers together",
                "API Gateway checks one user token per request: to accept either provider, write the alternatives `auth = [[\"firebase\"], [\"auth0\"]]`",
            );
            continue;
        }
        if auth.any_of && auth.alternatives.len() > 1 && names.contains(&keys::API_KEY) {
            c.err(
                Code::E0258,
                alt.span.clone(),
                &path,
                "the API key is one of several alternatives",
                "API Gateway cannot accept the API key as an alternative: require it in one requirement (`auth = [\"api_key\", \"firebase\"]`), or list user tokens only as alternatives",
            );
            continue;
        }
        let mut key = names.clone();
        key.sort_unstable();
        if seen_alternatives.contains(&key) {
            c.err(
                Code::E0257,
                alt.span.clone(),
                &path,
                "the same alternative is listed twice",
                "remove the duplicate",
            );
        } else {
            seen_alternatives.push(key);
        }
    }
}
