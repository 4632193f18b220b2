//! [`ApiError`]: the edge inference API's one error table — why one `POST
//! /v1/models/<name>/infer` request failed, its stable code, its HTTP status, its message and the
//! headers that go with it (`WWW-Authenticate`, `Retry-After`, `Allow`, `Connection`).
//!
//! Both answerers of the API use it: `tessera serve` (`tessera_edge`, which turns it into an axum
//! response) and the edge worker on workerd (`edge-worker/`), so the two cannot drift apart.
//! Request-validation codes are [`InferError`]'s, manifest refusals [`UpdateError`]'s, token
//! refusals [`TokenError`]'s. This module only describes answers: it sends nothing, logs
//! nothing and knows no HTTP library (statuses are plain `u16`, headers lower-case name/value
//! pairs).

use std::time::Duration;

use crate::error::ErrorCode;
use crate::infer::{ErrorBody, InferError};
use crate::layout::LayoutError;
use crate::policy::UpdateError;
use crate::token::TokenError;

/// Why an inference request failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// `503`: no keys trusted to sign models are configured.
    #[error("inference is disabled here: no keys are trusted to sign models (tessera serve --trust KEY.pub.json; the edge worker's TRUSTED_KEYS)")]
    Disabled,
    /// `503`: no usable inference engine or storage (built without the `inference` feature,
    /// `--engine wonnx` without a GPU/Vulkan adapter, an unusable worker binding).
    #[error("inference is unavailable here: {0}")]
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
    /// `408`: the body did not arrive within the read timeout; the connection is closed.
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
    /// `404`: no model of this name in the store.
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
    /// `500`: a shard of the model file is missing from the store.
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
    /// `404`: not an endpoint of this server.
    #[error("no such endpoint: {0}")]
    NotFound(String),
    /// `500`: any other server-side failure (an IO error); details are logged, not sent.
    #[error("internal server error")]
    Internal,
}

impl ErrorCode for ApiError {
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
            Self::NotFound(_) => "not-found",
            Self::Internal => "internal-error",
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Missing => Self::AuthMissing,
            TokenError::Invalid(detail) => Self::AuthInvalid(detail),
            TokenError::Expired => Self::AuthExpired,
            TokenError::Audience => Self::AuthAudience,
        }
    }
}

/// `WWW-Authenticate` for a request without a token.
const CHALLENGE: &str = "Bearer realm=\"tessera\"";
/// `WWW-Authenticate` for a refused token.
const CHALLENGE_INVALID: &str = "Bearer realm=\"tessera\", error=\"invalid_token\"";

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Disabled | Self::Unavailable(_) | Self::Busy => 503,
            Self::AuthMissing | Self::AuthInvalid(_) | Self::AuthExpired | Self::AuthAudience => {
                401
            }
            Self::RateLimited(_) => 429,
            Self::Timeout(_) => 408,
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
            | Self::RunFailed { .. }
            | Self::Internal => 500,
        }
    }

    /// The response headers sent with this error besides `Content-Type: application/json`:
    /// always `cache-control: no-store`; the bearer challenge on `401`s, `retry-after` on
    /// `429`/busy `503`, `allow: POST` on `405`, and `connection: close` on a read timeout (the
    /// rest of the body may still come: it must not be read as a request). Lower-case names.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("cache-control", "no-store".to_owned())];
        match self {
            Self::AuthMissing => headers.push(("www-authenticate", CHALLENGE.to_owned())),
            Self::AuthInvalid(_) | Self::AuthExpired | Self::AuthAudience => {
                headers.push(("www-authenticate", CHALLENGE_INVALID.to_owned()));
            }
            Self::RateLimited(wait) => {
                headers.push(("retry-after", retry_after_secs(*wait).to_string()));
            }
            Self::Busy => headers.push(("retry-after", "1".to_owned())),
            Self::Timeout(_) => headers.push(("connection", "close".to_owned())),
            Self::MethodNotAllowed(_) => headers.push(("allow", "POST".to_owned())),
            _ => {}
        }
        headers
    }

    /// The body: `{"error": {"code", "message"}}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self)
    }
}

/// `Retry-After` is whole seconds: rounded up, and never 0 (which would invite a busy loop).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
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
        let limited = ApiError::RateLimited(Duration::from_millis(2500));
        assert_eq!(limited.status(), 429);
        assert!(limited.headers().contains(&("retry-after", "3".to_owned())));
    }

    /// The table clients switch on: code, status and the headers that must come with it.
    #[test]
    fn every_error_has_its_code_status_and_headers() {
        let model = || "m".to_owned();
        // (error, code, status, the header it must carry besides cache-control)
        type Case = (
            ApiError,
            &'static str,
            u16,
            Option<(&'static str, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (ApiError::Disabled, "inference-disabled", 503, None),
            (
                ApiError::Unavailable("x".into()),
                "inference-unavailable",
                503,
                None,
            ),
            (
                ApiError::Busy,
                "inference-busy",
                503,
                Some(("retry-after", "1")),
            ),
            (
                ApiError::AuthMissing,
                "auth-missing",
                401,
                Some(("www-authenticate", CHALLENGE)),
            ),
            (
                ApiError::AuthInvalid("x".into()),
                "auth-invalid",
                401,
                Some(("www-authenticate", CHALLENGE_INVALID)),
            ),
            (
                ApiError::AuthExpired,
                "auth-expired",
                401,
                Some(("www-authenticate", CHALLENGE_INVALID)),
            ),
            (
                ApiError::AuthAudience,
                "auth-audience",
                401,
                Some(("www-authenticate", CHALLENGE_INVALID)),
            ),
            (
                ApiError::Timeout(Duration::from_secs(1)),
                "request-timeout",
                408,
                Some(("connection", "close")),
            ),
            (ApiError::TooLarge(10), "request-too-large", 413, None),
            (
                ApiError::MethodNotAllowed("GET".into()),
                "method-not-allowed",
                405,
                Some(("allow", "POST")),
            ),
            (
                ApiError::Request(InferError::Malformed("x".into())),
                "request-malformed",
                400,
                None,
            ),
            (
                ApiError::ModelNotFound(model()),
                "model-not-found",
                404,
                None,
            ),
            (
                ApiError::ShardMissing {
                    model: model(),
                    shard: "s".into(),
                },
                "shard-missing",
                500,
                None,
            ),
            (
                ApiError::ShardCorrupt {
                    model: model(),
                    shard: "s".into(),
                },
                "shard-corrupt",
                500,
                None,
            ),
            (
                ApiError::FileCorrupt {
                    model: model(),
                    path: "p".into(),
                },
                "model-file-corrupt",
                500,
                None,
            ),
            (
                ApiError::ModelUnsupported {
                    model: model(),
                    detail: "d".into(),
                },
                "model-unsupported",
                500,
                None,
            ),
            (
                ApiError::SessionFailed {
                    model: model(),
                    detail: "d".into(),
                },
                "model-session-failed",
                500,
                None,
            ),
            (
                ApiError::SelfTestFailed {
                    model: model(),
                    vector: "v".into(),
                    detail: "d".into(),
                },
                "model-self-test-failed",
                500,
                None,
            ),
            (
                ApiError::RunFailed {
                    model: model(),
                    detail: "d".into(),
                },
                "inference-failed",
                500,
                None,
            ),
            (ApiError::NotFound("/x".into()), "not-found", 404, None),
            (ApiError::Internal, "internal-error", 500, None),
        ];
        for (error, code, status, header) in cases {
            assert_eq!(error.code(), code, "{error}");
            assert_eq!(error.status(), status, "{code}");
            let headers = error.headers();
            assert!(
                headers.contains(&("cache-control", "no-store".to_owned())),
                "{code}"
            );
            match header {
                Some((name, value)) => {
                    assert!(
                        headers.contains(&(name, value.to_owned())),
                        "{code}: {headers:?}"
                    )
                }
                None => assert_eq!(headers.len(), 1, "{code}: {headers:?}"),
            }
            let body = serde_json::to_value(error.body()).unwrap();
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["error"]["message"], error.to_string());
        }
    }

    #[test]
    fn token_refusals_become_401s_with_the_token_codes() {
        for (token, code) in [
            (TokenError::Missing, "auth-missing"),
            (TokenError::Invalid("x".into()), "auth-invalid"),
            (TokenError::Expired, "auth-expired"),
            (TokenError::Audience, "auth-audience"),
        ] {
            assert_eq!(token.code(), code);
            let error = ApiError::from(token);
            assert_eq!((error.code(), error.status()), (code, 401));
        }
    }
}
