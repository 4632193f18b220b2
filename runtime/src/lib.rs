//! tessera's inference runtime (placeholder until the inference issue lands).
//!
//! It will run verified models with wonnx on WebGPU inside a dedicated worker. Today it only
//! pins wonnx 0.5.1 (and with it web-sys 0.3.64) in Cargo.lock.
