//! tessera's service worker engine (Rust → wasm): intercepts `{prefix}NAME/FILE`, installs and
//! updates signed models into IndexedDB with resumable verified downloads, and serves only
//! verified bytes (with Range). Thin glue over `tessera-core`, which decides everything: this
//! crate fetches, stores and answers as the core's state machines say.
//!
//! Natively only the browser-independent parts build ([`config`], [`error`], [`js_error`],
//! [`progress`]) so the workspace builds and tests everywhere; the worker itself is
//! `#[cfg(target_arch = "wasm32")]`. `sw.js` uses the [`TesseraServiceWorker`] export.

pub mod config;
pub mod error;
pub mod js_error;
pub mod progress;

#[cfg(target_arch = "wasm32")]
pub mod accepted;
#[cfg(target_arch = "wasm32")]
pub mod auth;
#[cfg(target_arch = "wasm32")]
pub mod download;
#[cfg(target_arch = "wasm32")]
pub mod engine;
#[cfg(target_arch = "wasm32")]
pub mod evict;
#[cfg(target_arch = "wasm32")]
pub mod fetcher;
#[cfg(target_arch = "wasm32")]
pub mod gc;
#[cfg(target_arch = "wasm32")]
pub mod hash;
#[cfg(target_arch = "wasm32")]
pub mod housekeeping;
#[cfg(target_arch = "wasm32")]
pub mod idb;
#[cfg(target_arch = "wasm32")]
pub mod serve;
#[cfg(target_arch = "wasm32")]
pub mod shard_bytes;
#[cfg(target_arch = "wasm32")]
pub mod space;
#[cfg(target_arch = "wasm32")]
pub mod storage;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod timer;
#[cfg(target_arch = "wasm32")]
pub mod timing;
#[cfg(target_arch = "wasm32")]
pub mod update;

#[cfg(target_arch = "wasm32")]
pub use worker::TesseraServiceWorker;

#[cfg(target_arch = "wasm32")]
mod worker {
    use std::rc::Rc;

    use js_sys::{Promise, Reflect};
    use tessera_core::layout::{LogicalPath, ModelName};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::future_to_promise;
    use web_sys::{MessagePort, Request, Url, WorkerGlobalScope};

    use crate::config::Config;
    use crate::engine::Engine;
    use crate::error::SwError;
    use crate::js_error::JsError;
    use crate::progress::{self, status_to_js};
    use crate::serve::{self, Route};
    use crate::store::{Preopened, Store};
    use crate::update;

    /// The engine as `sw.js` sees it.
    #[wasm_bindgen]
    #[derive(Debug)]
    pub struct TesseraServiceWorker {
        engine: Rc<Engine>,
    }

    fn to_js(err: &SwError) -> JsValue {
        let ser = serde_wasm_bindgen::Serializer::json_compatible();
        serde::Serialize::serialize(&err.to_json(), &ser).unwrap_or(JsValue::NULL)
    }

    /// Resolves `url` against this worker's location.
    fn absolute(url: &str) -> Result<String, SwError> {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        Url::new_with_base(url, &scope.location().href())
            .map(|u| u.href())
            .map_err(|e| SwError::from(JsError::from(e)))
    }

    async fn create(config_json: String, early: JsValue) -> Result<TesseraServiceWorker, SwError> {
        crate::timing::mark("create");
        let config = Config::from_json(config_json.as_bytes())?;
        let base = absolute(&config.artifacts_base)?;
        let token_url = config.token_url.as_deref().map(absolute).transpose()?;
        let store = Store::open(config.storage, Preopened::from_js(&early)).await?;
        crate::timing::mark("store-open");
        let engine = Engine::new(
            config,
            base,
            token_url,
            store,
            crate::gc::collect_in_background,
        );
        Ok(TesseraServiceWorker {
            engine: Rc::new(engine),
        })
    }

    fn str_field(data: &JsValue, key: &str) -> Option<String> {
        Reflect::get(data, &JsValue::from_str(key))
            .ok()?
            .as_string()
    }

    /// The optional `files` of an `ensure` message: logical paths, a subset of the model.
    fn files_field(data: &JsValue) -> Result<Option<Vec<LogicalPath>>, SwError> {
        let files = Reflect::get(data, &JsValue::from_str("files")).unwrap_or(JsValue::UNDEFINED);
        if files.is_undefined() || files.is_null() {
            return Ok(None);
        }
        if !js_sys::Array::is_array(&files) {
            return Err(SwError::BadRequest(
                "files must be an array of file paths".into(),
            ));
        }
        js_sys::Array::from(&files)
            .iter()
            .map(|f| {
                f.as_string()
                    .ok_or_else(|| SwError::BadRequest("files must be strings".into()))?
                    .parse::<LogicalPath>()
                    .map_err(SwError::from)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Makes each of `files` of `model` servable (only their shards are downloaded).
    async fn ensure_files(
        engine: &Rc<Engine>,
        model: &ModelName,
        files: &[LogicalPath],
    ) -> Result<Rc<tessera_core::Manifest>, SwError> {
        let mut last = None;
        for file in files {
            last = Some(update::ensure_file(engine, model, file).await?);
        }
        match last {
            Some(manifest) => Ok(manifest),
            None => update::ensure(engine, model).await,
        }
    }

    async fn message(
        engine: Rc<Engine>,
        data: JsValue,
        port: Option<MessagePort>,
    ) -> Result<JsValue, SwError> {
        let op = str_field(&data, "op")
            .ok_or_else(|| SwError::BadRequest("message has no op".into()))?;
        if op == "set-token" {
            engine.auth.set(str_field(&data, "token"));
            return Ok(JsValue::NULL);
        }
        if op == "storage" {
            return crate::housekeeping::storage(&engine).await;
        }
        let model: ModelName = str_field(&data, "model")
            .ok_or_else(|| SwError::BadRequest(format!("op {op} needs a model")))?
            .parse()?;
        if op == "estimate" {
            return crate::housekeeping::estimate(&engine, &model).await;
        }
        let status = match op.as_str() {
            "ensure" | "check-update" => {
                let listener = port.map(|p| engine.listen(model.as_str(), p));
                let files = files_field(&data)?;
                let result = if let Some(files) = files.filter(|_| op == "ensure") {
                    ensure_files(&engine, &model, &files).await
                } else if op == "ensure" {
                    update::ensure(&engine, &model).await
                } else {
                    update::check_update(&engine, &model).await
                };
                if let Some(id) = listener {
                    engine.unlisten(id);
                }
                result?;
                update::status(&engine, &model).await?
            }
            "status" => update::status(&engine, &model).await?,
            "remove" => update::remove(&engine, &model).await?,
            other => return Err(SwError::BadRequest(format!("unknown op {other:?}"))),
        };
        let js = status_to_js(&status);
        // Which shard store this worker uses: `opfs`, or the `indexeddb` fallback.
        let _ = Reflect::set(
            &js,
            &JsValue::from_str("storage"),
            &JsValue::from_str(engine.store.bytes.kind()),
        );
        Ok(js)
    }

    /// SHA-256 of `data` as 64 lowercase hex characters: the same `sha2` code the worker
    /// verifies shards and files with, exported for `bench/hashing.js` (which compares it with
    /// WebCrypto on the same buffers). Not part of the drop-in's API.
    #[wasm_bindgen(js_name = sha256Hex)]
    pub fn sha256_hex(data: &[u8]) -> String {
        tessera_core::Sha256Digest::of(data).to_hex()
    }

    #[wasm_bindgen]
    impl TesseraServiceWorker {
        /// Parses `tessera.config.json` (its text) and opens the store, adopting the storage
        /// `early` (`{ db, opfsRoot }`: promises the glue started, or `undefined`) opened.
        /// Rejects with `{ code, message }` (`config-invalid`, `store-failed`).
        pub async fn create(
            config_json: String,
            early: JsValue,
        ) -> Result<TesseraServiceWorker, JsValue> {
            create(config_json, early).await.map_err(|e| to_js(&e))
        }

        /// Whether `url` is a model file this worker answers (same origin, under the prefix,
        /// not a manifest or shard).
        pub fn handles(&self, url: &str) -> bool {
            matches!(
                serve::route(&self.engine, url),
                Route::File(_) | Route::Accepted(_)
            )
        }

        /// Answers a request for a model file; the Promise always resolves to a Response
        /// (errors are JSON error responses).
        pub fn fetch(&self, request: Request) -> Promise {
            let engine = self.engine.clone();
            future_to_promise(async move { Ok(serve::respond(engine, request).await.into()) })
        }

        /// Handles a page message `{ tessera: 1, op, model?, token? }` (`op`: `ensure`,
        /// `check-update`, `status`, `remove`, `estimate`, `storage`, `set-token`), answering on
        /// `port` (progress, then one result). Resolves when done; never rejects.
        pub fn message(&self, data: JsValue, port: Option<MessagePort>) -> Promise {
            let engine = self.engine.clone();
            future_to_promise(async move {
                let result = message(engine, data, port.clone()).await;
                if let Some(port) = &port {
                    progress::post_result(port, &result);
                }
                Ok(match result {
                    Ok(v) => v,
                    Err(e) => to_js(&e),
                })
            })
        }

        /// Finishes the whole-model installs an earlier instance of this worker left
        /// unfinished (the browser stopped it mid-download): called once the engine starts, so
        /// a download goes on by itself after a restart. Resolves with how many it resumed.
        #[wasm_bindgen(js_name = resumeInstalls)]
        pub fn resume_installs(&self) -> Promise {
            let engine = self.engine.clone();
            future_to_promise(async move {
                let resumed = update::resume_installs(&engine).await;
                // Precision: a count of models.
                #[allow(clippy::cast_precision_loss)]
                Ok(JsValue::from_f64(resumed as f64))
            })
        }

        /// On activation: asks for persistent storage, then checks every stored model for an
        /// update in the background (the old version serves until each switch).
        pub fn activate(&self) -> Promise {
            let engine = self.engine.clone();
            future_to_promise(async move {
                let persisted = crate::storage::persist().await;
                let names = engine.store.model_names().await.unwrap_or_default();
                for name in names {
                    let Ok(model) = name.parse::<ModelName>() else {
                        continue;
                    };
                    let engine = engine.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let _ = update::check_update(&engine, &model).await;
                    });
                }
                Ok(JsValue::from_bool(persisted))
            })
        }
    }
}
