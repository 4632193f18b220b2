//! The download plan driven against a deterministic simulated server and in-memory store (the
//! quinn-proto `Pair` idea): the server cuts connections, flips bytes, ignores `Range`, lies in
//! `Content-Range`, sends HTML error pages, 416s and 500s; the driver plays the service worker.
//! Tests assert what a user would notice: the visible bytes equal the file, nothing stored is
//! fetched twice, corrupt bytes never become visible, and retries stay bounded. The property
//! tests run natively only (proptest is not a wasm32 dev-dependency).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::{BTreeMap, VecDeque};

use tessera_core::assemble::FileAssembly;
use tessera_core::download::{
    ChunkAction, DownloadConfig, DownloadError, DownloadPlan, EndAction, HeadAction, NextAttempt,
    Request, RequestFailed, RequestId, ResponseHead, SeedAction,
};
use tessera_core::manifest::{FileEntry, ShardRef};
use tessera_core::range::ByteRange;
use tessera_core::{ErrorCode, Sha256Digest};

// ---------------------------------------------------------------------------------------------
// Fixture: a file cut into content-addressed shards.

/// Deterministic pseudo-random bytes (splitmix64).
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[derive(Debug, Clone)]
struct Fixture {
    file: Vec<u8>,
    /// The file's shards in order (a shard may repeat).
    shards: Vec<ShardRef>,
    bytes: BTreeMap<Sha256Digest, Vec<u8>>,
}

impl Fixture {
    fn new(file: Vec<u8>, shard_size: usize) -> Self {
        let mut shards = Vec::new();
        let mut bytes = BTreeMap::new();
        for chunk in file.chunks(shard_size.max(1)) {
            let shard = ShardRef {
                sha256: Sha256Digest::of(chunk),
                size: chunk.len() as u64,
            };
            shards.push(shard);
            bytes.insert(shard.sha256, chunk.to_vec());
        }
        Self {
            file,
            shards,
            bytes,
        }
    }

    fn random(len: usize, shard_size: usize, seed: u64) -> Self {
        Self::new(random_bytes(len, seed), shard_size)
    }

    /// Bytes of the distinct shards: what an empty store must download.
    fn unique_bytes(&self) -> u64 {
        self.bytes.values().map(|b| b.len() as u64).sum()
    }

    fn plan(&self, config: DownloadConfig) -> DownloadPlan {
        DownloadPlan::new(self.shards.iter().copied(), config).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Simulated server.

/// A way for the server to misbehave on one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The connection drops after `n` body bytes (`n` reduced modulo the body length + 1).
    CutAfter(u64),
    /// The body ends cleanly after `n` bytes although Content-Length announced them all.
    Truncate(u64),
    /// Body byte `i` (modulo the body length) is flipped.
    FlipByte(u64),
    /// `200` with the whole shard, whatever the Range.
    IgnoreRange,
    /// `206` whose Content-Range names other bytes or another total.
    WrongContentRange,
    /// `200` with an HTML error page, no Content-Length.
    HtmlPage,
    /// This status with a short text body.
    Status(u16),
    /// The right `206` head, but the body runs on past the range.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Served {
    shard: Sha256Digest,
    range: ByteRange,
    at_ms: u64,
}

#[derive(Debug, Default)]
struct SimServer {
    bytes: BTreeMap<Sha256Digest, Vec<u8>>,
    /// One entry per response, in order; `None` answers honestly.
    transient: VecDeque<Option<Fault>>,
    /// Applied to every response for that shard.
    persistent: BTreeMap<Sha256Digest, Fault>,
    log: Vec<Served>,
}

#[derive(Debug)]
struct Response {
    id: RequestId,
    status: u16,
    content_range: Option<String>,
    content_length: Option<u64>,
    body: Vec<u8>,
    /// Ends with a network error instead of a clean end.
    cut: bool,
    head_sent: bool,
    pos: usize,
}

impl SimServer {
    fn new(fixture: &Fixture) -> Self {
        Self {
            bytes: fixture.bytes.clone(),
            ..Self::default()
        }
    }

    fn with_faults(mut self, faults: impl IntoIterator<Item = Option<Fault>>) -> Self {
        self.transient.extend(faults);
        self
    }

    fn respond(&mut self, req: &Request, now: u64) -> Response {
        self.log.push(Served {
            shard: req.shard.sha256,
            range: req.range,
            at_ms: now,
        });
        let shard = &self.bytes[&req.shard.sha256];
        let size = shard.len() as u64;
        let (start, end) = (req.range.start(), req.range.end());
        let honest = shard[start as usize..=end as usize].to_vec();
        let mut r = Response {
            id: req.id,
            status: 206,
            content_range: Some(req.range.content_range(size)),
            content_length: Some(honest.len() as u64),
            body: honest,
            cut: false,
            head_sent: false,
            pos: 0,
        };
        let fault = match self.persistent.get(&req.shard.sha256) {
            Some(f) => Some(*f),
            None => self.transient.pop_front().flatten(),
        };
        let len = r.body.len() as u64;
        match fault {
            None => {}
            Some(Fault::CutAfter(n)) => {
                r.body.truncate((n % (len + 1)) as usize);
                r.cut = true;
            }
            Some(Fault::Truncate(n)) => r.body.truncate((n % len) as usize),
            Some(Fault::FlipByte(i)) => r.body[(i % len) as usize] ^= 0x5a,
            Some(Fault::IgnoreRange) => {
                r.status = 200;
                r.content_range = None;
                r.content_length = Some(size);
                r.body = shard.clone();
            }
            Some(Fault::WrongContentRange) => {
                r.content_range = Some(if start < end {
                    format!("bytes {}-{}/{}", start + 1, end, size)
                } else {
                    format!("bytes {}-{}/{}", start, end, size + 1)
                });
            }
            Some(Fault::HtmlPage) => {
                r.status = 200;
                r.content_range = None;
                r.content_length = None;
                r.body = b"<!doctype html><title>502 Bad Gateway</title><h1>502</h1>".to_vec();
            }
            Some(Fault::Status(status)) => {
                r.status = status;
                r.content_range = (status == 416).then(|| format!("bytes */{size}"));
                r.body = format!("status {status}").into_bytes();
                r.content_length = Some(r.body.len() as u64);
            }
            Some(Fault::TooLong) => {
                r.content_length = None;
                r.body.extend_from_slice(b"!!");
            }
        }
        r
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory store: a staging area readers cannot see, and visible verified shards.

#[derive(Debug, Default, Clone)]
struct SimStore {
    staged: BTreeMap<Sha256Digest, Vec<u8>>,
    visible: BTreeMap<Sha256Digest, Vec<u8>>,
}

impl SimStore {
    /// One transaction: the chunk and the shard's new stored length.
    fn persist(&mut self, shard: Sha256Digest, offset: u64, chunk: &[u8]) {
        let staged = self.staged.entry(shard).or_default();
        assert_eq!(
            staged.len() as u64,
            offset,
            "the plan asks to store a chunk exactly at the stored length"
        );
        staged.extend_from_slice(chunk);
    }

    fn promote(&mut self, shard: ShardRef) {
        let bytes = self.staged.remove(&shard.sha256).unwrap_or_default();
        assert_eq!(
            Sha256Digest::of(&bytes),
            shard.sha256,
            "only bytes that hash right are ever promoted"
        );
        self.visible.insert(shard.sha256, bytes);
    }

    fn discard(&mut self, shard: Sha256Digest) {
        self.staged.remove(&shard);
    }

    /// The file as a reader sees it, if every shard is visible.
    fn assemble(&self, fixture: &Fixture) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for shard in &fixture.shards {
            out.extend_from_slice(self.visible.get(&shard.sha256)?);
        }
        Some(out)
    }

    /// A plan rebuilt from what the store holds, as the service worker does after a restart.
    fn reseed(&mut self, fixture: &Fixture, config: DownloadConfig, chunk: usize) -> DownloadPlan {
        let mut plan = fixture.plan(config);
        for shard in &fixture.shards {
            if self.visible.contains_key(&shard.sha256) {
                plan.seed_verified(shard.sha256).unwrap();
            }
            let Some(staged) = self.staged.get(&shard.sha256).cloned() else {
                continue;
            };
            for piece in staged.chunks(chunk.max(1)) {
                match plan.seed_staged(shard.sha256, piece).unwrap() {
                    SeedAction::Resume { .. } => {}
                    SeedAction::Verified => self.promote(*shard),
                    SeedAction::Discard { .. } | SeedAction::Redundant | SeedAction::Digest => {
                        self.discard(shard.sha256);
                        break;
                    }
                }
            }
        }
        plan
    }
}

// ---------------------------------------------------------------------------------------------
// The driver: plays the service worker.

#[derive(Debug)]
struct Sim {
    plan: DownloadPlan,
    server: SimServer,
    store: SimStore,
    cap: usize,
    /// `max_request_bytes` of the plan's config (0: unbounded).
    max_request: u64,
    now: u64,
    chunk: usize,
    active: Vec<Response>,
    steps: u64,
    max_in_flight: usize,
    /// Body bytes handed to the plan.
    transferred: u64,
    /// Every failed request, with the time it failed.
    failures: Vec<(u64, RequestFailed)>,
}

const STEP_LIMIT: u64 = 500_000;

impl Sim {
    fn new(plan: DownloadPlan, server: SimServer, config: DownloadConfig) -> Self {
        Self {
            plan,
            server,
            store: SimStore::default(),
            cap: config.max_parallel.max(1),
            max_request: config.max_request_bytes,
            now: 0,
            chunk: 1024,
            active: Vec::new(),
            steps: 0,
            max_in_flight: 0,
            transferred: 0,
            failures: Vec::new(),
        }
    }

    fn run(&mut self) {
        while self.step() {}
    }

    /// One event; `false` once the plan is finished and nothing is in flight.
    fn step(&mut self) -> bool {
        self.steps += 1;
        assert!(self.steps < STEP_LIMIT, "the download never finished");
        while let Some(req) = self.plan.poll_request(self.now) {
            let stored = self.store.staged.get(&req.shard.sha256).map_or(0, Vec::len);
            assert_eq!(
                req.range.start(),
                stored as u64,
                "a request starts exactly after the stored bytes"
            );
            let max = match self.max_request {
                0 => u64::MAX,
                max => max,
            };
            assert_eq!(
                req.range.end(),
                (req.range.start().saturating_add(max)).min(req.shard.size) - 1,
                "a request asks for the rest of the shard, or at most max_request_bytes"
            );
            assert!(!self.store.visible.contains_key(&req.shard.sha256));
            self.active.push(self.server.respond(&req, self.now));
        }
        assert!(self.active.len() <= self.cap, "parallel cap exceeded");
        assert_eq!(self.plan.progress().in_flight, self.active.len());
        self.max_in_flight = self.max_in_flight.max(self.active.len());
        if self.active.is_empty() {
            if self.plan.is_finished() {
                return false;
            }
            let due = self
                .plan
                .poll_timeout()
                .expect("a waiting shard has a due time");
            assert!(due > self.now, "a due shard would have been requested");
            self.now = due;
            return true;
        }
        let index = (self.steps as usize) % self.active.len();
        if self.deliver(index) {
            self.active.swap_remove(index);
        }
        self.now += 1;
        true
    }

    /// Delivers the next event of response `index`; `true` when the response is over.
    fn deliver(&mut self, index: usize) -> bool {
        let now = self.now;
        let r = &mut self.active[index];
        if !r.head_sent {
            r.head_sent = true;
            let head = ResponseHead {
                status: r.status,
                content_range: r.content_range.as_deref(),
                content_length: r.content_length,
            };
            return match self.plan.handle_response_head(r.id, head, now).unwrap() {
                HeadAction::ReadBody => false,
                HeadAction::RestartFromZero { shard } => {
                    self.store.discard(shard.sha256);
                    false
                }
                HeadAction::Cancel(f) => {
                    self.failed(f);
                    true
                }
            };
        }
        if r.pos < r.body.len() {
            let end = (r.pos + self.chunk).min(r.body.len());
            let chunk = r.body[r.pos..end].to_vec();
            r.pos = end;
            self.transferred += chunk.len() as u64;
            return match self.plan.handle_body_chunk(r.id, &chunk, now).unwrap() {
                ChunkAction::Persist { shard, offset, len } => {
                    assert_eq!(len, chunk.len() as u64);
                    self.store.persist(shard.sha256, offset, &chunk);
                    false
                }
                ChunkAction::Cancel(f) => {
                    self.failed(f);
                    true
                }
            };
        }
        let end = if r.cut {
            self.plan.handle_network_error(r.id, now)
        } else {
            self.plan.handle_body_end(r.id, now)
        };
        match end.unwrap() {
            EndAction::Verified { shard } => self.store.promote(shard),
            EndAction::Failed(f) => self.failed(f),
            EndAction::Continue { .. } => {}
            EndAction::Digest { .. } => panic!("the simulation's plans hash in the plan"),
        }
        true
    }

    fn failed(&mut self, f: RequestFailed) {
        if f.discard_staged {
            self.store.discard(f.shard.sha256);
        }
        self.failures.push((self.now, f));
    }

    fn causes(&self) -> Vec<&'static str> {
        self.failures.iter().map(|(_, f)| f.cause.code()).collect()
    }

    /// Asserts the download completed and readers see exactly the file.
    fn assert_file_intact(&self, fixture: &Fixture) {
        assert!(
            self.plan.is_complete(),
            "failure: {:?}",
            self.plan.failure()
        );
        assert_eq!(self.plan.failure(), None);
        let assembled = self.store.assemble(fixture).expect("every shard visible");
        assert!(
            assembled == fixture.file,
            "visible bytes differ from the file"
        );
        assert!(self.store.staged.is_empty(), "no staged leftovers");
        let entry = FileEntry {
            path: "model.onnx".parse().unwrap(),
            size: fixture.file.len() as u64,
            sha256: Sha256Digest::of(&fixture.file),
            shards: fixture.shards.clone(),
        };
        let mut assembly = FileAssembly::new(&entry);
        for piece in assembled.chunks(4096) {
            assembly.update(piece).unwrap();
        }
        assert_eq!(assembly.finish(), Ok(()));
        let p = self.plan.progress();
        assert_eq!(p.verified_bytes, fixture.unique_bytes());
        assert_eq!(p.done_bytes(), p.total_bytes);
    }
}

/// Retries are generous and backoff is short: transient faults never exhaust the bounds.
fn forgiving() -> DownloadConfig {
    DownloadConfig {
        max_parallel: 3,
        max_hash_failures: 16,
        max_failures_without_progress: 16,
        backoff_base_ms: 10,
        backoff_max_ms: 200,
        ..DownloadConfig::default()
    }
}

fn run_with_faults(fixture: &Fixture, faults: Vec<Option<Fault>>) -> Sim {
    let config = forgiving();
    let server = SimServer::new(fixture).with_faults(faults);
    let mut sim = Sim::new(fixture.plan(config), server, config);
    sim.run();
    sim
}

// ---------------------------------------------------------------------------------------------
// Behaviour, one fault at a time.

#[test]
fn downloads_a_file_without_faults_fetching_each_byte_once() {
    let fixture = Fixture::random(100_000, 16_384, 1);
    let sim = run_with_faults(&fixture, vec![]);
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.transferred, 100_000);
    assert_eq!(sim.server.log.len(), 7, "one request per shard");
    assert!(sim.failures.is_empty());
}

#[test]
fn empty_file_needs_no_request() {
    let fixture = Fixture::new(Vec::new(), 1024);
    let sim = run_with_faults(&fixture, vec![]);
    sim.assert_file_intact(&fixture);
    assert!(sim.server.log.is_empty());
}

#[test]
fn duplicate_shards_in_a_file_are_fetched_once() {
    let block = random_bytes(4096, 2);
    let file = [block.clone(), block.clone(), block, random_bytes(100, 3)].concat();
    let fixture = Fixture::new(file, 4096);
    assert_eq!(fixture.shards.len(), 4);
    let sim = run_with_faults(&fixture, vec![]);
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.server.log.len(), 2);
    assert_eq!(sim.transferred, 4196);
}

#[test]
fn resumes_from_stored_offset_after_connection_cut() {
    let fixture = Fixture::random(10_000, 10_000, 4);
    let sim = run_with_faults(&fixture, vec![Some(Fault::CutAfter(6_000))]);
    sim.assert_file_intact(&fixture);
    let starts: Vec<u64> = sim.server.log.iter().map(|s| s.range.start()).collect();
    assert_eq!(starts, [0, 6_000], "the second request starts at the cut");
    assert_eq!(sim.transferred, 10_000, "no byte fetched twice");
    assert_eq!(sim.causes(), ["download-interrupted"]);
}

#[test]
fn cuts_that_each_store_bytes_never_exhaust_the_retries() {
    let fixture = Fixture::random(3_000, 3_000, 19);
    let config = DownloadConfig::default();
    let faults = vec![Some(Fault::CutAfter(100)); 20];
    let mut sim = Sim::new(
        fixture.plan(config),
        SimServer::new(&fixture).with_faults(faults),
        config,
    );
    sim.run();
    sim.assert_file_intact(&fixture);
    assert_eq!(
        sim.server.log.len(),
        21,
        "20 cuts of 100 bytes, then the rest"
    );
    assert_eq!(sim.transferred, 3_000);
    let waited = sim.server.log.last().map(|s| s.at_ms).unwrap();
    assert!(
        waited < 100,
        "progress means no backoff (last request at {waited} ms)"
    );
}

#[test]
fn truncated_body_resumes_from_stored_offset() {
    let fixture = Fixture::random(5_000, 5_000, 5);
    let sim = run_with_faults(&fixture, vec![Some(Fault::Truncate(1_234))]);
    sim.assert_file_intact(&fixture);
    let starts: Vec<u64> = sim.server.log.iter().map(|s| s.range.start()).collect();
    assert_eq!(starts, [0, 1_234]);
    assert_eq!(sim.causes(), ["body-truncated"]);
}

#[test]
fn flipped_byte_is_refetched_from_zero_and_never_visible() {
    let fixture = Fixture::random(3_000, 3_000, 6);
    let sim = run_with_faults(&fixture, vec![Some(Fault::FlipByte(2_999))]);
    // `SimStore::promote` asserts that only bytes hashing right are ever made visible.
    sim.assert_file_intact(&fixture);
    let starts: Vec<u64> = sim.server.log.iter().map(|s| s.range.start()).collect();
    assert_eq!(starts, [0, 0]);
    assert_eq!(sim.causes(), ["shard-hash-mismatch"]);
    assert!(sim.failures[0].1.discard_staged);
}

#[test]
fn server_ignoring_range_mid_shard_restarts_it_from_zero() {
    let fixture = Fixture::random(8_000, 8_000, 7);
    let sim = run_with_faults(
        &fixture,
        vec![Some(Fault::CutAfter(3_000)), Some(Fault::IgnoreRange)],
    );
    sim.assert_file_intact(&fixture);
    let starts: Vec<u64> = sim.server.log.iter().map(|s| s.range.start()).collect();
    assert_eq!(starts, [0, 3_000], "the 200 answered a resume");
    assert_eq!(
        sim.transferred, 11_000,
        "the whole shard came again with the 200"
    );
}

#[test]
fn wrong_content_range_is_not_stored_and_is_retried() {
    let fixture = Fixture::random(2_000, 2_000, 8);
    let sim = run_with_faults(&fixture, vec![Some(Fault::WrongContentRange)]);
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.causes(), ["content-range-mismatch"]);
    assert_eq!(
        sim.transferred, 2_000,
        "the bad response's body was never read"
    );
}

#[test]
fn html_error_page_with_200_is_never_promoted() {
    let fixture = Fixture::random(2_000, 2_000, 9);
    let sim = run_with_faults(&fixture, vec![Some(Fault::HtmlPage)]);
    sim.assert_file_intact(&fixture);
    // The page is shorter than the shard: stored, resumed after, then caught by the hash.
    assert_eq!(sim.causes(), ["body-truncated", "shard-hash-mismatch"]);
}

#[test]
fn html_error_page_longer_than_the_shard_is_cut_off() {
    let fixture = Fixture::random(20, 20, 10);
    let sim = run_with_faults(&fixture, vec![Some(Fault::HtmlPage)]);
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.causes(), ["body-too-long"]);
}

#[test]
fn over_long_body_is_not_stored() {
    let fixture = Fixture::random(2_000, 2_000, 11);
    let sim = run_with_faults(&fixture, vec![Some(Fault::TooLong)]);
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.causes(), ["body-too-long"]);
    assert!(sim.failures[0].1.discard_staged);
}

#[test]
fn status_416_and_500_are_retried_after_backoff() {
    let fixture = Fixture::random(2_000, 2_000, 12);
    let sim = run_with_faults(
        &fixture,
        vec![Some(Fault::Status(416)), Some(Fault::Status(500))],
    );
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.causes(), ["range-unsatisfiable", "http-status"]);
    let times: Vec<u64> = sim.server.log.iter().map(|s| s.at_ms).collect();
    assert!(
        times[1] - times[0] >= 10 && times[2] - times[1] >= 20,
        "{times:?}"
    );
}

#[test]
fn persistent_404_gives_up_with_retries_exhausted_and_other_shards_complete() {
    let fixture = Fixture::random(3_000, 1_000, 13);
    let missing = fixture.shards[1].sha256;
    let config = DownloadConfig::default();
    let mut server = SimServer::new(&fixture);
    server.persistent.insert(missing, Fault::Status(404));
    let mut sim = Sim::new(fixture.plan(config), server, config);
    sim.run();
    let err = sim.plan.failure().expect("the plan gave up");
    assert_eq!(err.code(), "download-retries-exhausted");
    assert_eq!(err.last_cause_code(), Some("http-status"));
    assert_eq!(err.shard(), Some(missing));
    let tries = sim.server.log.iter().filter(|s| s.shard == missing).count();
    assert_eq!(tries, 5, "retries are bounded");
    assert!(!sim.store.visible.contains_key(&missing));
    assert_eq!(sim.store.visible.len(), 2, "the other shards complete");
    assert_eq!(sim.store.assemble(&fixture), None);
}

#[test]
fn backoff_delays_grow_and_are_bounded() {
    let fixture = Fixture::random(500, 500, 14);
    let config = DownloadConfig {
        max_failures_without_progress: 9,
        backoff_base_ms: 100,
        backoff_max_ms: 1_000,
        ..DownloadConfig::default()
    };
    let mut server = SimServer::new(&fixture);
    server
        .persistent
        .insert(fixture.shards[0].sha256, Fault::Status(503));
    let mut sim = Sim::new(fixture.plan(config), server, config);
    sim.run();
    let delays: Vec<u64> = sim
        .failures
        .iter()
        .filter_map(|(failed_at, f)| match f.next {
            NextAttempt::Retry { at_ms, .. } => Some(at_ms - failed_at),
            NextAttempt::GaveUp(_) => None,
        })
        .collect();
    assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
    let times: Vec<u64> = sim.server.log.iter().map(|s| s.at_ms).collect();
    assert_eq!(times.len(), 9, "retries are bounded");
    for (gap, delay) in times.windows(2).map(|w| w[1] - w[0]).zip(&delays) {
        assert!(gap >= *delay && gap <= delay + 2, "{times:?}");
    }
    assert!(matches!(
        sim.failures.last().map(|(_, f)| &f.next),
        Some(NextAttempt::GaveUp(DownloadError::RetriesExhausted {
            attempts: 9,
            ..
        }))
    ));
}

#[test]
fn parallel_cap_is_reached_but_never_exceeded() {
    let fixture = Fixture::random(12 * 700, 700, 15);
    for cap in [1, 3, 4] {
        let config = DownloadConfig {
            max_parallel: cap,
            ..DownloadConfig::default()
        };
        let mut sim = Sim::new(fixture.plan(config), SimServer::new(&fixture), config);
        sim.chunk = 100;
        sim.run(); // `Sim::step` asserts the cap at every step
        sim.assert_file_intact(&fixture);
        assert_eq!(sim.max_in_flight, cap);
    }
}

#[test]
fn persistent_corruption_ends_in_shard_hash_mismatch_naming_the_shard() {
    let fixture = Fixture::random(3_000, 1_000, 16);
    let bad = fixture.shards[2].sha256;
    let config = DownloadConfig::default();
    let mut server = SimServer::new(&fixture);
    server.persistent.insert(bad, Fault::FlipByte(7));
    let mut sim = Sim::new(fixture.plan(config), server, config);
    sim.run();
    let err = sim.plan.failure().expect("the plan gave up");
    assert_eq!(err.code(), "shard-hash-mismatch");
    assert_eq!(err.shard(), Some(bad));
    assert!(err.to_string().contains(&bad.to_hex()));
    assert_eq!(sim.server.log.iter().filter(|s| s.shard == bad).count(), 3);
    assert!(!sim.store.visible.contains_key(&bad));
    assert!(!sim.store.staged.contains_key(&bad));
}

#[test]
fn resumes_across_a_restart_without_refetching() {
    let fixture = Fixture::random(40_000, 10_000, 17);
    let config = DownloadConfig::default();
    let mut first = Sim::new(fixture.plan(config), SimServer::new(&fixture), config);
    first.chunk = 1_000;
    for _ in 0..30 {
        assert!(first.step());
    }
    // The service worker dies: in-flight responses are lost, the store survives.
    let staged_before: BTreeMap<_, _> = first
        .store
        .staged
        .iter()
        .map(|(k, v)| (*k, v.len() as u64))
        .collect();
    assert!(
        !staged_before.is_empty(),
        "the restart happens mid-download"
    );
    let Sim {
        server,
        mut store,
        now,
        transferred,
        ..
    } = first;
    let log_before = server.log.len();
    let plan = store.reseed(&fixture, config, 700);
    let mut second = Sim::new(plan, server, config);
    second.store = store;
    second.now = now;
    second.run();
    second.assert_file_intact(&fixture);
    for served in &second.server.log[log_before..] {
        if let Some(stored) = staged_before.get(&served.shard) {
            assert_eq!(
                served.range.start(),
                *stored,
                "resumed, not refetched from zero"
            );
        }
    }
    assert_eq!(transferred + second.transferred, 40_000);
}

#[test]
fn restart_with_a_fully_staged_shard_promotes_it_without_a_request() {
    let fixture = Fixture::random(4_000, 2_000, 18);
    let mut store = SimStore::default();
    let first = fixture.shards[0];
    store.persist(first.sha256, 0, &fixture.bytes[&first.sha256]);
    let plan = store.reseed(&fixture, DownloadConfig::default(), 512);
    assert!(store.visible.contains_key(&first.sha256));
    let mut sim = Sim::new(plan, SimServer::new(&fixture), DownloadConfig::default());
    sim.store = store;
    sim.run();
    sim.assert_file_intact(&fixture);
    assert_eq!(sim.server.log.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Properties.

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            any::<u64>().prop_map(Fault::CutAfter),
            any::<u64>().prop_map(Fault::Truncate),
            any::<u64>().prop_map(Fault::FlipByte),
            Just(Fault::IgnoreRange),
            Just(Fault::WrongContentRange),
            Just(Fault::HtmlPage),
            prop_oneof![Just(416u16), Just(500), Just(503), Just(404)].prop_map(Fault::Status),
            Just(Fault::TooLong),
        ]
    }

    /// A file of 0 to ~3 shards of 1 byte to 64 KiB.
    fn fixture() -> impl Strategy<Value = Fixture> {
        (1usize..=65_536, 0u32..=300, any::<u64>()).prop_map(|(shard, per_100, seed)| {
            let len = (shard * 3 * per_100 as usize) / 300;
            Fixture::random(len, shard, seed)
        })
    }

    fn chunk() -> impl Strategy<Value = usize> {
        prop_oneof![Just(1usize), 2usize..=64, Just(1_000), Just(16_384)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn any_transient_faults_still_yield_the_exact_file(
            fixture in fixture(),
            faults in prop::collection::vec(prop::option::weighted(0.7, fault()), 0..10),
            cap in 1usize..=4,
            chunk in chunk(),
            max_request in prop::option::of(1u64..20_000),
        ) {
            let config = DownloadConfig {
                max_parallel: cap,
                max_request_bytes: max_request.unwrap_or(0),
                ..forgiving()
            };
            let server = SimServer::new(&fixture).with_faults(faults);
            let mut sim = Sim::new(fixture.plan(config), server, config);
            // 1-byte chunks of 64 KiB shards would only make the test slow.
            sim.chunk = chunk.max(fixture.file.len() / 2_000);
            sim.run();
            sim.assert_file_intact(&fixture);
        }

        #[test]
        fn after_cuts_only_the_missing_bytes_are_requested(
            fixture in fixture(),
            cuts in prop::collection::vec(prop::option::of(any::<u64>()), 0..12),
            chunk in chunk(),
            max_request in prop::option::of(1u64..20_000),
        ) {
            let faults: Vec<_> = cuts.into_iter().map(|c| c.map(Fault::CutAfter)).collect();
            let config = DownloadConfig {
                max_request_bytes: max_request.unwrap_or(0),
                ..forgiving()
            };
            let server = SimServer::new(&fixture).with_faults(faults);
            let mut sim = Sim::new(fixture.plan(config), server, config);
            sim.chunk = chunk.max(fixture.file.len() / 2_000);
            sim.run(); // `Sim::step` asserts each request starts at the stored length
            sim.assert_file_intact(&fixture);
            prop_assert_eq!(sim.transferred, fixture.unique_bytes());
        }

        #[test]
        fn persistent_corruption_fails_only_that_shard(
            fixture in fixture().prop_filter("at least one shard", |f| !f.shards.is_empty()),
            pick in any::<prop::sample::Index>(),
            at in any::<u64>(),
        ) {
            let bad = fixture.shards[pick.index(fixture.shards.len())].sha256;
            let config = DownloadConfig { backoff_base_ms: 5, ..DownloadConfig::default() };
            let mut server = SimServer::new(&fixture);
            server.persistent.insert(bad, Fault::FlipByte(at));
            let mut sim = Sim::new(fixture.plan(config), server, config);
            sim.chunk = 4_096;
            sim.run();
            let failures: Vec<_> = sim.plan.failures().map(|(s, e)| (s.sha256, e.code())).collect();
            prop_assert_eq!(failures, vec![(bad, "shard-hash-mismatch")]);
            prop_assert!(!sim.store.visible.contains_key(&bad));
            for (sha, bytes) in &fixture.bytes {
                if *sha != bad {
                    prop_assert_eq!(sim.store.visible.get(sha), Some(bytes));
                }
            }
            prop_assert_eq!(sim.server.log.iter().filter(|s| s.shard == bad).count(), 3);
        }

        #[test]
        fn a_restart_at_any_point_resumes_without_refetching(
            fixture in fixture(),
            stop_after in 0u64..200,
            cuts in prop::collection::vec(prop::option::of(any::<u64>()), 0..6),
            reseed_chunk in 1usize..5_000,
        ) {
            let config = forgiving();
            let faults: Vec<_> = cuts.into_iter().map(|c| c.map(Fault::CutAfter)).collect();
            let server = SimServer::new(&fixture).with_faults(faults);
            let mut first = Sim::new(fixture.plan(config), server, config);
            first.chunk = 997;
            for _ in 0..stop_after {
                if !first.step() {
                    break;
                }
            }
            let Sim { server, mut store, now, transferred, .. } = first;
            let plan = store.reseed(&fixture, config, reseed_chunk);
            let mut second = Sim::new(plan, server, config);
            second.store = store;
            second.now = now;
            second.chunk = 997;
            second.run();
            second.assert_file_intact(&fixture);
            prop_assert_eq!(transferred + second.transferred, fixture.unique_bytes());
        }
    }
}
