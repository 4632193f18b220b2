//! [`SwError`]: every way the service worker can fail, each with a stable code. Errors of
//! `tessera-core` pass through with their own codes; the SW adds `quota`, `network`,
//! `model-not-found`, `file-not-found`, `store-failed`, `config-invalid`, `auth-failed`. It does
//! not decide HTTP statuses beyond [`SwError::http_status`] nor how errors reach the page.

use tessera_core::assemble::AssemblyError;
use tessera_core::download::DownloadError;
use tessera_core::layout::LayoutError;
use tessera_core::policy::UpdateError;
use tessera_core::ErrorCode;

use crate::config::ConfigError;
use crate::js_error::JsError;

/// A service worker failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SwError {
    /// `tessera.config.json` is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A fetched manifest was refused by the update policy.
    #[error(transparent)]
    Policy(#[from] UpdateError),
    /// A shard download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Stored shards do not make the file the manifest describes.
    #[error(transparent)]
    Assembly(#[from] AssemblyError),
    /// A model name or file path is not valid.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The missing bytes don't fit, even after removing what the config lets the worker
    /// remove (up front by the storage estimate, or after a write failed for lack of space).
    #[error(
        "not enough storage for model {model}: {needed} bytes needed, {available} available \
         (removing other stored models could free {freeable}; storage persisted: {persisted})"
    )]
    Quota {
        /// The model being downloaded.
        model: String,
        /// Bytes still to download.
        needed: u64,
        /// Bytes the origin may still use (the browser's estimate).
        available: u64,
        /// Whether the browser granted this origin persistent storage.
        persisted: bool,
        /// Bytes removing every other stored model version this worker may remove would free
        /// (less than what was missing, or they would have been removed).
        freeable: u64,
    },
    /// The browser refused a write for lack of storage.
    #[error("storage quota exceeded while writing: {0}")]
    QuotaExceeded(JsError),
    /// A fetch failed (offline, DNS, CORS) and nothing verified can answer.
    #[error("network error fetching {url}: {cause}")]
    Network {
        /// What was fetched.
        url: String,
        /// The browser's error.
        cause: JsError,
    },
    /// A manifest or token request answered an unexpected HTTP status.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// What was fetched.
        url: String,
        /// The status.
        status: u16,
    },
    /// The model's manifest does not exist (404).
    #[error("model {model} not found: {url} answered 404")]
    ModelNotFound {
        /// The model.
        model: String,
        /// The manifest URL.
        url: String,
    },
    /// The model has no file of that path.
    #[error("model {model} has no file {path}")]
    FileNotFound {
        /// The model.
        model: String,
        /// The path asked for.
        path: String,
    },
    /// IndexedDB failed.
    #[error("IndexedDB failed ({context}): {cause}")]
    Store {
        /// What was being done.
        context: &'static str,
        /// The browser's error.
        cause: JsError,
    },
    /// Stored data is missing (evicted) or unreadable.
    #[error("stored data for {what} is missing or corrupt; it will be downloaded again")]
    StoreCorrupt {
        /// What is missing.
        what: String,
    },
    /// The artifact server answered 401 even after the token was refreshed.
    #[error("{url} answered 401 Unauthorized after refreshing the token")]
    AuthFailed {
        /// What was fetched.
        url: String,
    },
    /// A page message or request the SW does not understand.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An unexpected JavaScript exception.
    #[error("unexpected JavaScript error: {0}")]
    Js(JsError),
}

impl From<tessera_driver::DriverError> for SwError {
    fn from(e: tessera_driver::DriverError) -> Self {
        match e {
            tessera_driver::DriverError::OthersKeptFailing { model } => Self::StoreCorrupt {
                what: format!("shards of {model} that other downloads kept failing"),
            },
            // `DriverError` is non-exhaustive: a future failure of the driver's own.
            other => Self::StoreCorrupt {
                what: other.to_string(),
            },
        }
    }
}

impl ErrorCode for SwError {
    fn code(&self) -> &'static str {
        match self {
            Self::Config(e) => e.code(),
            Self::Policy(e) => e.code(),
            Self::Download(e) => e.code(),
            Self::Assembly(e) => e.code(),
            Self::Layout(e) => e.code(),
            Self::Quota { .. } | Self::QuotaExceeded(_) => "quota",
            Self::Network { .. } => "network",
            Self::HttpStatus { .. } => "http-status",
            Self::ModelNotFound { .. } => "model-not-found",
            Self::FileNotFound { .. } => "file-not-found",
            Self::Store { .. } | Self::StoreCorrupt { .. } => "store-failed",
            Self::AuthFailed { .. } => "auth-failed",
            Self::BadRequest(_) => "bad-request",
            Self::Js(_) => "js-error",
        }
    }
}

impl SwError {
    /// A storage failure: `quota` when the browser ran out of space, else `store-failed`.
    pub fn store(context: &'static str, cause: JsError) -> Self {
        if cause.is_quota() {
            Self::QuotaExceeded(cause)
        } else {
            Self::Store { context, cause }
        }
    }

    /// The HTTP status a served error response carries.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::ModelNotFound { .. } | Self::FileNotFound { .. } | Self::Layout(_) => 404,
            Self::BadRequest(_) => 400,
            Self::Quota { .. } | Self::QuotaExceeded(_) => 507,
            Self::Network { .. } => 503,
            Self::Config(_) | Self::Store { .. } | Self::StoreCorrupt { .. } | Self::Js(_) => 500,
            _ => 502,
        }
    }

    /// The JSON `{ "code", "message" }` pages and error bodies carry, plus `details` where the
    /// page can act on figures (`quota`: `needed`, `available`, `persisted`, `freeable`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        if let Some(details) = self.details() {
            json["details"] = details;
        }
        json
    }

    /// The figures of a failure, where it has some.
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            Self::Quota {
                needed,
                available,
                persisted,
                freeable,
                ..
            } => Some(serde_json::json!({
                "needed": needed,
                "available": available,
                "persisted": persisted,
                "freeable": freeable,
            })),
            _ => None,
        }
    }

    /// Whether the browser or the estimate said there is no room.
    pub fn is_quota(&self) -> bool {
        matches!(self, Self::Quota { .. } | Self::QuotaExceeded(_))
    }
}

impl From<JsError> for SwError {
    fn from(e: JsError) -> Self {
        if e.is_quota() {
            Self::QuotaExceeded(e)
        } else {
            Self::Js(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_stable() {
        let js = |n: &str| JsError::new(n, "m");
        let cases: Vec<(SwError, &str, u16)> = vec![
            (
                SwError::store("put", js("QuotaExceededError")),
                "quota",
                507,
            ),
            (
                SwError::store("put", js("UnknownError")),
                "store-failed",
                500,
            ),
            (SwError::from(js("QuotaExceededError")), "quota", 507),
            (SwError::from(js("TypeError")), "js-error", 500),
            (
                SwError::ModelNotFound {
                    model: "m".into(),
                    url: "u".into(),
                },
                "model-not-found",
                404,
            ),
            (
                SwError::Network {
                    url: "u".into(),
                    cause: js("TypeError"),
                },
                "network",
                503,
            ),
            (SwError::AuthFailed { url: "u".into() }, "auth-failed", 502),
            (
                SwError::from(LayoutError::InvalidModelName("A".into())),
                "invalid-model-name",
                404,
            ),
        ];
        let quota = SwError::Quota {
            model: "m".into(),
            needed: 10,
            available: 4,
            persisted: false,
            freeable: 3,
        };
        assert_eq!(
            quota.to_json()["details"],
            serde_json::json!({"needed": 10, "available": 4, "persisted": false, "freeable": 3})
        );
        assert!(SwError::from(js("TypeError"))
            .to_json()
            .get("details")
            .is_none());
        for (err, code, status) in cases {
            assert_eq!(err.code(), code, "{err}");
            assert_eq!(err.http_status(), status, "{err}");
            assert_eq!(err.to_json()["code"], code);
        }
    }
}
