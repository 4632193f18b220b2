//! Caps on a signed manifest's bytes, checked before any JSON parser sees them: its size
//! ([`MAX_MANIFEST_BYTES`]) and how deeply its JSON nests ([`MAX_JSON_DEPTH`]), for the envelope
//! and again for the payload inside it. [`check_manifest`] is called by the one acceptance path
//! ([`crate::policy::UpdatePolicy::verify_signed`]), so the service worker, the browser runtime,
//! `tessera verify` and the edge worker all refuse an oversized or overly nested manifest with the
//! same typed codes (`manifest-too-large`, `manifest-too-deep`).
//!
//! It does not validate JSON (the depth scan only counts brackets outside strings and stops at the
//! first one over the limit; malformed JSON is the parser's to refuse afterwards), does not read
//! from the network (a client that reads a body chunk by chunk stops once it holds more than
//! [`MAX_MANIFEST_BYTES`] and hands over what it read, which this check then refuses), and does
//! not cap shard or model sizes.

use crate::error::ErrorCode;

/// The largest signed manifest (the DSSE envelope's bytes) a client accepts: 4 MiB.
///
/// The largest real manifest is a 4.5 GB model in 4 MiB shards: ~1,150 shard entries of ~125
/// bytes each in pretty JSON (~144 KB), ~192 KB once base64-encoded into the envelope. 4 MiB
/// leaves ~20x headroom for more files, test vectors and a richer payload format, while a client
/// never buffers more than 4 MiB for a document it has not verified yet.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// The deepest JSON nesting (arrays and objects) accepted in a manifest or its envelope: 32.
///
/// A real manifest nests 5 levels (manifest → test_vectors → vector → inputs → tensor → data)
/// and its envelope 3; 32 leaves room for a richer payload format while refusing nesting meant
/// to exhaust a parser's stack or time (serde_json's own limit is 128).
pub const MAX_JSON_DEPTH: usize = 32;

/// A manifest refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// More bytes than [`MAX_MANIFEST_BYTES`].
    #[error("the signed manifest is larger than {limit} bytes (at least {size} bytes)")]
    TooLarge {
        /// Bytes seen (a reader that stopped early reports what it read).
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// JSON nested deeper than [`MAX_JSON_DEPTH`].
    #[error("the signed manifest's JSON nests deeper than {limit} levels")]
    TooDeep {
        /// The cap.
        limit: usize,
    },
}

impl ErrorCode for LimitError {
    fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "manifest-too-large",
            Self::TooDeep { .. } => "manifest-too-deep",
        }
    }
}

/// Refuses `bytes` (a manifest envelope, or the payload decoded from one) when it is larger than
/// [`MAX_MANIFEST_BYTES`] or its JSON nests deeper than [`MAX_JSON_DEPTH`].
pub fn check_manifest(bytes: &[u8]) -> Result<(), LimitError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(LimitError::TooLarge {
            size: bytes.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    if json_nests_deeper_than(bytes, MAX_JSON_DEPTH) {
        return Err(LimitError::TooDeep {
            limit: MAX_JSON_DEPTH,
        });
    }
    Ok(())
}

/// Whether `bytes`, read as JSON, opens more than `limit` arrays or objects inside each other.
/// Brackets inside strings (with `\"` escapes) do not count; unbalanced closers are ignored.
pub fn json_nests_deeper_than(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}
