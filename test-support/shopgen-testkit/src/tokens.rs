//! Signing keys for end-user JWTs, as the tests of the verifier (`shopgen-jwt`), the
//! local gateway, the backend's identity layer and the end-to-end suites use them: a
//! fresh key (P-256 from ring; RSA 2048 from the `openssl` command, since ring signs
//! with RSA keys but does not generate them), its public JWK, and tokens it signs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// A signing key with its `kid`.
pub enum Signer {
    Rsa(RsaKeyPair, String),
    Ec(EcdsaKeyPair, String),
}

impl Signer {
    /// A fresh RSA 2048 key (`openssl genpkey`).
    pub fn rsa(kid: &str) -> Signer {
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
            ])
            .output()
            .expect("the `openssl` command generates the tests' RSA keys");
        assert!(out.status.success(), "openssl genpkey failed");
        // OpenSSL 3 writes an RSA key as DER in PKCS#1 (`RSAPrivateKey`).
        let pair = RsaKeyPair::from_der(&out.stdout).expect("PKCS#1 RSA key");
        Signer::Rsa(pair, kid.to_string())
    }

    /// A fresh P-256 key.
    pub fn ec(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("P-256 key");
        Signer::Ec(pair, kid.to_string())
    }

    pub fn kid(&self) -> &str {
        match self {
            Signer::Rsa(_, kid) | Signer::Ec(_, kid) => kid,
        }
    }

    /// The `alg` its tokens carry.
    pub fn alg(&self) -> &'static str {
        match self {
            Signer::Rsa(..) => "RS256",
            Signer::Ec(..) => "ES256",
        }
    }

    /// The public key as a JWK (an EC key without `alg`, so a verifier selects it by
    /// `kid` alone).
    pub fn jwk(&self) -> Value {
        match self {
            Signer::Rsa(pair, kid) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                       "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e)})
            }
            Signer::Ec(pair, kid) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "kid": kid, "crv": "P-256",
                       "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                       "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
            }
        }
    }

    /// A token with `header` (`typ`, `alg` and `kid` filled in unless given) and
    /// `claims`, signed with this key.
    pub fn sign(&self, header: Value, claims: &Value) -> String {
        let mut h = json!({"typ": "JWT", "alg": self.alg(), "kid": self.kid()});
        for (k, v) in header.as_object().expect("a JSON object") {
            h[k] = v.clone();
        }
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Signer::Rsa(pair, _) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    signed.as_bytes(),
                    &mut sig,
                )
                .expect("sign");
                sig
            }
            Signer::Ec(pair, _) => pair
                .sign(&rng, signed.as_bytes())
                .expect("sign")
                .as_ref()
                .to_vec(),
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// A token with these claims.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(json!({}), claims)
    }
}

/// `{"keys": [...]}` with these keys' JWKs.
pub fn jwks(keys: &[&Signer]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}
