//! The `/models/` handler: classifies the path and hands it to the shard, manifest or logical
//! file service. Also holds what they share: the artifacts root, cache policies and the
//! `304 Not Modified` answer.
//!
//! Cache policy: shards are content-addressed and never change (`public, max-age=31536000,
//! immutable`); manifests and logical files are looked up by name and may change on the next
//! `tessera pack`, so they are `no-cache` (always revalidated; a matching ETag costs a `304`).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, ETAG};
use http::{HeaderValue, Method, StatusCode};
use tessera_core::layout::ArtifactPath;

use crate::conditional::ETag;
use crate::error::RequestError;
use crate::path::parse_artifact_path;
use crate::{logical, manifest, shard};

/// URL prefix of the artifacts.
pub(crate) const PREFIX: &str = "/models/";

/// `Cache-Control` of content-addressed shards.
pub(crate) const CACHE_IMMUTABLE: HeaderValue =
    HeaderValue::from_static("public, max-age=31536000, immutable");
/// `Cache-Control` of manifests and logical files: revalidate every time.
pub(crate) const CACHE_REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// The artifacts directory, shared by all requests.
#[derive(Debug)]
pub(crate) struct Artifacts {
    root: PathBuf,
}

impl Artifacts {
    pub(crate) fn new(root: PathBuf) -> Arc<Self> {
        Arc::new(Self { root })
    }

    /// The file at a relative path produced by core's layout functions (validated names only).
    pub(crate) fn file(&self, relative: &str) -> PathBuf {
        relative
            .split('/')
            .fold(self.root.clone(), |path, segment| path.join(segment))
    }
}

/// Serves `GET|HEAD /models/<artifact path>`.
pub(crate) async fn serve(State(artifacts): State<Arc<Artifacts>>, request: Request) -> Response {
    match route(&artifacts, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn route(artifacts: &Artifacts, request: Request) -> Result<Response, RequestError> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return Err(RequestError::MethodNotAllowed(method.to_string()));
    }
    let raw = request
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default();
    match parse_artifact_path(raw)? {
        ArtifactPath::Shard(digest) => shard::serve(artifacts, digest, request).await,
        ArtifactPath::Manifest(name) => {
            manifest::serve_current(artifacts, &name, request.headers()).await
        }
        ArtifactPath::VersionedManifest(name, version) => {
            manifest::serve_version(artifacts, &name, &version, request.headers()).await
        }
        ArtifactPath::LogicalFile(name, path) => {
            logical::serve(artifacts, &name, &path, request.method(), request.headers()).await
        }
        // `ArtifactPath` is non-exhaustive: a kind this edge does not know is not served.
        other => Err(RequestError::NotFound(other.to_path())),
    }
}

/// `304 Not Modified` carrying the validator and cache policy, as RFC 9110 §15.4.5 asks.
pub(crate) fn not_modified(etag: &ETag, cache_control: HeaderValue) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response.headers_mut().insert(ETAG, etag.header_value());
    response.headers_mut().insert(CACHE_CONTROL, cache_control);
    response
}

/// Whether an IO error means "no such file" (including a path through a non-directory).
pub(crate) fn is_not_found(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Answers a request for the bare prefix (`/models`, `/models/`): nothing is listed there.
pub(crate) async fn listing_not_served(request: Request) -> Response {
    RequestError::NotFound(request.uri().path().to_owned()).into_response()
}
