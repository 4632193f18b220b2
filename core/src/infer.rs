//! The inference wire schema shared by the edge API (`POST /v1/models/<name>/infer`) and the
//! browser runtime: request, response and error bodies as serde types, and the validation that
//! turns a request into typed, shape-checked input buffers for a model's declared inputs.
//!
//! It does not run models, read files or speak HTTP, and it does not know how a model's inputs
//! are discovered (the edge reads them from the ONNX graph); it only compares.
//!
//! Request:
//!
//! ```json
//! { "inputs": { "x": { "dtype": "float32", "shape": [1, 16], "data": [0.5, -1.0, …] } } }
//! ```
//!
//! Each input carries its values either as `data` (JSON numbers, row-major) or as `data_b64`
//! (standard base64, with padding, of the row-major little-endian element bytes: 4 bytes per
//! `float32`/`int32`, 8 per `int64`) — exactly one of the two. Response:
//!
//! ```json
//! { "model": "mlp", "version": "1.0.0", "source": "edge",
//!   "outputs": { "y": { "dtype": "float32", "shape": [1, 8], "data": […] } },
//!   "timings": { "queue_ms": 0.1, "compute_ms": 0.9, "total_ms": 1.4 } }
//! ```
//!
//! Errors are `{ "error": { "code": "tensor-shape-mismatch", "message": "…" } }` ([`ErrorBody`]);
//! clients switch on `code` ([`InferError`] lists the validation codes).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::layout::ModelName;
use crate::manifest::{DType, Tensor};

/// Why an inference request is refused before it reaches a model. Every variant is the client's
/// doing (HTTP 400 at the edge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InferError {
    /// The body is not JSON of the request's shape (unknown fields are refused too).
    #[error("inference request is malformed: {0}")]
    Malformed(String),
    /// The model declares an input the request does not give.
    #[error("input {input:?} is missing (the model's inputs are {expected:?})")]
    InputMissing {
        /// The missing input.
        input: String,
        /// Every input the model declares.
        expected: Vec<String>,
    },
    /// The request gives an input the model does not declare.
    #[error("input {input:?} is not an input of this model (its inputs are {expected:?})")]
    InputUnknown {
        /// The unknown input.
        input: String,
        /// Every input the model declares.
        expected: Vec<String>,
    },
    /// The `dtype` is not one tessera knows (`float32`, `int32`, `int64`).
    #[error("input {input:?}: dtype {dtype:?} is not supported (use float32, int32 or int64)")]
    DTypeUnsupported {
        /// The input.
        input: String,
        /// The dtype given.
        dtype: String,
    },
    /// A known `dtype`, but not the one the model declares for this input.
    #[error("input {input:?} has dtype {found:?}, the model expects {expected:?}")]
    DTypeMismatch {
        /// The input.
        input: String,
        /// What the model declares.
        expected: DType,
        /// What the request gives.
        found: DType,
    },
    /// The shape differs from the model's declared shape.
    #[error("input {input:?} has shape {found:?}, the model expects {expected:?}")]
    ShapeMismatch {
        /// The input.
        input: String,
        /// What the model declares.
        expected: Vec<u64>,
        /// What the request gives.
        found: Vec<u64>,
    },
    /// Both `data` and `data_b64`, or neither.
    #[error("input {input:?} must have exactly one of \"data\" and \"data_b64\"")]
    DataConflict {
        /// The input.
        input: String,
    },
    /// The number of values does not match the shape.
    #[error("input {input:?} has {found} values, its shape calls for {expected}")]
    DataLength {
        /// The input.
        input: String,
        /// Elements the shape calls for.
        expected: u64,
        /// Elements given (for `data_b64`: bytes / element size, or the byte count if it is not
        /// a whole number of elements).
        found: u64,
    },
    /// A value is not representable in the dtype (not finite, out of range, not an integer),
    /// or `data_b64` is not base64.
    #[error("input {input:?}: {detail}")]
    DataInvalid {
        /// The input.
        input: String,
        /// What is wrong.
        detail: String,
    },
}

impl ErrorCode for InferError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "request-malformed",
            Self::InputMissing { .. } => "input-missing",
            Self::InputUnknown { .. } => "input-unknown",
            Self::DTypeUnsupported { .. } => "tensor-dtype-unsupported",
            Self::DTypeMismatch { .. } => "tensor-dtype-mismatch",
            Self::ShapeMismatch { .. } => "tensor-shape-mismatch",
            Self::DataConflict { .. } => "tensor-data-conflict",
            Self::DataLength { .. } => "tensor-data-length",
            Self::DataInvalid { .. } => "tensor-data-invalid",
        }
    }
}

/// The body of `POST /v1/models/<name>/infer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    /// Input tensors by the model's input names; every declared input, and only those.
    pub inputs: BTreeMap<String, RequestTensor>,
}

/// One input tensor as sent: like [`Tensor`], with the values inline or base64-encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTensor {
    /// Element type name (`float32`, `int32`, `int64`); kept as text so an unknown name is
    /// reported as `tensor-dtype-unsupported`, not as a malformed request.
    pub dtype: String,
    /// Dimensions; must equal the model's declared shape.
    pub shape: Vec<u64>,
    /// Row-major values as JSON numbers. Exclusive with `data_b64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<f64>>,
    /// Standard base64 of the row-major little-endian element bytes. Exclusive with `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_b64: Option<String>,
}

/// What a model declares for one input (or output): name, element type and static shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// The graph's name for it.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Static dimensions.
    pub shape: Vec<u64>,
}

/// Typed, row-major element buffer of a validated tensor.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorData {
    /// `float32` values.
    Float32(Vec<f32>),
    /// `int32` values.
    Int32(Vec<i32>),
    /// `int64` values.
    Int64(Vec<i64>),
}

/// A validated input: its shape equals the model's and `data` holds exactly that many elements.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    /// Dimensions (the model's declared shape).
    pub shape: Vec<u64>,
    /// The values.
    pub data: TensorData,
}

/// The body of a successful inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferResponse {
    /// The model that ran.
    pub model: ModelName,
    /// Its version (from the verified manifest).
    pub version: semver::Version,
    /// Where it ran.
    pub source: Source,
    /// The engine that computed it: `"tract-native"` or `"wonnx-wgpu"` on the edge (see
    /// `tessera-onnx`'s `engine` module). Added after the first schema: absent in older answers
    /// (and then `None`), omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Output tensors by the model's output names (values as JSON numbers).
    pub outputs: BTreeMap<String, Tensor>,
    /// Where the time went.
    pub timings: Timings,
}

/// Where an inference ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Source {
    /// On the edge server (`"edge"`).
    Edge,
    /// In the browser, on WebGPU (`"browser"`).
    Browser,
}

/// Milliseconds spent on one inference, as fractional numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Waiting for a free inference worker.
    pub queue_ms: f64,
    /// Running the model (excluding building its session on a first request).
    pub compute_ms: f64,
    /// From the request's arrival to the response: includes authentication, parsing, loading
    /// and verifying the model on a first request, queueing and computing.
    pub total_ms: f64,
}

/// An error response body: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable kebab-case code ([`ErrorCode`]).
    pub code: String,
    /// Human-readable text; may change between versions.
    pub message: String,
}

impl ErrorBody {
    /// The body for `error`.
    pub fn new<E: ErrorCode + std::fmt::Display>(error: &E) -> Self {
        Self {
            error: ErrorDetail {
                code: error.code().to_owned(),
                message: error.to_string(),
            },
        }
    }
}

impl InferRequest {
    /// Parses a request body (`request-malformed` if it is not the request's JSON shape).
    pub fn from_json(bytes: &[u8]) -> Result<Self, InferError> {
        serde_json::from_slice(bytes).map_err(|e| InferError::Malformed(e.to_string()))
    }

    /// Checks the request against the model's declared `inputs` and converts every tensor to a
    /// typed buffer. Checks, per input in name order: unknown inputs, then missing ones; then
    /// dtype, shape, `data`/`data_b64` exclusivity, element count and each value.
    pub fn validate(
        self,
        inputs: &[TensorSpec],
    ) -> Result<BTreeMap<String, InputTensor>, InferError> {
        validate_each(self.inputs, inputs, RequestTensor::validate)
    }
}

/// An input given in-process with its values already in a buffer (the browser runtime's typed
/// arrays), or as plain numbers: checked by [`validate_typed`] exactly as a [`RequestTensor`]
/// is, without widening the values to `f64` on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedTensor {
    /// Element type name, as in [`RequestTensor::dtype`].
    pub dtype: String,
    /// Dimensions; must equal the model's declared shape.
    pub shape: Vec<u64>,
    /// The values.
    pub data: TypedValues,
}

/// The values of a [`TypedTensor`].
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValues {
    /// A typed buffer; its element type must be the declared dtype.
    Buffer(TensorData),
    /// Plain numbers, checked and converted like a JSON request's `data`.
    Numbers(Vec<f64>),
}

/// Checks in-process inputs against the model's declared `inputs`, in the same order and with
/// the same errors as [`InferRequest::validate`].
pub fn validate_typed(
    given: BTreeMap<String, TypedTensor>,
    inputs: &[TensorSpec],
) -> Result<BTreeMap<String, InputTensor>, InferError> {
    validate_each(given, inputs, TypedTensor::validate)
}

/// Unknown inputs, then missing ones, then each input by `check`, in the model's order.
fn validate_each<T>(
    mut given: BTreeMap<String, T>,
    inputs: &[TensorSpec],
    check: impl Fn(T, &TensorSpec) -> Result<InputTensor, InferError>,
) -> Result<BTreeMap<String, InputTensor>, InferError> {
    let expected = || inputs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    if let Some(unknown) = given
        .keys()
        .find(|name| !inputs.iter().any(|s| &s.name == *name))
    {
        return Err(InferError::InputUnknown {
            input: unknown.clone(),
            expected: expected(),
        });
    }
    let mut out = BTreeMap::new();
    for spec in inputs {
        let tensor = given
            .remove(&spec.name)
            .ok_or_else(|| InferError::InputMissing {
                input: spec.name.clone(),
                expected: expected(),
            })?;
        out.insert(spec.name.clone(), check(tensor, spec)?);
    }
    Ok(out)
}

/// The dtype and shape of a given input against its spec: the dtype it names, and the element
/// count its (declared) shape calls for.
fn check_header(spec: &TensorSpec, dtype: &str, shape: &[u64]) -> Result<(DType, u64), InferError> {
    let input = || spec.name.clone();
    let parsed = parse_dtype(dtype).ok_or_else(|| InferError::DTypeUnsupported {
        input: input(),
        dtype: dtype.to_owned(),
    })?;
    if parsed != spec.dtype {
        return Err(InferError::DTypeMismatch {
            input: input(),
            expected: spec.dtype,
            found: parsed,
        });
    }
    if shape != spec.shape {
        return Err(InferError::ShapeMismatch {
            input: input(),
            expected: spec.shape.clone(),
            found: shape.to_vec(),
        });
    }
    // Equal to the spec's shape, whose product the model defines; saturate rather than trust.
    let count = shape
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(*d))
        .unwrap_or(u64::MAX);
    Ok((parsed, count))
}

impl TypedTensor {
    fn validate(self, spec: &TensorSpec) -> Result<InputTensor, InferError> {
        let (dtype, count) = check_header(spec, &self.dtype, &self.shape)?;
        let data = match self.data {
            TypedValues::Numbers(values) => from_numbers(&spec.name, dtype, count, &values)?,
            TypedValues::Buffer(data) => {
                if data.dtype() != dtype {
                    return Err(InferError::DataInvalid {
                        input: spec.name.clone(),
                        detail: format!(
                            "its values are a {:?} buffer, its dtype says {dtype:?}",
                            data.dtype()
                        ),
                    });
                }
                if data.len() as u64 != count {
                    return Err(InferError::DataLength {
                        input: spec.name.clone(),
                        expected: count,
                        found: data.len() as u64,
                    });
                }
                if let TensorData::Float32(values) = &data {
                    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                        return Err(InferError::DataInvalid {
                            input: spec.name.clone(),
                            detail: format!("value at index {index} is not finite"),
                        });
                    }
                }
                data
            }
        };
        Ok(InputTensor {
            shape: self.shape,
            data,
        })
    }
}

impl RequestTensor {
    /// A tensor with inline values (what a JSON client sends).
    pub fn inline(dtype: DType, shape: Vec<u64>, data: Vec<f64>) -> Self {
        Self {
            dtype: dtype_name(dtype),
            shape,
            data: Some(data),
            data_b64: None,
        }
    }

    /// A tensor with base64 values.
    pub fn base64(shape: Vec<u64>, data: &TensorData) -> Self {
        Self {
            dtype: dtype_name(data.dtype()),
            shape,
            data: None,
            data_b64: Some(data.to_base64()),
        }
    }

    fn validate(self, spec: &TensorSpec) -> Result<InputTensor, InferError> {
        let (dtype, count) = check_header(spec, &self.dtype, &self.shape)?;
        let input = || spec.name.clone();
        let data = match (self.data, self.data_b64) {
            (Some(values), None) => from_numbers(&spec.name, dtype, count, &values)?,
            (None, Some(b64)) => from_base64(&spec.name, dtype, count, &b64)?,
            _ => return Err(InferError::DataConflict { input: input() }),
        };
        Ok(InputTensor {
            shape: self.shape,
            data,
        })
    }
}

impl TensorData {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Self::Float32(_) => DType::Float32,
            Self::Int32(_) => DType::Int32,
            Self::Int64(_) => DType::Int64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::Float32(v) => v.len(),
            Self::Int32(v) => v.len(),
            Self::Int64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Standard base64 of the little-endian element bytes (the `data_b64` encoding).
    pub fn to_base64(&self) -> String {
        let bytes: Vec<u8> = match self {
            Self::Float32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Self::Int32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Self::Int64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        };
        BASE64.encode(bytes)
    }

    /// The values as a JSON-form [`Tensor`] of `shape`. `int64` values beyond ±2^53 lose
    /// precision (JSON numbers are doubles); non-finite floats serialize as `null`.
    pub fn into_tensor(self, shape: Vec<u64>) -> Tensor {
        let (dtype, data) = match self {
            Self::Float32(v) => (DType::Float32, v.into_iter().map(f64::from).collect()),
            Self::Int32(v) => (DType::Int32, v.into_iter().map(f64::from).collect()),
            // Documented precision loss above 2^53.
            #[allow(clippy::cast_precision_loss)]
            Self::Int64(v) => (DType::Int64, v.into_iter().map(|x| x as f64).collect()),
        };
        Tensor { dtype, shape, data }
    }
}

/// `DType`'s wire name (its serde name).
fn dtype_name(dtype: DType) -> String {
    match serde_json::to_value(dtype) {
        Ok(serde_json::Value::String(name)) => name,
        // A unit enum variant always serializes as a string.
        _ => String::new(),
    }
}

/// `DType` from its wire name, using its serde names so the two never drift apart.
fn parse_dtype(name: &str) -> Option<DType> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

fn from_numbers(
    input: &str,
    dtype: DType,
    count: u64,
    values: &[f64],
) -> Result<TensorData, InferError> {
    if values.len() as u64 != count {
        return Err(InferError::DataLength {
            input: input.to_owned(),
            expected: count,
            found: values.len() as u64,
        });
    }
    let invalid = |index: usize, v: f64| InferError::DataInvalid {
        input: input.to_owned(),
        detail: format!("value {v} at index {index} is not a {dtype:?} value"),
    };
    // Each conversion below is checked first: finite and within f32 range, or an integer within
    // the target range, so the `as` casts are exact (or round to the nearest f32).
    #[allow(clippy::cast_possible_truncation)]
    let data = match dtype {
        DType::Float32 => TensorData::Float32(
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v.is_finite() && v.abs() <= f64::from(f32::MAX) {
                        Ok(v as f32)
                    } else {
                        Err(invalid(i, v))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::Int32 => TensorData::Int32(
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&v)
                    {
                        Ok(v as i32)
                    } else {
                        Err(invalid(i, v))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::Int64 => TensorData::Int64(
            values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v.fract() == 0.0
                        && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v)
                    {
                        Ok(v as i64)
                    } else {
                        Err(invalid(i, v))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(data)
}

fn from_base64(input: &str, dtype: DType, count: u64, b64: &str) -> Result<TensorData, InferError> {
    let bytes = BASE64.decode(b64).map_err(|e| InferError::DataInvalid {
        input: input.to_owned(),
        detail: format!("data_b64 is not standard base64: {e}"),
    })?;
    let width: usize = match dtype {
        DType::Float32 | DType::Int32 => 4,
        DType::Int64 => 8,
    };
    let whole = bytes.len() % width == 0;
    let found = if whole {
        (bytes.len() / width) as u64
    } else {
        bytes.len() as u64
    };
    if !whole || found != count {
        return Err(InferError::DataLength {
            input: input.to_owned(),
            expected: count,
            found,
        });
    }
    let data = match dtype {
        DType::Float32 => {
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                return Err(InferError::DataInvalid {
                    input: input.to_owned(),
                    detail: format!("value at index {index} is not finite"),
                });
            }
            TensorData::Float32(values)
        }
        DType::Int32 => TensorData::Int32(
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        DType::Int64 => TensorData::Int64(
            bytes
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
    };
    Ok(data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn spec() -> Vec<TensorSpec> {
        vec![
            TensorSpec {
                name: "ids".into(),
                dtype: DType::Int64,
                shape: vec![1, 2],
            },
            TensorSpec {
                name: "x".into(),
                dtype: DType::Float32,
                shape: vec![1, 3],
            },
        ]
    }

    fn request(json: &str) -> Result<BTreeMap<String, InputTensor>, InferError> {
        InferRequest::from_json(json.as_bytes())?.validate(&spec())
    }

    #[test]
    fn valid_request_becomes_typed_buffers() {
        let inputs = request(
            r#"{"inputs": {
                "x": {"dtype": "float32", "shape": [1, 3], "data": [0.5, -1, 3e3]},
                "ids": {"dtype": "int64", "shape": [1, 2], "data": [7, -9007199254740991]}
            }}"#,
        )
        .unwrap();
        assert_eq!(
            inputs["x"].data,
            TensorData::Float32(vec![0.5, -1.0, 3000.0])
        );
        assert_eq!(
            inputs["ids"].data,
            TensorData::Int64(vec![7, -9_007_199_254_740_991])
        );
        assert_eq!(inputs["x"].shape, vec![1, 3]);
    }

    #[test]
    fn base64_data_round_trips_exactly() {
        let x = TensorData::Float32(vec![0.1, -2.5, f32::MIN_POSITIVE]);
        let ids = TensorData::Int64(vec![i64::MAX, i64::MIN]);
        let request = InferRequest {
            inputs: BTreeMap::from([
                ("x".to_owned(), RequestTensor::base64(vec![1, 3], &x)),
                ("ids".to_owned(), RequestTensor::base64(vec![1, 2], &ids)),
            ]),
        };
        let json = serde_json::to_vec(&request).unwrap();
        let inputs = InferRequest::from_json(&json)
            .unwrap()
            .validate(&spec())
            .unwrap();
        assert_eq!(inputs["x"].data, x);
        assert_eq!(inputs["ids"].data, ids);
    }

    #[test]
    fn each_client_mistake_has_its_own_code() {
        let ok_ids = r#""ids": {"dtype": "int64", "shape": [1, 2], "data": [1, 2]}"#;
        let cases = [
            ("not json", "request-malformed"),
            (r#"{"inputs": {}, "extra": 1}"#, "request-malformed"),
            (
                r#"{"inputs": {"x": {"dtype": "float32", "shape": [1, 3], "data": [1, 2, 3], "datum": 1}}}"#,
                "request-malformed",
            ),
            (&format!(r#"{{"inputs": {{{ok_ids}}}}}"#), "input-missing"),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "y": {{"dtype": "float32", "shape": [1], "data": [1]}}}}}}"#
                ),
                "input-unknown",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float16", "shape": [1, 3], "data": [1, 2, 3]}}}}}}"#
                ),
                "tensor-dtype-unsupported",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "int32", "shape": [1, 3], "data": [1, 2, 3]}}}}}}"#
                ),
                "tensor-dtype-mismatch",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [3, 1], "data": [1, 2, 3]}}}}}}"#
                ),
                "tensor-shape-mismatch",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [1, 3]}}}}}}"#
                ),
                "tensor-data-conflict",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [1, 3], "data": [1, 2, 3], "data_b64": ""}}}}}}"#
                ),
                "tensor-data-conflict",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [1, 3], "data": [1, 2]}}}}}}"#
                ),
                "tensor-data-length",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [1, 3], "data_b64": "AAAAAAAAAAAAAA=="}}}}}}"#
                ),
                "tensor-data-length",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [1, 3], "data_b64": "!!"}}}}}}"#
                ),
                "tensor-data-invalid",
            ),
            (
                &format!(
                    r#"{{"inputs": {{{ok_ids}, "x": {{"dtype": "float32", "shape": [1, 3], "data": [1, 2, 1e39]}}}}}}"#
                ),
                "tensor-data-invalid",
            ),
            (
                r#"{"inputs": {"x": {"dtype": "float32", "shape": [1, 3], "data": [1, 2, 3]}, "ids": {"dtype": "int64", "shape": [1, 2], "data": [1, 2.5]}}}"#,
                "tensor-data-invalid",
            ),
        ];
        for (json, code) in cases {
            let err = request(json).unwrap_err();
            assert_eq!(err.code(), code, "{json}: {err}");
        }
    }

    #[test]
    fn non_finite_base64_floats_are_refused() {
        let nan = TensorData::Float32(vec![1.0, f32::NAN, 2.0]);
        let err = RequestTensor::base64(vec![1, 3], &nan)
            .validate(&spec()[1])
            .unwrap_err();
        assert_eq!(err.code(), "tensor-data-invalid");
    }

    #[test]
    fn response_and_error_bodies_have_the_documented_shape() {
        let response = InferResponse {
            model: "mlp".parse().unwrap(),
            version: semver::Version::new(1, 0, 0),
            source: Source::Edge,
            engine: Some("tract-native".to_owned()),
            outputs: BTreeMap::from([(
                "y".to_owned(),
                TensorData::Float32(vec![0.25]).into_tensor(vec![1, 1]),
            )]),
            timings: Timings {
                queue_ms: 0.5,
                compute_ms: 1.0,
                total_ms: 2.0,
            },
        };
        let value = serde_json::to_value(&response).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "model": "mlp", "version": "1.0.0", "source": "edge", "engine": "tract-native",
                "outputs": {"y": {"dtype": "float32", "shape": [1, 1], "data": [0.25]}},
                "timings": {"queue_ms": 0.5, "compute_ms": 1.0, "total_ms": 2.0}
            })
        );
        // Backwards compatible: an answer without `engine` (older servers) still parses, and
        // one without an engine serializes without the field.
        let mut old = value.clone();
        old.as_object_mut().unwrap().remove("engine");
        let parsed: InferResponse = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(parsed.engine, None);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), old);
        let body = ErrorBody::new(&InferError::DataConflict { input: "x".into() });
        assert_eq!(
            serde_json::to_value(&body).unwrap()["error"]["code"],
            "tensor-data-conflict"
        );
    }

    /// Measures what `data_b64` buys for a 1×4096 float32 input (run with `--nocapture`): the
    /// body size, and that both forms carry the same values.
    #[test]
    fn base64_body_is_much_smaller_than_json_numbers_for_floats() {
        let mut state = 0x2545_f491_u32;
        let values: Vec<f32> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (f64::from(state) / f64::from(u32::MAX) * 2.0 - 1.0) as f32
            })
            .collect();
        let data = TensorData::Float32(values.clone());
        let spec = TensorSpec {
            name: "x".into(),
            dtype: DType::Float32,
            shape: vec![1, 4096],
        };
        let json_body = serde_json::to_vec(&InferRequest {
            inputs: BTreeMap::from([(
                "x".to_owned(),
                RequestTensor::inline(
                    DType::Float32,
                    vec![1, 4096],
                    values.iter().map(|v| f64::from(*v)).collect(),
                ),
            )]),
        })
        .unwrap();
        let b64_body = serde_json::to_vec(&InferRequest {
            inputs: BTreeMap::from([("x".to_owned(), RequestTensor::base64(vec![1, 4096], &data))]),
        })
        .unwrap();
        let time = |body: &[u8]| {
            let start = std::time::Instant::now();
            for _ in 0..20 {
                let parsed = InferRequest::from_json(body)
                    .unwrap()
                    .validate(std::slice::from_ref(&spec))
                    .unwrap();
                assert_eq!(parsed["x"].data, data);
            }
            start.elapsed() / 20
        };
        let (json_time, b64_time) = (time(&json_body), time(&b64_body));
        println!(
            "1x4096 float32: JSON {} bytes, parse+validate {json_time:?}; base64 {} bytes, {b64_time:?}",
            json_body.len(),
            b64_body.len()
        );
        assert!(b64_body.len() * 3 < json_body.len());
    }
}
