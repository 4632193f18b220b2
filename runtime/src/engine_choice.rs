//! Which engine runs a model in this browser: wonnx on WebGPU (`wonnx-webgpu`) or tract on the
//! CPU (`tract-wasm`, a separate wasm module loaded only when picked). Pure rules, tested
//! natively; the worker (`crate::local`) gathers the facts (WebGPU probe, the model's operators
//! and largest tensor, a cached calibration) and carries the plan out.
//!
//! - `engine: 'cpu'` → tract. `engine: 'webgpu'` → wonnx or the capability error (as before
//!   there was a CPU engine).
//! - `engine: 'auto'` (the default): tract when WebGPU cannot run the model (no WebGPU, no
//!   adapter, limits, an operator wonnx cannot compile in browsers) or the adapter is a software
//!   one (SwiftShader: a GPU emulated on the CPU, where tract is ~100× faster); on a real GPU,
//!   the engine a calibration found faster for this model version on this adapter, else
//!   calibrate; and when wonnx fails on a real GPU (session, WebGPU error, self-test), tract.
//!
//! It does not build sessions, time runs or store anything.

use serde::{Deserialize, Serialize};
use tessera_core::ErrorCode;

use crate::error::RuntimeError;

/// What the page asked for (`TesseraRuntime.create({engine})`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnginePreference {
    /// Pick by capability and measurement (the default).
    #[default]
    Auto,
    /// wonnx on WebGPU only (no CPU fallback).
    Webgpu,
    /// tract on the CPU only.
    Cpu,
}

/// The browser's engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineKind {
    /// wonnx on WebGPU.
    #[serde(rename = "wonnx-webgpu")]
    WonnxWebgpu,
    /// tract-onnx compiled to wasm32 with SIMD, on the CPU.
    #[serde(rename = "tract-wasm")]
    TractWasm,
}

impl EngineKind {
    /// The name answers report as `engine`.
    pub fn name(self) -> &'static str {
        match self {
            Self::WonnxWebgpu => "wonnx-webgpu",
            Self::TractWasm => "tract-wasm",
        }
    }

    /// Reads a name written by [`Self::name`] (a cached calibration).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::WonnxWebgpu, Self::TractWasm]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// What WebGPU can do for this model.
#[derive(Debug, Clone, PartialEq)]
pub enum Webgpu {
    /// wonnx can run it on this adapter; `software`: the adapter is a fallback (CPU) one.
    Usable {
        /// `GPUAdapterInfo.isFallbackAdapter`.
        software: bool,
    },
    /// It cannot, and why (`no-webgpu`, `no-adapter`, `limits-exceeded`, `op-unsupported`).
    Unusable(RuntimeError),
}

/// How to load a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The engine to build first.
    pub first: EngineKind,
    /// Time both engines on this model and keep the faster (then cache the result).
    pub calibrate: bool,
    /// The engine to try when `first` fails to build, to pass the self-test or to run.
    pub fallback: Option<EngineKind>,
    /// Why not WebGPU, when `first` is the CPU engine by rule: a fallback code
    /// (`no-webgpu`, `op-unsupported`, …), `software-adapter` or `engine-cpu-requested`.
    pub reason: Option<&'static str>,
}

/// Decides the plan. `cached`: the engine an earlier calibration picked for this model version
/// on this adapter. `calibrate_software`: testing only, treat a software adapter as a GPU.
pub fn plan(
    preference: EnginePreference,
    webgpu: &Webgpu,
    cached: Option<EngineKind>,
    calibrate_software: bool,
) -> Result<Plan, RuntimeError> {
    let cpu = |reason| Plan {
        first: EngineKind::TractWasm,
        calibrate: false,
        fallback: None,
        reason: Some(reason),
    };
    match (preference, webgpu) {
        (EnginePreference::Cpu, _) => Ok(cpu("engine-cpu-requested")),
        (EnginePreference::Webgpu, Webgpu::Unusable(error)) => Err(error.clone()),
        (EnginePreference::Webgpu, Webgpu::Usable { .. }) => Ok(Plan {
            first: EngineKind::WonnxWebgpu,
            calibrate: false,
            fallback: None,
            reason: None,
        }),
        (EnginePreference::Auto, Webgpu::Unusable(error)) => Ok(cpu(error.code())),
        // Should the CPU engine fail to load (its module not cached, offline), the software
        // adapter still answers, slowly.
        (EnginePreference::Auto, Webgpu::Usable { software: true }) if !calibrate_software => {
            Ok(Plan {
                fallback: Some(EngineKind::WonnxWebgpu),
                ..cpu("software-adapter")
            })
        }
        (EnginePreference::Auto, Webgpu::Usable { .. }) => Ok(match cached {
            Some(kind) => Plan {
                first: kind,
                calibrate: false,
                fallback: Some(other(kind)),
                reason: None,
            },
            None => Plan {
                first: EngineKind::WonnxWebgpu,
                calibrate: true,
                fallback: Some(EngineKind::TractWasm),
                reason: None,
            },
        }),
    }
}

fn other(kind: EngineKind) -> EngineKind {
    match kind {
        EngineKind::WonnxWebgpu => EngineKind::TractWasm,
        EngineKind::TractWasm => EngineKind::WonnxWebgpu,
    }
}

/// The calibration's verdict: the engine with the lower median run time (`None` times: that
/// engine failed). Ties go to WebGPU (it leaves the CPU to the page).
pub fn faster(webgpu_ms: Option<f64>, cpu_ms: Option<f64>) -> Option<EngineKind> {
    match (webgpu_ms, cpu_ms) {
        (Some(gpu), Some(cpu)) if cpu < gpu => Some(EngineKind::TractWasm),
        (Some(_), _) => Some(EngineKind::WonnxWebgpu),
        (None, Some(_)) => Some(EngineKind::TractWasm),
        (None, None) => None,
    }
}

/// The median of `samples` (milliseconds); `None` when empty.
pub fn median(samples: &mut [f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const GPU: Webgpu = Webgpu::Usable { software: false };
    const SWIFTSHADER: Webgpu = Webgpu::Usable { software: true };

    fn softmax() -> Webgpu {
        Webgpu::Unusable(RuntimeError::OpUnsupported {
            model: "clf".into(),
            op: "Softmax".into(),
            why: "broken",
        })
    }

    #[test]
    fn without_usable_webgpu_auto_runs_on_the_cpu_and_says_why() {
        for (webgpu, why) in [
            (Webgpu::Unusable(RuntimeError::NoWebgpu), "no-webgpu"),
            (
                Webgpu::Unusable(RuntimeError::NoAdapter("x".into())),
                "no-adapter",
            ),
            (softmax(), "op-unsupported"),
            (SWIFTSHADER, "software-adapter"),
        ] {
            let plan = plan(EnginePreference::Auto, &webgpu, None, false).unwrap();
            assert_eq!(plan.first, EngineKind::TractWasm, "{why}");
            assert_eq!(plan.reason, Some(why));
            assert!(!plan.calibrate);
            let fallback = (why == "software-adapter").then_some(EngineKind::WonnxWebgpu);
            assert_eq!(plan.fallback, fallback, "{why}");
        }
    }

    #[test]
    fn forcing_webgpu_keeps_the_capability_error_and_forcing_cpu_ignores_webgpu() {
        let error = plan(EnginePreference::Webgpu, &softmax(), None, false).unwrap_err();
        assert_eq!(error.code(), "op-unsupported");
        let forced = plan(EnginePreference::Webgpu, &SWIFTSHADER, None, false).unwrap();
        assert_eq!(
            (forced.first, forced.fallback),
            (EngineKind::WonnxWebgpu, None)
        );
        let cpu = plan(
            EnginePreference::Cpu,
            &GPU,
            Some(EngineKind::WonnxWebgpu),
            false,
        )
        .unwrap();
        assert_eq!(cpu.first, EngineKind::TractWasm);
        assert_eq!(cpu.reason, Some("engine-cpu-requested"));
    }

    #[test]
    fn a_real_gpu_is_calibrated_once_then_the_cached_verdict_is_used() {
        let first = plan(EnginePreference::Auto, &GPU, None, false).unwrap();
        assert_eq!(first.first, EngineKind::WonnxWebgpu);
        assert!(first.calibrate);
        assert_eq!(first.fallback, Some(EngineKind::TractWasm));
        let cached = plan(
            EnginePreference::Auto,
            &GPU,
            Some(EngineKind::TractWasm),
            false,
        )
        .unwrap();
        assert_eq!(cached.first, EngineKind::TractWasm);
        assert!(!cached.calibrate);
        assert_eq!(cached.fallback, Some(EngineKind::WonnxWebgpu));
        // Testing only: a software adapter calibrated like a GPU.
        assert!(
            plan(EnginePreference::Auto, &SWIFTSHADER, None, true)
                .unwrap()
                .calibrate
        );
    }

    #[test]
    fn the_faster_engine_wins_and_a_failed_one_never_does() {
        assert_eq!(faster(Some(70.0), Some(0.8)), Some(EngineKind::TractWasm));
        assert_eq!(faster(Some(0.5), Some(0.8)), Some(EngineKind::WonnxWebgpu));
        assert_eq!(faster(Some(1.0), Some(1.0)), Some(EngineKind::WonnxWebgpu));
        assert_eq!(faster(None, Some(3.0)), Some(EngineKind::TractWasm));
        assert_eq!(faster(Some(3.0), None), Some(EngineKind::WonnxWebgpu));
        assert_eq!(faster(None, None), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn engine_names_round_trip_and_preferences_parse() {
        for kind in [EngineKind::WonnxWebgpu, EngineKind::TractWasm] {
            assert_eq!(EngineKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(EngineKind::from_name("tract-native"), None);
        let parsed: EnginePreference = serde_json::from_str("\"cpu\"").unwrap();
        assert_eq!(parsed, EnginePreference::Cpu);
        assert!(serde_json::from_str::<EnginePreference>("\"gpu\"").is_err());
    }
}
