//! `GET|HEAD /models/_shards/<sha256>`: a content-addressed shard.
//!
//! tower-http's `ServeFile` sends the bytes, `206`/`416`, `Content-Length`, `Last-Modified` and
//! `If-Modified-Since`/`If-Unmodified-Since`. This thin layer adds what it lacks: the strong
//! `ETag: "<sha256>"` (the name is the content hash), `If-None-Match` (which, per RFC 9110
//! §13.2.2, takes precedence over `If-Modified-Since`), `If-Range`, the immutable cache policy
//! and JSON errors. It also rewrites `Range` to core's decision ([`range_outcome`]), so shards
//! and logical files answer the same header the same way (e.g. several ranges → `200` whole,
//! where `ServeFile` alone would answer `416`).

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{
    CACHE_CONTROL, CONTENT_RANGE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, RANGE,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use tessera_core::layout::shard_path;
use tessera_core::range::RangeOutcome;
use tessera_core::Sha256Digest;
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use crate::conditional::{range_outcome, ETag};
use crate::error::RequestError;
use crate::models::{is_not_found, not_modified, Artifacts, CACHE_IMMUTABLE};

/// Serves one shard.
pub(crate) async fn serve(
    artifacts: &Artifacts,
    digest: Sha256Digest,
    request: Request,
) -> Result<Response, RequestError> {
    let path = artifacts.file(&shard_path(&digest));
    let not_found = || RequestError::ShardNotFound(digest.to_hex());
    let size = match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => return Err(not_found()),
        Err(e) if is_not_found(&e) => return Err(not_found()),
        Err(e) => {
            tracing::error!(shard = %digest, error = %e, "cannot stat shard");
            return Err(RequestError::Internal);
        }
    };
    let etag = ETag::of(&digest);
    let (mut parts, _body) = request.into_parts();
    if etag.matches_if_none_match(&parts.headers) {
        return Ok(not_modified(&etag, CACHE_IMMUTABLE));
    }
    if parts.headers.contains_key(IF_NONE_MATCH) {
        parts.headers.remove(IF_MODIFIED_SINCE);
    }
    let outcome = range_outcome(&parts.method, &parts.headers, &etag, size);
    if outcome == RangeOutcome::Unsatisfiable {
        return Err(RequestError::RangeNotSatisfiable(size));
    }
    set_range(&mut parts.headers, outcome);

    let request = Request::from_parts(parts, Body::empty());
    let octet_stream = mime_guess::mime::APPLICATION_OCTET_STREAM;
    let response = match ServeFile::new_with_mime(&path, &octet_stream)
        .oneshot(request)
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match response.status() {
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED => {
            let mut response = response.map(Body::new);
            response.headers_mut().insert(ETAG, etag.header_value());
            response
                .headers_mut()
                .insert(CACHE_CONTROL, CACHE_IMMUTABLE);
            Ok(response)
        }
        StatusCode::PRECONDITION_FAILED => Ok(response.map(Body::new)),
        StatusCode::NOT_FOUND => Err(not_found()),
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // Core said satisfiable for the size just read; the file changed underneath.
            tracing::error!(shard = %digest, range = ?response.headers().get(CONTENT_RANGE), "shard changed while served");
            Err(RequestError::RangeNotSatisfiable(size))
        }
        other => {
            tracing::error!(shard = %digest, status = %other, "ServeFile failed");
            Err(RequestError::Internal)
        }
    }
}

/// Replaces the client's `Range`/`If-Range` with core's decision, spelled canonically.
fn set_range(headers: &mut HeaderMap, outcome: RangeOutcome) {
    headers.remove(RANGE);
    headers.remove(IF_RANGE);
    if let RangeOutcome::Partial(range) = outcome {
        if let Ok(value) = HeaderValue::from_str(&range.header_value()) {
            headers.insert(RANGE, value);
        }
    }
}
