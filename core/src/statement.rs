//! The signed manifest as an [in-toto Statement v1](https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md):
//! the payload `tessera pack` signs (DSSE `payloadType` [`PAYLOAD_TYPE`]).
//!
//! ```json
//! {
//!   "_type": "https://in-toto.io/Statement/v1",
//!   "subject": [
//!     {"name": "model.onnx", "digest": {"sha256": "<whole file>"}},
//!     {"name": "_shards/<sha256>", "digest": {"sha256": "<sha256>"}}
//!   ],
//!   "predicateType": "https://tessera.dev/manifest/v1",
//!   "predicate": {"name": …, "version": …, "runtime": …, "issued_at": …, "expires_at": …,
//!                 "files": […], "test_vectors": […]}
//! }
//! ```
//!
//! The subjects are every file (named by its logical path, with the sha256 of the whole file, the
//! key Cross-Origin Storage uses) and every distinct shard (named by its artifact path
//! `_shards/<sha256>`), in the order of the predicate's files. The predicate is the schema-1
//! manifest's fields without `schema` ([`crate::manifest::Manifest`]), versioned by
//! [`PREDICATE_TYPE`]. A statement is read into the same in-memory [`Manifest`] as a schema-1
//! manifest, so everything after parsing is unchanged.
//!
//! Reading refuses a statement whose subjects are not exactly the predicate's files and shards
//! (`manifest-subject-mismatch`: a missing, extra, renamed, duplicated or re-hashed subject), so
//! what generic in-toto tooling sees and what tessera downloads cannot disagree. This module
//! checks structure only; signatures are [`crate::dsse`], trust and freshness are
//! [`crate::policy`] (in-toto itself has no rollback or expiry protection; tessera's are there).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::layout::shard_path;
use crate::manifest::{Manifest, ManifestError, SCHEMA_VERSION};

/// The DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The `predicateType` of a tessera model manifest.
pub const PREDICATE_TYPE: &str = "https://tessera.dev/manifest/v1";

/// One subject of a statement: a name and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// A file's logical path, or a shard's `_shards/<sha256>`.
    pub name: String,
    /// Algorithm → lowercase hex digest (tessera writes and requires `sha256`).
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement v1 with a tessera predicate, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: Map<String, Value>,
}

/// The subjects a manifest's statement lists: each file, then each shard not listed before.
pub fn subjects(manifest: &Manifest) -> Vec<Subject> {
    let mut out: Vec<Subject> = Vec::new();
    let mut seen_shards = std::collections::BTreeSet::new();
    let subject = |name: String, hex: String| Subject {
        name,
        digest: BTreeMap::from([("sha256".to_owned(), hex)]),
    };
    for file in &manifest.files {
        out.push(subject(file.path.to_string(), file.sha256.to_hex()));
    }
    for shard in manifest.files.iter().flat_map(|f| &f.shards) {
        if seen_shards.insert(shard.sha256) {
            out.push(subject(shard_path(&shard.sha256), shard.sha256.to_hex()));
        }
    }
    out
}

/// The manifest as a pretty-printed in-toto statement (what `tessera pack` signs).
pub fn to_json(manifest: &Manifest) -> Vec<u8> {
    let mut predicate = match serde_json::to_value(manifest) {
        Ok(Value::Object(map)) => map,
        // A struct with named fields always serializes to a JSON object.
        _ => Map::new(),
    };
    predicate.remove("schema");
    let statement = Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject: subjects(manifest),
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate,
    };
    // Strings, integers and maps with string keys only: serialization cannot fail.
    #[allow(clippy::expect_used)]
    serde_json::to_vec_pretty(&statement).expect("statement serializes")
}

/// Whether `bytes` look like an in-toto statement (a JSON object with a `_type`), as opposed to
/// a schema-1 manifest. Says nothing about validity.
pub fn is_statement(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct TypeOnly {
        #[serde(rename = "_type")]
        _type: Option<Value>,
    }
    serde_json::from_slice::<TypeOnly>(bytes).is_ok_and(|t| t._type.is_some())
}

/// Parses a statement, checks it is an in-toto Statement v1 with tessera's predicate, reads the
/// predicate into a checked [`Manifest`], and checks the subjects against it.
pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
    let statement: Statement =
        serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
    if statement.statement_type != STATEMENT_TYPE || statement.predicate_type != PREDICATE_TYPE {
        return Err(ManifestError::StatementType {
            statement_type: statement.statement_type,
            predicate_type: statement.predicate_type,
        });
    }
    let mut predicate = statement.predicate;
    if predicate.contains_key("schema") {
        return Err(ManifestError::Malformed(
            "a statement's predicate has no `schema` (its predicateType versions it)".into(),
        ));
    }
    predicate.insert("schema".into(), Value::from(SCHEMA_VERSION));
    let manifest: Manifest = serde_json::from_value(Value::Object(predicate))
        .map_err(|e| ManifestError::Malformed(format!("predicate: {e}")))?;
    manifest.check()?;
    check_subjects(&statement.subject, &manifest)?;
    Ok(manifest)
}

/// The subjects must be exactly [`subjects`] of the manifest, as a set of (name, sha256) with no
/// name twice and no digest algorithm besides `sha256`.
fn check_subjects(declared: &[Subject], manifest: &Manifest) -> Result<(), ManifestError> {
    let mismatch = |detail: String| ManifestError::SubjectMismatch(detail);
    let mut expected: BTreeMap<String, String> = subjects(manifest)
        .into_iter()
        .map(|s| {
            let hex = s.digest.into_values().next().unwrap_or_default();
            (s.name, hex)
        })
        .collect();
    for subject in declared {
        let sha256 = match (subject.digest.get("sha256"), subject.digest.len()) {
            (Some(hex), 1) => hex,
            _ => {
                return Err(mismatch(format!(
                    "subject {:?} must carry exactly one digest, sha256",
                    subject.name
                )))
            }
        };
        match expected.remove(&subject.name) {
            Some(hex) if &hex == sha256 => {}
            Some(hex) => {
                return Err(mismatch(format!(
                    "subject {:?} has sha256 {sha256}, the predicate says {hex}",
                    subject.name
                )))
            }
            None => {
                return Err(mismatch(format!(
                    "subject {:?} is not a file or shard of the predicate, or is listed twice",
                    subject.name
                )))
            }
        }
    }
    match expected.into_keys().next() {
        Some(missing) => Err(mismatch(format!(
            "the predicate's {missing:?} is not a subject"
        ))),
        None => Ok(()),
    }
}
