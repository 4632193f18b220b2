//! The download driver's sequencing, natively, against in-memory backends (`support`): what a
//! user would notice — bytes fetched twice, waits, shards served that are not the signed ones,
//! downloads that end or hang — under cuts, retries, corrupt or wrong answers, concurrent
//! downloads, a full store and a restarted worker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{block_on, Fault, Shard, TestError, TestHost, CHUNK_SIZE, LATENCY_MS};

/// A shard of three requests (4096 + 4096 + 1808 bytes).
const SIZE: usize = 10_000;

fn assert_served_right(host: &TestHost, shard: &Shard) {
    assert!(host.store.is_verified(&shard.sha()), "shard not verified");
    assert_eq!(host.store.bytes_of(&shard.sha()).unwrap(), shard.bytes);
    assert!(
        host.store.0.borrow().bad_promotions.is_empty(),
        "promoted bytes that are not the signed ones"
    );
}

#[test]
fn a_download_fetches_each_byte_once_and_promotes_verified_shards() {
    let (a, b) = (Shard::new(1, SIZE), Shard::new(2, 3000));
    let host = TestHost::new(&[a.clone(), b.clone()]);
    host.fetch(&[&a, &b]).unwrap();
    assert_served_right(&host, &a);
    assert_served_right(&host, &b);
    assert_eq!(host.transport.sent(&a.sha()), SIZE as u64);
    assert_eq!(host.transport.sent(&b.sha()), 3000);
    let ranges: Vec<String> = host
        .transport
        .requests_for(&a.sha())
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(
        ranges,
        ["bytes=0-4095", "bytes=4096-8191", "bytes=8192-9999"]
    );
    // Whole chunks are written whole: one write per request here.
    let writes: Vec<u64> = host
        .store
        .0
        .borrow()
        .writes
        .iter()
        .filter(|w| w.0 == a.sha())
        .map(|w| w.1)
        .collect();
    assert_eq!(writes, [0, 4096, 8192]);
    // Hashed from memory: staged from byte 0 by this download, never read back.
    assert_eq!(host.store.0.borrow().reads, 0);
    assert_eq!(host.store.0.borrow().hashed, 2);
    // The progress reached every byte and shard.
    let last = *host.progress.borrow().last().unwrap();
    assert_eq!((last.bytes_done, last.shards_done), (SIZE as u64 + 3000, 2));
    // One speed measurement per completed shard, kept for the next worker.
    let speeds = host.speeds.borrow().clone();
    assert_eq!(speeds.len(), 2);
    assert_eq!(speeds.iter().map(|s| s.0).sum::<u64>(), SIZE as u64 + 3000);
    assert!(host.saved_speed.get().is_some());
}

#[test]
fn a_cut_resumes_from_the_persisted_offset_and_refetches_nothing_received() {
    let a = Shard::new(3, SIZE);
    let host = TestHost::new(std::slice::from_ref(&a));
    // 2500 bytes arrive (less than one storage chunk, so they are still queued), then the
    // connection fails.
    host.transport.script(a.sha(), &[Fault::Cut(2500)]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let ranges: Vec<String> = host
        .transport
        .requests_for(&a.sha())
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges[0], "bytes=0-4095");
    assert_eq!(
        ranges[1], "bytes=2500-6595",
        "the resume starts after what arrived"
    );
    // What arrived before the cut was written, not fetched again.
    assert_eq!(host.transport.sent(&a.sha()), SIZE as u64);
    let first = host.store.0.borrow().writes[0].clone();
    assert_eq!((first.1, first.2.len()), (0, 16));
}

#[test]
fn network_errors_wait_the_plans_backoff() {
    let a = Shard::new(4, 3000);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.transport
        .script(a.sha(), &[Fault::Network, Fault::Network, Fault::Network]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let seen = host.transport.requests_for(&a.sha());
    assert_eq!(seen.len(), 4);
    let config = host.settings.download;
    for (n, pair) in seen.windows(2).enumerate() {
        let waited = pair[1].at - pair[0].answered;
        assert_eq!(
            waited,
            config.backoff_delay_ms(n as u32 + 1),
            "wait before attempt {}",
            n + 2
        );
    }
    // 500 + 1000 + 2000 ms of backoff, plus four answers' latency.
    assert_eq!(seen[3].answered, 3500 + 4 * LATENCY_MS);
}

#[test]
fn a_corrupt_shard_is_never_promoted_and_is_fetched_again() {
    let a = Shard::new(5, SIZE);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.transport.script(a.sha(), &[Fault::Corrupt]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let state = host.store.0.borrow();
    assert_eq!(
        state.promotions,
        [a.sha()],
        "promoted once, after the second download"
    );
    assert!(
        state.discards.contains(&a.sha()),
        "the corrupt bytes were discarded"
    );
    assert_eq!(state.hashed, 2);
    assert_eq!(host.transport.sent(&a.sha()), 2 * SIZE as u64);
}

#[test]
fn a_shard_that_stays_corrupt_fails_with_its_code_and_stays_invisible() {
    let a = Shard::new(6, 3000);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.transport.script(a.sha(), &[Fault::Corrupt; 10]);
    let err = host.fetch(&[&a]).unwrap_err();
    assert_eq!(err.code(), "shard-hash-mismatch");
    assert!(!host.store.is_verified(&a.sha()));
    assert!(host.store.0.borrow().promotions.is_empty());
    assert_eq!(
        host.store.bytes_of(&a.sha()),
        None,
        "corrupt bytes are not kept"
    );
}

#[test]
fn a_server_ignoring_range_restarts_the_shard_from_zero() {
    let a = Shard::new(7, SIZE);
    let host = TestHost::new(std::slice::from_ref(&a));
    // The first range is answered right; the second gets the whole shard as a 200.
    host.transport
        .script(a.sha(), &[Fault::Normal, Fault::IgnoreRange]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let state = host.store.0.borrow();
    let offsets: Vec<u64> = state.writes.iter().map(|w| w.1).collect();
    assert_eq!(
        offsets,
        [0, 0, 4096, 8192],
        "restarted at byte 0 with the 200's body"
    );
    assert_eq!(
        state.discards,
        [a.sha()],
        "what was staged before is dropped"
    );
    assert_eq!(host.transport.sent(&a.sha()), 4096 + SIZE as u64);
    assert_eq!(host.transport.requests_for(&a.sha()).len(), 2);
}

#[test]
fn an_html_answer_is_never_served_as_the_shard() {
    let a = Shard::new(8, 3000);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.transport.script(a.sha(), &[Fault::Html]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    assert_eq!(host.store.0.borrow().promotions, [a.sha()]);
    assert!(host.transport.requests_for(&a.sha()).len() >= 2);
}

#[test]
fn an_auth_failure_ends_the_download_with_it() {
    let a = Shard::new(9, 3000);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.transport.script(a.sha(), &[Fault::Auth]);
    assert_eq!(host.fetch(&[&a]), Err(TestError::Auth));
    assert_eq!(
        host.transport.requests_for(&a.sha()).len(),
        1,
        "not retried"
    );
    assert!(!host.store.is_verified(&a.sha()));
}

#[test]
fn concurrent_downloads_of_overlapping_shards_fetch_each_shard_once() {
    let (a, b, c) = (
        Shard::new(10, SIZE),
        Shard::new(11, SIZE),
        Shard::new(12, SIZE),
    );
    let host = TestHost::new(&[a.clone(), b.clone(), c.clone()]);
    let first = async {
        let r = tessera_driver::fetch_shards(&host, "demo", vec![a.shard, b.shard], 0, 2).await;
        (
            r,
            host.store.is_verified(&a.sha()) && host.store.is_verified(&b.sha()),
        )
    };
    let second = async {
        let r = tessera_driver::fetch_shards(&host, "demo", vec![b.shard, c.shard], 0, 2).await;
        (
            r,
            host.store.is_verified(&b.sha()) && host.store.is_verified(&c.sha()),
        )
    };
    let ((r1, done1), (r2, done2)) =
        block_on(&host.clock, futures_util::future::join(first, second));
    assert_eq!((r1, r2), (Ok(()), Ok(())));
    assert!(
        done1 && done2,
        "a download returned before its shards were verified"
    );
    for s in [&a, &b, &c] {
        assert_served_right(&host, s);
        assert_eq!(host.transport.sent(&s.sha()), SIZE as u64, "fetched twice");
    }
    assert_eq!(host.store.0.borrow().promotions.len(), 3);
}

#[test]
fn a_download_waiting_on_another_takes_over_what_it_failed() {
    let (a, b) = (Shard::new(13, 3000), Shard::new(14, 3000));
    let host = TestHost::new(&[a.clone(), b.clone()]);
    // The first download gets an auth failure for `a` and ends; the second, waiting for `a`,
    // fetches it itself.
    host.transport.script(a.sha(), &[Fault::Auth]);
    let first = tessera_driver::fetch_shards(&host, "demo", vec![a.shard], 0, 1);
    let second = tessera_driver::fetch_shards(&host, "demo", vec![a.shard, b.shard], 0, 2);
    let (r1, r2) = block_on(&host.clock, futures_util::future::join(first, second));
    assert_eq!(r1, Err(TestError::Auth));
    assert_eq!(r2, Ok(()));
    assert_served_right(&host, &a);
    assert_served_right(&host, &b);
}

#[test]
fn a_refused_write_ends_the_download_with_quota_and_promotes_nothing_unverified() {
    let (a, b) = (Shard::new(15, SIZE), Shard::new(16, SIZE));
    let host = TestHost::new(&[a.clone(), b.clone()]);
    host.store.0.borrow_mut().quota = Some(15_000);
    let err = host.fetch(&[&a, &b]).unwrap_err();
    assert_eq!(err, TestError::Quota);
    assert_eq!(err.code(), "quota");
    let state = host.store.0.borrow();
    assert!(state.bad_promotions.is_empty());
    assert!(state.promotions.len() < 2, "both shards cannot fit");
    for sha in &state.promotions {
        assert_eq!(
            state.staged.get(sha).map(Vec::len),
            Some(SIZE),
            "promoted a shard whose bytes were not all stored"
        );
    }
}

#[test]
fn staged_bytes_from_an_earlier_run_are_resumed() {
    let a = Shard::new(17, SIZE);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.store.stage(a.sha(), &a.bytes[..5000]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let seen = host.transport.requests_for(&a.sha());
    assert_eq!(seen[0].range, "bytes=5000-9095");
    assert_eq!(host.transport.sent(&a.sha()), 5000);
    assert!(host.progress.borrow().iter().all(|p| p.resumed));
    // Not staged from byte 0 by this download: hashed over what the store holds.
    assert_eq!(host.store.0.borrow().reads, 1);
}

#[test]
fn a_shard_staged_whole_is_hashed_not_fetched_again() {
    let (a, b) = (Shard::new(18, SIZE), Shard::new(19, 3000));
    let host = TestHost::new(&[a.clone(), b.clone()]);
    host.store.stage(a.sha(), &a.bytes);
    host.fetch(&[&a, &b]).unwrap();
    assert_served_right(&host, &a);
    assert_served_right(&host, &b);
    assert!(host.transport.requests_for(&a.sha()).is_empty());
    assert_eq!(host.transport.sent(&a.sha()), 0);
}

#[test]
fn a_corrupt_shard_staged_whole_is_discarded_and_fetched_again() {
    let a = Shard::new(20, 3000);
    let host = TestHost::new(std::slice::from_ref(&a));
    let mut bad = a.bytes.clone();
    bad[100] ^= 1;
    host.store.stage(a.sha(), &bad);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    assert_eq!(host.transport.sent(&a.sha()), 3000);
    assert_eq!(host.store.0.borrow().promotions, [a.sha()]);
}

#[test]
fn retries_that_never_progress_give_up_with_the_plans_code() {
    let a = Shard::new(21, 3000);
    let host = TestHost::new(std::slice::from_ref(&a));
    host.transport.script(a.sha(), &[Fault::Network; 20]);
    let err = host.fetch(&[&a]).unwrap_err();
    assert_eq!(err.code(), "download-retries-exhausted");
    let attempts = host.transport.requests_for(&a.sha()).len() as u32;
    assert_eq!(
        attempts,
        host.settings.download.max_failures_without_progress
    );
    assert!(host.clock_now() >= 500 + 1000 + 2000 + 4000);
}

/// A 20,000-byte shard fetched in one request into storage that takes 5 ms a write.
fn slow_storage_one_request(seed: u8) -> (Shard, TestHost) {
    let a = Shard::new(seed, 20_000);
    let mut host = TestHost::new(std::slice::from_ref(&a));
    host.settings.download.max_request_bytes = 0;
    host.store.0.borrow_mut().write_delay = Some((host.clock.clone(), 5));
    (a, host)
}

#[test]
fn whole_chunks_queued_during_a_slow_write_go_in_one_write() {
    // One request for the whole shard, network chunks of 1000 bytes, storage chunks of 4096,
    // and storage slower than the network: the first piece is written after five chunks, the
    // rest of the body arrives during that write, and all its whole chunks go in one write.
    let (a, host) = slow_storage_one_request(22);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let state = host.store.0.borrow();
    let offsets: Vec<u64> = state.writes.iter().map(|w| w.1).collect();
    assert_eq!(offsets, [0, CHUNK_SIZE, 4 * CHUNK_SIZE]);
}

#[test]
fn a_cut_during_a_slow_write_still_writes_what_arrived() {
    let (a, host) = slow_storage_one_request(23);
    host.transport.script(a.sha(), &[Fault::Cut(9500)]);
    host.fetch(&[&a]).unwrap();
    assert_served_right(&host, &a);
    let seen = host.transport.requests_for(&a.sha());
    assert_eq!(seen[1].range, "bytes=9500-19999");
    assert_eq!(host.transport.sent(&a.sha()), 20_000);
}

#[test]
fn a_download_whose_shards_another_is_fetching_waits_for_them() {
    let (a, b) = (Shard::new(24, SIZE), Shard::new(25, SIZE));
    let host = TestHost::new(&[a.clone(), b.clone()]);
    // A whole-model install and a request for one of its files, at once.
    let install = tessera_driver::fetch_shards(&host, "demo", vec![a.shard, b.shard], 0, 2);
    let file = async {
        let r = tessera_driver::fetch_shards(&host, "demo", vec![b.shard], 0, 2).await;
        (r, host.store.is_verified(&b.sha()))
    };
    let (r1, (r2, verified)) = block_on(&host.clock, futures_util::future::join(install, file));
    assert_eq!((r1, r2), (Ok(()), Ok(())));
    assert!(
        verified,
        "the file's download returned before its shard was verified"
    );
    assert_eq!(host.transport.sent(&b.sha()), SIZE as u64, "fetched twice");
}
