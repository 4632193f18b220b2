//! The hostile-manifest table: the manifests every tessera client must refuse, each with the
//! stable code it must refuse it with. The service worker, the browser runtime (with and
//! without a service worker), the edge and the core itself are tested against this one table
//! (`tessera hostile-manifests` writes it to disk for the browser suites), so a consumer that
//! drifts from [`crate::policy`] fails its tests with the case's name.
//!
//! Each case is built from a valid manifest of a packed model, so its files and shards exist:
//! a client gets as far as the trust check and no further. Cases with a `previous` envelope
//! test a client that already accepted that one (rollback, mix-and-match); the offered one must
//! be refused and the previous one must keep being used.
//!
//! Envelopes carry in-toto statements ([`crate::statement`]), the format `tessera pack` writes.
//!
//! Pure: it signs with the keys it is given and reads no clock (`now` is an argument).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;

use crate::dsse::Envelope;
use crate::layout::{LayoutError, ModelName};
use crate::manifest::{FileEntry, Manifest, ManifestError};
use crate::statement::PAYLOAD_TYPE;

/// How long the valid manifests of the table stay valid: 30 days.
const VALIDITY_SECS: u64 = 30 * 86_400;
/// Past any tolerated clock skew.
const DAY_SECS: u64 = 86_400;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileCase {
    /// Short stable name, e.g. `rollback`.
    pub case: &'static str,
    /// The code a client must refuse `offered` with.
    pub code: &'static str,
    /// The model the client asks for.
    pub model: ModelName,
    /// A valid envelope the client accepts first, if the case needs one.
    pub previous: Option<Vec<u8>>,
    /// The envelope the client must refuse.
    pub offered: Vec<u8>,
}

/// The table for `base` (a valid manifest, e.g. a packed model's), at time `now` (Unix
/// seconds). `trusted` is the key clients trust; `untrusted` any other key. `model_for` names
/// the model each case is published as (e.g. one model per case in one artifacts directory).
pub fn cases(
    base: &Manifest,
    trusted: &SigningKey,
    untrusted: &SigningKey,
    now: u64,
    model_for: impl Fn(&'static str) -> ModelName,
) -> Result<Vec<HostileCase>, ManifestError> {
    let entry = base.entry()?.clone();
    let valid = |case: &'static str| {
        let mut m = base.clone();
        m.name = model_for(case);
        m.runtime.entry = Some(entry.path.clone());
        m.issued_at = now.saturating_sub(60);
        m.expires_at = now.saturating_add(VALIDITY_SECS);
        m
    };
    let sign =
        |m: &Manifest, key: &SigningKey| Envelope::sign(PAYLOAD_TYPE, &m.to_statement_json(), key);
    let signed = |m: &Manifest| sign(m, trusted).to_json();
    let copy_of = |file: &FileEntry, path: &str| -> Result<FileEntry, ManifestError> {
        Ok(FileEntry {
            path: parsed(path)?,
            ..file.clone()
        })
    };
    let mut table = Vec::new();
    let mut row = |case, code, previous, offered: Vec<u8>| {
        table.push(HostileCase {
            case,
            code,
            model: model_for(case),
            previous,
            offered,
        });
    };

    let m = valid("bad-signature");
    let mut envelope = sign(&m, trusted);
    for signature in &mut envelope.signatures {
        let mut raw = BASE64.decode(&signature.sig).unwrap_or_default();
        if let Some(byte) = raw.first_mut() {
            *byte ^= 0x01;
        }
        signature.sig = BASE64.encode(raw);
    }
    row(
        "bad-signature",
        "manifest-signature-invalid",
        None,
        envelope.to_json(),
    );

    let m = valid("unknown-key");
    row(
        "unknown-key",
        "manifest-unknown-key",
        None,
        sign(&m, untrusted).to_json(),
    );

    let mut m = valid("expired");
    m.issued_at = now.saturating_sub(2 * DAY_SECS);
    m.expires_at = now.saturating_sub(DAY_SECS);
    row("expired", "manifest-expired", None, signed(&m));

    let mut m = valid("not-yet-valid");
    m.issued_at = now.saturating_add(DAY_SECS);
    m.expires_at = m.issued_at.saturating_add(VALIDITY_SECS);
    row("not-yet-valid", "manifest-not-yet-valid", None, signed(&m));

    let mut m = valid("name-mismatch");
    let other = format!("{}-other", m.name);
    m.name = parsed(&other)?;
    row("name-mismatch", "manifest-name-mismatch", None, signed(&m));

    // Two graphs and no declared entry: which one runs would be a guess.
    let mut m = valid("two-onnx");
    m.runtime.entry = None;
    m.files.push(copy_of(&entry, "graph-a.onnx")?);
    m.files.push(copy_of(&entry, "graph-b.onnx")?);
    row("two-onnx", "manifest-entry-ambiguous", None, signed(&m));

    let mut m = valid("missing-entry");
    m.runtime.entry = Some(parsed("absent.onnx")?);
    row("missing-entry", "manifest-entry-missing", None, signed(&m));

    // A validly signed statement whose subjects disagree with its predicate: the first file's
    // digest is not the one the manifest lists (a consumer matching files by subject digest, e.g.
    // Cross-Origin Storage, would fetch other bytes than the ones the manifest pins).
    let m = valid("subject-mismatch");
    row(
        "subject-mismatch",
        "manifest-subject-mismatch",
        None,
        Envelope::sign(PAYLOAD_TYPE, &rehashed_first_subject(&m)?, trusted).to_json(),
    );

    // Accepted a higher version; the older one comes back, validly signed.
    let offered = valid("rollback");
    let mut newer = offered.clone();
    newer.version = semver::Version::new(offered.version.major.saturating_add(1), 0, 0);
    newer.issued_at = now.saturating_sub(120);
    row(
        "rollback",
        "manifest-rollback",
        Some(signed(&newer)),
        signed(&offered),
    );

    // The same version again, with other content (one more file), signed later.
    let mut accepted = valid("mix-and-match");
    accepted.issued_at = now.saturating_sub(120);
    let mut offered = valid("mix-and-match");
    offered.files.push(copy_of(&entry, "extra.bin")?);
    row(
        "mix-and-match",
        "manifest-mix-and-match",
        Some(signed(&accepted)),
        signed(&offered),
    );
    Ok(table)
}

/// `m`'s statement with the first subject's sha256 replaced by another (valid-looking) digest.
fn rehashed_first_subject(m: &Manifest) -> Result<Vec<u8>, ManifestError> {
    let malformed = |detail: String| ManifestError::Malformed(detail);
    let mut statement: serde_json::Value =
        serde_json::from_slice(&m.to_statement_json()).map_err(|e| malformed(e.to_string()))?;
    let digest = statement
        .pointer_mut("/subject/0/digest/sha256")
        .ok_or_else(|| malformed("the statement has no subject to alter".to_owned()))?;
    let hex = digest.as_str().unwrap_or_default();
    let flipped: String = hex
        .chars()
        .enumerate()
        .map(|(i, c)| match (i, c) {
            (0, '0') => '1',
            (0, _) => '0',
            (_, c) => c,
        })
        .collect();
    *digest = serde_json::Value::String(flipped);
    serde_json::to_vec(&statement).map_err(|e| malformed(e.to_string()))
}

/// A name or path the table makes from the packed model's (a model name with a suffix, a file
/// path), as a manifest error when the result is not valid.
fn parsed<T: std::str::FromStr<Err = LayoutError>>(text: &str) -> Result<T, ManifestError> {
    text.parse()
        .map_err(|e: LayoutError| ManifestError::Malformed(e.to_string()))
}
