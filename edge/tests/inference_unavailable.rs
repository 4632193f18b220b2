//! With no GPU adapter at all, `--engine wonnx` answers a typed `503 inference-unavailable` (and
//! keeps answering), never a panic, while `auto` falls back to tract and answers. Simulated by
//! pointing wgpu at a backend this platform lacks; it is its own test binary because it sets a
//! process-wide environment variable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use ed25519_dalek::SigningKey;
use tessera_artifacts::{pack, PackInput, PackOptions};
use tessera_core::keys::TrustedKeys;
use tessera_edge::inference::EngineChoice;
use tessera_edge::EdgeConfig;

#[test]
fn no_gpu_adapter_answers_503_inference_unavailable() {
    // Set before any thread exists: DX12 is not compiled into wgpu on Linux or macOS, so the
    // adapter probe finds nothing, as on a machine without Vulkan drivers.
    #[cfg(not(windows))]
    std::env::set_var("WGPU_BACKEND", "dx12");
    #[cfg(windows)]
    std::env::set_var("WGPU_BACKEND", "metal");

    let dir = tempfile::tempdir().unwrap();
    let signer = SigningKey::from_bytes(&[11; 32]);
    let options = PackOptions::new("mlp".parse().unwrap(), "1.0.0".parse().unwrap());
    let input = PackInput {
        path: "model.onnx".parse().unwrap(),
        source: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp.onnx"),
    };
    pack(dir.path(), &[input], &options, &signer, &mut |_| {}).unwrap();
    let mut config = EdgeConfig::new(dir.path());
    config.addr = "127.0.0.1:0".parse().unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert(signer.verifying_key());
    config.inference.trusted_keys = trusted;
    config.inference.engine = EngineChoice::Wonnx;
    let mut auto = config.clone();
    auto.inference.engine = EngineChoice::Auto;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = tessera_edge::bind(&config).await.unwrap();
        let url = format!("http://{}/v1/models/mlp/infer", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        let body = r#"{"inputs": {"x": {"dtype": "float32", "shape": [1, 16], "data_b64": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}}}"#;
        for _ in 0..2 {
            let (status, json) = post(&url, body).await;
            assert_eq!(status, 503);
            assert_eq!(json["error"]["code"], "inference-unavailable", "{json}");
        }

        // `auto` finds no GPU and runs the CPU engine.
        let server = tessera_edge::bind(&auto).await.unwrap();
        let url = format!("http://{}/v1/models/mlp/infer", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        let (status, json) = post(&url, body).await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["engine"], "tract-native", "{json}");
    });
}

/// POSTs `body` to `url`: the status and the JSON answer.
async fn post(url: &str, body: &'static str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let json = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, json)
}
