//! wonnx on native wgpu (`"wonnx-wgpu"`), behind `tessera_onnx::engine`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::panic::catch_unwind;

use futures_executor::block_on;
use tessera_core::infer::InputTensor;
use tessera_onnx::engine::{
    shape_output, EngineError, EngineFuture, EngineSession, InferenceEngine, Outputs,
};
use tessera_onnx::wonnx_io::{from_wonnx, to_wonnx};
use tessera_onnx::{ModelSignature, OutputSpec};
use wonnx::Session;

use super::WONNX_WGPU;
use crate::inference::engine::panic_message;

/// Probes for the adapter wonnx will pick (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`); `Err` says why
/// there is none. wgpu can panic while probing; that is an error here, not a crash.
pub(crate) fn probe() -> Result<wgpu::AdapterInfo, String> {
    let probe = catch_unwind(|| {
        let backends = wgpu::util::backend_bits_from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            dx12_shader_compiler: wgpu::Dx12Compiler::Fxc,
        });
        block_on(wgpu::util::initialize_adapter_from_env_or_default(
            &instance, backends, None,
        ))
        .map(|adapter| adapter.get_info())
    });
    match probe {
        Ok(Some(info)) => Ok(info),
        Ok(None) => Err("no GPU adapter found (on a CPU-only machine install Mesa lavapipe: mesa-vulkan-drivers libvulkan1; check WGPU_BACKEND)".into()),
        Err(panic) => Err(format!(
            "probing for a GPU adapter failed: {}",
            panic_message(&*panic)
        )),
    }
}

/// The wonnx engine of one worker: it found an adapter when it started.
#[derive(Debug)]
pub(crate) struct Wonnx(());

impl Wonnx {
    /// Probes for an adapter; without one the engine is unavailable.
    pub(crate) fn start() -> Result<Self, EngineError> {
        let info = probe().map_err(EngineError::Unavailable)?;
        tracing::info!(adapter = %info.name, backend = ?info.backend, device_type = ?info.device_type, "inference worker found a GPU adapter");
        Ok(Self(()))
    }
}

impl InferenceEngine for Wonnx {
    fn name(&self) -> &'static str {
        WONNX_WGPU
    }

    fn build<'a>(
        &'a self,
        model: &'a [u8],
        signature: &'a ModelSignature,
    ) -> EngineFuture<'a, Box<dyn EngineSession>> {
        Box::pin(async move {
            let session = Session::from_bytes(model)
                .await
                .map_err(|e| EngineError::Build(e.to_string()))?;
            Ok(Box::new(WonnxSession {
                session,
                outputs: signature.outputs.clone(),
            }) as Box<dyn EngineSession>)
        })
    }
}

/// A wonnx session (its own wgpu device) and the outputs to collect.
struct WonnxSession {
    session: Session,
    outputs: Vec<OutputSpec>,
}

impl fmt::Debug for WonnxSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WonnxSession")
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl EngineSession for WonnxSession {
    fn run<'a>(
        &'a mut self,
        inputs: &'a BTreeMap<String, InputTensor>,
    ) -> EngineFuture<'a, Outputs> {
        Box::pin(async move {
            let feed = inputs
                .iter()
                .map(|(key, tensor)| Ok((key.clone(), to_wonnx(&tensor.data)?)))
                .collect::<Result<HashMap<_, _>, EngineError>>()?;
            let mut outputs = self
                .session
                .run(&feed)
                .await
                .map_err(|e| EngineError::Run(e.to_string()))?;
            self.outputs
                .iter()
                .map(|spec| {
                    let value = outputs.remove(&spec.name).ok_or_else(|| {
                        EngineError::Run(format!("output {:?} was not produced", spec.name))
                    })?;
                    // wonnx returns flat buffers: the declared shape applies.
                    Ok((
                        spec.name.clone(),
                        shape_output(spec, from_wonnx(value), None)?,
                    ))
                })
                .collect()
        })
    }
}
