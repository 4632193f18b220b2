//! The engine calibration on a real GPU (wasm32 only): both engines build and self-test the
//! model, each runs its first known-answer vector's inputs a few times, and the faster one (by
//! median, `crate::engine_choice::faster`) keeps the model; the verdict is kept in Cache
//! Storage per (model, version, adapter), so the next load of that version on that GPU builds
//! one engine only. Rules live in `crate::engine_choice`; this only times and stores.

use serde::Serialize;
use tessera_core::layout::ModelName;
use tessera_core::selftest;

use super::fetch::{cache_get, cache_put};
use super::{now_ms, Inner, LoadTimings, Loaded, Spec};
use crate::engine_choice::{faster, median, EngineKind};
use crate::error::RuntimeError;

/// The Cache Storage cache holding calibration verdicts.
pub const CALIBRATION_CACHE: &str = "tessera-runtime-engines";

/// Timed runs per engine (after one warm-up run).
const RUNS: usize = 5;

/// What a load reports about the calibration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CalibrationView {
    /// Median ms per run on WebGPU (`None`: it failed, or the verdict was cached).
    webgpu_ms: Option<f64>,
    /// Median ms per run on the CPU engine.
    cpu_ms: Option<f64>,
    /// The engine picked.
    picked: &'static str,
    /// Read from an earlier calibration of this version on this adapter.
    cached: bool,
}

impl CalibrationView {
    pub(super) fn cached(kind: EngineKind) -> Self {
        Self {
            webgpu_ms: None,
            cpu_ms: None,
            picked: kind.name(),
            cached: true,
        }
    }

    /// Why the CPU engine runs the model after this calibration.
    pub(super) fn reason(&self) -> &'static str {
        if self.webgpu_ms.is_none() {
            "webgpu-failed-calibration"
        } else {
            "calibrated-faster"
        }
    }
}

/// Where the verdict for `model` at `version` on the adapter `identity` is kept (a URL under
/// the models base: Cache Storage keys are URLs).
pub(super) fn key(
    base: &str,
    model: &ModelName,
    version: &semver::Version,
    identity: &str,
) -> String {
    let adapter: String = identity
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{base}_engine/{model}/{version}?adapter={adapter}")
}

/// The verdict kept at `key`.
pub(super) async fn cached(key: &str) -> Option<EngineKind> {
    let bytes = cache_get(CALIBRATION_CACHE, key).await?;
    EngineKind::from_name(std::str::from_utf8(&bytes).ok()?)
}

/// Keeps `kind` as the verdict at `key` (best effort: else the next load calibrates again).
pub(super) async fn keep(key: &str, kind: EngineKind) {
    cache_put(CALIBRATION_CACHE, key, kind.name().as_bytes()).await;
}

impl Inner {
    /// Builds and self-tests the model on both engines, times them, and keeps the faster.
    /// Fails only when neither engine can run it (with WebGPU's error).
    pub(super) async fn calibrate(
        &self,
        spec: &Spec<'_>,
        timings: &mut LoadTimings,
    ) -> Result<(Loaded, CalibrationView), RuntimeError> {
        let gpu = self.prepare(EngineKind::WonnxWebgpu, spec, timings).await;
        let cpu = self.prepare(EngineKind::TractWasm, spec, timings).await;
        let (gpu, cpu) = match (gpu, cpu) {
            (Err(error), Err(_)) => return Err(error),
            (gpu, cpu) => (gpu.ok(), cpu.ok()),
        };
        let webgpu_ms = match &gpu {
            Some(loaded) => self.time(spec, loaded).await,
            None => None,
        };
        let cpu_ms = match &cpu {
            Some(loaded) => self.time(spec, loaded).await,
            None => None,
        };
        // With no vector to time, WebGPU (when it built) is kept, as before calibration.
        let picked = faster(webgpu_ms, cpu_ms).unwrap_or(if gpu.is_some() {
            EngineKind::WonnxWebgpu
        } else {
            EngineKind::TractWasm
        });
        let view = CalibrationView {
            webgpu_ms,
            cpu_ms,
            picked: picked.name(),
            cached: false,
        };
        let loaded = match picked {
            EngineKind::WonnxWebgpu => gpu.or(cpu),
            EngineKind::TractWasm => cpu.or(gpu),
        }
        .ok_or_else(|| RuntimeError::Session {
            model: spec.name.to_owned(),
            engine: picked.name(),
            detail: "no engine built the model".into(),
        })?;
        Ok((loaded, view))
    }

    /// The median ms of [`RUNS`] runs of the first vector's inputs after a warm-up; `None`
    /// when the manifest has no vector or a run fails.
    async fn time(&self, spec: &Spec<'_>, loaded: &Loaded) -> Option<f64> {
        let vector = spec.manifest.test_vectors.first()?;
        let inputs = selftest::request(vector).validate(&loaded.inputs).ok()?;
        self.run_loaded(spec.name, loaded, &inputs).await.ok()?;
        let mut samples = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = now_ms();
            self.run_loaded(spec.name, loaded, &inputs).await.ok()?;
            samples.push(now_ms() - started);
        }
        median(&mut samples)
    }
}
