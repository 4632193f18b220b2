//! [`ArtifactsError`]: everything that can go wrong writing or checking an artifact directory,
//! each with a stable code.
//!
//! Errors that core already names (a malformed manifest, a bad signature, an invalid model name)
//! are wrapped and keep core's code, so a user sees the same `manifest-signature-invalid` from the
//! CLI as from the service worker. This module defines no behaviour beyond naming failures.

use std::io;
use std::path::{Path, PathBuf};

use tessera_core::dsse::SignatureError;
use tessera_core::keys::KeyError;
use tessera_core::layout::LayoutError;
use tessera_core::manifest::{ManifestError, ShardRef};
use tessera_core::policy::UpdateError;
use tessera_core::{ErrorCode, Sha256Digest};

use crate::onnx::OnnxError;

/// A failure while packing, verifying or handling key files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactsError {
    /// Reading or writing a file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`"cannot read"`, `"cannot create"` …).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A shard the manifest lists is not in `_shards/`.
    #[error("shard {} of file {file:?} (bytes {offset}..{}) is missing: {}", shard.sha256, offset + shard.size, path.display())]
    ShardMissing {
        /// The shard.
        shard: ShardRef,
        /// The first file (logical path) that uses it.
        file: String,
        /// Byte offset of the shard in that file.
        offset: u64,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A shard file exists but its size or sha256 is not what the manifest says.
    #[error("shard {} of file {file:?} (bytes {offset}..{}) is corrupt: {detail}", shard.sha256, offset + shard.size)]
    ShardCorrupt {
        /// The shard.
        shard: ShardRef,
        /// The first file (logical path) that uses it.
        file: String,
        /// Byte offset of the shard in that file.
        offset: u64,
        /// What differs (size or digest).
        detail: String,
    },
    /// Every shard of a file verified but the concatenation does not hash to the file's sha256
    /// (the manifest itself is inconsistent).
    #[error("file {file:?}: its shards hash to {actual}, the manifest says {expected}")]
    FileHashMismatch {
        /// Logical path.
        file: String,
        /// The manifest's sha256.
        expected: Sha256Digest,
        /// The sha256 of the shard bytes.
        actual: Sha256Digest,
    },
    /// The manifest JSON does not parse or is inconsistent (code from core).
    #[error("{}: {source}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        source: ManifestError,
    },
    /// The DSSE envelope is malformed or its signatures don't verify (code from core).
    #[error("{}: {source}", path.display())]
    Signature {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        source: SignatureError,
    },
    /// The manifest is refused by core's update policy for another reason (code from core).
    #[error("{}: {source}", path.display())]
    Refused {
        /// The manifest file.
        path: PathBuf,
        /// The policy's verdict.
        source: Box<UpdateError>,
    },
    /// A model name or logical path is invalid (code from core).
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A public key file's key is unusable (code from core).
    #[error("{}: {source}", path.display())]
    Key {
        /// The public key file.
        path: PathBuf,
        /// What is wrong.
        source: KeyError,
    },
    /// A public key file is not `PublicKeyFile` JSON.
    #[error("{} is not a tessera public key file (JSON with keyid, algorithm, publicKey): {detail}", path.display())]
    PublicKeyFileMalformed {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },
    /// No private key file at this path.
    #[error("private key {} does not exist (create one with `tessera keygen --out DIR`)", path.display())]
    PrivateKeyMissing {
        /// The path given.
        path: PathBuf,
    },
    /// The private key file exists but cannot be read.
    #[error("cannot read private key {}: {source}", path.display())]
    PrivateKeyUnreadable {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The private key file is not a PKCS#8 PEM Ed25519 key.
    #[error("{} is not a PKCS#8 PEM Ed25519 private key (-----BEGIN PRIVATE KEY-----): {detail}", path.display())]
    PrivateKeyNotPem {
        /// The path given.
        path: PathBuf,
        /// The decoder's complaint.
        detail: String,
    },
    /// `keygen` would overwrite an existing key file.
    #[error("{} already exists; refusing to overwrite a key (use --force to replace it)", path.display())]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The requested version is older than the current one.
    #[error("refusing to pack {name} {requested}: the current manifest is already at {current} (a client would reject it as a rollback; use --force to override)")]
    Rollback {
        /// Model name.
        name: String,
        /// The version asked for.
        requested: semver::Version,
        /// The version of the current `manifest.json`.
        current: semver::Version,
    },
    /// The requested version equals the current one but the content differs.
    #[error("refusing to pack {name} {version} again with different content (a client that has it would reject the mix-and-match; bump the version or use --force)")]
    MixAndMatch {
        /// Model name.
        name: String,
        /// The version.
        version: semver::Version,
    },
    /// Same version and content as the current manifest, but issued earlier (a clock gone back).
    #[error("refusing to re-sign {name} {version} with issued_at {issued_at}, before the current manifest's {current_issued_at} (a client would reject it as stale; check the clock or use --force)")]
    StaleReissue {
        /// Model name.
        name: String,
        /// The version.
        version: semver::Version,
        /// The new manifest's issue time.
        issued_at: u64,
        /// The current manifest's issue time.
        current_issued_at: u64,
    },
    /// The shard size is outside the accepted range.
    #[error("shard size {size} bytes is outside {min}..={max}")]
    ShardSize {
        /// The size asked for.
        size: u64,
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// An input file ending in `.onnx` is not a readable ONNX model.
    #[error("{}: {source}", path.display())]
    Onnx {
        /// The input file.
        path: PathBuf,
        /// What is wrong.
        source: OnnxError,
    },
    /// The test-vector file is not a JSON array of test vectors.
    #[error("{} is not a JSON array of test vectors: {detail}", path.display())]
    TestVectorsMalformed {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },
    /// The manifest's model name does not match the directory it sits in.
    #[error("{} names model {declared:?} but sits in directory {directory:?}", path.display())]
    ManifestMisplaced {
        /// The manifest file.
        path: PathBuf,
        /// The name inside the manifest.
        declared: String,
        /// The name of the model directory.
        directory: String,
    },
}

impl ErrorCode for ArtifactsError {
    fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::ShardMissing { .. } => "shard-missing",
            Self::ShardCorrupt { .. } => "shard-corrupt",
            Self::FileHashMismatch { .. } => "file-hash-mismatch",
            Self::Manifest { source, .. } => source.code(),
            Self::Signature { source, .. } => source.code(),
            Self::Refused { source, .. } => source.code(),
            Self::Layout(e) => e.code(),
            Self::Key { source, .. } => source.code(),
            Self::PublicKeyFileMalformed { .. } => "public-key-malformed",
            Self::PrivateKeyMissing { .. } => "private-key-missing",
            Self::PrivateKeyUnreadable { .. } => "private-key-unreadable",
            Self::PrivateKeyNotPem { .. } => "private-key-not-pem",
            Self::KeyFileExists { .. } => "key-file-exists",
            Self::Rollback { .. } => "manifest-rollback",
            Self::MixAndMatch { .. } => "manifest-mix-and-match",
            Self::StaleReissue { .. } => "manifest-stale-reissue",
            Self::ShardSize { .. } => "shard-size-out-of-range",
            Self::Onnx { source, .. } => source.code(),
            Self::TestVectorsMalformed { .. } => "test-vectors-malformed",
            Self::ManifestMisplaced { .. } => "manifest-misplaced",
        }
    }
}

impl ArtifactsError {
    /// An IO failure on `path` while doing `action`.
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
