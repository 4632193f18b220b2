//! Writes core's hostile-manifest table ([`tessera_core::hostile`]) to disk, for test suites
//! outside Rust (the browser's) and for anyone checking their own client or deployment:
//! `OUT/cases.json` lists each case (`case`, `code`, `model`, and the envelope files
//! `previous`, or `null`, and `offered`, relative to `OUT`), and `OUT/<case>.previous.json` /
//! `OUT/<case>.offered.json` hold the envelopes. Publishing them (as `<model>/manifest.json`)
//! is the caller's step; nothing under an artifacts directory is touched here.

use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use tessera_core::hostile::{cases, HostileCase};
use tessera_core::layout::ModelName;
use tessera_core::Sha256Digest;

use crate::atomic;
use crate::error::ArtifactsError;
use crate::manifest_file::read_manifest_unverified;

/// The key that signs the table's `unknown-key` case: derived from a fixed label, so it is the
/// same on every run and trusted by no one.
pub fn untrusted_key() -> SigningKey {
    SigningKey::from_bytes(
        Sha256Digest::of(b"tessera hostile-manifests: a key nobody trusts").as_bytes(),
    )
}

#[derive(Serialize)]
struct Row<'a> {
    case: &'a str,
    code: &'a str,
    model: String,
    previous: Option<String>,
    offered: String,
}

/// Builds the table from the manifest in `base` (an envelope file of a packed model; its
/// signature is not checked, only its content is reused) signed with `key`, valid at `now`,
/// with case `c` published as model `PREFIX c`, and writes it under `out`.
pub fn write_table(
    base: &Path,
    key: &SigningKey,
    prefix: &str,
    now: u64,
    out: &Path,
) -> Result<Vec<HostileCase>, ArtifactsError> {
    let manifest = read_manifest_unverified(base)?;
    // The longest model name the table makes (the name-mismatch case's "other" model): if it
    // is valid, every shorter one with the same prefix is.
    let _: ModelName = format!("{prefix}name-mismatch-other").parse()?;
    let table = cases(&manifest, key, &untrusted_key(), now, |case| {
        // Valid: checked above.
        format!("{prefix}{case}")
            .parse()
            .unwrap_or_else(|_| manifest.name.clone())
    })
    .map_err(|source| ArtifactsError::Manifest {
        path: base.to_path_buf(),
        source,
    })?;
    let mut rows = Vec::with_capacity(table.len());
    for case in &table {
        let offered = format!("{}.offered.json", case.case);
        atomic::write_file(&out.join(&offered), &case.offered)?;
        let previous = match &case.previous {
            Some(envelope) => {
                let file = format!("{}.previous.json", case.case);
                atomic::write_file(&out.join(&file), envelope)?;
                Some(file)
            }
            None => None,
        };
        rows.push(Row {
            case: case.case,
            code: case.code,
            model: case.model.to_string(),
            previous,
            offered,
        });
    }
    // Plain structs of strings: serialization cannot fail.
    #[allow(clippy::expect_used)]
    let index = serde_json::to_vec_pretty(&rows).expect("cases serialize");
    atomic::write_file(&out.join("cases.json"), &index)?;
    Ok(table)
}
