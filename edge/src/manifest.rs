//! `GET|HEAD /models/<name>/manifest.json` and `/models/<name>/versions/<semver>.json`: signed
//! envelopes, served byte for byte, and the manifest loader the logical-file service uses.
//!
//! Envelopes are small, so each request reads the file whole (capped at [`MAX_MANIFEST_BYTES`])
//! and hashes exactly the bytes it sends: the `ETag` can never describe other bytes than the
//! body, even while `tessera pack` replaces the file. A `<file>.br` sibling is sent instead
//! (`Content-Encoding: br`, its own ETag) to clients that accept brotli. Range is not offered
//! (`Accept-Ranges: none`) and `Cache-Control` is `no-cache`. The edge is the origin, not a
//! verifier: signatures are checked by the browser, never here.

use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, VARY,
};
use http::{HeaderMap, HeaderValue};
use tessera_core::dsse::Envelope;
use tessera_core::layout::{manifest_path, versioned_manifest_path, ModelName};
use tessera_core::{Manifest, Sha256Digest};

use crate::conditional::{accepts_brotli, ETag};
use crate::error::RequestError;
use crate::models::{is_not_found, not_modified, Artifacts, CACHE_REVALIDATE};

/// Largest envelope file the edge reads into memory.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Serves a model's current manifest.
pub(crate) async fn serve_current(
    artifacts: &Artifacts,
    name: &ModelName,
    headers: &HeaderMap,
) -> Result<Response, RequestError> {
    let missing = || RequestError::ModelNotFound(name.to_string());
    serve_envelope(artifacts, &manifest_path(name), name, headers, missing).await
}

/// Serves one version's manifest.
pub(crate) async fn serve_version(
    artifacts: &Artifacts,
    name: &ModelName,
    version: &semver::Version,
    headers: &HeaderMap,
) -> Result<Response, RequestError> {
    let missing = || RequestError::VersionNotFound {
        model: name.to_string(),
        version: version.to_string(),
    };
    serve_envelope(
        artifacts,
        &versioned_manifest_path(name, version),
        name,
        headers,
        missing,
    )
    .await
}

/// Reads and parses a model's current manifest (envelope, then payload; no signature check).
pub(crate) async fn load(
    artifacts: &Artifacts,
    name: &ModelName,
) -> Result<Manifest, RequestError> {
    let bytes = read_small(artifacts, &manifest_path(name), name)
        .await?
        .ok_or_else(|| RequestError::ModelNotFound(name.to_string()))?;
    let invalid = |detail: String| RequestError::ManifestInvalid {
        model: name.to_string(),
        detail,
    };
    let envelope = Envelope::from_json(&bytes).map_err(|e| invalid(e.to_string()))?;
    let payload = envelope
        .payload_bytes()
        .map_err(|e| invalid(e.to_string()))?;
    Manifest::from_json(&payload).map_err(|e| invalid(e.to_string()))
}

async fn serve_envelope(
    artifacts: &Artifacts,
    relative: &str,
    name: &ModelName,
    headers: &HeaderMap,
    missing: impl Fn() -> RequestError,
) -> Result<Response, RequestError> {
    let brotli = if accepts_brotli(headers) {
        read_small(artifacts, &format!("{relative}.br"), name).await?
    } else {
        None
    };
    let (bytes, encoding) = match brotli {
        Some(bytes) => (bytes, Some(HeaderValue::from_static("br"))),
        None => (
            read_small(artifacts, relative, name)
                .await?
                .ok_or_else(missing)?,
            None,
        ),
    };
    let etag = ETag::of(&Sha256Digest::of(&bytes));
    let mut response = if etag.matches_if_none_match(headers) {
        not_modified(&etag, CACHE_REVALIDATE)
    } else {
        // Set explicitly so HEAD (whose body the router drops) still states the length.
        let length = HeaderValue::from(bytes.len());
        let mut response = Response::new(Body::from(bytes));
        let h = response.headers_mut();
        h.insert(ETAG, etag.header_value());
        h.insert(CACHE_CONTROL, CACHE_REVALIDATE);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_LENGTH, length);
        h.insert(ACCEPT_RANGES, HeaderValue::from_static("none"));
        if let Some(encoding) = encoding {
            h.insert(CONTENT_ENCODING, encoding);
        }
        response
    };
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
}

/// Reads a small artifact file whole; `None` when it does not exist.
pub(crate) async fn read_small(
    artifacts: &Artifacts,
    relative: &str,
    name: &ModelName,
) -> Result<Option<Vec<u8>>, RequestError> {
    let path = artifacts.file(relative);
    let unreadable = |e: std::io::Error| {
        tracing::error!(file = %path.display(), error = %e, "cannot read manifest");
        RequestError::ManifestUnreadable(name.to_string())
    };
    match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_file() && meta.len() <= MAX_MANIFEST_BYTES => {}
        Ok(meta) if meta.is_file() => {
            tracing::error!(file = %path.display(), bytes = meta.len(), "manifest file too large");
            return Err(RequestError::ManifestUnreadable(name.to_string()));
        }
        Ok(_) => return Ok(None),
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(unreadable(e)),
    }
}
