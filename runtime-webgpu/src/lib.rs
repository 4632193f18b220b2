//! The browser runtime's WebGPU engine as a wasm module of its own: wonnx (wgpu 0.16 on the
//! browser's WebGPU) behind the same two-call JS API as the CPU engine (`tessera-runtime-cpu`),
//! which the runtime's worker imports the first time it builds a model on WebGPU, so a page whose
//! models run on the CPU never downloads wonnx and wgpu:
//!
//! ```js
//! import init, { GpuSession } from './tessera_runtime_webgpu.js';
//! await init({ module_or_path });
//! const session = await GpuSession.build(modelBytes);        // a Uint8Array of verified ONNX bytes
//! const outputs = await session.run({ x: { dtype: 'float32', shape: [1, 16], data } });
//! ```
//!
//! Unlike the CPU engine, both calls answer Promises (wonnx reads results back from the GPU
//! asynchronously). Outputs come back flat (`shape` = `[len]`, as wonnx returns them); the
//! runtime shapes them by the model's declared outputs. It trusts its caller for the bytes (the
//! runtime verified them, probed the adapter and its limits so that wonnx does not panic, and
//! watches the devices wonnx creates for WebGPU errors, which wonnx itself never sees) but not
//! for the inputs: they are checked against the model's signature again. Errors are `Error`s
//! with a stable `code` (`tessera_onnx::engine::EngineError`'s `engine-build-failed` /
//! `engine-run-failed` / `engine-unsupported`, `onnx-*`, or core's `InferError` codes). It
//! fetches nothing, stores nothing, picks no engine and runs no self-test.

#[cfg(target_arch = "wasm32")]
mod wasm;

/// The name every answer computed here reports as its `engine`.
pub const ENGINE_NAME: &str = "wonnx-webgpu";

#[cfg(target_arch = "wasm32")]
pub use wasm::GpuSession;
