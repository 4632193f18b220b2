//! Tensors between tessera and wonnx: core's typed input data as wonnx's borrowed input, and
//! wonnx's flat outputs as core's typed data. Shared by the edge's wonnx engine (native wgpu) and
//! the browser's WebGPU engine module (`tessera-runtime-webgpu`). It shapes nothing (wonnx
//! returns flat buffers; see [`crate::engine::shape_output`]) and runs nothing.

use std::borrow::Cow;

use tessera_core::infer::TensorData;
use wonnx::utils::{InputTensor, OutputTensor};

use crate::engine::EngineError;

/// `data` as wonnx's input (borrowed): wonnx takes float32, int32 and int64 only.
pub fn to_wonnx(data: &TensorData) -> Result<InputTensor<'_>, EngineError> {
    Ok(match data {
        TensorData::Float32(v) => InputTensor::F32(Cow::Borrowed(v)),
        TensorData::Int32(v) => InputTensor::I32(Cow::Borrowed(v)),
        TensorData::Int64(v) => InputTensor::I64(Cow::Borrowed(v)),
        other => {
            return Err(EngineError::Unsupported(format!(
                "{:?} inputs are not supported",
                other.dtype()
            )))
        }
    })
}

/// One wonnx output as core's typed data (wonnx's `u8` outputs widen to int32).
pub fn from_wonnx(value: OutputTensor) -> TensorData {
    match value {
        OutputTensor::F32(v) => TensorData::Float32(v),
        OutputTensor::I32(v) => TensorData::Int32(v),
        OutputTensor::I64(v) => TensorData::Int64(v),
        OutputTensor::U8(v) => TensorData::Int32(v.into_iter().map(i32::from).collect()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn inputs_borrow_their_values_and_outputs_keep_their_element_type() {
        let data = TensorData::Int64(vec![i64::MAX, -1]);
        match to_wonnx(&data).unwrap() {
            InputTensor::I64(Cow::Borrowed(v)) => assert_eq!(v, &[i64::MAX, -1]),
            _ => panic!("int64 must stay int64, borrowed"),
        }
        assert_eq!(
            from_wonnx(OutputTensor::U8(vec![0, 255])),
            TensorData::Int32(vec![0, 255])
        );
        assert_eq!(
            from_wonnx(OutputTensor::I64(vec![i64::MIN])),
            TensorData::Int64(vec![i64::MIN])
        );
    }
}
