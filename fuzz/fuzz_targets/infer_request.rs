//! An inference request body (`POST /v1/models/<name>/infer`, JSON with `data` numbers or
//! `data_b64`) parsed and validated against model inputs, as the edge and the edge worker do
//! before anything reaches an engine: typed input buffers of exactly the declared shapes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::infer::{InferRequest, TensorSpec};
use tessera_core::manifest::DType;
use tessera_core::ErrorCode as _;

fuzz_target!(|data: &[u8]| {
    let specs = [
        TensorSpec {
            name: "x".into(),
            dtype: DType::Float32,
            shape: vec![1, 16],
        },
        TensorSpec {
            name: "ids".into(),
            dtype: DType::Int64,
            shape: vec![1, 4],
        },
        TensorSpec {
            name: "mask".into(),
            dtype: DType::Int32,
            shape: vec![2, 2],
        },
    ];
    match InferRequest::from_json(data) {
        Ok(request) => match request.validate(&specs) {
            Ok(inputs) => {
                for (name, input) in inputs {
                    let spec = specs.iter().find(|s| s.name == name);
                    let Some(spec) = spec else {
                        panic!("validated an input no model declares: {name}");
                    };
                    let want: u64 = spec.shape.iter().product();
                    assert_eq!(input.shape, spec.shape, "{name}");
                    assert_eq!(input.data.len() as u64, want, "{name}");
                    assert_eq!(input.data.dtype(), spec.dtype, "{name}");
                    // What the edge answers with is the same encoding: it round-trips.
                    let _ = input.data.to_base64();
                }
            }
            Err(error) => {
                let _ = error.code();
            }
        },
        Err(error) => {
            let _ = error.code();
        }
    }
});
