//! In-memory backends for the driver's native tests: a fake clock that advances only when every
//! task waits on it, a scripted transport (206/200 answers, cuts, ignored ranges, corrupt bytes,
//! network errors, HTML), an in-memory shard store (with a quota) and a host that records what
//! the driver reported. They decide nothing: the driver and the plan under test do.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::LocalBoxFuture;
use tessera_core::download::{DownloadConfig, DownloadError, Hashing};
use tessera_core::manifest::ShardRef;
use tessera_core::{ErrorCode, Sha256Digest};
use tessera_driver::install::{CollectHost, InstallHost, InstallStart, QuotaHost};
use tessera_driver::seams::Fetching;
use tessera_driver::{
    Body, Clock, DownloadHost, DownloadProgress, DriverError, FetchError, Head, Reservation,
    Settings, ShardStore, Transport,
};

/// Milliseconds every response head takes to arrive.
pub const LATENCY_MS: u64 = 10;
/// Bytes per body chunk the transport delivers.
pub const NET_CHUNK: usize = 1000;
/// Bytes per storage write (and per request, as in the service worker's config).
pub const CHUNK_SIZE: u64 = 4096;

// ---------------------------------------------------------------------------------------------
// Clock

#[derive(Debug, Default)]
struct ClockState {
    now: Cell<u64>,
    next_id: Cell<u64>,
    timers: RefCell<BTreeMap<(u64, u64), Waker>>,
}

/// A clock that stands still until every task waits on it; then it jumps to the earliest timer.
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Rc<ClockState>);

impl FakeClock {
    /// Fires the earliest timer (moving "now" to its due time); `false` when none is set.
    fn advance(&self) -> bool {
        let first = self.0.timers.borrow_mut().pop_first();
        match first {
            Some(((due, _), waker)) => {
                self.0.now.set(self.0.now.get().max(due));
                waker.wake();
                true
            }
            None => false,
        }
    }
}

struct Sleep {
    clock: FakeClock,
    key: (u64, u64),
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.0.now.get() >= self.key.0 {
            self.clock.0.timers.borrow_mut().remove(&self.key);
            return Poll::Ready(());
        }
        self.clock
            .0
            .timers
            .borrow_mut()
            .insert(self.key, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.clock.0.timers.borrow_mut().remove(&self.key);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.now.get()
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        Box::pin(Sleep {
            clock: self.clone(),
            key: (self.0.now.get() + ms, id),
        })
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `fut` to completion on this thread; whenever nothing can proceed, the clock jumps to
/// its next timer. Panics on a deadlock (nothing to do and no timer).
pub fn block_on<F: Future>(clock: &FakeClock, fut: F) -> F::Output {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        if !flag.0.load(Ordering::SeqCst) {
            assert!(clock.advance(), "deadlock: nothing to run and no timer set");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Every failure of the test backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    Plan(DownloadError),
    Driver(DriverError),
    Quota,
    /// The `quota` error of a second refusal, with the bytes that did not fit.
    QuotaNeeded(u64),
    Network,
    Auth,
    Store(&'static str),
}

impl From<DownloadError> for TestError {
    fn from(e: DownloadError) -> Self {
        Self::Plan(e)
    }
}

impl From<DriverError> for TestError {
    fn from(e: DriverError) -> Self {
        Self::Driver(e)
    }
}

impl TestError {
    /// The stable code, as the service worker would report it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Plan(e) => e.code(),
            Self::Driver(e) => e.code(),
            Self::Quota | Self::QuotaNeeded(_) => "quota",
            Self::Network => "network",
            Self::Auth => "auth-failed",
            Self::Store(_) => "store-failed",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shards

/// Deterministic bytes of a test shard.
pub fn shard_bytes(seed: u8, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A shard on the test server.
#[derive(Debug, Clone)]
pub struct Shard {
    pub shard: ShardRef,
    pub bytes: Vec<u8>,
}

impl Shard {
    pub fn new(seed: u8, size: usize) -> Self {
        let bytes = shard_bytes(seed, size);
        Self {
            shard: ShardRef {
                sha256: Sha256Digest::of(&bytes),
                size: size as u64,
            },
            bytes,
        }
    }

    pub fn sha(&self) -> Sha256Digest {
        self.shard.sha256
    }
}

// ---------------------------------------------------------------------------------------------
// Transport

/// How the server answers one request for a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A correct `206`.
    Normal,
    /// A correct `206` head, then the connection fails after `n` body bytes.
    Cut(usize),
    /// `200` with the whole shard (the `Range` header ignored).
    IgnoreRange,
    /// A `206` whose first body byte is flipped.
    Corrupt,
    /// The fetch rejects (offline).
    Network,
    /// `200` with an HTML page and no `Content-Length` (an SPA fallback).
    Html,
    /// The fetch fails with an error that ends the download (auth refused).
    Auth,
}

/// One request the transport answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub sha: Sha256Digest,
    pub range: String,
    /// When the request was made.
    pub at: u64,
    /// When its head (or failure) was answered.
    pub answered: u64,
}

#[derive(Debug, Default)]
pub struct ServerState {
    shards: HashMap<Sha256Digest, Vec<u8>>,
    urls: HashMap<String, Sha256Digest>,
    faults: HashMap<Sha256Digest, VecDeque<Fault>>,
    pub requests: Vec<Seen>,
    /// Body bytes delivered, per shard.
    pub sent: HashMap<Sha256Digest, u64>,
}

/// A scripted artifact server.
#[derive(Debug, Clone)]
pub struct ScriptedTransport {
    clock: FakeClock,
    pub state: Rc<RefCell<ServerState>>,
}

pub fn url_of(sha: &Sha256Digest) -> String {
    format!("https://artifacts.test/shards/{}", sha.to_hex())
}

impl ScriptedTransport {
    pub fn new(clock: FakeClock, shards: &[Shard]) -> Self {
        let mut state = ServerState::default();
        for s in shards {
            state.shards.insert(s.sha(), s.bytes.clone());
            state.urls.insert(url_of(&s.sha()), s.sha());
        }
        Self {
            clock,
            state: Rc::new(RefCell::new(state)),
        }
    }

    /// Answers the next requests for `sha` as `faults` say (then normally).
    pub fn script(&self, sha: Sha256Digest, faults: &[Fault]) {
        self.state
            .borrow_mut()
            .faults
            .entry(sha)
            .or_default()
            .extend(faults.iter().copied());
    }

    pub fn sent(&self, sha: &Sha256Digest) -> u64 {
        self.state.borrow().sent.get(sha).copied().unwrap_or(0)
    }

    pub fn requests_for(&self, sha: &Sha256Digest) -> Vec<Seen> {
        self.state
            .borrow()
            .requests
            .iter()
            .filter(|r| r.sha == *sha)
            .cloned()
            .collect()
    }
}

fn parse_range(range: &str, size: usize) -> (usize, usize) {
    let spec = range.strip_prefix("bytes=").unwrap();
    let (a, b) = spec.split_once('-').unwrap();
    let start: usize = a.parse().unwrap();
    let end: usize = if b.is_empty() {
        size - 1
    } else {
        b.parse().unwrap()
    };
    (start, end.min(size - 1))
}

/// A scripted body: chunks of [`NET_CHUNK`] bytes, then the end or a cut.
#[derive(Debug)]
pub struct ScriptedBody {
    data: Vec<u8>,
    at: usize,
    cut_after: Option<usize>,
    sha: Sha256Digest,
    state: Rc<RefCell<ServerState>>,
}

impl Body for ScriptedBody {
    type Chunk = Vec<u8>;
    type ReadError = TestError;

    fn next_chunk(&mut self) -> LocalBoxFuture<'_, Result<Option<Vec<u8>>, TestError>> {
        // Taken when polled, not when asked for: a read dropped unpolled loses nothing.
        Box::pin(async move {
            let limit = self
                .cut_after
                .unwrap_or(self.data.len())
                .min(self.data.len());
            if self.at >= limit {
                return if self.cut_after.is_some() {
                    Err(TestError::Network)
                } else {
                    Ok(None)
                };
            }
            let end = (self.at + NET_CHUNK).min(limit);
            let chunk = self.data[self.at..end].to_vec();
            self.at = end;
            *self.state.borrow_mut().sent.entry(self.sha).or_default() += chunk.len() as u64;
            Ok(Some(chunk))
        })
    }
}

impl Transport for ScriptedTransport {
    type Error = TestError;
    type Chunk = Vec<u8>;
    type Body = ScriptedBody;

    fn get<'a>(
        &'a self,
        url: &'a str,
        range: Option<&'a str>,
    ) -> Fetching<'a, ScriptedBody, TestError> {
        Box::pin(async move {
            let at = self.clock.now_ms();
            let (sha, fault) = {
                let mut state = self.state.borrow_mut();
                let sha = *state.urls.get(url).expect("known url");
                let fault = state
                    .faults
                    .get_mut(&sha)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(Fault::Normal);
                (sha, fault)
            };
            self.clock.sleep(LATENCY_MS).await;
            let answered = self.clock.now_ms();
            let range = range.expect("the driver always sends a Range").to_owned();
            self.state.borrow_mut().requests.push(Seen {
                sha,
                range: range.clone(),
                at,
                answered,
            });
            let whole = self.state.borrow().shards[&sha].clone();
            let (start, end) = parse_range(&range, whole.len());
            let partial = |data: Vec<u8>, cut_after| {
                let head = Head {
                    status: 206,
                    content_range: Some(format!("bytes {start}-{end}/{}", whole.len())),
                    content_length: Some(data.len() as u64),
                };
                (head, data, cut_after)
            };
            let (head, data, cut_after) = match fault {
                Fault::Network => return Err(FetchError::Network(TestError::Network)),
                Fault::Auth => return Err(FetchError::Other(TestError::Auth)),
                Fault::Normal => partial(whole[start..=end].to_vec(), None),
                Fault::Cut(n) => partial(whole[start..=end].to_vec(), Some(n)),
                Fault::Corrupt => {
                    let mut data = whole[start..=end].to_vec();
                    data[0] ^= 0xff;
                    partial(data, None)
                }
                Fault::IgnoreRange => (
                    Head {
                        status: 200,
                        content_range: None,
                        content_length: Some(whole.len() as u64),
                    },
                    whole.clone(),
                    None,
                ),
                Fault::Html => (
                    Head {
                        status: 200,
                        content_range: None,
                        content_length: None,
                    },
                    b"<!doctype html><html><body>Not the shard</body></html>".to_vec(),
                    None,
                ),
            };
            let body = ScriptedBody {
                data,
                at: 0,
                cut_after,
                sha,
                state: self.state.clone(),
            };
            Ok((head, body))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Store

#[derive(Debug, Default)]
pub struct StoreState {
    pub staged: HashMap<Sha256Digest, Vec<u8>>,
    pub verified: BTreeSet<String>,
    /// Every write: (shard, offset, first bytes of the piece).
    pub writes: Vec<(Sha256Digest, u64, Vec<u8>)>,
    pub discards: Vec<Sha256Digest>,
    pub promotions: Vec<Sha256Digest>,
    /// Promotions of bytes that do not hash to their name (must stay empty).
    pub bad_promotions: Vec<Sha256Digest>,
    pub hashed: usize,
    pub reads: usize,
    /// Most bytes the store may hold (staged and verified together).
    pub quota: Option<u64>,
    /// Each write takes this long on this clock (storage slower than the network).
    pub write_delay: Option<(FakeClock, u64)>,
}

/// An in-memory shard store; promotions are checked against the bytes' real digest.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(pub Rc<RefCell<StoreState>>);

impl MemoryStore {
    /// Stages `bytes` for `sha` as an earlier run would have left them.
    pub fn stage(&self, sha: Sha256Digest, bytes: &[u8]) {
        self.0.borrow_mut().staged.insert(sha, bytes.to_vec());
    }

    pub fn is_verified(&self, sha: &Sha256Digest) -> bool {
        self.0.borrow().verified.contains(&sha.to_hex())
    }

    pub fn bytes_of(&self, sha: &Sha256Digest) -> Option<Vec<u8>> {
        self.0.borrow().staged.get(sha).cloned()
    }

    fn used(&self) -> u64 {
        self.0
            .borrow()
            .staged
            .values()
            .map(|v| v.len() as u64)
            .sum()
    }
}

impl ShardStore for MemoryStore {
    type Error = TestError;
    type Piece = Vec<u8>;

    fn verified_shards(&self) -> LocalBoxFuture<'_, Result<BTreeSet<String>, TestError>> {
        Box::pin(std::future::ready(Ok(self.0.borrow().verified.clone())))
    }

    fn partial<'a>(
        &'a self,
        sha: &'a Sha256Digest,
    ) -> LocalBoxFuture<'a, Result<Option<u64>, TestError>> {
        let len = self.0.borrow().staged.get(sha).map(|b| b.len() as u64);
        Box::pin(std::future::ready(Ok(len)))
    }

    fn prepare(&self, _sha: Sha256Digest, _offset: u64) {}

    fn persist<'a>(
        &'a self,
        sha: &'a Sha256Digest,
        offset: u64,
        piece: &'a Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<(), TestError>> {
        let sha = *sha;
        Box::pin(async move {
            let delay = self.0.borrow().write_delay.clone();
            if let Some((clock, ms)) = delay {
                clock.sleep(ms).await;
            }
            let quota = self.0.borrow().quota;
            if let Some(quota) = quota {
                let replaced = if offset == 0 {
                    self.bytes_of(&sha).map_or(0, |b| b.len() as u64)
                } else {
                    0
                };
                if self.used() - replaced + piece.len() as u64 > quota {
                    return Err(TestError::Quota);
                }
            }
            let mut state = self.0.borrow_mut();
            state
                .writes
                .push((sha, offset, piece[..piece.len().min(16)].to_vec()));
            let staged = state.staged.entry(sha).or_default();
            if offset == 0 {
                staged.clear();
            }
            if staged.len() as u64 != offset {
                return Err(TestError::Store("write past the staged bytes"));
            }
            staged.extend_from_slice(piece);
            Ok(())
        })
    }

    fn discard<'a>(&'a self, sha: &'a Sha256Digest) -> LocalBoxFuture<'a, Result<(), TestError>> {
        let sha = *sha;
        let mut state = self.0.borrow_mut();
        state.staged.remove(&sha);
        state.verified.remove(&sha.to_hex());
        state.discards.push(sha);
        Box::pin(std::future::ready(Ok(())))
    }

    fn promote(&self, sha: Sha256Digest, size: u64) {
        let mut state = self.0.borrow_mut();
        let good = state
            .staged
            .get(&sha)
            .is_some_and(|b| b.len() as u64 == size && Sha256Digest::of(b) == sha);
        if !good {
            state.bad_promotions.push(sha);
        }
        state.promotions.push(sha);
        state.verified.insert(sha.to_hex());
    }

    fn read<'a>(
        &'a self,
        sha: &'a Sha256Digest,
        len: u64,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, TestError>> {
        let sha = *sha;
        let mut state = self.0.borrow_mut();
        state.reads += 1;
        let result = match state.staged.get(&sha) {
            Some(b) if b.len() as u64 >= len => Ok(b[..len as usize].to_vec()),
            _ => Err(TestError::Store("read past the staged bytes")),
        };
        Box::pin(std::future::ready(result))
    }

    fn sha256<'a>(
        &'a self,
        bytes: &'a Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<Sha256Digest, TestError>> {
        self.0.borrow_mut().hashed += 1;
        Box::pin(std::future::ready(Ok(Sha256Digest::of(bytes))))
    }
}

// ---------------------------------------------------------------------------------------------
// Host

/// Shards reserved by one download of a [`TestHost`].
#[derive(Debug)]
pub struct TestReservation {
    shards: Vec<ShardRef>,
    set: Rc<RefCell<HashSet<Sha256Digest>>>,
}

impl Reservation for TestReservation {
    fn shards(&self) -> &[ShardRef] {
        &self.shards
    }
}

impl Drop for TestReservation {
    fn drop(&mut self) {
        let mut set = self.set.borrow_mut();
        for s in &self.shards {
            set.remove(&s.sha256);
        }
    }
}

/// The host: the three backends plus what the driver reported.
#[derive(Debug)]
pub struct TestHost {
    pub clock: FakeClock,
    pub transport: ScriptedTransport,
    pub store: MemoryStore,
    pub settings: Settings,
    pub progress: RefCell<Vec<DownloadProgress>>,
    pub speeds: RefCell<Vec<(u64, u64)>>,
    pub saved_speed: Cell<Option<f64>>,
    downloading: Rc<RefCell<HashSet<Sha256Digest>>>,
    /// `make_room` calls: (to_free, needed).
    pub room_asked: RefCell<Vec<(u64, u64)>>,
    /// The quota `make_room` leaves (`None`: it cannot free anything and fails).
    pub room_after: Cell<Option<u64>>,
    /// Shards the kept manifests reference (hex).
    pub referenced: RefCell<BTreeSet<String>>,
    /// Shards open responses stream (hex).
    pub leased: RefCell<Vec<String>>,
    pub gc_deferred: Cell<bool>,
    /// The version the host serves (what its model record calls active).
    pub active: RefCell<String>,
    /// `active` at each status the driver published, with what it published.
    pub seen: RefCell<Vec<(String, &'static str)>>,
}

/// The service worker's plan settings (caller hashing, one request per chunk) with `parallel`
/// requests at once.
pub fn settings(parallel: usize) -> Settings {
    Settings {
        download: DownloadConfig {
            max_parallel: parallel,
            hashing: Hashing::ByCaller,
            max_request_bytes: CHUNK_SIZE,
            ..DownloadConfig::default()
        },
        chunk_size: CHUNK_SIZE,
    }
}

impl TestHost {
    pub fn new(shards: &[Shard]) -> Self {
        let clock = FakeClock::default();
        Self {
            transport: ScriptedTransport::new(clock.clone(), shards),
            clock,
            store: MemoryStore::default(),
            settings: settings(2),
            progress: RefCell::default(),
            speeds: RefCell::default(),
            saved_speed: Cell::new(None),
            downloading: Rc::default(),
            room_asked: RefCell::default(),
            room_after: Cell::new(None),
            referenced: RefCell::default(),
            leased: RefCell::default(),
            gc_deferred: Cell::new(false),
            active: RefCell::default(),
            seen: RefCell::default(),
        }
    }

    fn note(&self, what: &'static str) {
        let active = self.active.borrow().clone();
        self.seen.borrow_mut().push((active, what));
    }

    /// The fake clock's "now".
    pub fn clock_now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// `fetch_shards` of `shards` (as the only download), run to its end.
    pub fn fetch(&self, shards: &[&Shard]) -> Result<(), TestError> {
        let refs: Vec<ShardRef> = shards.iter().map(|s| s.shard).collect();
        let total = refs.len();
        block_on(
            &self.clock,
            tessera_driver::fetch_shards(self, "demo", refs, 0, total),
        )
    }
}

impl DownloadHost for TestHost {
    type Error = TestError;
    type Clock = FakeClock;
    type Transport = ScriptedTransport;
    type Store = MemoryStore;
    type Reservation = TestReservation;

    fn clock(&self) -> &FakeClock {
        &self.clock
    }

    fn transport(&self) -> &ScriptedTransport {
        &self.transport
    }

    fn store(&self) -> &MemoryStore {
        &self.store
    }

    fn settings(&self) -> Settings {
        self.settings
    }

    fn shard_url(&self, sha: &Sha256Digest) -> String {
        url_of(sha)
    }

    fn update_status(&self, _model: &str, _force: bool, progress: DownloadProgress) {
        self.note("progress");
        self.progress.borrow_mut().push(progress);
    }

    fn record_download(&self, bytes: u64, ms: u64) {
        self.speeds.borrow_mut().push((bytes, ms));
    }

    fn measured_speed(&self) -> Option<f64> {
        let speeds = self.speeds.borrow();
        let (bytes, ms) = speeds
            .iter()
            .fold((0, 0), |(b, m), (b2, m2)| (b + b2, m + m2));
        (ms > 0).then(|| bytes as f64 * 1000.0 / ms as f64)
    }

    fn put_download_speed(&self, rate: f64) -> LocalBoxFuture<'_, Result<(), TestError>> {
        self.saved_speed.set(Some(rate));
        Box::pin(std::future::ready(Ok(())))
    }

    fn reserve(&self, shards: &[ShardRef]) -> (TestReservation, Vec<ShardRef>) {
        let mut set = self.downloading.borrow_mut();
        let (theirs, mine): (Vec<ShardRef>, Vec<ShardRef>) =
            shards.iter().partition(|s| set.contains(&s.sha256));
        for s in &mine {
            set.insert(s.sha256);
        }
        (
            TestReservation {
                shards: mine,
                set: self.downloading.clone(),
            },
            theirs,
        )
    }

    fn any_downloading(&self, shards: &[ShardRef]) -> bool {
        let set = self.downloading.borrow();
        shards.iter().any(|s| set.contains(&s.sha256))
    }
}

impl QuotaHost for TestHost {
    fn is_quota(e: &TestError) -> bool {
        e.code() == "quota"
    }

    fn settle_promotions(&self) -> LocalBoxFuture<'_, Result<(), TestError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn make_room<'a>(
        &'a self,
        _model: &'a str,
        to_free: u64,
        needed: u64,
    ) -> LocalBoxFuture<'a, Result<(), TestError>> {
        self.room_asked.borrow_mut().push((to_free, needed));
        let result = match self.room_after.get() {
            Some(quota) => {
                self.store.0.borrow_mut().quota = Some(quota);
                Ok(())
            }
            None => Err(TestError::Quota),
        };
        Box::pin(std::future::ready(result))
    }

    fn quota_error<'a>(&'a self, _model: &'a str, needed: u64) -> LocalBoxFuture<'a, TestError> {
        Box::pin(std::future::ready(TestError::QuotaNeeded(needed)))
    }
}

impl CollectHost for TestHost {
    type Error = TestError;

    fn referenced_shards(&self) -> LocalBoxFuture<'_, Result<BTreeSet<String>, TestError>> {
        Box::pin(std::future::ready(Ok(self.referenced.borrow().clone())))
    }

    fn leased_shards(&self) -> Vec<String> {
        self.leased.borrow().clone()
    }

    fn defer_gc(&self) {
        self.gc_deferred.set(true);
    }

    fn delete_all_but<'a>(
        &'a self,
        keep: &'a BTreeSet<String>,
    ) -> LocalBoxFuture<'a, Result<usize, TestError>> {
        let mut state = self.store.0.borrow_mut();
        let mut dead: BTreeSet<String> = state.verified.clone();
        dead.extend(state.staged.keys().map(Sha256Digest::to_hex));
        dead.retain(|k| !keep.contains(k));
        state.verified.retain(|k| keep.contains(k));
        state.staged.retain(|sha, _| keep.contains(&sha.to_hex()));
        Box::pin(std::future::ready(Ok(dead.len())))
    }
}

impl InstallHost for TestHost {
    fn fit<'a>(
        &'a self,
        _model: &'a str,
        missing: &'a [ShardRef],
    ) -> LocalBoxFuture<'a, Result<u64, TestError>> {
        Box::pin(async move {
            let (staged, _) =
                tessera_driver::install::staged_and_needed(&self.store, missing).await?;
            Ok(staged)
        })
    }

    fn downloading(&self, _model: &str, _start: InstallStart) {
        self.note("downloading");
    }

    fn verifying(&self, _model: &str, _bytes_total: u64, _shards_total: usize) {
        self.note("verifying");
    }

    fn lost_shard(&self, _shard: &Sha256Digest) -> TestError {
        TestError::Store("lost shard")
    }

    fn collect_garbage(&self) -> LocalBoxFuture<'_, Result<usize, TestError>> {
        Box::pin(tessera_driver::install::collect_garbage(self))
    }
}
