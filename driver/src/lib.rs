//! The download driver: sequences `tessera-core`'s [`DownloadPlan`] against a network, a shard
//! store and a clock given as [`seams`]. It seeds the plan from staged bytes, runs up to
//! `max_parallel` shard requests at once, reads each body without pause while pieces are written
//! (network chunks coalesced into `chunk_size` pieces, one storage write each; on a cut,
//! whatever was received is written too), hashes each complete shard through the store (from
//! memory when this download staged it from byte 0), waits out backoffs on the clock, publishes
//! progress and speed measurements, and makes concurrent downloads of one host never fetch the
//! same shard at once ([`fetch_shards`]).
//!
//! It decides nothing on its own: ranges, checks, retries and verdicts are the plan's. It does
//! no IO itself and names no platform: the service worker plugs in `fetch`, OPFS/IndexedDB,
//! WebCrypto and `setTimeout`; tests plug in memory. The plan is fed lengths and digests
//! ([`Hashing::ByCaller`]), so the bytes stay in the platform's own buffers.
//!
//! [`install`] holds two sequences around it: the quota retry and garbage collection under
//! leases.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

use futures_util::future::{select, Either, LocalBoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt as _};
#[cfg(doc)]
use tessera_core::download::Hashing;
use tessera_core::download::{
    ChunkAction, DownloadPlan, EndAction, HeadAction, Request, RequestFailed, ResponseHead,
    SeedAction,
};
use tessera_core::manifest::ShardRef;
use tessera_core::{ErrorCode, Sha256Digest};

pub mod install;
pub mod seams;

pub use seams::{
    Body, Clock, DownloadHost, DownloadProgress, FetchError, Head, Piece, Reservation, Settings,
    ShardStore, Transport,
};

/// Failures of the driver itself (the plan's are [`tessera_core::download::DownloadError`]s,
/// the seams' are the host's own errors).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriverError {
    /// Shards other downloads of the host were fetching stayed missing after
    /// [`MAX_ROUNDS`] rounds of waiting for them and fetching what they left.
    OthersKeptFailing {
        /// The model being downloaded.
        model: String,
    },
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OthersKeptFailing { model } => write!(
                f,
                "shards of {model} that other downloads kept failing are still missing"
            ),
        }
    }
}

impl std::error::Error for DriverError {}

impl ErrorCode for DriverError {
    fn code(&self) -> &'static str {
        match self {
            Self::OthersKeptFailing { .. } => "download-others-failed",
        }
    }
}

/// Milliseconds a download waits for another one of the host to finish shards it needs, before
/// it checks again (polling).
pub const WAIT_MS: u64 = 50;
/// Rounds of "wait for others, then fetch what is still missing" before giving up: each round
/// either finishes or takes over the shards another download left.
pub const MAX_ROUNDS: usize = 8;

type PieceOf<H> = <<H as DownloadHost>::Store as ShardStore>::Piece;
type BodyOf<H> = <<H as DownloadHost>::Transport as Transport>::Body;
type ChunkOf<H> = <<H as DownloadHost>::Transport as Transport>::Chunk;
type ReadErrorOf<H> = <BodyOf<H> as Body>::ReadError;

/// What one turn of the body loop finished.
enum Step<C, E, R> {
    /// A piece was written (`false`: the plan cancelled the request).
    Written(Result<bool, E>),
    /// A body read returned.
    Read(Result<Option<C>, R>),
}

struct Driver<'a, H: DownloadHost> {
    host: &'a H,
    model: &'a str,
    plan: RefCell<DownloadPlan>,
    chunk_size: u64,
    base_done: u64,
    shards_base: usize,
    resumed: bool,
    /// The bytes of shards this download staged from byte 0, kept until the shard is hashed:
    /// the digest is then taken from memory instead of reading the files back (at most one
    /// shard per request in flight).
    staged: RefCell<HashMap<Sha256Digest, PieceOf<H>>>,
    /// Bytes this download received (every request together).
    received: Cell<u64>,
    /// `received` and the time when the last shard completed (or the download started): each
    /// completed shard records the bytes received since over the time since as a download
    /// speed measurement, so requests running in parallel count together.
    mark: Cell<(u64, u64)>,
    /// Whether this download recorded a speed measurement.
    measured: Cell<bool>,
}

/// Makes `shards` verified in the host's store for `model`: downloads those no other download
/// of this host is fetching (one [`DownloadPlan`] for them) and waits for the others — a file's
/// request and a whole-model install never fetch the same shard twice at once. `base_done`
/// bytes and `shards_total − shards.len()` shards of the model are already verified (progress).
pub async fn fetch_shards<H: DownloadHost>(
    host: &H,
    model: &str,
    shards: Vec<ShardRef>,
    base_done: u64,
    shards_total: usize,
) -> Result<(), H::Error> {
    for _ in 0..MAX_ROUNDS {
        let have = host.store().verified_shards().await?;
        let missing: Vec<ShardRef> = shards
            .iter()
            .filter(|s| !have.contains(&s.sha256.to_hex()))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let (mine, theirs) = host.reserve(&missing);
        if !mine.shards().is_empty() {
            run(host, model, mine.shards().to_vec(), base_done, shards_total).await?;
        }
        drop(mine);
        while host.any_downloading(&theirs) {
            host.clock().sleep(WAIT_MS).await;
        }
    }
    Err(DriverError::OthersKeptFailing {
        model: model.to_owned(),
    }
    .into())
}

/// Downloads `shards` (those the store lacks) for `model`. `base_done` bytes and
/// `shards_total − shards.len()` shards of the model are already verified (for progress).
async fn run<H: DownloadHost>(
    host: &H,
    model: &str,
    shards: Vec<ShardRef>,
    base_done: u64,
    shards_total: usize,
) -> Result<(), H::Error> {
    let settings = host.settings();
    let shards_base = shards_total.saturating_sub(shards.len());
    let mut plan = DownloadPlan::new(shards.iter().copied(), settings.download)?;
    let resumed = seed(host.store(), &mut plan, &shards).await?;
    let driver = Driver {
        host,
        model,
        plan: RefCell::new(plan),
        chunk_size: settings.chunk_size,
        base_done,
        shards_base,
        resumed,
        staged: RefCell::default(),
        received: Cell::new(0),
        mark: Cell::new((0, host.clock().now_ms())),
        measured: Cell::new(false),
    };
    let result = driver.drive().await;
    if driver.measured.get() {
        // Kept for the next instance of the worker (the browser stops idle workers): one
        // small write per download.
        if let Some(rate) = host.measured_speed() {
            let _ = host.put_download_speed(rate).await;
        }
    }
    result
}

/// Feeds the plan what the store holds; `true` when some staged bytes are resumed. A shard
/// staged whole (a worker stopped between its last write and its verification) is hashed now.
async fn seed<S: ShardStore>(
    store: &S,
    plan: &mut DownloadPlan,
    shards: &[ShardRef],
) -> Result<bool, S::Error>
where
    S::Error: From<tessera_core::download::DownloadError>,
{
    let mut resumed = false;
    for shard in shards {
        let Some(staged) = store.partial(&shard.sha256).await? else {
            continue;
        };
        let mut action = plan.seed_staged_len(shard.sha256, staged)?;
        if action == SeedAction::Digest {
            let bytes = store.read(&shard.sha256, staged).await?;
            let digest = store.sha256(&bytes).await?;
            action = plan.seed_digest(shard.sha256, digest)?;
        }
        match action {
            SeedAction::Resume { .. } => resumed = true,
            SeedAction::Verified => store.promote(shard.sha256, shard.size),
            SeedAction::Discard { .. } | SeedAction::Redundant | SeedAction::Digest => {
                store.discard(&shard.sha256).await?
            }
        }
    }
    Ok(resumed)
}

impl<H: DownloadHost> Driver<'_, H> {
    fn now(&self) -> u64 {
        self.host.clock().now_ms()
    }

    async fn drive(&self) -> Result<(), H::Error> {
        let mut tasks = FuturesUnordered::new();
        loop {
            let now = self.now();
            while let Some(req) = self.plan.borrow_mut().poll_request(now) {
                tasks.push(self.fetch(req));
            }
            let (finished, due) = {
                let plan = self.plan.borrow();
                (plan.is_finished(), plan.poll_timeout())
            };
            if tasks.is_empty() {
                if finished {
                    break;
                }
                let Some(due) = due else { break };
                self.host.clock().sleep(wait_ms(due, now)).await;
                continue;
            }
            let done = match due.filter(|d| *d > now) {
                Some(due) => {
                    match select(tasks.next(), self.host.clock().sleep(wait_ms(due, now))).await {
                        Either::Left((done, _)) => done,
                        Either::Right(_) => None,
                    }
                }
                None => tasks.next().await,
            };
            if let Some(result) = done {
                result?;
            }
        }
        let plan = self.plan.borrow();
        if let Some(failure) = plan.failure() {
            return Err(failure.clone().into());
        }
        Ok(())
    }

    fn progress(&self, force: bool) {
        let p = self.plan.borrow().progress();
        self.host.update_status(
            self.model,
            force,
            DownloadProgress {
                base_done: self.base_done,
                bytes_done: self.base_done + p.done_bytes(),
                shards_done: self.shards_base + p.shards_verified,
                in_flight: p.in_flight,
                resumed: self.resumed,
            },
        );
    }

    /// One request: fetch, feed the plan, carry out its actions. `Err` only for failures that
    /// end the whole download (storage, auth, plan misuse).
    async fn fetch(&self, req: Request) -> Result<(), H::Error> {
        let url = self.host.shard_url(&req.shard.sha256);
        let range = req.range.header_value();
        // Storage opens the first piece's file while the network answers.
        self.host
            .store()
            .prepare(req.shard.sha256, req.range.start());
        let (head, mut body) = match self.host.transport().get(&url, Some(&range)).await {
            Ok(response) => response,
            Err(FetchError::Network(_)) => {
                let end = self
                    .plan
                    .borrow_mut()
                    .handle_network_error(req.id, self.now())?;
                return self.apply_end(end).await;
            }
            Err(FetchError::Other(e)) => return Err(e),
        };
        let head = ResponseHead {
            status: head.status,
            content_range: head.content_range.as_deref(),
            content_length: head.content_length,
        };
        let action = self
            .plan
            .borrow_mut()
            .handle_response_head(req.id, head, self.now())?;
        match action {
            HeadAction::ReadBody => {}
            HeadAction::RestartFromZero { shard } => {
                self.staged.borrow_mut().remove(&shard.sha256);
                self.host.store().discard(&shard.sha256).await?
            }
            HeadAction::Cancel(f) => return self.apply_failed(f).await,
        }
        self.read_body(&req, &mut body).await
    }

    /// Reads the body without pause while pieces are written: arriving bytes queue in the
    /// platform's buffers (at most the rest of one shard, which is all a request asks for),
    /// `chunk_size` pieces are written one at a time, in order. Reading never waits for a
    /// write, so what was received is in the queue when the connection fails; it is written
    /// before the plan schedules the resume, and a cut costs at most what the platform itself
    /// dropped.
    async fn read_body(&self, req: &Request, body: &mut BodyOf<H>) -> Result<(), H::Error> {
        let mut queue = PieceOf::<H>::default();
        let mut ended: Option<bool> = None; // Some(clean end?)
        let mut writing: Option<LocalBoxFuture<'_, Result<bool, H::Error>>> = None;
        loop {
            if writing.is_none() {
                let piece = if queue.len() >= self.chunk_size {
                    // Every whole chunk queued while the last write ran, in one write: fewer
                    // storage operations when storage lags the network. A cut still costs at
                    // most what the platform dropped (the queue is written before the resume).
                    let whole = queue.len() - queue.len() % self.chunk_size;
                    Some(queue.take_front(whole))
                } else if ended.is_some() && !queue.is_empty() {
                    Some(std::mem::take(&mut queue))
                } else {
                    None
                };
                if let Some(piece) = piece {
                    writing = Some(Box::pin(self.persist(req, piece)));
                }
            }
            let step: Step<ChunkOf<H>, H::Error, ReadErrorOf<H>> =
                match (writing.as_mut(), ended.is_none()) {
                    (None, false) => break,
                    (Some(w), false) => Step::Written(w.await),
                    (None, true) => Step::Read(body.next_chunk().await),
                    // Dropping an unfinished read loses nothing (see `Body::next_chunk`).
                    (Some(w), true) => match select(w, body.next_chunk()).await {
                        Either::Left((written, _)) => Step::Written(written),
                        Either::Right((read, _)) => Step::Read(read),
                    },
                };
            match step {
                Step::Written(written) => {
                    writing = None;
                    if !written? {
                        return Ok(());
                    }
                }
                Step::Read(Ok(Some(chunk))) => queue.push(chunk),
                Step::Read(Ok(None)) => ended = Some(true),
                // Keep what arrived: the next request resumes after it.
                Step::Read(Err(_)) => ended = Some(false),
            }
        }
        let end = if ended == Some(true) {
            self.plan.borrow_mut().handle_body_end(req.id, self.now())?
        } else {
            self.plan
                .borrow_mut()
                .handle_network_error(req.id, self.now())?
        };
        self.apply_end(end).await
    }

    /// Feeds `piece`'s length to the plan and stores it; `false` when the plan cancelled the
    /// request.
    async fn persist(&self, req: &Request, piece: PieceOf<H>) -> Result<bool, H::Error> {
        if piece.is_empty() {
            return Ok(true);
        }
        let action = self
            .plan
            .borrow_mut()
            .handle_body_len(req.id, piece.len(), self.now())?;
        match action {
            ChunkAction::Persist { shard, offset, .. } => {
                self.received.set(self.received.get() + piece.len());
                self.host
                    .store()
                    .persist(&shard.sha256, offset, &piece)
                    .await?;
                self.keep_staged(shard.sha256, offset, piece);
                self.progress(false);
                Ok(true)
            }
            ChunkAction::Cancel(f) => {
                self.apply_failed(f).await?;
                Ok(false)
            }
        }
    }

    async fn apply_end(&self, end: EndAction) -> Result<(), H::Error> {
        match end {
            EndAction::Verified { shard } => {
                self.host.store().promote(shard.sha256, shard.size);
                self.measure();
                self.progress(true);
                Ok(())
            }
            EndAction::Continue { .. } => {
                self.progress(false);
                Ok(())
            }
            EndAction::Digest { shard } => {
                let kept = self.staged.borrow_mut().remove(&shard.sha256);
                let store = self.host.store();
                let bytes = match kept {
                    Some(piece) if piece.len() == shard.size => piece.into_whole(),
                    _ => store.read(&shard.sha256, shard.size).await?,
                };
                let digest = store.sha256(&bytes).await?;
                drop(bytes);
                let verdict =
                    self.plan
                        .borrow_mut()
                        .handle_digest(shard.sha256, digest, self.now())?;
                Box::pin(self.apply_end(verdict)).await
            }
            EndAction::Failed(f) => self.apply_failed(f).await,
        }
    }

    /// A shard completed: records the bytes received since the last completion over the time
    /// since as one download speed measurement.
    fn measure(&self) {
        let now = self.now();
        let received = self.received.get();
        let (bytes, at) = self.mark.replace((received, now));
        if received > bytes {
            self.host
                .record_download(received - bytes, now.saturating_sub(at));
            self.measured.set(true);
        }
    }

    /// Remembers a stored piece of a shard staged from byte 0 in this download.
    fn keep_staged(&self, sha: Sha256Digest, offset: u64, piece: PieceOf<H>) {
        let mut staged = self.staged.borrow_mut();
        match staged.get_mut(&sha) {
            Some(kept) if kept.len() == offset => kept.append(piece),
            _ if offset == 0 => {
                staged.insert(sha, piece);
            }
            _ => {
                staged.remove(&sha);
            }
        }
    }

    async fn apply_failed(&self, f: RequestFailed) -> Result<(), H::Error> {
        if f.discard_staged {
            self.staged.borrow_mut().remove(&f.shard.sha256);
            self.host.store().discard(&f.shard.sha256).await?;
        }
        self.progress(false);
        Ok(())
    }
}

/// Milliseconds from `now` until `due`, at least 1.
fn wait_ms(due: u64, now: u64) -> u64 {
    due.saturating_sub(now).max(1)
}
