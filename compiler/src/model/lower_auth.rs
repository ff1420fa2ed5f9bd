//! Lower: a route's or an operation's `auth` → its [`Access`]. Shared by the
//! resource and operation lowerings. Infallible: `check` has refused unknown
//! credentials and the combinations API Gateway cannot check.

use super::Access;
use crate::spec::AuthSpec;

/// What a public route or operation asks of its callers: the API key unless `auth`
/// says otherwise.
pub(super) fn access(auth: Option<&AuthSpec>) -> Access {
    let Some(auth) = auth else {
        return Access::default();
    };
    let mut out = Access {
        api_key: false,
        user_token: Vec::new(),
    };
    for name in auth.alternatives.iter().flat_map(|a| a.value.iter()) {
        if name.value == crate::spec::keys::API_KEY {
            out.api_key = true;
        } else if !out.user_token.contains(&name.value) {
            out.user_token.push(name.value.clone());
        }
    }
    out
}
