//! The wasm-bindgen surface (wasm32 only).

use std::task::{Context, Poll, Waker};

use js_sys::{Error, Reflect};
use tessera_core::infer::validate_typed;
use tessera_core::ErrorCode;
use tessera_onnx::engine::{EngineFuture, EngineSession, InferenceEngine};
use tessera_onnx::tract::Tract;
use tessera_onnx::ModelSignature;
use wasm_bindgen::prelude::*;

use crate::ENGINE_NAME;

/// A JS `Error` with `code` (and `name` = `TesseraCpuError`).
fn failure(code: &str, message: &str) -> JsValue {
    let error = Error::new(message);
    error.set_name("TesseraCpuError");
    // Setting a data property on an Error made here cannot fail.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

fn fail<E: ErrorCode + std::fmt::Display>(error: &E) -> JsValue {
    failure(error.code(), &error.to_string())
}

/// Drives a tract future: tract computes synchronously and its futures are ready at once.
fn ready<T>(mut future: EngineFuture<'_, T>) -> Result<T, JsValue> {
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result.map_err(|e| fail(&e)),
        Poll::Pending => Err(failure(
            "engine-pending",
            "the CPU engine did not finish synchronously",
        )),
    }
}

/// One model on tract, ready to run.
#[wasm_bindgen]
pub struct CpuSession {
    signature: ModelSignature,
    session: Box<dyn EngineSession>,
}

impl std::fmt::Debug for CpuSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuSession")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl CpuSession {
    /// The engine's name (`tract-wasm`).
    #[wasm_bindgen(js_name = engineName)]
    pub fn engine_name() -> String {
        ENGINE_NAME.to_owned()
    }

    /// Reads the model's signature and builds an optimized tract plan for it.
    pub fn build(model: &[u8]) -> Result<CpuSession, JsValue> {
        let signature = tessera_onnx::inspect(model).map_err(|e| fail(&e))?;
        let engine = Tract::new(ENGINE_NAME);
        let session = ready(engine.build(model, &signature))?;
        Ok(CpuSession { signature, session })
    }

    /// Runs the model: `{name: {dtype, shape, data}}` in (every input the model declares, typed
    /// arrays or numbers), the same form out with typed arrays.
    pub fn run(&mut self, inputs: JsValue) -> Result<JsValue, JsValue> {
        let given = tessera_js_tensor::read_tensors(&inputs).map_err(|e| fail(&e))?;
        let inputs = validate_typed(given, &self.signature.inputs).map_err(|e| fail(&e))?;
        let outputs = ready(self.session.run(&inputs))?;
        // Typed end to end: an int64 output leaves as a BigInt64Array with every bit.
        Ok(tessera_js_tensor::tensors_to_js(outputs.iter().map(
            |(name, tensor)| (name.as_str(), tensor.shape.as_slice(), &tensor.data),
        )))
    }
}
