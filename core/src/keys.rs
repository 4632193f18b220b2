//! Ed25519 keys: key ids, the public-key file format, and the trusted key set.
//!
//! A key id is the lowercase hex SHA-256 of the raw 32-byte public key, so anyone can recompute
//! it from the key alone. Public keys travel as a small JSON document ([`PublicKeyFile`]) — the
//! same object a service worker's `tessera.config.json` lists under `trustedKeys`. Private key
//! storage (PEM files, permissions) belongs to the CLI; this module never sees a file.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;

/// The only signature algorithm tessera uses.
pub const ALGORITHM_ED25519: &str = "ed25519";

/// A public key that can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64 of 32 bytes, not a valid curve point, or an unknown algorithm.
    #[error("public key is malformed: {0}")]
    Malformed(String),
    /// The file's `keyid` is not the hash of its key.
    #[error("key id {declared} does not match the key (its id is {actual})")]
    IdMismatch {
        /// The id the file declares.
        declared: String,
        /// The id computed from the key.
        actual: String,
    },
}

impl ErrorCode for KeyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "key-malformed",
            Self::IdMismatch { .. } => "key-id-mismatch",
        }
    }
}

/// The id of a public key: hex SHA-256 of its 32 raw bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    Sha256Digest::of(key.as_bytes()).to_hex()
}

/// A public key as JSON: `{"keyid": "…", "algorithm": "ed25519", "publicKey": "<base64>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyFile {
    /// [`key_id`] of the key.
    pub keyid: String,
    /// Always [`ALGORITHM_ED25519`].
    pub algorithm: String,
    /// Standard base64 of the 32 raw public key bytes.
    pub public_key: String,
}

impl PublicKeyFile {
    /// Describes `key`.
    pub fn new(key: &VerifyingKey) -> Self {
        Self {
            keyid: key_id(key),
            algorithm: ALGORITHM_ED25519.to_owned(),
            public_key: BASE64.encode(key.as_bytes()),
        }
    }

    /// The key, after checking the algorithm, the encoding and that the id matches.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        if self.algorithm != ALGORITHM_ED25519 {
            return Err(KeyError::Malformed(format!(
                "algorithm {:?} (only {ALGORITHM_ED25519:?} is supported)",
                self.algorithm
            )));
        }
        let raw = BASE64
            .decode(&self.public_key)
            .map_err(|e| KeyError::Malformed(format!("publicKey is not base64: {e}")))?;
        let bytes: [u8; 32] = raw.try_into().map_err(|v: Vec<u8>| {
            KeyError::Malformed(format!("publicKey has {} bytes, want 32", v.len()))
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| KeyError::Malformed(format!("not an Ed25519 public key: {e}")))?;
        if key.is_weak() {
            return Err(KeyError::Malformed(
                "a small-order (weak) Ed25519 key, which anyone can forge signatures for".into(),
            ));
        }
        let actual = key_id(&key);
        if actual != self.keyid {
            return Err(KeyError::IdMismatch {
                declared: self.keyid.clone(),
                actual,
            });
        }
        Ok(key)
    }
}

/// The keys a client trusts to sign manifests, by key id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl TrustedKeys {
    /// An empty set (which trusts nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` under its computed id.
    pub fn insert(&mut self, key: VerifyingKey) -> &mut Self {
        self.keys.insert(key_id(&key), key);
        self
    }

    /// Builds a set from public key files, checking each.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = &'a PublicKeyFile>,
    ) -> Result<Self, KeyError> {
        let mut set = Self::new();
        for file in files {
            set.insert(file.verifying_key()?);
        }
        Ok(set)
    }

    /// The trusted key with this id.
    pub fn get(&self, keyid: &str) -> Option<&VerifyingKey> {
        self.keys.get(keyid)
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
