//! (placeholder: the edge helper replaces this file)
use std::net::SocketAddr;
use std::path::PathBuf;

/// Configuration of `tessera serve`.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Artifacts directory served under `/models/`.
    pub artifacts: PathBuf,
    /// Optional app directory served at `/`.
    pub app: Option<PathBuf>,
    /// Listen address.
    pub addr: SocketAddr,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
}

/// Errors of the edge server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// Could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    _config: EdgeConfig,
    _shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), EdgeError> {
    Ok(())
}
