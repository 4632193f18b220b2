//! The edge's inference engines, behind `tessera_onnx::engine`'s seam, and how one is chosen.
//!
//! - `tract` ([`TRACT_NATIVE`], `"tract-native"`): tract-onnx on the CPU, in-process. What CPU
//!   machines run: ~0.5 ms per demo-recommender inference where wonnx on Mesa lavapipe (a
//!   software Vulkan driver) needs tens of milliseconds.
//! - `wonnx` ([`WONNX_WGPU`], `"wonnx-wgpu"`): wonnx on native wgpu (Vulkan, Metal, DX12). Named
//!   `-wgpu`, not `-webgpu`, because the edge drives the GPU through wgpu's native backends; the
//!   browser's wonnx on WebGPU reports `"wonnx-webgpu"`.
//!
//! [`EngineChoice::Auto`] probes wgpu for an adapter the way wonnx picks one (`WGPU_BACKEND`,
//! `WGPU_ADAPTER_NAME`) and takes wonnx only for a real GPU (`AdapterInfo::device_type` other
//! than `Cpu`: lavapipe and other software rasterizers report `Cpu`), else tract.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "inference")]
pub(crate) mod wonnx;

/// The name `tract` reports in answers and metrics.
pub const TRACT_NATIVE: &str = "tract-native";
/// The name wonnx on the edge reports in answers and metrics.
pub const WONNX_WGPU: &str = "wonnx-wgpu";

/// Which engine runs models (`tessera serve --engine auto|tract|wonnx`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineChoice {
    /// tract, unless wgpu finds a GPU adapter that is not a CPU (software) one: then wonnx.
    #[default]
    Auto,
    /// tract-onnx on the CPU.
    Tract,
    /// wonnx on wgpu (Mesa lavapipe on machines without a GPU).
    Wonnx,
}

impl EngineChoice {
    /// The name `--engine` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Tract => "tract",
            Self::Wonnx => "wonnx",
        }
    }
}

impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine name that is not `auto`, `tract` or `wonnx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown inference engine {0:?}: expected auto, tract or wonnx")]
pub struct UnknownEngine(String);

impl FromStr for EngineChoice {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "tract" => Ok(Self::Tract),
            "wonnx" => Ok(Self::Wonnx),
            other => Err(UnknownEngine(other.to_owned())),
        }
    }
}

/// The engine a pool runs, once [`EngineChoice::Auto`] is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineKind {
    Tract,
    Wonnx,
}

impl EngineKind {
    /// The name reported in answers and metrics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Tract => TRACT_NATIVE,
            Self::Wonnx => WONNX_WGPU,
        }
    }

    /// Workers when none are configured: one per core for the CPU engine (each runs one
    /// inference at a time on its own session); one for wonnx (a GPU device serializes work
    /// anyway, and every worker holds its own device).
    pub(crate) fn default_workers(self) -> usize {
        match self {
            Self::Tract => std::thread::available_parallelism().map_or(1, usize::from),
            Self::Wonnx => 1,
        }
    }

    /// Resolves `choice` (probing wgpu for `auto`). Blocking: call it off the async runtime.
    pub(crate) fn resolve(choice: EngineChoice) -> Self {
        match choice {
            EngineChoice::Tract => Self::Tract,
            EngineChoice::Wonnx => Self::Wonnx,
            EngineChoice::Auto => Self::auto(),
        }
    }

    #[cfg(feature = "inference")]
    fn auto() -> Self {
        match wonnx::probe() {
            Ok(info) if info.device_type != ::wgpu::DeviceType::Cpu => {
                tracing::info!(adapter = %info.name, device_type = ?info.device_type, "engine auto: a GPU adapter was found; using wonnx");
                Self::Wonnx
            }
            Ok(info) => {
                tracing::info!(adapter = %info.name, "engine auto: the only adapter is a CPU one; using tract");
                Self::Tract
            }
            Err(reason) => {
                tracing::info!(%reason, "engine auto: no GPU adapter; using tract");
                Self::Tract
            }
        }
    }

    #[cfg(not(feature = "inference"))]
    fn auto() -> Self {
        Self::Tract
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_print_their_cli_names() {
        for choice in [EngineChoice::Auto, EngineChoice::Tract, EngineChoice::Wonnx] {
            assert_eq!(choice.as_str().parse::<EngineChoice>().unwrap(), choice);
            assert_eq!(choice.to_string(), choice.as_str());
        }
        assert!("onnxruntime".parse::<EngineChoice>().is_err());
        assert_eq!(EngineChoice::default(), EngineChoice::Auto);
    }

    #[test]
    fn cpu_workers_follow_the_cores_and_wonnx_gets_one() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(EngineKind::Tract.default_workers(), cores);
        assert_eq!(EngineKind::Wonnx.default_workers(), 1);
    }
}
