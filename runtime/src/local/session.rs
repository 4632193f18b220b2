//! A verified model's session on one of the browser's engines (wasm32 only), behind one
//! `run`: wonnx on WebGPU in this module's own wasm, with the WebGPU errors of its devices
//! checked after the build and after every run (a rejected shader makes wonnx return zeros, not
//! an error), or tract on the CPU in its own wasm module (`tessera-runtime-cpu`, which drives
//! `tessera_onnx::tract` through the engine seam the edge uses), reached through the objects
//! the worker script hands over ([`CpuEngine`]) and loaded on its first use only.
//!
//! Inputs arrive validated against the model; outputs leave shaped by the model's declared
//! outputs. It does not choose the engine (`crate::engine_choice`) or fetch the model.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use js_sys::Promise;
use tessera_core::infer::{InputTensor, TensorData, TypedValues};
use tessera_onnx::OutputSpec;
use wasm_bindgen::prelude::*;
use wonnx::utils::OutputTensor;
use wonnx::Session;

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

    /// The CPU engine's loader (`tessera-runtime-worker.js`): `load()` imports and instantiates
    /// the `tessera_runtime_cpu` module once and resolves to its `CpuSession` class.
    #[wasm_bindgen(typescript_type = "{ load(): Promise<{ build(model: Uint8Array): unknown }> }")]
    #[derive(Debug, Clone)]
    pub type CpuEngine;

    #[wasm_bindgen(method, catch)]
    fn load(this: &CpuEngine) -> Result<Promise, JsValue>;

    /// `tessera_runtime_cpu.CpuSession` (the class).
    #[derive(Debug, Clone)]
    pub type CpuSessionClass;

    /// `CpuSession.build(modelBytes)`: a session, or an `Error` with a `code`.
    #[wasm_bindgen(method, catch)]
    fn build(this: &CpuSessionClass, model: &[u8]) -> Result<CpuSession, JsValue>;

    /// A `tessera_runtime_cpu.CpuSession`.
    #[derive(Debug, Clone)]
    pub type CpuSession;

    /// `session.run({name: {dtype, shape, data}})` → the same form out.
    #[wasm_bindgen(method, catch)]
    fn run(this: &CpuSession, inputs: &JsValue) -> Result<JsValue, JsValue>;
}

/// A model's session on its engine.
pub(super) enum LocalSession {
    Webgpu {
        session: Session,
        /// The monitor's numbers of the devices wonnx created for it (`from..to`), when watched.
        devices: Option<(f64, f64)>,
    },
    Cpu(CpuSession),
}

impl std::fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind().name())
    }
}

/// Outputs by name: shape and values.
pub(super) type RunOutputs = BTreeMap<String, (Vec<u64>, TensorData)>;

impl LocalSession {
    pub(super) fn kind(&self) -> EngineKind {
        match self {
            Self::Webgpu { .. } => EngineKind::WonnxWebgpu,
            Self::Cpu(_) => EngineKind::TractWasm,
        }
    }
}

impl Inner {
    /// Builds `model`'s session on `kind` from its verified `bytes`.
    pub(super) async fn build_session(
        &self,
        kind: EngineKind,
        model: &str,
        bytes: &[u8],
    ) -> Result<LocalSession, RuntimeError> {
        let failed = |detail: String| RuntimeError::Session {
            model: model.to_owned(),
            engine: kind.name(),
            detail,
        };
        match kind {
            EngineKind::WonnxWebgpu => {
                let first_device = self.gpu_mark();
                let session = Session::from_bytes(bytes)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                let devices = first_device.zip(self.gpu_mark());
                // A shader the browser rejected shows here, not as a wonnx error.
                self.gpu_check(model, devices).await?;
                Ok(LocalSession::Webgpu { session, devices })
            }
            EngineKind::TractWasm => {
                let class = self.cpu_class().await?;
                let session = class
                    .build(bytes)
                    .map_err(|e| failed(JsError::from(e).to_string()))?;
                Ok(LocalSession::Cpu(session))
            }
        }
    }

    /// The CPU engine's `CpuSession` class, its module loaded on first use.
    pub(super) async fn cpu_class(&self) -> Result<CpuSessionClass, RuntimeError> {
        if let Some(class) = self.cpu_class.borrow().clone() {
            return Ok(class);
        }
        let unavailable = |e: JsError| RuntimeError::CpuEngineUnavailable(e.to_string());
        let engine = self.cpu.borrow().clone().ok_or_else(|| {
            RuntimeError::CpuEngineUnavailable("the worker gave no CPU engine".into())
        })?;
        let promise = engine.load().map_err(|e| unavailable(e.into()))?;
        let class: CpuSessionClass = await_promise(promise)
            .await
            .map_err(unavailable)?
            .unchecked_into();
        self.cpu_class.replace(Some(class.clone()));
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
        let mut produced: HashMap<String, TensorData> = match session {
            LocalSession::Webgpu { session, devices } => {
                let feed = inputs
                    .iter()
                    .map(|(key, tensor)| {
                        let value = match &tensor.data {
                            TensorData::Float32(v) => {
                                wonnx::utils::InputTensor::F32(Cow::Borrowed(v))
                            }
                            TensorData::Int32(v) => {
                                wonnx::utils::InputTensor::I32(Cow::Borrowed(v))
                            }
                            TensorData::Int64(v) => {
                                wonnx::utils::InputTensor::I64(Cow::Borrowed(v))
                            }
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
                let outputs = session.run(&feed).await;
                // An invalid pipeline computes nothing and wonnx returns zeros: the browser's
                // errors come first.
                self.gpu_check(model, *devices).await?;
                outputs
                    .map_err(|e| failed(e.to_string()))?
                    .into_iter()
                    .map(|(key, value)| {
                        let data = match value {
                            OutputTensor::F32(v) => TensorData::Float32(v),
                            OutputTensor::I32(v) => TensorData::Int32(v),
                            OutputTensor::I64(v) => TensorData::Int64(v),
                            OutputTensor::U8(v) => {
                                TensorData::Int32(v.into_iter().map(i32::from).collect())
                            }
                        };
                        (key, data)
                    })
                    .collect()
            }
            LocalSession::Cpu(session) => {
                let js = tessera_js_tensor::tensors_to_js(
                    inputs
                        .iter()
                        .map(|(name, t)| (name.as_str(), t.shape.as_slice(), &t.data)),
                );
                let answer = session
                    .run(&js)
                    .map_err(|e| failed(JsError::from(e).to_string()))?;
                tessera_js_tensor::read_tensors(&answer)
                    .map_err(|e| failed(format!("the CPU engine's answer: {e}")))?
                    .into_iter()
                    .map(|(name, tensor)| match tensor.data {
                        TypedValues::Buffer(data) => Ok((name, data)),
                        TypedValues::Numbers(_) => Err(failed(format!(
                            "the CPU engine answered output {name:?} without a typed array"
                        ))),
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let mut result = BTreeMap::new();
        for spec in outputs {
            let data = produced
                .remove(&spec.name)
                .ok_or_else(|| failed(format!("output {:?} was not produced", spec.name)))?;
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
