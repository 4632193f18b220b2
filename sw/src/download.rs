//! The browser backends of the download driver ([`tessera_driver`], which sequences
//! `tessera-core`'s plan): `Date.now` and `setTimeout` as its clock, the worker's `fetch` with
//! the artifact token ([`Auth::get`], a [`Fetched`] body read from its ReadableStream) as its
//! transport, the [`Store`] (OPFS or IndexedDB) with WebCrypto as its shard store and hasher,
//! and the [`Engine`] as its host (progress, speed, reservations; for the quota retry and the
//! install: making room (`space`) and collecting garbage (`gc`)). The bytes stay JS arrays
//! ([`Piece`]): they are never copied into wasm memory. Nothing here decides anything.

use std::collections::BTreeSet;
use std::future::Future;
use std::rc::Rc;

use futures_util::future::LocalBoxFuture;
use js_sys::{Object, Uint8Array};
use tessera_core::manifest::ShardRef;
use tessera_core::{Manifest, Sha256Digest};
use tessera_driver::install::{InstallHost, InstallStart, QuotaHost};
use tessera_driver::seams::Fetching;
use tessera_driver::{DownloadProgress, FetchError, Head, Settings};

use crate::auth::Auth;
use crate::engine::{Engine, Reservation};
use crate::error::SwError;
use crate::fetcher::Fetched;
use crate::js_error::JsError;
use crate::progress::{ModelStatus, State};
use crate::shard_bytes::Piece;
use crate::store::Store;
use crate::{gc, space, storage};

/// Downloads the `missing` shards of `model` with the quota retry
/// ([`tessera_driver::install::download`] over this worker's backends; room is made by
/// `space::make_room`, a second refusal is `quota` with the browser's figures).
pub async fn fetch_with_quota_retry(
    engine: &Rc<Engine>,
    model: &str,
    missing: Vec<ShardRef>,
    base_done: u64,
    shards_total: usize,
) -> Result<(), SwError> {
    tessera_driver::install::download(&Host(engine), model, missing, base_done, shards_total).await
}

/// Downloads what `manifest` lacks, checks every shard is stored verified and, with `switch`,
/// runs the switch then collects garbage ([`tessera_driver::install::install`] over this
/// worker's backends; progress as `downloading` then `verifying` statuses). Returns whether
/// any shard was downloaded.
pub async fn install_shards<F>(
    engine: &Rc<Engine>,
    model: &str,
    manifest: &Manifest,
    serving: Option<String>,
    switch: Option<F>,
) -> Result<bool, SwError>
where
    F: Future<Output = Result<(), SwError>>,
{
    tessera_driver::install::install(&Host(engine), model, manifest, serving, switch).await
}

/// The engine as the driver's host.
struct Host<'a>(&'a Rc<Engine>);

/// `Date.now()` and `setTimeout`.
#[derive(Debug, Clone, Copy)]
struct BrowserClock;

impl tessera_driver::Clock for BrowserClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        Box::pin(crate::timer::sleep(i32::try_from(ms).unwrap_or(i32::MAX)))
    }
}

impl tessera_driver::Body for Fetched {
    type Chunk = Uint8Array;
    type ReadError = JsError;

    fn next_chunk(&mut self) -> LocalBoxFuture<'_, Result<Option<Uint8Array>, JsError>> {
        // Dropping the future loses nothing: the stream keeps its pending read.
        Box::pin(Fetched::next_chunk(self))
    }
}

impl tessera_driver::Transport for Auth {
    type Error = SwError;
    type Chunk = Uint8Array;
    type Body = Fetched;

    fn get<'a>(&'a self, url: &'a str, range: Option<&'a str>) -> Fetching<'a, Fetched, SwError> {
        Box::pin(async move {
            match Auth::get(self, url, range).await {
                Ok(fetched) => Ok((
                    Head {
                        status: fetched.status,
                        content_range: fetched.content_range.clone(),
                        content_length: fetched.content_length,
                    },
                    fetched,
                )),
                Err(e @ SwError::Network { .. }) => Err(FetchError::Network(e)),
                Err(e) => Err(FetchError::Other(e)),
            }
        })
    }
}

impl tessera_driver::Piece for Piece {
    type Chunk = Uint8Array;
    type Whole = Object;

    fn len(&self) -> u64 {
        Piece::len(self)
    }

    fn push(&mut self, chunk: Uint8Array) {
        Piece::push(self, chunk);
    }

    fn append(&mut self, other: Piece) {
        Piece::append(self, other);
    }

    fn take_front(&mut self, n: u64) -> Piece {
        Piece::take_front(self, n)
    }

    fn into_whole(self) -> Object {
        self.contiguous().into()
    }
}

impl tessera_driver::ShardStore for Store {
    type Error = SwError;
    type Piece = Piece;

    fn verified_shards(&self) -> LocalBoxFuture<'_, Result<BTreeSet<String>, SwError>> {
        Box::pin(Store::verified_shards(self))
    }

    fn partial<'a>(
        &'a self,
        sha: &'a Sha256Digest,
    ) -> LocalBoxFuture<'a, Result<Option<u64>, SwError>> {
        Box::pin(Store::partial(self, sha))
    }

    fn prepare(&self, sha: Sha256Digest, offset: u64) {
        self.bytes.prepare(&sha, offset);
    }

    fn persist<'a>(
        &'a self,
        sha: &'a Sha256Digest,
        offset: u64,
        piece: &'a Piece,
    ) -> LocalBoxFuture<'a, Result<(), SwError>> {
        Box::pin(Store::persist(self, sha, offset, piece))
    }

    fn discard<'a>(&'a self, sha: &'a Sha256Digest) -> LocalBoxFuture<'a, Result<(), SwError>> {
        Box::pin(Store::discard(self, sha))
    }

    fn promote(&self, sha: Sha256Digest, size: u64) {
        Store::promote(self, &sha, size);
    }

    fn read<'a>(
        &'a self,
        sha: &'a Sha256Digest,
        len: u64,
    ) -> LocalBoxFuture<'a, Result<Object, SwError>> {
        Box::pin(self.bytes.read(sha, len))
    }

    fn sha256<'a>(
        &'a self,
        bytes: &'a Object,
    ) -> LocalBoxFuture<'a, Result<Sha256Digest, SwError>> {
        Box::pin(crate::hash::sha256(bytes))
    }
}

impl tessera_driver::Reservation for Reservation {
    fn shards(&self) -> &[ShardRef] {
        &self.shards
    }
}

impl tessera_driver::DownloadHost for Host<'_> {
    type Error = SwError;
    type Clock = BrowserClock;
    type Transport = Auth;
    type Store = Store;
    type Reservation = Reservation;

    fn clock(&self) -> &BrowserClock {
        &BrowserClock
    }

    fn transport(&self) -> &Auth {
        &self.0.auth
    }

    fn store(&self) -> &Store {
        &self.0.store
    }

    fn settings(&self) -> Settings {
        Settings {
            download: self.0.config.download_config(),
            chunk_size: self.0.config.chunk_size,
        }
    }

    fn shard_url(&self, sha: &Sha256Digest) -> String {
        self.0.shard_url(sha)
    }

    fn update_status(&self, model: &str, force: bool, p: DownloadProgress) {
        self.0.update_status(model, force, |s| {
            // Monotonic within one download: bytes the plan discards (a corrupt staged
            // prefix, a server that ignored a Range) are downloaded again without the bar
            // moving backwards.
            s.bytes_done = s
                .bytes_done
                .max(p.bytes_done)
                .min(s.bytes_total.max(p.base_done));
            s.shards_done = s.shards_done.max(p.shards_done);
            s.shards_in_flight = p.in_flight;
            s.resumed = s.resumed || p.resumed;
        });
    }

    fn record_download(&self, bytes: u64, ms: u64) {
        self.0.record_download(bytes, ms);
    }

    fn measured_speed(&self) -> Option<f64> {
        self.0.measured_speed()
    }

    fn put_download_speed(&self, rate: f64) -> LocalBoxFuture<'_, Result<(), SwError>> {
        Box::pin(self.0.store.put_download_speed(rate))
    }

    fn reserve(&self, shards: &[ShardRef]) -> (Reservation, Vec<ShardRef>) {
        self.0.reserve(shards)
    }

    fn any_downloading(&self, shards: &[ShardRef]) -> bool {
        self.0.any_downloading(shards)
    }
}

impl QuotaHost for Host<'_> {
    fn is_quota(e: &SwError) -> bool {
        e.is_quota()
    }

    fn settle_promotions(&self) -> LocalBoxFuture<'_, Result<(), SwError>> {
        Box::pin(self.0.store.settle_promotions())
    }

    fn make_room<'a>(
        &'a self,
        model: &'a str,
        to_free: u64,
        needed: u64,
    ) -> LocalBoxFuture<'a, Result<(), SwError>> {
        Box::pin(space::make_room(self.0, model, to_free, needed))
    }

    fn quota_error<'a>(&'a self, model: &'a str, needed: u64) -> LocalBoxFuture<'a, SwError> {
        Box::pin(storage::quota_error(model, needed, 0))
    }
}

impl InstallHost for Host<'_> {
    fn fit<'a>(
        &'a self,
        model: &'a str,
        missing: &'a [ShardRef],
    ) -> LocalBoxFuture<'a, Result<u64, SwError>> {
        Box::pin(space::fit(self.0, model, missing))
    }

    fn downloading(&self, model: &str, start: InstallStart) {
        self.0.update_status(model, true, |s| {
            *s = ModelStatus::new(model, State::Downloading);
            s.version = start.version;
            s.pending_version = start.pending_version;
            s.bytes_total = start.bytes_total;
            s.bytes_done = start.bytes_done;
            s.shards_total = start.shards_total;
            s.shards_done = start.shards_done;
            s.resumed = start.resumed;
        });
    }

    fn verifying(&self, model: &str, bytes_total: u64, shards_total: usize) {
        self.0.update_status(model, true, |s| {
            s.state = State::Verifying;
            s.bytes_done = bytes_total;
            s.shards_done = shards_total;
            s.shards_in_flight = 0;
        });
    }

    fn lost_shard(&self, shard: &Sha256Digest) -> SwError {
        SwError::StoreCorrupt {
            what: format!("shard {shard}"),
        }
    }

    fn collect_garbage(&self) -> LocalBoxFuture<'_, Result<usize, SwError>> {
        Box::pin(gc::collect_garbage(self.0))
    }
}
