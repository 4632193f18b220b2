//! [`WorkerError`]: why one request failed, with the edge API's stable code and HTTP status.
//!
//! The codes and statuses are the edge server's (`tessera_edge`'s `InferenceError`), which lives
//! behind axum and cannot be built for wasm32; this is the subset a worker can hit (no read
//! timeout, no client certificates, no worker queue). Request-validation codes are core's
//! ([`InferError`]), manifest refusals core's ([`UpdateError`]).

use std::time::Duration;

use tessera_core::infer::{ErrorBody, InferError};
use tessera_core::layout::LayoutError;
use tessera_core::policy::UpdateError;
use tessera_core::ErrorCode;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// `503`: no keys trusted to sign models are configured (`TRUSTED_KEYS`).
    #[error("inference is disabled on this worker: it has no trusted model keys (TRUSTED_KEYS)")]
    Disabled,
    /// `503`: the worker's configuration or storage binding is unusable.
    #[error("inference is unavailable on this worker: {0}")]
    Unavailable(String),
    /// `401`: no `Authorization: Bearer` token.
    #[error("this endpoint requires a bearer token (Authorization: Bearer <token>)")]
    AuthMissing,
    /// `401`: malformed token, unknown key or bad signature.
    #[error("bearer token is invalid: {0}")]
    AuthInvalid(String),
    /// `401`: expired or not yet valid.
    #[error("bearer token has expired or is not yet valid")]
    AuthExpired,
    /// `401`: another audience.
    #[error("bearer token is not for this audience")]
    AuthAudience,
    /// `429`: the client's bucket is empty.
    #[error("too many inference requests; retry after {} s", retry_after_secs(*.0))]
    RateLimited(Duration),
    /// `413`: body over the limit.
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// `405`: only `POST`.
    #[error("method {0} is not allowed here: use POST")]
    MethodNotAllowed(String),
    /// `400`: the request does not fit the model.
    #[error(transparent)]
    Request(#[from] InferError),
    /// `400`: the path does not name a valid model.
    #[error(transparent)]
    ModelName(#[from] LayoutError),
    /// `404`: no manifest for this model in the store.
    #[error("model {0:?} not found")]
    ModelNotFound(String),
    /// `500`: the signed manifest is refused by the update policy; the code is the policy's.
    #[error("model {model:?} is refused: {source}")]
    ModelRefused {
        /// The model.
        model: String,
        /// The policy's verdict.
        source: Box<UpdateError>,
    },
    /// `500`: a shard is missing from the store.
    #[error("model {model:?}: shard {shard} is missing on the server")]
    ShardMissing {
        /// The model.
        model: String,
        /// The shard's digest.
        shard: String,
    },
    /// `500`: a shard's bytes do not match its digest or size.
    #[error("model {model:?}: shard {shard} does not match its digest; the model is refused")]
    ShardCorrupt {
        /// The model.
        model: String,
        /// The shard's digest.
        shard: String,
    },
    /// `500`: the assembled file does not match the manifest.
    #[error(
        "model {model:?}: file {path} does not match the manifest's sha256; the model is refused"
    )]
    FileCorrupt {
        /// The model.
        model: String,
        /// The file's logical path.
        path: String,
    },
    /// `500`: the ONNX file cannot be served by this engine.
    #[error("model {model:?} is not supported: {detail}")]
    ModelUnsupported {
        /// The model.
        model: String,
        /// What is wrong.
        detail: String,
    },
    /// `500`: the engine could not build a session.
    #[error("model {model:?}: the inference session could not be built: {detail}")]
    SessionFailed {
        /// The model.
        model: String,
        /// The engine's error.
        detail: String,
    },
    /// `500`: a known-answer vector got a wrong answer; the session is not used.
    #[error("model {model:?} failed its known-answer test {vector:?}: {detail}")]
    SelfTestFailed {
        /// The model.
        model: String,
        /// The vector.
        vector: String,
        /// How the answer was wrong.
        detail: String,
    },
    /// `500`: the model failed while running.
    #[error("model {model:?} failed while running: {detail}")]
    RunFailed {
        /// The model.
        model: String,
        /// The engine's error.
        detail: String,
    },
    /// `404`: not an endpoint of this worker.
    #[error("no such endpoint: {0}")]
    NotFound(String),
}

impl ErrorCode for WorkerError {
    fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "inference-disabled",
            Self::Unavailable(_) => "inference-unavailable",
            Self::AuthMissing => "auth-missing",
            Self::AuthInvalid(_) => "auth-invalid",
            Self::AuthExpired => "auth-expired",
            Self::AuthAudience => "auth-audience",
            Self::RateLimited(_) => "rate-limited",
            Self::TooLarge(_) => "request-too-large",
            Self::MethodNotAllowed(_) => "method-not-allowed",
            Self::Request(e) => e.code(),
            Self::ModelName(e) => e.code(),
            Self::ModelNotFound(_) => "model-not-found",
            Self::ModelRefused { source, .. } => source.code(),
            Self::ShardMissing { .. } => "shard-missing",
            Self::ShardCorrupt { .. } => "shard-corrupt",
            Self::FileCorrupt { .. } => "model-file-corrupt",
            Self::ModelUnsupported { .. } => "model-unsupported",
            Self::SessionFailed { .. } => "model-session-failed",
            Self::SelfTestFailed { .. } => "model-self-test-failed",
            Self::RunFailed { .. } => "inference-failed",
            Self::NotFound(_) => "not-found",
        }
    }
}

impl WorkerError {
    /// The HTTP status (the edge server's for the same code).
    pub fn status(&self) -> u16 {
        match self {
            Self::Disabled | Self::Unavailable(_) => 503,
            Self::AuthMissing | Self::AuthInvalid(_) | Self::AuthExpired | Self::AuthAudience => {
                401
            }
            Self::RateLimited(_) => 429,
            Self::TooLarge(_) => 413,
            Self::MethodNotAllowed(_) => 405,
            Self::Request(_) | Self::ModelName(_) => 400,
            Self::ModelNotFound(_) | Self::NotFound(_) => 404,
            Self::ModelRefused { .. }
            | Self::ShardMissing { .. }
            | Self::ShardCorrupt { .. }
            | Self::FileCorrupt { .. }
            | Self::ModelUnsupported { .. }
            | Self::SessionFailed { .. }
            | Self::SelfTestFailed { .. }
            | Self::RunFailed { .. } => 500,
        }
    }

    /// The response headers the edge server sends with this error (besides `Content-Type`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("cache-control", "no-store".to_owned())];
        match self {
            Self::AuthMissing => {
                headers.push(("www-authenticate", "Bearer realm=\"tessera\"".to_owned()));
            }
            Self::AuthInvalid(_) | Self::AuthExpired | Self::AuthAudience => headers.push((
                "www-authenticate",
                "Bearer realm=\"tessera\", error=\"invalid_token\"".to_owned(),
            )),
            Self::RateLimited(wait) => {
                headers.push(("retry-after", retry_after_secs(*wait).to_string()));
            }
            Self::MethodNotAllowed(_) => headers.push(("allow", "POST".to_owned())),
            _ => {}
        }
        headers
    }

    /// `{"error": {"code", "message"}}`.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody::new(self)).unwrap_or_default()
    }
}

/// Whole seconds, rounded up, never 0 (as the edge server).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}
