//! The tessera artifact directory on disk: packing model files into signed, sharded artifacts,
//! verifying them, and the key files that sign them.
//!
//! This crate does the filesystem IO that `tessera-core` leaves out; every rule (layout, manifest
//! consistency, DSSE signing, key ids) is core's. It is native only (it uses `std::fs`) and knows
//! nothing of terminals: long operations report progress through a callback. Layout:
//!
//! ```text
//! ROOT/_shards/<sha256>               content-addressed shard bytes, shared by every model/version
//! ROOT/<name>/manifest.json           the current signed manifest (DSSE envelope)
//! ROOT/<name>/versions/<semver>.json  every version ever packed
//! ```
//!
//! Errors are one [`ArtifactsError`] enum with stable codes ([`tessera_core::ErrorCode`]).

pub mod atomic;
pub mod error;
pub mod hostile;
pub mod keyfile;
pub mod manifest_file;
pub mod onnx;
pub mod pack;
pub mod verify;

pub use error::ArtifactsError;
pub use keyfile::{
    generate_key_pair, generate_key_pair_with, load_manifest_key, load_public_key,
    load_signing_key, load_trusted_keys, GeneratedKey, KeyAlgorithm, ManifestKey,
};
pub use manifest_file::{read_envelope, read_manifest_unverified};
pub use pack::{pack, read_test_vectors, PackEvent, PackInput, PackOptions, PackReport};
pub use verify::{verify, VerifyEvent, VerifyReport};
