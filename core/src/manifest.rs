//! The model manifest: what a model version is made of, parsed into validated types.
//!
//! A manifest names a model version (semver), the runtime it needs, its validity window, its
//! files (logical path, size, sha256) with each file's ordered, content-addressed shards, and
//! optional known-answer test vectors. It travels inside a signed DSSE envelope ([`crate::dsse`])
//! in one of two forms, both read into the one [`Manifest`] type:
//! - an in-toto Statement v1 with a tessera predicate ([`crate::statement`], DSSE type
//!   [`crate::statement::PAYLOAD_TYPE`]) — what `tessera pack` writes;
//! - the schema-1 JSON ([`SCHEMA_VERSION`], DSSE type [`PAYLOAD_TYPE`]) that tessera wrote before,
//!   still read so deployed artifacts keep working.
//!
//! This module parses and checks internal consistency but says nothing about trust — that is
//! [`crate::policy`].
//!
//! Timestamps are Unix seconds (UTC): integers, so no clock or calendar code is needed here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;
use crate::layout::{LogicalPath, ModelName};

/// The version of the manifest's content model: the `schema` of a schema-1 manifest, and the
/// `schema` of every in-memory [`Manifest`] (an in-toto statement's predicate maps onto it).
pub const SCHEMA_VERSION: u32 = 1;
/// The DSSE `payloadType` of a schema-1 manifest (the format before in-toto statements; still
/// read, no longer written by `tessera pack`).
pub const PAYLOAD_TYPE: &str = "application/vnd.tessera.manifest+json; version=1";
/// The extension of the file a manifest without `runtime.entry` runs (the legacy rule).
pub const LEGACY_ENTRY_EXTENSION: &str = ".onnx";
/// The inference engine tessera's runtime implements.
pub const ENGINE_WONNX: &str = "wonnx";

/// A manifest that does not parse or is internally inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON, or not the manifest's shape.
    #[error("manifest is malformed: {0}")]
    Malformed(String),
    /// A `schema` this version of tessera does not understand.
    #[error(
        "manifest schema {found} is not supported (this tessera reads schema {SCHEMA_VERSION})"
    )]
    UnsupportedSchema {
        /// The schema the manifest declares.
        found: u32,
    },
    /// `expires_at` is not after `issued_at`.
    #[error("manifest validity window is empty: issued_at {issued_at} >= expires_at {expires_at}")]
    EmptyValidity {
        /// Declared issue time.
        issued_at: u64,
        /// Declared expiry time.
        expires_at: u64,
    },
    /// No files at all.
    #[error("manifest lists no files")]
    NoFiles,
    /// Two files with the same logical path.
    #[error("manifest lists file {0:?} twice")]
    DuplicatePath(String),
    /// A file's shard sizes don't add up to its size, or a shard is empty.
    #[error("file {path:?}: shards add up to {shard_total} bytes but the file has {size} (and no shard may be empty)")]
    ShardSizes {
        /// The file's logical path.
        path: String,
        /// Declared file size.
        size: u64,
        /// Sum of the declared shard sizes.
        shard_total: u64,
    },
    /// One shard digest declared with two different sizes (a digest names exactly one content).
    #[error("shard {sha256} is declared with sizes {first} and {second}")]
    ShardSizeConflict {
        /// The shard's digest.
        sha256: Sha256Digest,
        /// The size declared first.
        first: u64,
        /// A different size declared later.
        second: u64,
    },
    /// The entry point — the file the runtime loads — is not a listed file: `runtime.entry`
    /// names a file the manifest does not list, or (a manifest without `runtime.entry`) no file
    /// ends in `.onnx`.
    #[error("{}", match entry {
        Some(entry) => format!("manifest declares entry point {entry:?}, which is not one of its files"),
        None => "manifest declares no entry point (runtime.entry) and lists no .onnx file".to_owned(),
    })]
    EntryMissing {
        /// The declared entry point, if any.
        entry: Option<String>,
    },
    /// A manifest without `runtime.entry` lists several `.onnx` files: which one runs would be a
    /// guess, so none does.
    #[error("manifest declares no entry point (runtime.entry) and lists several .onnx files: {candidates:?}")]
    EntryAmbiguous {
        /// The `.onnx` files listed.
        candidates: Vec<String>,
    },
    /// An in-toto statement that is not a Statement v1 with tessera's manifest predicate.
    #[error("signed statement has _type {statement_type:?} and predicateType {predicate_type:?}; tessera reads {} with {}", crate::statement::STATEMENT_TYPE, crate::statement::PREDICATE_TYPE)]
    StatementType {
        /// The statement's `_type`.
        statement_type: String,
        /// The statement's `predicateType`.
        predicate_type: String,
    },
    /// An in-toto statement whose subjects are not exactly the files and shards its predicate
    /// lists (with the same sha256).
    #[error("signed statement's subjects disagree with its files and shards: {0}")]
    SubjectMismatch(String),
    /// A test vector tensor whose data doesn't match its shape or element type.
    #[error("test vector {vector:?}, tensor {tensor:?}: {detail}")]
    InvalidTensor {
        /// Test vector name.
        vector: String,
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
}

impl ErrorCode for ManifestError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "manifest-malformed",
            Self::UnsupportedSchema { .. } => "manifest-schema-unsupported",
            Self::EmptyValidity { .. } => "manifest-validity-empty",
            Self::NoFiles => "manifest-no-files",
            Self::DuplicatePath(_) => "manifest-duplicate-path",
            Self::ShardSizes { .. } => "manifest-shard-sizes",
            Self::ShardSizeConflict { .. } => "manifest-shard-conflict",
            Self::InvalidTensor { .. } => "manifest-invalid-tensor",
            Self::EntryMissing { .. } => "manifest-entry-missing",
            Self::EntryAmbiguous { .. } => "manifest-entry-ambiguous",
            Self::StatementType { .. } => "manifest-statement-type",
            Self::SubjectMismatch(_) => "manifest-subject-mismatch",
        }
    }
}

/// A model version: the payload of a signed envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The model's name (its directory under the artifacts root).
    pub name: ModelName,
    /// The model version; updates must not go backwards.
    pub version: semver::Version,
    /// What a runtime must provide to run this model.
    pub runtime: RuntimeRequirement,
    /// When the manifest was signed (Unix seconds).
    pub issued_at: u64,
    /// After this instant (Unix seconds) clients refuse to accept the manifest.
    pub expires_at: u64,
    /// The model's files, each with its ordered shards.
    pub files: Vec<FileEntry>,
    /// Known-answer vectors a runtime runs to prove it computes this model correctly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_vectors: Vec<TestVector>,
}

/// The runtime a model needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeRequirement {
    /// Inference engine, e.g. [`ENGINE_WONNX`].
    pub engine: String,
    /// ABI version of tessera's runtime the model was packed for.
    pub abi: u32,
    /// ONNX operator types the model uses (sorted, unique), checked against what a runtime
    /// knows to work before it builds a session.
    #[serde(default)]
    pub ops: Vec<String>,
    /// The file the runtime loads (the ONNX graph), one of [`Manifest::files`]. Written by
    /// `tessera pack` since manifests carry it; a manifest without it (packed before) has the
    /// legacy rule: its only `.onnx` file ([`Manifest::entry`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<LogicalPath>,
}

/// One logical file of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path under the model, e.g. `model.onnx`.
    pub path: LogicalPath,
    /// Total size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: Sha256Digest,
    /// The shards that, concatenated in order, make the file.
    pub shards: Vec<ShardRef>,
}

/// A content-addressed piece of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardRef {
    /// SHA-256 of the shard's bytes; also its name in the artifact layout.
    pub sha256: Sha256Digest,
    /// Size in bytes (never 0).
    pub size: u64,
}

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DType {
    /// 32-bit float.
    Float32,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer (values beyond ±2^53 are not representable in JSON numbers).
    Int64,
}

impl DType {
    /// Whether the finite number `v` is a value of this type: within `f32`'s range for
    /// `float32` (else it would become infinite), an integer within range for the others
    /// (2^63 itself is out of `int64`'s range).
    fn holds(self, v: f64) -> bool {
        match self {
            Self::Float32 => v.abs() <= f64::from(f32::MAX),
            Self::Int32 => {
                v.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&v)
            }
            Self::Int64 => {
                v.fract() == 0.0
                    && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v)
            }
        }
    }
}

/// A dense tensor in JSON form: row-major `data`, with `shape`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub shape: Vec<u64>,
    /// Row-major values.
    pub data: Vec<f64>,
}

impl Tensor {
    /// Number of elements the shape calls for (`None` on overflow).
    pub fn element_count(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
    }
}

/// A known-answer test: run `inputs`, expect `outputs` within `tolerance` (max abs difference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestVector {
    /// A label for reports.
    pub name: String,
    /// Input tensors by model input name.
    pub inputs: BTreeMap<String, Tensor>,
    /// Expected output tensors by model output name.
    pub outputs: BTreeMap<String, Tensor>,
    /// Largest accepted absolute difference per element.
    pub tolerance: f64,
}

impl Manifest {
    /// Parses and checks a verified DSSE payload of type `payload_type`: an in-toto statement
    /// ([`crate::statement::PAYLOAD_TYPE`]) or a schema-1 manifest (any other type; the caller
    /// has already checked the type is one it accepts). The signed type decides the format, so a
    /// payload is never read as the other kind.
    pub fn from_payload(payload_type: &str, bytes: &[u8]) -> Result<Self, ManifestError> {
        if payload_type == crate::statement::PAYLOAD_TYPE {
            crate::statement::from_json(bytes)
        } else {
            Self::from_schema1_json(bytes)
        }
    }

    /// Parses and checks a manifest's JSON bytes, either form: an in-toto statement (a JSON
    /// object with `_type`) or a schema-1 manifest. For payloads whose DSSE type is at hand use
    /// [`Manifest::from_payload`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        if crate::statement::is_statement(bytes) {
            crate::statement::from_json(bytes)
        } else {
            Self::from_schema1_json(bytes)
        }
    }

    /// Parses and checks a schema-1 manifest.
    fn from_schema1_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        // Read the schema first so a future manifest gets "unsupported", not "malformed".
        #[derive(Deserialize)]
        struct SchemaOnly {
            schema: u32,
        }
        let schema: SchemaOnly =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if schema.schema != SCHEMA_VERSION {
            return Err(ManifestError::UnsupportedSchema {
                found: schema.schema,
            });
        }
        let manifest: Self =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    /// The manifest as pretty schema-1 JSON (signed with [`PAYLOAD_TYPE`]; `tessera pack` signs
    /// [`Manifest::to_statement_json`] instead).
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain structs with string keys cannot fail.
        #[allow(clippy::expect_used)]
        serde_json::to_vec_pretty(self).expect("manifest serializes")
    }

    /// The manifest as a pretty in-toto statement ([`crate::statement`]), signed with
    /// [`crate::statement::PAYLOAD_TYPE`]: what `tessera pack` signs.
    pub fn to_statement_json(&self) -> Vec<u8> {
        crate::statement::to_json(self)
    }

    /// Checks internal consistency (done by [`Manifest::from_json`]; call it on manifests you
    /// build yourself).
    pub fn check(&self) -> Result<(), ManifestError> {
        if self.schema != SCHEMA_VERSION {
            return Err(ManifestError::UnsupportedSchema { found: self.schema });
        }
        if self.expires_at <= self.issued_at {
            return Err(ManifestError::EmptyValidity {
                issued_at: self.issued_at,
                expires_at: self.expires_at,
            });
        }
        if self.files.is_empty() {
            return Err(ManifestError::NoFiles);
        }
        let mut seen = BTreeSet::new();
        let mut shard_sizes = BTreeMap::new();
        for file in &self.files {
            if !seen.insert(file.path.as_str()) {
                return Err(ManifestError::DuplicatePath(file.path.to_string()));
            }
            let shard_total = file
                .shards
                .iter()
                .try_fold(0u64, |acc, s| acc.checked_add(s.size));
            let no_empty = file.shards.iter().all(|s| s.size > 0);
            if shard_total != Some(file.size) || !no_empty {
                return Err(ManifestError::ShardSizes {
                    path: file.path.to_string(),
                    size: file.size,
                    shard_total: shard_total.unwrap_or(u64::MAX),
                });
            }
            for shard in &file.shards {
                let first = *shard_sizes.entry(shard.sha256).or_insert(shard.size);
                if first != shard.size {
                    return Err(ManifestError::ShardSizeConflict {
                        sha256: shard.sha256,
                        first,
                        second: shard.size,
                    });
                }
            }
        }
        for vector in &self.test_vectors {
            for (tensor_name, tensor) in vector.inputs.iter().chain(&vector.outputs) {
                let bad = |detail: String| ManifestError::InvalidTensor {
                    vector: vector.name.clone(),
                    tensor: tensor_name.clone(),
                    detail,
                };
                if tensor.element_count() != Some(tensor.data.len() as u64) {
                    return Err(bad(format!(
                        "shape {:?} wants {:?} elements, data has {}",
                        tensor.shape,
                        tensor.element_count(),
                        tensor.data.len()
                    )));
                }
                if tensor.data.iter().any(|v| !v.is_finite()) {
                    return Err(bad("data holds a non-finite number".into()));
                }
                if let Some(v) = tensor.data.iter().find(|v| !tensor.dtype.holds(**v)) {
                    return Err(bad(format!("{v} is not a {:?} value", tensor.dtype)));
                }
            }
            if !(vector.tolerance.is_finite() && vector.tolerance >= 0.0) {
                return Err(ManifestError::InvalidTensor {
                    vector: vector.name.clone(),
                    tensor: String::new(),
                    detail: format!(
                        "tolerance {} is not a finite, non-negative number",
                        vector.tolerance
                    ),
                });
            }
        }
        self.entry()?;
        Ok(())
    }

    /// The entry point: the file the runtime loads and the edge runs. One rule for every
    /// consumer: `runtime.entry` when the manifest declares it (it must be a listed file), else
    /// — manifests packed before the field existed — the manifest's only `.onnx` file. Anything
    /// else is `manifest-entry-missing` or `manifest-entry-ambiguous`, and [`Manifest::check`]
    /// (so every parse) refuses such a manifest.
    pub fn entry(&self) -> Result<&FileEntry, ManifestError> {
        if let Some(entry) = &self.runtime.entry {
            return self
                .file(entry.as_str())
                .ok_or_else(|| ManifestError::EntryMissing {
                    entry: Some(entry.to_string()),
                });
        }
        let mut graphs = self
            .files
            .iter()
            .filter(|f| f.path.as_str().ends_with(LEGACY_ENTRY_EXTENSION));
        match (graphs.next(), graphs.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(ManifestError::EntryMissing { entry: None }),
            (Some(_), Some(_)) => Err(ManifestError::EntryAmbiguous {
                candidates: self
                    .files
                    .iter()
                    .filter(|f| f.path.as_str().ends_with(LEGACY_ENTRY_EXTENSION))
                    .map(|f| f.path.to_string())
                    .collect(),
            }),
        }
    }

    /// The file with this logical path.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path.as_str() == path)
    }

    /// Every distinct shard the manifest references (a shard may appear in several files).
    pub fn unique_shards(&self) -> BTreeSet<ShardRef> {
        self.files
            .iter()
            .flat_map(|f| f.shards.iter().copied())
            .collect()
    }

    /// Bytes of all distinct shards: what a client with an empty store must download.
    pub fn unique_shard_bytes(&self) -> u64 {
        // Saturating: a hostile manifest's sizes may add up past u64 across files.
        self.unique_shards()
            .iter()
            .fold(0u64, |acc, s| acc.saturating_add(s.size))
    }

    /// Whether two manifests describe the same model content (runtime, files, test vectors),
    /// ignoring their timestamps. Same version with different content is "mix-and-match".
    pub fn same_content(&self, other: &Self) -> bool {
        self.name == other.name
            && self.version == other.version
            && self.runtime == other.runtime
            && self.files == other.files
            && self.test_vectors == other.test_vectors
    }
}

impl FileEntry {
    /// Byte offset of each shard within the file, paired with the shard.
    pub fn shard_offsets(&self) -> impl Iterator<Item = (u64, &ShardRef)> + '_ {
        self.shards.iter().scan(0u64, |offset, shard| {
            let start = *offset;
            *offset = start.saturating_add(shard.size);
            Some((start, shard))
        })
    }
}
