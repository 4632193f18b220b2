//! What `tessera serve` is told: directories, listen address, TLS, CORS allow-list, HSTS,
//! trusted proxies, read timeouts, the request log and the inference API's settings. Plain data
//! with defaults; [`crate::router`] and [`crate::bind`] check it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::inference::InferenceConfig;
use crate::tls::TlsConfig;

/// Default bound on reading a request's headers, a TLS handshake, or an inference request's
/// body: 10 seconds.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with these certificates instead of plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Send `Strict-Transport-Security: max-age=31536000` on every response even without
    /// [`EdgeConfig::tls`]: for a plain-HTTP edge behind a TLS-terminating proxy or CDN that is
    /// the only way clients reach it. Never set it for plain-HTTP deployments. (With `tls`,
    /// [`TlsConfig::hsts`] decides.)
    pub hsts: bool,
    /// Proxies whose `X-Forwarded-For` is believed for per-client rate limits (see
    /// `client_ip`). Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Bound on reading request headers (HTTP/1.1), the TLS handshake, and an inference
    /// request's body; a client that stalls longer is dropped.
    pub read_timeout: Duration,
    /// Append one JSON line per request to this file:
    /// `{"method","path","range","status","bytes"}` (`bytes`: body bytes actually sent).
    pub request_log: Option<PathBuf>,
    /// The inference API (`POST /v1/models/<name>/infer`): trusted model keys, auth, limits.
    /// The default has no trusted keys, so inference is disabled.
    pub inference: InferenceConfig,
}

impl EdgeConfig {
    /// Whether responses carry `Strict-Transport-Security`.
    pub fn sends_hsts(&self) -> bool {
        match &self.tls {
            Some(tls) => tls.hsts,
            None => self.hsts,
        }
    }

    /// Serves `artifacts` on [`DEFAULT_ADDR`] over plain HTTP, with no app, no CORS, no HSTS, no
    /// trusted proxies, [`DEFAULT_READ_TIMEOUT`] and no request log.
    pub fn new(artifacts: impl Into<PathBuf>) -> Self {
        Self {
            artifacts: artifacts.into(),
            app: None,
            addr: DEFAULT_ADDR,
            cors_origins: Vec::new(),
            tls: None,
            hsts: false,
            trusted_proxies: Vec::new(),
            read_timeout: DEFAULT_READ_TIMEOUT,
            request_log: None,
            inference: InferenceConfig::default(),
        }
    }
}
