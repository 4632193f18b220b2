//! The worker-side runtime (wasm32 only): [`LocalRuntime`] loads a model by name — its signed
//! manifest and entry point through [`fetch`] (core's one acceptance path, every byte checked
//! before an engine sees it), and the external data files the graph names, inlined into one
//! graph (`tessera_onnx::external`) — picks its engine by [`crate::engine_choice`]'s rules (WebGPU
//! probed without touching wonnx, the model's operators and largest tensor, a cached
//! calibration), builds the session on it ([`session`]), proves it with the manifest's
//! known-answer vectors, falls back to the other engine where the rules allow, and runs
//! inferences with typed arrays in and out (`tessera-js-tensor`: no widening to `f64`).
//!
//! It does not decide fallbacks to the edge ([`crate::router`] on the page does) and keeps
//! nothing across worker restarts but the calibration verdicts ([`calibration`]).

mod calibration;
mod fetch;
mod session;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect};
use serde::{Deserialize, Serialize};
use tessera_core::infer::{validate_typed, InputTensor, TensorSpec};
use tessera_core::keys::{PublicKeyFile, TrustedKeys};
use tessera_core::layout::ModelName;
use tessera_core::manifest::{DType, FileEntry, Manifest};
use tessera_core::policy::UpdatePolicy;
use tessera_core::selftest;
use tessera_core::ErrorCode;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

pub use fetch::ACCEPTED_CACHE;
pub use session::{EngineModule, GpuMonitor};

use crate::capability::{self, Adapter};
use crate::engine_choice::{self, EngineKind, EnginePreference, Webgpu};
use crate::error::RuntimeError;
use crate::js_bridge::{error_value, set, to_js};
use session::{EngineSlot, LocalSession, RunOutputs};

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
    /// Which engine: `auto` (default), `webgpu` or `cpu`.
    #[serde(default)]
    engine: EnginePreference,
    /// Testing only: build sessions for models whose operators are not in
    /// [`capability::BROWSER_OPS`] (engine and ABI are still checked), to observe how the
    /// browser fails them.
    #[serde(default)]
    allow_unlisted_ops: bool,
    /// Testing only: calibrate on a software adapter as on a GPU (this machine has no GPU).
    #[serde(default)]
    calibrate_software_adapters: bool,
}

/// What `load` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadReport {
    model: String,
    version: String,
    inputs: Vec<SpecView>,
    outputs: Vec<String>,
    /// Bytes of the entry point and the external data files it names.
    file_bytes: u64,
    /// `service-worker` or `shards`.
    source: &'static str,
    /// The engine the session runs on (`wonnx-webgpu`, `tract-wasm`).
    engine: &'static str,
    /// Why not WebGPU, when the CPU engine runs it: a rule (`no-webgpu`, `op-unsupported`,
    /// `software-adapter`, `engine-cpu-requested`, …), the code of WebGPU's failure, or
    /// `calibrated-faster`; `null` otherwise.
    engine_reason: Option<&'static str>,
    /// The calibration that picked the engine, when one ran or a cached verdict was used.
    calibration: Option<calibration::CalibrationView>,
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
    /// Fetching the entry point and checking it (every shard, then the whole file), with the
    /// external data files it names and their inlining.
    fetch_ms: f64,
    /// Building the session(s), the CPU engine's module load included.
    session_ms: f64,
    self_test_ms: f64,
}

/// A verified, self-tested session.
#[derive(Debug)]
struct Loaded {
    inputs: Vec<TensorSpec>,
    outputs: Vec<tessera_onnx::OutputSpec>,
    session: LocalSession,
}

struct Inner {
    /// Core's one acceptance path, with the page's trusted keys.
    policy: UpdatePolicy,
    base: String,
    controlled: bool,
    engine: EnginePreference,
    allow_unlisted_ops: bool,
    calibrate_software_adapters: bool,
    gpu: RefCell<Option<GpuMonitor>>,
    /// The CPU engine's module (`tessera_runtime_cpu`).
    cpu: EngineSlot,
    /// The WebGPU engine's module (`tessera_runtime_webgpu`).
    webgpu: EngineSlot,
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
            .field("engine", &self.inner.engine)
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl LocalRuntime {
    /// `options`: `{ trustedKeys: [{keyid, algorithm, publicKey}], threshold?, modelsBase?,
    /// controlled?, engine?: 'auto'|'webgpu'|'cpu', allowUnlistedOps?,
    /// calibrateSoftwareAdapters? }` (the last two: testing only).
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
                engine: options.engine,
                allow_unlisted_ops: options.allow_unlisted_ops,
                calibrate_software_adapters: options.calibrate_software_adapters,
                gpu: RefCell::new(None),
                cpu: EngineSlot::default(),
                webgpu: EngineSlot::default(),
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

    /// Gives the runtime its CPU engine (loaded by `engine.load()` the first time it is
    /// picked). Without one, only WebGPU runs models.
    #[wasm_bindgen(js_name = useCpuEngine)]
    pub fn use_cpu_engine(&self, engine: EngineModule) {
        self.inner.cpu.attach(engine);
    }

    /// Gives the runtime its WebGPU engine (loaded by `engine.load()` the first time a model
    /// is built on WebGPU). Without one, a WebGPU build fails with
    /// `webgpu-engine-unavailable`.
    #[wasm_bindgen(js_name = useWebgpuEngine)]
    pub fn use_webgpu_engine(&self, engine: EngineModule) {
        self.inner.webgpu.attach(engine);
    }

    /// Loads the module of the engine a load would most likely build on (the CPU engine on a
    /// software adapter or without WebGPU, else WebGPU's), and never the other: a worker that
    /// starts online has its engine when the network goes. Resolves when it is loaded or
    /// failed to (a failure shows again, typed, at the load).
    #[wasm_bindgen(js_name = warmEngine)]
    pub fn warm_engine(&self) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            if let Some(kind) = inner.likely_engine().await {
                let _ = inner.engine_class(kind).await;
            }
            Ok(JsValue::UNDEFINED)
        })
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
    /// engine, computeMs}` with `data` a `Float32Array`, `Int32Array` or `BigInt64Array`.
    pub fn run(&self, name: String, inputs: JsValue) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let loaded = inner
                .models
                .borrow()
                .get(&name)
                .cloned()
                .ok_or_else(|| fail(&RuntimeError::NotLoaded(name.clone())))?;
            let given = tessera_js_tensor::read_tensors(&inputs)
                .map_err(|e| fail(&RuntimeError::from(e)))?;
            let inputs =
                validate_typed(given, &loaded.inputs).map_err(|e| fail(&RuntimeError::from(e)))?;
            let started = now_ms();
            let outputs = match inner.run_loaded(&name, &loaded, &inputs).await {
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
            let js_outputs = tessera_js_tensor::tensors_to_js(
                outputs
                    .iter()
                    .map(|(key, tensor)| (key.as_str(), tensor.shape.as_slice(), &tensor.data)),
            );
            set(&result, "outputs", &js_outputs);
            set(
                &result,
                "engine",
                &JsValue::from_str(loaded.session.kind().name()),
            );
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
        let model: ModelName = name
            .parse()
            .map_err(
                |e: tessera_core::layout::LayoutError| RuntimeError::ManifestRejected {
                    model: name.to_owned(),
                    code: e.code(),
                    detail: e.to_string(),
                },
            )?;
        if self.preference() == EnginePreference::Webgpu {
            // WebGPU only: no adapter, no download.
            self.adapter().await?;
        }

        let started = now_ms();
        let (manifest, refused_update) = self.accepted(&model).await?;
        timings.manifest_ms = now_ms() - started;
        self.check_manifest(name, &manifest)?;

        // The likely engine's module loads while the bytes arrive (the other one only if it
        // is built after all: a fallback or a calibration).
        let likely = self.likely_engine().await;
        let started = now_ms();
        let (fetched, ()) = futures_util::join!(self.fetch_entry(name, &model, manifest), async {
            if let Some(kind) = likely {
                // A failure shows again, typed, when the session is built.
                let _ = self.engine_class(kind).await;
            }
        });
        let (manifest, file, graph, source) = fetched?;
        let signature = tessera_onnx::inspect(&graph).map_err(|e| signature_error(name, e))?;
        // A graph with external data: the files it names, fetched and checked like the graph,
        // inlined into one self-contained graph for the engines.
        let (bytes, data_bytes) = self
            .self_contained(name, &model, &manifest, &file, graph, &signature)
            .await?;
        timings.fetch_ms = now_ms() - started;

        let webgpu = if self.preference() == EnginePreference::Cpu {
            Webgpu::Unusable(RuntimeError::Config("WebGPU was not asked for".into()))
        } else {
            self.webgpu(name, &manifest, signature.largest_initializer_bytes)
                .await
        };
        let adapter_is_fallback = matches!(webgpu, Webgpu::Usable { software: true });
        let verdict_key = match (&webgpu, self.adapter.borrow().as_ref()) {
            (Webgpu::Usable { .. }, Some(adapter)) => Some(calibration::key(
                &self.base,
                &model,
                &manifest.version,
                &adapter.identity,
            )),
            _ => None,
        };
        let cached = match &verdict_key {
            Some(key) => calibration::cached(key).await,
            None => None,
        };
        let plan = engine_choice::plan(
            self.preference(),
            &webgpu,
            cached,
            self.calibrate_software_adapters,
        )?;
        let spec = Spec {
            name,
            manifest: &manifest,
            bytes: &bytes,
            inputs: &signature.inputs,
            outputs: &signature.outputs,
        };

        let mut reason = plan.reason;
        let mut calibration_view = cached.map(calibration::CalibrationView::cached);
        let loaded = if plan.calibrate {
            let (loaded, view) = self.calibrate(&spec, &mut timings).await?;
            if let Some(key) = &verdict_key {
                calibration::keep(key, loaded.session.kind()).await;
            }
            if loaded.session.kind() == EngineKind::TractWasm {
                reason = Some(view.reason());
            }
            calibration_view = Some(view);
            loaded
        } else {
            match self.prepare(plan.first, &spec, &mut timings).await {
                Ok(loaded) => loaded,
                Err(error) => match plan.fallback {
                    Some(fallback) => {
                        let loaded = self.prepare(fallback, &spec, &mut timings).await?;
                        reason = (fallback == EngineKind::TractWasm).then(|| error.code());
                        loaded
                    }
                    None => return Err(error),
                },
            }
        };

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
            file_bytes: file.size + data_bytes,
            source,
            engine: loaded.session.kind().name(),
            engine_reason: reason,
            calibration: calibration_view,
            refused_update,
            vectors_passed: manifest.test_vectors.len(),
            adapter_is_fallback,
            timings,
        };
        self.models
            .borrow_mut()
            .insert(name.to_owned(), Rc::new(loaded));
        Ok(report)
    }

    /// The entry point's verified bytes: as the service worker serves them (with the manifest
    /// it serves them for: an update finishing between the manifest and the file switches to
    /// the next one), or shard by shard without one; and which of the two (`source`).
    async fn fetch_entry(
        &self,
        name: &str,
        model: &ModelName,
        mut manifest: Manifest,
    ) -> Result<(Manifest, FileEntry, Vec<u8>, &'static str), RuntimeError> {
        if !self.controlled {
            let file = fetch::entry(model, &manifest)?;
            let bytes = self.fetch_shards(&file).await?;
            return Ok((manifest, file, bytes, "shards"));
        }
        let (file, bytes) = match self.served_file(model, &manifest).await? {
            Ok(served) => served,
            Err(mismatch) => {
                let (next, _) = self.accepted(model).await?;
                if next.version == manifest.version {
                    return Err(mismatch);
                }
                manifest = next;
                self.check_manifest(name, &manifest)?;
                self.served_file(model, &manifest).await??
            }
        };
        Ok((manifest, file, bytes, "service-worker"))
    }

    /// The engine a load will most likely build on, before the model is read (its module is
    /// worth loading early): the CPU engine when [`Self::cpu_likely`], else WebGPU when there
    /// is an adapter; `None` when neither can be told.
    async fn likely_engine(&self) -> Option<EngineKind> {
        if self.cpu_likely().await {
            Some(EngineKind::TractWasm)
        } else {
            self.adapter().await.ok().map(|_| EngineKind::WonnxWebgpu)
        }
    }

    /// `graph` (the entry `file` of `model`) made self-contained when `signature` names
    /// external data files, and the bytes of those files: checked against the manifest before
    /// any is fetched (only the files the graph names; refused above ONNX's 2 GiB protobuf
    /// limit), each fetched as the entry is (through the service worker when one controls the
    /// page, else shard by shard) and verified, then inlined ([`tessera_onnx::external`]).
    async fn self_contained(
        &self,
        name: &str,
        model: &ModelName,
        manifest: &Manifest,
        file: &FileEntry,
        graph: Vec<u8>,
        signature: &tessera_onnx::ModelSignature,
    ) -> Result<(Vec<u8>, u64), RuntimeError> {
        if signature.external_files.is_empty() {
            return Ok((graph, 0));
        }
        let plan = tessera_onnx::external::plan(&graph, file, &manifest.files)
            .map_err(|e| signature_error(name, e))?;
        let mut data = Vec::with_capacity(plan.files.len());
        for (location, file) in &plan.files {
            let bytes = if self.controlled {
                self.served(model, file).await??
            } else {
                self.fetch_shards(file).await?
            };
            data.push((location.as_str(), bytes));
        }
        let data_bytes = plan.files.iter().map(|(_, f)| f.size).sum();
        let inlined = tessera_onnx::external::inline_fetched(&graph, &data)
            .map_err(|e| signature_error(name, e))?;
        Ok((inlined, data_bytes))
    }

    /// Whether the CPU engine is the likely pick before the model is read: forced, or `auto`
    /// without a hardware adapter (then its module is worth loading alongside the download).
    async fn cpu_likely(&self) -> bool {
        match self.preference() {
            EnginePreference::Cpu => true,
            EnginePreference::Webgpu => false,
            EnginePreference::Auto => {
                !self.calibrate_software_adapters
                    && self.adapter().await.map_or(true, |a| a.is_fallback)
            }
        }
    }

    /// The engine preference in effect: `auto` without a CPU engine (a host that never called
    /// `useCpuEngine`) is WebGPU only, failing with WebGPU's own error as before there was one.
    fn preference(&self) -> EnginePreference {
        match self.engine {
            EnginePreference::Auto if !self.cpu.is_attached() => EnginePreference::Webgpu,
            other => other,
        }
    }

    /// The manifest's engine and ABI against this runtime's; with `engine: 'webgpu'`, its
    /// operators too (before anything is downloaded).
    fn check_manifest(&self, name: &str, manifest: &Manifest) -> Result<(), RuntimeError> {
        capability::check_engine(name, &manifest.runtime.engine, manifest.runtime.abi)?;
        if self.preference() == EnginePreference::Webgpu {
            self.check_ops(name, manifest)?;
        }
        Ok(())
    }

    /// The model's operators against those verified in browsers (`allowUnlistedOps`, for
    /// tests, skips the list).
    fn check_ops(&self, name: &str, manifest: &Manifest) -> Result<(), RuntimeError> {
        if self.allow_unlisted_ops {
            return Ok(());
        }
        capability::check_model(
            name,
            &manifest.runtime.engine,
            manifest.runtime.abi,
            &manifest.runtime.ops,
        )
    }

    /// What WebGPU can do for this model: adapter, operators, limits (wonnx is not touched).
    async fn webgpu(&self, name: &str, manifest: &Manifest, largest: u64) -> Webgpu {
        let adapter = match self.adapter().await {
            Ok(adapter) => adapter,
            Err(error) => return Webgpu::Unusable(error),
        };
        let usable = self
            .check_ops(name, manifest)
            .and_then(|()| capability::check_limits(&adapter.limits, largest));
        match usable {
            Ok(()) => Webgpu::Usable {
                software: adapter.is_fallback,
            },
            Err(error) => Webgpu::Unusable(error),
        }
    }

    /// Builds the session on `kind` and proves it with every known-answer vector.
    async fn prepare(
        &self,
        kind: EngineKind,
        spec: &Spec<'_>,
        timings: &mut LoadTimings,
    ) -> Result<Loaded, RuntimeError> {
        let started = now_ms();
        let session = self.build_session(kind, spec.name, spec.bytes).await?;
        timings.session_ms += now_ms() - started;
        let loaded = Loaded {
            inputs: spec.inputs.to_vec(),
            outputs: spec.outputs.to_vec(),
            session,
        };
        let started = now_ms();
        self.self_test(spec, &loaded).await?;
        timings.self_test_ms += now_ms() - started;
        Ok(loaded)
    }

    /// Runs every known-answer vector of the manifest on `loaded` and compares.
    async fn self_test(&self, spec: &Spec<'_>, loaded: &Loaded) -> Result<(), RuntimeError> {
        for vector in &spec.manifest.test_vectors {
            let self_test = |detail: String| RuntimeError::SelfTest {
                model: spec.name.to_owned(),
                vector: vector.name.clone(),
                detail,
            };
            let inputs = selftest::request(vector)
                .validate(&loaded.inputs)
                .map_err(|e| self_test(format!("its inputs do not fit the model: {e}")))?;
            let outputs =
                self.run_loaded(spec.name, loaded, &inputs)
                    .await
                    .map_err(|e| match e {
                        // The browser's own report says more than the wrong answer would.
                        RuntimeError::Webgpu { .. } => e,
                        other => self_test(other.to_string()),
                    })?;
            let outputs = tessera_onnx::engine::json_outputs(outputs);
            selftest::compare(vector, &outputs).map_err(|e| self_test(e.to_string()))?;
        }
        Ok(())
    }

    async fn run_loaded(
        &self,
        name: &str,
        loaded: &Loaded,
        inputs: &BTreeMap<String, InputTensor>,
    ) -> Result<RunOutputs, RuntimeError> {
        self.execute(name, &loaded.session, &loaded.outputs, inputs)
            .await
    }
}

/// What a load hands its engines: the model's verified bytes and what they declare.
struct Spec<'a> {
    name: &'a str,
    manifest: &'a Manifest,
    bytes: &'a [u8],
    inputs: &'a [TensorSpec],
    outputs: &'a [tessera_onnx::OutputSpec],
}

/// The runtime's error for a graph the ONNX reader refuses: external data it cannot inline
/// keeps the reader's code; anything else is `model-unsupported`.
fn signature_error(name: &str, error: tessera_onnx::SignatureError) -> RuntimeError {
    use tessera_onnx::SignatureError as E;
    match error {
        E::ExternalPath { .. }
        | E::ExternalMissing { .. }
        | E::ExternalRange { .. }
        | E::ExternalLength { .. }
        | E::TooLarge { .. } => RuntimeError::ExternalData {
            model: name.to_owned(),
            code: error.code(),
            detail: error.to_string(),
        },
        other => RuntimeError::ModelUnsupported {
            model: name.to_owned(),
            detail: other.to_string(),
        },
    }
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
