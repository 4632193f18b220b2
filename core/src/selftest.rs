//! Known-answer checks: a manifest's test vector as an inference request, and the comparison of
//! a session's outputs with the vector's expected outputs within its tolerance. Pure: it runs
//! nothing. The browser runtime and the edge run the vectors right after building a session and
//! refuse the session on the first mismatch — a browser can compute silently wrong answers (a
//! shader that fails to compile yields zeros), and so can a broken driver.

use std::collections::BTreeMap;

use crate::error::ErrorCode;
use crate::infer::{InferRequest, RequestTensor};
use crate::manifest::{Tensor, TestVector};

/// How a session's outputs differ from a known answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SelfTestError {
    /// The session did not produce an expected output.
    #[error("output {output:?} was not produced")]
    MissingOutput {
        /// The output's name.
        output: String,
    },
    /// An output has another number of elements than expected.
    #[error("output {output:?} has {got} values, {want} expected")]
    Length {
        /// The output's name.
        output: String,
        /// Elements produced.
        got: usize,
        /// Elements expected.
        want: usize,
    },
    /// An element differs by more than the tolerance (NaN counts as infinitely far).
    #[error("output {output:?} differs by up to {worst:e}, tolerance {tolerance:e}")]
    OutOfTolerance {
        /// The output's name.
        output: String,
        /// Largest absolute difference.
        worst: f64,
        /// The vector's tolerance.
        tolerance: f64,
    },
}

impl ErrorCode for SelfTestError {
    fn code(&self) -> &'static str {
        match self {
            Self::MissingOutput { .. } => "self-test-missing-output",
            Self::Length { .. } => "self-test-length-mismatch",
            Self::OutOfTolerance { .. } => "self-test-out-of-tolerance",
        }
    }
}

/// The request that feeds a vector's inputs.
pub fn request(vector: &TestVector) -> InferRequest {
    InferRequest {
        inputs: vector
            .inputs
            .iter()
            .map(|(name, t)| {
                let tensor = RequestTensor::inline(t.dtype, t.shape.clone(), t.data.clone());
                (name.clone(), tensor)
            })
            .collect(),
    }
}

/// Compares `outputs` with the vector's expected outputs; `Err` says how they differ.
pub fn compare(
    vector: &TestVector,
    outputs: &BTreeMap<String, Tensor>,
) -> Result<(), SelfTestError> {
    for (name, want) in &vector.outputs {
        let got = outputs
            .get(name)
            .ok_or_else(|| SelfTestError::MissingOutput {
                output: name.clone(),
            })?;
        if got.data.len() != want.data.len() {
            return Err(SelfTestError::Length {
                output: name.clone(),
                got: got.data.len(),
                want: want.data.len(),
            });
        }
        let worst = got
            .data
            .iter()
            .zip(&want.data)
            .map(|(g, w)| (g - w).abs())
            .fold(
                0.0,
                |a: f64, d| if d.is_nan() { f64::INFINITY } else { a.max(d) },
            );
        if worst > vector.tolerance {
            return Err(SelfTestError::OutOfTolerance {
                output: name.clone(),
                worst,
                tolerance: vector.tolerance,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::manifest::DType;

    use super::*;

    /// The edge's MLP fixture vectors (made by `edge/tests/fixtures/make_mlp.py`).
    const MLP_VECTORS: &str = include_str!("../../edge/tests/fixtures/mlp.vectors.json");

    fn vectors() -> Vec<TestVector> {
        serde_json::from_str(MLP_VECTORS).unwrap()
    }

    #[test]
    fn exact_outputs_pass() {
        for vector in vectors() {
            compare(&vector, &vector.outputs).unwrap();
        }
    }

    #[test]
    fn all_zero_outputs_are_caught() {
        // What a session with a broken shader answers.
        let vector = &vectors()[0];
        let zeros = vector
            .outputs
            .iter()
            .map(|(name, t)| {
                let data = vec![0.0; t.data.len()];
                (name.clone(), Tensor { data, ..t.clone() })
            })
            .collect();
        let err = compare(vector, &zeros).unwrap_err();
        assert_eq!(err.code(), "self-test-out-of-tolerance", "{err}");
    }

    #[test]
    fn tolerance_bounds_the_difference_and_nan_never_passes() {
        let vector = &vectors()[0];
        let shifted = |delta: f64| -> BTreeMap<String, Tensor> {
            vector
                .outputs
                .iter()
                .map(|(name, t)| {
                    let data = t.data.iter().map(|v| v + delta).collect();
                    (name.clone(), Tensor { data, ..t.clone() })
                })
                .collect()
        };
        compare(vector, &shifted(vector.tolerance / 2.0)).unwrap();
        let code = |outputs| compare(vector, &outputs).unwrap_err().code();
        assert_eq!(
            code(shifted(vector.tolerance * 2.0)),
            "self-test-out-of-tolerance"
        );
        assert_eq!(code(shifted(f64::NAN)), "self-test-out-of-tolerance");
        assert_eq!(code(BTreeMap::new()), "self-test-missing-output");
    }

    #[test]
    fn vector_inputs_become_a_request_the_model_accepts() {
        let vector = &vectors()[0];
        let spec = crate::infer::TensorSpec {
            name: "x".into(),
            dtype: DType::Float32,
            shape: vec![1, 16],
        };
        let inputs = request(vector).validate(&[spec]).unwrap();
        assert_eq!(inputs["x"].data.len(), 16);
    }
}
