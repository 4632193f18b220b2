//! `GET|HEAD /models/<name>/<logical path>`: a model file assembled from its shards, streamed.
//!
//! The current manifest (re-read per request: it is small, and a stale cache would be a bug)
//! lists the file's ordered shards. Only the requested byte span is read: each overlapping shard
//! is opened in turn, seeked, and streamed with a bounded buffer, so memory use does not grow
//! with the file. Range follows core's [`range_outcome`]; the `ETag` is the file's SHA-256.
//! Every shard the span needs is checked (present, right size) before the status line is sent,
//! so a missing shard is a JSON `500`, not a truncated body. Shard bytes are not re-hashed here:
//! the browser verifies them against the signed manifest.
//!
//! Content types: `.onnx` → `application/octet-stream` (ONNX has no registered media type),
//! `.json` → `application/json`, `.wasm` → `application/wasm`, others by extension.

use std::io::SeekFrom;
use std::path::PathBuf;

use axum::body::Body;
use axum::response::Response;
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tessera_core::layout::{shard_path, LogicalPath, ModelName};
use tessera_core::manifest::{FileEntry, ShardRef};
use tessera_core::range::{ByteRange, RangeOutcome};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

use crate::conditional::{range_outcome, ETag};
use crate::error::RequestError;
use crate::manifest;
use crate::models::{is_not_found, not_modified, Artifacts, CACHE_REVALIDATE};

/// Read buffer per chunk of a streamed body.
const CHUNK_BYTES: usize = 64 * 1024;

/// Serves one logical file of a model.
pub(crate) async fn serve(
    artifacts: &Artifacts,
    name: &ModelName,
    path: &LogicalPath,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, RequestError> {
    let manifest = manifest::load(artifacts, name).await?;
    let file = manifest
        .file(path.as_str())
        .ok_or_else(|| RequestError::FileNotFound {
            model: name.to_string(),
            path: path.to_string(),
        })?;
    let etag = ETag::of(&file.sha256);
    if etag.matches_if_none_match(headers) {
        return Ok(not_modified(&etag, CACHE_REVALIDATE));
    }
    let (status, span) = match range_outcome(method, headers, &etag, file.size) {
        RangeOutcome::Unsatisfiable => return Err(RequestError::RangeNotSatisfiable(file.size)),
        RangeOutcome::Partial(range) => (StatusCode::PARTIAL_CONTENT, Some(range)),
        // `None` for an empty file: nothing to read.
        RangeOutcome::Full => (StatusCode::OK, ByteRange::from_offset_len(0, file.size)),
    };
    let segments = span.map(|span| plan(file, span)).unwrap_or_default();
    let pieces = locate(artifacts, &segments).await?;

    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        stream(pieces)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(ETAG, etag.header_value());
    h.insert(CACHE_CONTROL, CACHE_REVALIDATE);
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(content_type(path.as_str())),
    );
    h.insert(
        CONTENT_LENGTH,
        HeaderValue::from(span.map_or(0, |s| s.len())),
    );
    if let (StatusCode::PARTIAL_CONTENT, Some(span)) = (status, span) {
        if let Ok(value) = HeaderValue::from_str(&span.content_range(file.size)) {
            h.insert(CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// The part of one shard that a span needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    shard: ShardRef,
    /// First byte within the shard.
    offset: u64,
    /// Bytes to read (≥ 1).
    len: u64,
}

/// The shard pieces that make up `span` of `file`, in order.
fn plan(file: &FileEntry, span: ByteRange) -> Vec<Segment> {
    file.shard_offsets()
        .filter_map(|(start, shard)| {
            // Shards are never empty (`Manifest::check`), so `end >= start`.
            let end = start.saturating_add(shard.size).saturating_sub(1);
            let (lo, hi) = (span.start().max(start), span.end().min(end));
            // Lazily: `hi - lo` underflows for shards outside the span.
            (lo <= hi).then(|| Segment {
                shard: *shard,
                offset: lo - start,
                len: hi - lo + 1,
            })
        })
        .collect()
}

/// Checks that every shard the segments read is on disk with the size the manifest states,
/// and returns where each segment's bytes are.
async fn locate(
    artifacts: &Artifacts,
    segments: &[Segment],
) -> Result<Vec<(PathBuf, Segment)>, RequestError> {
    let mut pieces = Vec::with_capacity(segments.len());
    for segment in segments {
        let digest = segment.shard.sha256;
        let path = artifacts.file(&shard_path(&digest));
        let actual = match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) => return Err(RequestError::ShardMissing(digest.to_hex())),
            Err(e) if is_not_found(&e) => return Err(RequestError::ShardMissing(digest.to_hex())),
            Err(e) => {
                tracing::error!(shard = %digest, error = %e, "cannot stat shard");
                return Err(RequestError::Internal);
            }
        };
        if actual != segment.shard.size {
            return Err(RequestError::ShardSizeMismatch {
                shard: digest.to_hex(),
                expected: segment.shard.size,
                actual,
            });
        }
        pieces.push((path, *segment));
    }
    Ok(pieces)
}

/// The body: each piece's bytes in order, one shard file open at a time. A shard that vanishes
/// or shrinks mid-stream ends the body early; the connection then closes short of
/// `Content-Length`, which every HTTP client reports as an error.
fn stream(pieces: Vec<(PathBuf, Segment)>) -> Body {
    let chunks = futures_util::stream::iter(pieces)
        .then(|(path, segment)| async move {
            let mut file = tokio::fs::File::open(&path).await?;
            file.seek(SeekFrom::Start(segment.offset)).await?;
            Ok::<_, std::io::Error>(ReaderStream::with_capacity(
                file.take(segment.len),
                CHUNK_BYTES,
            ))
        })
        .try_flatten();
    Body::from_stream(chunks)
}

/// The `Content-Type` of a logical file, by extension (see the module docs).
fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("onnx") => "application/octet-stream",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        _ => mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tessera_core::Sha256Digest;

    use super::*;

    fn file(sizes: &[u64]) -> FileEntry {
        FileEntry {
            path: "model.onnx".parse().unwrap(),
            size: sizes.iter().sum(),
            sha256: Sha256Digest::of(b"file"),
            shards: sizes
                .iter()
                .enumerate()
                .map(|(i, &size)| ShardRef {
                    sha256: Sha256Digest::of(&[i as u8]),
                    size,
                })
                .collect(),
        }
    }

    #[test]
    fn plan_reads_only_the_shards_a_span_touches() {
        let f = file(&[10, 10, 5]);
        // (span start, span end, [(shard index, offset in shard, length)])
        type Case = (u64, u64, &'static [(usize, u64, u64)]);
        let cases: &[Case] = &[
            (0, 24, &[(0, 0, 10), (1, 0, 10), (2, 0, 5)]),
            (3, 4, &[(0, 3, 2)]),
            (9, 10, &[(0, 9, 1), (1, 0, 1)]),
            (10, 19, &[(1, 0, 10)]),
            (15, 24, &[(1, 5, 5), (2, 0, 5)]),
            (24, 24, &[(2, 4, 1)]),
        ];
        for (start, end, expected) in cases {
            let got = plan(&f, ByteRange::new(*start, *end).unwrap());
            let want: Vec<_> = expected
                .iter()
                .map(|&(i, offset, len)| Segment {
                    shard: f.shards[i],
                    offset,
                    len,
                })
                .collect();
            assert_eq!(got, want, "{start}-{end}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        for (path, expected) in [
            ("model.onnx", "application/octet-stream"),
            ("tokenizer/vocab.JSON", "application/json"),
            ("runtime.wasm", "application/wasm"),
            ("README.txt", "text/plain"),
            ("weights", "application/octet-stream"),
        ] {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }
}
