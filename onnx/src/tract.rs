//! tract-onnx on the CPU, behind [`crate::engine`] (feature `tract`): natively on the edge server
//! (`"tract-native"`) and compiled to wasm32 in the edge worker (`"tract-wasm"`).
//!
//! A session is an optimized, runnable plan (`Arc<TypedSimplePlan>`) whose inputs are pinned to
//! the signature's static shapes and dtypes and whose outputs are the signature's, in its order.
//! `SimplePlan::run(&Arc<Self>, …)` spawns a fresh `SimpleState` per call and the plan itself
//! is immutable (`Send + Sync`). It does not choose engines or own workers: its hosts do.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::{
    shape_output, EngineError, EngineFuture, EngineSession, InferenceEngine, Outputs,
};
use crate::{ModelSignature, OutputSpec};
use tessera_core::infer::{InputTensor, TensorData};
use tessera_core::manifest::DType;
use tract_onnx::prelude::{
    DatumType, Framework as _, InferenceFact, InferenceModelExt as _, IntoRunnable as _,
    IntoTValue as _, TValue, TVec, Tensor, TypedSimplePlan,
};

/// The tract engine. Nothing to probe: it runs wherever its host does.
#[derive(Debug)]
pub struct Tract {
    name: &'static str,
}

impl Tract {
    /// The engine, reporting `name` in answers and metrics (`"tract-native"` on the edge server,
    /// `"tract-wasm"` compiled to wasm32).
    pub fn new(name: &'static str) -> Self {
        Self { name }
    }
}

impl InferenceEngine for Tract {
    fn name(&self) -> &'static str {
        self.name
    }

    fn build<'a>(
        &'a self,
        model: &'a [u8],
        signature: &'a ModelSignature,
    ) -> EngineFuture<'a, Box<dyn EngineSession>> {
        Box::pin(std::future::ready(
            build(model, signature).map(|s| Box::new(s) as Box<dyn EngineSession>),
        ))
    }
}

/// tract's errors carry context chains: keep them all.
fn build_error(e: impl std::fmt::Display + std::fmt::Debug) -> EngineError {
    EngineError::Build(format!("{e:#}"))
}

fn build(bytes: &[u8], signature: &ModelSignature) -> Result<TractSession, EngineError> {
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .map_err(build_error)?;
    model
        .set_input_names(signature.inputs.iter().map(|spec| spec.name.as_str()))
        .map_err(build_error)?;
    for (ix, spec) in signature.inputs.iter().enumerate() {
        let shape = dims(&spec.shape)?;
        model
            .set_input_fact(ix, InferenceFact::dt_shape(datum(spec.dtype)?, shape))
            .map_err(build_error)?;
    }
    model
        .select_outputs_by_name(signature.outputs.iter().map(|spec| spec.name.as_str()))
        .map_err(build_error)?;
    let plan = model
        .into_optimized()
        .map_err(|e| EngineError::Unsupported(format!("{e:#}")))?
        .into_runnable()
        .map_err(build_error)?;
    Ok(TractSession {
        plan,
        inputs: signature
            .inputs
            .iter()
            .map(|spec| Ok((spec.name.clone(), dims(&spec.shape)?)))
            .collect::<Result<_, EngineError>>()?,
        outputs: signature.outputs.clone(),
    })
}

fn dims(shape: &[u64]) -> Result<Vec<usize>, EngineError> {
    shape
        .iter()
        .map(|d| {
            usize::try_from(*d)
                .map_err(|_| EngineError::Unsupported(format!("dimension {d} is too large")))
        })
        .collect()
}

fn datum(dtype: DType) -> Result<DatumType, EngineError> {
    Ok(match dtype {
        DType::Float32 => DatumType::F32,
        DType::Int32 => DatumType::I32,
        DType::Int64 => DatumType::I64,
        other => {
            return Err(EngineError::Unsupported(format!(
                "{other:?} inputs are not supported"
            )))
        }
    })
}

/// A runnable plan, its inputs (name and shape, in the plan's order) and its outputs.
#[derive(Debug)]
struct TractSession {
    plan: Arc<TypedSimplePlan>,
    inputs: Vec<(String, Vec<usize>)>,
    outputs: Vec<OutputSpec>,
}

impl EngineSession for TractSession {
    fn run<'a>(
        &'a mut self,
        inputs: &'a BTreeMap<String, InputTensor>,
    ) -> EngineFuture<'a, Outputs> {
        Box::pin(std::future::ready(self.run_now(inputs)))
    }
}

impl TractSession {
    fn run_now(&self, inputs: &BTreeMap<String, InputTensor>) -> Result<Outputs, EngineError> {
        let feed = self
            .inputs
            .iter()
            .map(|(name, shape)| {
                let input = inputs
                    .get(name)
                    .ok_or_else(|| EngineError::Run(format!("input {name:?} is missing")))?;
                to_tract(shape, &input.data)
            })
            .collect::<Result<TVec<TValue>, EngineError>>()?;
        let results = self
            .plan
            .run(feed)
            .map_err(|e| EngineError::Run(format!("{e:#}")))?;
        if results.len() != self.outputs.len() {
            return Err(EngineError::Run(format!(
                "{} outputs were produced, the model declares {}",
                results.len(),
                self.outputs.len()
            )));
        }
        self.outputs
            .iter()
            .zip(results)
            .map(|(spec, value)| {
                let shape = value.shape().iter().map(|d| *d as u64).collect();
                let data = from_tract(&value)?;
                Ok((spec.name.clone(), shape_output(spec, data, Some(shape))?))
            })
            .collect()
    }
}

fn to_tract(shape: &[usize], data: &TensorData) -> Result<TValue, EngineError> {
    let tensor = match data {
        TensorData::Float32(v) => Tensor::from_shape(shape, v),
        TensorData::Int32(v) => Tensor::from_shape(shape, v),
        TensorData::Int64(v) => Tensor::from_shape(shape, v),
        other => {
            return Err(EngineError::Unsupported(format!(
                "{:?} inputs are not supported",
                other.dtype()
            )))
        }
    };
    tensor
        .map(|t| t.into_tvalue())
        .map_err(|e| EngineError::Run(format!("{e:#}")))
}

/// A tensor's values in row-major order.
fn plain<T: tract_onnx::prelude::Datum + Copy>(t: &Tensor) -> Result<Vec<T>, EngineError> {
    t.to_plain_array_view::<T>()
        .map(|view| view.iter().copied().collect())
        .map_err(|e| EngineError::Run(format!("{e:#}")))
}

/// Reads an output as one of tessera's dtypes: floats as float32, small integers and booleans
/// as int32, int64 as is.
fn from_tract(value: &Tensor) -> Result<TensorData, EngineError> {
    let run = |e: tract_onnx::prelude::TractError| EngineError::Run(format!("{e:#}"));
    let values = |t: &Tensor| -> Result<TensorData, EngineError> {
        Ok(match t.datum_type() {
            DatumType::F32 => TensorData::Float32(plain::<f32>(t)?),
            DatumType::I32 => TensorData::Int32(plain::<i32>(t)?),
            DatumType::I64 => TensorData::Int64(plain::<i64>(t)?),
            other => {
                return Err(EngineError::Unsupported(format!(
                    "outputs of type {other:?} are not supported"
                )))
            }
        })
    };
    match value.datum_type() {
        DatumType::F32 | DatumType::I32 | DatumType::I64 => values(value),
        DatumType::F16 | DatumType::F64 => values(&*value.cast_to::<f32>().map_err(run)?),
        DatumType::Bool | DatumType::U8 | DatumType::I8 | DatumType::U16 | DatumType::I16 => {
            values(&*value.cast_to::<i32>().map_err(run)?)
        }
        other => Err(EngineError::Unsupported(format!(
            "outputs of type {other:?} are not supported"
        ))),
    }
}

/// Drives a future a tract session returned: they are ready at once (tract computes
/// synchronously); a pending one is an error rather than a hang. For tests in this crate.
#[cfg(test)]
pub(crate) fn ready_now<T>(mut future: EngineFuture<'_, T>) -> Result<T, EngineError> {
    use std::task::{Context, Poll, Waker};
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(EngineError::Run("a tract future was pending".into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `y = x + c` in int64 (edge/tests/fixtures/make_add_int64.py), c = [2^60 + 1, -2^60 - 3].
    const ADD_INT64: &[u8] = include_bytes!("../../edge/tests/fixtures/add_int64.onnx");

    #[test]
    fn int64_outputs_beyond_2_pow_53_come_back_exact() {
        let signature = crate::inspect(ADD_INT64).unwrap();
        let engine = Tract::new("tract-native");
        let mut session = super::ready_now(engine.build(ADD_INT64, &signature)).unwrap();
        let x = InputTensor {
            shape: vec![1, 2],
            data: TensorData::Int64(vec![1 << 60, 5]),
        };
        let inputs = BTreeMap::from([("x".to_owned(), x)]);
        let outputs = super::ready_now(session.run(&inputs)).unwrap();
        let y = &outputs["y"];
        assert_eq!(y.shape, vec![1, 2]);
        // Both are odd and above 2^53: a double would round them.
        assert_eq!(
            y.data,
            TensorData::Int64(vec![(1 << 61) + 1, -(1 << 60) + 2])
        );
    }

    /// What the module doc says: a plan is immutable and shareable across threads.
    #[test]
    fn a_plan_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Arc<TypedSimplePlan>>();
    }
}
