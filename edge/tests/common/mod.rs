//! Test fixtures: a signed, sharded artifacts directory built with core's APIs, a running edge
//! on 127.0.0.1:0, and a raw HTTP/1.1 client for requests a normal client would "fix" (`..`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use tessera_core::dsse::Envelope;
use tessera_core::layout::{manifest_path, shard_path, versioned_manifest_path};
use tessera_core::manifest::{
    FileEntry, RuntimeRequirement, ShardRef, ENGINE_WONNX, PAYLOAD_TYPE, SCHEMA_VERSION,
};
use tessera_core::{Manifest, Sha256Digest};
use tessera_edge::EdgeConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;

/// Shard size of the fixture's files.
pub const SHARD: usize = 4096;
/// Length of the fixture's `model.onnx`: two full shards and a short one.
pub const MODEL_LEN: usize = 2 * SHARD + 1808;
/// Bytes of the fixture's `config.json` (one shard).
pub const CONFIG_JSON: &[u8] = br#"{"labels":["cat","dog"]}"#;
/// A file outside the artifacts directory that traversal attempts must never reach.
pub const SECRET: &[u8] = b"TOP-SECRET-OUTSIDE-ARTIFACTS";

/// A temporary directory holding `artifacts/` (model `demo` v1.0.0), `app/` and `secret.txt`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub model: Vec<u8>,
    pub manifest: Manifest,
    pub envelope_json: Vec<u8>,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("artifacts/_shards")).unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        let model: Vec<u8> = (0..MODEL_LEN).map(|i| (i * 31 % 251) as u8).collect();
        let mut fixture = Self {
            dir,
            model,
            manifest: placeholder_manifest(),
            envelope_json: Vec::new(),
        };
        let files = vec![
            fixture.add_file("model.onnx", &fixture.model.clone(), SHARD),
            fixture.add_file("config.json", CONFIG_JSON, SHARD),
        ];
        fixture.manifest = Manifest {
            files,
            ..placeholder_manifest()
        };
        fixture.manifest.check().unwrap();
        let envelope = Envelope::sign(
            PAYLOAD_TYPE,
            &fixture.manifest.to_json(),
            &SigningKey::from_bytes(&[7u8; 32]),
        );
        fixture.envelope_json = envelope.to_json();
        let name = &fixture.manifest.name;
        fixture.write(&manifest_path(name), &fixture.envelope_json.clone());
        fixture.write(
            &versioned_manifest_path(name, &fixture.manifest.version),
            &fixture.envelope_json.clone(),
        );
        fixture
    }

    /// Splits `bytes` into shards of `shard_len`, stores them, and returns the file entry.
    fn add_file(&self, path: &str, bytes: &[u8], shard_len: usize) -> FileEntry {
        let shards = bytes
            .chunks(shard_len)
            .map(|chunk| {
                let digest = Sha256Digest::of(chunk);
                self.write(&shard_path(&digest), chunk);
                ShardRef {
                    sha256: digest,
                    size: chunk.len() as u64,
                }
            })
            .collect();
        FileEntry {
            path: path.parse().unwrap(),
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(bytes),
            shards,
        }
    }

    pub fn artifacts(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    pub fn app(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    /// Writes a file under `artifacts/`.
    pub fn write(&self, relative: &str, bytes: &[u8]) {
        write_file(&self.artifacts().join(relative), bytes);
    }

    /// Writes a file under `app/`.
    pub fn write_app(&self, relative: &str, bytes: &[u8]) {
        write_file(&self.app().join(relative), bytes);
    }

    pub fn model_file(&self) -> &FileEntry {
        self.manifest.file("model.onnx").unwrap()
    }

    /// The `i`-th shard of `model.onnx`.
    pub fn model_shard(&self, i: usize) -> (Sha256Digest, &[u8]) {
        let shard = self.model_file().shards[i];
        (
            shard.sha256,
            &self.model[i * SHARD..i * SHARD + shard.size as usize],
        )
    }

    /// A config serving this fixture's artifacts and app on 127.0.0.1:0.
    pub fn config(&self) -> EdgeConfig {
        let mut config = EdgeConfig::new(self.artifacts());
        config.app = Some(self.app());
        config.addr = "127.0.0.1:0".parse().unwrap();
        config
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn placeholder_manifest() -> Manifest {
    Manifest {
        schema: SCHEMA_VERSION,
        name: "demo".parse().unwrap(),
        version: semver::Version::new(1, 0, 0),
        runtime: RuntimeRequirement {
            engine: ENGINE_WONNX.to_owned(),
            abi: 1,
            ops: vec!["Gemm".to_owned(), "Relu".to_owned()],
            entry: Some("model.onnx".parse().unwrap()),
        },
        issued_at: 1_700_000_000,
        expires_at: 1_800_000_000,
        files: Vec::new(),
        test_vectors: Vec::new(),
    }
}

/// A running edge; shut down (gracefully) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<Result<(), tessera_edge::EdgeError>>>,
}

impl TestServer {
    pub async fn start(config: EdgeConfig) -> Self {
        let server = tessera_edge::bind(&config).await.unwrap();
        let addr = server.local_addr();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        Self {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Asks the server to stop and waits for it.
    pub async fn stop(mut self) -> Result<(), tessera_edge::EdgeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client that neither decompresses nor follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Sends `GET <target> HTTP/1.1` byte for byte (no normalization of `..` or escapes).
pub async fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    RawResponse {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

/// The `error.code` of a JSON error body.
pub fn error_code(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", String::from_utf8_lossy(body));
    });
    value["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A response header as a string ("" when absent).
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
