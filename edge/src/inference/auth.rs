//! Bearer-token authentication of inference requests: EdDSA (Ed25519) JWTs signed with a key
//! from `tessera keygen`, checked for signature, audience and expiry; and [`issue_token`], which
//! `tessera token` uses to mint them.
//!
//! JWT parsing is `jsonwebtoken`'s, the claim rules core's (`tessera_core::token`, shared with
//! the edge worker); the signature math is ours: a small
//! `jsonwebtoken` crypto provider over the workspace's `ed25519-dalek`, verifying strictly (no
//! small-order keys or malleable signatures), instead of its RustCrypto provider, which would
//! pull a second `ed25519-dalek`, RSA and ECDSA. Only `EdDSA` is accepted: `none`, HMAC and
//! others are refused before any key is used. Tokens carry the key id (`kid`, as in
//! [`key_id`]) and are checked with the configured key of that id, so several keys can be trusted
//! at once (key rotation: trust old and new, switch issuers, then drop the old key); a token
//! without `kid` is accepted when exactly one key is configured. This module does not do
//! revocation or issuer checks.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tessera_core::keys::key_id;
use tessera_core::token::{self, Claims, ClaimsPolicy};
use tessera_core::ErrorCode;

use crate::inference::error::InferenceError;

/// Clock skew tolerated on `exp` and `nbf` by default (core's: 30 seconds; `tessera serve
/// --auth-leeway` changes it).
pub use tessera_core::token::DEFAULT_LEEWAY_SECS;

/// Who may call the inference API: tokens signed by one of `keys`, for `audience`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Public keys whose tokens are accepted (from `tessera keygen` public key files).
    pub keys: Vec<VerifyingKey>,
    /// The `aud` tokens must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
}

impl AuthConfig {
    /// Tokens by `keys` for `audience`, with [`DEFAULT_LEEWAY_SECS`].
    pub fn new(keys: Vec<VerifyingKey>, audience: impl Into<String>) -> Self {
        Self {
            keys,
            audience: audience.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// A token that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The key or claims could not be encoded.
    #[error("cannot encode the token: {0}")]
    Encode(String),
}

impl ErrorCode for TokenError {
    fn code(&self) -> &'static str {
        match self {
            Self::Encode(_) => "token-encode-failed",
        }
    }
}

/// The claims `tessera token` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Audience: the server's `--auth-audience`.
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// Subject: who the token is for; also the rate-limit key when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// Mints an EdDSA JWT for `audience`, valid from `now` (Unix seconds) for `ttl`, with header
/// `kid` = the key's id.
pub fn issue_token(
    key: &SigningKey,
    audience: &str,
    ttl: Duration,
    subject: Option<&str>,
    now: u64,
) -> Result<String, TokenError> {
    install_provider();
    let der = key
        .to_pkcs8_der()
        .map_err(|e| TokenError::Encode(e.to_string()))?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key_id(&key.verifying_key()));
    let claims = TokenClaims {
        aud: audience.to_owned(),
        exp: now.saturating_add(ttl.as_secs()),
        iat: now,
        sub: subject.map(str::to_owned),
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der.as_bytes()))
        .map_err(|e| TokenError::Encode(e.to_string()))
}

/// Checks bearer tokens against an [`AuthConfig`]: `jsonwebtoken` decodes the token and checks
/// its EdDSA signature; the header form, the key choice and the claims are core's rules
/// ([`tessera_core::token`]), the same the edge worker applies.
///
/// Public but hidden for the fuzz target `fuzz/fuzz_targets/jwt.rs`; the server builds its own.
#[doc(hidden)]
pub struct Authenticator {
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
    claims: ClaimsPolicy,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a valid token says about its bearer.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`, if any.
    pub(crate) subject: Option<String>,
    /// Whose rate-limit bucket the request takes from ([`token::rate_key`]).
    pub(crate) rate_key: String,
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Self {
        install_provider();
        let keys = config
            .keys
            .iter()
            .filter_map(|key| {
                let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
                DecodingKey::from_ed_components(&x)
                    .ok()
                    .map(|decoding| (key_id(key), decoding))
            })
            .collect();
        // jsonwebtoken checks the algorithm and the signature only; the claims are core's.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        Self {
            keys,
            validation,
            claims: ClaimsPolicy {
                audience: config.audience.clone(),
                leeway_secs: config.leeway_secs,
            },
        }
    }

    /// Checks the value of an `Authorization` header (`None`: no header) at the current time.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<Caller, InferenceError> {
        self.check_at(authorization, jsonwebtoken::get_current_timestamp())
    }

    /// [`Self::check`] at `now` (Unix seconds).
    fn check_at(&self, authorization: Option<&[u8]>, now: u64) -> Result<Caller, InferenceError> {
        let text = authorization
            .map(std::str::from_utf8)
            .transpose()
            .map_err(|_| InferenceError::AuthInvalid("header is not text".into()))?;
        let token = token::bearer(text)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| InferenceError::AuthInvalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(InferenceError::AuthInvalid(format!(
                "algorithm {:?} is not accepted (only EdDSA)",
                header.alg
            )));
        }
        let key = token::select_key(&self.keys, header.kid.as_deref())?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|e| InferenceError::AuthInvalid(e.to_string()))?;
        self.claims.check(&data.claims, now)?;
        let subject = data.claims.sub;
        Ok(Caller {
            rate_key: token::rate_key(subject.as_deref(), token),
            subject,
        })
    }
}

/// The `jsonwebtoken` crypto provider: EdDSA only, over the workspace's `ed25519-dalek`.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: eddsa_signer,
    verifier_factory: eddsa_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs [`PROVIDER`] as the process's `jsonwebtoken` provider (once; if another was
/// installed first, it stays, and does the same standard EdDSA).
fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::debug!("a jsonwebtoken crypto provider was already installed");
        }
    });
}

struct EdSigner(SigningKey);
struct EdVerifier(VerifyingKey);

fn eddsa_signer(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let key = SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdSigner(key)))
}

fn eddsa_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let bytes: [u8; 32] = key
        .try_get_as_bytes()?
        .try_into()
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdVerifier(key)))
}

impl signature::Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        use ed25519_dalek::Signer as _;
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

impl signature::Verifier<Vec<u8>> for EdVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let signature = Signature::from_slice(signature).map_err(|_| signature::Error::new())?;
        self.0
            .verify_strict(msg, &signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn authenticator(key: &SigningKey) -> Authenticator {
        Authenticator::new(&AuthConfig::new(vec![key.verifying_key()], "tessera-edge"))
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn tokens_are_accepted_only_when_signed_for_this_audience_and_current() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let auth = authenticator(&key);
        let now = jsonwebtoken::get_current_timestamp();
        let ttl = Duration::from_secs(60);
        let good = issue_token(&key, "tessera-edge", ttl, Some("alice"), now).unwrap();
        assert_eq!(
            auth.check(Some(&bearer(&good))).unwrap().subject.as_deref(),
            Some("alice")
        );
        let other_key = SigningKey::from_bytes(&[4; 32]);
        let mut forged = issue_token(&other_key, "tessera-edge", ttl, None, now).unwrap();
        let cases = [
            (None, "auth-missing"),
            (Some(b"Basic YWxhZGRpbg==".to_vec()), "auth-missing"),
            (Some(bearer("not.a.jwt")), "auth-invalid"),
            (Some(bearer(&forged)), "auth-invalid"),
            (
                Some(bearer(&issue_token(&key, "other", ttl, None, now).unwrap())),
                "auth-audience",
            ),
            (
                Some(bearer(
                    &issue_token(&key, "tessera-edge", ttl, None, now - 3600).unwrap(),
                )),
                "auth-expired",
            ),
        ];
        for (header, code) in cases {
            let err = auth.check(header.as_deref()).unwrap_err();
            assert_eq!(err.code(), code, "{header:?}: {err}");
        }
        // The forged token re-labelled with the trusted key's id still fails the signature.
        let (_, rest) = forged.split_once('.').unwrap();
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}"}}"#,
            key_id(&key.verifying_key())
        ));
        forged = format!("{header}.{rest}");
        assert_eq!(
            auth.check(Some(&bearer(&forged))).unwrap_err().code(),
            "auth-invalid"
        );
    }

    #[test]
    fn expired_tokens_are_accepted_only_within_the_leeway() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let now = jsonwebtoken::get_current_timestamp();
        let minute = Duration::from_secs(60);
        // Expired 10 s, 60 s and 300 s ago (issued a minute before that).
        let token = |expired_ago: u64| {
            let token = issue_token(&key, "tessera-edge", minute, None, now - expired_ago - 60);
            bearer(&token.unwrap())
        };
        let default = authenticator(&key);
        assert!(default.check(Some(&token(10))).is_ok());
        assert_eq!(
            default.check(Some(&token(60))).unwrap_err().code(),
            "auth-expired"
        );
        let mut config = AuthConfig::new(vec![key.verifying_key()], "tessera-edge");
        assert_eq!(config.leeway_secs, DEFAULT_LEEWAY_SECS);
        config.leeway_secs = 120;
        let lenient = Authenticator::new(&config);
        assert!(lenient.check(Some(&token(60))).is_ok());
        assert_eq!(
            lenient.check(Some(&token(300))).unwrap_err().code(),
            "auth-expired"
        );
        config.leeway_secs = 0;
        let strict = Authenticator::new(&config);
        assert_eq!(
            strict.check(Some(&token(10))).unwrap_err().code(),
            "auth-expired"
        );
    }

    #[test]
    fn several_keys_are_trusted_at_once_by_kid() {
        let (a, b, c) = (
            SigningKey::from_bytes(&[3; 32]),
            SigningKey::from_bytes(&[4; 32]),
            SigningKey::from_bytes(&[5; 32]),
        );
        let both = Authenticator::new(&AuthConfig::new(
            vec![a.verifying_key(), b.verifying_key()],
            "tessera-edge",
        ));
        let now = jsonwebtoken::get_current_timestamp();
        let ttl = Duration::from_secs(60);
        let mint = |key: &SigningKey, sub: &str| {
            bearer(&issue_token(key, "tessera-edge", ttl, Some(sub), now).unwrap())
        };
        for (key, sub) in [(&a, "a"), (&b, "b"), (&a, "a2"), (&b, "b2")] {
            let caller = both.check(Some(&mint(key, sub))).unwrap();
            assert_eq!(caller.subject.as_deref(), Some(sub));
        }
        // A key that is not configured, and (with several keys) a token without `kid`.
        let unknown = both.check(Some(&mint(&c, "c"))).unwrap_err();
        assert_eq!(unknown.code(), "auth-invalid");
        assert!(unknown.to_string().contains("unknown key"), "{unknown}");
        let claims =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"aud":"tessera-edge","exp":{}}}"#, now + 60));
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#);
        let unsigned_part = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD
            .encode(ed25519_dalek::Signer::sign(&a, unsigned_part.as_bytes()).to_bytes());
        let no_kid = bearer(&format!("{unsigned_part}.{signature}"));
        assert_eq!(
            both.check(Some(&no_kid)).unwrap_err().code(),
            "auth-invalid"
        );
        // With one key configured, the same kid-less token is that key's.
        assert!(authenticator(&a).check(Some(&no_kid)).is_ok());
    }

    #[test]
    fn unsigned_and_hmac_tokens_are_refused() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let auth = authenticator(&key);
        let claims = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"aud":"tessera-edge","exp":{}}}"#,
            jsonwebtoken::get_current_timestamp() + 60
        ));
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
            let token = format!("{header}.{claims}.");
            assert_eq!(
                auth.check(Some(&bearer(&token))).unwrap_err().code(),
                "auth-invalid",
                "{alg}"
            );
        }
    }
}
