//! Bearer tokens: EdDSA (Ed25519) JWTs as `tessera token` mints them, with the edge server's
//! rules: only `alg: EdDSA`; the key by `kid` (tessera's key id), or the only key when the token
//! has none; a strict Ed25519 signature check; `exp` and `aud` required, `nbf` checked, both
//! with a leeway; the rate-limit key `sub:<sub>`, else `token:<sha256 of the token>`.
//!
//! The edge server does this with `jsonwebtoken` over the same `ed25519-dalek`; the worker does
//! the few steps itself (no second JWT stack in the bundle). Same codes: `auth-missing`,
//! `auth-invalid`, `auth-expired`, `auth-audience`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use tessera_core::keys::key_id;
use tessera_core::Sha256Digest;

use crate::error::WorkerError;

/// Who may call the API.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: BTreeMap<String, VerifyingKey>,
    audience: String,
    leeway_secs: u64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    sub: Option<String>,
}

fn invalid(detail: impl Into<String>) -> WorkerError {
    WorkerError::AuthInvalid(detail.into())
}

impl Authenticator {
    /// Tokens signed by `keys` for `audience`, `leeway_secs` of clock skew on `exp`/`nbf`.
    pub fn new(keys: &[VerifyingKey], audience: String, leeway_secs: u64) -> Self {
        Self {
            keys: keys.iter().map(|k| (key_id(k), *k)).collect(),
            audience,
            leeway_secs,
        }
    }

    /// Checks an `Authorization` header value at `now` (Unix seconds); `Ok(rate key)`.
    pub fn check(&self, authorization: Option<&str>, now: u64) -> Result<String, WorkerError> {
        let token = authorization
            .and_then(|text| text.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(WorkerError::AuthMissing)?;
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("InvalidToken"));
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| invalid(format!("Base64 error: {e}")))
        };
        let header: Header = serde_json::from_slice(&decode(header_b64)?)
            .map_err(|e| invalid(format!("JSON error: {e}")))?;
        if header.alg != "EdDSA" {
            return Err(invalid(format!(
                "algorithm {:?} is not accepted (only EdDSA)",
                header.alg
            )));
        }
        let key = match &header.kid {
            Some(kid) => self.keys.get(kid),
            None if self.keys.len() == 1 => self.keys.values().next(),
            None => None,
        }
        .ok_or_else(|| invalid("signed by an unknown key"))?;
        let signature =
            Signature::from_slice(&decode(sig_b64)?).map_err(|_| invalid("InvalidSignature"))?;
        let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
        key.verify_strict(signed.as_bytes(), &signature)
            .map_err(|_| invalid("InvalidSignature"))?;
        let claims: Claims = serde_json::from_slice(&decode(claims_b64)?)
            .map_err(|e| invalid(format!("JSON error: {e}")))?;
        let now = now as f64;
        let leeway = self.leeway_secs as f64;
        let exp = claims
            .exp
            .ok_or_else(|| invalid("Missing required claim: exp"))?;
        if exp < now - leeway {
            return Err(WorkerError::AuthExpired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err(WorkerError::AuthExpired);
        }
        let ours = match claims.aud {
            None => return Err(invalid("Missing required claim: aud")),
            Some(Audience::One(aud)) => aud == self.audience,
            Some(Audience::Many(auds)) => auds.contains(&self.audience),
        };
        if !ours {
            return Err(WorkerError::AuthAudience);
        }
        Ok(match claims.sub {
            Some(sub) => format!("sub:{sub}"),
            None => format!("token:{}", Sha256Digest::of(token.as_bytes()).to_hex()),
        })
    }
}
