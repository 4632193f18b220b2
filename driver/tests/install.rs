//! The install sequences around the driver, natively (`support`'s in-memory backends): the
//! quota retry keeps what is verified and fails with `quota` on a second refusal; garbage
//! collection never deletes a shard a live response leases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{block_on, Shard, TestError, TestHost};
use tessera_core::manifest::ShardRef;
use tessera_driver::install::{collect_garbage, download};

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
