//! Signing interop with standard tools, both ways (needs `openssl`, and `python3` with the
//! packages of `models/requirements.txt`, all installed by `cargo xtask setup`):
//!
//! - a model published without tessera — an in-toto statement built by `interop/openssl_pack.py`
//!   and signed with a P-256 key by the `openssl` command — verifies with `tessera verify`, and a
//!   tampered copy is refused by code;
//! - `tessera pack` with a P-256 key `openssl genpkey` made writes a statement that the
//!   `in-toto-attestation` package parses as a Statement v1 and whose DSSE signature Python
//!   `cryptography` verifies (`interop/check_in_toto.py`); so does an Ed25519-signed one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::{assert_fails, noise, stdout_of, Workspace};
use tessera_core::dsse::Envelope;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop")
        .join(name)
}

/// Runs a command to completion; panics with its output unless it succeeds.
fn run_ok(cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (run `cargo xtask setup`)"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{cmd:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `openssl genpkey` of a P-256 key at `rel` (PKCS#8 PEM).
fn openssl_p256_key(ws: &Workspace, rel: &str) -> PathBuf {
    let path = ws.path(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    run_ok(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "EC", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-out", path.to_str().unwrap()]),
    );
    path
}

fn check_in_toto(ws: &Workspace, envelope: &str, public_key: &str) -> String {
    run_ok(
        Command::new("python3")
            .arg(script("check_in_toto.py"))
            .args([envelope, public_key])
            .current_dir(ws.dir.path()),
    )
}

#[test]
fn a_statement_signed_by_openssl_verifies_in_tessera_and_a_tampered_one_does_not() {
    let ws = Workspace::new();
    openssl_p256_key(&ws, "keys/p256.pem");
    ws.write("in/weights.bin", &noise(5000, 3));
    run_ok(
        Command::new("python3")
            .arg(script("openssl_pack.py"))
            .args(["--key", "keys/p256.pem", "--pub-out", "keys/p256.pub.json"])
            .args(["--name", "demo", "--version", "1.0.0", "--out", "art"])
            .args(["--shard-size", "1024", "in/weights.bin"])
            .current_dir(ws.dir.path()),
    );
    let verify = |manifest: &str| {
        let mut cmd = ws.tessera();
        cmd.args(["verify", "--pub", "keys/p256.pub.json", manifest]);
        cmd
    };
    let stdout = stdout_of(&mut verify("art/demo/manifest.json"));
    assert!(stdout.starts_with("ok: demo 1.0.0"), "{stdout}");
    assert!(stdout.contains("5 shards"), "{stdout}");
    // The standard verifier agrees on the openssl-made envelope too.
    check_in_toto(&ws, "art/demo/manifest.json", "keys/p256.pub.json");

    // One payload byte changed: the size of the file (the statement stays well-formed).
    let path = ws.path("art/demo/manifest.json");
    let mut envelope = Envelope::from_json(&fs::read(&path).unwrap()).unwrap();
    let payload = String::from_utf8(envelope.payload_bytes().unwrap()).unwrap();
    let tampered = payload.replacen("\"size\": 5000", "\"size\": 5001", 1);
    assert_ne!(payload, tampered);
    envelope.payload = BASE64.encode(tampered);
    fs::write(&path, envelope.to_json()).unwrap();
    assert_fails(
        &mut verify("art/demo/manifest.json"),
        1,
        "manifest-signature-invalid",
    );
    // Trusting only tessera's own Ed25519 key, the openssl-signed manifest is not accepted.
    ws.keygen("keys");
    assert_fails(
        &mut ws.verify("art/demo/versions/1.0.0.json"),
        1,
        "manifest-unknown-key",
    );
}

#[test]
fn tessera_statements_parse_as_in_toto_and_verify_with_python_cryptography() {
    let ws = Workspace::new();
    let key = openssl_p256_key(&ws, "p256/key.pem");
    ws.write("in/weights.bin", &noise(3000, 4));
    // The public key file of the openssl key, as `tessera keygen` would write it.
    let spki = run_ok(
        Command::new("openssl")
            .args(["pkey", "-in", key.to_str().unwrap()])
            .args([
                "-pubout",
                "-outform",
                "DER",
                "-out",
                ws.path("p256/spki.der").to_str().unwrap(),
            ]),
    );
    assert!(spki.is_empty());
    let der = fs::read(ws.path("p256/spki.der")).unwrap();
    let public = serde_json::json!({
        "keyid": tessera_core::Sha256Digest::of(&der).to_hex(),
        "algorithm": "ecdsa-p256",
        "publicKey": BASE64.encode(&der),
    });
    ws.write("p256/pub.json", public.to_string().as_bytes());

    let mut pack = ws.tessera();
    pack.args(["pack", "--key", "p256/key.pem", "--name", "demo"])
        .args(["--version", "1.0.0", "--shard-size", "1KiB", "--out", "art"])
        .arg("in/weights.bin");
    stdout_of(&mut pack);
    let stdout = check_in_toto(&ws, "art/demo/manifest.json", "p256/pub.json");
    // 1 file + 3 shards.
    assert!(
        stdout.starts_with("ok: 4 subjects, predicateType https://tessera.dev/manifest/v1"),
        "{stdout}"
    );
    let mut verify = ws.tessera();
    verify.args(["verify", "--pub", "p256/pub.json", "art/demo/manifest.json"]);
    stdout_of(&mut verify);

    // Ed25519: `tessera keygen`'s key, the same checks.
    ws.keygen("keys");
    stdout_of(&mut ws.pack("1.1.0", &["in/weights.bin"]));
    check_in_toto(&ws, "art/demo/manifest.json", "keys/tessera.pub.json");
    // And the standard verifier refuses a signature that is not the key's.
    let output = Command::new("python3")
        .arg(script("check_in_toto.py"))
        .args(["art/demo/versions/1.0.0.json", "keys/tessera.pub.json"])
        .current_dir(ws.dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn keygen_makes_a_p256_key_openssl_reads_and_pack_signs_with() {
    let ws = Workspace::new();
    ws.tessera()
        .args(["keygen", "--algorithm", "ecdsa-p256", "--out", "keys"])
        .assert()
        .success();
    let text = run_ok(Command::new("openssl").args([
        "pkey",
        "-in",
        ws.path("keys/tessera.key").to_str().unwrap(),
        "-noout",
        "-text",
    ]));
    assert!(text.contains("NIST CURVE: P-256"), "{text}");
    let public: serde_json::Value =
        serde_json::from_slice(&fs::read(ws.path("keys/tessera.pub.json")).unwrap()).unwrap();
    assert_eq!(public["algorithm"], "ecdsa-p256");
    ws.write("in/weights.bin", &noise(2000, 5));
    stdout_of(&mut ws.pack("1.0.0", &["in/weights.bin"]));
    let stdout = stdout_of(&mut ws.verify("art/demo/manifest.json"));
    assert!(stdout.starts_with("ok: demo 1.0.0"), "{stdout}");
    check_in_toto(&ws, "art/demo/manifest.json", "keys/tessera.pub.json");
}
