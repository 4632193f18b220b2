//! tessera's inference runtime: runs verified models inside a dedicated Web Worker, with wonnx
//! on WebGPU or tract on the CPU (each a wasm module of its own, `tessera-runtime-webgpu` and
//! `tessera-runtime-cpu`, loaded only when a model is built on it; no engine code is linked here:
//! `tessera-onnx` reads signatures with wonnx's protobuf types only),
//! and gives the page the fallback router that decides, per request, between the
//! browser and the edge server (`POST /v1/models/NAME/infer`).
//!
//! The same wasm module serves both sides: the page instantiates it for [`FallbackRouter`]
//! (pure decisions from `tessera_core::fallback`, no GPU touched) and hands the compiled module
//! to its worker, which instantiates it for `LocalRuntime` (capability check, verified load,
//! known-answer self-test, inference). `runtime/js/` holds the worker script and the page API
//! (`TesseraRuntime`). It does not cache or download models: the service worker does, and this
//! runtime only reads what it serves and re-checks every byte against the signed manifest.
//!
//! Natively only the pure parts build (and are tested): errors, capability rules, the engine
//! choice, self-test comparison, WebGPU error classification and the string-coded router.

pub mod capability;
pub mod engine_choice;
pub mod error;
pub mod gpu_errors;
pub mod js_error;
pub mod router;

#[cfg(target_arch = "wasm32")]
mod js_bridge;
#[cfg(target_arch = "wasm32")]
pub mod local;

pub use error::RuntimeError;
#[cfg(target_arch = "wasm32")]
pub use local::LocalRuntime;
#[cfg(target_arch = "wasm32")]
pub use router::FallbackRouter;
