//! The engine seam: what tessera needs from an inference engine, and nothing else.
//!
//! An engine ([`InferenceEngine`]) builds a session ([`EngineSession`]) from the bytes of a
//! model that the caller has already verified against a signed manifest, plus the model's
//! [`ModelSignature`] (read by [`crate::inspect`]); a session runs on inputs the caller has
//! already validated against that signature (`tessera_core::infer::InferRequest::validate`) and
//! returns the declared outputs by name, with their shapes. Errors are typed
//! ([`EngineError`]). Everything around an engine stays with its caller and is the same for
//! every engine: verifying the model, validating inputs, the known-answer self-test of a new
//! session (`tessera_core::selftest`), panic guards, timings, queueing and metrics.
//!
//! Why here: this crate is already what the edge (native) and the browser runtime (wasm) share to
//! agree on which models they accept, and the seam is expressed in its [`ModelSignature`]. The
//! module depends on `tessera-core` types only: no tokio, no threads, no wgpu or engine types,
//! so the browser runtime can implement it for wonnx on WebGPU (or tract in wasm) as the edge
//! does for wonnx on wgpu and tract on the CPU (`tessera_edge`'s `inference::engines`). `core`
//! stays free of engines.
//!
//! Building and running return futures because WebGPU engines are asynchronous (buffer
//! read-back); a CPU engine returns a ready future, and a native caller drives it with any
//! blocking executor on its own thread. The futures are not `Send` (browser engines hold `!Send`
//! JS handles); a session is used on the thread that built it.
//!
//! Like rustls' `CryptoProvider`, an engine is a value the application picks (at startup, by
//! configuration or by probing the hardware) and hands to the code that needs one.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tessera_core::infer::{InputTensor, TensorData};
use tessera_core::ErrorCode;

use crate::{ModelSignature, OutputSpec};

/// A boxed, not necessarily `Send`, future (what the trait methods return).
pub type EngineFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + 'a>>;

/// One output of a run: its shape and its values in the model's own element type (never
/// widened: an int64 keeps all 64 bits until whoever writes it out chooses a wire form).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    /// Dimensions.
    pub shape: Vec<u64>,
    /// Row-major values.
    pub data: TensorData,
}

impl OutputTensor {
    /// The JSON-form tensor (`tessera_core::manifest::Tensor`, values as doubles: int64 beyond
    /// ±2^53 loses precision), for JSON answers and the known-answer comparison.
    pub fn into_json_tensor(self) -> tessera_core::manifest::Tensor {
        self.data.into_tensor(self.shape)
    }
}

/// Outputs of one run, by the model's output names.
pub type Outputs = BTreeMap<String, OutputTensor>;

/// `outputs` in JSON form (see [`OutputTensor::into_json_tensor`]): what the edge answers and
/// what the known-answer self-test (`tessera_core::selftest::compare`) reads.
pub fn json_outputs(outputs: Outputs) -> BTreeMap<String, tessera_core::manifest::Tensor> {
    outputs
        .into_iter()
        .map(|(name, tensor)| (name, tensor.into_json_tensor()))
        .collect()
}

/// An inference engine: makes sessions for verified models.
pub trait InferenceEngine: fmt::Debug {
    /// The engine's stable name, reported with every answer it computes (`"tract-native"`,
    /// `"wonnx-wgpu"`, `"wonnx-webgpu"`, …): lowercase, `<engine>-<backend>`.
    fn name(&self) -> &'static str;

    /// Builds a session for `model` (ONNX bytes the caller verified), whose inputs and outputs
    /// are `signature`. The session's runs must answer the outputs `signature` declares.
    fn build<'a>(
        &'a self,
        model: &'a [u8],
        signature: &'a ModelSignature,
    ) -> EngineFuture<'a, Box<dyn EngineSession>>;
}

/// One model, ready to run.
pub trait EngineSession: fmt::Debug {
    /// Runs the model on `inputs` (validated against its signature: every input present, with
    /// the declared dtype and shape) and returns every declared output.
    fn run<'a>(
        &'a mut self,
        inputs: &'a BTreeMap<String, InputTensor>,
    ) -> EngineFuture<'a, Outputs>;
}

/// Why an engine could not build a session or run it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The engine cannot run anything here (no adapter, no device).
    #[error("the inference engine is unavailable: {0}")]
    Unavailable(String),
    /// The model uses something this engine cannot run (an operator, an element type).
    #[error("the model is not supported by this engine: {0}")]
    Unsupported(String),
    /// Building the session failed.
    #[error("the session could not be built: {0}")]
    Build(String),
    /// Running the session failed (including an output missing or of the wrong size).
    #[error("the run failed: {0}")]
    Run(String),
}

impl ErrorCode for EngineError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "engine-unavailable",
            Self::Unsupported(_) => "engine-unsupported",
            Self::Build(_) => "engine-build-failed",
            Self::Run(_) => "engine-run-failed",
        }
    }
}

/// Shapes one raw output for an answer: `shape` is what the engine reports (`None` when it
/// returns flat buffers, as wonnx does). The declared shape wins when it holds exactly the
/// values produced; an engine-reported shape must agree with a declared one; without either,
/// the output is flat.
pub fn shape_output(
    spec: &OutputSpec,
    data: TensorData,
    shape: Option<Vec<u64>>,
) -> Result<OutputTensor, EngineError> {
    let len = data.len() as u64;
    let shape = match (&spec.shape, shape) {
        (Some(declared), _) if declared.iter().product::<u64>() == len => declared.clone(),
        (Some(declared), _) => {
            return Err(EngineError::Run(format!(
            "output {:?} has {len} values, its declared shape {declared:?} calls for another count",
            spec.name
        )))
        }
        (None, Some(actual)) if actual.iter().product::<u64>() == len => actual,
        (None, _) => vec![len],
    };
    Ok(OutputTensor { shape, data })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(shape: Option<Vec<u64>>) -> OutputSpec {
        OutputSpec {
            name: "y".into(),
            shape,
        }
    }

    #[test]
    fn outputs_take_the_declared_shape_and_refuse_a_wrong_count() {
        let data = || TensorData::Float32(vec![1.0, 2.0, 3.0, 4.0]);
        let shaped = shape_output(&spec(Some(vec![1, 4])), data(), None).unwrap();
        assert_eq!(shaped.shape, vec![1, 4]);
        let shaped = shape_output(&spec(Some(vec![2, 2])), data(), Some(vec![4])).unwrap();
        assert_eq!(shaped.shape, vec![2, 2]);
        let shaped = shape_output(&spec(None), data(), Some(vec![2, 2])).unwrap();
        assert_eq!(shaped.shape, vec![2, 2]);
        assert_eq!(
            shape_output(&spec(None), data(), None).unwrap().shape,
            vec![4]
        );
        let wrong = shape_output(&spec(Some(vec![1, 5])), data(), None).unwrap_err();
        assert_eq!(wrong.code(), "engine-run-failed");
    }
}
