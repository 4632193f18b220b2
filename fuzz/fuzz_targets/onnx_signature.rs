//! The ONNX signature reader (`tessera_onnx::inspect`): the protobuf of a model the edge, the edge
//! worker and the browser runtime load, read for its inputs, outputs and largest initializer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::ErrorCode as _;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = tessera_onnx::inspect(data) {
        let _ = error.code();
    }
});
