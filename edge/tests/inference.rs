//! The inference API over real HTTP: a packed, signed MLP (`fixtures/mlp.onnx`, made by
//! `fixtures/make_mlp.py`) served by an edge on 127.0.0.1:0 and run natively. Outputs are
//! compared with the numpy reference; auth, limits, client mistakes, tampering and metrics are
//! checked by their status and stable code.
//!
//! Engines: most tests run the default, `auto` (tract on a machine without a GPU; wonnx when
//! wgpu finds a non-CPU adapter). The engine-sensitive ones (numpy reference, tamper refusal,
//! self-test refusal, busy shedding, concurrency) run once per engine, in the `tract` and
//! `wonnx` modules (wonnx on Mesa lavapipe on CPU-only machines).

#![cfg(feature = "inference")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tessera_artifacts::{pack, PackInput, PackOptions};
use tessera_core::infer::{RequestTensor, TensorData};
use tessera_core::keys::TrustedKeys;
use tessera_core::manifest::TestVector;
use tessera_core::ratelimit::Rate;
use tessera_edge::inference::{issue_token, EngineChoice};
use tessera_edge::{AuthConfig, EdgeConfig};
use tokio::sync::oneshot;

const MODEL: &str = "mlp";
const AUDIENCE: &str = "tessera-test";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The numpy reference vectors.
fn vectors() -> Vec<TestVector> {
    serde_json::from_slice(&std::fs::read(fixture("mlp.vectors.json")).unwrap()).unwrap()
}

fn signer() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

fn token_key() -> SigningKey {
    SigningKey::from_bytes(&[12; 32])
}

fn now() -> u64 {
    tessera_artifacts::pack::unix_now()
}

/// An artifacts directory with `mlp` packed into 1 KiB shards.
struct Artifacts {
    dir: tempfile::TempDir,
}

impl Artifacts {
    /// Packed with the numpy reference as its known-answer test vectors.
    fn new() -> Self {
        Self::with_vectors(vectors())
    }

    fn with_vectors(test_vectors: Vec<TestVector>) -> Self {
        let artifacts = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        artifacts.pack_with("1.0.0", test_vectors);
        artifacts
    }

    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn pack(&self, version: &str) {
        self.pack_with(version, vectors());
    }

    fn pack_with(&self, version: &str, test_vectors: Vec<TestVector>) {
        let mut options = PackOptions::new(MODEL.parse().unwrap(), version.parse().unwrap());
        options.shard_size = 1024;
        options.test_vectors = test_vectors;
        let input = PackInput {
            path: "model.onnx".parse().unwrap(),
            source: fixture("mlp.onnx"),
        };
        pack(&self.root(), &[input], &options, &signer(), &mut |_| {}).unwrap();
    }

    /// Paths of the model's shard files, in order.
    fn shards(&self) -> Vec<PathBuf> {
        let manifest =
            tessera_artifacts::read_manifest_unverified(&self.root().join("mlp/manifest.json"))
                .unwrap();
        manifest.files[0]
            .shards
            .iter()
            .map(|s| self.root().join("_shards").join(s.sha256.to_hex()))
            .collect()
    }
}

fn trusting(artifacts: &Artifacts) -> EdgeConfig {
    let mut config = EdgeConfig::new(artifacts.root());
    config.addr = "127.0.0.1:0".parse().unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert(signer().verifying_key());
    config.inference.trusted_keys = trusted;
    config
}

/// [`trusting`] with `engine` chosen.
fn trusting_with(artifacts: &Artifacts, engine: EngineChoice) -> EdgeConfig {
    let mut config = trusting(artifacts);
    config.inference.engine = engine;
    config
}

/// The name answers report for an explicitly chosen engine.
fn engine_name(engine: EngineChoice) -> &'static str {
    match engine {
        EngineChoice::Tract => "tract-native",
        EngineChoice::Wonnx => "wonnx-wgpu",
        other => panic!("{other} has no fixed name"),
    }
}

/// Runs each named `async fn(EngineChoice)` as a test once per engine: `tract::<name>` and
/// `wonnx::<name>`.
macro_rules! for_each_engine {
    ($($test:ident),* $(,)?) => {
        mod tract {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::EngineChoice::Tract).await;
                }
            )*
        }
        mod wonnx {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::EngineChoice::Wonnx).await;
                }
            )*
        }
    };
}

for_each_engine!(
    outputs_match_the_numpy_reference_within_1e_4_as_json_and_base64,
    a_tampered_shard_or_untrusted_signer_gets_the_model_refused,
    a_session_that_fails_a_known_answer_test_is_never_used,
    concurrent_requests_all_succeed,
    a_full_queue_sheds_load_with_503_busy,
);

/// A running edge; stops when dropped.
struct Edge {
    base: String,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Edge {
    async fn start(config: &EdgeConfig) -> Self {
        let server = tessera_edge::bind(config).await.unwrap();
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    async fn post(
        &self,
        model: &str,
        body: impl Into<reqwest::Body>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/v1/models/{model}/infer", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    async fn infer(&self, body: &Value) -> Reply {
        self.post(MODEL, serde_json::to_vec(body).unwrap(), None)
            .await
    }

    async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        response.text().await.unwrap()
    }
}

/// Status, headers and JSON body of a response.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "status {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Self {
            status,
            headers,
            body,
        }
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<none>")
    }

    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert!(self.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}

/// A request with the first reference vector's input.
fn first_input() -> Value {
    json!({ "inputs": vectors()[0].inputs })
}

fn max_abs_diff(got: &Value, want: &[f64]) -> f64 {
    let got: Vec<f64> = serde_json::from_value(got.clone()).unwrap();
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
}

async fn outputs_match_the_numpy_reference_within_1e_4_as_json_and_base64(engine: EngineChoice) {
    let trusting = |artifacts: &Artifacts| trusting_with(artifacts, engine);
    let artifacts = Artifacts::new();
    let edge = Edge::start(&trusting(&artifacts)).await;
    for vector in vectors() {
        let x = &vector.inputs["x"];
        let values = TensorData::Float32(x.data.iter().map(|v| *v as f32).collect());
        let bodies = [
            json!({ "inputs": vector.inputs }),
            json!({ "inputs": { "x": RequestTensor::base64(x.shape.clone(), &values) } }),
        ];
        for body in bodies {
            let reply = edge.infer(&body).await;
            assert_eq!(reply.status, 200, "{}: {}", vector.name, reply.body);
            assert_eq!(reply.body["model"], MODEL);
            assert_eq!(reply.body["version"], "1.0.0");
            assert_eq!(reply.body["source"], "edge");
            assert_eq!(reply.body["engine"], engine_name(engine));
            assert_eq!(reply.headers["cache-control"], "no-store");
            let y = &reply.body["outputs"]["y"];
            let want = &vector.outputs["y"];
            assert_eq!(y["dtype"], "float32");
            assert_eq!(y["shape"], json!(want.shape));
            let diff = max_abs_diff(&y["data"], &want.data);
            assert!(diff <= 1e-4, "{}: max abs diff {diff}", vector.name);
            let timings = &reply.body["timings"];
            for field in ["queue_ms", "compute_ms", "total_ms"] {
                assert!(
                    timings[field].as_f64().is_some_and(|t| t >= 0.0),
                    "{timings}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newly_packed_version_is_picked_up_without_a_restart() {
    let artifacts = Artifacts::new();
    let edge = Edge::start(&trusting(&artifacts)).await;
    assert_eq!(edge.infer(&first_input()).await.body["version"], "1.0.0");
    artifacts.pack("1.1.0");
    let reply = edge.infer(&first_input()).await;
    assert_eq!(
        (reply.status, &reply.body["version"]),
        (200, &json!("1.1.0"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_required_and_checked_for_signature_audience_and_expiry() {
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.inference.auth = Some(AuthConfig::new(vec![token_key().verifying_key()], AUDIENCE));
    let edge = Edge::start(&config).await;
    let body = serde_json::to_vec(&first_input()).unwrap();
    let minute = Duration::from_secs(60);
    let good = issue_token(&token_key(), AUDIENCE, minute, Some("alice"), now()).unwrap();
    let reply = edge.post(MODEL, body.clone(), Some(&good)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let expired = issue_token(&token_key(), AUDIENCE, minute, None, now() - 3600).unwrap();
    let other_audience = issue_token(&token_key(), "someone-else", minute, None, now()).unwrap();
    let forged = issue_token(
        &SigningKey::from_bytes(&[13; 32]),
        AUDIENCE,
        minute,
        None,
        now(),
    )
    .unwrap();
    // A valid token with its signature swapped for another token's.
    let (signed, _) = good.rsplit_once('.').unwrap();
    let (_, other_signature) = expired.rsplit_once('.').unwrap();
    let bad_signature = format!("{signed}.{other_signature}");
    let cases = [
        (None, "auth-missing"),
        (Some("garbage"), "auth-invalid"),
        (Some(expired.as_str()), "auth-expired"),
        (Some(other_audience.as_str()), "auth-audience"),
        (Some(forged.as_str()), "auth-invalid"),
        (Some(bad_signature.as_str()), "auth-invalid"),
    ];
    for (token, code) in cases {
        let reply = edge.post(MODEL, body.clone(), token).await;
        reply.assert_error(401, code);
        assert!(reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused_with_413_whether_declared_or_streamed() {
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.inference.max_body_bytes = 2048;
    let edge = Edge::start(&config).await;
    let addr = edge.base.trim_start_matches("http://").to_owned();
    // Raw HTTP, so the client never races the server's early answer with the rest of a body
    // the server (rightly) does not read: a declared length over the limit is answered before
    // any body byte is sent, and a chunked body is cut off by the limit while streaming.
    let path = format!("/v1/models/{MODEL}/infer");
    let declared = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 4096\r\n\r\n");
    let (status, body) = raw_exchange(&addr, declared.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "request-too-large");
    let mut chunked =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    for _ in 0..3 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b' '; 0x400]);
        chunked.extend_from_slice(b"\r\n");
    }
    let (status, body) = raw_exchange(&addr, &chunked).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "request-too-large");
    // Under the limit still works.
    assert_eq!(edge.infer(&first_input()).await.status, 200);
}

/// Writes `request` on a new connection and reads the response: status and JSON body.
async fn raw_exchange(addr: &str, request: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("response within 10 s")
            .unwrap();
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            });
            if let Some(length) = length.filter(|len| body.len() >= *len) {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, serde_json::from_str(&body[..length]).unwrap());
            }
        }
        assert!(n > 0, "connection closed mid-response: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_bucket_answers_429_with_retry_after_and_other_clients_are_unaffected() {
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.inference.rate_limit = Some(Rate::new(3, Duration::from_secs(30)));
    config.inference.auth = Some(AuthConfig::new(vec![token_key().verifying_key()], AUDIENCE));
    let edge = Edge::start(&config).await;
    let body = serde_json::to_vec(&first_input()).unwrap();
    let token = |sub: &str| {
        issue_token(
            &token_key(),
            AUDIENCE,
            Duration::from_secs(60),
            Some(sub),
            now(),
        )
        .unwrap()
    };
    let alice = token("alice");
    for i in 0..3 {
        let reply = edge.post(MODEL, body.clone(), Some(&alice)).await;
        assert_eq!(reply.status, 200, "request {i}: {}", reply.body);
    }
    let limited = edge.post(MODEL, body.clone(), Some(&alice)).await;
    limited.assert_error(429, "rate-limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    // Another token of the same subject shares the bucket; another subject has its own.
    edge.post(MODEL, body.clone(), Some(&token("alice")))
        .await
        .assert_error(429, "rate-limited");
    assert_eq!(
        edge.post(MODEL, body, Some(&token("bob"))).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auth_the_bucket_is_per_client_ip() {
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.inference.rate_limit = Some(Rate::new(2, Duration::from_secs(30)));
    let edge = Edge::start(&config).await;
    for _ in 0..2 {
        assert_eq!(edge.infer(&first_input()).await.status, 200);
    }
    let reply = edge.infer(&first_input()).await;
    reply.assert_error(429, "rate-limited");
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_400_with_their_own_codes() {
    let artifacts = Artifacts::new();
    let edge = Edge::start(&trusting(&artifacts)).await;
    let x = vectors()[0].inputs["x"].clone();
    let with_x = |tensor: Value| json!({ "inputs": { "x": tensor } });
    let cases = [
        (
            json!({ "inputs": { "x": { "dtype": "float32", "shape": [16, 1], "data": x.data } } }),
            "tensor-shape-mismatch",
        ),
        (
            with_x(json!({ "dtype": "int32", "shape": [1, 16], "data": vec![1; 16] })),
            "tensor-dtype-mismatch",
        ),
        (
            with_x(json!({ "dtype": "float16", "shape": [1, 16], "data": x.data })),
            "tensor-dtype-unsupported",
        ),
        (json!({ "inputs": {} }), "input-missing"),
        (json!({ "inputs": { "x": x, "extra": x } }), "input-unknown"),
        (
            with_x(json!({ "dtype": "float32", "shape": [1, 16], "data": [1.0] })),
            "tensor-data-length",
        ),
        (json!({ "input": {} }), "request-malformed"),
    ];
    for (body, code) in cases {
        edge.infer(&body).await.assert_error(400, code);
    }
    edge.post(MODEL, "{\"inputs\": ", None)
        .await
        .assert_error(400, "request-malformed");
    edge.post("Not_A_Name", "{}", None)
        .await
        .assert_error(400, "invalid-model-name");
    let get = edge
        .client
        .get(format!("{}/v1/models/{MODEL}/infer", edge.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.headers()["allow"], "POST");
    Reply::from(get)
        .await
        .assert_error(405, "method-not-allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_model_is_404() {
    let artifacts = Artifacts::new();
    let edge = Edge::start(&trusting(&artifacts)).await;
    let body = serde_json::to_vec(&first_input()).unwrap();
    edge.post("nope", body, None)
        .await
        .assert_error(404, "model-not-found");
}

async fn a_tampered_shard_or_untrusted_signer_gets_the_model_refused(engine: EngineChoice) {
    let trusting = |artifacts: &Artifacts| trusting_with(artifacts, engine);
    let artifacts = Artifacts::new();
    let shard = artifacts.shards()[1].clone();
    let original = std::fs::read(&shard).unwrap();
    let mut flipped = original.clone();
    flipped[100] ^= 0x01;
    std::fs::write(&shard, &flipped).unwrap();
    let edge = Edge::start(&trusting(&artifacts)).await;
    edge.infer(&first_input())
        .await
        .assert_error(500, "shard-corrupt");
    std::fs::remove_file(&shard).unwrap();
    edge.infer(&first_input())
        .await
        .assert_error(500, "shard-missing");
    // Restored, the same manifest loads and runs: nothing bad was cached.
    std::fs::write(&shard, &original).unwrap();
    assert_eq!(edge.infer(&first_input()).await.status, 200);

    let mut config = trusting(&artifacts);
    let mut other = TrustedKeys::new();
    other.insert(SigningKey::from_bytes(&[99; 32]).verifying_key());
    config.inference.trusted_keys = other;
    let stranger = Edge::start(&config).await;
    stranger
        .infer(&first_input())
        .await
        .assert_error(500, "manifest-unknown-key");

    // A manifest whose payload was edited after signing.
    let manifest_path = artifacts.root().join("mlp/manifest.json");
    let mut envelope: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    envelope["signatures"][0]["sig"] = json!(base64_of(&[0u8; 64]));
    std::fs::write(&manifest_path, serde_json::to_vec(&envelope).unwrap()).unwrap();
    // The edge that verified 1.0.0 keeps answering with it; a fresh one has nothing to keep.
    let reply = edge.infer(&first_input()).await;
    assert_eq!(
        (reply.status, &reply.body["version"]),
        (200, &json!("1.0.0"))
    );
    Edge::start(&trusting(&artifacts))
        .await
        .infer(&first_input())
        .await
        .assert_error(500, "manifest-signature-invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_new_version_never_replaces_the_verified_one() {
    let artifacts = Artifacts::new();
    let edge = Edge::start(&trusting(&artifacts)).await;
    let first = edge.infer(&first_input()).await;
    assert_eq!(first.body["version"], "1.0.0");
    assert!(first.headers.get("x-tessera-refused-update").is_none());

    // 1.1.0 is validly signed, but a shard it names is corrupt on disk (the good version's
    // bytes were verified into memory when it loaded).
    artifacts.pack("1.1.0");
    let shard = artifacts.shards()[0].clone();
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[7] ^= 0x40;
    std::fs::write(&shard, &bytes).unwrap();
    for _ in 0..2 {
        let reply = edge.infer(&first_input()).await;
        assert_eq!(
            (reply.status, &reply.body["version"]),
            (200, &json!("1.0.0"))
        );
        assert_eq!(
            reply.headers["x-tessera-refused-update"], "shard-corrupt",
            "the kept version's answers say why the new one is not used"
        );
        let scores = &reply.body["outputs"]["y"]["data"];
        assert!(
            scores.as_array().is_some_and(|a| !a.is_empty()),
            "{}",
            reply.body
        );
    }
    // A fresh edge has no good version to keep and says why.
    Edge::start(&trusting(&artifacts))
        .await
        .infer(&first_input())
        .await
        .assert_error(500, "shard-corrupt");

    // Repaired and republished as 1.2.0, the new version is picked up as usual.
    bytes[7] ^= 0x40;
    std::fs::write(&shard, &bytes).unwrap();
    artifacts.pack("1.2.0");
    let reply = edge.infer(&first_input()).await;
    assert_eq!(
        (reply.status, &reply.body["version"]),
        (200, &json!("1.2.0"))
    );
}

async fn a_session_that_fails_a_known_answer_test_is_never_used(engine: EngineChoice) {
    let trusting = |artifacts: &Artifacts| trusting_with(artifacts, engine);
    let mut wrong = vectors();
    wrong[2].outputs.get_mut("y").unwrap().data[3] += 0.01;
    let artifacts = Artifacts::with_vectors(wrong);
    let edge = Edge::start(&trusting(&artifacts)).await;
    for _ in 0..2 {
        edge.infer(&first_input())
            .await
            .assert_error(500, "model-self-test-failed");
    }
    // The same file under a new manifest with right answers gets a fresh session.
    artifacts.pack("1.0.1");
    assert_eq!(edge.infer(&first_input()).await.status, 200);
    // A model without vectors is trusted on its signature alone.
    let untested = Artifacts::with_vectors(Vec::new());
    let edge = Edge::start(&trusting(&untested)).await;
    assert_eq!(edge.infer(&first_input()).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_may_call_the_api_and_read_retry_after() {
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.cors_origins = vec!["https://app.example.com".to_owned()];
    let edge = Edge::start(&config).await;
    let preflight = edge
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/models/{MODEL}/infer", edge.base),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let response = edge
        .client
        .post(format!("{}/v1/models/{MODEL}/infer", edge.base))
        .header("origin", "https://app.example.com")
        .body(serde_json::to_vec(&first_input()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_keys_inference_is_disabled_with_503() {
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.inference.trusted_keys = TrustedKeys::new();
    let edge = Edge::start(&config).await;
    edge.infer(&first_input())
        .await
        .assert_error(503, "inference-disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_model_and_outcome() {
    let artifacts = Artifacts::new();
    let edge = Edge::start(&trusting(&artifacts)).await;
    for _ in 0..2 {
        assert_eq!(edge.infer(&first_input()).await.status, 200);
    }
    edge.infer(&json!({ "inputs": {} })).await;
    edge.post("ghost", "{}", None).await;
    let text = edge.metrics().await;
    for line in [
        r#"tessera_infer_requests_total{model="mlp",outcome="ok"} 2"#,
        r#"tessera_infer_requests_total{model="mlp",outcome="input-missing"} 1"#,
        r#"tessera_infer_requests_total{model="_other",outcome="model-not-found"} 1"#,
        r#"tessera_infer_request_duration_seconds_count{model="mlp",outcome="ok"} 2"#,
        r#"tessera_infer_request_duration_seconds_bucket{model="mlp",outcome="ok",le="+Inf"} 2"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}

/// 16 requests at once all succeed with the right answer; then 50 sequential requests and a
/// bounded load (200 requests, 8 in flight) report latency percentiles (`--nocapture` shows
/// them).
async fn concurrent_requests_all_succeed(engine: EngineChoice) {
    let trusting = |artifacts: &Artifacts| trusting_with(artifacts, engine);
    let artifacts = Artifacts::new();
    let edge = std::sync::Arc::new(Edge::start(&trusting(&artifacts)).await);
    let vectors = vectors();
    let want = vectors[3].outputs["y"].data.clone();
    let body = json!({ "inputs": vectors[3].inputs });
    let replies = futures_util::future::join_all((0..16).map(|_| edge.infer(&body))).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(max_abs_diff(&reply.body["outputs"]["y"]["data"], &want) <= 1e-4);
    }

    let mut sequential = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        assert_eq!(edge.infer(&body).await.status, 200);
        sequential.push(t.elapsed());
    }
    sequential.sort();
    println!(
        "{engine}: MLP over loopback, 50 sequential requests: p50 {:?}, p99 {:?}",
        sequential[25], sequential[49]
    );

    let mut latencies = Vec::new();
    let started = Instant::now();
    for _ in 0..25 {
        let batch = futures_util::future::join_all((0..8).map(|_| async {
            let t = Instant::now();
            let reply = edge.infer(&body).await;
            (reply.status, t.elapsed())
        }))
        .await;
        for (status, latency) in batch {
            assert_eq!(status, 200);
            latencies.push(latency);
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "{engine}: MLP over loopback, 200 requests, 8 in flight: p50 {:?}, p99 {:?}, max {:?}, {:.0} req/s",
        pct(50),
        pct(99),
        latencies[latencies.len() - 1],
        latencies.len() as f64 / wall.as_secs_f64()
    );
}

/// With one worker and room for one waiting job, a burst that arrives while the session is
/// being built is shed with `503 inference-busy` and `Retry-After`, not queued without bound.
async fn a_full_queue_sheds_load_with_503_busy(engine: EngineChoice) {
    let trusting = |artifacts: &Artifacts| trusting_with(artifacts, engine);
    let artifacts = Artifacts::new();
    let mut config = trusting(&artifacts);
    config.inference.workers = 1;
    config.inference.queue = 1;
    let edge = Edge::start(&config).await;
    let body = first_input();
    let replies = futures_util::future::join_all((0..16).map(|_| edge.infer(&body))).await;
    let mut busy = 0;
    for reply in &replies {
        if reply.status == 200 {
            continue;
        }
        reply.assert_error(503, "inference-busy");
        assert_eq!(reply.headers["retry-after"], "1");
        busy += 1;
    }
    assert!(busy > 0 && busy < 16, "{busy} of 16 were shed");
    assert_eq!(edge.infer(&body).await.status, 200);
}

/// A Softmax classifier (Gemm → Softmax; `fixtures/clf.onnx` and its reference vectors, copied
/// from `playwright/lib/runtime/fixtures/`, made by `make_softmax.py` there) runs on tract: it is
/// self-tested with its vectors at load, and answers match them within their tolerance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_softmax_classifier_runs_on_tract() {
    let vectors: Vec<TestVector> =
        serde_json::from_slice(&std::fs::read(fixture("clf.vectors.json")).unwrap()).unwrap();
    assert!(!vectors.is_empty());
    let artifacts = Artifacts {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut options = PackOptions::new("clf".parse().unwrap(), "1.0.0".parse().unwrap());
    options.test_vectors = vectors.clone();
    let input = PackInput {
        path: "model.onnx".parse().unwrap(),
        source: fixture("clf.onnx"),
    };
    pack(
        &artifacts.root(),
        &[input],
        &options,
        &signer(),
        &mut |_| {},
    )
    .unwrap();
    let edge = Edge::start(&trusting_with(&artifacts, EngineChoice::Tract)).await;
    for vector in &vectors {
        let body = serde_json::to_vec(&json!({ "inputs": vector.inputs })).unwrap();
        let reply = edge.post("clf", body, None).await;
        assert_eq!(reply.status, 200, "{}: {}", vector.name, reply.body);
        assert_eq!(reply.body["engine"], "tract-native");
        let y = &reply.body["outputs"]["y"];
        let want = &vector.outputs["y"];
        assert_eq!(y["shape"], json!(want.shape));
        let diff = max_abs_diff(&y["data"], &want.data);
        assert!(
            diff <= vector.tolerance,
            "{}: max abs diff {diff}",
            vector.name
        );
        let sum: f64 = serde_json::from_value::<Vec<f64>>(y["data"].clone())
            .unwrap()
            .iter()
            .sum();
        assert!((sum - 1.0).abs() < 1e-5, "softmax sums to {sum}");
    }
}

/// What `auto` should pick here, found independently of the edge: wonnx only for a wgpu
/// adapter that is not a CPU one (Mesa lavapipe reports `Cpu`).
fn expected_auto_engine() -> &'static str {
    let backends = wgpu::util::backend_bits_from_env().unwrap_or(wgpu::Backends::PRIMARY);
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        dx12_shader_compiler: wgpu::Dx12Compiler::Fxc,
    });
    let adapter = futures_executor::block_on(wgpu::util::initialize_adapter_from_env_or_default(
        &instance, backends, None,
    ));
    match adapter.map(|a| a.get_info().device_type) {
        Some(kind) if kind != wgpu::DeviceType::Cpu => "wonnx-wgpu",
        _ => "tract-native",
    }
}

/// `auto` (the default) picks tract unless there is a real GPU, reports it in every answer and
/// in `/metrics`, and sizes the CPU pool to the cores. On machines without a GPU (lavapipe at
/// most, as on this project's CI) `expected_auto_engine` is tract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_picks_tract_without_a_gpu_and_reports_it() {
    let expected = tokio::task::spawn_blocking(expected_auto_engine)
        .await
        .unwrap();
    let artifacts = Artifacts::new();
    let config = trusting(&artifacts);
    assert_eq!(config.inference.engine, EngineChoice::Auto);
    assert_eq!(config.inference.workers, 0, "0: sized by the engine");
    let edge = Edge::start(&config).await;
    let reply = edge.infer(&first_input()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["engine"], expected);
    let workers = if expected == "tract-native" {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        1
    };
    let line = format!(r#"tessera_infer_engine_workers{{engine="{expected}"}} {workers}"#);
    let text = edge.metrics().await;
    assert!(
        text.lines().any(|l| l == line),
        "missing {line:?} in:\n{text}"
    );
    println!("auto picked {expected} with {workers} workers");
}

/// The reference vectors are the test vectors `tessera pack --test-vectors` embeds: check the
/// fixture stays loadable in that format.
#[test]
fn reference_vectors_are_valid_manifest_test_vectors() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 4);
    let names: BTreeMap<_, _> = vectors.iter().map(|v| (v.name.as_str(), v)).collect();
    assert!(names.contains_key("random"));
    assert!(vectors.iter().all(|v| v.tolerance == 1e-4));
}

/// Packs `mlp-ext`: `fixtures/mlp_external.onnx` (every weight in external data) at
/// `onnx/model.onnx`, the data file as `onnx/<data_as>` and a tokenizer beside them, with the
/// numpy reference vectors (the self-test at load runs them through the inlined graph).
fn pack_external(artifacts: &Artifacts, data_as: &str) {
    let mut options = PackOptions::new("mlp-ext".parse().unwrap(), "1.0.0".parse().unwrap());
    options.shard_size = 1024;
    options.test_vectors = vectors();
    options.entry = Some("onnx/model.onnx".parse().unwrap());
    let tokenizer = artifacts.dir.path().join("tokenizer.json");
    std::fs::write(&tokenizer, b"{\"unused\": true}").unwrap();
    let inputs = [
        ("onnx/model.onnx", fixture("mlp_external.onnx")),
        (data_as, fixture("mlp_external.onnx_data")),
        ("tokenizer.json", tokenizer),
    ]
    .map(|(path, source)| PackInput {
        path: path.parse().unwrap(),
        source,
    });
    pack(&artifacts.root(), &inputs, &options, &signer(), &mut |_| {}).unwrap();
}

/// An edge on tract serving [`pack_external`]'s model (the artifacts must outlive it).
async fn external_edge(data_as: &str) -> (Artifacts, Edge) {
    let artifacts = Artifacts {
        dir: tempfile::tempdir().unwrap(),
    };
    pack_external(&artifacts, data_as);
    let edge = Edge::start(&trusting_with(&artifacts, EngineChoice::Tract)).await;
    (artifacts, edge)
}

/// A model whose weights live in an external data file (graph + `*.onnx_data`, as
/// `onnx.save(..., save_as_external_data=True)` writes it) loads on the edge: the data file is
/// assembled and verified like the graph, inlined, self-tested, and answers the numpy reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_with_external_data_is_inlined_and_answers_the_reference() {
    let (_artifacts, edge) = external_edge("onnx/mlp_external.onnx_data").await;
    for vector in vectors() {
        let body = serde_json::to_vec(&json!({ "inputs": vector.inputs })).unwrap();
        let reply = edge.post("mlp-ext", body, None).await;
        assert_eq!(reply.status, 200, "{}: {}", vector.name, reply.body);
        let diff = max_abs_diff(
            &reply.body["outputs"]["y"]["data"],
            &vector.outputs["y"].data,
        );
        assert!(diff <= 1e-4, "{}: max abs diff {diff}", vector.name);
    }
}

/// A signed manifest whose graph names an external file that is not one of its files (here the
/// data file sits in another directory than the graph) is refused, naming the ONNX reader's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_data_that_is_not_a_file_of_the_model_is_refused() {
    let (_artifacts, edge) = external_edge("mlp_external.onnx_data").await;
    let body = serde_json::to_vec(&json!({ "inputs": vectors()[0].inputs })).unwrap();
    let reply = edge.post("mlp-ext", body, None).await;
    reply.assert_error(500, "model-unsupported");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("onnx-external-missing"), "{message}");
}
