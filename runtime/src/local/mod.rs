//! The worker-side runtime (wasm32 only): [`LocalRuntime`] checks capabilities, loads a model
//! by name — its signed manifest through core's one acceptance path (the one the service worker
//! accepted, or, with no service worker, judged here against the last one this runtime
//! accepted), its entry point fetched through the service worker (or shard by shard when none
//! controls the page) and checked with core's file assembly before wonnx ever sees it — builds
//! a wonnx session, proves it with the manifest's known-answer vectors, and runs inferences
//! with typed arrays in and out.
//!
//! WebGPU errors (a shader the browser rejects, a validation error, a lost device) do not
//! surface through wonnx: with a [`GpuMonitor`] attached ([`LocalRuntime::watch_gpu`]), the
//! errors of a session's devices are taken after its build and after every run and turned into
//! a typed [`RuntimeError::Webgpu`] instead of an answer.
//!
//! It does not decide fallbacks ([`crate::router`] on the page does) and keeps nothing across
//! worker restarts: a worker whose wasm trapped is dead and the page spawns a new one.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use futures_util::stream::{self, StreamExt as _};
use js_sys::{
    Array, BigInt64Array, Float32Array, Int32Array, Object, Promise, Reflect, Uint8Array,
};
use serde::{Deserialize, Serialize};
use tessera_core::assemble::{verify_file, FileAssembly};
use tessera_core::infer::{InferRequest, RequestTensor, TensorData, TensorSpec};
use tessera_core::keys::{PublicKeyFile, TrustedKeys};
use tessera_core::layout::{accepted_path, manifest_path, shard_path, ModelName};
use tessera_core::manifest::{DType, FileEntry, Manifest, Tensor};
use tessera_core::policy::{refusal_code, UpdateError, UpdatePolicy};
use tessera_core::selftest;
use tessera_core::ErrorCode;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{Response, WorkerGlobalScope};
use wonnx::utils::OutputTensor;
use wonnx::Session;

use crate::capability::{self, Adapter};
use crate::error::RuntimeError;
use crate::gpu_errors::{classify, GpuErrorRecord};
use crate::js_bridge::{error_value, set, to_js};
use crate::js_error::{await_promise, cast, JsError};

/// Options of [`LocalRuntime::new`], as the page passes them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    /// Keys trusted to sign manifests (`tessera keygen`'s `tessera.pub.json` objects).
    trusted_keys: Vec<PublicKeyFile>,
    /// Distinct trusted signatures required (default 1).
    #[serde(default)]
    threshold: Option<usize>,
    /// Where models are served (default `/models/`, the service worker's prefix).
    #[serde(default)]
    models_base: Option<String>,
    /// Whether a service worker controls the page (it then serves verified files).
    #[serde(default)]
    controlled: bool,
    /// Testing only: build sessions for models whose operators are not in
    /// [`capability::BROWSER_OPS`] (engine and ABI are still checked), to observe how the
    /// browser fails them.
    #[serde(default)]
    allow_unlisted_ops: bool,
}

#[wasm_bindgen]
extern "C" {
    /// The worker's WebGPU error monitor (`tessera-runtime-worker.js`): it numbers every device
    /// `GPUAdapter.requestDevice` creates and records the errors the browser reports for it.
    #[wasm_bindgen(
        typescript_type = "{ mark(): number; take(from: number, to: number): Promise<{kind: string, message: string}[]> }"
    )]
    #[derive(Debug, Clone)]
    pub type GpuMonitor;

    /// The number the next device will get.
    #[wasm_bindgen(method, catch)]
    fn mark(this: &GpuMonitor) -> Result<f64, JsValue>;

    /// Waits until the devices numbered `from..to` finished their work, then removes and
    /// returns their recorded errors (`[{kind, message}]`).
    #[wasm_bindgen(method, catch)]
    fn take(this: &GpuMonitor, from: f64, to: f64) -> Result<Promise, JsValue>;
}

/// What `load` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadReport {
    model: String,
    version: String,
    inputs: Vec<SpecView>,
    outputs: Vec<String>,
    file_bytes: u64,
    /// `service-worker` or `shards`.
    source: &'static str,
    vectors_passed: usize,
    adapter_is_fallback: bool,
    /// Set when a newer published manifest was refused and the last accepted version loaded
    /// instead (without a service worker; with one, the worker reports its refusals).
    refused_update: Option<RefusedView>,
    timings: LoadTimings,
}

/// A refused publication: core's code and message.
#[derive(Debug, Serialize)]
struct RefusedView {
    code: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct SpecView {
    name: String,
    dtype: DType,
    shape: Vec<u64>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadTimings {
    manifest_ms: f64,
    /// Fetching the entry point and checking it (every shard, then the whole file).
    fetch_ms: f64,
    session_ms: f64,
    self_test_ms: f64,
}

/// A verified, self-tested session.
struct Loaded {
    inputs: Vec<TensorSpec>,
    outputs: Vec<tessera_onnx::OutputSpec>,
    session: Session,
    /// The monitor's numbers of the devices wonnx created for it (`from..to`), when watched.
    devices: Option<(f64, f64)>,
}

struct Inner {
    /// Core's one acceptance path, with the page's trusted keys.
    policy: UpdatePolicy,
    base: String,
    controlled: bool,
    allow_unlisted_ops: bool,
    gpu: RefCell<Option<GpuMonitor>>,
    adapter: RefCell<Option<Adapter>>,
    models: RefCell<HashMap<String, Rc<Loaded>>>,
}

/// The runtime inside the dedicated worker. Every method returns a Promise that rejects with a
/// `TesseraRuntimeError` (`code`, and `fault`: the fallback fault code, or `null` for the
/// caller's own mistakes).
#[wasm_bindgen]
pub struct LocalRuntime {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for LocalRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRuntime")
            .field("base", &self.inner.base)
            .field("controlled", &self.inner.controlled)
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl LocalRuntime {
    /// `options`: `{ trustedKeys: [{keyid, algorithm, publicKey}], threshold?, modelsBase?,
    /// controlled?, allowUnlistedOps? }` (`allowUnlistedOps`: testing only).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<LocalRuntime, JsValue> {
        let options: Options = serde_wasm_bindgen::from_value(options)
            .map_err(|e| fail(&RuntimeError::Config(e.to_string())))?;
        let trusted = TrustedKeys::from_files(&options.trusted_keys)
            .map_err(|e| fail(&RuntimeError::Config(format!("trustedKeys: {e}"))))?;
        if trusted.is_empty() {
            return Err(fail(&RuntimeError::Config(
                "trustedKeys is empty: no manifest could be verified".into(),
            )));
        }
        let mut base = options.models_base.unwrap_or_else(|| "/models/".into());
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self {
            inner: Rc::new(Inner {
                policy: UpdatePolicy::new(trusted, options.threshold.unwrap_or(1)),
                base,
                controlled: options.controlled,
                allow_unlisted_ops: options.allow_unlisted_ops,
                gpu: RefCell::new(None),
                adapter: RefCell::new(None),
                models: RefCell::new(HashMap::new()),
            }),
        })
    }

    /// Watches the WebGPU errors of the sessions built from now on with `monitor`: a session
    /// whose devices report errors fails its load or run with a `webgpu-*` code.
    #[wasm_bindgen(js_name = watchGpu)]
    pub fn watch_gpu(&self, monitor: GpuMonitor) {
        self.inner.gpu.replace(Some(monitor));
    }

    /// Checks WebGPU without touching wonnx: `{isFallbackAdapter, limits}` or a rejection
    /// with `no-webgpu`, `no-adapter` or `limits-exceeded`.
    pub fn capabilities(&self) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let adapter = inner.adapter().await.map_err(|e| fail(&e))?;
            let limits = Object::new();
            for (name, value) in &adapter.limits.values {
                // Precision: limits are far below 2^53.
                #[allow(clippy::cast_precision_loss)]
                let value = JsValue::from_f64(*value as f64);
                set(&limits, name, &value);
            }
            let report = Object::new();
            set(
                &report,
                "isFallbackAdapter",
                &JsValue::from_bool(adapter.is_fallback),
            );
            set(&report, "limits", &limits);
            Ok(report.into())
        })
    }

    /// Loads, verifies, builds and self-tests model `name`; resolves to a load report.
    pub fn load(&self, name: String) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let report = inner.load(&name).await.map_err(|e| fail(&e))?;
            to_js(&report)
        })
    }

    /// Runs loaded model `name` on `inputs` (`{name: {dtype, shape, data}}`, `data` a typed
    /// array or an array of numbers); resolves to `{outputs: {name: {dtype, shape, data}},
    /// computeMs}` with `data` a `Float32Array`, `Int32Array` or `BigInt64Array`.
    pub fn run(&self, name: String, inputs: JsValue) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let loaded = inner
                .models
                .borrow()
                .get(&name)
                .cloned()
                .ok_or_else(|| fail(&RuntimeError::NotLoaded(name.clone())))?;
            let request = read_inputs(&inputs).map_err(|e| fail(&e))?;
            let inputs = request
                .validate(&loaded.inputs)
                .map_err(|e| fail(&RuntimeError::from(e)))?;
            let started = now_ms();
            let outputs = match inner.execute(&name, &loaded, &inputs).await {
                Ok(outputs) => outputs,
                Err(error) => {
                    if matches!(error, RuntimeError::Webgpu { .. }) {
                        // The session's device is broken: a later load builds a new one.
                        inner.models.borrow_mut().remove(&name);
                    }
                    return Err(fail(&error));
                }
            };
            let compute_ms = now_ms() - started;
            let result = Object::new();
            let js_outputs = Object::new();
            for (key, (shape, data)) in outputs {
                set(&js_outputs, &key, &tensor_js(&shape, &data));
            }
            set(&result, "outputs", &js_outputs);
            set(&result, "computeMs", &JsValue::from_f64(compute_ms));
            Ok(result.into())
        })
    }
}

impl Inner {
    /// The probed adapter (probed once; a failure is not cached, so a later call re-probes).
    async fn adapter(&self) -> Result<Adapter, RuntimeError> {
        if let Some(adapter) = self.adapter.borrow().clone() {
            return Ok(adapter);
        }
        let adapter = capability::probe().await?;
        self.adapter.replace(Some(adapter.clone()));
        Ok(adapter)
    }

    async fn load(&self, name: &str) -> Result<LoadReport, RuntimeError> {
        let mut timings = LoadTimings::default();
        let adapter = self.adapter().await?;
        let model: ModelName = name
            .parse()
            .map_err(
                |e: tessera_core::layout::LayoutError| RuntimeError::ManifestRejected {
                    model: name.to_owned(),
                    code: e.code(),
                    detail: e.to_string(),
                },
            )?;

        let started = now_ms();
        let (mut manifest, refused_update) = self.accepted(&model).await?;
        timings.manifest_ms = now_ms() - started;
        self.check_capability(name, &manifest)?;

        let started = now_ms();
        let (file, bytes, source) = if self.controlled {
            // The worker may switch versions between the manifest and the file (an update
            // finishing): the bytes then match the next manifest it answers, not this one.
            let (file, bytes) = match self.served_file(&model, &manifest).await? {
                Ok(served) => served,
                Err(mismatch) => {
                    let (next, _) = self.accepted(&model).await?;
                    if next.version == manifest.version {
                        return Err(mismatch);
                    }
                    manifest = next;
                    self.check_capability(name, &manifest)?;
                    self.served_file(&model, &manifest).await??
                }
            };
            (file, bytes, "service-worker")
        } else {
            let file = entry(&model, &manifest)?;
            let bytes = self.fetch_shards(&file).await?;
            (file, bytes, "shards")
        };
        timings.fetch_ms = now_ms() - started;

        let signature =
            tessera_onnx::inspect(&bytes).map_err(|e| RuntimeError::ModelUnsupported {
                model: name.to_owned(),
                detail: e.to_string(),
            })?;
        let (inputs, outputs, largest) = (
            signature.inputs,
            signature.outputs,
            signature.largest_initializer_bytes,
        );
        capability::check_limits(&adapter.limits, largest)?;
        let started = now_ms();
        let first_device = self.gpu_mark();
        let session = Session::from_bytes(&bytes)
            .await
            .map_err(|e| RuntimeError::Session {
                model: name.to_owned(),
                detail: e.to_string(),
            })?;
        let devices = first_device.zip(self.gpu_mark());
        // A shader the browser rejected shows here, not as a wonnx error.
        self.gpu_check(name, devices).await?;
        timings.session_ms = now_ms() - started;
        let loaded = Loaded {
            inputs,
            outputs,
            session,
            devices,
        };

        let started = now_ms();
        for vector in &manifest.test_vectors {
            let self_test = |detail: String| RuntimeError::SelfTest {
                model: name.to_owned(),
                vector: vector.name.clone(),
                detail,
            };
            let inputs = selftest::request(vector)
                .validate(&loaded.inputs)
                .map_err(|e| self_test(format!("its inputs do not fit the model: {e}")))?;
            let outputs: BTreeMap<String, Tensor> = self
                .execute(name, &loaded, &inputs)
                .await
                .map_err(|e| match e {
                    // The browser's own report says more than the wrong answer would.
                    RuntimeError::Webgpu { .. } => e,
                    other => self_test(other.to_string()),
                })?
                .into_iter()
                .map(|(key, (shape, data))| (key, data.into_tensor(shape)))
                .collect();
            selftest::compare(vector, &outputs).map_err(|e| self_test(e.to_string()))?;
        }
        timings.self_test_ms = now_ms() - started;

        let report = LoadReport {
            model: name.to_owned(),
            version: manifest.version.to_string(),
            inputs: loaded
                .inputs
                .iter()
                .map(|s| SpecView {
                    name: s.name.clone(),
                    dtype: s.dtype,
                    shape: s.shape.clone(),
                })
                .collect(),
            outputs: loaded.outputs.iter().map(|o| o.name.clone()).collect(),
            file_bytes: file.size,
            source,
            refused_update,
            vectors_passed: manifest.test_vectors.len(),
            adapter_is_fallback: adapter.is_fallback,
            timings,
        };
        self.models
            .borrow_mut()
            .insert(name.to_owned(), Rc::new(loaded));
        Ok(report)
    }

    /// The model's op and engine requirements against what this runtime runs
    /// (`allowUnlistedOps`, for tests, skips the op list).
    fn check_capability(&self, name: &str, manifest: &Manifest) -> Result<(), RuntimeError> {
        if self.allow_unlisted_ops {
            capability::check_engine(name, &manifest.runtime.engine, manifest.runtime.abi)
        } else {
            capability::check_model(
                name,
                &manifest.runtime.engine,
                manifest.runtime.abi,
                &manifest.runtime.ops,
            )
        }
    }

    /// The manifest to load `model` by, through core's one acceptance path, and the refusal of
    /// a newer publication when an accepted version is kept instead.
    ///
    /// With a service worker: the envelope the worker accepted and serves
    /// (`{base}_accepted/NAME`, answered from its store online and offline), reopened here
    /// (signature and name checked again). Without one: the published `manifest.json` judged by
    /// [`UpdatePolicy::evaluate`] against the envelope this runtime accepted last, which it keeps
    /// in Cache Storage ([`ACCEPTED_CACHE`]) — so expiry, rollback and mix-and-match protection
    /// hold without a service worker too. A refused publication (or no network) keeps the last
    /// accepted version in use.
    async fn accepted(
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
        let kept = stored_envelope(&kept_url).await;
        // A kept envelope today's keys no longer verify is not a version to keep.
        let previous = kept
            .as_deref()
            .and_then(|bytes| self.policy.reopen(model, bytes).ok());
        let url = format!("{}{}", self.base, manifest_path(model));
        let published = match fetch_bytes(&url).await {
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
                    keep_envelope(&kept_url, &published).await;
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
    async fn served_file(
        &self,
        model: &ModelName,
        manifest: &Manifest,
    ) -> Result<Result<(FileEntry, Vec<u8>), RuntimeError>, RuntimeError> {
        let file = entry(model, manifest)?;
        let url = format!("{}{}/{}", self.base, model, file.path.as_str());
        let bytes = fetch_bytes(&url).await?;
        Ok(match verify_file(&file, &bytes) {
            Ok(()) => Ok((file, bytes)),
            Err(e) => Err(RuntimeError::from(e)),
        })
    }

    /// The file's bytes from its content-addressed shards, [`SHARD_FETCHES`] at a time, checked
    /// in order by core's [`FileAssembly`] (the first bad or failed shard stops the load).
    async fn fetch_shards(&self, file: &FileEntry) -> Result<Vec<u8>, RuntimeError> {
        let mut shards = stream::iter(&file.shards)
            .map(|shard| fetch_bytes_owned(format!("{}{}", self.base, shard_path(&shard.sha256))))
            .buffered(SHARD_FETCHES);
        let mut assembly = FileAssembly::new(file);
        let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        while let Some(data) = shards.next().await {
            let data = data?;
            assembly.push_shard(&data)?;
            bytes.extend_from_slice(&data);
        }
        assembly.finish()?;
        Ok(bytes)
    }

    /// The monitor's next device number, when a monitor is attached and answers.
    fn gpu_mark(&self) -> Option<f64> {
        self.gpu.borrow().as_ref()?.mark().ok()
    }

    /// Takes the errors recorded for `devices` and fails with the one [`RuntimeError::Webgpu`]
    /// that explains them; `Ok` when there are none (or nothing is watched).
    async fn gpu_check(
        &self,
        model: &str,
        devices: Option<(f64, f64)>,
    ) -> Result<(), RuntimeError> {
        let monitor = self.gpu.borrow().clone();
        let (Some(monitor), Some((from, to))) = (monitor, devices) else {
            return Ok(());
        };
        let promise = monitor
            .take(from, to)
            .map_err(|e| RuntimeError::Js(e.into()))?;
        let records = await_promise(promise).await.map_err(RuntimeError::Js)?;
        let records: Vec<GpuErrorRecord> =
            serde_wasm_bindgen::from_value(records).map_err(|e| {
                RuntimeError::Js(JsError::new(
                    "TypeError",
                    format!("GPU monitor records: {e}"),
                ))
            })?;
        match classify(&records) {
            Some((fault, detail)) => Err(RuntimeError::Webgpu {
                model: model.to_owned(),
                fault,
                detail,
            }),
            None => Ok(()),
        }
    }

    /// One run: the declared outputs with their shapes.
    async fn execute(
        &self,
        model: &str,
        loaded: &Loaded,
        inputs: &BTreeMap<String, tessera_core::infer::InputTensor>,
    ) -> Result<BTreeMap<String, (Vec<u64>, TensorData)>, RuntimeError> {
        let failed = |detail: String| RuntimeError::Run {
            model: model.to_owned(),
            detail,
        };
        let feed = inputs
            .iter()
            .map(|(key, tensor)| {
                let value = match &tensor.data {
                    TensorData::Float32(v) => wonnx::utils::InputTensor::F32(Cow::Borrowed(v)),
                    TensorData::Int32(v) => wonnx::utils::InputTensor::I32(Cow::Borrowed(v)),
                    TensorData::Int64(v) => wonnx::utils::InputTensor::I64(Cow::Borrowed(v)),
                    other => {
                        return Err(failed(format!(
                            "{:?} inputs are not supported",
                            other.dtype()
                        )))
                    }
                };
                Ok((key.clone(), value))
            })
            .collect::<Result<HashMap<_, _>, RuntimeError>>()?;
        let outputs = loaded.session.run(&feed).await;
        // An invalid pipeline computes nothing and wonnx returns zeros: the browser's errors
        // come first.
        self.gpu_check(model, loaded.devices).await?;
        let mut outputs = outputs.map_err(|e| failed(e.to_string()))?;
        let mut result = BTreeMap::new();
        for spec in &loaded.outputs {
            let value = outputs
                .remove(&spec.name)
                .ok_or_else(|| failed(format!("output {:?} was not produced", spec.name)))?;
            let data = match value {
                OutputTensor::F32(v) => TensorData::Float32(v),
                OutputTensor::I32(v) => TensorData::Int32(v),
                OutputTensor::I64(v) => TensorData::Int64(v),
                OutputTensor::U8(v) => TensorData::Int32(v.into_iter().map(i32::from).collect()),
            };
            let len = data.len() as u64;
            let shape = match &spec.shape {
                Some(shape) if shape.iter().product::<u64>() == len => shape.clone(),
                Some(shape) => {
                    return Err(failed(format!(
                        "output {:?} has {len} values, its declared shape {shape:?} calls for another count",
                        spec.name
                    )))
                }
                None => vec![len],
            };
            result.insert(spec.name.clone(), (shape, data));
        }
        Ok(result)
    }
}

/// Shards fetched at once when no service worker serves the model.
const SHARD_FETCHES: usize = 4;

/// The Cache Storage cache holding, when no service worker controls the page, the envelope
/// this runtime accepted last per model (keyed by `{base}_accepted/NAME`, the URL a service
/// worker answers the same thing at).
pub const ACCEPTED_CACHE: &str = "tessera-runtime-accepted";

/// The accepted-manifest cache, where Cache Storage exists.
async fn accepted_cache() -> Option<JsValue> {
    let caches = Reflect::get(&js_sys::global(), &JsValue::from_str("caches")).ok()?;
    if caches.is_undefined() {
        return None;
    }
    let open: js_sys::Function = Reflect::get(&caches, &JsValue::from_str("open"))
        .ok()?
        .dyn_into()
        .ok()?;
    let promise = open
        .call1(&caches, &JsValue::from_str(ACCEPTED_CACHE))
        .ok()?;
    await_promise(promise.dyn_into().ok()?).await.ok()
}

/// Keeps `bytes` as the envelope accepted at `key`. Best effort: a failure only means the next
/// load judges the published manifest without this one as its previous.
async fn keep_envelope(key: &str, bytes: &[u8]) {
    let Some(cache) = accepted_cache().await else {
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

/// The envelope kept at `key`, if any.
async fn stored_envelope(key: &str) -> Option<Vec<u8>> {
    let cache = accepted_cache().await?;
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

/// `fetch(url)` → the body bytes of a 2xx response.
async fn fetch_bytes(url: &str) -> Result<Vec<u8>, RuntimeError> {
    let response = fetch_ok(url).await?;
    read_body(url, &response).await
}

/// [`fetch_bytes`] for a URL it owns (for streams of fetches).
async fn fetch_bytes_owned(url: String) -> Result<Vec<u8>, RuntimeError> {
    fetch_bytes(&url).await
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
    let failed = |source: JsError| RuntimeError::Fetch {
        url: url.to_owned(),
        source,
    };
    let body = response
        .array_buffer()
        .map_err(|e| failed(JsError::from(e)))?;
    let body = await_promise(body).await.map_err(failed)?;
    Ok(Uint8Array::new(&body).to_vec())
}

/// The manifest's entry point (core's one rule; a parsed manifest always has one).
fn entry(model: &ModelName, manifest: &Manifest) -> Result<FileEntry, RuntimeError> {
    manifest
        .entry()
        .cloned()
        .map_err(|e| RuntimeError::ManifestRejected {
            model: model.to_string(),
            code: e.code(),
            detail: e.to_string(),
        })
}

/// Reads `{name: {dtype, shape, data}}` into a request (validated against the model later).
fn read_inputs(inputs: &JsValue) -> Result<InferRequest, RuntimeError> {
    let malformed =
        |detail: String| RuntimeError::Input(tessera_core::infer::InferError::Malformed(detail));
    if !inputs.is_object() {
        return Err(malformed("inputs must be an object of tensors".into()));
    }
    let get = |target: &JsValue, key: &str| {
        Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    };
    let mut tensors = BTreeMap::new();
    for key in Object::keys(inputs.unchecked_ref::<Object>()).iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        let tensor = get(inputs, &name);
        let dtype = get(&tensor, "dtype")
            .as_string()
            .ok_or_else(|| malformed(format!("input {name:?} has no dtype string")))?;
        let shape = get(&tensor, "shape");
        if !Array::is_array(&shape) {
            return Err(malformed(format!("input {name:?} has no shape array")));
        }
        let shape = Array::from(&shape)
            .iter()
            .map(|d| d.as_f64().filter(|d| d.fract() == 0.0 && *d >= 0.0))
            .map(|d| {
                // Checked: a non-negative integer.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                d.map(|d| d as u64)
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| {
                malformed(format!(
                    "input {name:?}: shape must be non-negative integers"
                ))
            })?;
        let data = get(&tensor, "data");
        let values: Vec<f64> = if let Some(f) = data.dyn_ref::<Float32Array>() {
            f.to_vec().into_iter().map(f64::from).collect()
        } else if let Some(i) = data.dyn_ref::<Int32Array>() {
            i.to_vec().into_iter().map(f64::from).collect()
        } else if let Some(i) = data.dyn_ref::<BigInt64Array>() {
            // Documented: int64 values beyond ±2^53 lose precision on this path.
            #[allow(clippy::cast_precision_loss)]
            i.to_vec().into_iter().map(|v| v as f64).collect()
        } else if Array::is_array(&data) {
            Array::from(&data)
                .iter()
                .map(|v| v.as_f64())
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| malformed(format!("input {name:?}: data must be numbers")))?
        } else {
            return Err(malformed(format!(
                "input {name:?}: data must be a Float32Array, Int32Array, BigInt64Array or array"
            )));
        };
        tensors.insert(
            name,
            RequestTensor {
                dtype,
                shape,
                data: Some(values),
                data_b64: None,
            },
        );
    }
    Ok(InferRequest { inputs: tensors })
}

/// `{dtype, shape, data}` with `data` a typed array.
fn tensor_js(shape: &[u64], data: &TensorData) -> JsValue {
    let (dtype, values): (&str, JsValue) = match data {
        TensorData::Float32(v) => ("float32", Float32Array::from(v.as_slice()).into()),
        TensorData::Int32(v) => ("int32", Int32Array::from(v.as_slice()).into()),
        TensorData::Int64(v) => ("int64", BigInt64Array::from(v.as_slice()).into()),
        _ => ("unknown", JsValue::NULL),
    };
    let tensor = Object::new();
    let shape: Array = shape
        .iter()
        // Precision: dimensions are far below 2^53.
        .map(|d| {
            #[allow(clippy::cast_precision_loss)]
            JsValue::from_f64(*d as f64)
        })
        .collect();
    set(&tensor, "dtype", &JsValue::from_str(dtype));
    set(&tensor, "shape", &shape);
    set(&tensor, "data", &values);
    tensor.into()
}

/// A rejection value for `error`.
fn fail(error: &RuntimeError) -> JsValue {
    error_value(error, error.fault())
}

/// `performance.now()` where there is one, else `Date.now()`.
fn now_ms() -> f64 {
    Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| {
            let now = Reflect::get(&p, &JsValue::from_str("now")).ok()?;
            let now: js_sys::Function = now.dyn_into().ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}
