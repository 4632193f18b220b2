//! The rules of the edge inference API's bearer tokens (EdDSA JWTs as `tessera token` mints
//! them) that do not depend on how the token is decoded: the `Authorization` header's form
//! ([`bearer`]), which configured key checks a token ([`select_key`]: by `kid`, or the only key
//! when the token has none), the claims ([`ClaimsPolicy::check`]: `exp` and `aud` required,
//! `exp`/`nbf` with a leeway, the audience) and the rate-limit key ([`rate_key`]).
//!
//! `tessera serve` decodes and verifies tokens with `jsonwebtoken`, the edge worker with its own
//! few steps over `ed25519-dalek`; both then apply these rules, so they accept and refuse the
//! same tokens with the same codes. This module does not parse JWTs, verify signatures, read a
//! clock (`now` is an argument) or do revocation or issuer checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;

/// Clock skew tolerated on `exp` and `nbf` by default: 30 seconds (a token that expired 29 s ago
/// is still accepted).
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// Why a bearer token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No `Authorization: Bearer <token>` header (or an empty token, or another scheme).
    #[error("this endpoint requires a bearer token (Authorization: Bearer <token>)")]
    Missing,
    /// Malformed, signed by an unknown key, bad signature or a required claim missing.
    #[error("bearer token is invalid: {0}")]
    Invalid(String),
    /// Expired, or not valid yet, beyond the leeway.
    #[error("bearer token has expired or is not yet valid")]
    Expired,
    /// For another audience.
    #[error("bearer token is not for this audience")]
    Audience,
}

impl ErrorCode for TokenError {
    fn code(&self) -> &'static str {
        match self {
            Self::Missing => "auth-missing",
            Self::Invalid(_) => "auth-invalid",
            Self::Expired => "auth-expired",
            Self::Audience => "auth-audience",
        }
    }
}

/// The token of an `Authorization` header value (`None`: no header): scheme `Bearer` (any
/// case), the rest trimmed and not empty.
pub fn bearer(authorization: Option<&str>) -> Result<&str, TokenError> {
    authorization
        .and_then(|text| text.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(TokenError::Missing)
}

/// The key that checks a token whose header names `kid`: the configured key of that id, or,
/// for a token without `kid`, the only configured key. Several keys can be trusted at once
/// (rotation: trust old and new, switch issuers, drop the old one).
pub fn select_key<'a, K>(
    keys: &'a BTreeMap<String, K>,
    kid: Option<&str>,
) -> Result<&'a K, TokenError> {
    match kid {
        Some(kid) => keys.get(kid),
        None if keys.len() == 1 => keys.values().next(),
        None => None,
    }
    .ok_or_else(|| TokenError::Invalid("signed by an unknown key".into()))
}

/// `aud`: one audience or several.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

/// The claims the rules read (others are ignored). Times are Unix seconds (JSON numbers).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Claims {
    /// Expiry (required).
    #[serde(default)]
    pub exp: Option<f64>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<f64>,
    /// Audience (required).
    #[serde(default)]
    pub aud: Option<Audience>,
    /// Subject: who the token is for.
    #[serde(default)]
    pub sub: Option<String>,
}

/// What a server accepts: tokens for `audience`, with `leeway_secs` of clock skew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsPolicy {
    /// The `aud` tokens must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
}

impl ClaimsPolicy {
    /// Checks a verified token's claims at `now` (Unix seconds), in `jsonwebtoken`'s order:
    /// required claims (`exp`, `aud`), then `exp` (expired more than the leeway ago), `nbf`
    /// (valid only more than the leeway from now), then the audience.
    pub fn check(&self, claims: &Claims, now: u64) -> Result<(), TokenError> {
        let exp = claims
            .exp
            .ok_or_else(|| TokenError::Invalid("Missing required claim: exp".into()))?;
        let aud = claims
            .aud
            .as_ref()
            .ok_or_else(|| TokenError::Invalid("Missing required claim: aud".into()))?;
        let (now, leeway) = (now as f64, self.leeway_secs as f64);
        if exp < now - leeway || claims.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err(TokenError::Expired);
        }
        let ours = match aud {
            Audience::One(aud) => *aud == self.audience,
            Audience::Many(auds) => auds.contains(&self.audience),
        };
        if ours {
            Ok(())
        } else {
            Err(TokenError::Audience)
        }
    }
}

/// Whose rate-limit bucket a request with this valid token takes from: `sub:<subject>`, or
/// `token:<sha256 of the token>` for tokens without a subject.
pub fn rate_key(subject: Option<&str>, token: &str) -> String {
    match subject {
        Some(sub) => format!("sub:{sub}"),
        None => format!("token:{}", Sha256Digest::of(token.as_bytes()).to_hex()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_bearer_scheme_is_required_and_the_token_not_empty() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Ok("abc"));
        for header in [
            None,
            Some("Basic YWxhZGRpbg=="),
            Some("Bearer "),
            Some("Bearer"),
        ] {
            assert_eq!(bearer(header), Err(TokenError::Missing), "{header:?}");
        }
    }

    #[test]
    fn keys_are_chosen_by_kid_or_as_the_only_key() {
        let one = BTreeMap::from([("a".to_owned(), 1)]);
        let two = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]);
        assert_eq!(select_key(&two, Some("b")), Ok(&2));
        assert_eq!(select_key(&one, None), Ok(&1));
        for (keys, kid) in [(&two, None), (&two, Some("c")), (&one, Some("b"))] {
            let err = select_key(keys, kid).unwrap_err();
            assert_eq!(err.code(), "auth-invalid", "{kid:?}");
        }
    }

    #[test]
    fn claims_need_exp_and_aud_and_are_checked_with_the_leeway() {
        let policy = ClaimsPolicy {
            audience: "edge".into(),
            leeway_secs: 30,
        };
        let now = 1_000_000;
        let check = |json: &str| policy.check(&claims(json), now).map_err(|e| e.code());
        assert_eq!(check(r#"{"aud":"edge","exp":1000060}"#), Ok(()));
        assert_eq!(check(r#"{"aud":["x","edge"],"exp":1000060}"#), Ok(()));
        // Expired 29 s ago: within the leeway; 31 s ago: not.
        assert_eq!(check(r#"{"aud":"edge","exp":999971}"#), Ok(()));
        assert_eq!(check(r#"{"aud":"edge","exp":999969}"#), Err("auth-expired"));
        // Valid from 29 s on: accepted; from 31 s on: not yet.
        assert_eq!(
            check(r#"{"aud":"edge","exp":1000600,"nbf":1000029}"#),
            Ok(())
        );
        assert_eq!(
            check(r#"{"aud":"edge","exp":1000600,"nbf":1000031}"#),
            Err("auth-expired")
        );
        assert_eq!(
            check(r#"{"aud":"other","exp":1000060}"#),
            Err("auth-audience")
        );
        assert_eq!(
            check(r#"{"aud":["x"],"exp":1000060}"#),
            Err("auth-audience")
        );
        // Required claims first, as jsonwebtoken: an expired token without aud is invalid.
        assert_eq!(check(r#"{"aud":"edge"}"#), Err("auth-invalid"));
        assert_eq!(check(r#"{"exp":1}"#), Err("auth-invalid"));
        let strict = ClaimsPolicy {
            leeway_secs: 0,
            ..policy.clone()
        };
        assert_eq!(
            strict.check(&claims(r#"{"aud":"edge","exp":999999}"#), now),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn rate_keys_are_the_subject_or_the_token_digest() {
        assert_eq!(rate_key(Some("alice"), "t"), "sub:alice");
        let anonymous = rate_key(None, "t");
        assert!(anonymous.starts_with("token:") && anonymous.len() == 6 + 64);
        assert_ne!(anonymous, rate_key(None, "u"));
    }
}
