//! The capability check that runs BEFORE wonnx is touched (wonnx panics, and so traps the whole
//! worker, when it finds no adapter or cannot get the device it wants): the manifest's engine and
//! operators against what is known to work in browsers, and the adapter's limits against what
//! wonnx requests and the model needs. The pure checks are here; [`probe`] (wasm32 only) asks
//! the worker's `navigator.gpu` for an adapter and its limits. It does not build sessions.

use tessera_core::manifest::ENGINE_WONNX;

use crate::error::{RuntimeError, ABI};

/// ONNX operators whose wonnx shaders were seen to compile and compute correctly in Chromium's
/// WebGPU (SwiftShader and GPUs). Everything else is refused before a session is built: a shader
/// that fails to compile does not raise, it makes inference silently return zeros.
pub const BROWSER_OPS: [&str; 4] = ["Add", "Gemm", "MatMul", "Relu"];

/// Operators known to be broken in browsers, with the reason reported.
pub const BROWSER_BROKEN_OPS: [(&str, &str); 1] = [(
    "Softmax",
    "its wonnx shader is rejected by Chromium's WGSL compiler and inference returns zeros",
)];

/// Limits wonnx requests (wgpu 0.16's `Limits::default()`, which is WebGPU's defaults): an
/// adapter below any of these makes `request_device` fail, and wonnx panics on that.
pub const REQUIRED_LIMITS: [(&str, u64); 8] = [
    ("maxBufferSize", 256 << 20),
    ("maxStorageBufferBindingSize", 128 << 20),
    ("maxStorageBuffersPerShaderStage", 8),
    ("maxComputeWorkgroupSizeX", 256),
    ("maxComputeWorkgroupSizeY", 256),
    ("maxComputeWorkgroupSizeZ", 64),
    ("maxComputeInvocationsPerWorkgroup", 256),
    ("maxComputeWorkgroupsPerDimension", 65_535),
];

/// The adapter limits that matter to wonnx, by WebGPU name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdapterLimits {
    /// `(name, value)` for each limit read from `GPUAdapter.limits`.
    pub values: Vec<(&'static str, u64)>,
}

/// What [`probe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// `GPUAdapter.isFallbackAdapter` (true for SwiftShader: a CPU).
    pub is_fallback: bool,
    /// Its limits.
    pub limits: AdapterLimits,
    /// `GPUAdapterInfo`'s vendor, architecture, device and description, joined: what a cached
    /// engine calibration is keyed by (another GPU calibrates again).
    pub identity: String,
}

/// Refuses a manifest whose engine/ABI is not this runtime's, or whose `runtime.ops` contain an
/// operator outside [`BROWSER_OPS`].
pub fn check_model(
    model: &str,
    engine: &str,
    abi: u32,
    ops: &[String],
) -> Result<(), RuntimeError> {
    check_engine(model, engine, abi)?;
    for op in ops {
        if let Some((_, why)) = BROWSER_BROKEN_OPS.iter().find(|(name, _)| name == op) {
            return Err(RuntimeError::OpUnsupported {
                model: model.to_owned(),
                op: op.clone(),
                why,
            });
        }
        if !BROWSER_OPS.contains(&op.as_str()) {
            return Err(RuntimeError::OpUnsupported {
                model: model.to_owned(),
                op: op.clone(),
                why: "it has not been verified in browsers",
            });
        }
    }
    Ok(())
}

/// Refuses a manifest whose engine/ABI is not this runtime's (what [`check_model`] checks
/// besides the operators; alone, it is the check of the testing-only `allowUnlistedOps`).
pub fn check_engine(model: &str, engine: &str, abi: u32) -> Result<(), RuntimeError> {
    if engine != ENGINE_WONNX || abi != ABI {
        return Err(RuntimeError::EngineUnsupported {
            model: model.to_owned(),
            engine: engine.to_owned(),
            abi,
        });
    }
    Ok(())
}

/// Refuses an adapter below [`REQUIRED_LIMITS`], or whose storage-buffer binding cannot hold
/// the model's largest tensor (`largest_tensor_bytes`). A limit the adapter does not report is
/// taken as WebGPU's default (which meets the requirement).
pub fn check_limits(limits: &AdapterLimits, largest_tensor_bytes: u64) -> Result<(), RuntimeError> {
    let have = |name: &str, default: u64| {
        limits
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(default, |(_, v)| *v)
    };
    for (limit, need) in REQUIRED_LIMITS {
        let have = have(limit, need);
        if have < need {
            return Err(RuntimeError::LimitsExceeded { limit, need, have });
        }
    }
    // wonnx's device is created with the required limits, not the adapter's: that is the cap.
    let binding = "maxStorageBufferBindingSize";
    let cap = REQUIRED_LIMITS
        .iter()
        .find(|(n, _)| *n == binding)
        .map_or(0, |(_, v)| *v);
    if largest_tensor_bytes > cap {
        return Err(RuntimeError::LimitsExceeded {
            limit: binding,
            need: largest_tensor_bytes,
            have: cap,
        });
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
pub use wasm::probe;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    use super::{Adapter, AdapterLimits, REQUIRED_LIMITS};
    use crate::error::RuntimeError;
    use crate::js_error::{await_promise, JsError};

    /// Asks `navigator.gpu.requestAdapter()` in this worker (or page) for an adapter and reads
    /// its limits. Never touches wonnx.
    pub async fn probe() -> Result<Adapter, RuntimeError> {
        let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key));
        let navigator = get(&js_sys::global(), "navigator").unwrap_or(JsValue::UNDEFINED);
        let gpu = get(&navigator, "gpu").unwrap_or(JsValue::UNDEFINED);
        if gpu.is_undefined() || gpu.is_null() {
            return Err(RuntimeError::NoWebgpu);
        }
        let request = get(&gpu, "requestAdapter")
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or(RuntimeError::NoWebgpu)?;
        let promise = request
            .call0(&gpu)
            .map_err(|e| RuntimeError::NoAdapter(JsError::from(e).to_string()))?;
        let adapter = await_promise(Promise::resolve(&promise))
            .await
            .map_err(|e| RuntimeError::NoAdapter(e.to_string()))?;
        if adapter.is_null() || adapter.is_undefined() {
            return Err(RuntimeError::NoAdapter(
                "requestAdapter() answered null (in headless Chromium, pass --enable-unsafe-webgpu)"
                    .into(),
            ));
        }
        // Chromium ≥ 13x moved the flag to `adapter.info.isFallbackAdapter`; older
        // browsers have it on the adapter itself.
        let flag = |target: &JsValue| {
            get(target, "isFallbackAdapter")
                .ok()
                .and_then(|v| v.as_bool())
        };
        let is_fallback = get(&adapter, "info")
            .ok()
            .filter(JsValue::is_object)
            .and_then(|info| flag(&info))
            .or_else(|| flag(&adapter))
            .unwrap_or(false);
        let limits = get(&adapter, "limits").unwrap_or(JsValue::UNDEFINED);
        let values = if limits.is_object() {
            REQUIRED_LIMITS
                .iter()
                .filter_map(|(name, _)| {
                    let value = get(&limits, name).ok()?.as_f64()?;
                    // Limits are non-negative integers below 2^53.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Some((*name, value.max(0.0) as u64))
                })
                .collect()
        } else {
            Vec::new()
        };
        let info = get(&adapter, "info").unwrap_or(JsValue::UNDEFINED);
        let identity = ["vendor", "architecture", "device", "description"]
            .iter()
            .map(|key| {
                if info.is_object() {
                    get(&info, key)
                        .ok()
                        .and_then(|v| v.as_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        Ok(Adapter {
            is_fallback,
            limits: AdapterLimits { values },
            identity,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use tessera_core::ErrorCode;

    use super::*;

    fn ops(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_mlp_ops_pass_and_softmax_is_refused_as_known_broken() {
        check_model("mlp", "wonnx", 1, &ops(&["Add", "Gemm", "MatMul", "Relu"])).unwrap();
        let err = check_model("clf", "wonnx", 1, &ops(&["Gemm", "Softmax"])).unwrap_err();
        assert_eq!(err.code(), "op-unsupported");
        assert!(err.to_string().contains("Softmax"), "{err}");
        let err = check_model("conv", "wonnx", 1, &ops(&["Conv"])).unwrap_err();
        assert_eq!(err.code(), "op-unsupported");
    }

    #[test]
    fn another_engine_or_abi_is_refused() {
        for (engine, abi) in [("onnxruntime", 1), ("wonnx", 2)] {
            let err = check_model("m", engine, abi, &[]).unwrap_err();
            assert_eq!(err.code(), "engine-unsupported");
            let err = check_engine("m", engine, abi).unwrap_err();
            assert_eq!(
                err.code(),
                "engine-unsupported",
                "also when unlisted ops are allowed"
            );
        }
        check_engine("m", "wonnx", 1).unwrap();
    }

    #[test]
    fn an_adapter_below_wonnx_limits_is_refused_before_wonnx_panics() {
        let defaults = AdapterLimits::default();
        check_limits(&defaults, 1024).unwrap();
        let small = AdapterLimits {
            values: vec![("maxStorageBufferBindingSize", 64 << 20)],
        };
        let err = check_limits(&small, 1024).unwrap_err();
        assert_eq!(err.code(), "limits-exceeded");
        assert!(err.to_string().contains("maxStorageBufferBindingSize"));
    }

    #[test]
    fn a_tensor_larger_than_a_binding_is_refused() {
        let big = AdapterLimits {
            values: vec![("maxStorageBufferBindingSize", 4 << 30)],
        };
        check_limits(&big, 128 << 20).unwrap();
        let err = check_limits(&big, (128 << 20) + 1).unwrap_err();
        assert_eq!(err.code(), "limits-exceeded");
    }
}
