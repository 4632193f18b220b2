//! `tessera keygen`: key files, permissions, never clobbering a key by accident, and keys that
//! OpenSSL reads and signs with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{assert_fails, stdout_of, Workspace};
use tessera_core::keys::PublicKeyFile;

#[test]
fn writes_a_private_key_and_a_public_key_file_with_the_printed_keyid() {
    let ws = Workspace::new();
    let stdout = stdout_of(ws.tessera().args(["keygen", "--out", "keys"]));
    let public: PublicKeyFile =
        serde_json::from_slice(&fs::read(ws.path("keys/tessera.pub.json")).unwrap()).unwrap();
    public.verifying_key().unwrap();
    assert!(
        stdout.contains(&format!("keyid:       {}", public.keyid)),
        "{stdout}"
    );
    assert!(
        stdout.contains("tessera.key") && stdout.contains("tessera.pub.json"),
        "{stdout}"
    );
    let pem = fs::read_to_string(ws.path("keys/tessera.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
}

#[cfg(unix)]
#[test]
fn private_key_is_created_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let ws = Workspace::new();
    ws.keygen("keys");
    let mode = fs::metadata(ws.path("keys/tessera.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn refuses_to_overwrite_a_key_unless_forced() {
    let ws = Workspace::new();
    ws.keygen("keys");
    let before = fs::read(ws.path("keys/tessera.key")).unwrap();
    let stderr = assert_fails(
        ws.tessera().args(["keygen", "--out", "keys"]),
        1,
        "key-file-exists",
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(fs::read(ws.path("keys/tessera.key")).unwrap(), before);

    stdout_of(ws.tessera().args(["keygen", "--out", "keys", "--force"]));
    assert_ne!(fs::read(ws.path("keys/tessera.key")).unwrap(), before);
}

#[test]
fn quiet_keygen_prints_nothing_and_still_writes_the_keys() {
    let ws = Workspace::new();
    let output = ws
        .tessera()
        .args(["keygen", "-q", "--out", "keys"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "keygen -q printed something: {output:?}"
    );
    assert!(ws.path("keys/tessera.key").exists());
    assert!(ws.path("keys/tessera.pub.json").exists());
}

/// Whether the `openssl` command is there (`cargo xtask test` installs it); says so if not.
fn openssl_present(test: &str) -> bool {
    let present = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("SKIPPED {test}: the `openssl` command is not on PATH (apt-get install openssl)");
    }
    present
}

/// Runs `openssl ARGS` in `dir`; its stdout, or a panic with its stderr.
fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn public_key_file(path: &Path) -> PublicKeyFile {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn openssl_reads_a_keygen_key_and_its_signatures_verify_with_the_public_key_file() {
    if !openssl_present("openssl_reads_a_keygen_key…") {
        return;
    }
    let ws = Workspace::new();
    ws.keygen("keys");
    let dir = ws.dir.path();
    openssl(dir, &["pkey", "-in", "keys/tessera.key", "-noout"]);

    // The SubjectPublicKeyInfo OpenSSL derives is the key in tessera.pub.json.
    let spki_pem = String::from_utf8(openssl(
        dir,
        &["pkey", "-in", "keys/tessera.key", "-pubout"],
    ))
    .unwrap();
    let body: String = spki_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let spki = STANDARD.decode(body).unwrap();
    let public = public_key_file(&ws.path("keys/tessera.pub.json"));
    let verifying = public.verifying_key().unwrap();
    // RFC 8410: SEQUENCE { AlgorithmIdentifier { 1.3.101.112 }, BIT STRING (32-byte key) }.
    let spki_prefix = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    assert_eq!(spki.len(), 44, "{spki_pem}");
    assert_eq!(spki[..12], spki_prefix, "{spki_pem}");
    assert_eq!(spki[12..], verifying.to_bytes(), "{spki_pem}");
    assert_eq!(STANDARD.encode(&spki[12..]), public.public_key);

    // A signature OpenSSL makes with the key verifies (strictly) with the public key file, and
    // is the one tessera makes (Ed25519 is deterministic).
    let message = b"tessera interop: signed by openssl pkeyutl";
    fs::write(ws.path("message.bin"), message).unwrap();
    openssl(
        dir,
        &[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            "keys/tessera.key",
            "-in",
            "message.bin",
            "-out",
            "message.sig",
        ],
    );
    let signature =
        ed25519_dalek::Signature::from_slice(&fs::read(ws.path("message.sig")).unwrap()).unwrap();
    verifying.verify_strict(message, &signature).unwrap();
    let key = tessera_artifacts::load_signing_key(&ws.path("keys/tessera.key")).unwrap();
    assert_eq!(ed25519_dalek::Signer::sign(&key, message), signature);
}

#[test]
fn keys_made_by_openssl_genpkey_sign_tokens() {
    if !openssl_present("keys_made_by_openssl_genpkey_sign_tokens") {
        return;
    }
    let ws = Workspace::new();
    openssl(
        ws.dir.path(),
        &["genpkey", "-algorithm", "ed25519", "-out", "openssl.key"],
    );
    let token =
        stdout_of(
            ws.tessera()
                .args(["token", "--key", "openssl.key", "--aud", "edge.example"]),
        );
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
}
