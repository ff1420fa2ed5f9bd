//! Who called: the relay accepts requests only from API Gateway's service account.
//!
//! Cloud Run's IAM check lets in every principal with `run.routes.invoke` on the
//! service — the gateway's account, but also the project's Owners and Editors, who
//! would skip the API key. Cloud Run has already verified the caller's Google-signed
//! ID token before the request reaches the container (signature, expiry, audience);
//! the relay reads the verified identity from it and compares it with the configured
//! allowlist ([`AllowedInvokers`], `ALLOWED_INVOKERS`).
//!
//! Which token Cloud Run verified: `X-Serverless-Authorization` when the request has
//! one (Cloud Run then checks it instead of `Authorization`, which it leaves to the
//! service), otherwise `Authorization: Bearer …`. Reading the other header would let
//! an allowed-by-IAM caller put a forged gateway token in `Authorization` next to its
//! own real token in `X-Serverless-Authorization`. Cloud Run may replace the forwarded
//! token's signature (`SIGNATURE_REMOVED_BY_GOOGLE`), so only the payload is read, and
//! only the relay's position behind Cloud Run's check makes it trustworthy: the check
//! is for the deployed relay, where nothing reaches the container unverified.
//!
//! A token matches when its `email` claim (with `email_verified` not false) or its
//! `sub` claim (the account's unique numeric id) is in the allowlist; Terraform sets
//! both for the gateway's account. Anything else is 403 `forbidden`.

use hyper::header::AUTHORIZATION;

pub use crate::headers::X_SERVERLESS_AUTHORIZATION;
use crate::headers::{Fields, is_visible_ascii};

/// The principals allowed to call the relay: service-account emails and unique ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedInvokers(Vec<String>);

impl AllowedInvokers {
    /// From a comma-separated list (`ALLOWED_INVOKERS`); empty entries are ignored.
    /// `None` when nothing is listed.
    pub fn parse(list: &str) -> Option<Self> {
        let ids: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (!ids.is_empty()).then_some(AllowedInvokers(ids))
    }

    /// Whether the verified caller of a request with these headers is allowed.
    pub fn allows<F: Fields + ?Sized>(&self, headers: &F) -> bool {
        self.allows_token(verified_credential(headers))
    }

    /// Whether the verified caller is allowed, given the value of the header Cloud Run
    /// checked (see `verified_credential`).
    pub fn allows_token(&self, header: Option<&[u8]>) -> bool {
        header.and_then(identity_of).is_some_and(|id| {
            id.email
                .as_deref()
                .is_some_and(|e| id.email_verified && self.0.iter().any(|a| a == e))
                || id
                    .sub
                    .as_deref()
                    .is_some_and(|s| self.0.iter().any(|a| a == s))
        })
    }
}

/// The identity claims of the token Cloud Run verified.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub email: Option<String>,
    pub email_verified: bool,
    pub sub: Option<String>,
}

/// The value of the header whose token Cloud Run verified: the first
/// `X-Serverless-Authorization` when the request has one, else the first
/// `Authorization`.
pub fn verified_credential<F: Fields + ?Sized>(headers: &F) -> Option<&[u8]> {
    headers
        .first(&X_SERVERLESS_AUTHORIZATION)
        .or_else(|| headers.first(&AUTHORIZATION))
}

/// The claims of the bearer token in an `Authorization`-style header value.
fn identity_of(header: &[u8]) -> Option<Identity> {
    if !is_visible_ascii(header) {
        return None;
    }
    let value = std::str::from_utf8(header).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parts = token.trim().split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let json = base64url_decode(payload)?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json).ok()?;
    let string = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Some(Identity {
        email: string("email"),
        // Google writes it as a boolean; some issuers as a string.
        email_verified: match claims.get("email_verified") {
            None => true,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            Some(_) => false,
        },
        sub: string("sub"),
    })
}

/// Unpadded (or padded) base64url, as JWT segments are written.
fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

/// Tokens in the shape API Gateway forwards, for the tests of this module and of
/// `admission`.
#[cfg(test)]
pub(crate) mod test_tokens {
    /// Unpadded base64url.
    pub(crate) fn b64(bytes: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    /// An `Authorization` value carrying `claims` (a JSON object), its signature
    /// removed as Google removes it.
    pub(crate) fn token(claims: &str) -> String {
        format!(
            "Bearer {}.{}.SIGNATURE_REMOVED_BY_GOOGLE",
            b64(br#"{"alg":"RS256"}"#),
            b64(claims.as_bytes())
        )
    }

    /// A token of `email`, verified.
    pub(crate) fn verified_token(email: &str) -> String {
        token(&format!(
            r#"{{"email":"{email}","email_verified":true,"sub":"1"}}"#
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::test_tokens::{b64, token};
    use super::*;
    use hyper::HeaderMap;
    use hyper::header::HeaderName;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&HeaderName, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert((*k).clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const GW: &str = "shop-api-gateway@p.iam.gserviceaccount.com";

    #[test]
    fn decodes_base64url() {
        for s in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"\xff\xfe\xfd\x00",
            b"{\"email\":\"x\"}",
        ] {
            assert_eq!(base64url_decode(&b64(s)).as_deref(), Some(s));
        }
        assert_eq!(base64url_decode("a+b/"), None);
    }

    #[test]
    fn allows_the_gateway_account_by_email_or_unique_id() {
        let allowed = AllowedInvokers::parse(&format!("{GW}, 1234567890")).unwrap();
        let by_email = token(&format!(
            r#"{{"email":"{GW}","email_verified":true,"sub":"1"}}"#
        ));
        assert!(allowed.allows(&headers(&[(&AUTHORIZATION, by_email)])));
        let by_sub = token(r#"{"sub":"1234567890"}"#);
        assert!(allowed.allows(&headers(&[(&AUTHORIZATION, by_sub)])));
    }

    #[test]
    fn refuses_other_callers_and_unreadable_tokens() {
        let allowed = AllowedInvokers::parse(GW).unwrap();
        let owner = token(r#"{"email":"owner@example.com","email_verified":true,"sub":"9"}"#);
        for h in [
            headers(&[]),
            headers(&[(&AUTHORIZATION, owner.clone())]),
            headers(&[(&AUTHORIZATION, "Basic abc".into())]),
            headers(&[(&AUTHORIZATION, "Bearer not-a-jwt".into())]),
            headers(&[(&AUTHORIZATION, "Bearer a.!!!.c".into())]),
            headers(&[(
                &AUTHORIZATION,
                token(&format!(r#"{{"email":"{GW}","email_verified":false}}"#)),
            )]),
        ] {
            assert!(!allowed.allows(&h), "{h:?}");
        }
        // Cloud Run checked X-Serverless-Authorization, not the forged Authorization.
        let forged = token(&format!(r#"{{"email":"{GW}"}}"#));
        let h = headers(&[
            (&AUTHORIZATION, forged),
            (&X_SERVERLESS_AUTHORIZATION, owner),
        ]);
        assert!(!allowed.allows(&h));
    }

    #[test]
    fn an_empty_list_is_no_list() {
        assert_eq!(AllowedInvokers::parse(" , "), None);
        assert_eq!(AllowedInvokers::parse(""), None);
    }
}
