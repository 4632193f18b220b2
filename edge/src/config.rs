//! What `tessera serve` is told: directories, listen address, CORS allow-list, HSTS, the
//! request log and the inference API's settings. Plain data with defaults; [`crate::router`] checks it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::inference::InferenceConfig;

/// The default listen address, `127.0.0.1:8080`.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Configuration of the edge server (`tessera serve`).
///
/// Build it with [`EdgeConfig::new`] and set the public fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EdgeConfig {
    /// Artifacts directory served under `/models/` (`_shards/`, `<name>/manifest.json`, …).
    pub artifacts: PathBuf,
    /// Optional app directory served at `/` (index.html, `.br` siblings served precompressed).
    pub app: Option<PathBuf>,
    /// Listen address; port 0 picks a free port (see [`crate::bind`]).
    pub addr: SocketAddr,
    /// Exact origins allowed by CORS, e.g. `https://app.example.com`. Empty: no CORS headers.
    /// They are also added to the app's CSP `connect-src`.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security: max-age=31536000` on every response. The edge speaks
    /// plain HTTP only; set this when it runs behind a TLS-terminating proxy or CDN that is
    /// the only way clients reach it. Never set it for plain-HTTP deployments.
    pub hsts: bool,
    /// Append one JSON line per request to this file:
    /// `{"method","path","range","status","bytes"}` (`bytes`: body bytes actually sent).
    pub request_log: Option<PathBuf>,
    /// The inference API (`POST /v1/models/<name>/infer`): trusted model keys, auth, limits.
    /// The default has no trusted keys, so inference is disabled.
    pub inference: InferenceConfig,
}

impl EdgeConfig {
    /// Serves `artifacts` on [`DEFAULT_ADDR`], with no app, no CORS, no HSTS and no request log.
    pub fn new(artifacts: impl Into<PathBuf>) -> Self {
        Self {
            artifacts: artifacts.into(),
            app: None,
            addr: DEFAULT_ADDR,
            cors_origins: Vec::new(),
            hsts: false,
            request_log: None,
            inference: InferenceConfig::default(),
        }
    }
}
