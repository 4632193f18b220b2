//! The conversions themselves (wasm32 only: they touch JS values).

use std::collections::BTreeMap;

use js_sys::{Array, BigInt64Array, Float32Array, Int32Array, Object, Reflect};
use tessera_core::infer::{InferError, TensorData, TypedTensor, TypedValues};
use wasm_bindgen::{JsCast, JsValue};

use crate::dtype_name;

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: &JsValue) {
    // Defining a data property on a plain object made here cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// Reads `{name: {dtype, shape, data}}`: every own key a tensor; `request-malformed` when the
/// object, a dtype, a shape or the data is not of that form. Typed arrays are copied as they
/// are; plain arrays must hold numbers (checked against the dtype later).
pub fn read_tensors(inputs: &JsValue) -> Result<BTreeMap<String, TypedTensor>, InferError> {
    let malformed = InferError::Malformed;
    if !inputs.is_object() {
        return Err(malformed("inputs must be an object of tensors".into()));
    }
    let mut tensors = BTreeMap::new();
    for key in Object::keys(inputs.unchecked_ref::<Object>()).iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        let tensor = get(inputs, &name);
        let dtype = get(&tensor, "dtype")
            .as_string()
            .ok_or_else(|| malformed(format!("input {name:?} has no dtype string")))?;
        let shape = get(&tensor, "shape");
        if !Array::is_array(&shape) {
            return Err(malformed(format!("input {name:?} has no shape array")));
        }
        let shape = Array::from(&shape)
            .iter()
            .map(|d| d.as_f64().filter(|d| d.fract() == 0.0 && *d >= 0.0))
            .map(|d| {
                // Checked: a non-negative integer.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                d.map(|d| d as u64)
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| {
                malformed(format!(
                    "input {name:?}: shape must be non-negative integers"
                ))
            })?;
        let data = get(&tensor, "data");
        let data = if let Some(f) = data.dyn_ref::<Float32Array>() {
            TypedValues::Buffer(TensorData::Float32(f.to_vec()))
        } else if let Some(i) = data.dyn_ref::<Int32Array>() {
            TypedValues::Buffer(TensorData::Int32(i.to_vec()))
        } else if let Some(i) = data.dyn_ref::<BigInt64Array>() {
            TypedValues::Buffer(TensorData::Int64(i.to_vec()))
        } else if Array::is_array(&data) {
            TypedValues::Numbers(
                Array::from(&data)
                    .iter()
                    .map(|v| v.as_f64())
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| malformed(format!("input {name:?}: data must be numbers")))?,
            )
        } else {
            return Err(malformed(format!(
                "input {name:?}: data must be a Float32Array, Int32Array, BigInt64Array or array"
            )));
        };
        tensors.insert(name, TypedTensor { dtype, shape, data });
    }
    Ok(tensors)
}

/// `{dtype, shape, data}` with `data` a typed array.
pub fn tensor_to_js(shape: &[u64], data: &TensorData) -> JsValue {
    let values: JsValue = match data {
        TensorData::Float32(v) => Float32Array::from(v.as_slice()).into(),
        TensorData::Int32(v) => Int32Array::from(v.as_slice()).into(),
        TensorData::Int64(v) => BigInt64Array::from(v.as_slice()).into(),
        _ => JsValue::NULL,
    };
    let tensor = Object::new();
    let shape: Array = shape
        .iter()
        // Precision: dimensions are far below 2^53.
        .map(|d| {
            #[allow(clippy::cast_precision_loss)]
            JsValue::from_f64(*d as f64)
        })
        .collect();
    set(&tensor, "dtype", &JsValue::from_str(dtype_name(data)));
    set(&tensor, "shape", &shape);
    set(&tensor, "data", &values);
    tensor.into()
}

/// `{name: {dtype, shape, data}}` for `(name, shape, data)` triples.
pub fn tensors_to_js<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a [u64], &'a TensorData)>,
) -> JsValue {
    let out = Object::new();
    for (name, shape, data) in tensors {
        set(&out, name, &tensor_to_js(shape, data));
    }
    out.into()
}
