//! [`InferenceError`]: why one `POST /v1/models/<name>/infer` request failed, with its stable
//! code and HTTP status. Answered as `{"error": {"code", "message"}}` like every edge error;
//! request-validation codes are core's ([`InferError`]).

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::{ALLOW, CACHE_CONTROL, CONNECTION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use tessera_core::infer::{ErrorBody, InferError};
use tessera_core::layout::LayoutError;
use tessera_core::policy::UpdateError;
use tessera_core::ErrorCode;

/// Why an inference request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    /// `503`: the server was started without keys trusted to sign models (`--trust`).
    #[error("inference is disabled on this server: it was started without trusted model keys (tessera serve --trust KEY.pub.json)")]
    Disabled,
    /// `503`: no inference engine: built without the `inference` feature, or `--engine wonnx`
    /// found no GPU/Vulkan adapter (install Mesa lavapipe: `mesa-vulkan-drivers libvulkan1`, or
    /// run `--engine tract`).
    #[error("inference is unavailable on this server: {0}")]
    Unavailable(String),
    /// `503`: every inference worker is busy and the queue is full.
    #[error("inference queue is full; retry shortly")]
    Busy,
    /// `401`: no `Authorization: Bearer` token.
    #[error("this endpoint requires a bearer token (Authorization: Bearer <token>)")]
    AuthMissing,
    /// `401`: the token is malformed, signed by an unknown key or its signature is wrong.
    #[error("bearer token is invalid: {0}")]
    AuthInvalid(String),
    /// `401`: the token has expired (or is not valid yet).
    #[error("bearer token has expired or is not yet valid")]
    AuthExpired,
    /// `401`: the token is for another audience.
    #[error("bearer token is not for this audience")]
    AuthAudience,
    /// `429`: this client's token bucket is empty.
    #[error("too many inference requests; retry after {} s", retry_after_secs(*.0))]
    RateLimited(Duration),
    /// `408`: the body did not arrive within the read timeout (`--read-timeout-secs`); the
    /// connection is closed.
    #[error("request body not received within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// `413`: the body is larger than the configured limit.
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// `405`: only `POST` is served here.
    #[error("method {0} is not allowed here: use POST")]
    MethodNotAllowed(String),
    /// `400`: the request does not fit the model ([`InferError`]'s codes).
    #[error(transparent)]
    Request(#[from] InferError),
    /// `400`: the path does not name a valid model.
    #[error(transparent)]
    ModelName(#[from] LayoutError),
    /// `404`: no model of this name in the artifacts directory.
    #[error("model {0:?} not found")]
    ModelNotFound(String),
    /// `500`: the model's signed manifest is refused by the update policy (bad or unknown
    /// signature, expired, rollback…); the code is the policy's.
    #[error("model {model:?} is refused: {source}")]
    ModelRefused {
        /// The model.
        model: String,
        /// The policy's verdict.
        source: Box<UpdateError>,
    },
    /// `500`: a shard of the model file is missing from the artifacts directory.
    #[error("model {model:?}: shard {shard} is missing on the server")]
    ShardMissing {
        /// The model.
        model: String,
        /// The shard's digest.
        shard: String,
    },
    /// `500`: a shard's bytes do not match its digest or size: the model is refused.
    #[error("model {model:?}: shard {shard} does not match its digest; the model is refused")]
    ShardCorrupt {
        /// The model.
        model: String,
        /// The shard's digest.
        shard: String,
    },
    /// `500`: the assembled file does not match the manifest's sha256: the model is refused.
    #[error(
        "model {model:?}: file {path} does not match the manifest's sha256; the model is refused"
    )]
    FileCorrupt {
        /// The model.
        model: String,
        /// The file's logical path.
        path: String,
    },
    /// `500`: the ONNX file cannot be served by this engine (unparsable, dynamic dimensions,
    /// unsupported element types).
    #[error("model {model:?} is not supported: {detail}")]
    ModelUnsupported {
        /// The model.
        model: String,
        /// What is wrong.
        detail: String,
    },
    /// `500`: the engine could not build a session for the model.
    #[error("model {model:?}: the inference session could not be built: {detail}")]
    SessionFailed {
        /// The model.
        model: String,
        /// The engine's error.
        detail: String,
    },
    /// `500`: a new session computed a wrong answer for one of the manifest's known-answer test
    /// vectors; the session is not used.
    #[error("model {model:?} failed its known-answer test {vector:?}: {detail}")]
    SelfTestFailed {
        /// The model.
        model: String,
        /// The test vector's name.
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
    /// `500`: any other server-side failure (an IO error); details are logged, not sent.
    #[error("internal server error")]
    Internal,
}

impl ErrorCode for InferenceError {
    fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "inference-disabled",
            Self::Unavailable(_) => "inference-unavailable",
            Self::Busy => "inference-busy",
            Self::AuthMissing => "auth-missing",
            Self::AuthInvalid(_) => "auth-invalid",
            Self::AuthExpired => "auth-expired",
            Self::AuthAudience => "auth-audience",
            Self::RateLimited(_) => "rate-limited",
            Self::Timeout(_) => "request-timeout",
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
            Self::Internal => "internal-error",
        }
    }
}

impl InferenceError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Disabled | Self::Unavailable(_) | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::AuthMissing | Self::AuthInvalid(_) | Self::AuthExpired | Self::AuthAudience => {
                StatusCode::UNAUTHORIZED
            }
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Request(_) | Self::ModelName(_) => StatusCode::BAD_REQUEST,
            Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::ModelRefused { .. }
            | Self::ShardMissing { .. }
            | Self::ShardCorrupt { .. }
            | Self::FileCorrupt { .. }
            | Self::ModelUnsupported { .. }
            | Self::SessionFailed { .. }
            | Self::SelfTestFailed { .. }
            | Self::RunFailed { .. }
            | Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `Retry-After` is whole seconds: round up, and never 0 (which would invite a busy loop).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for InferenceError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "inference request failed");
        }
        let mut response = (status, Json(ErrorBody::new(&self))).into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            Self::AuthMissing => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tessera\""),
                );
            }
            Self::AuthInvalid(_) | Self::AuthExpired | Self::AuthAudience => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tessera\", error=\"invalid_token\""),
                );
            }
            Self::RateLimited(wait) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(*wait)));
            }
            Self::Busy => {
                headers.insert(RETRY_AFTER, HeaderValue::from(1u64));
            }
            Self::Timeout(_) => {
                // HTTP/1.1: the rest of the body may still come; do not read it as a request.
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Self::MethodNotAllowed(_) => {
                headers.insert(ALLOW, HeaderValue::from_static("POST"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        for (wait, secs) in [
            (Duration::ZERO, 1),
            (Duration::from_millis(1), 1),
            (Duration::from_millis(1000), 1),
            (Duration::from_millis(1001), 2),
        ] {
            assert_eq!(retry_after_secs(wait), secs, "{wait:?}");
        }
        let response = InferenceError::RateLimited(Duration::from_millis(2500)).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
    }
}
