//! Names and paths: model names, logical file paths, and where each artifact lives.
//!
//! The artifact directory is plain static files, served as-is by `tessera serve`, nginx, a CDN
//! or an object store:
//!
//! ```text
//! ARTIFACTS/
//!   _shards/<sha256>                 content-addressed shard bytes, shared by all models/versions
//!   <name>/manifest.json             the current signed manifest (a DSSE envelope)
//!   <name>/versions/<semver>.json    every signed manifest ever packed, for rollback audits
//! ```
//!
//! Under the URL prefix (default `/models/`) the same relative paths are used, plus
//! `<name>/<logical path>` for a model file assembled from its shards (served by the edge server
//! and by the service worker). This module validates names so that none of these can collide or
//! escape the directory (`..`, absolute paths, backslashes); it does not touch the filesystem.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;

/// Directory (and URL segment) holding content-addressed shards.
pub const SHARDS_DIR: &str = "_shards";
/// URL segment under which a client answers, from its own store, the manifest it accepted for a
/// model (`_accepted/<name>`): the service worker serves it to the page's runtime. No server
/// serves it.
pub const ACCEPTED_DIR: &str = "_accepted";
/// File name of a model's current signed manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Directory of a model's past signed manifests.
pub const VERSIONS_DIR: &str = "versions";

/// A name or path that would be unsafe or ambiguous as an artifact path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Model names are 1–64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
    #[error("invalid model name {0:?}: use 1-64 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit")]
    InvalidModelName(String),
    /// Logical paths are `/`-separated segments of `A-Z a-z 0-9 . _ -`, each starting with a
    /// letter or digit, at most 255 bytes, whose first segment is neither `manifest.json` nor
    /// `versions`.
    #[error("invalid model file path {0:?}")]
    InvalidLogicalPath(String),
    /// The path names nothing in the artifact layout.
    #[error("not an artifact path: {0:?}")]
    UnknownArtifactPath(String),
}

impl ErrorCode for LayoutError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidModelName(_) => "invalid-model-name",
            Self::InvalidLogicalPath(_) => "invalid-file-path",
            Self::UnknownArtifactPath(_) => "unknown-artifact-path",
        }
    }
}

fn is_safe_segment(s: &str, allow_upper: bool) -> bool {
    let mut bytes = s.bytes();
    let first_ok = bytes.next().is_some_and(|b| {
        b.is_ascii_digit() || b.is_ascii_lowercase() || (allow_upper && b.is_ascii_uppercase())
    });
    first_ok
        && bytes.all(|b| {
            b.is_ascii_digit()
                || b.is_ascii_lowercase()
                || (allow_upper && b.is_ascii_uppercase())
                || matches!(b, b'.' | b'_' | b'-')
        })
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A validated model name: one safe path segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelName(String);
string_newtype!(ModelName);

impl FromStr for ModelName {
    type Err = LayoutError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() <= 64 && is_safe_segment(s, false) {
            Ok(Self(s.to_owned()))
        } else {
            Err(LayoutError::InvalidModelName(s.chars().take(80).collect()))
        }
    }
}

/// A validated logical file path inside a model, e.g. `model.onnx` or `tokenizer/vocab.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalPath(String);
string_newtype!(LogicalPath);

impl FromStr for LogicalPath {
    type Err = LayoutError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The first segment must not be a name the layout uses beside model files, or
        // `<name>/<path>` could shadow (or sit "inside") the manifest or the versions directory.
        let first = s.split('/').next();
        let ok = s.len() <= 255
            && s.split('/').all(|seg| is_safe_segment(seg, true))
            && first != Some(MANIFEST_FILE)
            && first != Some(VERSIONS_DIR);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(LayoutError::InvalidLogicalPath(
                s.chars().take(300).collect(),
            ))
        }
    }
}

/// Relative path of a shard: `_shards/<sha256>`.
pub fn shard_path(digest: &Sha256Digest) -> String {
    format!("{SHARDS_DIR}/{digest}")
}

/// Relative path of the manifest a client accepted for a model: `_accepted/<name>`.
pub fn accepted_path(name: &ModelName) -> String {
    format!("{ACCEPTED_DIR}/{name}")
}

/// Relative path of a model's current manifest: `<name>/manifest.json`.
pub fn manifest_path(name: &ModelName) -> String {
    format!("{name}/{MANIFEST_FILE}")
}

/// Relative path of one version's manifest: `<name>/versions/<version>.json`.
pub fn versioned_manifest_path(name: &ModelName, version: &semver::Version) -> String {
    format!("{name}/{VERSIONS_DIR}/{version}.json")
}

/// What a relative artifact path (the part after the URL prefix) names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactPath {
    /// `_shards/<sha256>`.
    Shard(Sha256Digest),
    /// `<name>/manifest.json`.
    Manifest(ModelName),
    /// `<name>/versions/<version>.json`.
    VersionedManifest(ModelName, semver::Version),
    /// `<name>/<logical path>`: a model file, assembled from its shards.
    LogicalFile(ModelName, LogicalPath),
    /// `_accepted/<name>`: the envelope a client accepted for the model, from that client's
    /// own store (never from a server).
    Accepted(ModelName),
}

impl ArtifactPath {
    /// Classifies a relative path such as `_shards/ab12…` or `recommender/model.onnx`.
    /// Anything that could escape the artifact directory is rejected.
    pub fn parse(rel: &str) -> Result<Self, LayoutError> {
        let unknown = || LayoutError::UnknownArtifactPath(rel.chars().take(300).collect());
        let (head, rest) = rel.split_once('/').ok_or_else(unknown)?;
        if head == SHARDS_DIR {
            return rest.parse().map(Self::Shard).map_err(|_| unknown());
        }
        if head == ACCEPTED_DIR {
            return rest.parse().map(Self::Accepted).map_err(|_| unknown());
        }
        let name: ModelName = head.parse()?;
        if rest == MANIFEST_FILE {
            return Ok(Self::Manifest(name));
        }
        if let Some(file) = rest
            .strip_prefix(VERSIONS_DIR)
            .and_then(|r| r.strip_prefix('/'))
        {
            let version = file
                .strip_suffix(".json")
                .and_then(|v| semver::Version::parse(v).ok())
                .ok_or_else(unknown)?;
            return Ok(Self::VersionedManifest(name, version));
        }
        Ok(Self::LogicalFile(name, rest.parse()?))
    }

    /// The relative path this value was parsed from (canonical spelling).
    pub fn to_path(&self) -> String {
        match self {
            Self::Shard(d) => shard_path(d),
            Self::Manifest(n) => manifest_path(n),
            Self::VersionedManifest(n, v) => versioned_manifest_path(n, v),
            Self::LogicalFile(n, p) => format!("{n}/{p}"),
            Self::Accepted(n) => accepted_path(n),
        }
    }
}
