//! The page's fallback router: one `tessera_core::fallback::ModelRouter` per model behind a
//! string-coded API (policies, plans, failures and reasons travel as their stable codes), and
//! its wasm-bindgen export [`FallbackRouter`] used by `tessera-runtime.js`. It holds no policy
//! logic of its own and does no IO; the page's script carries out its decisions.

use std::collections::BTreeMap;

use serde::Serialize;
use tessera_core::fallback::{
    Decision, Failure, FallbackError, Health, LatencyStats, LocalFault, ModelRouter, Network, Plan,
    Policy, RouterConfig, Side,
};

/// A decision in its wire form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionView {
    /// [`Plan::code`].
    pub plan: &'static str,
    /// The sides to start now (`local`, `edge`).
    pub start: Vec<&'static str>,
    /// `fallbackReason`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The policy the decision was made under ([`Policy::code`]: the request's, else the
    /// router's default), for `decide`'s answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
}

/// A model's statistics in their wire form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsView {
    /// `unknown`, `healthy` or the local fault's code.
    pub health: &'static str,
    /// Browser latencies.
    pub local: LatencyStats,
    /// Edge latencies.
    pub edge: LatencyStats,
}

/// Fallback state for every model a page uses.
#[derive(Debug, Clone, Default)]
pub struct Routers {
    policy: Policy,
    config: RouterConfig,
    models: BTreeMap<String, ModelRouter>,
}

impl Routers {
    /// Routers using `policy` (code) unless a request names another.
    pub fn new(policy: Option<&str>) -> Result<Self, FallbackError> {
        Ok(Self {
            policy: policy.map(str::parse).transpose()?.unwrap_or_default(),
            ..Self::default()
        })
    }

    /// Where the next request for `model` runs.
    pub fn decide(
        &mut self,
        model: &str,
        policy: Option<&str>,
        online: bool,
        now_ms: u64,
    ) -> Result<DecisionView, FallbackError> {
        let policy = policy.map(str::parse).transpose()?.unwrap_or(self.policy);
        let network = if online {
            Network::Online
        } else {
            Network::Offline
        };
        Ok(DecisionView {
            policy: Some(policy.code()),
            ..view(self.model(model).decide(policy, network, now_ms))
        })
    }

    /// What to do after `failure` (code) while carrying out `plan` (code).
    pub fn after_failure(plan: &str, failure: &str) -> Result<DecisionView, FallbackError> {
        let plan: Plan = plan.parse()?;
        Ok(view(plan.after_failure(failure.parse()?)))
    }

    /// Sets `model`'s local health: `unknown`, `healthy` or a local fault code.
    pub fn set_health(
        &mut self,
        model: &str,
        health: &str,
        now_ms: u64,
    ) -> Result<(), FallbackError> {
        let health = match health {
            "unknown" => Health::Unknown,
            "healthy" => Health::Healthy,
            code => match code.parse()? {
                Failure::Local(fault) => Health::Unhealthy(fault),
                _ => return Err(FallbackError::UnknownFailure(code.to_owned())),
            },
        };
        self.model(model).set_health(health, now_ms);
        Ok(())
    }

    /// The browser went online (`true`) or offline: back online, every model's
    /// `local-offline` fault is forgotten.
    pub fn network_changed(&mut self, online: bool, now_ms: u64) {
        let network = if online {
            Network::Online
        } else {
            Network::Offline
        };
        for router in self.models.values_mut() {
            router.network_changed(network, now_ms);
        }
    }

    /// Records an answer from `side` (`local` or `edge`; anything else is `side-unknown`).
    pub fn record_answer(
        &mut self,
        model: &str,
        side: &str,
        latency_ms: f64,
        now_ms: u64,
    ) -> Result<(), FallbackError> {
        let side: Side = side.parse()?;
        self.model(model).record_answer(side, latency_ms, now_ms);
        Ok(())
    }

    /// Records a failed attempt (a local or edge fault code).
    pub fn record_failure(
        &mut self,
        model: &str,
        failure: &str,
        now_ms: u64,
    ) -> Result<(), FallbackError> {
        let failure = failure.parse()?;
        self.model(model).record_failure(failure, now_ms);
        Ok(())
    }

    /// `model`'s health and latency statistics.
    pub fn stats(&mut self, model: &str, now_ms: u64) -> StatsView {
        let router = self.model(model);
        StatsView {
            health: health_code(router.health(now_ms)),
            local: *router.stats(Side::Local),
            edge: *router.stats(Side::Edge),
        }
    }

    fn model(&mut self, model: &str) -> &mut ModelRouter {
        let config = self.config;
        self.models
            .entry(model.to_owned())
            .or_insert_with(|| ModelRouter::new(config))
    }
}

fn view(decision: Decision) -> DecisionView {
    DecisionView {
        plan: decision.plan.code(),
        start: decision.plan.start().iter().map(|s| s.code()).collect(),
        reason: decision.reason.map(|r| r.code()),
        policy: None,
    }
}

fn health_code(health: Health) -> &'static str {
    match health {
        Health::Unhealthy(fault) => LocalFault::code(fault),
        Health::Healthy => "healthy",
        _ => "unknown",
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::FallbackRouter;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use wasm_bindgen::prelude::*;

    use super::Routers;
    use crate::js_bridge::{error_value, to_js};

    /// The page's fallback router (see the module docs). Times are `performance.now()` ms.
    #[wasm_bindgen]
    #[derive(Debug)]
    pub struct FallbackRouter {
        routers: Routers,
    }

    #[wasm_bindgen]
    impl FallbackRouter {
        /// A router whose default policy is `policy` (`prefer-local` when absent).
        #[wasm_bindgen(constructor)]
        pub fn new(policy: Option<String>) -> Result<FallbackRouter, JsValue> {
            let routers = Routers::new(policy.as_deref()).map_err(|e| error_value(&e, None))?;
            Ok(Self { routers })
        }

        /// `{plan, start, reason?, policy}` for the next request for `model`.
        pub fn decide(
            &mut self,
            model: &str,
            policy: Option<String>,
            online: bool,
            now_ms: f64,
        ) -> Result<JsValue, JsValue> {
            let decision = self
                .routers
                .decide(model, policy.as_deref(), online, millis(now_ms))
                .map_err(|e| error_value(&e, None))?;
            to_js(&decision)
        }

        /// `{plan, start, reason}` after `failure` while carrying out `plan`.
        #[wasm_bindgen(js_name = afterFailure)]
        pub fn after_failure(plan: &str, failure: &str) -> Result<JsValue, JsValue> {
            let decision =
                Routers::after_failure(plan, failure).map_err(|e| error_value(&e, None))?;
            to_js(&decision)
        }

        /// Sets the local health: `unknown`, `healthy` or a local fault code.
        #[wasm_bindgen(js_name = setHealth)]
        pub fn set_health(
            &mut self,
            model: &str,
            health: &str,
            now_ms: f64,
        ) -> Result<(), JsValue> {
            self.routers
                .set_health(model, health, millis(now_ms))
                .map_err(|e| error_value(&e, None))
        }

        /// The page's `online` / `offline` event: back online, `local-offline` faults clear.
        #[wasm_bindgen(js_name = networkChanged)]
        pub fn network_changed(&mut self, online: bool, now_ms: f64) {
            self.routers.network_changed(online, millis(now_ms));
        }

        /// Records an answer from `side` (`local` or `edge`).
        #[wasm_bindgen(js_name = recordAnswer)]
        pub fn record_answer(
            &mut self,
            model: &str,
            side: &str,
            latency_ms: f64,
            now_ms: f64,
        ) -> Result<(), JsValue> {
            self.routers
                .record_answer(model, side, latency_ms, millis(now_ms))
                .map_err(|e| error_value(&e, None))
        }

        /// Records a failed attempt by its fault code.
        #[wasm_bindgen(js_name = recordFailure)]
        pub fn record_failure(
            &mut self,
            model: &str,
            failure: &str,
            now_ms: f64,
        ) -> Result<(), JsValue> {
            self.routers
                .record_failure(model, failure, millis(now_ms))
                .map_err(|e| error_value(&e, None))
        }

        /// `{health, local, edge}` latency statistics of `model`.
        pub fn stats(&mut self, model: &str, now_ms: f64) -> Result<JsValue, JsValue> {
            to_js(&self.routers.stats(model, millis(now_ms)))
        }
    }

    /// Milliseconds as the router's integer clock (negative and NaN become 0).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn millis(ms: f64) -> u64 {
        if ms.is_finite() {
            ms.max(0.0) as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use tessera_core::ErrorCode;

    use super::*;

    #[test]
    fn a_crashed_worker_moves_the_next_request_to_the_edge() {
        let mut routers = Routers::new(None).unwrap();
        let first = routers.decide("mlp", None, true, 0).unwrap();
        assert_eq!(
            (first.plan, first.start.clone()),
            ("local-then-edge", vec!["local"])
        );
        routers.record_failure("mlp", "worker-crashed", 1).unwrap();
        let next = Routers::after_failure(first.plan, "worker-crashed").unwrap();
        assert_eq!((next.plan, next.reason), ("edge", Some("worker-crashed")));
        let second = routers.decide("mlp", None, true, 2).unwrap();
        assert_eq!(
            (second.plan, second.reason),
            ("edge", Some("worker-crashed"))
        );
        assert_eq!(routers.stats("mlp", 2).health, "worker-crashed");
        // Other models are unaffected.
        assert_eq!(
            routers.decide("other", None, true, 2).unwrap().plan,
            "local-then-edge"
        );
    }

    #[test]
    fn an_offline_load_failure_clears_when_the_network_is_back() {
        let mut routers = Routers::new(Some("local-only")).unwrap();
        routers.record_failure("mlp", "local-offline", 0).unwrap();
        let offline = routers.decide("mlp", None, false, 1).unwrap();
        assert_eq!(
            (offline.plan, offline.reason),
            ("unavailable", Some("local-offline"))
        );
        // The next attempt online runs locally at once.
        assert_eq!(routers.decide("mlp", None, true, 2).unwrap().plan, "local");
        assert_eq!(routers.stats("mlp", 2).health, "local-offline");
        // The `online` event clears it for every model.
        routers.network_changed(false, 3);
        assert_eq!(routers.stats("mlp", 3).health, "local-offline");
        routers.network_changed(true, 4);
        assert_eq!(routers.stats("mlp", 4).health, "unknown");
        assert_eq!(routers.decide("mlp", None, false, 5).unwrap().plan, "local");
    }

    #[test]
    fn per_request_policy_overrides_the_default() {
        let mut routers = Routers::new(Some("edge-only")).unwrap();
        assert_eq!(routers.decide("m", None, true, 0).unwrap().plan, "edge");
        let race = routers.decide("m", Some("race"), true, 0).unwrap();
        assert_eq!(race.start, vec!["local", "edge"]);
        assert_eq!(race.policy, Some("race"), "the decision names its policy");
        let default = routers.decide("m", None, true, 0).unwrap();
        assert_eq!(default.policy, Some("edge-only"));
        let offline = routers.decide("m", None, false, 0).unwrap();
        assert_eq!(
            (offline.plan, offline.reason),
            ("unavailable", Some("offline"))
        );
    }

    #[test]
    fn bad_codes_are_refused_with_stable_codes() {
        assert_eq!(
            Routers::new(Some("fast")).unwrap_err().code(),
            "policy-unknown"
        );
        let mut routers = Routers::default();
        assert_eq!(
            routers
                .decide("m", Some("nope"), true, 0)
                .unwrap_err()
                .code(),
            "policy-unknown"
        );
        assert_eq!(
            routers.record_failure("m", "oops", 0).unwrap_err().code(),
            "failure-unknown"
        );
        assert_eq!(
            routers
                .set_health("m", "edge-timeout", 0)
                .unwrap_err()
                .code(),
            "failure-unknown"
        );
        assert_eq!(
            routers
                .record_answer("m", "Local", 1.0, 0)
                .unwrap_err()
                .code(),
            "side-unknown",
            "a side is local or edge, never guessed"
        );
        assert_eq!(
            Routers::after_failure("later", "edge-timeout")
                .unwrap_err()
                .code(),
            "plan-unknown"
        );
    }

    #[test]
    fn stats_serialize_with_camel_case_fields() {
        let mut routers = Routers::default();
        routers.set_health("m", "healthy", 0).unwrap();
        routers.record_answer("m", "local", 4.0, 1).unwrap();
        routers.record_answer("m", "edge", 9.0, 2).unwrap();
        let json = serde_json::to_value(routers.stats("m", 3)).unwrap();
        assert_eq!(json["health"], "healthy");
        assert_eq!(json["local"]["emaMs"], 4.0);
        assert_eq!(json["edge"]["answers"], 1);
        assert_eq!(json["edge"]["lastAtMs"], 2);
    }
}
