//! The worker's hash provider: sha256 of a complete shard's stored bytes with WebCrypto
//! (`crypto.subtle.digest`), which runs natively at about three times wasm `sha2`'s speed and
//! never copies the bytes into wasm memory. What the digest must be — and what a wrong one
//! means — is `tessera-core`'s download plan's decision ([`tessera_core::download::Hashing`]).

use js_sys::Object;
use tessera_core::Sha256Digest;

use crate::error::SwError;

/// The sha256 of `data` (an `ArrayBuffer` or a typed array), by WebCrypto.
pub async fn sha256(data: &Object) -> Result<Sha256Digest, SwError> {
    let _t = crate::timing::span("digest");
    tessera_js_error::sha256(data)
        .await
        .map(Sha256Digest::from_bytes)
        .map_err(|e| SwError::store("hash shard", e))
}
