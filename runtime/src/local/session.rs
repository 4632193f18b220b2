//! A verified model's session on one of the browser's engines (wasm32 only), behind one
//! `run`. Both engines are wasm modules of their own that the worker script imports on first
//! use and hands over as [`EngineModule`]s: wonnx on WebGPU (`tessera-runtime-webgpu`) and tract
//! on the CPU (`tessera-runtime-cpu`, which drives `tessera_onnx::tract` through the engine seam
//! the edge uses), so this module holds no engine code and a page downloads only the engine its
//! models run on. Both are driven the same way (build from the verified bytes, run with typed
//! tensors); a WebGPU session's devices are also checked for WebGPU errors after the build and
//! after every run (a rejected shader makes wonnx return zeros, not an error).
//!
//! Inputs arrive validated against the model; outputs leave shaped by the model's declared
//! outputs. It does not choose the engine (`crate::engine_choice`) or fetch the model.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use js_sys::Promise;
use tessera_core::infer::{InputTensor, TensorData, TypedValues};
use tessera_onnx::OutputSpec;
use wasm_bindgen::prelude::*;

use super::Inner;
use crate::engine_choice::EngineKind;
use crate::error::RuntimeError;
use crate::gpu_errors::{classify, GpuErrorRecord};
use crate::js_error::{await_promise, JsError};

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

    /// An engine module's loader (`tessera-runtime-worker.js`): `load()` imports and
    /// instantiates the module (`tessera_runtime_cpu` or `tessera_runtime_webgpu`) once and
    /// resolves to its session class (`CpuSession`, `GpuSession`).
    #[wasm_bindgen(typescript_type = "{ load(): Promise<{ build(model: Uint8Array): unknown }> }")]
    #[derive(Debug, Clone)]
    pub type EngineModule;

    #[wasm_bindgen(method, catch)]
    fn load(this: &EngineModule) -> Result<Promise, JsValue>;

    /// An engine module's session class.
    #[derive(Debug, Clone)]
    pub type SessionClass;

    /// `Class.build(modelBytes)`: a session (the CPU engine) or a Promise of one (WebGPU), or
    /// an `Error` with a `code`.
    #[wasm_bindgen(method, catch)]
    fn build(this: &SessionClass, model: &[u8]) -> Result<JsValue, JsValue>;

    /// A session of an engine module.
    #[derive(Debug, Clone)]
    pub type EngineSession;

    /// `session.run({name: {dtype, shape, data}})` → the same form out (or a Promise of it).
    #[wasm_bindgen(method, catch)]
    fn run(this: &EngineSession, inputs: &JsValue) -> Result<JsValue, JsValue>;
}

/// One engine module as the worker handed it over, and its session class once loaded.
#[derive(Debug, Default)]
pub(super) struct EngineSlot {
    module: RefCell<Option<EngineModule>>,
    class: RefCell<Option<SessionClass>>,
}

impl EngineSlot {
    /// Attaches the module's loader (its class loads on first use).
    pub(super) fn attach(&self, module: EngineModule) {
        self.module.replace(Some(module));
        self.class.replace(None);
    }

    /// Whether the worker gave this engine.
    pub(super) fn is_attached(&self) -> bool {
        self.module.borrow().is_some()
    }
}

/// A model's session on its engine.
pub(super) struct LocalSession {
    kind: EngineKind,
    session: EngineSession,
    /// The monitor's numbers of the devices wonnx created for it (`from..to`), when watched
    /// (WebGPU sessions only).
    devices: Option<(f64, f64)>,
}

impl std::fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind().name())
    }
}

/// Outputs by name: shape and values in their element type (the engine seam's form).
pub(super) type RunOutputs = tessera_onnx::engine::Outputs;

/// Awaits `value` when it is a Promise (the WebGPU engine answers Promises, the CPU engine
/// values).
async fn settle(value: JsValue) -> Result<JsValue, JsError> {
    await_promise(Promise::resolve(&value)).await
}

impl LocalSession {
    pub(super) fn kind(&self) -> EngineKind {
        self.kind
    }
}

impl Inner {
    /// The slot of `kind`'s engine module.
    fn slot(&self, kind: EngineKind) -> &EngineSlot {
        match kind {
            EngineKind::WonnxWebgpu => &self.webgpu,
            EngineKind::TractWasm => &self.cpu,
        }
    }

    /// Builds `model`'s session on `kind` from its verified `bytes`.
    pub(super) async fn build_session(
        &self,
        kind: EngineKind,
        model: &str,
        bytes: &[u8],
    ) -> Result<LocalSession, RuntimeError> {
        let failed = |e: JsError| RuntimeError::Session {
            model: model.to_owned(),
            engine: kind.name(),
            detail: e.to_string(),
        };
        let class = self.engine_class(kind).await?;
        let watched = kind == EngineKind::WonnxWebgpu;
        let first_device = if watched { self.gpu_mark() } else { None };
        // `build` copies the bytes into the engine's own memory before it returns.
        let built = class.build(bytes).map_err(|e| failed(e.into()))?;
        let session: EngineSession = settle(built).await.map_err(failed)?.unchecked_into();
        let devices = first_device.zip(if watched { self.gpu_mark() } else { None });
        // A shader the browser rejected shows here, not as a wonnx error.
        self.gpu_check(model, devices).await?;
        Ok(LocalSession {
            kind,
            session,
            devices,
        })
    }

    /// `kind`'s session class, its module loaded on first use (a failed load is tried again
    /// the next time).
    pub(super) async fn engine_class(
        &self,
        kind: EngineKind,
    ) -> Result<SessionClass, RuntimeError> {
        let slot = self.slot(kind);
        if let Some(class) = slot.class.borrow().clone() {
            return Ok(class);
        }
        let unavailable = |detail: String| match kind {
            EngineKind::WonnxWebgpu => RuntimeError::WebgpuEngineUnavailable(detail),
            EngineKind::TractWasm => RuntimeError::CpuEngineUnavailable(detail),
        };
        let module = slot
            .module
            .borrow()
            .clone()
            .ok_or_else(|| unavailable(format!("the worker gave no {} engine", kind.name())))?;
        let promise = module
            .load()
            .map_err(|e| unavailable(JsError::from(e).to_string()))?;
        let class: SessionClass = await_promise(promise)
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .unchecked_into();
        slot.class.replace(Some(class.clone()));
        Ok(class)
    }

    /// One run: the declared outputs with their shapes.
    pub(super) async fn execute(
        &self,
        model: &str,
        session: &LocalSession,
        outputs: &[OutputSpec],
        inputs: &BTreeMap<String, InputTensor>,
    ) -> Result<RunOutputs, RuntimeError> {
        let failed = |detail: String| RuntimeError::Run {
            model: model.to_owned(),
            detail,
        };
        let js = tessera_js_tensor::tensors_to_js(
            inputs
                .iter()
                .map(|(name, t)| (name.as_str(), t.shape.as_slice(), &t.data)),
        );
        let answer = session
            .session
            .run(&js)
            .map_err(|e| failed(JsError::from(e).to_string()));
        let answer = match answer {
            Ok(answer) => settle(answer).await.map_err(|e| failed(e.to_string())),
            Err(error) => Err(error),
        };
        // An invalid pipeline computes nothing and wonnx returns zeros: the browser's errors
        // come first.
        self.gpu_check(model, session.devices).await?;
        let engine = session.kind().name();
        let mut produced: HashMap<String, (Vec<u64>, TensorData)> =
            tessera_js_tensor::read_tensors(&answer?)
                .map_err(|e| failed(format!("the {engine} engine's answer: {e}")))?
                .into_iter()
                .map(|(name, tensor)| match tensor.data {
                    TypedValues::Buffer(data) => Ok((name, (tensor.shape, data))),
                    TypedValues::Numbers(_) => Err(failed(format!(
                        "the {engine} engine answered output {name:?} without a typed array"
                    ))),
                })
                .collect::<Result<_, _>>()?;
        let mut result = RunOutputs::new();
        for spec in outputs {
            let (shape, data) = produced
                .remove(&spec.name)
                .ok_or_else(|| failed(format!("output {:?} was not produced", spec.name)))?;
            // The WebGPU engine answers flat buffers (`[len]`), the CPU engine shaped ones: the
            // declared shape wins when it fits, as on the edge.
            let tensor = tessera_onnx::engine::shape_output(spec, data, Some(shape))
                .map_err(|e| failed(e.to_string()))?;
            result.insert(spec.name.clone(), tensor);
        }
        Ok(result)
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
}
