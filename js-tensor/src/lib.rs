//! Tensors across the JS boundary: `{name: {dtype, shape, data}}` objects, `data` a
//! `Float32Array` / `Int32Array` / `BigInt64Array` (or a plain array of numbers), read into
//! `tessera_core::infer::TypedTensor`s (checked later against the model by
//! `tessera_core::infer::validate_typed`) and written back from core's `TensorData`. Values are
//! copied once between JS and wasm memory and never widened to `f64` (an int64 keeps all its
//! bits). Shared by the browser runtime and its CPU engine module, so both read and write
//! tensors the same way. It validates nothing against a model and runs nothing.

#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(target_arch = "wasm32")]
pub use wasm::{read_tensors, tensor_to_js, tensors_to_js};

/// The dtype name a typed array stands for (`float32`, `int32`, `int64`).
pub fn dtype_name(data: &tessera_core::infer::TensorData) -> &'static str {
    use tessera_core::infer::TensorData;
    match data {
        TensorData::Float32(_) => "float32",
        TensorData::Int32(_) => "int32",
        TensorData::Int64(_) => "int64",
        _ => "unknown",
    }
}

/// An engine's output (`tessera_core::manifest::Tensor`, values as `f64`) back in its element
/// type. Exact for float32 and int32 (an `f64` holds them exactly); int64 engines' outputs
/// beyond ±2^53 were already rounded by the engine seam.
pub fn from_tensor(tensor: &tessera_core::manifest::Tensor) -> tessera_core::infer::TensorData {
    use tessera_core::infer::TensorData;
    use tessera_core::manifest::DType;
    // Each value came from this element type (see the doc): the casts restore it.
    #[allow(clippy::cast_possible_truncation)]
    match tensor.dtype {
        DType::Int32 => TensorData::Int32(tensor.data.iter().map(|v| *v as i32).collect()),
        DType::Int64 => TensorData::Int64(tensor.data.iter().map(|v| *v as i64).collect()),
        _ => TensorData::Float32(tensor.data.iter().map(|v| *v as f32).collect()),
    }
}

#[cfg(test)]
mod tests {
    use tessera_core::infer::TensorData;
    use tessera_core::manifest::{DType, Tensor};

    use super::*;

    #[test]
    fn outputs_come_back_in_their_element_type_exactly() {
        let floats = TensorData::Float32(vec![0.1, -3.5e-8, f32::MAX]);
        let ints = TensorData::Int32(vec![i32::MIN, 0, i32::MAX]);
        let longs = TensorData::Int64(vec![-(1 << 53), 7, 1 << 53]);
        for data in [floats, ints, longs] {
            let tensor = data.clone().into_tensor(vec![3]);
            assert_eq!(from_tensor(&tensor), data);
        }
        let declared = Tensor {
            dtype: DType::Int32,
            shape: vec![1],
            data: vec![5.0],
        };
        assert_eq!(dtype_name(&from_tensor(&declared)), "int32");
    }
}
