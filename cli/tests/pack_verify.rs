//! `tessera pack`, `verify` and `diff` end to end: round trip, shard reuse across versions,
//! and every way verification must fail (flipped byte, missing shard, tampered payload, wrong
//! key), each named by its error code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::{assert_fails, noise, stdout_of, Workspace};
use tessera_core::dsse::Envelope;

const TINY_ONNX: &[u8] = include_bytes!("../../artifacts/tests/fixtures/tiny.onnx");

/// A workspace with a key and one 8 KiB input (8 shards of 1 KiB) packed as demo 1.0.0.
fn packed() -> Workspace {
    let ws = Workspace::new();
    ws.keygen("keys");
    ws.write("in/weights.bin", &noise(8 * 1024, 1));
    stdout_of(&mut ws.pack("1.0.0", &["in/weights.bin"]));
    ws
}

#[test]
fn pack_then_verify_round_trips() {
    let ws = Workspace::new();
    ws.keygen("keys");
    ws.write("in/weights.bin", &noise(5000, 2));
    ws.write("in/model.onnx", TINY_ONNX);
    ws.write("in/vocab.json", br#"{"a": 1}"#);
    let stdout = stdout_of(&mut ws.pack(
        "1.0.0",
        &[
            "in/weights.bin",
            "in/model.onnx",
            "tokenizer/vocab.json=in/vocab.json",
        ],
    ));
    assert!(stdout.contains("packed demo 1.0.0"), "{stdout}");
    assert!(stdout.contains("files:    3"), "{stdout}");
    assert!(
        stdout.contains("ops:      Abs, Add, Greater, If, MatMul, Neg, ReduceSum, Relu, Sigmoid"),
        "{stdout}"
    );
    assert!(stdout.contains("art/demo/manifest.json"), "{stdout}");

    let manifest = ws.manifest("art/demo/manifest.json");
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["weights.bin", "model.onnx", "tokenizer/vocab.json"]);
    assert_eq!(manifest.files[0].shards.len(), 5);

    let stdout = stdout_of(&mut ws.verify("art/demo/manifest.json"));
    assert!(stdout.starts_with("ok: demo 1.0.0"), "{stdout}");
    assert!(stdout.contains("3 files"), "{stdout}");
    stdout_of(&mut ws.verify("art/demo/versions/1.0.0.json"));
}

#[test]
fn a_second_version_reuses_shards_and_diff_names_exactly_the_changed_ones() {
    let ws = packed();
    let mut data = noise(8 * 1024, 1);
    data[3 * 1024 + 7] ^= 0x55;
    data[5 * 1024] ^= 0x55;
    ws.write("in/weights.bin", &data);
    let stdout = stdout_of(&mut ws.pack("1.1.0", &["in/weights.bin"]));
    assert!(
        stdout.contains("2 written, 2.00 KiB (2048 bytes); 6 reused"),
        "{stdout}"
    );

    let old = ws.manifest("art/demo/versions/1.0.0.json");
    let new = ws.manifest("art/demo/manifest.json");
    let changed: Vec<String> = [3, 5]
        .iter()
        .map(|&i| new.files[0].shards[i].sha256.to_hex())
        .collect();
    let gone: Vec<String> = [3, 5]
        .iter()
        .map(|&i| old.files[0].shards[i].sha256.to_hex())
        .collect();

    let text = stdout_of(ws.tessera().args([
        "diff",
        "art/demo/versions/1.0.0.json",
        "art/demo/manifest.json",
    ]));
    assert!(text.contains("demo 1.0.0 -> demo 1.1.0"), "{text}");
    assert!(
        text.contains("kept:     6 shards, 6.00 KiB (6144 bytes)"),
        "{text}"
    );
    assert!(
        text.contains("added:    2 shards, 2.00 KiB (2048 bytes)"),
        "{text}"
    );
    assert!(
        text.contains("dropped:  2 shards, 2.00 KiB (2048 bytes)"),
        "{text}"
    );
    assert!(
        text.contains("download: 2.00 KiB (2048 bytes) to update (25.0%"),
        "{text}"
    );

    let json = stdout_of(ws.tessera().args([
        "diff",
        "--json",
        "art/demo/versions/1.0.0.json",
        "art/demo/manifest.json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["kept"]["shards"], 6);
    assert_eq!(json["added"]["bytes"], 2048);
    assert_eq!(json["downloadBytes"], 2048);
    assert_eq!(json["newTotalBytes"], 8192);
    assert_eq!(json["new"]["version"], "1.1.0");
    let mut added: Vec<String> = serde_json::from_value(json["added"]["sha256"].clone()).unwrap();
    let mut dropped: Vec<String> =
        serde_json::from_value(json["dropped"]["sha256"].clone()).unwrap();
    added.sort();
    dropped.sort();
    let (mut changed, mut gone) = (changed, gone);
    changed.sort();
    gone.sort();
    assert_eq!((added, dropped), (changed, gone));

    stdout_of(&mut ws.verify("art/demo/manifest.json"));
    stdout_of(&mut ws.verify("art/demo/versions/1.0.0.json"));
}

#[test]
fn verify_names_the_shard_with_a_flipped_byte() {
    let ws = packed();
    let shard = ws.manifest("art/demo/manifest.json").files[0].shards[6];
    let path = ws.shard_path(&shard.sha256);
    let mut bytes = fs::read(&path).unwrap();
    bytes[512] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    let stderr = assert_fails(&mut ws.verify("art/demo/manifest.json"), 1, "shard-corrupt");
    assert!(stderr.contains(&shard.sha256.to_hex()), "{stderr}");
    assert!(
        stderr.contains("weights.bin") && stderr.contains("6144..7168"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error[verify-failed]: 1 problem(s)"),
        "{stderr}"
    );
}

#[test]
fn verify_reports_a_missing_shard() {
    let ws = packed();
    let shard = ws.manifest("art/demo/manifest.json").files[0].shards[0];
    fs::remove_file(ws.shard_path(&shard.sha256)).unwrap();
    let stderr = assert_fails(&mut ws.verify("art/demo/manifest.json"), 1, "shard-missing");
    assert!(stderr.contains(&shard.sha256.to_hex()), "{stderr}");
}

#[test]
fn verify_rejects_a_tampered_payload() {
    let ws = packed();
    let path = ws.path("art/demo/manifest.json");
    let mut envelope = Envelope::from_json(&fs::read(&path).unwrap()).unwrap();
    let mut manifest = ws.manifest("art/demo/manifest.json");
    manifest.files[0].size += 1;
    manifest.files[0].shards[7].size += 1;
    envelope.payload = BASE64.encode(manifest.to_json());
    fs::write(&path, envelope.to_json()).unwrap();
    assert_fails(
        &mut ws.verify("art/demo/manifest.json"),
        1,
        "manifest-signature-invalid",
    );
}

#[test]
fn verify_rejects_a_manifest_signed_by_another_key() {
    let ws = packed();
    ws.keygen("other");
    let mut cmd = ws.tessera();
    cmd.args([
        "verify",
        "--pub",
        "other/tessera.pub.json",
        "art/demo/manifest.json",
    ]);
    assert_fails(&mut cmd, 1, "manifest-unknown-key");

    let mut cmd = ws.tessera();
    cmd.args([
        "verify",
        "--pub",
        "keys/tessera.pub.json",
        "--pub",
        "other/tessera.pub.json",
    ])
    .args(["--threshold", "2", "art/demo/manifest.json"]);
    assert_fails(&mut cmd, 1, "manifest-threshold-not-met");
}

#[test]
fn pack_refuses_a_rollback_unless_forced() {
    let ws = packed();
    let stderr = assert_fails(
        &mut ws.pack("0.9.0", &["in/weights.bin"]),
        1,
        "manifest-rollback",
    );
    assert!(stderr.contains("1.0.0"), "{stderr}");
    assert!(!ws.path("art/demo/versions/0.9.0.json").exists());
    ws.write("in/other.bin", b"other content");
    assert_fails(
        &mut ws.pack("1.0.0", &["in/other.bin"]),
        1,
        "manifest-mix-and-match",
    );

    stdout_of(ws.pack("0.9.0", &["in/weights.bin"]).arg("--force"));
    assert_eq!(
        ws.manifest("art/demo/manifest.json").version.to_string(),
        "0.9.0"
    );
}
