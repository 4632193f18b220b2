//! The tessera edge server (`tessera serve`): serves a signed, sharded artifacts directory under
//! `/models/` and, optionally, the app at `/`, over plain HTTP or HTTPS (rustls, HTTP/2 by ALPN,
//! certificates reloaded when their files change, optional mTLS for `/v1/`: module `tls`).
//!
//! - `/models/_shards/<sha256>`: shard bytes, immutable, strong `ETag`, Range.
//! - `/models/<name>/manifest.json`, `/models/<name>/versions/<semver>.json`: signed envelopes
//!   as stored, `no-cache` with `ETag`.
//! - `/models/<name>/<logical path>`: a model file assembled from its shards and streamed, with
//!   Range (core's rules), `ETag` = the file's SHA-256.
//! - `/healthz`; CORS allow-list; CSP and other security headers; a JSON-lines request log.
//! - `POST /v1/models/<name>/infer` and `GET /metrics`: native inference of signed models
//!   ([`inference`]); this is the one place the edge does verify signatures and shard digests,
//!   because it runs what it loads.
//!
//! For serving artifacts the edge is an origin, not a verifier: it never checks signatures or
//! re-hashes shards it only sends (the browser does both against its trusted keys). Behind a
//! TLS-terminating proxy, set [`EdgeConfig::hsts`] and [`EdgeConfig::trusted_proxies`]. Every
//! failure is a JSON body `{"error": {"code", "message"}}` with a stable code ([`RequestError`]); paths that could leave
//! the artifacts directory are refused before any file is touched.

mod app_check;
mod client_ip;
mod conditional;
mod config;
mod error;
pub mod inference;
mod logical;
mod manifest;
mod models;
mod path;
mod request_log;
mod router;
mod server;
mod shard;
mod tls;

pub use client_ip::{parse_trusted_proxy, ClientIp};
pub use config::{EdgeConfig, DEFAULT_ADDR, DEFAULT_READ_TIMEOUT};
pub use error::{EdgeError, RequestError};
pub use inference::{
    headless_gpu_env, prepare_headless_gpu, AuthConfig, InferenceConfig, InferenceError,
};
pub use ipnet::IpNet;
pub use router::{content_security_policy, router};
pub use server::{bind, serve, Server};
pub use tls::{ClientCertificate, TlsConfig, TlsError, DEFAULT_RELOAD_INTERVAL};
