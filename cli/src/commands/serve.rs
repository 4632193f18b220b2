//! `tessera serve`: run the edge server over an artifact directory (and optionally the app)
//! until Ctrl-C.
//!
//! A thin shell over `tessera_edge`: flags become an `EdgeConfig`, the server runs on a tokio
//! runtime, and the URL is printed once the listener is bound.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use tessera_edge::EdgeConfig;

use crate::error::CliError;

/// Serve artifacts (and an app) over HTTP.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Artifacts directory, served under /models/.
    #[arg(long, value_name = "DIR")]
    artifacts: PathBuf,
    /// App directory, served at /.
    #[arg(long, value_name = "DIR")]
    app: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value_t = tessera_edge::DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Origin allowed by CORS (exact, e.g. https://app.example.com); repeat for several.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Send Strict-Transport-Security (only behind a TLS-terminating proxy).
    #[arg(long)]
    hsts: bool,
    /// Append one JSON line per request to this file.
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
}

/// Runs `tessera serve` until Ctrl-C.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let mut config = EdgeConfig::new(&args.artifacts);
    config.app.clone_from(&args.app);
    config.addr = args.addr;
    config.cors_origins.clone_from(&args.cors_origins);
    config.hsts = args.hsts;
    config.request_log.clone_from(&args.request_log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let server = tessera_edge::bind(&config).await?;
        println!(
            "serving {} on http://{}/ (Ctrl-C stops)",
            config.artifacts.display(),
            server.local_addr()
        );
        server
            .run(async {
                // If the signal handler cannot be installed, serve until killed.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await?;
        Ok(())
    })
}
