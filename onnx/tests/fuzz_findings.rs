//! Regressions for inputs the `onnx_signature` fuzz target (fuzz/) found: each must be refused
//! with a typed error, not crash the process.

#![allow(clippy::unwrap_used)]

use tessera_core::ErrorCode as _;

/// A 197-byte model whose packed float field declares ~1.4 PB: protobuf reserved that much
/// before reading and the allocation failure aborted the process (edge, edge worker, runtime).
#[test]
fn a_packed_field_longer_than_the_model_is_malformed_not_an_abort() {
    let bytes = include_bytes!("huge_packed_length.onnx");
    let error = tessera_onnx::inspect(bytes).unwrap_err();
    assert_eq!(error.code(), "onnx-malformed");
}

/// Real models still read: the edge's test fixture keeps its signature.
#[test]
fn a_real_model_still_reads() {
    let bytes = include_bytes!("../../edge/tests/fixtures/mlp.onnx");
    let signature = tessera_onnx::inspect(bytes).unwrap();
    assert!(!signature.inputs.is_empty());
}

/// A packed `double` field inside a tensor whose own length is in bounds declares ~33 GB;
/// protobuf 2.28 (`read_repeated_packed_*_into`) reserves `len / 4` elements before checking
/// `len` against the input, so the allocation aborted the process. The wire-format bounds check
/// run before parsing (`onnx/src/wire.rs`) refuses it.
#[test]
fn a_packed_field_longer_than_its_tensor_is_malformed_not_an_abort() {
    let bytes = include_bytes!("huge_packed_double.onnx");
    let error = tessera_onnx::inspect(bytes).unwrap_err();
    assert_eq!(error.code(), "onnx-malformed");
}

/// A tag written as a varint longer than 32 bits: protobuf 2.28 keeps its low 32 bits (here
/// field 7, the graph), so the bounds check must read tags the same way or it walks past the
/// packed field that then aborted the process (third `onnx_signature` finding).
#[test]
fn a_long_tag_does_not_hide_a_packed_field_from_the_bounds_check() {
    let bytes = include_bytes!("long_tag_packed_double.onnx");
    let error = tessera_onnx::inspect(bytes).unwrap_err();
    assert_eq!(error.code(), "onnx-malformed");
}
