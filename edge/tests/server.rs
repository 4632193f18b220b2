//! Starting, stopping and observing the edge: config errors, `/healthz`, unknown routes and
//! methods, graceful shutdown, and the JSON-lines request log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, error_code, header, Fixture, TestServer};
use tessera_core::layout::shard_path;
use tessera_core::ErrorCode as _;
use tessera_edge::EdgeConfig;

#[tokio::test]
async fn healthz_answers_ok_json() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(
        header(&response, "content-length"),
        r#"{"status":"ok"}"#.len().to_string()
    );
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let fixture = Fixture::new();
    let mut config = fixture.config();
    config.app = None;
    let server = TestServer::start(config).await;
    let cases = [
        (reqwest::Method::GET, "/", 404, "not-found"),
        (reqwest::Method::GET, "/models/", 404, "not-found"),
        (
            reqwest::Method::GET,
            "/models/Demo/model.onnx",
            400,
            "invalid-model-name",
        ),
        (
            reqwest::Method::GET,
            "/models/demo/",
            400,
            "invalid-file-path",
        ),
        (
            reqwest::Method::POST,
            "/models/demo/model.onnx",
            405,
            "method-not-allowed",
        ),
        (
            reqwest::Method::DELETE,
            "/models/demo/manifest.json",
            405,
            "method-not-allowed",
        ),
    ];
    for (method, path, status, code) in cases {
        let response = client()
            .request(method.clone(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(
            header(&response, "content-type"),
            "application/json",
            "{method} {path}"
        );
        let length = header(&response, "content-length").to_owned();
        let body = response.bytes().await.unwrap();
        assert_eq!(length, body.len().to_string(), "{method} {path}");
        assert_eq!(error_code(&body), code, "{method} {path}");
    }
}

#[tokio::test]
async fn bad_configs_are_refused_with_stable_codes() {
    let fixture = Fixture::new();
    let missing = fixture.dir.path().join("no-such-dir");
    let mut artifacts_missing = fixture.config();
    artifacts_missing.artifacts = missing.clone();
    let mut app_missing = fixture.config();
    app_missing.app = Some(missing.clone());
    let mut bad_origin = fixture.config();
    bad_origin.cors_origins = vec!["*".to_owned()];
    let mut bad_log = fixture.config();
    bad_log.request_log = Some(missing.join("log.jsonl"));
    let cases = [
        (artifacts_missing, "artifacts-missing"),
        (app_missing, "app-missing"),
        (bad_origin, "cors-origin-invalid"),
        (bad_log, "request-log-failed"),
    ];
    for (config, code) in cases {
        let error = tessera_edge::bind(&config).await.err().map(|e| e.code());
        assert_eq!(error, Some(code));
    }
}

#[tokio::test]
async fn binding_a_taken_port_fails_with_bind_failed() {
    let fixture = Fixture::new();
    let first = TestServer::start(fixture.config()).await;
    let mut config = fixture.config();
    config.addr = first.addr;
    let error = tessera_edge::bind(&config).await.err().map(|e| e.code());
    assert_eq!(error, Some("bind-failed"));
}

#[tokio::test]
async fn server_stops_cleanly_when_shutdown_resolves() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let addr = server.addr;
    assert_eq!(
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), server.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn request_log_records_method_path_range_status_and_bytes_sent() {
    let fixture = Fixture::new();
    let log_path = fixture.dir.path().join("requests.jsonl");
    let mut config = fixture.config();
    config.request_log = Some(log_path.clone());
    let server = TestServer::start(config).await;
    let (digest, _) = fixture.model_shard(0);
    let shard_url = format!("/models/{}", shard_path(&digest));

    let ranged = client()
        .get(server.url(&shard_url))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.bytes().await.unwrap().len(), 100);
    let whole = client()
        .get(server.url("/models/demo/model.onnx"))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.bytes().await.unwrap().len(), common::MODEL_LEN);
    let head = client()
        .head(server.url("/models/demo/model.onnx"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let missing = client()
        .get(server.url("/models/nope/manifest.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        error_code(&missing.bytes().await.unwrap()),
        "model-not-found"
    );
    // Records are written when each body is done; stopping the server finishes them all.
    server.stop().await.unwrap();

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected = [
        serde_json::json!({"method": "GET", "path": shard_url, "range": "bytes=100-199", "status": 206, "bytes": 100}),
        serde_json::json!({"method": "GET", "path": "/models/demo/model.onnx", "range": null, "status": 200, "bytes": common::MODEL_LEN}),
        serde_json::json!({"method": "HEAD", "path": "/models/demo/model.onnx", "range": null, "status": 200, "bytes": 0}),
    ];
    for record in &expected {
        assert!(records.contains(record), "{record} not in {records:?}");
    }
    let not_found = records
        .iter()
        .find(|r| r["status"] == 404)
        .expect("404 record");
    assert_eq!(not_found["path"], "/models/nope/manifest.json");
    assert!(not_found["bytes"].as_u64().unwrap() > 0);
    assert_eq!(records.len(), 4);
}

#[test]
fn config_defaults_to_localhost_8080_without_extras() {
    let config = EdgeConfig::new("artifacts");
    assert_eq!(config.addr, tessera_edge::DEFAULT_ADDR);
    assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
    assert!(
        config.app.is_none()
            && config.cors_origins.is_empty()
            && !config.hsts
            && config.request_log.is_none()
    );
}
