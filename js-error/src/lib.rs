//! The one place a JavaScript exception (`JsValue`) becomes a typed Rust error: [`JsError`]
//! `{ name, message }`, shared by the service worker (`tessera-sw`) and the runtime
//! (`tessera-runtime`). It does not decide what an error means for tessera: each crate's `error`
//! module maps names (e.g. `QuotaExceededError` → `quota`) to the codes of its failure areas.
//! Beside it, the one WebCrypto call both make, [`sha256`]: the platform's hash (about three
//! times wasm `sha2`'s speed, and the bytes never enter wasm memory), whose failures are
//! `JsError`s too; what a digest must be is `tessera-core`'s decision.

use std::fmt;

/// A JavaScript exception, reduced to its `name` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsError {
    /// The exception's `name` (`TypeError`, `QuotaExceededError`, …).
    pub name: String,
    /// The exception's `message`.
    pub message: String,
}

impl JsError {
    /// An error with this name and message.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Whether the browser refused a write for lack of storage.
    pub fn is_quota(&self) -> bool {
        self.name == "QuotaExceededError"
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for JsError {}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use js_sys::{Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::JsError;

    impl From<JsValue> for JsError {
        fn from(value: JsValue) -> Self {
            let field = |key: &str| {
                Reflect::get(&value, &JsValue::from_str(key))
                    .ok()
                    .and_then(|v| v.as_string())
            };
            if value.is_object() {
                let name = field("name").unwrap_or_else(|| "Error".to_owned());
                let message = field("message").unwrap_or_default();
                return Self { name, message };
            }
            let message = value.as_string().unwrap_or_else(|| format!("{value:?}"));
            Self::new("Error", message)
        }
    }

    /// Awaits a Promise, turning a rejection into a [`JsError`].
    pub async fn await_promise(promise: Promise) -> Result<JsValue, JsError> {
        JsFuture::from(promise).await.map_err(JsError::from)
    }

    /// Calls a throwing binding, turning an exception into a [`JsError`].
    pub fn catch<T>(result: Result<T, JsValue>) -> Result<T, JsError> {
        result.map_err(JsError::from)
    }

    /// The SHA-256 of `data` (an `ArrayBuffer` or a typed array) by WebCrypto
    /// (`crypto.subtle.digest`), in a worker or a page.
    pub async fn sha256(data: &JsValue) -> Result<[u8; 32], JsError> {
        let get = |target: &JsValue, key: &str| {
            Reflect::get(target, &JsValue::from_str(key)).map_err(JsError::from)
        };
        let subtle = get(&get(&js_sys::global(), "crypto")?, "subtle")?;
        let digest: js_sys::Function = cast(get(&subtle, "digest")?, "crypto.subtle.digest")?;
        let promise = digest
            .call2(&subtle, &JsValue::from_str("SHA-256"), data)
            .map_err(JsError::from)?;
        let buffer = await_promise(cast(promise, "digest's answer")?).await?;
        let view = js_sys::Uint8Array::new(&buffer);
        let mut out = [0u8; 32];
        if view.length() != 32 {
            return Err(JsError::new(
                "OperationError",
                "SHA-256 digest is not 32 bytes",
            ));
        }
        view.copy_to(&mut out);
        Ok(out)
    }

    /// Casts `value` to `T` or names what it was instead.
    pub fn cast<T: JsCast>(value: JsValue, what: &str) -> Result<T, JsError> {
        value.dyn_into::<T>().map_err(|v| {
            JsError::new(
                "TypeError",
                format!("{what} is not the expected type: {v:?}"),
            )
        })
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{await_promise, cast, catch, sha256};

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn only_quota_exceeded_is_quota() {
        assert!(JsError::new("QuotaExceededError", "full").is_quota());
        assert!(!JsError::new("TypeError", "Failed to fetch").is_quota());
        assert_eq!(
            JsError::new("TypeError", "Failed to fetch").to_string(),
            "TypeError: Failed to fetch"
        );
    }
}
