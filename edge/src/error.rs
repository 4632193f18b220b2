//! The edge server's two failure areas: [`EdgeError`] (the server cannot start or stops; TLS
//! setup failures are [`TlsError`]s inside it) and [`RequestError`] (one request fails and is
//! answered with a JSON error body).
//!
//! Every variant has a stable kebab-case code ([`ErrorCode`]). A request error becomes
//! `{"error": {"code": "...", "message": "..."}}` with the status [`RequestError::status`];
//! messages name the thing that failed but never a filesystem path of the server.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use tessera_core::layout::LayoutError;
use tessera_core::ErrorCode;

use crate::tls::TlsError;

/// Why the edge server cannot start or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// The artifacts directory does not exist or is not a directory.
    #[error("artifacts directory {} is missing or not a directory", path.display())]
    ArtifactsMissing {
        /// The configured directory.
        path: PathBuf,
    },
    /// The app directory does not exist or is not a directory.
    #[error("app directory {} is missing or not a directory", path.display())]
    AppMissing {
        /// The configured directory.
        path: PathBuf,
    },
    /// A CORS origin is not of the form `scheme://host[:port]`.
    #[error("CORS origin {origin:?} is invalid: use scheme://host[:port] with no path (e.g. https://app.example.com); '*' is not allowed")]
    CorsOriginInvalid {
        /// The configured origin.
        origin: String,
    },
    /// The request log file cannot be opened for appending.
    #[error("cannot open request log {}: {source}", path.display())]
    RequestLog {
        /// The configured file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// TLS cannot be set up: a certificate, key or client CA file is unreadable or invalid. The
    /// code is the [`TlsError`]'s (`tls-cert-invalid`, `tls-key-mismatch`, …).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The server stopped with an IO error.
    #[error("server stopped: {source}")]
    Serve {
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ErrorCode for EdgeError {
    fn code(&self) -> &'static str {
        match self {
            Self::ArtifactsMissing { .. } => "artifacts-missing",
            Self::AppMissing { .. } => "app-missing",
            Self::CorsOriginInvalid { .. } => "cors-origin-invalid",
            Self::RequestLog { .. } => "request-log-failed",
            Self::Bind { .. } => "bind-failed",
            Self::Tls(e) => e.code(),
            Self::Serve { .. } => "serve-failed",
        }
    }
}

/// Why one request failed. Answered as a JSON error body; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The path has a malformed or forbidden percent-escape (an encoded `/` or `\`, a control
    /// character) or is not UTF-8.
    #[error("request path is malformed: {0}")]
    PathInvalid(String),
    /// The path after `/models/` is not a valid artifact path (bad model name or file path, or
    /// names nothing in the layout). The code is the core layout error's.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// No route and no app file for this path.
    #[error("nothing is served at {0:?}")]
    NotFound(String),
    /// The model has no `manifest.json`.
    #[error("model {0:?} not found")]
    ModelNotFound(String),
    /// The model has no manifest for this version.
    #[error("model {model:?} has no version {version}")]
    VersionNotFound {
        /// The model name.
        model: String,
        /// The version asked for.
        version: String,
    },
    /// The model's current manifest lists no file with this logical path.
    #[error("model {model:?} has no file {path:?}")]
    FileNotFound {
        /// The model name.
        model: String,
        /// The logical path asked for.
        path: String,
    },
    /// No shard with this digest.
    #[error("shard {0} not found")]
    ShardNotFound(String),
    /// The method is not GET or HEAD.
    #[error("method {0} is not allowed here: use GET or HEAD")]
    MethodNotAllowed(String),
    /// `416`: the requested range lies outside the representation.
    #[error("range not satisfiable: the representation has {0} bytes")]
    RangeNotSatisfiable(u64),
    /// The model's manifest cannot be read (server-side problem).
    #[error("manifest of model {0:?} cannot be read")]
    ManifestUnreadable(String),
    /// The model's manifest is not a valid envelope or manifest (server-side problem).
    #[error("manifest of model {model:?} is invalid: {detail}")]
    ManifestInvalid {
        /// The model name.
        model: String,
        /// What is wrong, from the core parser.
        detail: String,
    },
    /// A shard the manifest references is not in the artifacts directory.
    #[error("shard {0} referenced by the manifest is missing on the server")]
    ShardMissing(String),
    /// A shard on disk has another size than the manifest says.
    #[error("shard {shard} has {actual} bytes on the server, the manifest says {expected}")]
    ShardSizeMismatch {
        /// The shard's digest.
        shard: String,
        /// Size from the manifest.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// `401`: the server requires a client certificate (mTLS, `--client-ca`) for this path and
    /// the connection presented none.
    #[error("this endpoint requires a TLS client certificate issued by the server's client CA")]
    ClientCertRequired,
    /// Any other server-side failure (an IO error); details are logged, not sent.
    #[error("internal server error")]
    Internal,
}

impl ErrorCode for RequestError {
    fn code(&self) -> &'static str {
        match self {
            Self::PathInvalid(_) => "path-invalid",
            Self::Layout(e) => e.code(),
            Self::NotFound(_) => "not-found",
            Self::ModelNotFound(_) => "model-not-found",
            Self::VersionNotFound { .. } => "version-not-found",
            Self::FileNotFound { .. } => "file-not-found",
            Self::ShardNotFound(_) => "shard-not-found",
            Self::MethodNotAllowed(_) => "method-not-allowed",
            Self::RangeNotSatisfiable(_) => "range-unsatisfiable",
            Self::ManifestUnreadable(_) => "manifest-unreadable",
            Self::ManifestInvalid { .. } => "manifest-invalid",
            Self::ShardMissing(_) => "shard-missing",
            Self::ShardSizeMismatch { .. } => "shard-size-mismatch",
            Self::ClientCertRequired => "client-cert-required",
            Self::Internal => "internal-error",
        }
    }
}

impl RequestError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::PathInvalid(_) => StatusCode::BAD_REQUEST,
            Self::Layout(LayoutError::UnknownArtifactPath(_)) => StatusCode::NOT_FOUND,
            Self::Layout(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_)
            | Self::ModelNotFound(_)
            | Self::VersionNotFound { .. }
            | Self::FileNotFound { .. }
            | Self::ShardNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::ClientCertRequired => StatusCode::UNAUTHORIZED,
            Self::ManifestUnreadable(_)
            | Self::ManifestInvalid { .. }
            | Self::ShardMissing(_)
            | Self::ShardSizeMismatch { .. }
            | Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        match self {
            Self::MethodNotAllowed(_) => {
                headers.insert(
                    http::header::ALLOW,
                    http::HeaderValue::from_static("GET, HEAD"),
                );
            }
            Self::RangeNotSatisfiable(total) => {
                let value = tessera_core::range::unsatisfied_content_range(total);
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    headers.insert(http::header::CONTENT_RANGE, value);
                }
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
    fn layout_errors_keep_the_core_code_and_map_unknown_paths_to_404() {
        let unknown = RequestError::from(LayoutError::UnknownArtifactPath("x".into()));
        assert_eq!(unknown.code(), "unknown-artifact-path");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let bad_name = RequestError::from(LayoutError::InvalidModelName("..".into()));
        assert_eq!(bad_name.code(), "invalid-model-name");
        assert_eq!(bad_name.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn unsatisfiable_range_answer_names_the_length() {
        let response = RequestError::RangeNotSatisfiable(42).into_response();
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            response.headers()[http::header::CONTENT_RANGE],
            "bytes */42"
        );
    }
}
