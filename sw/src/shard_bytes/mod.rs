//! Where shard bytes live — the storage seam. A shard's bytes are *staged* piece by piece as
//! they arrive (a piece is written whole or not at all, so a stopped worker or a cut connection
//! costs at most the pieces in flight) and become visible only when [`crate::store::Store`]
//! records the shard verified; this module never decides that.
//!
//! Two backends, chosen once when the worker starts ([`ShardBytes::open`]):
//! - [`opfs::Opfs`]: one directory per shard in the origin private file system, one file per
//!   piece. Serving hands the browser a `Blob` over exactly the files a request touches, so the
//!   bytes never pass through JS or wasm. Chromium offers OPFS (and `createWritable`) in a
//!   service worker.
//! - [`idb::Idb`]: one IndexedDB record per piece, the staged length recorded in the same
//!   transaction (the fallback where OPFS is missing); served as a stream of records.

use std::collections::BTreeSet;

use js_sys::{Object, Uint8Array};
use tessera_core::Sha256Digest;

use crate::config::StorageChoice;
use crate::error::SwError;
use crate::idb::Db;

pub mod idb;
pub mod opfs;

/// Received bytes of one shard, kept as the JS arrays they arrived in (never copied into wasm).
#[derive(Debug, Default)]
pub struct Piece {
    parts: Vec<Uint8Array>,
    len: u64,
}

impl Piece {
    /// Appends `other`'s bytes after these.
    pub fn append(&mut self, other: Piece) {
        self.len += other.len;
        self.parts.extend(other.parts);
    }

    /// Appends `part`.
    pub fn push(&mut self, part: Uint8Array) {
        self.len += u64::from(part.length());
        self.parts.push(part);
    }

    /// Bytes held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Splits off and returns the first `n` bytes (all of them when `n ≥ len`).
    pub fn take_front(&mut self, n: u64) -> Piece {
        if n >= self.len {
            return std::mem::take(self);
        }
        let mut front = Piece::default();
        while front.len < n {
            let Some(part) = self.parts.first().cloned() else {
                break;
            };
            let want = n - front.len;
            let have = u64::from(part.length());
            if have <= want {
                self.parts.remove(0);
                self.len -= have;
                front.push(part);
            } else {
                // want < have ≤ u32::MAX: both fit a u32.
                let cut = u32::try_from(want).unwrap_or(u32::MAX);
                self.parts[0] = part.subarray(cut, part.length());
                self.len -= want;
                front.push(part.subarray(0, cut));
            }
        }
        front
    }

    /// The bytes as one contiguous array (copied by JS, not through wasm memory).
    pub fn contiguous(&self) -> Uint8Array {
        if let [only] = self.parts.as_slice() {
            return only.clone();
        }
        let out = Uint8Array::new_with_length(u32::try_from(self.len).unwrap_or(u32::MAX));
        let mut at = 0u32;
        for part in &self.parts {
            out.set(part, at);
            at += part.length();
        }
        out
    }
}

/// The shard byte store of this worker.
#[derive(Debug)]
pub enum ShardBytes {
    /// Files in the origin private file system.
    Opfs(opfs::Opfs),
    /// IndexedDB records (the fallback).
    Idb(idb::Idb),
}

/// The operations every backend provides (the seam; [`ShardBytes`] dispatches to them).
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Backend {
    /// Bytes of `sha` staged contiguously from byte 0 (`None`: nothing staged).
    async fn staged_len(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError>;
    /// Stores `piece` at `offset` of `sha`'s staging (`offset == 0` first drops what was staged).
    async fn write(&self, sha: &Sha256Digest, offset: u64, piece: &Piece) -> Result<(), SwError>;
    /// The first `len` staged bytes of `sha`, as one buffer (to hash them).
    async fn read(&self, sha: &Sha256Digest, len: u64) -> Result<Object, SwError>;
    /// Deletes every byte of `sha`.
    async fn remove(&self, sha: &Sha256Digest) -> Result<(), SwError>;
    /// Digests (hex) that have bytes stored.
    async fn stored(&self) -> Result<BTreeSet<String>, SwError>;
}

impl ShardBytes {
    /// The backend `choice` asks for, given the OPFS store opened for it (concurrently with the
    /// database, see [`opfs::Opfs::open_if`]): OPFS when the browser offers it (or `Opfs`
    /// demands it), else IndexedDB in `db`.
    pub fn open(
        choice: StorageChoice,
        opfs: Option<Result<opfs::Opfs, SwError>>,
        db: &Db,
    ) -> Result<Self, SwError> {
        match (choice, opfs) {
            (StorageChoice::Indexeddb, _) | (StorageChoice::Auto, None | Some(Err(_))) => {
                Ok(Self::Idb(idb::Idb::new(db.clone())))
            }
            (_, Some(Ok(o))) => Ok(Self::Opfs(o)),
            (StorageChoice::Opfs, Some(Err(e))) => Err(e),
            (StorageChoice::Opfs, None) => opfs::Opfs::unavailable(),
        }
    }

    /// `"opfs"` or `"indexeddb"` (reported in the worker's status).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Opfs(_) => "opfs",
            Self::Idb(_) => "indexeddb",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            ShardBytes::Opfs($b) => $call,
            ShardBytes::Idb($b) => $call,
        }
    };
}

impl ShardBytes {
    /// See [`Backend::staged_len`].
    pub async fn staged_len(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError> {
        dispatch!(self, b => b.staged_len(sha).await)
    }
    /// See [`Backend::write`].
    pub async fn write(
        &self,
        sha: &Sha256Digest,
        offset: u64,
        piece: &Piece,
    ) -> Result<(), SwError> {
        dispatch!(self, b => b.write(sha, offset, piece).await)
    }
    /// See [`Backend::read`].
    pub async fn read(&self, sha: &Sha256Digest, len: u64) -> Result<Object, SwError> {
        dispatch!(self, b => b.read(sha, len).await)
    }
    /// See [`Backend::remove`].
    pub async fn remove(&self, sha: &Sha256Digest) -> Result<(), SwError> {
        dispatch!(self, b => b.remove(sha).await)
    }
    /// See [`Backend::stored`].
    pub async fn stored(&self) -> Result<BTreeSet<String>, SwError> {
        dispatch!(self, b => b.stored().await)
    }

    /// A request for the bytes of `sha` from `offset` on is starting: OPFS opens that piece's
    /// file meanwhile ([`opfs::Opfs::prepare`]); IndexedDB has nothing to open.
    pub fn prepare(&self, sha: &Sha256Digest, offset: u64) {
        if let Self::Opfs(o) = self {
            o.prepare(sha, offset);
        }
    }
}
