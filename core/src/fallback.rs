//! Where an inference runs: the per-model fallback state machine that picks the browser
//! (`local`, wonnx on WebGPU) or the edge server for each request, from a [`Policy`], the local
//! runtime's health, the network state, measured latencies and past outcomes.
//!
//! It does no IO and keeps no clock: `now_ms` (any monotonic milliseconds) is an argument, and
//! decisions are return values. It does not run, time or cancel anything; the runtime's client
//! carries out a [`Decision`], then reports what happened with [`ModelRouter::record_answer`],
//! [`ModelRouter::record_failure`] and asks [`Plan::after_failure`] what to do next.
//!
//! Call order for one request:
//!
//! 1. [`ModelRouter::decide`] → a [`Decision`]: a [`Plan`] and the [`Reason`] the answer will
//!    not come from where the policy puts it first (reported to the page as `fallbackReason`).
//! 2. Run the plan's first side (both for [`Plan::Race`]). On an answer, call
//!    [`ModelRouter::record_answer`]; the request is done. On a failure, call
//!    [`ModelRouter::record_failure`] and [`Plan::after_failure`], which names the side to try
//!    next (or [`Plan::Unavailable`]) with the failure as the reason.
//!
//! Every policy, reason and plan has a stable kebab-case code ([`Policy::code`],
//! [`Reason::code`], [`Plan::code`]) that pages and tests switch on.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::ErrorCode;

/// How a page wants its requests placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Policy {
    /// `local-only`: only in the browser; never the network.
    LocalOnly,
    /// `prefer-local` (the default): in the browser while the local runtime is usable, on the
    /// edge when it is not or when a local attempt fails.
    #[default]
    PreferLocal,
    /// `prefer-edge`: on the edge; in the browser when offline or when the edge attempt fails.
    PreferEdge,
    /// `edge-only`: only on the edge.
    EdgeOnly,
    /// `race`: both at once; the first valid answer wins and the other attempt is cancelled.
    Race,
    /// `auto`: the side with the lower moving-average latency, re-measuring the slower side
    /// every [`RouterConfig::reprobe_interval_ms`].
    Auto,
}

/// Why a local attempt failed, or why the local runtime is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalFault {
    /// `no-webgpu`: the worker has no `navigator.gpu`.
    NoWebgpu,
    /// `no-adapter`: `requestAdapter()` gave no adapter.
    NoAdapter,
    /// `limits-exceeded`: the adapter's limits are below what the model needs.
    LimitsExceeded,
    /// `op-unsupported`: the model uses an operator not known to work in browsers.
    OpUnsupported,
    /// `local-load-failed`: fetching or verifying the model, or building its session, failed.
    LoadFailed,
    /// `local-self-test-failed`: the session's answers to the manifest's known-answer vectors
    /// are outside tolerance.
    SelfTestFailed,
    /// `worker-crashed`: the runtime worker died (a wasm trap); it is respawned.
    WorkerCrashed,
    /// `local-run-failed`: one inference failed in the browser.
    RunFailed,
    /// `local-timeout`: a local inference did not answer in time.
    Timeout,
    /// `webgpu-shader-compile-failed`: the browser's WebGPU rejected a shader of the model's
    /// session (its answers would be garbage, typically zeros).
    ShaderCompileFailed,
    /// `webgpu-validation-error`: the browser's WebGPU reported a validation error while the
    /// session was built or run.
    ValidationError,
    /// `webgpu-device-lost`: the session's WebGPU device was lost (a GPU reset or driver
    /// crash); a new session on a new device may work.
    DeviceLost,
    /// `local-offline`: the model (or the runtime worker's script) could not be fetched because
    /// the browser is offline. Caused by the network, not the runtime: it clears as soon as the
    /// network is back (the next decision made online, or [`ModelRouter::network_changed`]).
    Offline,
}

/// Why an edge attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EdgeFault {
    /// `edge-unreachable`: the request did not reach the edge (network error).
    Unreachable,
    /// `edge-timeout`: the edge did not answer in time.
    Timeout,
    /// `edge-rejected`: the edge answered with an error status.
    Rejected,
}

/// A failed attempt on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// The browser attempt failed.
    Local(LocalFault),
    /// The edge attempt failed.
    Edge(EdgeFault),
}

/// Why a request is not answered where its policy puts it first (`fallbackReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The local runtime is unusable or its attempt failed.
    Local(LocalFault),
    /// The edge attempt failed.
    Edge(EdgeFault),
    /// `offline`: the browser is offline, so the edge cannot be asked.
    Offline,
    /// `edge-faster`: `auto` measured the edge as faster than the browser.
    EdgeFaster,
    /// `reprobe-edge`: `auto` sends this request to the edge to measure it again (or for the
    /// first time).
    ReprobeEdge,
}

/// One side of the fallback: the browser or the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// `local`: the runtime worker in the browser (wonnx on WebGPU or tract on the CPU).
    Local,
    /// `edge`: `POST /v1/models/<name>/infer`.
    Edge,
}

/// The local runtime's health as the router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Not checked yet: a local attempt will find out.
    Unknown,
    /// The capability check and self-test passed, or a local run answered.
    Healthy,
    /// Unusable, for this reason.
    Unhealthy(LocalFault),
}

/// Whether the browser can reach the network (`navigator.onLine` and recent fetches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Online.
    Online,
    /// Offline: the edge cannot be reached.
    Offline,
}

/// What to do for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Plan {
    /// `local`: the browser only.
    Local,
    /// `edge`: the edge only.
    Edge,
    /// `local-then-edge`: the browser; the edge if that fails.
    LocalThenEdge,
    /// `edge-then-local`: the edge; the browser if that fails.
    EdgeThenLocal,
    /// `race`: both at once; the first answer wins, the other is cancelled.
    Race,
    /// `unavailable`: nowhere can answer; fail the request with the decision's reason.
    Unavailable,
}

/// A plan and why it deviates from the policy's first choice (`None` when it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// What to do.
    pub plan: Plan,
    /// Reported as `fallbackReason` when the answer comes from the plan.
    pub reason: Option<Reason>,
}

/// A code that names no policy or reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FallbackError {
    /// Not one of the [`Policy`] codes.
    #[error("unknown inference policy {0:?} (use local-only, prefer-local, prefer-edge, edge-only, race or auto)")]
    UnknownPolicy(String),
    /// Not one of the [`LocalFault`] or [`EdgeFault`] codes.
    #[error("unknown failure code {0:?}")]
    UnknownFailure(String),
    /// Not one of the [`Plan`] codes.
    #[error("unknown plan {0:?}")]
    UnknownPlan(String),
    /// Not one of the [`Side`] codes.
    #[error("unknown side {0:?} (use local or edge)")]
    UnknownSide(String),
}

impl ErrorCode for FallbackError {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownPolicy(_) => "policy-unknown",
            Self::UnknownFailure(_) => "failure-unknown",
            Self::UnknownPlan(_) => "plan-unknown",
            Self::UnknownSide(_) => "side-unknown",
        }
    }
}

/// Tuning of [`ModelRouter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterConfig {
    /// Weight of a new latency sample in the moving average (0 < α ≤ 1).
    pub ema_alpha: f64,
    /// `auto` sends one request to the slower side when its last sample is this old.
    pub reprobe_interval_ms: u64,
    /// A transient local fault ([`LocalFault::is_permanent`] false) makes the local runtime
    /// unhealthy for this long; then it is tried again.
    pub local_retry_ms: u64,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            ema_alpha: 0.3,
            reprobe_interval_ms: 30_000,
            local_retry_ms: 60_000,
        }
    }
}

/// Measured latency of one side of one model.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyStats {
    /// Exponential moving average of answered requests' latency (failures double it).
    pub ema_ms: Option<f64>,
    /// The latest answered request's latency.
    pub last_ms: Option<f64>,
    /// Fastest answer seen.
    pub min_ms: Option<f64>,
    /// Answers recorded.
    pub answers: u64,
    /// Failures recorded.
    pub failures: u64,
    /// When the latest answer or failure was recorded (`now_ms`).
    pub last_at_ms: Option<u64>,
}

/// The fallback state of one model: local health and both sides' latency statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRouter {
    config: RouterConfig,
    health: Health,
    /// When `health` was last set (to expire transient faults).
    health_since_ms: u64,
    local: LatencyStats,
    edge: LatencyStats,
}

impl ModelRouter {
    /// A model nothing is known about yet (health [`Health::Unknown`]).
    pub fn new(config: RouterConfig) -> Self {
        Self {
            config,
            health: Health::Unknown,
            health_since_ms: 0,
            local: LatencyStats::default(),
            edge: LatencyStats::default(),
        }
    }

    /// The local runtime's health at `now_ms`: a transient fault older than
    /// [`RouterConfig::local_retry_ms`] reads as [`Health::Unknown`] (worth trying again).
    pub fn health(&self, now_ms: u64) -> Health {
        match self.health {
            Health::Unhealthy(fault)
                if !fault.is_permanent()
                    && now_ms.saturating_sub(self.health_since_ms)
                        >= self.config.local_retry_ms =>
            {
                Health::Unknown
            }
            health => health,
        }
    }

    /// Sets the local health from a capability check, a self-test or a crashed worker.
    pub fn set_health(&mut self, health: Health, now_ms: u64) {
        self.health = health;
        self.health_since_ms = now_ms;
    }

    /// Latency statistics of one side.
    pub fn stats(&self, side: Side) -> &LatencyStats {
        match side {
            Side::Local => &self.local,
            Side::Edge => &self.edge,
        }
    }

    /// The browser went online or offline. Back online, a fault the network caused
    /// ([`LocalFault::Offline`]) is forgotten: the local runtime is worth trying again now.
    pub fn network_changed(&mut self, network: Network, now_ms: u64) {
        if network == Network::Online && self.health == Health::Unhealthy(LocalFault::Offline) {
            self.set_health(Health::Unknown, now_ms);
        }
    }

    /// Decides where the next request runs under `policy`. An [`LocalFault::Offline`] fault
    /// does not count while `network` is online.
    pub fn decide(&self, policy: Policy, network: Network, now_ms: u64) -> Decision {
        let online = network == Network::Online;
        let local_fault = match self.health(now_ms) {
            Health::Unhealthy(LocalFault::Offline) if online => None,
            Health::Unhealthy(fault) => Some(fault),
            Health::Unknown | Health::Healthy => None,
        };
        let decision = |plan, reason| Decision { plan, reason };
        let unhealthy = |fault| Some(Reason::Local(fault));
        match (policy, local_fault, online) {
            (Policy::LocalOnly, None, _) => decision(Plan::Local, None),
            (Policy::LocalOnly, Some(fault), _) => decision(Plan::Unavailable, unhealthy(fault)),

            (Policy::EdgeOnly, _, true) => decision(Plan::Edge, None),
            (Policy::EdgeOnly, _, false) => decision(Plan::Unavailable, Some(Reason::Offline)),

            (Policy::PreferLocal, None, true) => decision(Plan::LocalThenEdge, None),
            (Policy::PreferLocal, None, false) => decision(Plan::Local, None),
            (Policy::PreferLocal, Some(fault), true) => decision(Plan::Edge, unhealthy(fault)),
            (Policy::PreferLocal, Some(fault), false) => {
                decision(Plan::Unavailable, unhealthy(fault))
            }

            (Policy::PreferEdge, None, true) => decision(Plan::EdgeThenLocal, None),
            (Policy::PreferEdge, Some(_), true) => decision(Plan::Edge, None),
            (Policy::PreferEdge, None, false) => decision(Plan::Local, Some(Reason::Offline)),
            (Policy::PreferEdge, Some(_), false) => {
                decision(Plan::Unavailable, Some(Reason::Offline))
            }

            (Policy::Race, None, true) => decision(Plan::Race, None),
            (Policy::Race, Some(fault), true) => decision(Plan::Edge, unhealthy(fault)),
            (Policy::Race, None, false) => decision(Plan::Local, Some(Reason::Offline)),
            (Policy::Race, Some(_), false) => decision(Plan::Unavailable, Some(Reason::Offline)),

            (Policy::Auto, None, true) => self.auto(now_ms),
            (Policy::Auto, None, false) => decision(Plan::Local, None),
            (Policy::Auto, Some(fault), true) => decision(Plan::Edge, unhealthy(fault)),
            (Policy::Auto, Some(fault), false) => decision(Plan::Unavailable, unhealthy(fault)),
        }
    }

    /// Records an answer from `side` that took `latency_ms`. A local answer makes the local
    /// runtime healthy.
    pub fn record_answer(&mut self, side: Side, latency_ms: f64, now_ms: u64) {
        // A weight outside (0, 1] (or NaN) would stall or corrupt the average: use the sample.
        let alpha = match self.config.ema_alpha {
            a if a > 0.0 && a <= 1.0 => a,
            _ => 1.0,
        };
        let latency_ms = if latency_ms.is_finite() {
            latency_ms.max(0.0)
        } else {
            return;
        };
        let stats = self.stats_mut(side);
        stats.ema_ms = Some(match stats.ema_ms {
            Some(ema) => ema + alpha * (latency_ms - ema),
            None => latency_ms,
        });
        stats.last_ms = Some(latency_ms);
        stats.min_ms = Some(stats.min_ms.map_or(latency_ms, |m| m.min(latency_ms)));
        stats.answers += 1;
        stats.last_at_ms = Some(now_ms);
        if side == Side::Local {
            self.set_health(Health::Healthy, now_ms);
        }
    }

    /// Records a failed attempt: it doubles that side's moving average (so `auto` turns away
    /// from a failing side), and a local fault makes the local runtime unhealthy.
    pub fn record_failure(&mut self, failure: Failure, now_ms: u64) {
        let stats = self.stats_mut(failure.side());
        stats.ema_ms = stats.ema_ms.map(|ema| ema * 2.0);
        stats.failures += 1;
        stats.last_at_ms = Some(now_ms);
        if let Failure::Local(fault) = failure {
            self.set_health(Health::Unhealthy(fault), now_ms);
        }
    }

    /// `auto` while online with a usable local runtime: measure what is unmeasured, re-probe
    /// the slower side when its sample is stale, else the faster side.
    fn auto(&self, now_ms: u64) -> Decision {
        let (Some(local), Some(edge)) = (self.local.ema_ms, self.edge.ema_ms) else {
            return if self.local.ema_ms.is_none() {
                Decision {
                    plan: Plan::LocalThenEdge,
                    reason: None,
                }
            } else {
                Decision {
                    plan: Plan::EdgeThenLocal,
                    reason: Some(Reason::ReprobeEdge),
                }
            };
        };
        let slower = if local <= edge {
            Side::Edge
        } else {
            Side::Local
        };
        let stale = self
            .stats(slower)
            .last_at_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= self.config.reprobe_interval_ms);
        match (slower, stale) {
            (Side::Edge, true) => Decision {
                plan: Plan::EdgeThenLocal,
                reason: Some(Reason::ReprobeEdge),
            },
            (Side::Local, true) | (Side::Edge, false) => Decision {
                plan: Plan::LocalThenEdge,
                reason: None,
            },
            (Side::Local, false) => Decision {
                plan: Plan::EdgeThenLocal,
                reason: Some(Reason::EdgeFaster),
            },
        }
    }

    fn stats_mut(&mut self, side: Side) -> &mut LatencyStats {
        match side {
            Side::Local => &mut self.local,
            Side::Edge => &mut self.edge,
        }
    }
}

impl Default for ModelRouter {
    fn default() -> Self {
        Self::new(RouterConfig::default())
    }
}

impl Plan {
    /// Every plan.
    pub const ALL: [Self; 6] = [
        Self::Local,
        Self::Edge,
        Self::LocalThenEdge,
        Self::EdgeThenLocal,
        Self::Race,
        Self::Unavailable,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Edge => "edge",
            Self::LocalThenEdge => "local-then-edge",
            Self::EdgeThenLocal => "edge-then-local",
            Self::Race => "race",
            Self::Unavailable => "unavailable",
        }
    }

    /// The sides to start first: one, both (race) or none (unavailable).
    pub fn start(self) -> &'static [Side] {
        match self {
            Self::Local | Self::LocalThenEdge => &[Side::Local],
            Self::Edge | Self::EdgeThenLocal => &[Side::Edge],
            Self::Race => &[Side::Local, Side::Edge],
            Self::Unavailable => &[],
        }
    }

    /// What to do after `failure` while carrying out this plan: the other side when the plan
    /// has it as a fallback (for a race: keep waiting for the other side), else
    /// [`Plan::Unavailable`]; the failure becomes the reason.
    pub fn after_failure(self, failure: Failure) -> Decision {
        let next = match (self, failure.side()) {
            (Self::LocalThenEdge | Self::Race, Side::Local) => Plan::Edge,
            (Self::EdgeThenLocal | Self::Race, Side::Edge) => Plan::Local,
            _ => Plan::Unavailable,
        };
        Decision {
            plan: next,
            reason: Some(failure.into()),
        }
    }
}

impl FromStr for Plan {
    type Err = FallbackError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.code() == code)
            .ok_or_else(|| FallbackError::UnknownPlan(code.to_owned()))
    }
}

impl FromStr for Side {
    type Err = FallbackError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        [Self::Local, Self::Edge]
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or_else(|| FallbackError::UnknownSide(code.to_owned()))
    }
}

impl Side {
    /// Stable code (`local`, `edge`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Edge => "edge",
        }
    }
}

impl Policy {
    /// Every policy.
    pub const ALL: [Self; 6] = [
        Self::LocalOnly,
        Self::PreferLocal,
        Self::PreferEdge,
        Self::EdgeOnly,
        Self::Race,
        Self::Auto,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::LocalOnly => "local-only",
            Self::PreferLocal => "prefer-local",
            Self::PreferEdge => "prefer-edge",
            Self::EdgeOnly => "edge-only",
            Self::Race => "race",
            Self::Auto => "auto",
        }
    }
}

impl FromStr for Policy {
    type Err = FallbackError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.code() == code)
            .ok_or_else(|| FallbackError::UnknownPolicy(code.to_owned()))
    }
}

impl LocalFault {
    /// Every local fault.
    pub const ALL: [Self; 13] = [
        Self::NoWebgpu,
        Self::NoAdapter,
        Self::LimitsExceeded,
        Self::OpUnsupported,
        Self::LoadFailed,
        Self::SelfTestFailed,
        Self::WorkerCrashed,
        Self::RunFailed,
        Self::Timeout,
        Self::ShaderCompileFailed,
        Self::ValidationError,
        Self::DeviceLost,
        Self::Offline,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoWebgpu => "no-webgpu",
            Self::NoAdapter => "no-adapter",
            Self::LimitsExceeded => "limits-exceeded",
            Self::OpUnsupported => "op-unsupported",
            Self::LoadFailed => "local-load-failed",
            Self::SelfTestFailed => "local-self-test-failed",
            Self::WorkerCrashed => "worker-crashed",
            Self::RunFailed => "local-run-failed",
            Self::Timeout => "local-timeout",
            Self::ShaderCompileFailed => "webgpu-shader-compile-failed",
            Self::ValidationError => "webgpu-validation-error",
            Self::DeviceLost => "webgpu-device-lost",
            Self::Offline => "local-offline",
        }
    }

    /// Whether the fault lasts as long as the page (the browser, adapter or model will not
    /// change); transient faults are retried after [`RouterConfig::local_retry_ms`] (and
    /// [`LocalFault::Offline`] as soon as the browser is online).
    pub fn is_permanent(self) -> bool {
        match self {
            Self::NoWebgpu
            | Self::NoAdapter
            | Self::LimitsExceeded
            | Self::OpUnsupported
            | Self::SelfTestFailed
            | Self::ShaderCompileFailed
            | Self::ValidationError => true,
            Self::LoadFailed
            | Self::WorkerCrashed
            | Self::RunFailed
            | Self::Timeout
            | Self::DeviceLost
            | Self::Offline => false,
        }
    }
}

impl EdgeFault {
    /// Every edge fault.
    pub const ALL: [Self; 3] = [Self::Unreachable, Self::Timeout, Self::Rejected];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unreachable => "edge-unreachable",
            Self::Timeout => "edge-timeout",
            Self::Rejected => "edge-rejected",
        }
    }
}

impl Failure {
    /// The side that failed.
    pub fn side(self) -> Side {
        match self {
            Self::Local(_) => Side::Local,
            Self::Edge(_) => Side::Edge,
        }
    }

    /// Stable code (the fault's).
    pub fn code(self) -> &'static str {
        match self {
            Self::Local(fault) => fault.code(),
            Self::Edge(fault) => fault.code(),
        }
    }
}

impl FromStr for Failure {
    type Err = FallbackError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        LocalFault::ALL
            .into_iter()
            .map(Self::Local)
            .chain(EdgeFault::ALL.into_iter().map(Self::Edge))
            .find(|f| f.code() == code)
            .ok_or_else(|| FallbackError::UnknownFailure(code.to_owned()))
    }
}

impl From<Failure> for Reason {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Local(fault) => Self::Local(fault),
            Failure::Edge(fault) => Self::Edge(fault),
        }
    }
}

impl Reason {
    /// Stable code (`fallbackReason`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Local(fault) => fault.code(),
            Self::Edge(fault) => fault.code(),
            Self::Offline => "offline",
            Self::EdgeFaster => "edge-faster",
            Self::ReprobeEdge => "reprobe-edge",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const ON: Network = Network::Online;
    const OFF: Network = Network::Offline;

    fn router_with(health: Health) -> ModelRouter {
        let mut router = ModelRouter::default();
        router.set_health(health, 0);
        router
    }

    fn codes(decision: Decision) -> (&'static str, Option<&'static str>) {
        (decision.plan.code(), decision.reason.map(Reason::code))
    }

    /// Every policy × health (unknown, healthy, unhealthy) × network, with no latency measured:
    /// the plan and `fallbackReason` codes. `U` stands for the unhealthy fault's own code.
    const TABLE: &[(&str, &str, Network, &str, Option<&str>)] = &[
        ("local-only", "unknown", ON, "local", None),
        ("local-only", "unknown", OFF, "local", None),
        ("local-only", "healthy", ON, "local", None),
        ("local-only", "healthy", OFF, "local", None),
        ("local-only", "unhealthy", ON, "unavailable", Some("U")),
        ("local-only", "unhealthy", OFF, "unavailable", Some("U")),
        ("prefer-local", "unknown", ON, "local-then-edge", None),
        ("prefer-local", "unknown", OFF, "local", None),
        ("prefer-local", "healthy", ON, "local-then-edge", None),
        ("prefer-local", "healthy", OFF, "local", None),
        ("prefer-local", "unhealthy", ON, "edge", Some("U")),
        ("prefer-local", "unhealthy", OFF, "unavailable", Some("U")),
        ("prefer-edge", "unknown", ON, "edge-then-local", None),
        ("prefer-edge", "unknown", OFF, "local", Some("offline")),
        ("prefer-edge", "healthy", ON, "edge-then-local", None),
        ("prefer-edge", "healthy", OFF, "local", Some("offline")),
        ("prefer-edge", "unhealthy", ON, "edge", None),
        (
            "prefer-edge",
            "unhealthy",
            OFF,
            "unavailable",
            Some("offline"),
        ),
        ("edge-only", "unknown", ON, "edge", None),
        ("edge-only", "unknown", OFF, "unavailable", Some("offline")),
        ("edge-only", "healthy", ON, "edge", None),
        ("edge-only", "healthy", OFF, "unavailable", Some("offline")),
        ("edge-only", "unhealthy", ON, "edge", None),
        (
            "edge-only",
            "unhealthy",
            OFF,
            "unavailable",
            Some("offline"),
        ),
        ("race", "unknown", ON, "race", None),
        ("race", "unknown", OFF, "local", Some("offline")),
        ("race", "healthy", ON, "race", None),
        ("race", "healthy", OFF, "local", Some("offline")),
        ("race", "unhealthy", ON, "edge", Some("U")),
        ("race", "unhealthy", OFF, "unavailable", Some("offline")),
        ("auto", "unknown", ON, "local-then-edge", None),
        ("auto", "unknown", OFF, "local", None),
        ("auto", "healthy", ON, "local-then-edge", None),
        ("auto", "healthy", OFF, "local", None),
        ("auto", "unhealthy", ON, "edge", Some("U")),
        ("auto", "unhealthy", OFF, "unavailable", Some("U")),
    ];

    #[test]
    fn every_policy_health_and_network_gets_the_documented_plan() {
        let mut covered = BTreeSet::new();
        for &(policy, health, network, plan, reason) in TABLE {
            let healths: Vec<Health> = match health {
                "unknown" => vec![Health::Unknown],
                "healthy" => vec![Health::Healthy],
                // `local-offline` does not count online: its own test below.
                _ => LocalFault::ALL
                    .into_iter()
                    .filter(|f| *f != LocalFault::Offline || network == OFF)
                    .map(Health::Unhealthy)
                    .collect(),
            };
            for h in healths {
                let want_reason = match (reason, h) {
                    (Some("U"), Health::Unhealthy(fault)) => Some(fault.code()),
                    (other, _) => other,
                };
                let got = router_with(h).decide(policy.parse().unwrap(), network, 1);
                assert_eq!(
                    codes(got),
                    (plan, want_reason),
                    "{policy} / {h:?} / {network:?}"
                );
            }
            covered.insert((policy, health, network == ON));
        }
        assert_eq!(
            covered.len(),
            Policy::ALL.len() * 3 * 2,
            "table is exhaustive"
        );
    }

    #[test]
    fn prefer_local_is_the_default_policy() {
        assert_eq!(Policy::default(), Policy::PreferLocal);
    }

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = BTreeSet::new();
        for policy in Policy::ALL {
            assert_eq!(policy.code().parse::<Policy>().unwrap(), policy);
            assert!(seen.insert(policy.code()));
        }
        let mut seen = BTreeSet::new();
        let failures = LocalFault::ALL
            .into_iter()
            .map(Failure::Local)
            .chain(EdgeFault::ALL.into_iter().map(Failure::Edge));
        for failure in failures {
            assert_eq!(failure.code().parse::<Failure>().unwrap(), failure);
            assert_eq!(Reason::from(failure).code(), failure.code());
            assert!(seen.insert(failure.code()));
        }
        for reason in [Reason::Offline, Reason::EdgeFaster, Reason::ReprobeEdge] {
            assert!(seen.insert(reason.code()), "{reason} collides with a fault");
        }
        for plan in Plan::ALL {
            assert_eq!(plan.code().parse::<Plan>().unwrap(), plan);
        }
        let plans: BTreeSet<_> = Plan::ALL.into_iter().map(Plan::code).collect();
        assert_eq!(plans.len(), Plan::ALL.len());
    }

    #[test]
    fn unknown_codes_are_refused_with_their_own_code() {
        assert_eq!(
            "fastest".parse::<Policy>().unwrap_err().code(),
            "policy-unknown"
        );
        assert_eq!(
            "Prefer-Local".parse::<Policy>().unwrap_err().code(),
            "policy-unknown"
        );
        assert_eq!(
            "gpu-on-fire".parse::<Failure>().unwrap_err().code(),
            "failure-unknown"
        );
        assert_eq!("retry".parse::<Plan>().unwrap_err().code(), "plan-unknown");
        // A reason that is not a failure cannot be reported as one.
        assert_eq!(
            "offline".parse::<Failure>().unwrap_err().code(),
            "failure-unknown"
        );
    }

    #[test]
    fn a_failure_falls_back_only_where_the_plan_has_a_fallback() {
        let local = Failure::Local(LocalFault::RunFailed);
        let edge = Failure::Edge(EdgeFault::Unreachable);
        let cases = [
            (Plan::LocalThenEdge, local, "edge"),
            (Plan::LocalThenEdge, edge, "unavailable"),
            (Plan::EdgeThenLocal, edge, "local"),
            (Plan::EdgeThenLocal, local, "unavailable"),
            (Plan::Race, local, "edge"),
            (Plan::Race, edge, "local"),
            (Plan::Local, local, "unavailable"),
            (Plan::Edge, edge, "unavailable"),
            (Plan::Unavailable, local, "unavailable"),
        ];
        for (plan, failure, next) in cases {
            let decision = plan.after_failure(failure);
            assert_eq!(
                codes(decision),
                (next, Some(failure.code())),
                "{plan:?} after {failure:?}"
            );
        }
    }

    #[test]
    fn plans_start_the_sides_they_name() {
        assert_eq!(Plan::LocalThenEdge.start(), &[Side::Local]);
        assert_eq!(Plan::EdgeThenLocal.start(), &[Side::Edge]);
        assert_eq!(Plan::Race.start(), &[Side::Local, Side::Edge]);
        assert!(Plan::Unavailable.start().is_empty());
    }

    #[test]
    fn a_crashed_worker_sends_prefer_local_to_the_edge_then_is_retried() {
        let mut router = ModelRouter::default();
        let retry = RouterConfig::default().local_retry_ms;
        router.record_failure(Failure::Local(LocalFault::WorkerCrashed), 1_000);
        assert_eq!(
            codes(router.decide(Policy::PreferLocal, ON, 1_000 + retry - 1)),
            ("edge", Some("worker-crashed"))
        );
        assert_eq!(router.health(1_000 + retry), Health::Unknown);
        assert_eq!(
            codes(router.decide(Policy::PreferLocal, ON, 1_000 + retry)),
            ("local-then-edge", None)
        );
    }

    #[test]
    fn an_offline_fault_clears_as_soon_as_the_network_is_back() {
        let offline = Failure::Local(LocalFault::Offline);
        for policy in Policy::ALL {
            let mut router = ModelRouter::default();
            router.record_failure(offline, 1_000);
            let fresh = ModelRouter::default();
            // Online (the next attempt), at once: decided as if nothing had failed.
            assert_eq!(
                router.decide(policy, ON, 1_001),
                fresh.decide(policy, ON, 1_001),
                "{policy:?} online"
            );
            // Still offline: the fault holds for local-only.
            if policy == Policy::LocalOnly {
                assert_eq!(
                    codes(router.decide(policy, OFF, 1_001)),
                    ("unavailable", Some("local-offline"))
                );
            }
        }
        let mut router = ModelRouter::default();
        router.record_failure(offline, 1_000);
        assert_eq!(router.health(1_001), Health::Unhealthy(LocalFault::Offline));
        router.network_changed(Network::Offline, 1_001);
        assert_eq!(router.health(1_001), Health::Unhealthy(LocalFault::Offline));
        // The `online` event: the health reads unknown again, well before `local_retry_ms`.
        router.network_changed(Network::Online, 1_002);
        assert_eq!(router.health(1_002), Health::Unknown);
        assert_eq!(
            codes(router.decide(Policy::LocalOnly, OFF, 1_003)),
            ("local", None)
        );
        assert!(!LocalFault::Offline.is_permanent());
    }

    #[test]
    fn the_network_coming_back_leaves_other_faults_alone() {
        for fault in LocalFault::ALL
            .into_iter()
            .filter(|f| *f != LocalFault::Offline)
        {
            let mut router = router_with(Health::Unhealthy(fault));
            router.network_changed(Network::Online, 1);
            assert_eq!(router.health(1), Health::Unhealthy(fault), "{fault:?}");
            assert_eq!(
                codes(router.decide(Policy::LocalOnly, ON, 1)),
                ("unavailable", Some(fault.code()))
            );
        }
        let mut router = router_with(Health::Healthy);
        router.network_changed(Network::Online, 1);
        assert_eq!(router.health(1), Health::Healthy);
    }

    #[test]
    fn permanent_faults_are_never_retried() {
        for fault in LocalFault::ALL.into_iter().filter(|f| f.is_permanent()) {
            let router = router_with(Health::Unhealthy(fault));
            assert_eq!(router.health(u64::MAX), Health::Unhealthy(fault));
        }
        assert!(LocalFault::SelfTestFailed.is_permanent());
        assert!(!LocalFault::WorkerCrashed.is_permanent());
    }

    #[test]
    fn a_local_answer_makes_the_runtime_healthy() {
        let mut router = ModelRouter::default();
        router.record_failure(Failure::Local(LocalFault::Timeout), 0);
        router.record_answer(Side::Local, 5.0, 10);
        assert_eq!(router.health(10), Health::Healthy);
        router.record_answer(Side::Edge, 50.0, 20);
        assert_eq!(router.stats(Side::Edge).answers, 1);
        assert_eq!(router.stats(Side::Local).failures, 1);
    }

    #[test]
    fn moving_average_follows_samples_and_ignores_non_finite_ones() {
        let mut router = ModelRouter::new(RouterConfig {
            ema_alpha: 0.5,
            ..RouterConfig::default()
        });
        router.record_answer(Side::Local, 10.0, 0);
        router.record_answer(Side::Local, 20.0, 1);
        router.record_answer(Side::Local, f64::NAN, 2);
        let stats = router.stats(Side::Local);
        assert_eq!(stats.ema_ms, Some(15.0));
        assert_eq!(stats.last_ms, Some(20.0));
        assert_eq!(stats.min_ms, Some(10.0));
        assert_eq!(stats.answers, 2);
        assert_eq!(stats.last_at_ms, Some(1));
        router.record_failure(Failure::Local(LocalFault::RunFailed), 3);
        assert_eq!(router.stats(Side::Local).ema_ms, Some(30.0));
    }

    #[test]
    fn auto_measures_local_then_edge_then_picks_the_faster() {
        let mut router = ModelRouter::default();
        let reprobe = RouterConfig::default().reprobe_interval_ms;
        assert_eq!(
            codes(router.decide(Policy::Auto, ON, 0)),
            ("local-then-edge", None)
        );
        router.record_answer(Side::Local, 40.0, 0);
        assert_eq!(
            codes(router.decide(Policy::Auto, ON, 1)),
            ("edge-then-local", Some("reprobe-edge"))
        );
        router.record_answer(Side::Edge, 10.0, 1);
        // The edge is faster; local was measured recently.
        assert_eq!(
            codes(router.decide(Policy::Auto, ON, 2)),
            ("edge-then-local", Some("edge-faster"))
        );
        // Once local's sample is stale, one request re-measures it.
        assert_eq!(
            codes(router.decide(Policy::Auto, ON, reprobe)),
            ("local-then-edge", None)
        );
        // Local got faster: auto moves back, and re-probes the edge when its sample is stale.
        for t in 0..10 {
            router.record_answer(Side::Local, 2.0, reprobe + t);
        }
        assert_eq!(
            codes(router.decide(Policy::Auto, ON, reprobe + 10)),
            ("edge-then-local", Some("reprobe-edge"))
        );
        router.record_answer(Side::Edge, 30.0, reprobe + 11);
        assert_eq!(
            codes(router.decide(Policy::Auto, ON, reprobe + 12)),
            ("local-then-edge", None)
        );
    }

    #[test]
    fn auto_turns_away_from_a_side_that_keeps_failing() {
        let mut router = ModelRouter::default();
        router.record_answer(Side::Local, 20.0, 0);
        router.record_answer(Side::Edge, 10.0, 0);
        assert_eq!(router.decide(Policy::Auto, ON, 1).plan, Plan::EdgeThenLocal);
        router.record_failure(Failure::Edge(EdgeFault::Timeout), 2);
        router.record_failure(Failure::Edge(EdgeFault::Timeout), 3);
        assert_eq!(router.decide(Policy::Auto, ON, 4).plan, Plan::LocalThenEdge);
        // The edge stays known-slow until re-probed; offline auto stays local.
        assert_eq!(codes(router.decide(Policy::Auto, OFF, 4)), ("local", None));
    }
}
