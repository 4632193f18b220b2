//! The install sequences around the driver, natively (`support`'s in-memory backends): the
//! quota retry keeps what is verified and fails with `quota` on a second refusal; garbage
//! collection never deletes a shard a live response leases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use support::{block_on, Fault, Shard, TestError, TestHost};
use tessera_core::manifest::{FileEntry, Manifest, RuntimeRequirement, ShardRef, SCHEMA_VERSION};
use tessera_core::Sha256Digest;
use tessera_driver::install::{collect_garbage, download, install as install_version};

const SIZE: usize = 10_000;

/// Three shards, one request at a time, on a store that holds 15,000 bytes: the first shard
/// fits, the second's writes are refused.
fn full_store() -> (Vec<Shard>, TestHost) {
    let shards = vec![
        Shard::new(1, SIZE),
        Shard::new(2, SIZE),
        Shard::new(3, SIZE),
    ];
    let mut host = TestHost::new(&shards);
    host.settings = support::settings(1);
    host.store.0.borrow_mut().quota = Some(15_000);
    (shards, host)
}

fn install(host: &TestHost, shards: &[Shard]) -> Result<(), TestError> {
    let refs: Vec<ShardRef> = shards.iter().map(|s| s.shard).collect();
    block_on(&host.clock, download(host, "demo", refs, 0, shards.len()))
}

#[test]
fn a_second_quota_refusal_fails_with_quota_and_keeps_the_verified_shards() {
    let (shards, host) = full_store();
    // Making room "works" but frees nothing: the browser refuses again.
    host.room_after.set(Some(15_000));
    let err = install(&host, &shards).unwrap_err();
    assert_eq!(err.code(), "quota");
    // Room was asked for what was still missing after the first shard: the second shard less
    // what of it was staged, and the third.
    let staged_b = 4096;
    let needed = 2 * SIZE as u64 - staged_b;
    assert_eq!(*host.room_asked.borrow(), [(needed, needed)]);
    assert_eq!(err, TestError::QuotaNeeded(needed));
    // The verified shard stays verified and whole; nothing unverified became visible.
    assert!(host.store.is_verified(&shards[0].sha()));
    assert_eq!(
        host.store.bytes_of(&shards[0].sha()).unwrap(),
        shards[0].bytes
    );
    let state = host.store.0.borrow();
    assert_eq!(state.promotions, [shards[0].sha()]);
    assert!(state.bad_promotions.is_empty());
    drop(state);
    assert_eq!(
        host.transport.sent(&shards[0].sha()),
        SIZE as u64,
        "fetched once"
    );
}

#[test]
fn once_room_is_made_the_rest_downloads_without_refetching_what_was_verified() {
    let (shards, host) = full_store();
    host.room_after.set(Some(40_000));
    install(&host, &shards).unwrap();
    for s in &shards {
        assert!(host.store.is_verified(&s.sha()));
        assert_eq!(host.store.bytes_of(&s.sha()).unwrap(), s.bytes);
    }
    assert_eq!(host.transport.sent(&shards[0].sha()), SIZE as u64);
    // The second shard resumed after what was staged before the refusal: only the refused
    // piece is fetched again.
    let ranges: Vec<String> = host
        .transport
        .requests_for(&shards[1].sha())
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(
        ranges,
        [
            "bytes=0-4095",
            "bytes=4096-8191",
            "bytes=4096-8191",
            "bytes=8192-9999"
        ]
    );
    assert!(host.store.0.borrow().bad_promotions.is_empty());
}

#[test]
fn when_no_room_can_be_made_that_refusal_is_the_error_and_nothing_is_retried() {
    let (shards, host) = full_store();
    host.room_after.set(None);
    assert_eq!(install(&host, &shards), Err(TestError::Quota));
    assert_eq!(host.room_asked.borrow().len(), 1);
    assert!(host.transport.requests_for(&shards[2].sha()).is_empty());
    assert!(host.store.is_verified(&shards[0].sha()));
}

#[test]
fn garbage_collection_never_deletes_a_shard_a_live_response_leases() {
    let (old, new, orphan) = (Shard::new(4, 100), Shard::new(5, 100), Shard::new(6, 100));
    let host = TestHost::new(&[]);
    for s in [&old, &new, &orphan] {
        host.store.stage(s.sha(), &s.bytes);
        host.store.0.borrow_mut().verified.insert(s.sha().to_hex());
    }
    // The switch made `new` the only referenced version; a response still streams `old`.
    host.referenced.borrow_mut().insert(new.sha().to_hex());
    host.leased.borrow_mut().push(old.sha().to_hex());
    let deleted = block_on(&host.clock, collect_garbage(&host)).unwrap();
    assert_eq!(deleted, 1);
    assert!(
        host.store.is_verified(&old.sha()),
        "a leased shard was deleted"
    );
    assert_eq!(host.store.bytes_of(&old.sha()).unwrap(), old.bytes);
    assert!(host.store.is_verified(&new.sha()));
    assert!(!host.store.is_verified(&orphan.sha()));
    assert!(
        host.gc_deferred.get(),
        "collection must run again when the lease ends"
    );
    // The stream ended: the next collection deletes it.
    host.leased.borrow_mut().clear();
    host.gc_deferred.set(false);
    assert_eq!(block_on(&host.clock, collect_garbage(&host)).unwrap(), 1);
    assert!(!host.store.is_verified(&old.sha()));
    assert!(!host.gc_deferred.get());
}

/// A manifest of `version` with one file made of `shards`.
fn manifest(version: &str, shards: &[&Shard]) -> Manifest {
    Manifest {
        schema: SCHEMA_VERSION,
        name: "demo".parse().unwrap(),
        version: semver::Version::parse(version).unwrap(),
        runtime: RuntimeRequirement {
            engine: "wonnx".into(),
            abi: 1,
            ops: vec![],
            entry: None,
        },
        issued_at: 0,
        expires_at: u64::MAX,
        files: vec![FileEntry {
            path: "model.onnx".parse().unwrap(),
            size: shards.iter().map(|s| s.shard.size).sum(),
            sha256: Sha256Digest::of(b"not checked here"),
            shards: shards.iter().map(|s| s.shard).collect(),
        }],
        test_vectors: vec![],
    }
}

fn hexes(shards: &[&Shard]) -> BTreeSet<String> {
    shards.iter().map(|s| s.sha().to_hex()).collect()
}

/// Version 1.0.0 (shards `shared`, `old_only`) installed and serving; 2.0.0 replaces
/// `old_only` by `new_only`.
fn updating() -> (TestHost, [Shard; 3]) {
    let shared = Shard::new(30, SIZE);
    let old_only = Shard::new(31, SIZE);
    let new_only = Shard::new(32, SIZE);
    let host = TestHost::new(&[shared.clone(), old_only.clone(), new_only.clone()]);
    for s in [&shared, &old_only] {
        host.store.stage(s.sha(), &s.bytes);
        host.store.0.borrow_mut().verified.insert(s.sha().to_hex());
    }
    *host.active.borrow_mut() = "1.0.0".into();
    host.referenced
        .borrow_mut()
        .extend(hexes(&[&shared, &old_only]));
    (host, [shared, old_only, new_only])
}

/// Installs 2.0.0 with a switch that makes it active (and the only referenced version).
fn install_update(host: &TestHost, shards: &[Shard; 3]) -> Result<bool, TestError> {
    let [shared, _, new_only] = shards;
    let next = manifest("2.0.0", &[shared, new_only]);
    let switch = async {
        // What is switched to is stored and verified in full.
        for s in [shared, new_only] {
            assert!(
                host.store.is_verified(&s.sha()),
                "switched before verification"
            );
        }
        *host.active.borrow_mut() = "2.0.0".into();
        *host.referenced.borrow_mut() = hexes(&[shared, new_only]);
        host.seen.borrow_mut().push(("2.0.0".into(), "switch"));
        Ok(())
    };
    block_on(
        &host.clock,
        install_version(host, "demo", &next, Some("1.0.0".into()), Some(switch)),
    )
}

#[test]
fn the_old_version_serves_until_the_switch() {
    let (host, shards) = updating();
    let [shared, old_only, new_only] = &shards;
    assert_eq!(install_update(&host, &shards), Ok(true));
    let seen = host.seen.borrow().clone();
    let switch_at = seen.iter().position(|e| e.1 == "switch").unwrap();
    assert_eq!(switch_at, seen.len() - 1, "the switch is the last step");
    assert!(seen[..switch_at]
        .iter()
        .all(|(active, _)| active == "1.0.0"));
    assert!(seen[..switch_at].iter().any(|e| e.1 == "downloading"));
    assert!(seen[..switch_at].iter().any(|e| e.1 == "verifying"));
    // Only the changed shard was fetched; the old version's own shard went after the switch.
    assert_eq!(host.transport.sent(&new_only.sha()), SIZE as u64);
    assert_eq!(host.transport.sent(&shared.sha()), 0);
    assert!(!host.store.is_verified(&old_only.sha()));
    assert!(host.store.is_verified(&shared.sha()));
}

#[test]
fn an_update_that_fails_before_the_switch_leaves_the_old_version_serving_whole() {
    let (host, shards) = updating();
    let [shared, old_only, new_only] = &shards;
    host.transport.script(new_only.sha(), &[Fault::Corrupt; 10]);
    let err = install_update(&host, &shards).unwrap_err();
    assert_eq!(err.code(), "shard-hash-mismatch");
    assert_eq!(*host.active.borrow(), "1.0.0");
    assert!(host.seen.borrow().iter().all(|e| e.1 != "switch"));
    // No garbage collection either: the old version's shards are all there.
    for s in [shared, old_only] {
        assert!(host.store.is_verified(&s.sha()));
        assert_eq!(host.store.bytes_of(&s.sha()).unwrap(), s.bytes);
    }
    assert!(!host.store.is_verified(&new_only.sha()));
}

#[test]
fn reinstalling_the_active_version_downloads_what_went_missing_without_a_switch() {
    let (host, shards) = updating();
    let [shared, old_only, _] = &shards;
    // The browser cleared one shard of the active version.
    host.store.0.borrow_mut().staged.remove(&old_only.sha());
    host.store
        .0
        .borrow_mut()
        .verified
        .remove(&old_only.sha().to_hex());
    let active = manifest("1.0.0", &[shared, old_only]);
    let no_switch: Option<std::future::Ready<Result<(), TestError>>> = None;
    let downloaded = block_on(
        &host.clock,
        install_version(&host, "demo", &active, None, no_switch),
    );
    assert_eq!(downloaded, Ok(true));
    assert_eq!(host.transport.sent(&old_only.sha()), SIZE as u64);
    assert!(host.store.is_verified(&old_only.sha()));
    assert!(!host.seen.borrow().iter().any(|e| e.1 == "switch"));
}
