//! `tessera token` mints EdDSA JWTs that `tessera serve --auth-key` accepts, and bad flags get
//! their codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{assert_fails, http, stdout_of, Workspace};
use serde_json::Value;
use tessera_core::keys::PublicKeyFile;

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn token_carries_audience_subject_expiry_and_the_key_id() {
    let ws = Workspace::new();
    ws.keygen("keys");
    let token = stdout_of(ws.tessera().args([
        "token",
        "--key",
        "keys/tessera.key",
        "--aud",
        "edge.example",
        "--ttl",
        "15m",
        "--sub",
        "alice",
    ]));
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    let public: PublicKeyFile =
        serde_json::from_slice(&std::fs::read(ws.path("keys/tessera.pub.json")).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], public.keyid.as_str());
    assert_eq!(claims["aud"], "edge.example");
    assert_eq!(claims["sub"], "alice");
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(ttl, 15 * 60);
}

#[test]
fn bad_token_flags_have_codes() {
    let ws = Workspace::new();
    ws.keygen("keys");
    let mut bad_ttl = ws.tessera();
    bad_ttl.args([
        "token",
        "--key",
        "keys/tessera.key",
        "--aud",
        "a",
        "--ttl",
        "soon",
    ]);
    assert_fails(&mut bad_ttl, 2, "invalid-ttl");
    let mut no_key = ws.tessera();
    no_key.args(["token", "--key", "absent.key", "--aud", "a"]);
    assert_fails(&mut no_key, 1, "private-key-missing");
    let mut no_audience = ws.tessera();
    no_audience.args([
        "serve",
        "--artifacts",
        ".",
        "--addr",
        "127.0.0.1:0",
        "--auth-key",
        "keys/tessera.pub.json",
    ]);
    assert_fails(&mut no_audience, 2, "auth-audience-missing");
}

fn post(addr: &str, path: &str, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let (head, body) = http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    );
    format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&body))
}

#[test]
fn serve_accepts_minted_tokens_for_its_audience_only() {
    let ws = Workspace::new();
    ws.keygen("keys");
    std::fs::create_dir_all(ws.path("art")).unwrap();
    let server = ws.serve(&[
        "--artifacts",
        "art",
        "--trust",
        "keys/tessera.pub.json",
        "--auth-key",
        "keys/tessera.pub.json",
        "--auth-audience",
        "edge.example",
    ]);
    let addr = server.addr.clone();
    let mint = |aud: &str| {
        stdout_of(
            ws.tessera()
                .args(["token", "--key", "keys/tessera.key", "--aud", aud]),
        )
        .trim()
        .to_owned()
    };
    let path = "/v1/models/absent/infer";
    let missing = post(&addr, path, None);
    assert!(missing.starts_with("HTTP/1.1 401"), "{missing}");
    assert!(missing.contains("\"auth-missing\""), "{missing}");
    let wrong = post(&addr, path, Some(&mint("elsewhere")));
    assert!(wrong.contains("\"auth-audience\""), "{wrong}");
    let accepted = post(&addr, path, Some(&mint("edge.example")));
    assert!(accepted.starts_with("HTTP/1.1 404"), "{accepted}");
    assert!(accepted.contains("\"model-not-found\""), "{accepted}");
}
