//! Reading signed manifest files (`<name>/manifest.json`, `<name>/versions/<v>.json`) from disk.
//!
//! [`read_manifest_unverified`] parses the payload without checking signatures: for tools that
//! only display or compare manifests (`tessera diff`, the packer's rollback guard). Anything that
//! decides trust goes through [`crate::verify()`].

use std::fs;
use std::path::Path;

use tessera_core::dsse::Envelope;
use tessera_core::Manifest;

use crate::error::ArtifactsError;

/// Reads and parses the DSSE envelope in `path`.
pub fn read_envelope(path: &Path) -> Result<Envelope, ArtifactsError> {
    let bytes = fs::read(path).map_err(|e| ArtifactsError::io("cannot read manifest", path, e))?;
    Envelope::from_json(&bytes).map_err(|source| ArtifactsError::Signature {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the manifest inside the envelope in `path` **without verifying any signature**.
pub fn read_manifest_unverified(path: &Path) -> Result<Manifest, ArtifactsError> {
    let envelope = read_envelope(path)?;
    let payload = envelope
        .payload_bytes()
        .map_err(|source| ArtifactsError::Signature {
            path: path.to_path_buf(),
            source,
        })?;
    Manifest::from_json(&payload).map_err(|source| ArtifactsError::Manifest {
        path: path.to_path_buf(),
        source,
    })
}
