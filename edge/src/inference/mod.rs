//! The edge inference API: `POST /v1/models/<name>/infer` runs a signed model from the
//! artifacts directory natively (tract on the CPU, or wonnx on wgpu: [`EngineChoice`]), for
//! browsers whose WebGPU runtime cannot; and `GET /metrics` reports it in Prometheus text
//! format. Every answer names the engine that computed it (`engine`).
//!
//! A request goes through, in order: method (`POST`), enabled (trusted model keys configured,
//! else `503 inference-disabled`), bearer-token auth if configured ([`AuthConfig`]), the
//! per-client rate limit (per token subject, else per token, else per client IP; `429` with
//! `Retry-After`), the body limit (`413`) and read timeout (`408 request-timeout`), loading and
//! verifying the model (module `model`; `404` for an unknown one), parsing the JSON and
//! validating the inputs against the graph (core's [`tessera_core::infer`]), and the worker pool
//! (module `engine`; `503 inference-busy` when its queue is full). Every answer is JSON in
//! core's schema; every failure has a stable code ([`InferenceError`]).
//!
//! Failed authentications are throttled per client IP ([`InferenceConfig::auth_failure_rate`]):
//! once a client's failure bucket is empty, its further failures get `429 rate-limited`
//! instead of `401`, so a flood of bad tokens is cut off after a bound. With auth configured,
//! `GET /metrics` needs a valid bearer token too (a long-lived `tessera token` for the scraper),
//! throttled the same way. The client IP is the router's (`X-Forwarded-For` from trusted proxies
//! only, module `client_ip`); the client-certificate requirement (mTLS) is the router's too.
//!
//! Not done here: TLS, CORS (the router's layer covers these routes), batching or streaming.

mod auth;
mod engine;
mod engines;
mod error;
mod metrics;
mod model;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH};
use http::request::Parts;
use http::{HeaderValue, Method};
use tessera_core::infer::{InferRequest, InferResponse, InputTensor, Source, Timings};
use tessera_core::keys::TrustedKeys;
use tessera_core::layout::ModelName;
use tessera_core::policy::UpdatePolicy;
use tessera_core::ratelimit::{Decision, KeyedLimiter, Rate};
use tessera_core::ErrorCode as _;

pub use auth::{issue_token, AuthConfig, TokenClaims, TokenError, DEFAULT_LEEWAY_SECS};
#[doc(hidden)]
pub use auth::{Authenticator, Caller};
pub use engines::{EngineChoice, UnknownEngine, TRACT_NATIVE, WONNX_WGPU};
pub use error::InferenceError;

use crate::client_ip::ClientIp;
use engine::Engine;
use metrics::{Metrics, OTHER_MODEL};
use model::{LoadedModel, ModelStore};

/// Header on an answer from a kept version: the code the newly published manifest was refused
/// with (`manifest-rollback`, `manifest-signature-invalid`, …).
pub const REFUSED_UPDATE_HEADER: &str = "x-tessera-refused-update";
/// URL prefix of the inference API.
pub const INFER_PREFIX: &str = "/v1/models/";
/// Default largest request body: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default number of jobs that may wait for a worker before requests get `inference-busy`.
pub const DEFAULT_QUEUE: usize = 256;
/// Most rate-limit buckets kept at once (see [`KeyedLimiter`]).
const MAX_RATE_KEYS: usize = 65_536;
/// Default failed authentications a client may make at once before they are answered `429`.
pub const DEFAULT_AUTH_FAILURE_BURST: u32 = 10;
/// Default time for one failed authentication to be forgiven: 6 s (10 a minute sustained).
pub const DEFAULT_AUTH_FAILURE_INTERVAL: Duration = Duration::from_secs(6);
/// Bodies larger than this are parsed off the async runtime.
const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// How the inference API behaves. Build with [`InferenceConfig::default`] (disabled: no
/// trusted keys) and set the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InferenceConfig {
    /// Keys trusted to sign model manifests. Empty: inference is disabled
    /// (`503 inference-disabled`); models are never run unverified.
    pub trusted_keys: TrustedKeys,
    /// Distinct trusted signatures a manifest needs (0 is treated as 1).
    pub threshold: usize,
    /// Require bearer tokens. `None`: anyone may call the API.
    pub auth: Option<AuthConfig>,
    /// Per-client request rate. `None`: unlimited.
    pub rate_limit: Option<Rate>,
    /// Failed authentications (`401`s on the API and `/metrics`) allowed per client IP; beyond
    /// it they are answered `429 rate-limited`. `None`: not limited. Default:
    /// [`DEFAULT_AUTH_FAILURE_BURST`] at once, one more every [`DEFAULT_AUTH_FAILURE_INTERVAL`].
    pub auth_failure_rate: Option<Rate>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Inference worker threads (each with its own sessions). 0: one per core for tract
    /// (`std::thread::available_parallelism`), one for wonnx.
    pub workers: usize,
    /// Jobs that may wait for a worker.
    pub queue: usize,
    /// The engine: `auto` (the default: tract unless wgpu finds a GPU that is not a CPU
    /// adapter), `tract` or `wonnx`.
    pub engine: EngineChoice,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            trusted_keys: TrustedKeys::new(),
            threshold: 1,
            auth: None,
            rate_limit: None,
            auth_failure_rate: Some(Rate::new(
                DEFAULT_AUTH_FAILURE_BURST,
                DEFAULT_AUTH_FAILURE_INTERVAL,
            )),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            workers: 0,
            queue: DEFAULT_QUEUE,
            engine: EngineChoice::Auto,
        }
    }
}

/// The variable that switches off Mesa's Vulkan device-select layer (see [`headless_gpu_env`]).
const NO_DEVICE_SELECT: &str = "NODEVICE_SELECT";

/// What the GPU probe of a headless server should add to its environment, given a lookup of
/// the current one: `Some(("NODEVICE_SELECT", "1"))` when no display server is configured
/// (`WAYLAND_DISPLAY` and `DISPLAY` unset) and nobody chose a device or the layer's state
/// (`MESA_VK_DEVICE_SELECT`, `NODEVICE_SELECT` unset); `None` otherwise.
///
/// Why: Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` asks the display server
/// which GPU is the default one each time a Vulkan instance is created (the adapter probe, and
/// every session wonnx builds). Without a session it prints `error: XDG_RUNTIME_DIR is invalid
/// or not set in the environment.` (libwayland-client) on stderr and carries on, which reads as
/// a failure in a server's terminal. With no display server there is nothing for it to ask, so
/// turning it off changes which adapter is used in no way that matters here.
pub fn headless_gpu_env(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<(&'static str, &'static str)> {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let display = set("WAYLAND_DISPLAY") || set("DISPLAY");
    let chosen = var("MESA_VK_DEVICE_SELECT").is_some() || var(NO_DEVICE_SELECT).is_some();
    (!display && !chosen).then_some((NO_DEVICE_SELECT, "1"))
}

/// Applies [`headless_gpu_env`] to this process. Call it at startup, before any thread is
/// spawned (it sets an environment variable); `tessera serve` does.
pub fn prepare_headless_gpu() {
    if let Some((name, value)) = headless_gpu_env(|name| std::env::var_os(name)) {
        std::env::set_var(name, value);
    }
}

/// Everything the inference routes share.
#[derive(Debug)]
struct InferState {
    enabled: bool,
    store: ModelStore,
    engine: Engine,
    auth: Option<Authenticator>,
    limiter: Option<Mutex<KeyedLimiter<String>>>,
    auth_failures: Option<Mutex<KeyedLimiter<String>>>,
    epoch: Instant,
    max_body_bytes: usize,
    read_timeout: Duration,
    metrics: Metrics,
}

/// The inference routes (`/v1/models/{name}/infer`, `/metrics`) over `artifacts`; request
/// bodies must arrive within `read_timeout`.
pub(crate) fn routes(
    config: &InferenceConfig,
    artifacts: PathBuf,
    read_timeout: Duration,
) -> Router {
    // Two metrics with fixed, valid names registered once into a fresh registry: this cannot fail.
    #[allow(clippy::expect_used)]
    let metrics = Metrics::new().expect("metrics register into a fresh registry");
    let state = Arc::new(InferState {
        enabled: !config.trusted_keys.is_empty(),
        store: ModelStore::new(
            artifacts,
            UpdatePolicy::new(config.trusted_keys.clone(), config.threshold),
        ),
        engine: Engine::new(config.workers, config.queue, config.engine, metrics.clone()),
        auth: config.auth.as_ref().map(Authenticator::new),
        limiter: config
            .rate_limit
            .map(|rate| Mutex::new(KeyedLimiter::new(rate, MAX_RATE_KEYS))),
        auth_failures: config
            .auth_failure_rate
            .map(|rate| Mutex::new(KeyedLimiter::new(rate, MAX_RATE_KEYS))),
        epoch: Instant::now(),
        max_body_bytes: config.max_body_bytes,
        read_timeout,
        metrics: metrics.clone(),
    });
    Router::new()
        .route(
            "/v1/models/{name}/infer",
            any(infer).with_state(Arc::clone(&state)),
        )
        .route("/metrics", get(serve_metrics).with_state(state))
}

/// Serves `GET /metrics`: to anyone without auth configured, else to valid bearer tokens.
async fn serve_metrics(State(state): State<Arc<InferState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    if let Err(error) = state.authenticate(&parts) {
        return error::respond(error);
    }
    metrics::serve(State(state.metrics.clone())).await
}

/// Serves `POST /v1/models/<name>/infer` and records the outcome in the metrics.
async fn infer(State(state): State<Arc<InferState>>, request: Request) -> Response {
    let started = Instant::now();
    let name = request
        .uri()
        .path()
        .strip_prefix(INFER_PREFIX)
        .and_then(|rest| rest.strip_suffix("/infer"))
        .unwrap_or_default()
        .to_owned();
    let (parts, body) = request.into_parts();
    let mut body = Some(body);
    let result = state.handle(&name, &parts, &mut body, started).await;
    if let (Err(_), Some(unread)) = (&result, body.take()) {
        // Refused before the body was read (auth, rate limit, …): see `drain_refused_body`.
        crate::router::drain_refused_body(unread, state.read_timeout).await;
    }
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    let label = if state.store.is_loaded(&name) {
        name.as_str()
    } else {
        OTHER_MODEL
    };
    state.metrics.observe(label, outcome, started.elapsed());
    match result {
        Ok(response) => {
            let mut response = Json(response).into_response();
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // The answer came from the verified version kept after a newer publication was
            // refused: say why, so operators see it from any client.
            let refused = name
                .parse::<ModelName>()
                .ok()
                .and_then(|model| state.store.refused_update(&model));
            if let Some(code) = refused {
                headers.insert(REFUSED_UPDATE_HEADER, HeaderValue::from_static(code));
            }
            response
        }
        Err(error) => error::respond(error),
    }
}

impl InferState {
    async fn handle(
        &self,
        name: &str,
        request: &Parts,
        body: &mut Option<Body>,
        started: Instant,
    ) -> Result<InferResponse, InferenceError> {
        if request.method != Method::POST {
            return Err(InferenceError::MethodNotAllowed(request.method.to_string()));
        }
        if !self.enabled {
            return Err(InferenceError::Disabled);
        }
        let rate_key = self
            .authenticate(request)?
            .unwrap_or_else(|| client_ip_key(request));
        self.check_rate(&rate_key)?;
        let name: ModelName = name.parse()?;
        let declared = request
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = self
            .read_body(body.take().unwrap_or_default(), declared)
            .await?;
        let model = self.store.get(&name).await?;
        let inputs = if body.len() <= INLINE_PARSE_BYTES {
            parse(&body, &model)
        } else {
            let model = Arc::clone(&model);
            tokio::task::spawn_blocking(move || parse(&body, &model))
                .await
                .map_err(|_| InferenceError::Internal)?
        }?;
        let version = model.manifest.version.clone();
        let run = self.engine.run(model, inputs).await?;
        Ok(InferResponse {
            model: name,
            version,
            source: Source::Edge,
            engine: Some(run.engine.to_owned()),
            outputs: run.outputs,
            timings: Timings {
                queue_ms: millis(run.queue),
                compute_ms: millis(run.compute),
                total_ms: millis(started.elapsed()),
            },
        })
    }

    /// Checks the bearer token when auth is configured: `Some(rate key)` for a valid one,
    /// `None` without auth. A failure takes from the client IP's failure bucket; once it is
    /// empty the failure is answered `429` instead.
    fn authenticate(&self, request: &Parts) -> Result<Option<String>, InferenceError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let header = request
            .headers
            .get(AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match auth.check(header) {
            Ok(caller) => Ok(Some(caller.rate_key)),
            Err(error) => {
                if let Some(failures) = &self.auth_failures {
                    let decision = failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .check(&client_ip_key(request), self.epoch.elapsed());
                    if let Decision::Limited { retry_after } = decision {
                        return Err(InferenceError::RateLimited(retry_after));
                    }
                }
                Err(error)
            }
        }
    }

    fn check_rate(&self, key: &str) -> Result<(), InferenceError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let now = self.epoch.elapsed();
        let decision = limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(&key.to_owned(), now);
        match decision {
            Decision::Limited { retry_after } => Err(InferenceError::RateLimited(retry_after)),
            _ => Ok(()),
        }
    }

    /// Reads the whole body, refusing more than the limit (by `Content-Length` up front, or
    /// while reading).
    async fn read_body(
        &self,
        body: Body,
        declared: Option<u64>,
    ) -> Result<axum::body::Bytes, InferenceError> {
        let limit = self.max_body_bytes;
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(InferenceError::TooLarge(limit));
        }
        let read = tokio::time::timeout(self.read_timeout, axum::body::to_bytes(body, limit));
        let Ok(read) = read.await else {
            return Err(InferenceError::Timeout(self.read_timeout));
        };
        read.map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                InferenceError::TooLarge(limit)
            } else {
                InferenceError::Request(tessera_core::infer::InferError::Malformed(format!(
                    "the body could not be read: {e}"
                )))
            }
        })
    }
}

/// Parses a request body and validates it against the model's inputs.
fn parse(
    body: &[u8],
    model: &LoadedModel,
) -> Result<BTreeMap<String, InputTensor>, InferenceError> {
    Ok(InferRequest::from_json(body)?.validate(&model.signature.inputs)?)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The rate-limit key of an unauthenticated request: the client's IP address (the router's
/// [`ClientIp`], else the peer's).
fn client_ip_key(request: &Parts) -> String {
    let extensions = &request.extensions;
    if let Some(ClientIp(ip)) = extensions.get::<ClientIp>() {
        return format!("ip:{ip}");
    }
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "ip:unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::headless_gpu_env;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn headless_servers_turn_the_device_select_layer_off() {
        assert_eq!(headless_gpu_env(env(&[])), Some(("NODEVICE_SELECT", "1")));
        assert_eq!(
            headless_gpu_env(env(&[("DISPLAY", "")])),
            Some(("NODEVICE_SELECT", "1"))
        );
    }

    #[test]
    fn a_display_or_an_explicit_choice_is_left_alone() {
        for vars in [
            [("WAYLAND_DISPLAY", "wayland-0")],
            [("DISPLAY", ":0")],
            [("MESA_VK_DEVICE_SELECT", "1002:73bf")],
            [("NODEVICE_SELECT", "0")],
        ] {
            assert_eq!(headless_gpu_env(env(&vars)), None, "{vars:?}");
        }
    }
}
