//! Answers `GET`/`HEAD {prefix}NAME/FILE` from verified shards only: ensures the model,
//! evaluates `Range` with `tessera_core::range::evaluate` (200/206/416), sets the contract's
//! headers, and answers with exactly the shards the range touches — as a `Blob` over their
//! OPFS files (the browser streams it natively; no byte passes through JS or wasm), or, on the
//! IndexedDB fallback, as a stream read record by record. Never the whole file in memory.
//! `GET {prefix}_accepted/NAME` answers the signed envelope this worker accepted for the model
//! (ensuring it first), online and offline: the page's runtime reads the manifest from here, so
//! it verifies the bytes it gets against the very version served.
//! Errors become JSON `{ "error": { code, message } }` responses. Manifests and shards under the
//! prefix pass through to the network untouched.

use std::rc::Rc;

use futures_util::stream;
use js_sys::{Array, Uint8Array};
use tessera_core::layout::{ArtifactPath, ModelName};
use tessera_core::manifest::{FileEntry, ShardRef};
use tessera_core::range::{evaluate, unsatisfied_content_range, RangeOutcome};
use tessera_core::ErrorCode as _;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, Headers, Request, Response, ResponseInit, Url, WorkerGlobalScope};

use crate::engine::Engine;
use crate::error::SwError;
use crate::js_error::{await_promise, catch, JsError};
use crate::shard_bytes::opfs::Opfs;
use crate::shard_bytes::ShardBytes;
use crate::update;

/// What a request URL is to the worker.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// A model's logical file: served from the store.
    File(ArtifactPath),
    /// The envelope accepted for a model: served from the store.
    Accepted(ModelName),
    /// Under the prefix but a manifest or shard: the network's.
    PassThrough,
    /// Not ours.
    Other,
}

/// Classifies `url` (absolute) against the configured prefix and this worker's origin.
pub fn route(engine: &Engine, url: &str) -> Route {
    let Ok(url) = Url::new(url) else {
        return Route::Other;
    };
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    if url.origin() != scope.location().origin() {
        return Route::Other;
    }
    let path = url.pathname();
    let Some(rel) = engine.config.artifact_path(&path) else {
        return Route::Other;
    };
    match ArtifactPath::parse(rel) {
        Ok(p @ ArtifactPath::LogicalFile(..)) => Route::File(p),
        Ok(ArtifactPath::Accepted(name)) => Route::Accepted(name),
        _ => Route::PassThrough,
    }
}

/// The response to `request` (never rejects: failures are JSON error responses). When the
/// stored bytes of a verified shard are gone (the browser cleared them), the shards found lost
/// are forgotten and the request is answered once more, downloading them again.
pub async fn respond(engine: Rc<Engine>, request: Request) -> Response {
    let result = match serve(engine.clone(), &request).await {
        Err(SwError::StoreCorrupt { .. }) => match engine.store.forget_lost().await {
            Ok(_) => serve(engine, &request).await,
            Err(e) => Err(e),
        },
        other => other,
    };
    match result {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn serve(engine: Rc<Engine>, request: &Request) -> Result<Response, SwError> {
    let method = request.method();
    if method != "GET" && method != "HEAD" {
        return pass_through(request).await;
    }
    let (model, path) = match route(&engine, &request.url()) {
        Route::File(ArtifactPath::LogicalFile(model, path)) => (model, path),
        Route::Accepted(model) => return accepted(&engine, &model, &method).await,
        _ => return pass_through(request).await,
    };
    // A model ready as a whole serves from memory; otherwise only this file is fetched.
    let manifest = match engine.ready_manifest(model.as_str()) {
        Some(manifest) => manifest,
        None => update::ensure_file(&engine, &model, &path).await?,
    };
    let file = manifest
        .file(path.as_str())
        .ok_or_else(|| SwError::FileNotFound {
            model: model.to_string(),
            path: path.to_string(),
        })?
        .clone();
    let range = request.headers().get("range").ok().flatten();
    let headers = catch(Headers::new())?;
    let set = |k: &str, v: &str| catch(headers.set(k, v));
    set("Content-Type", content_type(path.as_str()))?;
    set("ETag", &format!("\"{}\"", file.sha256))?;
    set("Accept-Ranges", "bytes")?;
    set("X-Tessera-Version", &manifest.version.to_string())?;
    // The bytes live in the worker's verified store: no HTTP cache should keep a second copy.
    set("Cache-Control", "no-store")?;
    let (status, from, to) = match evaluate(range.as_deref(), file.size) {
        RangeOutcome::Full => (200, 0, file.size),
        RangeOutcome::Partial(r) => {
            set("Content-Range", &r.content_range(file.size))?;
            (206, r.start(), r.end() + 1)
        }
        RangeOutcome::Unsatisfiable => {
            set("Content-Range", &unsatisfied_content_range(file.size))?;
            set("Content-Length", "0")?;
            return build(416, &headers, None);
        }
    };
    set("Content-Length", &(to - from).to_string())?;
    if method == "HEAD" || from == to {
        return build(status, &headers, None);
    }
    // A byte of the model is served: its last use (in memory; in its record once a minute).
    engine.note_use(model.as_str());
    let segments = segments(&file, from, to);
    if let ShardBytes::Opfs(opfs) = &engine.store.bytes {
        let body = blob_body(&engine, opfs, &segments).await;
        return match body {
            Ok(blob) => {
                let mut init = ResponseInit::new();
                init.status(status).headers(&headers);
                Ok(catch(Response::new_with_opt_blob_and_init(
                    Some(&blob),
                    &init,
                ))?)
            }
            Err(e) => {
                // Evicted or unreadable: forget the model so the next request downloads again.
                for (shard, _, _) in &segments {
                    let _ = engine.store.discard(&shard.sha256).await;
                }
                engine.forget_ready(model.as_str());
                Err(e)
            }
        };
    }
    let body = body_stream(engine, model.to_string(), segments);
    build(status, &headers, Some(&body))
}

/// `(shard, first byte, end exclusive)` within each shard that bytes `from..to` of `file`
/// touch, in file order.
fn segments(file: &FileEntry, from: u64, to: u64) -> Vec<(ShardRef, u64, u64)> {
    file.shard_offsets()
        .filter_map(|(start, shard)| {
            let end = start + shard.size;
            let (a, b) = (from.max(start), to.min(end));
            (a < b).then(|| (*shard, a - start, b - start))
        })
        .collect()
}

/// Slowest read a Blob answer is assumed to be consumed at, for its lease (bytes/ms ≈ 2 MB/s).
const SLOW_READ_BYTES_PER_MS: u64 = 2_000;
/// Least time a Blob answer keeps its shards from garbage collection.
const MIN_BLOB_LEASE_MS: u64 = 60_000;

/// One Blob over `segments` of their shards' files, its shards leased for as long as a slow
/// reader could take.
async fn blob_body(
    engine: &Rc<Engine>,
    opfs: &Opfs,
    segments: &[(ShardRef, u64, u64)],
) -> Result<Blob, SwError> {
    let parts = Array::new();
    let mut bytes = 0u64;
    for (shard, a, b) in segments {
        let whole = opfs.shard_blob(&shard.sha256, shard.size).await?;
        let part = if *a == 0 && *b == shard.size {
            whole
        } else {
            catch(whole.slice_with_f64_and_f64(*a as f64, *b as f64))?
        };
        bytes += b - a;
        parts.push(&part);
    }
    let ms = (bytes / SLOW_READ_BYTES_PER_MS).max(MIN_BLOB_LEASE_MS);
    engine.lease_for(
        segments.iter().map(|(shard, _, _)| shard.sha256),
        i32::try_from(ms).unwrap_or(i32::MAX),
    );
    Ok(catch(Blob::new_with_blob_sequence(&parts))?)
}

/// The envelope this worker accepted for `model` (the one it serves), after ensuring it.
async fn accepted(
    engine: &Rc<Engine>,
    model: &ModelName,
    method: &str,
) -> Result<Response, SwError> {
    update::ensure(engine, model).await?;
    let envelope = engine
        .store
        .model(model.as_str())
        .await?
        .and_then(|rec| rec.active)
        .ok_or_else(|| SwError::StoreCorrupt {
            what: format!("the accepted manifest of {model}"),
        })?;
    let headers = catch(Headers::new())?;
    catch(headers.set("Content-Type", "application/json"))?;
    catch(headers.set("Cache-Control", "no-store"))?;
    catch(headers.set("Content-Length", &envelope.len().to_string()))?;
    if method == "HEAD" {
        return build(200, &headers, None);
    }
    let mut init = ResponseInit::new();
    init.status(200).headers(&headers);
    Ok(catch(Response::new_with_opt_str_and_init(
        Some(&envelope),
        &init,
    ))?)
}

fn build(
    status: u16,
    headers: &Headers,
    body: Option<&web_sys::ReadableStream>,
) -> Result<Response, SwError> {
    let mut init = ResponseInit::new();
    init.status(status).headers(headers);
    Ok(catch(Response::new_with_opt_readable_stream_and_init(
        body, &init,
    ))?)
}

/// Content-Type by extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

struct Cursor {
    engine: Rc<Engine>,
    model: String,
    /// `(shard, first byte, end exclusive)` within each shard, in file order.
    segments: Vec<(ShardRef, u64, u64)>,
    index: usize,
    /// Keeps the streamed shards from garbage collection until the stream is dropped.
    _lease: crate::engine::Lease,
}

/// A ReadableStream of `segments`, read lazily record by record (the IndexedDB fallback).
fn body_stream(
    engine: Rc<Engine>,
    model: String,
    segments: Vec<(ShardRef, u64, u64)>,
) -> web_sys::ReadableStream {
    let lease = engine.lease(segments.iter().map(|(shard, _, _)| shard.sha256));
    let cursor = Cursor {
        engine,
        model,
        segments,
        index: 0,
        _lease: lease,
    };
    let s = stream::unfold(cursor, |mut c| async move {
        let (shard, pos, end) = *c.segments.get(c.index)?;
        let chunk = match &c.engine.store.bytes {
            ShardBytes::Idb(idb) => idb.chunk_at(&shard.sha256, pos).await,
            ShardBytes::Opfs(_) => Ok(None),
        };
        match chunk {
            Ok(Some(chunk)) => {
                let chunk_end = chunk.offset + u64::from(chunk.bytes.length());
                let stop = chunk_end.min(end);
                let part: Uint8Array = chunk
                    .bytes
                    .subarray((pos - chunk.offset) as u32, (stop - chunk.offset) as u32);
                if stop == end {
                    c.index += 1;
                } else if let Some(seg) = c.segments.get_mut(c.index) {
                    seg.1 = stop;
                }
                Some((Ok(JsValue::from(part)), c))
            }
            Ok(None) | Err(_) => {
                // Evicted or unreadable: forget it so the next request downloads it again.
                let _ = c.engine.store.discard(&shard.sha256).await;
                c.engine.forget_ready(&c.model);
                c.index = usize::MAX;
                Some((
                    Err(JsValue::from_str(
                        "tessera: stored shard missing (store-failed)",
                    )),
                    c,
                ))
            }
        }
    });
    wasm_streams::ReadableStream::from_stream(s).into_raw()
}

async fn pass_through(request: &Request) -> Result<Response, SwError> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let value = await_promise(scope.fetch_with_request(request))
        .await
        .map_err(|cause| SwError::Network {
            url: request.url(),
            cause,
        })?;
    value
        .dyn_into::<Response>()
        .map_err(|_| SwError::Js(JsError::new("TypeError", "fetch did not return a Response")))
}

/// `{ "error": { code, message } }` with the error's HTTP status.
pub fn error_response(err: &SwError) -> Response {
    let body = serde_json::json!({ "error": err.to_json() }).to_string();
    let mut init = ResponseInit::new();
    init.status(err.http_status());
    if let Ok(headers) = Headers::new() {
        let _ = headers.set("Content-Type", "application/json");
        let _ = headers.set("X-Tessera-Error", err.code());
        init.headers(&headers);
    }
    Response::new_with_opt_str_and_init(Some(&body), &init).unwrap_or_else(|_| Response::error())
}
