//! End-user JWTs, verified as API Gateway verifies them, with the verifier the
//! generated backend uses too ([`shopgen_jwt`], whose docs give ESPv2's rules and
//! sources). What is the emulator's own: the providers come from the gateway document,
//! and a provider whose document names no audience gets ESPv2's default, `https://<service
//! name>` (`jwt_authn.go`, "For backwards-compatibility with ESPv1, auto-generate
//! audiences"); the emulator uses the document's host as the service name, and checks
//! no audience when the document names no host (the managed service name exists only
//! in the cloud).

use std::collections::BTreeMap;

pub use shopgen_jwt::{JwksSource, JwtError, Verified};

use crate::document::JwtProvider;

/// A key of the JWKS overrides that names no provider of the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither the name nor the issuer of a JWT provider of the document")]
pub struct UnknownProvider(pub String);

/// The document's JWT providers, ready to verify tokens.
#[derive(Debug)]
pub struct Verifier(shopgen_jwt::Verifier);

impl Verifier {
    /// Prepares `providers`; `service_host` gives the default audience
    /// (`https://<host>`) of a provider that names none; `overrides` maps a provider
    /// (by scheme name or issuer) to a local JWKS.
    pub fn new(
        providers: &[JwtProvider],
        service_host: Option<&str>,
        overrides: &BTreeMap<String, JwksSource>,
    ) -> Result<Verifier, UnknownProvider> {
        for key in overrides.keys() {
            if !providers.iter().any(|p| &p.name == key || &p.issuer == key) {
                return Err(UnknownProvider(key.clone()));
            }
        }
        let providers = providers
            .iter()
            .map(|p| shopgen_jwt::Provider {
                name: p.name.clone(),
                issuer: p.issuer.clone(),
                jwks_uri: p.jwks_uri.clone(),
                audiences: if !p.audiences.is_empty() {
                    Some(p.audiences.clone())
                } else {
                    service_host.map(|h| vec![format!("https://{h}")])
                },
                locations: p.locations.clone(),
                jwks: overrides
                    .get(&p.name)
                    .or_else(|| overrides.get(&p.issuer))
                    .cloned(),
            })
            .collect();
        Ok(Verifier(shopgen_jwt::Verifier::new(providers)))
    }

    /// Verifies the token a request carries for `provider` (a scheme name), at the
    /// current time.
    pub async fn verify(
        &self,
        provider: &str,
        headers: &hyper::HeaderMap,
        query: Option<&str>,
    ) -> Result<Verified, JwtError> {
        self.0.verify(provider, headers, query).await
    }
}
