//! The runtime's failures: one typed error with a stable code per failure, and the
//! [`LocalFault`] each one means for the fallback router (none for the caller's own mistakes,
//! which the edge would refuse too). It does not decide where a request goes next; that is
//! `tessera_core::fallback`.

use tessera_core::assemble::AssemblyError;
use tessera_core::fallback::LocalFault;
use tessera_core::ErrorCode;

use crate::gpu_errors::GpuFault;
use crate::js_error::JsError;

/// Why the local runtime could not load or run a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The worker has no `navigator.gpu`.
    #[error("this browser exposes no WebGPU (navigator.gpu) to workers")]
    NoWebgpu,
    /// `requestAdapter()` answered no adapter, or failed.
    #[error("WebGPU has no adapter: {0}")]
    NoAdapter(String),
    /// An adapter limit is below what wonnx requests or the model needs.
    #[error("WebGPU adapter limit {limit} is {have}, {need} is needed")]
    LimitsExceeded {
        /// The WebGPU limit's name (`maxStorageBufferBindingSize`, …).
        limit: &'static str,
        /// What is needed.
        need: u64,
        /// What the adapter offers.
        have: u64,
    },
    /// The model uses an operator not known to work in browsers.
    #[error(
        "model {model:?} uses ONNX operator {op:?}, which is not known to work in browsers ({why})"
    )]
    OpUnsupported {
        /// The model.
        model: String,
        /// The operator.
        op: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// The manifest names an engine or ABI this runtime does not implement.
    #[error("model {model:?} needs engine {engine:?} ABI {abi}, this runtime is wonnx ABI {ABI}")]
    EngineUnsupported {
        /// The model.
        model: String,
        /// The engine the manifest names.
        engine: String,
        /// The ABI the manifest names.
        abi: u32,
    },
    /// The options passed to the runtime are unusable.
    #[error("runtime options are invalid: {0}")]
    Config(String),
    /// A fetch did not complete.
    #[error("fetching {url} failed: {source}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// The browser's exception.
        source: JsError,
    },
    /// A fetch answered a non-2xx status.
    #[error("fetching {url} answered HTTP {status}")]
    HttpStatus {
        /// What was fetched.
        url: String,
        /// The status.
        status: u16,
    },
    /// The signed manifest was refused (signature, format or name); `code` is core's code
    /// (`manifest-signature-invalid`, `manifest-unknown-key`, `manifest-malformed`, …).
    #[error("manifest of {model:?} refused: {detail}")]
    ManifestRejected {
        /// The model.
        model: String,
        /// Core's stable code.
        code: &'static str,
        /// Core's message.
        detail: String,
    },
    /// Bytes that are not the file the signed manifest describes (a shard or the whole file;
    /// core's code: `shard-hash-mismatch`, `file-size-mismatch`, `file-hash-mismatch`).
    #[error(transparent)]
    Assembly(#[from] AssemblyError),
    /// The ONNX graph cannot be read or has no static input shapes.
    #[error("model {model:?} cannot run here: {detail}")]
    ModelUnsupported {
        /// The model.
        model: String,
        /// What is wrong.
        detail: String,
    },
    /// The entry graph keeps its weights in external data files (`model.onnx` +
    /// `model.onnx_data`) that cannot be inlined: a location that is not a relative path or not
    /// a file of the model, a range outside its file, a length that disagrees with the tensor,
    /// or an inlined model above ONNX's 2 GiB protobuf limit. `code` is the ONNX reader's
    /// (`onnx-external-path`, `onnx-external-missing`, `onnx-external-range`,
    /// `onnx-external-length`, `onnx-too-large`).
    #[error("model {model:?}: its external data cannot be loaded: {detail}")]
    ExternalData {
        /// The model.
        model: String,
        /// The ONNX reader's stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An engine could not build a session.
    #[error("building the {engine} session for {model:?} failed: {detail}")]
    Session {
        /// The model.
        model: String,
        /// The engine (`wonnx-webgpu`, `tract-wasm`).
        engine: &'static str,
        /// The engine's error.
        detail: String,
    },
    /// A known-answer vector came out wrong.
    #[error("model {model:?} failed its self-test vector {vector:?}: {detail}")]
    SelfTest {
        /// The model.
        model: String,
        /// The vector's name.
        vector: String,
        /// How the answer was wrong.
        detail: String,
    },
    /// `run` before a successful `load`.
    #[error("model {0:?} is not loaded in this worker")]
    NotLoaded(String),
    /// The inputs do not fit the model (the caller's mistake; core's code).
    #[error(transparent)]
    Input(#[from] tessera_core::infer::InferError),
    /// wonnx failed one run.
    #[error("running {model:?} failed: {detail}")]
    Run {
        /// The model.
        model: String,
        /// wonnx's error.
        detail: String,
    },
    /// The browser's WebGPU reported errors for the model's session (a rejected shader, a
    /// validation error, a lost device, …) while it was built or run; its answers are not used.
    #[error("WebGPU reported an error for {model:?} ({}): {detail}", fault.code())]
    Webgpu {
        /// The model.
        model: String,
        /// What the errors mean.
        fault: GpuFault,
        /// The browser's message.
        detail: String,
    },
    /// The CPU engine's wasm module could not be fetched or instantiated.
    #[error("the CPU engine could not be loaded: {0}")]
    CpuEngineUnavailable(String),
    /// The WebGPU engine's wasm module could not be fetched or instantiated.
    #[error("the WebGPU engine could not be loaded: {0}")]
    WebgpuEngineUnavailable(String),
    /// Any other JavaScript exception.
    #[error("{0}")]
    Js(JsError),
}

/// The runtime ABI this crate implements (`runtime.abi` in manifests).
pub const ABI: u32 = 1;

impl ErrorCode for RuntimeError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoWebgpu => "no-webgpu",
            Self::NoAdapter(_) => "no-adapter",
            Self::LimitsExceeded { .. } => "limits-exceeded",
            Self::OpUnsupported { .. } => "op-unsupported",
            Self::EngineUnsupported { .. } => "engine-unsupported",
            Self::Config(_) => "runtime-config-invalid",
            Self::Fetch { .. } => "fetch-failed",
            Self::HttpStatus { .. } => "http-status",
            Self::ManifestRejected { code, .. } => code,
            Self::Assembly(e) => e.code(),
            Self::ModelUnsupported { .. } => "model-unsupported",
            Self::ExternalData { code, .. } => code,
            Self::Session { .. } => "session-failed",
            Self::SelfTest { .. } => "local-self-test-failed",
            Self::NotLoaded(_) => "model-not-loaded",
            Self::Input(e) => e.code(),
            Self::Run { .. } => "local-run-failed",
            Self::Webgpu { fault, .. } => fault.code(),
            Self::CpuEngineUnavailable(_) => "cpu-engine-unavailable",
            Self::WebgpuEngineUnavailable(_) => "webgpu-engine-unavailable",
            Self::Js(_) => "js-error",
        }
    }
}

impl RuntimeError {
    /// What this failure means for the fallback router; `None` for the caller's own mistakes
    /// (bad inputs, bad options), which no fallback fixes.
    pub fn fault(&self) -> Option<LocalFault> {
        Some(match self {
            Self::NoWebgpu => LocalFault::NoWebgpu,
            Self::NoAdapter(_) => LocalFault::NoAdapter,
            Self::LimitsExceeded { .. } => LocalFault::LimitsExceeded,
            Self::OpUnsupported { .. }
            | Self::EngineUnsupported { .. }
            | Self::ModelUnsupported { .. } => LocalFault::OpUnsupported,
            Self::SelfTest { .. } => LocalFault::SelfTestFailed,
            Self::Fetch { .. }
            | Self::HttpStatus { .. }
            | Self::ManifestRejected { .. }
            | Self::Assembly(_)
            | Self::ExternalData { .. }
            | Self::Session { .. }
            | Self::NotLoaded(_)
            | Self::CpuEngineUnavailable(_)
            | Self::WebgpuEngineUnavailable(_)
            | Self::Js(_) => LocalFault::LoadFailed,
            Self::Run { .. } => LocalFault::RunFailed,
            Self::Webgpu { fault, .. } => fault.fault(),
            Self::Config(_) | Self::Input(_) => return None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use tessera_core::infer::InferError;

    use super::*;

    #[test]
    fn capability_failures_map_to_their_permanent_fallback_faults() {
        let cases = [
            (RuntimeError::NoWebgpu, "no-webgpu"),
            (RuntimeError::NoAdapter("none".into()), "no-adapter"),
            (
                RuntimeError::OpUnsupported {
                    model: "m".into(),
                    op: "Softmax".into(),
                    why: "broken",
                },
                "op-unsupported",
            ),
            (
                RuntimeError::SelfTest {
                    model: "m".into(),
                    vector: "zeros".into(),
                    detail: "off".into(),
                },
                "local-self-test-failed",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
            let fault = error.fault().unwrap();
            assert_eq!(fault.code(), code, "the router reports the same code");
            assert!(fault.is_permanent(), "{code}");
        }
    }

    #[test]
    fn caller_mistakes_never_trigger_a_fallback() {
        let input = RuntimeError::from(InferError::DataConflict { input: "x".into() });
        assert_eq!(input.code(), "tensor-data-conflict");
        assert_eq!(input.fault(), None);
        assert_eq!(RuntimeError::Config("keys".into()).fault(), None);
    }

    #[test]
    fn load_failures_are_transient() {
        let error = RuntimeError::HttpStatus {
            url: "/models/m/manifest.json".into(),
            status: 503,
        };
        assert_eq!(error.code(), "http-status");
        assert!(!error.fault().unwrap().is_permanent());
        let run = RuntimeError::Run {
            model: "m".into(),
            detail: "lost".into(),
        };
        assert_eq!(run.fault().unwrap().code(), "local-run-failed");
    }

    #[test]
    fn an_engine_module_that_fails_to_load_is_a_transient_load_failure_with_its_own_code() {
        for (error, code) in [
            (
                RuntimeError::WebgpuEngineUnavailable("HTTP 503".into()),
                "webgpu-engine-unavailable",
            ),
            (
                RuntimeError::CpuEngineUnavailable("HTTP 503".into()),
                "cpu-engine-unavailable",
            ),
        ] {
            assert_eq!(error.code(), code);
            let fault = error.fault().unwrap();
            assert_eq!(fault.code(), "local-load-failed", "{code}");
            assert!(!fault.is_permanent(), "{code}: the next load tries again");
        }
    }

    #[test]
    fn webgpu_errors_fall_back_with_their_own_code_and_quote_the_browser() {
        let error = RuntimeError::Webgpu {
            model: "clf".into(),
            fault: GpuFault::ShaderCompile,
            detail: "log must be called with a value > 0".into(),
        };
        assert_eq!(error.code(), "webgpu-shader-compile-failed");
        assert_eq!(
            error.fault().unwrap().code(),
            "webgpu-shader-compile-failed"
        );
        assert!(error.to_string().contains("log must be called"), "{error}");
        assert!(error.to_string().contains("\"clf\""), "{error}");
    }
}
