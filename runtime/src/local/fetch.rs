//! Where a model's bytes come from (wasm32 only): its manifest through core's one acceptance
//! path (the envelope the service worker accepted, or, without one, the published manifest judged
//! against the last one this runtime accepted, kept in Cache Storage), and its entry point as
//! the service worker serves it or shard by shard, every byte checked by core's file assembly
//! (the external data files a graph names come the same way).
//! It builds no session and picks no engine.

use futures_util::future;
use futures_util::stream::{self, StreamExt as _};
use js_sys::{Promise, Reflect, Uint8Array};
use serde::Deserialize;
use tessera_core::assemble::{verify_file, FileAssembly};
use tessera_core::layout::{accepted_path, manifest_path, shard_path, ModelName};
use tessera_core::limits::MAX_MANIFEST_BYTES;
use tessera_core::manifest::{FileEntry, Manifest};
use tessera_core::policy::{refusal_code, UpdateError};
use tessera_core::{ErrorCode, Sha256Digest};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Response, WorkerGlobalScope};

use super::{Inner, RefusedView};
use crate::error::RuntimeError;
use crate::js_error::{await_promise, cast, JsError};

impl Inner {
    /// The manifest to load `model` by, through core's one acceptance path, and the refusal of
    /// a newer publication when an accepted version is kept instead.
    ///
    /// With a service worker: the envelope the worker accepted and serves
    /// (`{base}_accepted/NAME`, answered from its store online and offline), reopened here
    /// (signature and name checked again). Without one: the published `manifest.json` judged by
    /// [`tessera_core::policy::UpdatePolicy::evaluate`] against the envelope this runtime accepted last, which it keeps
    /// in Cache Storage ([`ACCEPTED_CACHE`]) — so expiry, rollback and mix-and-match protection
    /// hold without a service worker too. A refused publication (or no network) keeps the last
    /// accepted version in use.
    pub(super) async fn accepted(
        &self,
        model: &ModelName,
    ) -> Result<(Manifest, Option<RefusedView>), RuntimeError> {
        let rejected = |e: UpdateError| RuntimeError::ManifestRejected {
            model: model.to_string(),
            code: e.code(),
            detail: e.to_string(),
        };
        let kept_url = format!("{}{}", self.base, accepted_path(model));
        if self.controlled {
            let envelope = fetch_from_worker(model, &kept_url).await?;
            return Ok((
                self.policy.reopen(model, &envelope).map_err(rejected)?,
                None,
            ));
        }
        let kept = cache_get(ACCEPTED_CACHE, &kept_url).await;
        // A kept envelope today's keys no longer verify is not a version to keep.
        let previous = kept
            .as_deref()
            .and_then(|bytes| self.policy.reopen(model, bytes).ok());
        let url = format!("{}{}", self.base, manifest_path(model));
        let published = match fetch_bytes_up_to(&url, MAX_MANIFEST_BYTES).await {
            Ok(bytes) => bytes,
            Err(error @ RuntimeError::Fetch { .. }) => {
                return previous.map(|m| (m, None)).ok_or(error);
            }
            Err(error) => return Err(error),
        };
        let now = (js_sys::Date::now() / 1000.0).max(0.0);
        // Whole seconds since 1970: far below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let now = now as u64;
        match self
            .policy
            .evaluate(model, previous.as_ref(), &published, now)
        {
            Ok(accepted) => {
                if kept.as_deref() != Some(published.as_slice()) {
                    cache_put(ACCEPTED_CACHE, &kept_url, &published).await;
                }
                Ok((accepted.manifest, None))
            }
            Err(error) => match previous {
                Some(previous) => Ok((
                    previous,
                    Some(RefusedView {
                        code: error.code(),
                        message: error.to_string(),
                    }),
                )),
                None => Err(rejected(error)),
            },
        }
    }

    /// The manifest's entry point as the service worker serves it, checked against the
    /// manifest: `Ok(Err(_))` when the bytes are not that file (the caller may retry with the
    /// worker's next manifest).
    pub(super) async fn served_file(
        &self,
        model: &ModelName,
        manifest: &Manifest,
    ) -> Result<Result<(FileEntry, Vec<u8>), RuntimeError>, RuntimeError> {
        let file = entry(model, manifest)?;
        Ok(self.served(model, &file).await?.map(|bytes| (file, bytes)))
    }

    /// File `file` of `model` as the service worker serves it, checked shard by shard and
    /// whole against the manifest's entry for it: `Ok(Err(_))` when the bytes are not that file.
    pub(super) async fn served(
        &self,
        model: &ModelName,
        file: &FileEntry,
    ) -> Result<Result<Vec<u8>, RuntimeError>, RuntimeError> {
        let url = format!("{}{}/{}", self.base, model, file.path.as_str());
        let buffer = fetch_buffer(&url).await?;
        let bytes = Uint8Array::new(&buffer);
        if u64::from(bytes.length()) != file.size {
            // Core names the mismatch (size, or the shard the bytes end in).
            let bytes = bytes.to_vec();
            return Ok(verify_file(file, &bytes)
                .map_or_else(|e| Err(RuntimeError::from(e)), |()| Ok(bytes)));
        }
        // Every shard's digest by WebCrypto, all at once, then checked in order by core.
        let mut offset = 0u64;
        let mut views = Vec::with_capacity(file.shards.len());
        for shard in &file.shards {
            // Within the buffer, whose length (a u32) is the file's size.
            #[allow(clippy::cast_possible_truncation)]
            views.push(Uint8Array::new_with_byte_offset_and_length(
                &buffer,
                offset as u32,
                shard.size as u32,
            ));
            offset += shard.size;
        }
        let digests = future::join_all(views.iter().map(|view| digest(&url, view))).await;
        let mut assembly = FileAssembly::new(file);
        for (view, measured) in views.iter().zip(digests) {
            if let Err(e) = assembly.push_shard_digest(u64::from(view.length()), measured?) {
                return Ok(Err(e.into()));
            }
        }
        Ok(match assembly.finish() {
            Ok(()) => Ok(bytes.to_vec()),
            Err(e) => Err(e.into()),
        })
    }

    /// The file's bytes from its content-addressed shards, [`SHARD_FETCHES`] at a time, each
    /// hashed by WebCrypto as it arrives and checked in order by core's [`FileAssembly`] (the
    /// first bad or failed shard stops the load).
    pub(super) async fn fetch_shards(&self, file: &FileEntry) -> Result<Vec<u8>, RuntimeError> {
        let mut shards = stream::iter(&file.shards)
            .map(|shard| fetch_shard(format!("{}{}", self.base, shard_path(&shard.sha256))))
            .buffered(SHARD_FETCHES);
        let mut assembly = FileAssembly::new(file);
        let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        while let Some(fetched) = shards.next().await {
            let (data, measured) = fetched?;
            assembly.push_shard_digest(u64::from(data.length()), measured)?;
            let start = bytes.len();
            bytes.resize(start + data.length() as usize, 0);
            data.copy_to(&mut bytes[start..]);
        }
        assembly.finish()?;
        Ok(bytes)
    }
}

/// One shard's bytes and their WebCrypto digest.
async fn fetch_shard(url: String) -> Result<(Uint8Array, Sha256Digest), RuntimeError> {
    let data = Uint8Array::new(&fetch_buffer(&url).await?);
    let measured = digest(&url, &data).await?;
    Ok((data, measured))
}

/// The sha256 of `data` (fetched from `url`) by WebCrypto.
async fn digest(url: &str, data: &Uint8Array) -> Result<Sha256Digest, RuntimeError> {
    tessera_js_error::sha256(data)
        .await
        .map(Sha256Digest::from_bytes)
        .map_err(|source| RuntimeError::Fetch {
            url: url.to_owned(),
            source,
        })
}

/// Shards fetched at once when no service worker serves the model.
const SHARD_FETCHES: usize = 4;

/// The Cache Storage cache holding, when no service worker controls the page, the envelope
/// this runtime accepted last per model (keyed by `{base}_accepted/NAME`, the URL a service
/// worker answers the same thing at).
pub const ACCEPTED_CACHE: &str = "tessera-runtime-accepted";

/// Cache Storage's cache `name`, where Cache Storage exists.
pub(super) async fn open_cache(name: &str) -> Option<JsValue> {
    let caches = Reflect::get(&js_sys::global(), &JsValue::from_str("caches")).ok()?;
    if caches.is_undefined() {
        return None;
    }
    let open: js_sys::Function = Reflect::get(&caches, &JsValue::from_str("open"))
        .ok()?
        .dyn_into()
        .ok()?;
    let promise = open.call1(&caches, &JsValue::from_str(name)).ok()?;
    await_promise(promise.dyn_into().ok()?).await.ok()
}

/// Keeps `bytes` at `key` in cache `name`. Best effort: for the accepted envelope, a failure
/// only means the next load judges the published manifest without this one as its previous;
/// for a calibration, that the next load calibrates again.
pub(super) async fn cache_put(name: &str, key: &str, bytes: &[u8]) {
    let Some(cache) = open_cache(name).await else {
        return;
    };
    let mut body = bytes.to_vec();
    let Ok(response) = Response::new_with_opt_u8_array(Some(&mut body)) else {
        return;
    };
    let put = Reflect::get(&cache, &JsValue::from_str("put"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let Some(put) = put {
        if let Ok(promise) = put.call2(&cache, &JsValue::from_str(key), &response) {
            if let Ok(promise) = promise.dyn_into::<Promise>() {
                let _ = await_promise(promise).await;
            }
        }
    }
}

/// The bytes kept at `key` in cache `name`, if any.
pub(super) async fn cache_get(name: &str, key: &str) -> Option<Vec<u8>> {
    let cache = open_cache(name).await?;
    let matcher: js_sys::Function = Reflect::get(&cache, &JsValue::from_str("match"))
        .ok()?
        .dyn_into()
        .ok()?;
    let found = matcher.call1(&cache, &JsValue::from_str(key)).ok()?;
    let response: Response = await_promise(found.dyn_into().ok()?)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let body = await_promise(response.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&body).to_vec())
}

/// The envelope the service worker accepted for `model`, from `url`. A refusal the worker
/// answers (`{"error": {"code"}}`) keeps its trust code, so the page sees the code the worker
/// gave; other failures are HTTP statuses.
async fn fetch_from_worker(model: &ModelName, url: &str) -> Result<Vec<u8>, RuntimeError> {
    #[derive(Deserialize)]
    struct Body {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: String,
        message: String,
    }
    let response = fetch_response(url).await?;
    if response.ok() {
        return read_body(url, &response).await;
    }
    let status = response.status();
    let body = read_body(url, &response).await.unwrap_or_default();
    let refusal = serde_json::from_slice::<Body>(&body)
        .ok()
        .and_then(|b| Some((refusal_code(&b.error.code)?, b.error.message)));
    Err(match refusal {
        Some((code, detail)) => RuntimeError::ManifestRejected {
            model: model.to_string(),
            code,
            detail,
        },
        None => RuntimeError::HttpStatus {
            url: url.to_owned(),
            status,
        },
    })
}

/// `fetch(url)` → the body of a 2xx response, read chunk by chunk from its stream and no further
/// than the first chunk past `cap` bytes (core refuses a manifest over its cap; the runtime must
/// not buffer an unbounded body first). The rest of the body is cancelled.
async fn fetch_bytes_up_to(url: &str, cap: usize) -> Result<Vec<u8>, RuntimeError> {
    let response = fetch_ok(url).await?;
    let failed = |source: JsError| RuntimeError::Fetch {
        url: url.to_owned(),
        source,
    };
    let js = |e: JsValue| failed(JsError::from(e));
    let body = Reflect::get(&response, &JsValue::from_str("body")).map_err(js)?;
    if body.is_null() || body.is_undefined() {
        return Ok(Vec::new());
    }
    let call = |target: &JsValue, method: &str| -> Result<JsValue, RuntimeError> {
        let function: js_sys::Function = Reflect::get(target, &JsValue::from_str(method))
            .map_err(js)?
            .dyn_into()
            .map_err(js)?;
        function.call0(target).map_err(js)
    };
    let reader = call(&body, "getReader")?;
    let mut out = Vec::new();
    while out.len() <= cap {
        let step = await_promise(call(&reader, "read")?.dyn_into().map_err(js)?)
            .await
            .map_err(failed)?;
        if Reflect::get(&step, &JsValue::from_str("done"))
            .map_err(js)?
            .is_truthy()
        {
            return Ok(out);
        }
        let chunk: Uint8Array = Reflect::get(&step, &JsValue::from_str("value"))
            .map_err(js)?
            .dyn_into()
            .map_err(js)?;
        out.extend_from_slice(&chunk.to_vec());
    }
    // Past the cap: drop the rest of the body (a failed cancel changes nothing for the caller).
    let _ = call(&reader, "cancel");
    Ok(out)
}

/// `fetch(url)` → the body of a 2xx response, left in JS memory.
async fn fetch_buffer(url: &str) -> Result<JsValue, RuntimeError> {
    let response = fetch_ok(url).await?;
    read_buffer(url, &response).await
}

/// `GET url`, whatever the status.
async fn fetch_response(url: &str) -> Result<Response, RuntimeError> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let failed = |source: JsError| RuntimeError::Fetch {
        url: url.to_owned(),
        source,
    };
    let response = await_promise(scope.fetch_with_str(url))
        .await
        .map_err(failed)?;
    cast(response, "fetch's answer").map_err(failed)
}

/// `GET url`, refused unless the status is 2xx.
async fn fetch_ok(url: &str) -> Result<Response, RuntimeError> {
    let response = fetch_response(url).await?;
    if !response.ok() {
        return Err(RuntimeError::HttpStatus {
            url: url.to_owned(),
            status: response.status(),
        });
    }
    Ok(response)
}

/// The whole body of `response` (fetched from `url`).
async fn read_body(url: &str, response: &Response) -> Result<Vec<u8>, RuntimeError> {
    Ok(Uint8Array::new(&read_buffer(url, response).await?).to_vec())
}

/// The whole body of `response` as an `ArrayBuffer`.
async fn read_buffer(url: &str, response: &Response) -> Result<JsValue, RuntimeError> {
    let failed = |source: JsError| RuntimeError::Fetch {
        url: url.to_owned(),
        source,
    };
    let body = response
        .array_buffer()
        .map_err(|e| failed(JsError::from(e)))?;
    await_promise(body).await.map_err(failed)
}

/// The manifest's entry point (core's one rule; a parsed manifest always has one).
pub(super) fn entry(model: &ModelName, manifest: &Manifest) -> Result<FileEntry, RuntimeError> {
    manifest
        .entry()
        .cloned()
        .map_err(|e| RuntimeError::ManifestRejected {
            model: model.to_string(),
            code: e.code(),
            detail: e.to_string(),
        })
}
