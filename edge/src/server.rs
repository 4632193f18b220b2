//! Binding and running the edge: [`bind`] opens the listener (port 0 picks a free port and
//! [`Server::local_addr`] tells which) and, with [`EdgeConfig::tls`], loads the certificates;
//! [`Server::run`] serves until a shutdown future resolves, then lets in-flight requests finish.
//! [`serve`] does both and logs the URL.
//!
//! Each connection is served by hyper-util's HTTP/1.1 + HTTP/2 builder (HTTP/2 by ALPN over TLS,
//! or by prior knowledge over plain TCP). Requests carry the peer address (`ConnectInfo`) and,
//! after a handshake that verified a client certificate, a [`ClientCertificate`]. Slow clients
//! are bounded by [`EdgeConfig::read_timeout`]: the TLS handshake and (HTTP/1.1) the request
//! headers must arrive within it, or the connection is dropped; bodies are bounded where they
//! are read (the inference API). Not done here: per-IP connection limits, HTTP/3.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::config::EdgeConfig;
use crate::error::EdgeError;
use crate::router::router;
use crate::tls::{self, ClientCertificate};

/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A bound, not yet running edge server.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    tls: Option<TlsAcceptor>,
    read_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The address actually bound (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until `shutdown` resolves, then waits for in-flight requests to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EdgeError> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.read_timeout);
        builder.http2().timer(TokioTimer::new());
        let connection = Arc::new(Connection {
            builder,
            router: self.router,
            tls: self.tls,
            read_timeout: self.read_timeout,
        });
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let watcher = graceful.watcher();
                    let connection = Arc::clone(&connection);
                    tokio::spawn(async move { connection.serve(stream, peer, watcher).await });
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
        drop(self.listener);
        graceful.shutdown().await;
        Ok(())
    }
}

/// What every connection shares.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    tls: Option<TlsAcceptor>,
    read_timeout: Duration,
}

impl Connection {
    async fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        watcher: hyper_util::server::graceful::Watcher,
    ) {
        // Responses are written whole or streamed in large chunks: no need for Nagle.
        let _ = stream.set_nodelay(true);
        match &self.tls {
            None => self.serve_http(stream, peer, None, watcher).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.read_timeout, acceptor.accept(stream)).await;
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                // With `--client-ca`, rustls has verified any certificate the client sent
                // against the CA (or refused the handshake): presence means verified.
                let cert = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| ClientCertificate(leaf.as_ref().to_vec()));
                self.serve_http(stream, peer, cert, watcher).await;
            }
        }
    }

    async fn serve_http<S>(
        &self,
        stream: S,
        peer: SocketAddr,
        cert: Option<ClientCertificate>,
        watcher: hyper_util::server::graceful::Watcher,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |request: http::Request<_>| {
            let mut request = request.map(axum::body::Body::new);
            let extensions = request.extensions_mut();
            extensions.insert(ConnectInfo(peer));
            if let Some(cert) = &cert {
                extensions.insert(cert.clone());
            }
            router.clone().oneshot(request)
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// Checks the config, builds the router, loads the TLS certificates and binds `config.addr`.
pub async fn bind(config: &EdgeConfig) -> Result<Server, EdgeError> {
    let router = router(config)?;
    let tls = match &config.tls {
        Some(tls) => Some(TlsAcceptor::from(tls::server_config(tls)?)),
        None => None,
    };
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
        tls,
        read_timeout: config.read_timeout,
    })
}

/// Binds, logs the URL (`tracing` at info level), and serves until `shutdown` resolves.
pub async fn serve(
    config: EdgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EdgeError> {
    let server = bind(&config).await?;
    tracing::info!(
        url = %format!("{}://{}/", server.scheme(), server.local_addr()),
        artifacts = %config.artifacts.display(),
        app = ?config.app,
        "tessera edge listening"
    );
    server.run(shutdown).await
}
