//! TLS for the edge (`tessera serve --tls-cert --tls-key [--client-ca]`): rustls with the `ring`
//! provider, ALPN `h2` then `http/1.1`, TLS 1.2 and 1.3.
//!
//! - The certificate chain and key are PEM files, read at startup (a bad file stops the server
//!   with a [`TlsError`]) and **reloaded without a restart**: at most every
//!   [`TlsConfig::reload_interval`], a handshake looks at both files' modification time and size
//!   and, when either changed, loads them again. A new pair that cannot be read, does not parse
//!   or whose key does not match the certificate is logged (`WARN`) and the previous certificate
//!   stays in use; the pair is tried again when the files change again.
//! - `--client-ca`: the handshake *requests* a client certificate and, when one is sent, refuses
//!   the handshake unless it chains to that CA (rustls' `WebPkiClientVerifier`). Connections
//!   without one are accepted — artifacts stay public — and carry no [`ClientCertificate`];
//!   the router then refuses `/v1/` on them (`401 client-cert-required`).
//!
//! Not done here: OCSP stapling, SNI with several certificates, client certificate revocation
//! lists, session-ticket key rotation (rustls' defaults apply), ACME.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tessera_core::ErrorCode;

/// How often, at most, a handshake checks whether the certificate files changed: 2 seconds.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// ALPN protocols offered, in order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// How the edge terminates TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate.
    pub key: PathBuf,
    /// PEM CA certificate(s): when set, `/v1/` requires a client certificate chained to one of
    /// them (mTLS); other routes stay open to clients without a certificate.
    pub client_ca: Option<PathBuf>,
    /// Send `Strict-Transport-Security: max-age=31536000` on every response (default: true;
    /// `tessera serve --no-hsts` turns it off).
    pub hsts: bool,
    /// At most how often handshakes look for changed certificate files
    /// ([`DEFAULT_RELOAD_INTERVAL`]; zero: on every handshake).
    pub reload_interval: Duration,
}

impl TlsConfig {
    /// TLS with `cert` and `key`, HSTS on, no client certificates, the default reload interval.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            hsts: true,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

/// Why TLS cannot be set up (at startup) or a reloaded certificate is refused (logged).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file cannot be read.
    #[error("cannot read TLS certificate {}: {source}", path.display())]
    CertUnreadable {
        /// The configured file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error("TLS certificate {} is invalid: {detail}", path.display())]
    CertInvalid {
        /// The configured file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The key file cannot be read.
    #[error("cannot read TLS key {}: {source}", path.display())]
    KeyUnreadable {
        /// The configured file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file holds no usable PEM private key.
    #[error("TLS key {} is invalid: {detail}", path.display())]
    KeyInvalid {
        /// The configured file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The key is not the certificate's.
    #[error("TLS key {} does not match certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The client CA file cannot be read or holds no usable CA certificate.
    #[error("client CA {} is invalid: {detail}", path.display())]
    ClientCaInvalid {
        /// The configured file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl ErrorCode for TlsError {
    fn code(&self) -> &'static str {
        match self {
            Self::CertUnreadable { .. } => "tls-cert-unreadable",
            Self::CertInvalid { .. } => "tls-cert-invalid",
            Self::KeyUnreadable { .. } => "tls-key-unreadable",
            Self::KeyInvalid { .. } => "tls-key-invalid",
            Self::KeyMismatch { .. } => "tls-key-mismatch",
            Self::ClientCaInvalid { .. } => "tls-client-ca-invalid",
        }
    }
}

/// Request extension: the connection's client presented a certificate that the handshake
/// verified against `--client-ca`. Holds the leaf certificate (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Vec<u8>);

/// The rustls server config for `config`: certificate resolver that reloads, ALPN, client
/// certificate verifier when a client CA is set.
pub(crate) fn server_config(config: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::new(config, Arc::clone(&provider))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        // The ring provider supports the default versions: this cannot fail; map it anyway.
        .map_err(|e| TlsError::CertInvalid {
            path: config.cert.clone(),
            detail: e.to_string(),
        })?;
    let builder = match &config.client_ca {
        Some(ca) => {
            let roots = load_client_roots(ca)?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::ClientCaInvalid {
                        path: ca.clone(),
                        detail: e.to_string(),
                    })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder.with_cert_resolver(Arc::new(resolver));
    server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(server))
}

fn load_client_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let invalid = |detail: String| TlsError::ClientCaInvalid {
        path: path.to_owned(),
        detail,
    };
    let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no PEM certificate in the file".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(roots)
}

/// Reads and checks a certificate chain and its key.
fn load_certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_pem = std::fs::read(cert_path).map_err(|source| TlsError::CertUnreadable {
        path: cert_path.to_owned(),
        source,
    })?;
    let cert_invalid = |detail: String| TlsError::CertInvalid {
        path: cert_path.to_owned(),
        detail,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_invalid(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_invalid("no PEM certificate in the file".into()));
    }
    let key_pem = std::fs::read(key_path).map_err(|source| TlsError::KeyUnreadable {
        path: key_path.to_owned(),
        source,
    })?;
    let key_invalid = |detail: String| TlsError::KeyInvalid {
        path: key_path.to_owned(),
        detail,
    };
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| key_invalid(e.to_string()))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_invalid(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // `Unknown` means the key's public half cannot be compared (not the case for ring's
        // keys); anything else is a mismatch.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(_) => Err(TlsError::KeyMismatch {
            cert: cert_path.to_owned(),
            key: key_path.to_owned(),
        }),
    }
}

/// What identifies one version of a file: modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|meta| FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// The certificate resolver: serves the current certificate and swaps in a new one when the
/// files change (see the module docs).
#[derive(Debug)]
struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    interval: Duration,
    state: Mutex<ReloadState>,
}

#[derive(Debug)]
struct ReloadState {
    current: Arc<CertifiedKey>,
    /// The file versions last tried (loaded or refused).
    stamps: (Option<FileStamp>, Option<FileStamp>),
    checked: Instant,
}

impl ReloadingCert {
    fn new(config: &TlsConfig, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamps = (stamp(&config.cert), stamp(&config.key));
        let current = load_certified_key(&config.cert, &config.key, &provider)?;
        Ok(Self {
            cert_path: config.cert.clone(),
            key_path: config.key.clone(),
            provider,
            interval: config.reload_interval,
            state: Mutex::new(ReloadState {
                current: Arc::new(current),
                stamps,
                checked: Instant::now(),
            }),
        })
    }

    /// The certificate to present now, after reloading it if the files changed.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= self.interval {
            state.checked = Instant::now();
            let stamps = (stamp(&self.cert_path), stamp(&self.key_path));
            if stamps != state.stamps {
                state.stamps = stamps;
                // Two small files, read on the handshake's task only when they changed.
                match load_certified_key(&self.cert_path, &self.key_path, &self.provider) {
                    Ok(key) => {
                        let cert = self.cert_path.display();
                        tracing::info!(%cert, "TLS certificate reloaded");
                        state.current = Arc::new(key);
                    }
                    Err(error) => tracing::warn!(
                        code = error.code(),
                        %error,
                        "new TLS certificate refused; still serving the previous one"
                    ),
                }
            }
        }
        Arc::clone(&state.current)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}
