//! Values handed to JavaScript: serde values as plain objects, and errors as `Error` objects
//! named `TesseraRuntimeError` with the stable `code` and the fallback `fault` (or `null`) as
//! properties, which the worker and page scripts switch on. wasm32 only; no decisions here.

use js_sys::Reflect;
use serde::Serialize;
use tessera_core::fallback::LocalFault;
use tessera_core::ErrorCode;
use wasm_bindgen::JsValue;

/// `value` as a plain JS object (maps become objects, `None` becomes `undefined`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value
        .serialize(&serializer)
        .map_err(|e| js_sys::Error::new(&e.to_string()).into())
}

/// Sets `target[key] = value` on an object this crate created (an ordinary, extensible object:
/// the set cannot throw, so the result is ignored).
pub fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// An `Error` named `TesseraRuntimeError` with `code` and `fault` properties.
pub fn error_value<E: ErrorCode + std::fmt::Display>(
    error: &E,
    fault: Option<LocalFault>,
) -> JsValue {
    let value = js_sys::Error::new(&error.to_string());
    value.set_name("TesseraRuntimeError");
    let fault = fault.map_or(JsValue::NULL, |f| JsValue::from_str(f.code()));
    // Setting a property on a fresh, extensible Error object cannot fail.
    let _ = Reflect::set(
        &value,
        &JsValue::from_str("code"),
        &JsValue::from_str(error.code()),
    );
    let _ = Reflect::set(&value, &JsValue::from_str("fault"), &fault);
    value.into()
}
