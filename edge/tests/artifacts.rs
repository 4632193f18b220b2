//! `/models/…` over real HTTP: shards (tower-http's ServeFile plus ETag, conditional requests
//! and cache policy), signed manifests, and logical files assembled from shards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, error_code, header, Fixture, TestServer, CONFIG_JSON, MODEL_LEN, SHARD};
use tessera_core::layout::shard_path;

fn etag_of(digest: &tessera_core::Sha256Digest) -> String {
    format!("\"{digest}\"")
}

async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

// ---------- shards ----------

#[tokio::test]
async fn shard_is_served_whole_with_its_hash_as_etag_and_immutable_caching() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, bytes) = fixture.model_shard(0);
    let response = get(&server, &format!("/models/{}", shard_path(&digest)), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "etag"), etag_of(&digest));
    assert_eq!(
        header(&response, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&response, "accept-ranges"), "bytes");
    assert_eq!(
        header(&response, "content-type"),
        "application/octet-stream"
    );
    assert_eq!(header(&response, "content-length"), SHARD.to_string());
    assert_eq!(response.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn shard_ranges_are_answered_206_with_exactly_those_bytes() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, bytes) = fixture.model_shard(2); // 1808 bytes
    let len = bytes.len();
    // (Range header, first byte, last byte)
    let cases = [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, len - 1),
        ("bytes=-96", len - 96, len - 1),
        ("bytes=1800-999999", 1800, len - 1),
        ("bytes=-999999", 0, len - 1),
    ];
    for (range, first, last) in cases {
        let response = get(
            &server,
            &format!("/models/{}", shard_path(&digest)),
            &[("range", range)],
        )
        .await;
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes {first}-{last}/{len}"),
            "{range}"
        );
        assert_eq!(header(&response, "etag"), etag_of(&digest), "{range}");
        assert_eq!(
            response.bytes().await.unwrap(),
            &bytes[first..=last],
            "{range}"
        );
    }
}

#[tokio::test]
async fn shard_range_beyond_the_end_is_416_naming_the_length() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, _) = fixture.model_shard(0);
    for range in ["bytes=4096-", "bytes=5000-6000", "bytes=-0"] {
        let response = get(
            &server,
            &format!("/models/{}", shard_path(&digest)),
            &[("range", range)],
        )
        .await;
        assert_eq!(response.status(), 416, "{range}");
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes */{SHARD}"),
            "{range}"
        );
        assert_eq!(
            error_code(&response.bytes().await.unwrap()),
            "range-unsatisfiable"
        );
    }
}

#[tokio::test]
async fn shard_with_several_or_malformed_ranges_is_sent_whole() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, bytes) = fixture.model_shard(0);
    for range in ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=abc"] {
        let response = get(
            &server,
            &format!("/models/{}", shard_path(&digest)),
            &[("range", range)],
        )
        .await;
        assert_eq!(response.status(), 200, "{range}");
        assert_eq!(response.bytes().await.unwrap(), bytes, "{range}");
    }
}

#[tokio::test]
async fn shard_if_none_match_with_its_etag_is_304_and_takes_precedence_over_dates() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, bytes) = fixture.model_shard(1);
    let url = format!("/models/{}", shard_path(&digest));
    let tag = etag_of(&digest);
    for value in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"nope\", {tag}"),
        "*".to_owned(),
    ] {
        let response = get(&server, &url, &[("if-none-match", &value)]).await;
        assert_eq!(response.status(), 304, "{value}");
        assert_eq!(header(&response, "etag"), tag);
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // A stale tag wins over a date that alone would give 304.
    let response = get(
        &server,
        &url,
        &[
            ("if-none-match", "\"stale\""),
            ("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn shard_if_range_with_its_etag_gets_the_range_and_a_stale_one_gets_everything() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, bytes) = fixture.model_shard(0);
    let url = format!("/models/{}", shard_path(&digest));
    let tag = etag_of(&digest);

    let response = get(
        &server,
        &url,
        &[("range", "bytes=10-19"), ("if-range", &tag)],
    )
    .await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), &bytes[10..20]);

    for stale in [
        "\"0000\"",
        &format!("W/{tag}"),
        "Fri, 01 Jan 2100 00:00:00 GMT",
    ] {
        let response = get(
            &server,
            &url,
            &[("range", "bytes=10-19"), ("if-range", stale)],
        )
        .await;
        assert_eq!(response.status(), 200, "{stale}");
        assert!(response.headers().get("content-range").is_none());
        assert_eq!(response.bytes().await.unwrap(), bytes, "{stale}");
    }
}

#[tokio::test]
async fn shard_head_states_the_length_without_a_body() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (digest, _) = fixture.model_shard(2);
    let response = client()
        .head(server.url(&format!("/models/{}", shard_path(&digest))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-length"), "1808");
    assert_eq!(header(&response, "etag"), etag_of(&digest));
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_or_malformed_shard_is_a_404_json_error() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let absent = tessera_core::Sha256Digest::of(b"absent");
    let cases = [
        (format!("/models/_shards/{absent}"), "shard-not-found"),
        ("/models/_shards/ABC".to_owned(), "unknown-artifact-path"),
    ];
    for (path, code) in cases {
        let response = get(&server, &path, &[]).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(error_code(&response.bytes().await.unwrap()), code, "{path}");
    }
}

// ---------- manifests ----------

#[tokio::test]
async fn manifest_is_the_stored_envelope_as_json_revalidated_by_etag() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    for path in [
        "/models/demo/manifest.json",
        "/models/demo/versions/1.0.0.json",
    ] {
        let response = get(&server, path, &[]).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let etag = etag_of(&tessera_core::Sha256Digest::of(&fixture.envelope_json));
        assert_eq!(header(&response, "etag"), etag);
        assert_eq!(response.bytes().await.unwrap(), fixture.envelope_json);

        let response = get(&server, path, &[("if-none-match", &etag)]).await;
        assert_eq!(response.status(), 304, "{path}");
        assert_eq!(header(&response, "etag"), etag);
    }
}

#[tokio::test]
async fn missing_manifest_or_version_is_a_404_json_error() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let cases = [
        ("/models/other/manifest.json", "model-not-found"),
        ("/models/demo/versions/9.9.9.json", "version-not-found"),
        ("/models/demo/versions/latest.json", "unknown-artifact-path"),
    ];
    for (path, code) in cases {
        let response = get(&server, path, &[]).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(&response.bytes().await.unwrap()), code, "{path}");
    }
}

#[tokio::test]
async fn manifest_brotli_sibling_goes_only_to_clients_accepting_br() {
    let fixture = Fixture::new();
    // The edge sends the sibling as stored; it need not be real brotli for this test.
    let compressed = b"pretend-brotli-bytes".to_vec();
    fixture.write("demo/manifest.json.br", &compressed);
    let server = TestServer::start(fixture.config()).await;

    let response = get(
        &server,
        "/models/demo/manifest.json",
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-encoding"), "br");
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "vary"), "accept-encoding");
    assert_eq!(
        header(&response, "etag"),
        etag_of(&tessera_core::Sha256Digest::of(&compressed))
    );
    assert_eq!(response.bytes().await.unwrap(), compressed);

    let response = get(
        &server,
        "/models/demo/manifest.json",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(response.bytes().await.unwrap(), fixture.envelope_json);
}

// ---------- logical files ----------

#[tokio::test]
async fn logical_file_is_its_shards_concatenated_with_the_file_hash_as_etag() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let response = get(&server, "/models/demo/model.onnx", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "etag"),
        etag_of(&fixture.model_file().sha256)
    );
    assert_eq!(
        header(&response, "content-type"),
        "application/octet-stream"
    );
    assert_eq!(header(&response, "content-length"), MODEL_LEN.to_string());
    assert_eq!(header(&response, "accept-ranges"), "bytes");
    assert_eq!(header(&response, "cache-control"), "no-cache");
    assert_eq!(response.bytes().await.unwrap(), fixture.model);

    let response = get(&server, "/models/demo/config.json", &[]).await;
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(response.bytes().await.unwrap(), CONFIG_JSON);
}

#[tokio::test]
async fn logical_file_ranges_cross_shard_boundaries_correctly() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let len = MODEL_LEN;
    let cases = [
        ("bytes=4090-4105", 4090, 4105),     // first → second shard
        ("bytes=4000-8200", 4000, 8200),     // spans all three
        ("bytes=8192-8192", 8192, 8192),     // first byte of the last shard
        ("bytes=-100", len - 100, len - 1),  // suffix
        ("bytes=5000-", 5000, len - 1),      // open-ended
        ("bytes=9990-99999", 9990, len - 1), // end clamped
    ];
    for (range, first, last) in cases {
        let response = get(&server, "/models/demo/model.onnx", &[("range", range)]).await;
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            header(&response, "content-range"),
            format!("bytes {first}-{last}/{len}"),
            "{range}"
        );
        assert_eq!(
            header(&response, "content-length"),
            (last - first + 1).to_string(),
            "{range}"
        );
        assert_eq!(
            response.bytes().await.unwrap(),
            &fixture.model[first..=last],
            "{range}"
        );
    }
}

#[tokio::test]
async fn logical_file_range_past_the_end_is_416_and_several_ranges_get_the_whole_file() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let response = get(
        &server,
        "/models/demo/model.onnx",
        &[("range", &format!("bytes={MODEL_LEN}-"))],
    )
    .await;
    assert_eq!(response.status(), 416);
    assert_eq!(
        header(&response, "content-range"),
        format!("bytes */{MODEL_LEN}")
    );
    assert_eq!(
        error_code(&response.bytes().await.unwrap()),
        "range-unsatisfiable"
    );

    let response = get(
        &server,
        "/models/demo/model.onnx",
        &[("range", "bytes=0-0,10-20")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), fixture.model);
}

#[tokio::test]
async fn logical_file_conditional_requests_use_the_file_hash() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let tag = etag_of(&fixture.model_file().sha256);

    let response = get(
        &server,
        "/models/demo/model.onnx",
        &[("if-none-match", &tag)],
    )
    .await;
    assert_eq!(response.status(), 304);
    assert_eq!(header(&response, "etag"), tag);

    let response = get(
        &server,
        "/models/demo/model.onnx",
        &[("range", "bytes=4000-4199"), ("if-range", &tag)],
    )
    .await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), &fixture.model[4000..4200]);

    let response = get(
        &server,
        "/models/demo/model.onnx",
        &[("range", "bytes=4000-4199"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), fixture.model);
}

#[tokio::test]
async fn logical_file_head_states_the_length_without_a_body() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let response = client()
        .head(server.url("/models/demo/model.onnx"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-length"), MODEL_LEN.to_string());
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_model_or_file_is_a_404_json_error() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let cases = [
        ("/models/nope/model.onnx", "model-not-found"),
        ("/models/demo/missing.onnx", "file-not-found"),
    ];
    for (path, code) in cases {
        let response = get(&server, path, &[]).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(error_code(&response.bytes().await.unwrap()), code, "{path}");
    }
}

#[tokio::test]
async fn missing_or_truncated_shard_is_a_500_before_any_byte() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    let (middle, _) = fixture.model_shard(1);
    let (last, last_bytes) = fixture.model_shard(2);
    std::fs::remove_file(fixture.artifacts().join(shard_path(&middle))).unwrap();
    fixture.write(&shard_path(&last), &last_bytes[..100]);

    // Ranges inside the first shard still work: only the shards a span needs are consulted.
    let response = get(
        &server,
        "/models/demo/model.onnx",
        &[("range", "bytes=0-99")],
    )
    .await;
    assert_eq!(response.status(), 206);

    let cases = [
        ("bytes=4000-4200", "shard-missing"),
        ("bytes=-10", "shard-size-mismatch"),
    ];
    for (range, code) in cases {
        let response = get(&server, "/models/demo/model.onnx", &[("range", range)]).await;
        assert_eq!(response.status(), 500, "{range}");
        assert_eq!(
            error_code(&response.bytes().await.unwrap()),
            code,
            "{range}"
        );
    }
}

#[tokio::test]
async fn unparsable_manifest_is_a_500_json_error() {
    let fixture = Fixture::new();
    fixture.write("broken/manifest.json", b"{ not json");
    let server = TestServer::start(fixture.config()).await;
    let response = get(&server, "/models/broken/model.onnx", &[]).await;
    assert_eq!(response.status(), 500);
    assert_eq!(
        error_code(&response.bytes().await.unwrap()),
        "manifest-invalid"
    );
}
