//! Model status objects (`{ model, state, version, … }`) as the page sees them, and (in the
//! worker) their delivery: to a request's `MessagePort` and broadcast to every client. It does
//! not compute progress; the download driver fills the numbers in.

use serde::Serialize;

/// Where a model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Nothing stored.
    Absent,
    /// Fetching and checking the manifest.
    Checking,
    /// Downloading shards.
    Downloading,
    /// Hashing assembled files.
    Verifying,
    /// Every file of the active version is stored and verified.
    Ready,
    /// The last operation failed (see `error`).
    Error,
}

/// `{ code, message }` of a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    /// Stable code.
    pub code: String,
    /// Human-readable text.
    pub message: String,
    /// Figures the page can act on (see `SwError::details`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorInfo {
    /// The code and message of `err`.
    pub fn of(err: &crate::error::SwError) -> Self {
        use tessera_core::ErrorCode as _;
        Self {
            code: err.code().to_owned(),
            message: err.to_string(),
            details: err.details(),
        }
    }
}

/// A model's status, serialized exactly as the contract's `status` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    /// Model name.
    pub model: String,
    /// Where it stands.
    pub state: State,
    /// The active (served) version.
    pub version: Option<String>,
    /// The version being downloaded, if any.
    pub pending_version: Option<String>,
    /// Bytes stored of the download.
    pub bytes_done: u64,
    /// Bytes of the download.
    pub bytes_total: u64,
    /// Shards verified.
    pub shards_done: usize,
    /// Shards of the download.
    pub shards_total: usize,
    /// Shards being downloaded right now (requests in flight).
    pub shards_in_flight: usize,
    /// Whether this download continued from bytes stored earlier.
    pub resumed: bool,
    /// Set (only then serialized) on the `absent` status of a model the worker removed to make
    /// room for another model's download.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub evicted: bool,
    /// The failure when `state` is `error`.
    pub error: Option<ErrorInfo>,
}

impl ModelStatus {
    /// A status with nothing known but the name and state.
    pub fn new(model: &str, state: State) -> Self {
        Self {
            model: model.to_owned(),
            state,
            version: None,
            pending_version: None,
            bytes_done: 0,
            bytes_total: 0,
            shards_done: 0,
            shards_total: 0,
            shards_in_flight: 0,
            resumed: false,
            evicted: false,
            error: None,
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use js_sys::{Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{ClientQueryOptions, MessagePort, ServiceWorkerGlobalScope};

    use super::ModelStatus;
    use crate::js_error::await_promise;

    /// The status as a plain JS object (`null` for absent fields).
    pub fn status_to_js(status: &ModelStatus) -> JsValue {
        let ser = serde_wasm_bindgen::Serializer::json_compatible();
        serde::Serialize::serialize(status, &ser).unwrap_or(JsValue::NULL)
    }

    fn object(pairs: &[(&str, JsValue)]) -> JsValue {
        let obj = Object::new();
        for (k, v) in pairs {
            let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
        }
        obj.into()
    }

    /// `{ type: 'progress', status }` to one port.
    pub fn post_progress(port: &MessagePort, status: &ModelStatus) {
        let msg = object(&[
            ("type", "progress".into()),
            ("status", status_to_js(status)),
        ]);
        let _ = port.post_message(&msg);
    }

    /// `{ type: 'result', ok: true, status }` or `{ type: 'result', ok: false, error }`.
    pub fn post_result(port: &MessagePort, result: &Result<JsValue, crate::error::SwError>) {
        let msg = match result {
            Ok(status) => object(&[
                ("type", "result".into()),
                ("ok", true.into()),
                ("status", status.clone()),
            ]),
            Err(e) => {
                let ser = serde_wasm_bindgen::Serializer::json_compatible();
                let error =
                    serde::Serialize::serialize(&e.to_json(), &ser).unwrap_or(JsValue::NULL);
                object(&[
                    ("type", "result".into()),
                    ("ok", false.into()),
                    ("error", error),
                ])
            }
        };
        let _ = port.post_message(&msg);
    }

    /// `{ tessera: 1, type: 'progress', status }` to every client of this worker's origin.
    pub async fn broadcast(status: &ModelStatus) {
        let msg = object(&[
            ("tessera", 1.into()),
            ("type", "progress".into()),
            ("status", status_to_js(status)),
        ]);
        let Ok(scope) = js_sys::global().dyn_into::<ServiceWorkerGlobalScope>() else {
            return;
        };
        let mut options = ClientQueryOptions::new();
        options.include_uncontrolled(true);
        let Ok(list) = await_promise(scope.clients().match_all_with_options(&options)).await else {
            return;
        };
        for client in js_sys::Array::from(&list).iter() {
            if let Ok(client) = client.dyn_into::<web_sys::Client>() {
                let _ = client.post_message(&msg);
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{broadcast, post_progress, post_result, status_to_js};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn status_serializes_as_the_contract_says() {
        let mut s = ModelStatus::new("mlp", State::Downloading);
        s.pending_version = Some("1.0.0".into());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "model": "mlp", "state": "downloading", "version": null,
                "pendingVersion": "1.0.0", "bytesDone": 0, "bytesTotal": 0,
                "shardsDone": 0, "shardsTotal": 0, "shardsInFlight": 0, "resumed": false, "error": null
            })
        );
    }
}
