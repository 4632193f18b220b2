//! The inference API's `Authorization` header: bearer JWT header and claims as the edge checks
//! them (`jsonwebtoken` parsing, EdDSA only, `kid` lookup, audience, expiry), with one fixed
//! trusted key. The seeds are real tokens minted by `issue_token` with that key.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use tessera_core::ErrorCode as _;
use tessera_edge::inference::{AuthConfig, Authenticator};

fuzz_target!(|data: &[u8]| {
    static AUTH: std::sync::OnceLock<Authenticator> = std::sync::OnceLock::new();
    let auth = AUTH.get_or_init(|| {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        Authenticator::new(&AuthConfig::new(vec![key], "fuzz"))
    });
    if let Err(error) = auth.check(Some(data)) {
        let _ = error.code();
    }
});
