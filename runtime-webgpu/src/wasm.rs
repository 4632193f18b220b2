//! The wasm-bindgen surface (wasm32 only).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use js_sys::{Error, Promise, Reflect};
use tessera_core::infer::{validate_typed, InputTensor, TensorData};
use tessera_core::ErrorCode;
use tessera_onnx::engine::EngineError;
use tessera_onnx::wonnx_io::{from_wonnx, to_wonnx};
use tessera_onnx::ModelSignature;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use wonnx::Session;

use crate::ENGINE_NAME;

/// A JS `Error` with `code` (and `name` = `TesseraWebgpuError`).
fn fail<E: ErrorCode + std::fmt::Display>(error: &E) -> JsValue {
    let js = Error::new(&error.to_string());
    js.set_name("TesseraWebgpuError");
    // Setting a data property on an Error made here cannot fail.
    let _ = Reflect::set(
        &js,
        &JsValue::from_str("code"),
        &JsValue::from_str(error.code()),
    );
    js.into()
}

/// One model on wonnx, ready to run.
#[wasm_bindgen]
pub struct GpuSession {
    signature: ModelSignature,
    /// Shared with the run in flight (a run's Promise outlives the `&self` it started from).
    session: Rc<Session>,
}

impl std::fmt::Debug for GpuSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuSession")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl GpuSession {
    /// The engine's name (`wonnx-webgpu`).
    #[wasm_bindgen(js_name = engineName)]
    pub fn engine_name() -> String {
        ENGINE_NAME.to_owned()
    }

    /// Reads the model's signature and builds its wonnx session (on a device wonnx requests
    /// from the browser's adapter). Resolves to the session.
    pub async fn build(model: Vec<u8>) -> Result<GpuSession, JsValue> {
        let signature = tessera_onnx::inspect(&model).map_err(|e| fail(&e))?;
        let session = Session::from_bytes(&model)
            .await
            .map_err(|e| fail(&EngineError::Build(e.to_string())))?;
        Ok(GpuSession {
            signature,
            session: Rc::new(session),
        })
    }

    /// Runs the model: `{name: {dtype, shape, data}}` in (every input the model declares, typed
    /// arrays or numbers); resolves to the same form with typed arrays, each output flat.
    /// Inputs are read and checked before it returns (a bad input throws at once).
    pub fn run(&self, inputs: JsValue) -> Result<Promise, JsValue> {
        let given = tessera_js_tensor::read_tensors(&inputs).map_err(|e| fail(&e))?;
        let inputs: BTreeMap<String, InputTensor> =
            validate_typed(given, &self.signature.inputs).map_err(|e| fail(&e))?;
        let session = Rc::clone(&self.session);
        Ok(future_to_promise(async move {
            let feed = inputs
                .iter()
                .map(|(name, tensor)| Ok((name.clone(), to_wonnx(&tensor.data)?)))
                .collect::<Result<HashMap<_, _>, EngineError>>()
                .map_err(|e| fail(&e))?;
            let produced = session
                .run(&feed)
                .await
                .map_err(|e| fail(&EngineError::Run(e.to_string())))?;
            let typed: Vec<(String, Vec<u64>, TensorData)> = produced
                .into_iter()
                .map(|(name, value)| {
                    let data = from_wonnx(value);
                    let shape = vec![data.len() as u64];
                    (name, shape, data)
                })
                .collect();
            Ok(tessera_js_tensor::tensors_to_js(typed.iter().map(
                |(name, shape, data)| (name.as_str(), shape.as_slice(), data),
            )))
        }))
    }
}
