//! The IO of `tessera check`, kept thin: TCP, a rustls handshake (system roots plus `--ca`,
//! ALPN `h2`/`http/1.1`) that reports the negotiated protocol and the leaf certificate, and
//! one HTTP/1.1 or HTTP/2 exchange at a time over hyper's client connections. Judging what
//! comes back is `rules`' job.

use std::sync::Arc;
use std::time::Duration;

use http::header::{HOST, USER_AGENT};
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::rules::{CertProblem, Leaf};
use super::target::Target;

/// Request bodies are small constants (the probes' JSON).
type Body = Full<&'static [u8]>;

/// Most body bytes kept from one answer (the rest is dropped, and the reply says so).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The TLS handshake failed (often: the certificate was refused).
    #[error("TLS handshake with {addr} failed: {message}")]
    Tls {
        /// `host:port`.
        addr: String,
        /// What the verifier objected to.
        problem: CertProblem,
        /// rustls' words.
        message: String,
    },
    /// A step took longer than the timeout.
    #[error("{step} timed out after {}s", timeout.as_secs())]
    Timeout {
        /// What was waited for.
        step: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// HTTP framing or connection error.
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a bad header value).
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
}

/// What the handshake negotiated.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// The ALPN protocol (`h2`, `http/1.1`), if any; `None` over plain HTTP.
    pub alpn: Option<Vec<u8>>,
    /// The leaf certificate, parsed; `None` over plain HTTP.
    pub leaf: Option<Leaf>,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

/// A TLS (or plain) HTTP client for the checks.
#[derive(Debug, Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

#[derive(Debug)]
enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

/// One open connection to a target.
#[derive(Debug)]
pub struct Connection {
    sender: Sender,
    target: Target,
    /// What its handshake negotiated.
    pub handshake: Handshake,
}

/// Builds the root store: the system's roots and `extra` (from `--ca`); an `extra` certificate
/// that is not a usable root is an error.
pub fn roots(extra: Vec<CertificateDer<'static>>) -> Result<RootCertStore, rustls::Error> {
    let mut store = RootCertStore::empty();
    // A machine without a system store (or with unreadable entries) keeps what loaded.
    let native = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(native.certs);
    for cert in extra {
        store.add(cert)?;
    }
    Ok(store)
}

impl Client {
    /// A client trusting `roots`, giving up on any step after `timeout`.
    pub fn new(roots: RootCertStore, timeout: Duration) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            tls: Arc::new(config),
            timeout,
        })
    }

    async fn within<T, E>(
        &self,
        step: &'static str,
        future: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, NetError>
    where
        NetError: From<E>,
    {
        match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result.map_err(NetError::from),
            Err(_) => Err(NetError::Timeout {
                step,
                timeout: self.timeout,
            }),
        }
    }

    /// Connects (TCP, then TLS for `https`) and starts HTTP/2 if ALPN chose it, else HTTP/1.1.
    pub async fn connect(&self, target: &Target) -> Result<Connection, NetError> {
        let addr = format!("{}:{}", target.host, target.port);
        let tcp = match tokio::time::timeout(
            self.timeout,
            TcpStream::connect((target.host.as_str(), target.port)),
        )
        .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => return Err(NetError::Connect { addr, source }),
            Err(_) => {
                return Err(NetError::Timeout {
                    step: "connect",
                    timeout: self.timeout,
                })
            }
        };
        let _ = tcp.set_nodelay(true);
        if !target.is_tls() {
            let sender = self.start_http(TokioIo::new(tcp), false).await?;
            return Ok(Connection {
                sender,
                target: target.clone(),
                handshake: Handshake::default(),
            });
        }
        let name = ServerName::try_from(target.host.clone()).map_err(|e| NetError::Tls {
            addr: addr.clone(),
            problem: CertProblem::Other(e.to_string()),
            message: e.to_string(),
        })?;
        let tls = match tokio::time::timeout(
            self.timeout,
            TlsConnector::from(Arc::clone(&self.tls)).connect(name, tcp),
        )
        .await
        {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => {
                return Err(NetError::Tls {
                    addr,
                    problem: classify(&err),
                    message: err.to_string(),
                })
            }
            Err(_) => {
                return Err(NetError::Timeout {
                    step: "TLS handshake",
                    timeout: self.timeout,
                })
            }
        };
        let (_, session) = tls.get_ref();
        let handshake = Handshake {
            alpn: session.alpn_protocol().map(<[u8]>::to_vec),
            leaf: session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|der| parse_leaf(der)),
        };
        let h2 = handshake.alpn.as_deref() == Some(b"h2");
        let sender = self.start_http(TokioIo::new(tls), h2).await?;
        Ok(Connection {
            sender,
            target: target.clone(),
            handshake,
        })
    }

    async fn start_http<T>(&self, io: T, h2: bool) -> Result<Sender, NetError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        if h2 {
            let (sender, connection) = self
                .within(
                    "HTTP/2 handshake",
                    http2::handshake(TokioExecutor::new(), io),
                )
                .await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Sender::H2(sender))
        } else {
            let (sender, connection) = self
                .within("HTTP/1.1 handshake", http1::handshake(io))
                .await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Sender::H1(sender))
        }
    }

    /// One request on a fresh connection.
    pub async fn fetch(
        &self,
        target: &Target,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: &'static [u8],
    ) -> Result<Reply, NetError> {
        let mut connection = self.connect(target).await?;
        self.send(&mut connection, method, path, headers, body)
            .await
    }

    /// One request on `connection`.
    pub async fn send(
        &self,
        connection: &mut Connection,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: &'static [u8],
    ) -> Result<Reply, NetError> {
        let h2 = matches!(connection.sender, Sender::H2(_));
        let request = build(&connection.target, method, path, headers, body, h2)?;
        let response = match &mut connection.sender {
            Sender::H1(sender) => {
                self.within("HTTP/1.1 connection", sender.ready()).await?;
                self.within("response", sender.send_request(request))
                    .await?
            }
            Sender::H2(sender) => {
                self.within("HTTP/2 connection", sender.ready()).await?;
                self.within("response", sender.send_request(request))
                    .await?
            }
        };
        let (parts, mut incoming) = response.into_parts();
        let mut body = Vec::new();
        loop {
            let frame = match tokio::time::timeout(self.timeout, incoming.frame()).await {
                Ok(Some(frame)) => frame?,
                Ok(None) => break,
                Err(_) => {
                    return Err(NetError::Timeout {
                        step: "response body",
                        timeout: self.timeout,
                    })
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if body.len() + data.len() > MAX_BODY {
                break;
            }
            body.extend_from_slice(&data);
        }
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `n` copies of one request at once: over one HTTP/2 connection when the server speaks
    /// it, else each on its own HTTP/1.1 connection. Errors come back as text.
    pub async fn burst(
        &self,
        target: &Target,
        method: &Method,
        path: &str,
        headers: &[(&str, String)],
        body: &'static [u8],
        n: usize,
    ) -> Vec<Result<Reply, String>> {
        let first = match self.connect(target).await {
            Ok(connection) => connection,
            Err(err) => return (0..n).map(|_| Err(err.to_string())).collect(),
        };
        let shared = match &first.sender {
            Sender::H2(sender) => Some(sender.clone()),
            Sender::H1(_) => None,
        };
        let requests = (0..n).map(|_| {
            let shared = shared.clone();
            let method = method.clone();
            async move {
                let answer = match shared {
                    Some(sender) => {
                        let mut connection = Connection {
                            sender: Sender::H2(sender),
                            target: target.clone(),
                            handshake: Handshake::default(),
                        };
                        self.send(&mut connection, method, path, headers, body)
                            .await
                    }
                    None => self.fetch(target, method, path, headers, body).await,
                };
                answer.map_err(|err| err.to_string())
            }
        });
        let answers = futures_util::future::join_all(requests).await;
        drop(first);
        answers
    }
}

fn build(
    target: &Target,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: &'static [u8],
    h2: bool,
) -> Result<Request<Body>, http::Error> {
    let mut builder = Request::builder().method(method);
    builder = if h2 {
        builder
            .uri(format!("{}{path}", target.origin()))
            .version(Version::HTTP_2)
    } else {
        builder.uri(path).header(HOST, target.authority())
    };
    builder = builder.header(
        USER_AGENT,
        concat!("tessera-check/", env!("CARGO_PKG_VERSION")),
    );
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Full::new(body))
}

/// What the verifier refused, from the handshake's error.
fn classify(err: &std::io::Error) -> CertProblem {
    let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return CertProblem::Other(err.to_string());
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired => CertProblem::Expired { not_after: None },
            CertificateError::ExpiredContext { not_after, .. } => CertProblem::Expired {
                not_after: i64::try_from(not_after.as_secs()).ok(),
            },
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertProblem::NotYetValid
            }
            CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertProblem::WrongName
            }
            CertificateError::Other(other)
                if format!("{other:?}").contains("CaUsedAsEndEntity") =>
            {
                CertProblem::Other(
                    "the server presents a CA certificate as its own (a self-signed `openssl req \
                     -x509` one?): serve a leaf certificate issued by a CA"
                        .to_owned(),
                )
            }
            _ => CertProblem::Other(tls.to_string()),
        },
        other => CertProblem::Other(other.to_string()),
    }
}

/// `notAfter` and the issuer of a DER certificate (`None` if it does not parse).
fn parse_leaf(der: &[u8]) -> Option<Leaf> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(Leaf {
        not_after: cert.validity().not_after.timestamp(),
        issuer: cert.issuer().to_string(),
    })
}
