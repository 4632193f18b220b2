//! Binding and running the edge: [`bind`] opens the listener (port 0 picks a free port and
//! [`Server::local_addr`] tells which), [`Server::run`] serves until a shutdown future resolves,
//! then lets in-flight requests finish. [`serve`] does both and logs the URL.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::EdgeConfig;
use crate::error::EdgeError;
use crate::router::router;

/// A bound, not yet running edge server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl Server {
    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then waits for in-flight requests to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EdgeError> {
        // Peer addresses feed the inference API's per-IP rate limit.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| EdgeError::Serve { source })
    }
}

/// Checks the config, builds the router and binds `config.addr`.
pub async fn bind(config: &EdgeConfig) -> Result<Server, EdgeError> {
    let router = router(config)?;
    let bind_error = |source| EdgeError::Bind {
        addr: config.addr,
        source,
    };
    let listener = TcpListener::bind(config.addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok(Server {
        listener,
        local_addr,
        router,
    })
}

/// Binds, logs the URL (`tracing` at info level), and serves until `shutdown` resolves.
pub async fn serve(
    config: EdgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EdgeError> {
    let server = bind(&config).await?;
    tracing::info!(
        url = %format!("http://{}/", server.local_addr()),
        artifacts = %config.artifacts.display(),
        app = ?config.app,
        "tessera edge listening"
    );
    server.run(shutdown).await
}
