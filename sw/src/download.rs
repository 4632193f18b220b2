//! Drives `tessera-core`'s [`DownloadPlan`] against the network and the store: seeds it from
//! staged bytes, runs up to `concurrency` shard requests at once, reads each body without pause
//! while pieces are written (network chunks coalesced into `chunkSize` pieces, one storage write
//! each; on a cut, whatever was received is written too), hashes each complete shard with
//! WebCrypto over its stored bytes, waits out backoffs with timers, and publishes progress.
//! The bytes stay JS arrays: the plan is fed their lengths and digests ([`Hashing::ByCaller`]).
//! It decides nothing on its own: ranges, checks, retries and verdicts are the plan's.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_util::future::{select, Either, LocalBoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt as _};
#[cfg(doc)]
use tessera_core::download::Hashing;
use tessera_core::download::{
    ChunkAction, DownloadPlan, EndAction, HeadAction, Request, RequestFailed, ResponseHead,
    SeedAction,
};
use tessera_core::manifest::ShardRef;

use crate::engine::Engine;
use crate::error::SwError;
use crate::fetcher::Fetched;
use crate::js_error::JsError;
use crate::shard_bytes::Piece;

/// What one turn of the body loop finished.
enum Step {
    /// A piece was written (`false`: the plan cancelled the request).
    Written(Result<bool, SwError>),
    /// A body read returned.
    Read(Result<Option<js_sys::Uint8Array>, JsError>),
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

struct Driver<'a> {
    engine: &'a Rc<Engine>,
    model: &'a str,
    plan: RefCell<DownloadPlan>,
    chunk_size: u64,
    base_done: u64,
    shards_base: usize,
    resumed: bool,
    /// The bytes of shards this download staged from byte 0, kept until the shard is hashed:
    /// the digest is then taken from memory instead of reading the files back (at most one
    /// shard per request in flight).
    staged: RefCell<std::collections::HashMap<tessera_core::Sha256Digest, Piece>>,
    /// Bytes this download received (every request together).
    received: Cell<u64>,
    /// `received` and the time when the last shard completed (or the download started): each
    /// completed shard records the bytes received since over the time since as a download
    /// speed measurement, so requests running in parallel count together.
    mark: Cell<(u64, u64)>,
    /// Whether this download recorded a speed measurement.
    measured: Cell<bool>,
}

/// Times a download waits for another one in this worker to finish shards it needs, before it
/// checks again (polling, every [`WAIT_MS`]).
const WAIT_MS: i32 = 50;
/// Rounds of "wait for others, then fetch what is still missing" before giving up: each round
/// either finishes or takes over the shards another download left.
const MAX_ROUNDS: usize = 8;

/// Makes `shards` verified in the store for `model`: downloads those no other download in this
/// worker is fetching (one [`DownloadPlan`] for them) and waits for the others — a file's
/// request and a whole-model install never fetch the same shard twice at once. `base_done`
/// bytes and `shards_total − shards.len()` shards of the model are already verified (progress).
pub async fn fetch_shards(
    engine: &Rc<Engine>,
    model: &str,
    shards: Vec<ShardRef>,
    base_done: u64,
    shards_total: usize,
) -> Result<(), SwError> {
    for _ in 0..MAX_ROUNDS {
        let have = engine.store.verified_shards().await?;
        let missing: Vec<ShardRef> = shards
            .iter()
            .filter(|s| !have.contains(&s.sha256.to_hex()))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let (mine, theirs) = engine.reserve(&missing);
        if !mine.shards.is_empty() {
            run(engine, model, mine.shards.clone(), base_done, shards_total).await?;
        }
        drop(mine);
        while engine.any_downloading(&theirs) {
            sleep(WAIT_MS).await;
        }
    }
    Err(SwError::StoreCorrupt {
        what: format!("shards of {model} that other downloads kept failing"),
    })
}

/// Downloads `shards` (those the store lacks) for `model`. `base_done` bytes and
/// `shards_total − shards.len()` shards of the model are already verified (for progress).
async fn run(
    engine: &Rc<Engine>,
    model: &str,
    shards: Vec<ShardRef>,
    base_done: u64,
    shards_total: usize,
) -> Result<(), SwError> {
    let shards_base = shards_total.saturating_sub(shards.len());
    let mut plan = DownloadPlan::new(shards.iter().copied(), engine.config.download_config())?;
    let resumed = seed(engine, &mut plan, &shards).await?;
    let driver = Driver {
        engine,
        model,
        plan: RefCell::new(plan),
        chunk_size: engine.config.chunk_size,
        base_done,
        shards_base,
        resumed,
        staged: RefCell::default(),
        received: Cell::new(0),
        mark: Cell::new((0, now_ms())),
        measured: Cell::new(false),
    };
    let result = driver.drive().await;
    if driver.measured.get() {
        // Kept for the next instance of the worker (the browser stops idle workers): one
        // small write per download.
        if let Some(rate) = engine.measured_speed() {
            let _ = engine.store.put_download_speed(rate).await;
        }
    }
    result
}

/// Feeds the plan what the store holds; `true` when some staged bytes are resumed. A shard
/// staged whole (a worker stopped between its last write and its verification) is hashed now.
async fn seed(
    engine: &Engine,
    plan: &mut DownloadPlan,
    shards: &[ShardRef],
) -> Result<bool, SwError> {
    let store = &engine.store;
    let mut resumed = false;
    for shard in shards {
        let Some(staged) = store.partial(&shard.sha256).await? else {
            continue;
        };
        let mut action = plan.seed_staged_len(shard.sha256, staged)?;
        if action == SeedAction::Digest {
            let bytes = store.bytes.read(&shard.sha256, staged).await?;
            let digest = crate::hash::sha256(&bytes).await?;
            action = plan.seed_digest(shard.sha256, digest)?;
        }
        match action {
            SeedAction::Resume { .. } => resumed = true,
            SeedAction::Verified => store.promote(&shard.sha256, shard.size),
            SeedAction::Discard { .. } | SeedAction::Redundant | SeedAction::Digest => {
                store.discard(&shard.sha256).await?
            }
        }
    }
    Ok(resumed)
}

impl Driver<'_> {
    async fn drive(&self) -> Result<(), SwError> {
        let mut tasks = FuturesUnordered::new();
        loop {
            let now = now_ms();
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
                sleep(wait_ms(due, now)).await;
                continue;
            }
            let done = match due.filter(|d| *d > now) {
                Some(due) => match select(tasks.next(), Box::pin(sleep(wait_ms(due, now)))).await {
                    Either::Left((done, _)) => done,
                    Either::Right(_) => None,
                },
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
        let (base, shards_base, resumed) = (self.base_done, self.shards_base, self.resumed);
        self.engine.update_status(self.model, force, |s| {
            // Monotonic within one download: bytes the plan discards (a corrupt staged
            // prefix, a server that ignored a Range) are downloaded again without the bar
            // moving backwards.
            s.bytes_done = s
                .bytes_done
                .max(base + p.done_bytes())
                .min(s.bytes_total.max(base));
            s.shards_done = s.shards_done.max(shards_base + p.shards_verified);
            s.shards_in_flight = p.in_flight;
            s.resumed = s.resumed || resumed;
        });
    }

    /// One request: fetch, feed the plan, carry out its actions. `Err` only for failures that
    /// end the whole download (storage, auth, plan misuse).
    async fn fetch(&self, req: Request) -> Result<(), SwError> {
        let url = self.engine.shard_url(&req.shard.sha256);
        let range = req.range.header_value();
        // Storage opens the first piece's file while the network answers.
        (self.engine.store.bytes).prepare(&req.shard.sha256, req.range.start());
        let mut fetched = match self.engine.auth.get(&url, Some(&range)).await {
            Ok(f) => f,
            Err(SwError::Network { .. }) => {
                let end = self
                    .plan
                    .borrow_mut()
                    .handle_network_error(req.id, now_ms())?;
                return self.apply_end(end).await;
            }
            Err(e) => return Err(e),
        };
        let head = ResponseHead {
            status: fetched.status,
            content_range: fetched.content_range.as_deref(),
            content_length: fetched.content_length,
        };
        let action = self
            .plan
            .borrow_mut()
            .handle_response_head(req.id, head, now_ms())?;
        match action {
            HeadAction::ReadBody => {}
            HeadAction::RestartFromZero { shard } => {
                self.staged.borrow_mut().remove(&shard.sha256);
                self.engine.store.discard(&shard.sha256).await?
            }
            HeadAction::Cancel(f) => return self.apply_failed(f).await,
        }
        self.read_body(&req, &mut fetched).await
    }

    /// Reads the body without pause while pieces are written: arriving bytes queue as JS
    /// arrays (at most the rest of one shard, which is all a request asks for), `chunkSize`
    /// pieces are written one at a time, in order. Reading never waits for a write, so what
    /// the browser has received is in the queue when the connection fails; it is written before
    /// the plan schedules the resume, and a cut costs at most what the browser itself dropped.
    async fn read_body(&self, req: &Request, fetched: &mut Fetched) -> Result<(), SwError> {
        let mut queue = Piece::default();
        let mut ended: Option<bool> = None; // Some(clean end?)
        let mut writing: Option<LocalBoxFuture<'_, Result<bool, SwError>>> = None;
        loop {
            if writing.is_none() {
                let piece = if queue.len() >= self.chunk_size {
                    // Every whole chunk queued while the last write ran, in one write: fewer
                    // storage operations when storage lags the network. A cut still costs at
                    // most what the browser dropped (the queue is written before the resume).
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
            let step = match (writing.as_mut(), ended.is_none()) {
                (None, false) => break,
                (Some(w), false) => Step::Written(w.await),
                (None, true) => Step::Read(fetched.next_chunk().await),
                // Dropping an unfinished read loses nothing: the stream keeps its pending read.
                (Some(w), true) => match select(w, Box::pin(fetched.next_chunk())).await {
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
            self.plan.borrow_mut().handle_body_end(req.id, now_ms())?
        } else {
            self.plan
                .borrow_mut()
                .handle_network_error(req.id, now_ms())?
        };
        self.apply_end(end).await
    }

    /// Feeds `piece`'s length to the plan and stores it; `false` when the plan cancelled the
    /// request.
    async fn persist(&self, req: &Request, piece: Piece) -> Result<bool, SwError> {
        if piece.is_empty() {
            return Ok(true);
        }
        let action = self
            .plan
            .borrow_mut()
            .handle_body_len(req.id, piece.len(), now_ms())?;
        match action {
            ChunkAction::Persist { shard, offset, .. } => {
                self.received.set(self.received.get() + piece.len());
                self.engine
                    .store
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

    async fn apply_end(&self, end: EndAction) -> Result<(), SwError> {
        match end {
            EndAction::Verified { shard } => {
                self.engine.store.promote(&shard.sha256, shard.size);
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
                let bytes: js_sys::Object = match kept {
                    Some(piece) if piece.len() == shard.size => piece.contiguous().into(),
                    _ => {
                        self.engine
                            .store
                            .bytes
                            .read(&shard.sha256, shard.size)
                            .await?
                    }
                };
                let digest = crate::hash::sha256(&bytes).await?;
                let verdict =
                    self.plan
                        .borrow_mut()
                        .handle_digest(shard.sha256, digest, now_ms())?;
                Box::pin(self.apply_end(verdict)).await
            }
            EndAction::Failed(f) => self.apply_failed(f).await,
        }
    }

    /// A shard completed: records the bytes received since the last completion over the time
    /// since as one download speed measurement.
    fn measure(&self) {
        let now = now_ms();
        let received = self.received.get();
        let (bytes, at) = self.mark.replace((received, now));
        if received > bytes {
            self.engine
                .record_download(received - bytes, now.saturating_sub(at));
            self.measured.set(true);
        }
    }

    /// Remembers a stored piece of a shard staged from byte 0 in this download.
    fn keep_staged(&self, sha: tessera_core::Sha256Digest, offset: u64, piece: Piece) {
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

    async fn apply_failed(&self, f: RequestFailed) -> Result<(), SwError> {
        if f.discard_staged {
            self.staged.borrow_mut().remove(&f.shard.sha256);
            self.engine.store.discard(&f.shard.sha256).await?;
        }
        self.progress(false);
        Ok(())
    }
}

/// Resolves after `ms` milliseconds (a worker `setTimeout`).
pub(crate) async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scope: web_sys::WorkerGlobalScope =
            wasm_bindgen::JsCast::unchecked_into(js_sys::global());
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

fn wait_ms(due: u64, now: u64) -> i32 {
    i32::try_from(due.saturating_sub(now))
        .unwrap_or(i32::MAX)
        .max(1)
}
