//! `tessera keygen`: key files, permissions, and never clobbering a key by accident.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

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
