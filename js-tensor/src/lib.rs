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
