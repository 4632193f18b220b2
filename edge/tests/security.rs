//! What keeps browsers and the filesystem safe: CORS allow-list, path traversal refusal,
//! security headers, and the app's content types and precompressed files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, error_code, header, raw_get, Fixture, TestServer, SECRET};

const ALLOWED: &str = "https://app.example.com";

#[tokio::test]
async fn allowed_origin_gets_cors_headers_exposing_range_metadata() {
    let fixture = Fixture::new();
    let mut config = fixture.config();
    config.cors_origins = vec![ALLOWED.to_owned()];
    let server = TestServer::start(config).await;
    let response = client()
        .get(server.url("/models/demo/model.onnx"))
        .header("origin", ALLOWED)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(header(&response, "access-control-allow-origin"), ALLOWED);
    let exposed = header(&response, "access-control-expose-headers").to_ascii_lowercase();
    for name in ["content-range", "content-length", "etag", "accept-ranges"] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
}

#[tokio::test]
async fn preflight_for_a_range_request_from_an_allowed_origin_succeeds() {
    let fixture = Fixture::new();
    let mut config = fixture.config();
    config.cors_origins = vec![ALLOWED.to_owned()];
    let server = TestServer::start(config).await;
    let response = client()
        .request(
            reqwest::Method::OPTIONS,
            server.url("/models/demo/model.onnx"),
        )
        .header("origin", ALLOWED)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range, if-range")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(header(&response, "access-control-allow-origin"), ALLOWED);
    let methods = header(&response, "access-control-allow-methods");
    assert!(methods.contains("GET"), "{methods}");
    let allowed = header(&response, "access-control-allow-headers").to_ascii_lowercase();
    for name in ["range", "if-range", "if-none-match"] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
}

#[tokio::test]
async fn other_origins_and_servers_without_an_allow_list_send_no_cors_headers() {
    let fixture = Fixture::new();
    let mut with_list = fixture.config();
    with_list.cors_origins = vec![ALLOWED.to_owned()];
    let with_list = TestServer::start(with_list).await;
    let without_list = TestServer::start(fixture.config()).await;
    for (server, origin) in [
        (&with_list, "https://evil.example.com"),
        (&without_list, ALLOWED),
    ] {
        let response = client()
            .get(server.url("/models/demo/manifest.json"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn traversal_attempts_are_refused_and_never_reveal_outside_files() {
    let fixture = Fixture::new();
    let server = TestServer::start(fixture.config()).await;
    // The raw client does read bodies: a legitimate path comes back whole.
    let control = raw_get(server.addr, "/models/demo/config.json").await;
    assert_eq!(
        (control.status, &control.body[..]),
        (200, common::CONFIG_JSON)
    );
    let targets = [
        "/models/../secret.txt",
        "/models/%2e%2e/secret.txt",
        "/models/%2E%2E/secret.txt",
        "/models/demo/../../secret.txt",
        "/models/demo/%2e%2e/%2e%2e/secret.txt",
        "/models/_shards/../../secret.txt",
        "/models/_shards/..%2f..%2fsecret.txt",
        "/models/..%2fsecret.txt",
        "/models/..%5csecret.txt",
        "/models/demo/..%5c..%5csecret.txt",
        "/models/%252e%252e/secret.txt",
        "/models//secret.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/app/../../secret.txt",
        "/..%2fsecret.txt",
    ];
    for target in targets {
        let response = raw_get(server.addr, target).await;
        assert!(
            (400..500).contains(&response.status),
            "{target}: {}",
            response.status
        );
        let body = String::from_utf8_lossy(&response.body);
        assert!(
            !body.contains(std::str::from_utf8(SECRET).unwrap()),
            "{target} leaked: {body}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_nosniff_and_the_app_gets_a_wasm_friendly_csp() {
    let fixture = Fixture::new();
    fixture.write_app("index.html", b"<!doctype html><title>tessera</title>");
    fixture.write_app("pkg/runtime.wasm", b"\0asm\x01\0\0\0");
    let mut config = fixture.config();
    config.cors_origins = vec![ALLOWED.to_owned()];
    let server = TestServer::start(config).await;

    let page = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    assert_eq!(header(&page, "cross-origin-opener-policy"), "same-origin");
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        &format!("connect-src 'self' {ALLOWED}"),
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} not in {csp}");
    }
    assert!(page.headers().get("strict-transport-security").is_none());
    assert_eq!(
        page.text().await.unwrap(),
        "<!doctype html><title>tessera</title>"
    );

    let wasm = client()
        .get(server.url("/pkg/runtime.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.status(), 200);
    assert_eq!(header(&wasm, "content-type"), "application/wasm");

    for path in [
        "/models/demo/model.onnx",
        "/models/nope/manifest.json",
        "/healthz",
        "/missing.js",
    ] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
    }
}

#[tokio::test]
async fn app_precompressed_brotli_is_sent_with_content_encoding_br() {
    let fixture = Fixture::new();
    fixture.write_app("app.js", b"console.log('plain')");
    fixture.write_app("app.js.br", b"pretend-brotli");
    let server = TestServer::start(fixture.config()).await;

    let response = client()
        .get(server.url("/app.js"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-encoding"), "br");
    assert!(header(&response, "content-type").contains("javascript"));
    assert!(header(&response, "vary").contains("accept-encoding"));
    assert_eq!(response.bytes().await.unwrap(), &b"pretend-brotli"[..]);

    let response = client().get(server.url("/app.js")).send().await.unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(
        response.bytes().await.unwrap(),
        &b"console.log('plain')"[..]
    );
}

#[tokio::test]
async fn app_dot_files_and_missing_files_are_404_json() {
    let fixture = Fixture::new();
    fixture.write_app(".env", b"SECRET=1");
    let server = TestServer::start(fixture.config()).await;
    for path in ["/.env", "/%2eenv", "/nothing-here.js"] {
        let response = raw_get(server.addr, path).await;
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(error_code(&response.body), "not-found", "{path}");
    }
}

#[tokio::test]
async fn hsts_is_sent_only_when_configured() {
    let fixture = Fixture::new();
    let mut config = fixture.config();
    config.hsts = true;
    let server = TestServer::start(config).await;
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        header(&response, "strict-transport-security"),
        "max-age=31536000"
    );
}
