//! Bearer tokens: EdDSA (Ed25519) JWTs as `tessera token` mints them. The worker decodes the
//! token and checks its signature itself (only `alg: EdDSA`, a strict Ed25519 check over the
//! same `ed25519-dalek` the edge server's `jsonwebtoken` provider uses: no second JWT stack in
//! the bundle); the header form, the key choice by `kid`, the claims (`exp`/`aud` required,
//! `exp`/`nbf` with a leeway, the audience) and the rate-limit key are core's rules
//! ([`tessera_core::token`]), the ones `tessera serve` applies. Same codes: `auth-missing`,
//! `auth-invalid`, `auth-expired`, `auth-audience`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use tessera_core::keys::key_id;
use tessera_core::token::{self, Claims, ClaimsPolicy};

use crate::error::WorkerError;

/// Who may call the API.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: BTreeMap<String, VerifyingKey>,
    claims: ClaimsPolicy,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn invalid(detail: impl Into<String>) -> WorkerError {
    WorkerError::AuthInvalid(detail.into())
}

impl Authenticator {
    /// Tokens signed by `keys` for `audience`, `leeway_secs` of clock skew on `exp`/`nbf`.
    pub fn new(keys: &[VerifyingKey], audience: String, leeway_secs: u64) -> Self {
        Self {
            keys: keys.iter().map(|k| (key_id(k), *k)).collect(),
            claims: ClaimsPolicy {
                audience,
                leeway_secs,
            },
        }
    }

    /// Checks an `Authorization` header value at `now` (Unix seconds); `Ok(rate key)`.
    pub fn check(&self, authorization: Option<&str>, now: u64) -> Result<String, WorkerError> {
        let token = token::bearer(authorization)?;
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
        let key = token::select_key(&self.keys, header.kid.as_deref())?;
        let signature =
            Signature::from_slice(&decode(sig_b64)?).map_err(|_| invalid("InvalidSignature"))?;
        let signed = &token[..header_b64.len() + 1 + claims_b64.len()];
        key.verify_strict(signed.as_bytes(), &signature)
            .map_err(|_| invalid("InvalidSignature"))?;
        let claims: Claims = serde_json::from_slice(&decode(claims_b64)?)
            .map_err(|e| invalid(format!("JSON error: {e}")))?;
        self.claims.check(&claims, now)?;
        Ok(token::rate_key(claims.sub.as_deref(), token))
    }
}
