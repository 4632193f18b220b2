//! Shard-level diffs between manifests, and what a store still lacks: what `tessera diff` prints
//! and what the service worker downloads on an update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use tessera_core::diff::{missing_shards, ManifestDiff};
use tessera_core::manifest::ShardRef;
use tessera_core::{Manifest, Sha256Digest};

const SAMPLE_MANIFEST: &str = include_str!("data/sample_manifest.json");

fn shard(content: &[u8]) -> ShardRef {
    ShardRef {
        sha256: Sha256Digest::of(content),
        size: content.len() as u64,
    }
}

fn file(path: &str, shards: &[&[u8]]) -> Value {
    let content = shards.concat();
    json!({
        "path": path,
        "size": content.len(),
        "sha256": Sha256Digest::of(&content),
        "shards": shards.iter().map(|s| shard(s)).collect::<Vec<_>>(),
    })
}

/// A valid manifest of `version` made of `files` (the first one is its entry point).
fn manifest(version: &str, files: Vec<Value>) -> Manifest {
    let value = json!({
        "schema": 1,
        "name": "recommender",
        "version": version,
        "runtime": { "engine": "wonnx", "abi": 1, "entry": files[0]["path"] },
        "issued_at": 1_767_225_600u64,
        "expires_at": 1_769_817_600u64,
        "files": files,
    });
    Manifest::from_json(&serde_json::to_vec(&value).unwrap()).unwrap()
}

fn sorted(mut shards: Vec<ShardRef>) -> Vec<ShardRef> {
    shards.sort();
    shards
}

#[test]
fn update_changing_one_shard_downloads_only_that_shard() {
    let old = manifest(
        "1.0.0",
        vec![file(
            "model.onnx",
            &[b"layer one", b"layer two", b"head v1"],
        )],
    );
    let new = manifest(
        "1.1.0",
        vec![file(
            "model.onnx",
            &[b"layer one", b"layer two", b"head v2!"],
        )],
    );
    let diff = ManifestDiff::between(&old, &new);
    assert_eq!(diff.added(), [shard(b"head v2!")]);
    assert_eq!(diff.dropped(), [shard(b"head v1")]);
    assert_eq!(
        diff.kept(),
        sorted(vec![shard(b"layer one"), shard(b"layer two")])
    );
    assert_eq!(diff.download_bytes(), 8);
    assert_eq!(diff.dropped_bytes(), 7);
    assert_eq!(diff.kept_bytes(), 18);
    assert!(!diff.is_unchanged());
}

#[test]
fn identical_content_downloads_nothing() {
    let files = vec![
        file("model.onnx", &[b"a", b"bb"]),
        file("vocab.json", &[b"ccc"]),
    ];
    let diff = ManifestDiff::between(&manifest("1.0.0", files.clone()), &manifest("1.0.1", files));
    assert!(diff.is_unchanged());
    assert_eq!(
        (
            diff.download_bytes(),
            diff.dropped_bytes(),
            diff.kept_bytes()
        ),
        (0, 0, 6)
    );
}

#[test]
fn disjoint_versions_add_and_drop_everything() {
    let old = manifest("1.0.0", vec![file("model.onnx", &[b"old-1", b"old-2"])]);
    let new = manifest(
        "2.0.0",
        vec![file("model.onnx", &[b"new-11", b"new-22", b"new-33"])],
    );
    let diff = ManifestDiff::between(&old, &new);
    assert!(diff.kept().is_empty());
    assert_eq!(diff.download_bytes(), new.unique_shard_bytes());
    assert_eq!(diff.dropped_bytes(), old.unique_shard_bytes());
    assert_eq!(ManifestDiff::between(&new, &old).added(), diff.dropped());
}

#[test]
fn shard_used_by_several_files_is_counted_once() {
    let old = manifest("1.0.0", vec![file("a.bin", &[b"shared"])]);
    let new = manifest(
        "1.1.0",
        vec![
            file("a.bin", &[b"shared", b"tail"]),
            file("b.bin", &[b"shared", b"tail", b"shared"]),
        ],
    );
    let diff = ManifestDiff::between(&old, &new);
    assert_eq!(diff.added(), [shard(b"tail")]);
    assert_eq!(diff.kept(), [shard(b"shared")]);
    assert_eq!((diff.download_bytes(), diff.kept_bytes()), (4, 6));
}

#[test]
fn diff_lists_are_sorted_whatever_the_file_order() {
    let contents: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; usize::from(i) + 1]).collect();
    let forward: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    let backward: Vec<&[u8]> = forward.iter().rev().copied().collect();
    let empty = manifest("0.1.0", vec![file("other.bin", &[b"unrelated"])]);
    let a = ManifestDiff::between(&empty, &manifest("1.0.0", vec![file("m.bin", &forward)]));
    let b = ManifestDiff::between(&empty, &manifest("1.0.0", vec![file("m.bin", &backward)]));
    assert_eq!(a, b);
    assert!(a.added().windows(2).all(|w| w[0] < w[1]));
    assert_eq!(a.added().len(), 20);
}

#[test]
fn committed_sample_against_itself_keeps_every_shard() {
    let sample = Manifest::from_json(SAMPLE_MANIFEST.as_bytes()).unwrap();
    let diff = ManifestDiff::between(&sample, &sample);
    assert_eq!(diff.kept().len(), 4);
    assert_eq!(diff.kept_bytes(), 175);
    assert!(diff.is_unchanged());
}

#[test]
fn empty_store_is_missing_every_shard_once_in_manifest_order() {
    let m = manifest(
        "1.0.0",
        vec![
            file("z.bin", &[b"zz", b"shared", b"zz"]),
            file("a.bin", &[b"shared", b"aa"]),
        ],
    );
    let missing = missing_shards(&m, |_| false);
    assert_eq!(missing, [shard(b"zz"), shard(b"shared"), shard(b"aa")]);
}

#[test]
fn store_with_some_shards_is_missing_only_the_rest() {
    let m = manifest(
        "1.0.0",
        vec![file("model.onnx", &[b"one", b"two", b"three"])],
    );
    let have: BTreeSet<Sha256Digest> = [Sha256Digest::of(b"two")].into();
    assert_eq!(
        missing_shards(&m, |d| have.contains(d)),
        [shard(b"one"), shard(b"three")]
    );
    assert!(missing_shards(&m, |_| true).is_empty());
}

#[test]
fn after_update_store_holding_the_old_version_misses_exactly_the_added_shards() {
    let old = manifest("1.0.0", vec![file("model.onnx", &[b"p1", b"p2", b"p3"])]);
    let new = manifest(
        "1.1.0",
        vec![file("model.onnx", &[b"p1", b"p2-new", b"p3", b"p4"])],
    );
    let store: BTreeSet<Sha256Digest> = old.unique_shards().iter().map(|s| s.sha256).collect();
    let missing = missing_shards(&new, |d| store.contains(d));
    assert_eq!(sorted(missing), ManifestDiff::between(&old, &new).added());
}
