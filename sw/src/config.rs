//! `tessera.config.json` parsed into a typed [`Config`]: defaults applied, every field checked,
//! trusted keys decoded. It does not fetch the file nor resolve relative URLs (the worker does).

use serde::Deserialize;
use tessera_core::download::{DownloadConfig, Hashing};
use tessera_core::keys::{KeyError, PublicKeyFile, TrustedKeys};
use tessera_core::policy::UpdatePolicy;
use tessera_core::ErrorCode;

/// Smallest accepted `chunkSize` (bytes).
pub const MIN_CHUNK_SIZE: u64 = 1024;
/// Largest accepted `chunkSize` (bytes): one IndexedDB value should stay well below memory limits.
pub const MAX_CHUNK_SIZE: u64 = 64 * 1024 * 1024;
/// Largest accepted `concurrency`.
pub const MAX_CONCURRENCY: usize = 32;

/// The service worker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Intercepted same-origin URL path prefix; starts and ends with `/`.
    pub prefix: String,
    /// Where manifests and shards are fetched from (possibly relative); ends with `/`.
    pub artifacts_base: String,
    /// Keys trusted to sign manifests.
    pub trusted: TrustedKeys,
    /// Distinct trusted signatures required (≥ 1).
    pub threshold: usize,
    /// Parallel shard downloads (1..=[`MAX_CONCURRENCY`]).
    pub concurrency: usize,
    /// Bytes persisted per storage write: the resume granularity (what a cut connection or a
    /// stopped worker can cost at most, per shard in flight).
    pub chunk_size: u64,
    /// Where shard bytes are kept.
    pub storage: StorageChoice,
    /// URLs cached at install for offline use.
    pub app_shell: Vec<String>,
    /// Optional URL whose `GET` answers `{"token": "..."}`.
    pub token_url: Option<String>,
    /// What may be removed when a download does not fit.
    pub evict: EvictChoice,
}

/// What the worker may remove to make room for a download that does not fit (`"evict"` in
/// the config): `"lru"` (default) removes stored versions of other models, least recently
/// served first, and only when that makes enough room; `"never"` removes nothing (the download
/// fails with `quota` and the app decides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictChoice {
    /// Least recently used first.
    #[default]
    Lru,
    /// Never remove anything to make room.
    Never,
}

/// Where shard bytes are kept (`"storage"` in the config): `"auto"` (default) picks the origin
/// private file system where the browser offers it in a service worker, else IndexedDB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageChoice {
    /// OPFS when available, else IndexedDB.
    #[default]
    Auto,
    /// Files in the origin private file system (fails to start without it).
    Opfs,
    /// IndexedDB records.
    Indexeddb,
}

/// Why a configuration was refused. Every variant has the code `config-invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not JSON of the expected shape.
    #[error("tessera.config.json is not valid: {0}")]
    Json(String),
    /// A field has a value out of its range.
    #[error("tessera.config.json field {field:?} {reason}")]
    Field {
        /// The JSON field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A trusted key cannot be used.
    #[error("tessera.config.json trustedKeys: {0}")]
    Key(#[from] KeyError),
}

impl ErrorCode for ConfigError {
    fn code(&self) -> &'static str {
        "config-invalid"
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default)]
    artifacts_base: Option<String>,
    trusted_keys: Vec<PublicKeyFile>,
    #[serde(default = "one")]
    threshold: usize,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    #[serde(default = "default_chunk_size")]
    chunk_size: u64,
    #[serde(default)]
    app_shell: Vec<String>,
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    storage: StorageChoice,
    #[serde(default)]
    evict: EvictChoice,
}

fn default_prefix() -> String {
    "/models/".to_owned()
}
fn one() -> usize {
    1
}
fn default_concurrency() -> usize {
    4
}
fn default_chunk_size() -> u64 {
    1024 * 1024
}

impl Config {
    /// Parses and checks the bytes of `tessera.config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            serde_json::from_slice(bytes).map_err(|e| ConfigError::Json(e.to_string()))?;
        let field = |field, reason: &str| ConfigError::Field {
            field,
            reason: reason.to_owned(),
        };
        if !raw.prefix.starts_with('/') || !raw.prefix.ends_with('/') || raw.prefix.len() < 2 {
            return Err(field(
                "prefix",
                "must be a path that starts and ends with '/', e.g. \"/models/\"",
            ));
        }
        let artifacts_base = raw.artifacts_base.unwrap_or_else(|| raw.prefix.clone());
        if !artifacts_base.ends_with('/') {
            return Err(field("artifactsBase", "must end with '/'"));
        }
        if raw.trusted_keys.is_empty() {
            return Err(field("trustedKeys", "must name at least one key"));
        }
        let trusted = TrustedKeys::from_files(&raw.trusted_keys)?;
        if raw.threshold == 0 || raw.threshold > trusted.len() {
            return Err(field(
                "threshold",
                "must be at least 1 and at most the number of trusted keys",
            ));
        }
        if raw.concurrency == 0 || raw.concurrency > MAX_CONCURRENCY {
            return Err(field("concurrency", "must be between 1 and 32"));
        }
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&raw.chunk_size) {
            return Err(field(
                "chunkSize",
                "must be between 1024 and 67108864 bytes",
            ));
        }
        Ok(Self {
            prefix: raw.prefix,
            artifacts_base,
            trusted,
            threshold: raw.threshold,
            concurrency: raw.concurrency,
            chunk_size: raw.chunk_size,
            app_shell: raw.app_shell,
            token_url: raw.token_url.filter(|u| !u.is_empty()),
            storage: raw.storage,
            evict: raw.evict,
        })
    }

    /// The manifest update policy these keys and threshold define.
    pub fn policy(&self) -> UpdatePolicy {
        UpdatePolicy::new(self.trusted.clone(), self.threshold)
    }

    /// Download plan limits: `concurrency` requests in flight, default retry bounds.
    pub fn download_config(&self) -> DownloadConfig {
        DownloadConfig {
            max_parallel: self.concurrency,
            // Complete shards are hashed by the platform (WebCrypto) over their stored bytes.
            hashing: Hashing::ByCaller,
            // One request per piece: a browser drops what it received but had not handed to
            // the worker when a connection fails, so the request size is what bounds a cut.
            max_request_bytes: self.chunk_size,
            ..DownloadConfig::default()
        }
    }

    /// The artifact path of a same-origin URL path under [`prefix`](Self::prefix), e.g.
    /// `/models/mlp/model.onnx` → `mlp/model.onnx`.
    pub fn artifact_path<'a>(&self, url_path: &'a str) -> Option<&'a str> {
        url_path.strip_prefix(self.prefix.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tessera_core::keys::PublicKeyFile;

    fn key_json() -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        serde_json::to_string(&PublicKeyFile::new(&key)).unwrap()
    }

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let json = format!(r#"{{"trustedKeys": [{}]}}"#, key_json());
        let c = Config::from_json(json.as_bytes()).unwrap();
        assert_eq!(c.prefix, "/models/");
        assert_eq!(c.artifacts_base, "/models/");
        assert_eq!((c.threshold, c.concurrency, c.chunk_size), (1, 4, 1 << 20));
        assert!(c.app_shell.is_empty() && c.token_url.is_none());
        assert_eq!(c.evict, EvictChoice::Lru);
        let never = format!(r#"{{"trustedKeys": [{}], "evict": "never"}}"#, key_json());
        assert_eq!(
            Config::from_json(never.as_bytes()).unwrap().evict,
            EvictChoice::Never
        );
        assert_eq!(
            c.artifact_path("/models/m/model.onnx"),
            Some("m/model.onnx")
        );
        assert_eq!(c.artifact_path("/app.js"), None);
    }

    #[test]
    fn bad_configs_are_config_invalid() {
        let k = key_json();
        let cases = [
            "not json".to_owned(),
            "{}".to_owned(),
            r#"{"trustedKeys": []}"#.to_owned(),
            format!(r#"{{"trustedKeys": [{k}], "prefix": "models"}}"#),
            format!(r#"{{"trustedKeys": [{k}], "artifactsBase": "/x"}}"#),
            format!(r#"{{"trustedKeys": [{k}], "threshold": 2}}"#),
            format!(r#"{{"trustedKeys": [{k}], "threshold": 0}}"#),
            format!(r#"{{"trustedKeys": [{k}], "concurrency": 0}}"#),
            format!(r#"{{"trustedKeys": [{k}], "chunkSize": 10}}"#),
            format!(r#"{{"trustedKeys": [{k}], "unknownField": 1}}"#),
            format!(r#"{{"trustedKeys": [{k}], "evict": "sometimes"}}"#),
            r#"{"trustedKeys": [{"keyid": "00", "algorithm": "ed25519", "publicKey": "AAAA"}]}"#
                .to_owned(),
        ];
        for case in cases {
            let err = Config::from_json(case.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "config-invalid", "{case}");
        }
    }
}
