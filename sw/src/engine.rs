//! The worker's shared state: configuration, store, auth, each model's last status, the models
//! known ready, and one in-flight install/update per model (single flight: concurrent `ensure`s
//! and fetches await the same download), and the shards open responses are streaming (kept from
//! garbage collection), when each model was last served and the download speed measured (for
//! `storage()` and `estimate()`). It routes status changes to ports and clients; the work itself
//! lives in `update`, `download`, `gc` and `serve`, which use it (it uses none of them: the
//! install a flight runs and the collection a released lease asks for are handed in).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use futures_util::future::{FutureExt as _, LocalBoxFuture, Shared};
use tessera_core::housekeeping::{should_record_use, SpeedMeter};
use tessera_core::layout::{shard_path, ModelName};
use tessera_core::manifest::ShardRef;
use tessera_core::{Manifest, Sha256Digest};
use web_sys::MessagePort;

use crate::auth::Auth;
use crate::config::Config;
use crate::error::SwError;
use crate::progress::{self, ErrorInfo, ModelStatus, State};
use crate::store::Store;

/// Least time between two broadcasts of download progress for one model, in milliseconds.
const PROGRESS_INTERVAL_MS: f64 = 100.0;

/// An install or update of one model, awaited by every caller that asks meanwhile.
pub type Flight = Shared<LocalBoxFuture<'static, Result<Rc<Manifest>, SwError>>>;

/// Starts garbage collection in the background (see [`Engine::new`]).
pub type CollectGarbage = fn(Rc<Engine>);

/// Everything one service worker instance holds.
#[derive(Debug)]
pub struct Engine {
    /// The parsed configuration.
    pub config: Config,
    /// `artifactsBase` resolved to an absolute URL (ends with `/`).
    pub artifacts_base: String,
    /// The IndexedDB store.
    pub store: Store,
    /// Artifact request tokens.
    pub auth: Auth,
    statuses: RefCell<HashMap<String, ModelStatus>>,
    ready: RefCell<HashMap<String, Rc<Manifest>>>,
    flights: RefCell<HashMap<String, Flight>>,
    outbox: Rc<Outbox>,
    next_listener: Cell<u64>,
    leases: RefCell<HashMap<String, usize>>,
    gc_deferred: Cell<bool>,
    /// Shards a download in this worker is fetching: no second download fetches them at once.
    downloading: RefCell<HashSet<Sha256Digest>>,
    /// Per model: when this worker last served a byte of it, and last wrote that down.
    usage: RefCell<HashMap<String, Usage>>,
    /// Download speed measured by this worker (one measurement per completed shard).
    speed: RefCell<SpeedMeter>,
    /// Runs a collection deferred while leases were held, once the last one ends.
    collect_garbage: CollectGarbage,
}

/// A model's use as this worker saw it (ms since the epoch).
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    /// The last time a byte of it was served.
    served: u64,
    /// The last time its record's `lastUsed` was written (or is being written).
    written: Option<u64>,
}

/// Delivers statuses to listening ports and every client. Non-forced (progress) updates of a
/// model are throttled to one per [`PROGRESS_INTERVAL_MS`]; the latest throttled one is always
/// delivered when its interval ends (a trailing flush), so the last progress is never lost.
#[derive(Debug, Default)]
struct Outbox {
    listeners: RefCell<Vec<(u64, String, MessagePort)>>,
    last_sent: RefCell<HashMap<String, f64>>,
    queued: RefCell<HashMap<String, ModelStatus>>,
}

impl Outbox {
    fn send(self: &Rc<Self>, status: ModelStatus, force: bool) {
        let now = js_sys::Date::now();
        let last = self.last_sent.borrow().get(&status.model).copied();
        let wait = last.map_or(0.0, |l| PROGRESS_INTERVAL_MS - (now - l));
        if force || wait <= 0.0 {
            // Anything queued for this model is older than `status`: drop it.
            self.queued.borrow_mut().remove(&status.model);
            self.deliver(status, now);
            return;
        }
        let model = status.model.clone();
        let first = self
            .queued
            .borrow_mut()
            .insert(model.clone(), status)
            .is_none();
        if first {
            let outbox = self.clone();
            wasm_bindgen_futures::spawn_local(async move {
                crate::timer::sleep(wait.ceil() as i32).await;
                let latest = outbox.queued.borrow_mut().remove(&model);
                if let Some(status) = latest {
                    outbox.deliver(status, js_sys::Date::now());
                }
            });
        }
    }

    fn deliver(&self, status: ModelStatus, now: f64) {
        self.last_sent
            .borrow_mut()
            .insert(status.model.clone(), now);
        for (_, m, port) in self.listeners.borrow().iter() {
            if *m == status.model {
                progress::post_progress(port, &status);
            }
        }
        wasm_bindgen_futures::spawn_local(async move { progress::broadcast(&status).await });
    }
}

impl Engine {
    /// An engine over an open store.
    pub fn new(
        config: Config,
        artifacts_base: String,
        token_url: Option<String>,
        store: Store,
        collect_garbage: CollectGarbage,
    ) -> Self {
        Self {
            config,
            artifacts_base,
            store,
            auth: Auth::new(token_url),
            statuses: RefCell::default(),
            ready: RefCell::default(),
            flights: RefCell::default(),
            outbox: Rc::default(),
            next_listener: Cell::new(0),
            leases: RefCell::default(),
            gc_deferred: Cell::new(false),
            downloading: RefCell::default(),
            usage: RefCell::default(),
            speed: RefCell::default(),
            collect_garbage,
        }
    }

    /// Notes that a byte of `model` is being served now: remembered in memory every time, and
    /// written to the model's record when core's [`should_record_use`] says (at most once per
    /// minute per model), in the background: serving never waits for it.
    pub fn note_use(self: &Rc<Self>, model: &str) {
        let now = js_sys::Date::now();
        // Milliseconds since the epoch: positive and far below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let now_ms = now as u64;
        let write = {
            let mut usage = self.usage.borrow_mut();
            let entry = usage.entry(model.to_owned()).or_default();
            entry.served = entry.served.max(now_ms);
            let write = should_record_use(entry.written, now_ms);
            if write {
                entry.written = Some(now_ms);
            }
            write
        };
        if write {
            let engine = self.clone();
            let model = model.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                if engine.store.touch(&model, now).await.is_err() {
                    // Try again on the next request.
                    if let Some(entry) = engine.usage.borrow_mut().get_mut(&model) {
                        entry.written = None;
                    }
                }
            });
        }
    }

    /// The last time this worker served a byte of `model` (ms since the epoch), if it did.
    pub fn last_served(&self, model: &str) -> Option<u64> {
        self.usage.borrow().get(model).map(|u| u.served)
    }

    /// Records a download measurement: `bytes` received in `ms` milliseconds.
    pub fn record_download(&self, bytes: u64, ms: u64) {
        self.speed.borrow_mut().record(bytes, ms);
    }

    /// The download speed this worker measured (median of recent measurements), if any.
    pub fn measured_speed(&self) -> Option<f64> {
        self.speed.borrow().bytes_per_second()
    }

    /// The download speed to estimate with: measured by this worker, else the figure an
    /// earlier instance kept in the store, else `None`.
    pub async fn download_speed(&self) -> Option<f64> {
        match self.measured_speed() {
            Some(rate) => Some(rate),
            None => self.store.download_speed().await.ok().flatten(),
        }
    }

    /// URL of `model`'s current signed manifest.
    pub fn manifest_url(&self, model: &ModelName) -> String {
        format!(
            "{}{}",
            self.artifacts_base,
            tessera_core::layout::manifest_path(model)
        )
    }

    /// URL of a shard.
    pub fn shard_url(&self, sha: &Sha256Digest) -> String {
        format!("{}{}", self.artifacts_base, shard_path(sha))
    }

    /// The install or update of `model` running in this worker, or `run` started as it (single
    /// flight: whoever asks while it runs awaits the same one). A failure is recorded as the
    /// model's status; `run` marks the model ready itself, before it announces it.
    pub fn flight(
        self: &Rc<Self>,
        model: &ModelName,
        run: impl FnOnce(
            Rc<Engine>,
            ModelName,
        ) -> LocalBoxFuture<'static, Result<Rc<Manifest>, SwError>>,
    ) -> Flight {
        if let Some(f) = self.flights.borrow().get(model.as_str()) {
            return f.clone();
        }
        let engine = self.clone();
        let name = model.clone();
        let work = run(engine.clone(), name.clone());
        let fut = async move {
            let result = work.await;
            engine.flights.borrow_mut().remove(name.as_str());
            if let Err(e) = &result {
                engine.fail(name.as_str(), e);
            }
            result
        }
        .boxed_local()
        .shared();
        self.flights
            .borrow_mut()
            .insert(model.to_string(), fut.clone());
        fut
    }

    /// Whether an install or update of `model` is running in this worker.
    pub fn installing(&self, model: &str) -> bool {
        self.flights.borrow().contains_key(model)
    }

    /// The manifest `model` serves when it is known ready (every file stored and verified).
    pub fn ready_manifest(&self, model: &str) -> Option<Rc<Manifest>> {
        self.ready.borrow().get(model).cloned()
    }

    /// Reserves for the caller's download those of `shards` no other download in this worker
    /// is fetching; returns the reservation (released when dropped) and the shards others hold.
    pub fn reserve(self: &Rc<Self>, shards: &[ShardRef]) -> (Reservation, Vec<ShardRef>) {
        let mut downloading = self.downloading.borrow_mut();
        let (theirs, mine): (Vec<ShardRef>, Vec<ShardRef>) =
            shards.iter().partition(|s| downloading.contains(&s.sha256));
        for shard in &mine {
            downloading.insert(shard.sha256);
        }
        (
            Reservation {
                engine: self.clone(),
                shards: mine,
            },
            theirs,
        )
    }

    /// Whether another download holds any of `shards`.
    pub fn any_downloading(&self, shards: &[ShardRef]) -> bool {
        let downloading = self.downloading.borrow();
        shards.iter().any(|s| downloading.contains(&s.sha256))
    }

    /// Forgets what this worker noted of `model`'s use (it was removed).
    pub fn forget_use(&self, model: &str) {
        self.usage.borrow_mut().remove(model);
    }

    /// Forgets that `model` is ready (its stored data went missing).
    pub fn forget_ready(&self, model: &str) {
        self.ready.borrow_mut().remove(model);
    }

    /// Marks `model` ready with manifest `m`.
    pub fn set_ready(&self, model: &str, m: Rc<Manifest>) {
        self.ready.borrow_mut().insert(model.to_owned(), m);
    }

    /// The last known status of `model` (`absent` if nothing is known in memory).
    pub fn cached_status(&self, model: &str) -> Option<ModelStatus> {
        self.statuses.borrow().get(model).cloned()
    }

    /// Records `status` and sends it to the model's listening ports and every client.
    /// `force` sends state changes immediately; progress is throttled per model, and the latest
    /// throttled status is still sent when the interval ends.
    pub fn publish(&self, status: ModelStatus, force: bool) {
        self.statuses
            .borrow_mut()
            .insert(status.model.clone(), status.clone());
        self.outbox.send(status, force);
    }

    /// Updates the stored status of `model` with `f` and publishes it.
    pub fn update_status(&self, model: &str, force: bool, f: impl FnOnce(&mut ModelStatus)) {
        let mut status = self
            .cached_status(model)
            .unwrap_or_else(|| ModelStatus::new(model, State::Absent));
        f(&mut status);
        self.publish(status, force);
    }

    /// Publishes a failure. A model that still serves its active version stays `ready`, with
    /// the failure (e.g. a refused update) in `error`.
    fn fail(&self, model: &str, err: &SwError) {
        let info = ErrorInfo::of(err);
        let serving = self.ready.borrow().get(model).cloned();
        self.update_status(model, true, |s| {
            if let Some(m) = serving {
                s.state = State::Ready;
                s.version = Some(m.version.to_string());
                s.pending_version = None;
            } else {
                s.state = State::Error;
            }
            s.error = Some(info);
        });
    }

    /// Sends progress of `model` to `port` until [`unlisten`](Self::unlisten).
    pub fn listen(&self, model: &str, port: MessagePort) -> u64 {
        let id = self.next_listener.get();
        self.next_listener.set(id + 1);
        self.outbox
            .listeners
            .borrow_mut()
            .push((id, model.to_owned(), port));
        id
    }

    /// Stops sending progress to listener `id`.
    pub fn unlisten(&self, id: u64) {
        self.outbox
            .listeners
            .borrow_mut()
            .retain(|(i, _, _)| *i != id);
    }

    /// Marks `shards` as being streamed by a response: garbage collection keeps them until the
    /// returned lease is dropped (the response ended or was cancelled).
    pub fn lease(self: &Rc<Self>, shards: impl IntoIterator<Item = Sha256Digest>) -> Lease {
        let shards: Vec<String> = shards.into_iter().map(|s| s.to_hex()).collect();
        let mut leases = self.leases.borrow_mut();
        for hex in &shards {
            *leases.entry(hex.clone()).or_insert(0) += 1;
        }
        Lease {
            engine: self.clone(),
            shards,
        }
    }

    /// Digests of every shard an open response is streaming. Garbage collection that skips
    /// one of them calls [`defer_gc`](Self::defer_gc) so it runs again once the stream ends.
    pub fn leased_shards(&self) -> Vec<String> {
        self.leases.borrow().keys().cloned().collect()
    }

    /// Keeps `shards` from garbage collection for `ms` milliseconds: a response whose body is a
    /// Blob over their files is read by the browser at its own pace, and nothing tells the
    /// worker when it is done; deleting a file under it would fail the page's read.
    pub fn lease_for(self: &Rc<Self>, shards: impl IntoIterator<Item = Sha256Digest>, ms: i32) {
        let lease = self.lease(shards);
        wasm_bindgen_futures::spawn_local(async move {
            crate::timer::sleep(ms).await;
            drop(lease);
        });
    }

    /// Asks for garbage collection to run again when the last lease ends.
    pub fn defer_gc(&self) {
        self.gc_deferred.set(true);
    }
}

/// Shards one download fetches (see [`Engine::reserve`]); released when dropped.
#[derive(Debug)]
pub struct Reservation {
    engine: Rc<Engine>,
    /// The shards reserved.
    pub shards: Vec<ShardRef>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut downloading = self.engine.downloading.borrow_mut();
        for shard in &self.shards {
            downloading.remove(&shard.sha256);
        }
    }
}

/// Keeps shards from garbage collection while a response streams them (see [`Engine::lease`]).
#[derive(Debug)]
pub struct Lease {
    engine: Rc<Engine>,
    shards: Vec<String>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let idle = {
            let mut leases = self.engine.leases.borrow_mut();
            for hex in &self.shards {
                if let Some(n) = leases.get_mut(hex) {
                    *n -= 1;
                    if *n == 0 {
                        leases.remove(hex);
                    }
                }
            }
            leases.is_empty()
        };
        if idle && self.engine.gc_deferred.replace(false) {
            (self.engine.collect_garbage)(self.engine.clone());
        }
    }
}
