//! tessera's edge inference API (`POST /v1/models/NAME/infer`) as a Workers-compatible module:
//! the models come from KV (or R2) in the artifact layout `tessera pack` writes, are verified
//! with tessera-core exactly as the edge server verifies them (see [`store`]) and run with tract
//! compiled to wasm32.
//!
//! Rust decides, JavaScript carries out: `js/worker.mjs` (the module workerd loads) reads the
//! request, the manifest and the shards, and hands them to [`EdgeWorker`]; every API answer (body,
//! status, headers) is made here (the glue adds only CORS and `/healthz`). The wire schema is core's ([`tessera_core::infer`]), the
//! error codes and statuses core's table shared with the edge server ([`error`]).

pub mod auth;
pub mod error;
pub mod store;

use std::time::Duration;

use serde::Deserialize;
use tessera_core::infer::{InferRequest, InferResponse, Source, Timings};
use tessera_core::keys::{PublicKeyFile, TrustedKeys};
use tessera_core::layout::ModelName;
use tessera_core::policy::UpdatePolicy;
use tessera_core::ratelimit::{Decision, KeyedLimiter, Rate};
use wasm_bindgen::prelude::*;

use crate::auth::Authenticator;
use crate::error::WorkerError;
use crate::store::{ready, Store};

/// The engine name answers computed here carry: tract (`tessera_onnx::tract`) on wasm32.
pub const TRACT_WASM: &str = "tract-wasm";

/// Largest request body by default (the edge server's `--infer-max-body` default).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Failed authentications per client IP at once, then one more every 6 s (the edge's default).
const AUTH_FAILURE_BURST: u32 = 10;
const AUTH_FAILURE_INTERVAL: Duration = Duration::from_secs(6);
/// Buckets kept per limiter.
const MAX_RATE_KEYS: usize = 10_000;
/// The header that says a newer published manifest was refused.
const REFUSED_UPDATE_HEADER: &str = "x-tessera-refused-update";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// One key or several (`tessera.pub.json` contents, or an array of them).
#[derive(Deserialize)]
#[serde(untagged)]
enum Keys {
    One(PublicKeyFile),
    Many(Vec<PublicKeyFile>),
}

impl Keys {
    fn files(&self) -> Vec<&PublicKeyFile> {
        match self {
            Self::One(k) => vec![k],
            Self::Many(v) => v.iter().collect(),
        }
    }
}

/// The worker's configuration, from its environment (see `js/worker.mjs` and README.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Keys trusted to sign manifests (`TRUSTED_KEYS`); none: `503 inference-disabled`.
    #[serde(default)]
    trusted_keys: Option<Keys>,
    #[serde(default = "one")]
    threshold: usize,
    /// Keys whose EdDSA tokens are accepted (`AUTH_KEYS`); none: no authentication.
    #[serde(default)]
    auth_keys: Option<Keys>,
    #[serde(default)]
    auth_audience: Option<String>,
    #[serde(default = "thirty")]
    auth_leeway_secs: u64,
    /// Requests per second per token subject (else per client IP); 0: unlimited. Defaults
    /// are `tessera serve`'s (10 per second, bursts of 20).
    #[serde(default = "ten")]
    infer_rate: u32,
    #[serde(default = "twenty")]
    infer_burst: u32,
    #[serde(default = "max_body")]
    max_body_bytes: usize,
}

fn one() -> usize {
    1
}
fn thirty() -> u64 {
    30
}
fn ten() -> u32 {
    10
}
fn twenty() -> u32 {
    20
}
fn max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

/// An HTTP answer for the glue to send.
#[wasm_bindgen]
pub struct Reply {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
}

#[wasm_bindgen]
impl Reply {
    /// The HTTP status.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JSON body.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.body.clone()
    }

    /// Headers as `[[name, value], …]` in JSON (content-type included).
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> String {
        serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".into())
    }
}

impl From<&WorkerError> for Reply {
    fn from(error: &WorkerError) -> Self {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        headers.extend(error.headers().into_iter().map(|(k, v)| (k.to_owned(), v)));
        Self {
            status: error.status(),
            body: serde_json::to_string(&error.body()).unwrap_or_default(),
            headers,
        }
    }
}

/// The inference API of one isolate: configuration, limiters and verified models.
#[wasm_bindgen]
pub struct EdgeWorker {
    /// `Err`: the configuration is unusable, every request gets it.
    setup: Result<(), WorkerError>,
    store: Store,
    auth: Option<Authenticator>,
    auth_failures: KeyedLimiter<String>,
    limiter: Option<KeyedLimiter<String>>,
    max_body_bytes: usize,
    /// `performance.now()` when the isolate started (the limiters' clock).
    epoch_ms: f64,
}

#[wasm_bindgen]
impl EdgeWorker {
    /// A worker for the JSON configuration `config` (see [`Config`]).
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str) -> EdgeWorker {
        let parsed: Result<Config, WorkerError> = serde_json::from_str(config)
            .map_err(|e| WorkerError::Unavailable(format!("configuration: {e}")));
        let mut worker = EdgeWorker {
            setup: Ok(()),
            store: Store::new(UpdatePolicy::new(TrustedKeys::new(), 1)),
            auth: None,
            auth_failures: KeyedLimiter::new(
                Rate::new(AUTH_FAILURE_BURST, AUTH_FAILURE_INTERVAL),
                MAX_RATE_KEYS,
            ),
            limiter: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            epoch_ms: performance_now(),
        };
        if let Err(e) = parsed.and_then(|config| worker.configure(config)) {
            worker.setup = Err(e);
        }
        worker
    }

    fn configure(&mut self, config: Config) -> Result<(), WorkerError> {
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            WorkerError::Unavailable(format!("{what}: {e}"))
        };
        let Some(trusted) = config.trusted_keys else {
            return Err(WorkerError::Disabled);
        };
        let trusted = TrustedKeys::from_files(trusted.files())
            .map_err(|e| unavailable("TRUSTED_KEYS", &e))?;
        if trusted.is_empty() {
            return Err(WorkerError::Disabled);
        }
        self.store = Store::new(UpdatePolicy::new(trusted, config.threshold));
        if let Some(keys) = config.auth_keys {
            let keys = keys
                .files()
                .into_iter()
                .map(PublicKeyFile::verifying_key)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| unavailable("AUTH_KEYS", &e))?;
            let audience = config.auth_audience.ok_or_else(|| {
                WorkerError::Unavailable("AUTH_KEYS is set without AUTH_AUDIENCE".into())
            })?;
            self.auth = Some(Authenticator::new(&keys, audience, config.auth_leeway_secs));
        }
        self.limiter = (config.infer_rate > 0).then(|| {
            KeyedLimiter::new(
                Rate::per_second(config.infer_rate, config.infer_burst),
                MAX_RATE_KEYS,
            )
        });
        self.max_body_bytes = config.max_body_bytes;
        Ok(())
    }

    /// The largest body accepted (the glue refuses a larger `Content-Length` before reading).
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Everything before the body is read, in the edge server's order: the route, the method,
    /// the configuration, the token (failures throttled per client IP), the rate limit, the
    /// model name, the declared body size. `Some`: answer this; `None`: go on (the model name
    /// is then valid).
    pub fn preflight(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        client_ip: Option<String>,
        content_length: Option<f64>,
        now_secs: f64,
    ) -> Option<Reply> {
        self.check(
            method,
            path,
            authorization,
            client_ip,
            content_length,
            now_secs,
        )
        .err()
        .map(|e| Reply::from(&e))
    }

    fn clock(&self) -> Duration {
        Duration::from_secs_f64(((performance_now() - self.epoch_ms) / 1000.0).max(0.0))
    }

    fn check(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        client_ip: Option<String>,
        content_length: Option<f64>,
        now_secs: f64,
    ) -> Result<(), WorkerError> {
        let name = model_in_path(path).ok_or_else(|| WorkerError::NotFound(path.to_owned()))?;
        if method != "POST" {
            return Err(WorkerError::MethodNotAllowed(method.to_owned()));
        }
        self.setup.clone()?;
        let ip_key = format!("ip:{}", client_ip.as_deref().unwrap_or("unknown"));
        let rate_key = match &self.auth {
            None => ip_key,
            Some(auth) => match auth.check(authorization.as_deref(), now_secs as u64) {
                Ok(key) => key,
                Err(error) => {
                    let now = self.clock();
                    if let Decision::Limited { retry_after } =
                        self.auth_failures.check(&ip_key, now)
                    {
                        return Err(WorkerError::RateLimited(retry_after));
                    }
                    return Err(error);
                }
            },
        };
        let now = self.clock();
        if let Some(limiter) = self.limiter.as_mut() {
            if let Decision::Limited { retry_after } = limiter.check(&rate_key, now) {
                return Err(WorkerError::RateLimited(retry_after));
            }
        }
        name.parse::<ModelName>()?;
        if content_length.is_some_and(|len| len > self.max_body_bytes as f64) {
            return Err(WorkerError::TooLarge(self.max_body_bytes));
        }
        Ok(())
    }

    /// Starts resolving `model` from its published manifest bytes (`undefined`: none in the
    /// store): the shards to read, by hex digest in order (empty: nothing to read).
    pub fn begin(&mut self, model: &str, manifest: Option<Vec<u8>>, now_secs: f64) -> Vec<String> {
        match model.parse::<ModelName>() {
            Ok(name) => self
                .store
                .begin(&name, manifest.as_deref(), now_secs as u64),
            Err(_) => Vec::new(),
        }
    }

    /// The next shard's bytes (`undefined`: missing). `false`: stop, the load failed.
    pub fn shard(&mut self, bytes: Option<Vec<u8>>, now_secs: f64) -> bool {
        self.store.shard(bytes.as_deref(), now_secs as u64)
    }

    /// Verifies the whole file, builds the session and runs the known-answer vectors.
    pub fn finish(&mut self, now_secs: f64) {
        self.store.finish(now_secs as u64);
    }

    /// Answers the request for `model` with `body`; `started_ms` is `performance.now()` when
    /// the request arrived.
    pub fn answer(&mut self, model: &str, body: &[u8], now_secs: f64, started_ms: f64) -> Reply {
        match self.infer(model, body, now_secs, started_ms) {
            Ok(reply) => reply,
            Err(e) => Reply::from(&e),
        }
    }

    fn infer(
        &mut self,
        model: &str,
        body: &[u8],
        now_secs: f64,
        started_ms: f64,
    ) -> Result<Reply, WorkerError> {
        let name: ModelName = model.parse()?;
        if body.len() > self.max_body_bytes {
            return Err(WorkerError::TooLarge(self.max_body_bytes));
        }
        let refused = self.store.refused_update(&name);
        let loaded = self.store.model(&name, now_secs as u64)?;
        let inputs = InferRequest::from_json(body)?.validate(&loaded.signature.inputs)?;
        let computing = performance_now();
        let outputs = ready(loaded.session.run(&inputs))
            .unwrap_or_else(|| {
                Err(tessera_onnx::engine::EngineError::Run(
                    "the engine did not run synchronously".into(),
                ))
            })
            .map_err(|e| WorkerError::RunFailed {
                model: model.to_owned(),
                detail: e.to_string(),
            })?;
        let outputs = tessera_onnx::engine::json_outputs(outputs);
        let done = performance_now();
        let response = InferResponse {
            model: name,
            version: loaded.manifest.version.clone(),
            source: Source::Edge,
            engine: Some(TRACT_WASM.to_owned()),
            outputs,
            timings: Timings {
                queue_ms: 0.0,
                compute_ms: done - computing,
                total_ms: done - started_ms,
            },
        };
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ];
        if let Some(code) = refused {
            headers.push((REFUSED_UPDATE_HEADER.to_owned(), code.to_owned()));
        }
        Ok(Reply {
            status: 200,
            body: serde_json::to_string(&response).map_err(|e| WorkerError::RunFailed {
                model: model.to_owned(),
                detail: e.to_string(),
            })?,
            headers,
        })
    }
}

/// `NAME` in `/v1/models/NAME/infer`.
fn model_in_path(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/models/")?.strip_suffix("/infer")
}
