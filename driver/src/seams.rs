//! The seams the download driver runs against: a [`Clock`], a [`Transport`] (GET with an
//! optional `Range`, body read chunk by chunk), a [`ShardStore`] (staging, promotion, hashing)
//! with its [`Piece`] bytes type, and the [`DownloadHost`] that ties them together with the
//! progress, speed and reservation callbacks. They describe what the driver needs and nothing
//! else; they decide nothing (the driver's callers and `tessera-core`'s plan do).
//!
//! Every async method answers a [`LocalBoxFuture`]: the driver is single-threaded (a service
//! worker, a test executor), so nothing needs to be `Send`.

use std::collections::BTreeSet;

use futures_util::future::LocalBoxFuture;
use tessera_core::download::{DownloadConfig, DownloadError};
use tessera_core::manifest::ShardRef;
use tessera_core::Sha256Digest;

use crate::DriverError;

/// Time: "now" and waiting.
pub trait Clock {
    /// Milliseconds since an epoch that does not change during a download.
    fn now_ms(&self) -> u64;
    /// Resolves after `ms` milliseconds (`ms ≥ 1` from the driver).
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()>;
}

/// Why a GET got no response.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchError<E> {
    /// The request failed on the network (offline, DNS, a reset before the head): the plan
    /// retries the shard after its backoff.
    Network(E),
    /// Anything else (e.g. auth refused after a token refresh): the whole download ends with it.
    Other(E),
}

/// A response head: what the plan checks before any body byte is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// HTTP status.
    pub status: u16,
    /// `Content-Range`, if sent.
    pub content_range: Option<String>,
    /// `Content-Length`, if sent.
    pub content_length: Option<u64>,
}

/// A response body read chunk by chunk.
pub trait Body {
    /// One chunk as the platform delivers it.
    type Chunk;
    /// A failed read (the connection was cut); the driver treats every one as a cut.
    type ReadError;
    /// The next chunk; `None` at the clean end. Dropping the future before it resolves must
    /// lose nothing (the driver races reads against writes).
    fn next_chunk(&mut self) -> LocalBoxFuture<'_, Result<Option<Self::Chunk>, Self::ReadError>>;
}

/// What [`Transport::get`] answers: a response head and its unread body, or why none came.
pub type Fetching<'a, B, E> = LocalBoxFuture<'a, Result<(Head, B), FetchError<E>>>;

/// A GET with an optional `Range` header (auth, if any, stays behind it).
pub trait Transport {
    /// Failures that end the download, as [`FetchError`] says.
    type Error;
    /// Chunk type of its bodies.
    type Chunk;
    /// The body of a response.
    type Body: Body<Chunk = Self::Chunk>;
    /// `GET url` with `Range: range` when given; any HTTP status is a response.
    fn get<'a>(
        &'a self,
        url: &'a str,
        range: Option<&'a str>,
    ) -> Fetching<'a, Self::Body, Self::Error>;
}

/// Received bytes of one shard, in the platform's own buffers (the browser's are JS arrays that
/// never enter wasm memory; natively a `Vec<u8>`).
pub trait Piece: Default {
    /// What a body read delivers.
    type Chunk;
    /// A complete shard's bytes in the form the store hashes.
    type Whole;
    /// Bytes held.
    fn len(&self) -> u64;
    /// Nothing held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends a chunk.
    fn push(&mut self, chunk: Self::Chunk);
    /// Appends `other`'s bytes after these.
    fn append(&mut self, other: Self);
    /// Splits off and returns the first `n` bytes (all of them when `n ≥ len`).
    fn take_front(&mut self, n: u64) -> Self;
    /// The bytes as one hashable whole.
    fn into_whole(self) -> Self::Whole;
}

impl Piece for Vec<u8> {
    type Chunk = Vec<u8>;
    type Whole = Vec<u8>;

    fn len(&self) -> u64 {
        u64::try_from(Vec::len(self)).unwrap_or(u64::MAX)
    }

    fn push(&mut self, chunk: Vec<u8>) {
        self.extend_from_slice(&chunk);
    }

    fn append(&mut self, mut other: Vec<u8>) {
        Vec::append(self, &mut other);
    }

    fn take_front(&mut self, n: u64) -> Vec<u8> {
        let at = usize::try_from(n).unwrap_or(usize::MAX).min(Vec::len(self));
        let rest = self.split_off(at);
        std::mem::replace(self, rest)
    }

    fn into_whole(self) -> Vec<u8> {
        self
    }
}

/// Shard bytes: staged piece by piece (invisible to readers), hashed when complete, promoted
/// (made visible) when the plan says they are verified, discarded when it says so.
pub trait ShardStore {
    /// Storage failures (a full quota among them): each ends the download.
    type Error;
    /// The bytes type written and kept.
    type Piece: Piece;
    /// Digests (hex) of every verified shard.
    fn verified_shards(&self) -> LocalBoxFuture<'_, Result<BTreeSet<String>, Self::Error>>;
    /// Bytes of `sha` staged contiguously from byte 0 (`None`: nothing staged).
    fn partial<'a>(
        &'a self,
        sha: &'a Sha256Digest,
    ) -> LocalBoxFuture<'a, Result<Option<u64>, Self::Error>>;
    /// A request for `sha`'s bytes from `offset` on is starting (the store may open a file).
    fn prepare(&self, sha: Sha256Digest, offset: u64);
    /// Stores `piece` at `offset` of `sha`'s staging (`offset == 0` first drops what was
    /// staged).
    fn persist<'a>(
        &'a self,
        sha: &'a Sha256Digest,
        offset: u64,
        piece: &'a Self::Piece,
    ) -> LocalBoxFuture<'a, Result<(), Self::Error>>;
    /// Deletes every byte of `sha` (verified or staged).
    fn discard<'a>(&'a self, sha: &'a Sha256Digest) -> LocalBoxFuture<'a, Result<(), Self::Error>>;
    /// Records `sha` (of `size` bytes, all staged) verified: readers may see it from now on.
    fn promote(&self, sha: Sha256Digest, size: u64);
    /// The first `len` staged bytes of `sha`, to hash them.
    fn read<'a>(
        &'a self,
        sha: &'a Sha256Digest,
        len: u64,
    ) -> LocalBoxFuture<'a, Result<<Self::Piece as Piece>::Whole, Self::Error>>;
    /// The sha256 of a complete shard's bytes (the hasher: WebCrypto in the browser).
    fn sha256<'a>(
        &'a self,
        bytes: &'a <Self::Piece as Piece>::Whole,
    ) -> LocalBoxFuture<'a, Result<Sha256Digest, Self::Error>>;
}

/// Settings of one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The plan's limits (use [`Hashing::ByCaller`](tessera_core::download::Hashing): the
    /// driver feeds lengths and hashes through the store).
    pub download: DownloadConfig,
    /// Bytes per storage write (whole chunks queued while a write runs go in one write).
    pub chunk_size: u64,
}

/// Progress of a download, as the driver reports it after each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes of the model verified before this download started.
    pub base_done: u64,
    /// Bytes of the model stored (verified before this download, plus staged and verified by
    /// it). It may go down when the plan discards bytes; hosts keep what they show monotonic.
    pub bytes_done: u64,
    /// Shards of the model verified.
    pub shards_done: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Whether this download continued from bytes staged earlier.
    pub resumed: bool,
}

/// Shards reserved for one download (released when dropped).
pub trait Reservation {
    /// The shards reserved.
    fn shards(&self) -> &[ShardRef];
}

/// What the driver needs from its owner (the service worker's engine, a test): the seams, the
/// settings, and the progress, speed and reservation callbacks.
pub trait DownloadHost {
    /// Every failure that ends a download.
    type Error: From<DownloadError> + From<DriverError>;
    /// The clock.
    type Clock: Clock;
    /// The network.
    type Transport: Transport<
        Error = Self::Error,
        Chunk = <<Self::Store as ShardStore>::Piece as Piece>::Chunk,
    >;
    /// The shard store.
    type Store: ShardStore<Error = Self::Error>;
    /// A reservation of shards ([`reserve`](Self::reserve)).
    type Reservation: Reservation;

    /// The clock.
    fn clock(&self) -> &Self::Clock;
    /// The network.
    fn transport(&self) -> &Self::Transport;
    /// The shard store.
    fn store(&self) -> &Self::Store;
    /// Plan limits and write size.
    fn settings(&self) -> Settings;
    /// The URL of shard `sha`.
    fn shard_url(&self, sha: &Sha256Digest) -> String;
    /// Publishes `model`'s progress (`force`: a state change, not to be throttled).
    fn update_status(&self, model: &str, force: bool, progress: DownloadProgress);
    /// Records one speed measurement: `bytes` received in `ms` milliseconds.
    fn record_download(&self, bytes: u64, ms: u64);
    /// The download speed measured so far (bytes per second), if any.
    fn measured_speed(&self) -> Option<f64>;
    /// Keeps `rate` for later instances (best effort: the driver ignores a failure).
    fn put_download_speed(&self, rate: f64) -> LocalBoxFuture<'_, Result<(), Self::Error>>;
    /// Reserves those of `shards` no other download of this host is fetching; returns the
    /// reservation and the shards others hold.
    fn reserve(&self, shards: &[ShardRef]) -> (Self::Reservation, Vec<ShardRef>);
    /// Whether another download holds any of `shards`.
    fn any_downloading(&self, shards: &[ShardRef]) -> bool;
}
