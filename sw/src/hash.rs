//! The worker's hash provider: sha256 of a complete shard's stored bytes with WebCrypto
//! (`crypto.subtle.digest`), which runs natively at about three times wasm `sha2`'s speed and
//! never copies the bytes into wasm memory. What the digest must be — and what a wrong one
//! means — is `tessera-core`'s download plan's decision ([`tessera_core::download::Hashing`]).

use js_sys::{ArrayBuffer, Object, Uint8Array};
use tessera_core::Sha256Digest;
use wasm_bindgen::JsCast;
use web_sys::WorkerGlobalScope;

use crate::error::SwError;
use crate::js_error::{await_promise, catch, JsError};

/// The sha256 of `data` (an `ArrayBuffer` or a typed array), by WebCrypto.
pub async fn sha256(data: &Object) -> Result<Sha256Digest, SwError> {
    let hashed = async {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let subtle = catch(scope.crypto())?.subtle();
        let promise = catch(subtle.digest_with_str_and_buffer_source("SHA-256", data))?;
        let buffer: ArrayBuffer = await_promise(promise).await?.unchecked_into();
        let mut out = [0u8; 32];
        let view = Uint8Array::new(&buffer);
        if view.length() != 32 {
            return Err(JsError::new(
                "OperationError",
                "SHA-256 digest is not 32 bytes",
            ));
        }
        view.copy_to(&mut out);
        Ok(Sha256Digest::from_bytes(out))
    };
    hashed.await.map_err(|e| SwError::store("hash shard", e))
}
