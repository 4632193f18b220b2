//! WebGPU errors as typed faults: the records the worker's GPU monitor keeps for the devices
//! wonnx creates (`uncapturederror` events, shader `getCompilationInfo()` errors, `device.lost`),
//! and [`classify`], which turns them into the one [`GpuFault`] that explains them. Pure: the
//! monitor itself is JavaScript (`tessera-runtime-worker.js`), wonnx 0.5 creating its own device
//! with no way to attach a handler from Rust. It does not decide fallbacks.

use serde::Deserialize;
use tessera_core::fallback::LocalFault;

/// One error the browser reported for a device, as the worker's monitor records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GpuErrorRecord {
    /// `validation`, `out-of-memory`, `internal` (the `GPUError` subclass of an
    /// `uncapturederror`), `shader` (a `getCompilationInfo()` error) or `lost`.
    pub kind: String,
    /// The browser's message.
    pub message: String,
}

/// What a set of WebGPU errors means for the session that caused them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GpuFault {
    /// A WGSL shader was rejected: the pipelines using it are invalid and compute nothing.
    ShaderCompile,
    /// The device was lost (GPU reset, driver crash); the session is dead.
    DeviceLost,
    /// The device ran out of memory.
    OutOfMemory,
    /// Any other validation error (invalid pipeline, binding, buffer use, …).
    Validation,
    /// The implementation failed for a reason of its own (`GPUInternalError`).
    Internal,
}

impl GpuFault {
    /// Stable code, the `RuntimeError`'s.
    pub fn code(self) -> &'static str {
        match self {
            Self::ShaderCompile => "webgpu-shader-compile-failed",
            Self::DeviceLost => "webgpu-device-lost",
            Self::OutOfMemory => "webgpu-out-of-memory",
            Self::Validation => "webgpu-validation-error",
            Self::Internal => "webgpu-internal-error",
        }
    }

    /// The fallback fault it counts as. A rejected shader or an invalid pipeline fails the
    /// same way on every retry in this browser (permanent); a lost device, memory pressure or
    /// an internal failure may pass (transient: retried with a new session later).
    pub fn fault(self) -> LocalFault {
        match self {
            Self::ShaderCompile => LocalFault::ShaderCompileFailed,
            Self::Validation => LocalFault::ValidationError,
            Self::DeviceLost => LocalFault::DeviceLost,
            Self::OutOfMemory | Self::Internal => LocalFault::RunFailed,
        }
    }

    /// The fault one record stands for. Chromium reports a rejected WGSL shader as a
    /// validation error ("Error while parsing WGSL: …"), then every pipeline built from it as
    /// another ("[Invalid ShaderModule] is invalid"), so validation messages naming WGSL or a
    /// shader module count as shader failures.
    pub fn of(record: &GpuErrorRecord) -> Self {
        match record.kind.as_str() {
            "shader" => Self::ShaderCompile,
            "lost" => Self::DeviceLost,
            "out-of-memory" => Self::OutOfMemory,
            "internal" => Self::Internal,
            _ if names_a_shader(&record.message) => Self::ShaderCompile,
            _ => Self::Validation,
        }
    }

    /// Which fault explains a mix best: the root cause first (a rejected shader makes every
    /// later pipeline invalid), then what decides the retry (a lost device).
    fn rank(self) -> u8 {
        match self {
            Self::ShaderCompile => 0,
            Self::DeviceLost => 1,
            Self::OutOfMemory => 2,
            Self::Validation => 3,
            Self::Internal => 4,
        }
    }
}

/// Whether a WebGPU message is about a shader module (WGSL parsing, Tint, compilation).
fn names_a_shader(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "wgsl",
        "shadermodule",
        "shader module",
        "tint",
        "compilation",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// Longest browser message kept in an error (Tint quotes whole shader lines).
const MAX_MESSAGE: usize = 600;

/// The fault that explains `records` and a message quoting the browser's (the first record of
/// that fault, and how many other errors there were); `None` when there are no records.
pub fn classify(records: &[GpuErrorRecord]) -> Option<(GpuFault, String)> {
    let (fault, first) = records
        .iter()
        .map(|r| (GpuFault::of(r), r))
        // On a tie, the browser's `uncapturederror` message (it names the call that failed)
        // over a compilation-info one, whichever arrived first.
        .min_by_key(|(fault, record)| (fault.rank(), record.kind == "shader"))?;
    let mut message = first.message.trim().to_owned();
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    let others = records.len() - 1;
    if others > 0 {
        let plural = if others == 1 { "" } else { "s" };
        message.push_str(&format!(" (and {others} more WebGPU error{plural})"));
    }
    Some((fault, message))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn record(kind: &str, message: &str) -> GpuErrorRecord {
        GpuErrorRecord {
            kind: kind.into(),
            message: message.into(),
        }
    }

    #[test]
    fn each_browser_error_maps_to_its_code() {
        let cases = [
            (
                "shader",
                "softmax:12:5: log must be called with a value > 0",
                "webgpu-shader-compile-failed",
            ),
            (
                "validation",
                "Error while parsing WGSL: :3:10 error: unresolved identifier",
                "webgpu-shader-compile-failed",
            ),
            (
                "validation",
                "[Invalid ShaderModule] is invalid.\n - While validating compute stage",
                "webgpu-shader-compile-failed",
            ),
            (
                "validation",
                "Tint WGSL reader failure",
                "webgpu-shader-compile-failed",
            ),
            (
                "validation",
                "Binding size (16) is smaller than the minimum binding size (32).",
                "webgpu-validation-error",
            ),
            (
                "validation",
                "[Buffer \"output\"] used in submit while mapped.",
                "webgpu-validation-error",
            ),
            (
                "out-of-memory",
                "Not enough memory left.",
                "webgpu-out-of-memory",
            ),
            (
                "internal",
                "Pipeline creation failed",
                "webgpu-internal-error",
            ),
            ("lost", "unknown: GPU process crashed", "webgpu-device-lost"),
            (
                "something-new",
                "a future GPUError subclass",
                "webgpu-validation-error",
            ),
        ];
        for (kind, message, code) in cases {
            let (fault, detail) = classify(&[record(kind, message)]).unwrap();
            assert_eq!(fault.code(), code, "{kind}: {message}");
            assert_eq!(
                detail, message,
                "a single error is quoted as the browser said it"
            );
        }
    }

    #[test]
    fn a_rejected_shader_explains_the_invalid_pipelines_that_follow_it() {
        let records = [
            record(
                "validation",
                "[Invalid ComputePipeline \"softmax\"] is invalid.",
            ),
            // What Chromium reports for wonnx's Softmax shader (seen in
            // playwright/tests/runtime-webgpu-errors.test.js).
            record(
                "validation",
                "Error while parsing WGSL: :50:28 error: log must be called with a value > 0\n  \
                 var max_element: Scalar = log(Scalar());\n\n - While calling \
                 [Device].CreateShaderModule([ShaderModuleDescriptor \"\"softmax\"\"]).",
            ),
            record("validation", "[Invalid BindGroup] is invalid."),
        ];
        let (fault, detail) = classify(&records).unwrap();
        assert_eq!(fault, GpuFault::ShaderCompile);
        assert!(detail.starts_with("Error while parsing WGSL"), "{detail}");
        assert!(detail.ends_with("(and 2 more WebGPU errors)"), "{detail}");
    }

    #[test]
    fn the_browsers_call_context_is_quoted_whichever_report_came_first() {
        let compile = record(
            "shader",
            "softmax:50:28: log must be called with a value > 0",
        );
        let event = record(
            "validation",
            "Error while parsing WGSL: :50:28 error: log must be …",
        );
        for records in [
            [compile.clone(), event.clone()],
            [event.clone(), compile.clone()],
        ] {
            let (fault, detail) = classify(&records).unwrap();
            assert_eq!(fault, GpuFault::ShaderCompile);
            assert!(detail.starts_with("Error while parsing WGSL"), "{detail}");
        }
    }

    #[test]
    fn a_lost_device_outranks_the_validation_errors_it_causes() {
        let records = [
            record("validation", "[Buffer] used in submit while destroyed."),
            record("lost", "unknown: device was lost"),
        ];
        let (fault, _) = classify(&records).unwrap();
        assert_eq!(fault, GpuFault::DeviceLost);
        assert!(!fault.fault().is_permanent(), "a new device may work");
    }

    #[test]
    fn no_records_mean_no_fault() {
        assert_eq!(classify(&[]), None);
    }

    #[test]
    fn shader_and_validation_faults_last_for_the_page() {
        for fault in [GpuFault::ShaderCompile, GpuFault::Validation] {
            assert!(fault.fault().is_permanent(), "{}", fault.code());
            assert_eq!(
                fault.fault().code(),
                fault.code(),
                "the fallback reason is the code"
            );
        }
        assert_eq!(GpuFault::OutOfMemory.fault(), LocalFault::RunFailed);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        let (_, detail) = classify(&[record("shader", &long)]).unwrap();
        assert!(detail.ends_with('…'));
        assert!(detail.len() <= MAX_MESSAGE + '…'.len_utf8());
    }
}
