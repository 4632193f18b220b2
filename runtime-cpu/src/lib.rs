//! The browser runtime's CPU engine as a wasm module of its own: `tessera_onnx::tract`
//! (tract-onnx, wasm32 + SIMD) behind a two-call JS API the runtime's worker uses through its
//! engine modules (`runtime/src/local/session.rs`, which drives this one and the WebGPU one alike):
//!
//! ```js
//! import init, { CpuSession } from './tessera_runtime_cpu.js';
//! await init({ module_or_path });
//! const session = CpuSession.build(modelBytes);        // a Uint8Array of verified ONNX bytes
//! const outputs = session.run({ x: { dtype: 'float32', shape: [1, 16], data } });
//! ```
//!
//! It trusts its caller for the bytes (the runtime verified them against the signed manifest and
//! runs the known-answer self-test on the session) but not for the inputs: they are checked
//! against the model's signature again. Errors are `Error`s with a stable `code`
//! (`tessera_onnx::engine::EngineError`'s, `onnx-malformed`/`onnx-unsupported`, or core's
//! `InferError` codes). It fetches nothing, stores nothing and picks no engine.

#[cfg(target_arch = "wasm32")]
mod wasm;

/// The name every answer computed here reports as its `engine`.
pub const ENGINE_NAME: &str = "tract-wasm";
