//! Manifest signing keys: Ed25519 and ECDSA P-256 public keys, their key ids, the public-key
//! file format, and the trusted key set.
//!
//! Two algorithms, one verification path ([`PublicKey::verify`], called by
//! [`crate::dsse::Envelope::verify`]):
//! - **Ed25519** (`"ed25519"`): the key id is the lowercase hex SHA-256 of the raw 32-byte public
//!   key; the file carries those 32 bytes in base64. Signatures are the 64-byte Ed25519 signature,
//!   checked strictly (no small-order keys or `R` values).
//! - **ECDSA P-256 with SHA-256** (`"ecdsa-p256"`), the key type of Sigstore and OpenSSF Model
//!   Signing: the key id is the lowercase hex SHA-256 of the key's DER `SubjectPublicKeyInfo`
//!   with the point uncompressed (what `openssl pkey -pubin -outform der` writes); the file carries
//!   that SPKI DER in base64 (a compressed-point SPKI is read too, and gets the same id).
//!   Signatures are ASN.1 DER (what OpenSSL, Sigstore and model_signing emit) or the raw 64-byte
//!   `r || s` (what WebCrypto emits); both are accepted.
//!
//! Anyone can recompute a key id from the key alone. Public keys travel as a small JSON document
//! ([`PublicKeyFile`]) — the same object a service worker's `tessera.config.json` lists under
//! `trustedKeys`. Private key storage (PEM files, permissions) belongs to the CLI; this module
//! never sees a file and never holds a private key.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use p256::ecdsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;

/// The `algorithm` of an Ed25519 key file.
pub const ALGORITHM_ED25519: &str = "ed25519";
/// The `algorithm` of an ECDSA P-256 (SHA-256) key file.
pub const ALGORITHM_ECDSA_P256: &str = "ecdsa-p256";

/// The DER `SubjectPublicKeyInfo` header of a P-256 key (`id-ecPublicKey`, `prime256v1`) before
/// its 65-byte uncompressed point: the fixed bytes every standard encoder writes. Matching them
/// instead of running a general DER/SPKI decoder keeps the service worker's wasm small.
const SPKI_P256_UNCOMPRESSED: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// The same header before a 33-byte compressed point.
const SPKI_P256_COMPRESSED: [u8; 26] = [
    0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
];

/// A P-256 key from its DER SPKI (uncompressed or compressed point).
fn p256_from_spki(der: &[u8]) -> Result<p256::ecdsa::VerifyingKey, KeyError> {
    let point = der
        .strip_prefix(&SPKI_P256_UNCOMPRESSED)
        .filter(|p| p.len() == 65)
        .or_else(|| {
            der.strip_prefix(&SPKI_P256_COMPRESSED)
                .filter(|p| p.len() == 33)
        })
        .ok_or_else(|| {
            KeyError::Malformed(
                "publicKey is not the DER SubjectPublicKeyInfo of a P-256 (prime256v1) key".into(),
            )
        })?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| KeyError::Malformed("publicKey is not a point on P-256".into()))
}

/// A public key that can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64 of a key of the declared algorithm, not a valid curve point, or an unknown
    /// algorithm.
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

/// The id of an Ed25519 public key: hex SHA-256 of its 32 raw bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    Sha256Digest::of(key.as_bytes()).to_hex()
}

/// A public key trusted to sign manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// An Ed25519 key.
    Ed25519(VerifyingKey),
    /// An ECDSA key on NIST P-256, signing SHA-256 digests.
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

impl From<VerifyingKey> for PublicKey {
    fn from(key: VerifyingKey) -> Self {
        Self::Ed25519(key)
    }
}

impl From<p256::ecdsa::VerifyingKey> for PublicKey {
    fn from(key: p256::ecdsa::VerifyingKey) -> Self {
        Self::EcdsaP256(key)
    }
}

impl PublicKey {
    /// The key's `algorithm` name in a key file.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => ALGORITHM_ED25519,
            Self::EcdsaP256(_) => ALGORITHM_ECDSA_P256,
        }
    }

    /// The bytes a key file carries: the raw 32 bytes (Ed25519) or the SPKI DER with the point
    /// uncompressed (P-256).
    pub fn encoded(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(key) => key.as_bytes().to_vec(),
            Self::EcdsaP256(key) => {
                let mut der = SPKI_P256_UNCOMPRESSED.to_vec();
                der.extend_from_slice(key.to_sec1_point(false).as_bytes());
                der
            }
        }
    }

    /// The key id: hex SHA-256 of [`PublicKey::encoded`].
    pub fn key_id(&self) -> String {
        match self {
            Self::Ed25519(key) => key_id(key),
            Self::EcdsaP256(_) => Sha256Digest::of(&self.encoded()).to_hex(),
        }
    }

    /// Whether `signature` is this key's valid signature of `message`. Ed25519 is checked
    /// strictly (rejects small-order `R` values, with which a signature can be made to verify
    /// for any message); ECDSA P-256 accepts a DER signature or a raw 64-byte `r || s`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            Self::EcdsaP256(key) => {
                let der = p256::ecdsa::Signature::from_der(signature);
                // A DER signature is 8..=72 bytes and may be exactly 64: try DER first, then raw.
                der.is_ok_and(|sig| key.verify(message, &sig).is_ok())
                    || p256::ecdsa::Signature::from_slice(signature)
                        .is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
        }
    }
}

/// A public key as JSON: `{"keyid": "…", "algorithm": "ed25519" | "ecdsa-p256",
/// "publicKey": "<base64>"}` (see the module docs for what each algorithm's key and id are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyFile {
    /// [`PublicKey::key_id`] of the key.
    pub keyid: String,
    /// [`ALGORITHM_ED25519`] or [`ALGORITHM_ECDSA_P256`].
    pub algorithm: String,
    /// Standard base64 of [`PublicKey::encoded`].
    pub public_key: String,
}

impl PublicKeyFile {
    /// Describes an Ed25519 `key`.
    pub fn new(key: &VerifyingKey) -> Self {
        Self::of(&PublicKey::Ed25519(*key))
    }

    /// Describes `key`, of either algorithm.
    pub fn of(key: &PublicKey) -> Self {
        Self {
            keyid: key.key_id(),
            algorithm: key.algorithm().to_owned(),
            public_key: BASE64.encode(key.encoded()),
        }
    }

    /// The Ed25519 key, after the checks of [`PublicKeyFile::public_key`]; an ECDSA key file is
    /// `key-malformed` here.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        match self.public_key()? {
            PublicKey::Ed25519(key) => Ok(key),
            other => Err(KeyError::Malformed(format!(
                "a {} key where an {ALGORITHM_ED25519} key is required",
                other.algorithm()
            ))),
        }
    }

    /// The key, after checking the algorithm, the encoding and that the id matches.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let raw = BASE64
            .decode(&self.public_key)
            .map_err(|e| KeyError::Malformed(format!("publicKey is not base64: {e}")))?;
        let key = match self.algorithm.as_str() {
            ALGORITHM_ED25519 => PublicKey::Ed25519(ed25519_key(raw)?),
            ALGORITHM_ECDSA_P256 => PublicKey::EcdsaP256(p256_from_spki(&raw)?),
            other => {
                return Err(KeyError::Malformed(format!(
                "algorithm {other:?} (supported: {ALGORITHM_ED25519:?}, {ALGORITHM_ECDSA_P256:?})"
            )))
            }
        };
        let actual = key.key_id();
        if actual != self.keyid {
            return Err(KeyError::IdMismatch {
                declared: self.keyid.clone(),
                actual,
            });
        }
        Ok(key)
    }
}

/// An Ed25519 key from its 32 raw bytes, refusing small-order (weak) keys.
fn ed25519_key(raw: Vec<u8>) -> Result<VerifyingKey, KeyError> {
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
    Ok(key)
}

/// The keys a client trusts to sign manifests, by key id; Ed25519 and P-256 keys may be mixed
/// (a threshold counts distinct keys, whatever their algorithm).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<String, PublicKey>,
}

impl TrustedKeys {
    /// An empty set (which trusts nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` under its computed id.
    pub fn insert(&mut self, key: impl Into<PublicKey>) -> &mut Self {
        let key = key.into();
        self.keys.insert(key.key_id(), key);
        self
    }

    /// Builds a set from public key files, checking each.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = &'a PublicKeyFile>,
    ) -> Result<Self, KeyError> {
        let mut set = Self::new();
        for file in files {
            set.insert(file.public_key()?);
        }
        Ok(set)
    }

    /// The trusted key with this id.
    pub fn get(&self, keyid: &str) -> Option<&PublicKey> {
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
