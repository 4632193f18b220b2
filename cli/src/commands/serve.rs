//! `tessera serve`: run the edge server over an artifact directory (and optionally the app)
//! until Ctrl-C.
//!
//! A thin shell over `tessera_edge`: flags become an `EdgeConfig`, the server runs on a tokio
//! runtime, and the URL is printed once the listener is bound. The inference API
//! (`POST /v1/models/<name>/infer`) is enabled by `--trust` (keys trusted to sign models) and
//! protected by `--auth-key`/`--auth-audience` (bearer tokens from `tessera token`, also
//! required by `/metrics` then) and a per-client rate limit. `--tls-cert`/`--tls-key` serve
//! HTTPS (HTTP/2 by ALPN, HSTS unless `--no-hsts`, certificates reloaded when the files change);
//! `--client-ca` requires a client certificate on `/v1/`; `--trust-proxy` believes
//! `X-Forwarded-For` from those addresses; `--read-timeout-secs` bounds slow clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tessera_artifacts::load_trusted_keys;
use tessera_core::ratelimit::Rate;
use tessera_edge::{AuthConfig, EdgeConfig, IpNet, TlsConfig};

use crate::error::CliError;
use crate::units::parse_size;

/// Serve artifacts (and an app) over HTTP or HTTPS.
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
    /// Send Strict-Transport-Security without --tls-cert (only behind a TLS-terminating proxy).
    #[arg(long, conflicts_with = "no_hsts")]
    hsts: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first); reloaded when the file changes.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert; reloaded when the file changes.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): /v1/ (inference) then requires a client certificate issued by it
    /// (401 client-cert-required without one); artifacts stay public.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// With --tls-cert, do not send Strict-Transport-Security.
    #[arg(long, requires = "tls_cert")]
    no_hsts: bool,
    /// Believe X-Forwarded-For from these proxies (CIDR or address; repeat or separate with
    /// commas): the right-most address not in these ranges is the client for rate limits.
    #[arg(
        long = "trust-proxy",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = tessera_edge::parse_trusted_proxy
    )]
    trust_proxy: Vec<IpNet>,
    /// Seconds a client may take to send a request's headers (HTTP/1.1), finish the TLS
    /// handshake, or send an inference body before it is dropped.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = tessera_edge::DEFAULT_READ_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    read_timeout_secs: u64,
    /// Append one JSON line per request to this file.
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
    /// Public key trusted to sign models for the inference API; repeat for several. Without
    /// one, inference is disabled (503 inference-disabled).
    #[arg(long = "trust", value_name = "PUBKEY.json")]
    trust: Vec<PathBuf>,
    /// Public key whose bearer tokens (`tessera token`) the inference API accepts; repeat for
    /// several. Without one, the inference API needs no token.
    #[arg(long = "auth-key", value_name = "PUBKEY.json")]
    auth_keys: Vec<PathBuf>,
    /// Audience inference tokens must carry (required with --auth-key).
    #[arg(long, value_name = "AUD")]
    auth_audience: Option<String>,
    /// Clock skew tolerated on inference tokens, in seconds: a token that expired no more than this
    /// long ago (or becomes valid within it) is still accepted.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = tessera_edge::inference::DEFAULT_LEEWAY_SECS
    )]
    auth_leeway: u64,
    /// Inference requests per second per client (token subject, else IP); 0: unlimited.
    #[arg(long, value_name = "N", default_value_t = 10)]
    infer_rate: u32,
    /// Inference requests a client may burst at once.
    #[arg(long, value_name = "N", default_value_t = 20)]
    infer_burst: u32,
    /// Largest inference request body, e.g. 4MiB.
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_body_size)]
    infer_max_body: usize,
    /// Inference worker threads; 0: one per core for tract, one for wonnx.
    #[arg(long, value_name = "N", default_value_t = 0)]
    infer_workers: usize,
    /// Inference engine: tract (CPU), wonnx (wgpu), or auto (wonnx on a GPU that is not a CPU
    /// adapter, else tract).
    #[arg(long, value_name = "ENGINE", default_value = "auto")]
    engine: tessera_edge::inference::EngineChoice,
}

fn parse_body_size(input: &str) -> Result<usize, String> {
    let size = parse_size(input)?;
    usize::try_from(size).map_err(|_| "too large for this machine".to_owned())
}

/// Runs `tessera serve` until Ctrl-C.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let mut config = EdgeConfig::new(&args.artifacts);
    config.app.clone_from(&args.app);
    config.addr = args.addr;
    config.cors_origins.clone_from(&args.cors_origins);
    config.hsts = args.hsts;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let mut tls = TlsConfig::new(cert, key);
        tls.client_ca.clone_from(&args.client_ca);
        tls.hsts = !args.no_hsts;
        config.tls = Some(tls);
    }
    config.trusted_proxies.clone_from(&args.trust_proxy);
    config.read_timeout = Duration::from_secs(args.read_timeout_secs);
    config.request_log.clone_from(&args.request_log);
    config.inference.trusted_keys = load_trusted_keys(&args.trust)?;
    if !args.auth_keys.is_empty() {
        let audience = args
            .auth_audience
            .clone()
            .ok_or(CliError::AuthAudienceMissing)?;
        let keys = args
            .auth_keys
            .iter()
            .map(|path| {
                let file = tessera_artifacts::load_public_key(path)?;
                file.verifying_key()
                    .map_err(|source| tessera_artifacts::ArtifactsError::Key {
                        path: path.clone(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut auth = AuthConfig::new(keys, audience);
        auth.leeway_secs = args.auth_leeway;
        config.inference.auth = Some(auth);
    }
    config.inference.rate_limit =
        (args.infer_rate > 0).then(|| Rate::per_second(args.infer_rate, args.infer_burst));
    config.inference.max_body_bytes = args.infer_max_body;
    config.inference.workers = args.infer_workers;
    config.inference.engine = args.engine;
    if !config.inference.trusted_keys.is_empty() {
        // Before the runtime's threads exist: it sets an environment variable (Mesa's Vulkan
        // layer would otherwise print `error: XDG_RUNTIME_DIR is invalid…` on a headless server).
        tessera_edge::prepare_headless_gpu();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let server = tessera_edge::bind(&config).await?;
        println!(
            "serving {} on {}://{}/ (Ctrl-C stops)",
            config.artifacts.display(),
            server.scheme(),
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
