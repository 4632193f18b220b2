//! The resumable, verifying download plan: a state machine that decides which byte ranges of
//! which content-addressed shards to request, checks every answer, says what to persist, promote
//! or discard, and when to retry. A whole file's check is [`crate::assemble`].
//!
//! It does no IO: it never fetches, stores, sleeps or reads a clock. Its caller (the service
//! worker, a test) does the fetches, keeps the bytes in a staging area that readers cannot see,
//! feeds the plan response heads, body chunks and "now" in milliseconds, and carries out what the
//! plan answers. See [`DownloadPlan`] for the order of calls.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;
use crate::manifest::ShardRef;
use crate::range::{check_partial_response, ByteRange, RangeError};

/// Limits of a [`DownloadPlan`]: parallelism, retry bounds and backoff.
///
/// Zero counts are read as 1 (a plan always makes progress and always tries once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadConfig {
    /// Most requests in flight at once, over all shards (one per shard at most). Default 4.
    pub max_parallel: usize,
    /// Downloads of one shard whose bytes may fail verification before the plan gives up on it
    /// with `shard-hash-mismatch`. Default 3.
    pub max_hash_failures: u32,
    /// Consecutive failed attempts on one shard that stored no new byte before the plan gives up
    /// on it with `download-retries-exhausted`. Default 5.
    pub max_failures_without_progress: u32,
    /// Backoff after the first failure, doubled after each further one. Default 500 ms.
    pub backoff_base_ms: u64,
    /// Longest backoff. Default 30 000 ms.
    pub backoff_max_ms: u64,
    /// Who hashes a complete shard. Default [`Hashing::InPlan`].
    pub hashing: Hashing,
    /// Most bytes one request asks for (0: the rest of the shard, the default). A request that
    /// delivers its whole range ends in [`EndAction::Continue`] and the shard's next range is
    /// requested at once. Browsers drop body bytes they received but had not handed to the
    /// reader when a connection fails, so this — not the reader — bounds what a cut can cost.
    pub max_request_bytes: u64,
}

/// Who computes a shard's sha256: the plan (portable `sha2`, fed every byte) or its caller (a
/// platform hasher such as WebCrypto, over the staged bytes once a shard is complete — the
/// bytes then never need to reach the plan). The decision — digest equal to the signed one or
/// not, and what follows — is the plan's either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hashing {
    /// The plan hashes what it is fed: [`DownloadPlan::handle_body_chunk`] and
    /// [`DownloadPlan::seed_staged`].
    #[default]
    InPlan,
    /// The caller hashes: it feeds lengths ([`DownloadPlan::handle_body_len`],
    /// [`DownloadPlan::seed_staged_len`]); once a shard's bytes are all staged the plan answers
    /// [`EndAction::Digest`] / [`SeedAction::Digest`], and the caller hands it the digest of the
    /// staged bytes ([`DownloadPlan::handle_digest`], [`DownloadPlan::seed_digest`]).
    ByCaller,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        Self {
            max_parallel: 4,
            max_hash_failures: 3,
            max_failures_without_progress: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            hashing: Hashing::InPlan,
            max_request_bytes: 0,
        }
    }
}

impl DownloadConfig {
    /// The wait before retrying a shard after its `failures`-th consecutive failure:
    /// `backoff_base_ms · 2^(failures−1)`, at most `backoff_max_ms`; 0 when `failures == 0`.
    pub fn backoff_delay_ms(&self, failures: u32) -> u64 {
        if failures == 0 {
            return 0;
        }
        let factor = 1u64.checked_shl((failures - 1).min(63)).unwrap_or(u64::MAX);
        self.backoff_base_ms
            .saturating_mul(factor)
            .min(self.backoff_max_ms)
    }

    fn max_parallel(&self) -> usize {
        self.max_parallel.max(1)
    }

    fn max_hash_failures(&self) -> u32 {
        self.max_hash_failures.max(1)
    }

    fn max_failures_without_progress(&self) -> u32 {
        self.max_failures_without_progress.max(1)
    }
}

/// Names one request issued by a [`DownloadPlan`]; never reused within a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A request to issue: `GET` the shard with `Range: {range.header_value()}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Passed back with every event of this request.
    pub id: RequestId,
    /// The shard to fetch.
    pub shard: ShardRef,
    /// From the shard's stored offset to its last byte.
    pub range: ByteRange,
}

/// The head of a response, as the caller received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// HTTP status.
    pub status: u16,
    /// The `Content-Range` header, if any.
    pub content_range: Option<&'a str>,
    /// The `Content-Length` header, if the server sent one.
    pub content_length: Option<u64>,
}

/// What to do after a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum HeadAction {
    /// Read the body: it holds the bytes asked for.
    ReadBody,
    /// The server ignored `Range` and sends the whole shard: discard the shard's staged bytes
    /// now, then read the body, which starts at byte 0.
    RestartFromZero {
        /// The shard whose staged bytes to discard.
        shard: ShardRef,
    },
    /// The response is unusable: cancel it without reading the body.
    Cancel(RequestFailed),
}

/// What to do with a body chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum ChunkAction {
    /// In one storage transaction: write the chunk at `offset` of the shard's staging area and
    /// record `offset + len` as its stored length (`offset == 0` replaces what was staged).
    Persist {
        /// The shard the bytes belong to.
        shard: ShardRef,
        /// Where in the shard the chunk starts.
        offset: u64,
        /// The chunk's length (0 for an empty chunk: nothing to store).
        len: u64,
    },
    /// The body runs past what was asked: store nothing of this chunk and cancel the response.
    Cancel(RequestFailed),
}

/// What to do once a response ended (cleanly or by a network error).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum EndAction {
    /// The shard is complete and its bytes hash to its digest: promote its staged bytes, making
    /// the shard visible to readers.
    Verified {
        /// The verified shard.
        shard: ShardRef,
    },
    /// The request failed (body cut short, or complete but hashing wrong).
    Failed(RequestFailed),
    /// The request delivered all of its range ([`DownloadConfig::max_request_bytes`]); the
    /// shard is not complete yet and its next range is due now. Nothing to store beyond the
    /// chunks already persisted.
    Continue {
        /// The shard.
        shard: ShardRef,
        /// Bytes of it stored now.
        offset: u64,
    },
    /// [`Hashing::ByCaller`]: every byte of the shard is staged; hash the staged bytes and hand
    /// the digest to [`DownloadPlan::handle_digest`] (until then the shard is neither visible
    /// nor requested again).
    Digest {
        /// The complete, not yet verified shard.
        shard: ShardRef,
    },
}

/// A failed request: why, what to do with the staged bytes, and what happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFailed {
    /// The shard the request was for.
    pub shard: ShardRef,
    /// Why this request failed.
    pub cause: DownloadError,
    /// When `true`, the shard's staged bytes are unusable: delete them. When `false`, keep them;
    /// the next request resumes after them.
    pub discard_staged: bool,
    /// What the plan does next for this shard.
    pub next: NextAttempt,
}

/// What a plan does for a shard after a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAttempt {
    /// Requests the shard again from byte `offset`, not before `at_ms`.
    Retry {
        /// Earliest time of the next request (the `now_ms` of the failure when it made progress).
        at_ms: u64,
        /// The byte the next request starts at.
        offset: u64,
    },
    /// The plan gave up on this shard with this error (also in [`DownloadPlan::failure`]).
    GaveUp(DownloadError),
}

/// What to do with staged bytes fed back by [`DownloadPlan::seed_staged`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum SeedAction {
    /// Taken; the shard's download resumes at `offset`.
    Resume {
        /// The shard's stored length so far.
        offset: u64,
    },
    /// The staged bytes are the whole shard and hash to its digest: promote them.
    Verified,
    /// The staged bytes are unusable (longer than the shard, or the whole shard hashing wrong):
    /// delete them and feed no more for this shard; it is downloaded from byte 0.
    Discard {
        /// Why.
        cause: DownloadError,
    },
    /// The shard is already verified: its staged bytes are not needed and may be deleted.
    Redundant,
    /// [`Hashing::ByCaller`]: the staged bytes are the whole shard; hash them and hand the
    /// digest to [`DownloadPlan::seed_digest`].
    Digest,
}

/// A point-in-time view of a plan, for progress bars and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of all distinct shards.
    pub total_bytes: u64,
    /// Bytes of verified shards.
    pub verified_bytes: u64,
    /// Bytes stored but not yet verified.
    pub staged_bytes: u64,
    /// Distinct shards.
    pub shards_total: usize,
    /// Shards verified.
    pub shards_verified: usize,
    /// Shards the plan gave up on.
    pub shards_failed: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Every shard, in plan order.
    pub shards: Vec<ShardProgress>,
}

impl Progress {
    /// Bytes verified or staged: what a progress bar shows as done.
    pub const fn done_bytes(&self) -> u64 {
        self.verified_bytes.saturating_add(self.staged_bytes)
    }
}

/// One shard in a [`Progress`] snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardProgress {
    /// The shard.
    pub shard: ShardRef,
    /// Bytes stored (staged or verified).
    pub stored_bytes: u64,
    /// Where it stands.
    pub state: ShardState,
}

/// Where one shard stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardState {
    /// Waiting to be requested, not before `not_before_ms` (0 when it never failed).
    Waiting {
        /// Earliest time of its next request.
        not_before_ms: u64,
    },
    /// A request for it is in flight.
    InFlight,
    /// Every byte is staged; the caller is hashing it ([`Hashing::ByCaller`]).
    Hashing,
    /// Complete and verified.
    Verified,
    /// The plan gave up on it with the error of this code.
    Failed {
        /// The failure's [`ErrorCode::code`].
        code: &'static str,
    },
}

/// The download of a set of content-addressed shards: resumable, verifying, retrying.
///
/// # Order of calls
///
/// 1. [`DownloadPlan::new`] with the shards (duplicates are fetched once).
/// 2. Seeding from storage, before the first [`poll_request`](Self::poll_request):
///    [`seed_verified`](Self::seed_verified) for every shard the store already holds verified,
///    and [`seed_staged`](Self::seed_staged) with every partially stored shard's staged bytes,
///    in order, so that its hash state is rebuilt and its download resumes where it stopped.
/// 3. Until [`is_finished`](Self::is_finished):
///    - call [`poll_request`](Self::poll_request) until it returns `None`, starting a fetch for
///      each request;
///    - for each fetch, [`handle_response_head`](Self::handle_response_head), then
///      [`handle_body_chunk`](Self::handle_body_chunk) for each chunk in order, then
///      [`handle_body_end`](Self::handle_body_end) — or, whenever the fetch fails,
///      [`handle_network_error`](Self::handle_network_error). Once an action says `Cancel` or
///      the request has ended, its id is spent; further calls with it are `unknown-request`;
///    - when no fetch is running, wait until [`poll_timeout`](Self::poll_timeout) and poll again.
///
/// Each action names the storage work to do: persist a chunk together with the shard's new
/// stored length (one transaction), promote a verified shard's staged bytes, or delete them.
/// A shard's bytes become visible only after [`EndAction::Verified`] or
/// [`SeedAction::Verified`]. Failures are per shard: the plan gives up on a shard after its
/// retry bounds and goes on with the others; [`failure`](Self::failure) reports it.
///
/// # Retries
///
/// A failed request *made progress* when its shard ends with more bytes stored than when the
/// request was issued: the shard is then retried at once, from its stored offset. Otherwise the
/// shard's count of consecutive failures without progress grows, and it waits
/// [`DownloadConfig::backoff_delay_ms`] of that count; at
/// [`max_failures_without_progress`](DownloadConfig::max_failures_without_progress) the plan
/// gives up on it with `download-retries-exhausted`, carrying the last cause. A complete shard
/// that hashes wrong has its staging discarded and counts a hash failure, waits the backoff of
/// that count, and restarts from byte 0; at
/// [`max_hash_failures`](DownloadConfig::max_hash_failures) the plan gives up with
/// `shard-hash-mismatch`.
#[derive(Debug)]
pub struct DownloadPlan {
    config: DownloadConfig,
    shards: Vec<ShardSlot>,
    requests: Vec<InFlight>,
    next_request: u64,
    started: bool,
}

#[derive(Debug)]
struct ShardSlot {
    shard: ShardRef,
    hasher: Sha256,
    /// Bytes stored in the staging area (all of them once verified).
    offset: u64,
    status: Status,
    not_before_ms: u64,
    failures_without_progress: u32,
    hash_failures: u32,
}

#[derive(Debug)]
enum Status {
    Idle,
    InFlight,
    /// Complete, waiting for the caller's digest.
    Hashing,
    Verified,
    Failed(DownloadError),
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    slot: usize,
    range: ByteRange,
    /// The shard's offset when the request was issued: the request made progress when the
    /// shard's offset ends beyond it.
    start_offset: u64,
    head_seen: bool,
}

impl DownloadPlan {
    /// A plan for `shards` (identical shards are fetched once, in first-seen order).
    ///
    /// Fails with `shard-empty` for a shard of size 0 and `shard-size-conflict` for one digest
    /// listed with two sizes: both are impossible in a valid manifest.
    pub fn new(
        shards: impl IntoIterator<Item = ShardRef>,
        config: DownloadConfig,
    ) -> Result<Self, DownloadError> {
        let mut slots: Vec<ShardSlot> = Vec::new();
        for shard in shards {
            if shard.size == 0 {
                return Err(DownloadError::EmptyShard {
                    shard: shard.sha256,
                });
            }
            match slots.iter().find(|s| s.shard.sha256 == shard.sha256) {
                Some(seen) if seen.shard.size == shard.size => {}
                Some(seen) => {
                    return Err(DownloadError::ShardSizeConflict {
                        shard: shard.sha256,
                        first: seen.shard.size,
                        second: shard.size,
                    })
                }
                None => slots.push(ShardSlot::new(shard)),
            }
        }
        Ok(Self {
            config,
            shards: slots,
            requests: Vec::new(),
            next_request: 0,
            started: false,
        })
    }

    /// The store already holds this shard verified (content-addressed, perhaps from another
    /// version): it is not downloaded. Only before the first `poll_request`.
    pub fn seed_verified(&mut self, shard: Sha256Digest) -> Result<(), DownloadError> {
        let slot = self.seed_slot(shard)?;
        slot.hasher = Sha256::new();
        slot.offset = slot.shard.size;
        slot.status = Status::Verified;
        Ok(())
    }

    /// Feeds back the next `bytes` of a partially stored shard's staging area, in order from byte
    /// 0, rebuilding its hash state; its download then resumes at the stored length instead of
    /// byte 0. Only before the first `poll_request`.
    pub fn seed_staged(
        &mut self,
        shard: Sha256Digest,
        bytes: &[u8],
    ) -> Result<SeedAction, DownloadError> {
        self.require(Hashing::InPlan, "seed_staged")?;
        let slot = self.seed_slot(shard)?;
        if matches!(slot.status, Status::Verified) {
            return Ok(SeedAction::Redundant);
        }
        let size = slot.shard.size;
        let staged = slot.offset.saturating_add(len_u64(bytes));
        if staged > size {
            slot.restart();
            return Ok(SeedAction::Discard {
                cause: DownloadError::StagedTooLong {
                    shard,
                    staged,
                    size,
                },
            });
        }
        slot.hasher.update(bytes);
        slot.offset = staged;
        if staged < size {
            return Ok(SeedAction::Resume { offset: staged });
        }
        match slot.finish_hash() {
            Ok(()) => {
                slot.status = Status::Verified;
                Ok(SeedAction::Verified)
            }
            Err(actual) => Ok(SeedAction::Discard {
                cause: DownloadError::ShardHashMismatch {
                    shard,
                    actual,
                    failures: slot.hash_failures,
                },
            }),
        }
    }

    /// [`Hashing::ByCaller`]: a partially stored shard has `len` contiguous staged bytes from
    /// byte 0. Its download resumes there ([`SeedAction::Resume`]); at the shard's size the
    /// caller hashes them first ([`SeedAction::Digest`]); longer is [`SeedAction::Discard`].
    /// Only before the first `poll_request`.
    pub fn seed_staged_len(
        &mut self,
        shard: Sha256Digest,
        len: u64,
    ) -> Result<SeedAction, DownloadError> {
        self.require(Hashing::ByCaller, "seed_staged_len")?;
        let slot = self.seed_slot(shard)?;
        if matches!(slot.status, Status::Verified) {
            return Ok(SeedAction::Redundant);
        }
        let size = slot.shard.size;
        if len > size {
            slot.restart();
            return Ok(SeedAction::Discard {
                cause: DownloadError::StagedTooLong {
                    shard,
                    staged: len,
                    size,
                },
            });
        }
        slot.offset = len;
        if len < size {
            return Ok(SeedAction::Resume { offset: len });
        }
        slot.status = Status::Hashing;
        Ok(SeedAction::Digest)
    }

    /// [`Hashing::ByCaller`]: the digest of a shard whose whole staged bytes were seeded
    /// ([`SeedAction::Digest`]): [`SeedAction::Verified`] when it is the signed one, else
    /// [`SeedAction::Discard`] (downloaded again from byte 0).
    pub fn seed_digest(
        &mut self,
        shard: Sha256Digest,
        actual: Sha256Digest,
    ) -> Result<SeedAction, DownloadError> {
        let slot = self.seed_slot(shard)?;
        if !matches!(slot.status, Status::Hashing) {
            return Err(DownloadError::DigestNotAwaited { shard });
        }
        if actual == shard {
            slot.status = Status::Verified;
            return Ok(SeedAction::Verified);
        }
        slot.status = Status::Idle;
        slot.restart();
        Ok(SeedAction::Discard {
            cause: DownloadError::ShardHashMismatch {
                shard,
                actual,
                failures: slot.hash_failures,
            },
        })
    }

    /// The next request to issue, if the parallel cap allows one and a shard is due at `now_ms`:
    /// its range runs from the shard's stored offset to its end, or for at most
    /// [`DownloadConfig::max_request_bytes`]. One request per shard at most.
    pub fn poll_request(&mut self, now_ms: u64) -> Option<Request> {
        self.started = true;
        if self.requests.len() >= self.config.max_parallel() {
            return None;
        }
        let (index, slot) = self
            .shards
            .iter_mut()
            .enumerate()
            .find(|(_, s)| matches!(s.status, Status::Idle) && s.not_before_ms <= now_ms)?;
        // An idle shard always has bytes left: reaching its size ends in verification or restart.
        let last = match self.config.max_request_bytes {
            0 => slot.shard.size - 1,
            max => slot.offset.saturating_add(max).min(slot.shard.size) - 1,
        };
        let range = ByteRange::new(slot.offset, last)?;
        slot.status = Status::InFlight;
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.push(InFlight {
            id,
            slot: index,
            range,
            start_offset: slot.offset,
            head_seen: false,
        });
        Some(Request {
            id,
            shard: slot.shard,
            range,
        })
    }

    /// The earliest time at which a waiting shard may be requested (it may be in the past);
    /// `None` when no shard is waiting.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.shards
            .iter()
            .filter(|s| matches!(s.status, Status::Idle))
            .map(|s| s.not_before_ms)
            .min()
    }

    /// The head of request `id`'s response. Checks status, `Content-Range` and `Content-Length`
    /// against what was asked; a `200` is taken as the whole shard.
    pub fn handle_response_head(
        &mut self,
        id: RequestId,
        head: ResponseHead<'_>,
        now_ms: u64,
    ) -> Result<HeadAction, DownloadError> {
        let r = self.request_index(id)?;
        let req = &mut self.requests[r];
        if req.head_seen {
            return Err(DownloadError::RequestOutOfOrder {
                id,
                detail: "second response head",
            });
        }
        req.head_seen = true;
        let range = req.range;
        let slot = &self.shards[req.slot];
        let (shard, offset) = (slot.shard, slot.offset);
        let (checked, expected_len) = match head.status {
            200 => (Ok(()), shard.size),
            206 | 416 => (
                check_partial_response(range, shard.size, head.status, head.content_range).map_err(
                    |source| DownloadError::Range {
                        shard: shard.sha256,
                        source,
                    },
                ),
                range.len(),
            ),
            status => (
                Err(DownloadError::HttpStatus {
                    shard: shard.sha256,
                    status,
                }),
                0,
            ),
        };
        let length = match head.content_length {
            Some(got) if got != expected_len => Err(DownloadError::ContentLengthMismatch {
                shard: shard.sha256,
                expected: expected_len,
                got,
            }),
            _ => Ok(()),
        };
        if let Err(cause) = checked.and(length) {
            return Ok(HeadAction::Cancel(self.fail(r, cause, false, now_ms)));
        }
        if head.status == 200 && offset > 0 {
            self.shards[self.requests[r].slot].restart();
            return Ok(HeadAction::RestartFromZero { shard });
        }
        Ok(HeadAction::ReadBody)
    }

    /// The next chunk of request `id`'s body ([`Hashing::InPlan`]). Bytes beyond the shard's
    /// end fail the request (`body-too-long`) and make everything staged for it suspect.
    pub fn handle_body_chunk(
        &mut self,
        id: RequestId,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<ChunkAction, DownloadError> {
        self.require(Hashing::InPlan, "handle_body_chunk")?;
        self.body(id, len_u64(bytes), Some(bytes), now_ms)
    }

    /// The next `len` bytes of request `id`'s body ([`Hashing::ByCaller`]: the plan never sees
    /// them). Checked and answered exactly as [`handle_body_chunk`](Self::handle_body_chunk).
    pub fn handle_body_len(
        &mut self,
        id: RequestId,
        len: u64,
        now_ms: u64,
    ) -> Result<ChunkAction, DownloadError> {
        self.require(Hashing::ByCaller, "handle_body_len")?;
        self.body(id, len, None, now_ms)
    }

    fn body(
        &mut self,
        id: RequestId,
        len: u64,
        bytes: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<ChunkAction, DownloadError> {
        let r = self.request_index(id)?;
        let req = &self.requests[r];
        if !req.head_seen {
            return Err(DownloadError::RequestOutOfOrder {
                id,
                detail: "body chunk before the response head",
            });
        }
        let slot = &mut self.shards[req.slot];
        let shard = slot.shard;
        if len > shard.size - slot.offset {
            let cause = DownloadError::BodyTooLong {
                shard: shard.sha256,
                size: shard.size,
            };
            slot.restart();
            return Ok(ChunkAction::Cancel(self.fail(r, cause, true, now_ms)));
        }
        if let Some(bytes) = bytes {
            slot.hasher.update(bytes);
        }
        let offset = slot.offset;
        slot.offset += len;
        Ok(ChunkAction::Persist { shard, offset, len })
    }

    /// [`Hashing::ByCaller`]: the digest of the staged bytes of a shard the plan answered
    /// [`EndAction::Digest`] for. The signed digest verifies it; any other is a hash failure
    /// (staging discarded, retried from byte 0 after the backoff, given up on at the bound).
    pub fn handle_digest(
        &mut self,
        shard: Sha256Digest,
        actual: Sha256Digest,
        now_ms: u64,
    ) -> Result<EndAction, DownloadError> {
        let index = self
            .shards
            .iter()
            .position(|s| s.shard.sha256 == shard)
            .ok_or(DownloadError::UnknownShard { shard })?;
        let slot = &mut self.shards[index];
        if !matches!(slot.status, Status::Hashing) {
            return Err(DownloadError::DigestNotAwaited { shard });
        }
        let shard_ref = slot.shard;
        if actual == shard {
            slot.status = Status::Verified;
            return Ok(EndAction::Verified { shard: shard_ref });
        }
        slot.restart();
        slot.hash_failures += 1;
        let cause = DownloadError::ShardHashMismatch {
            shard,
            actual,
            failures: slot.hash_failures,
        };
        Ok(EndAction::Failed(
            self.fail_slot(index, 0, cause, true, now_ms),
        ))
    }

    /// Request `id`'s body ended cleanly. A complete shard is verified by its hash; a short body
    /// is kept and resumed later from where it stopped.
    pub fn handle_body_end(
        &mut self,
        id: RequestId,
        now_ms: u64,
    ) -> Result<EndAction, DownloadError> {
        let r = self.request_index(id)?;
        if !self.requests[r].head_seen {
            return Err(DownloadError::RequestOutOfOrder {
                id,
                detail: "body end before the response head",
            });
        }
        let slot = &self.shards[self.requests[r].slot];
        let cause = DownloadError::BodyTruncated {
            shard: slot.shard.sha256,
            got: slot.offset,
            size: slot.shard.size,
        };
        Ok(self.end(r, cause, now_ms))
    }

    /// Request `id` failed (connection cut, fetch rejected, aborted), before or during its body.
    /// Treated like a short body: what was stored is kept. If every byte had arrived, the shard
    /// is verified by its hash as if the body had ended.
    pub fn handle_network_error(
        &mut self,
        id: RequestId,
        now_ms: u64,
    ) -> Result<EndAction, DownloadError> {
        let r = self.request_index(id)?;
        let slot = &self.shards[self.requests[r].slot];
        let cause = DownloadError::Interrupted {
            shard: slot.shard.sha256,
            offset: slot.offset,
        };
        Ok(self.end(r, cause, now_ms))
    }

    /// Every shard is verified.
    pub fn is_complete(&self) -> bool {
        self.shards
            .iter()
            .all(|s| matches!(s.status, Status::Verified))
    }

    /// Nothing is left to do: every shard is verified or given up on.
    pub fn is_finished(&self) -> bool {
        self.shards
            .iter()
            .all(|s| matches!(s.status, Status::Verified | Status::Failed(_)))
    }

    /// The first shard (in plan order) the plan gave up on, with why.
    pub fn failure(&self) -> Option<&DownloadError> {
        self.failures().next().map(|(_, e)| e)
    }

    /// Every shard the plan gave up on, with why.
    pub fn failures(&self) -> impl Iterator<Item = (ShardRef, &DownloadError)> + '_ {
        self.shards.iter().filter_map(|s| match &s.status {
            Status::Failed(e) => Some((s.shard, e)),
            _ => None,
        })
    }

    /// A snapshot of where the download stands.
    pub fn progress(&self) -> Progress {
        let mut p = Progress {
            total_bytes: 0,
            verified_bytes: 0,
            staged_bytes: 0,
            shards_total: self.shards.len(),
            shards_verified: 0,
            shards_failed: 0,
            in_flight: self.requests.len(),
            shards: Vec::with_capacity(self.shards.len()),
        };
        for s in &self.shards {
            p.total_bytes = p.total_bytes.saturating_add(s.shard.size);
            let state = match &s.status {
                Status::Idle => ShardState::Waiting {
                    not_before_ms: s.not_before_ms,
                },
                Status::InFlight => ShardState::InFlight,
                Status::Hashing => ShardState::Hashing,
                Status::Verified => ShardState::Verified,
                Status::Failed(e) => ShardState::Failed { code: e.code() },
            };
            match state {
                ShardState::Verified => {
                    p.shards_verified += 1;
                    p.verified_bytes = p.verified_bytes.saturating_add(s.shard.size);
                }
                ShardState::Failed { .. } => {
                    p.shards_failed += 1;
                    p.staged_bytes = p.staged_bytes.saturating_add(s.offset);
                }
                _ => p.staged_bytes = p.staged_bytes.saturating_add(s.offset),
            }
            p.shards.push(ShardProgress {
                shard: s.shard,
                stored_bytes: s.offset,
                state,
            });
        }
        p
    }

    fn seed_slot(&mut self, shard: Sha256Digest) -> Result<&mut ShardSlot, DownloadError> {
        let slot = self
            .shards
            .iter_mut()
            .find(|s| s.shard.sha256 == shard)
            .ok_or(DownloadError::UnknownShard { shard })?;
        if self.started {
            return Err(DownloadError::SeedAfterStart { shard });
        }
        Ok(slot)
    }

    /// Fails with `download-hashing-mode` when the plan was not configured for `mode`.
    fn require(&self, mode: Hashing, call: &'static str) -> Result<(), DownloadError> {
        if self.config.hashing == mode {
            return Ok(());
        }
        Err(DownloadError::HashingMode { call })
    }

    fn request_index(&self, id: RequestId) -> Result<usize, DownloadError> {
        self.requests
            .iter()
            .position(|r| r.id == id)
            .ok_or(DownloadError::UnknownRequest { id })
    }

    /// Ends request `r`: verifies a complete shard, else fails the request with `short_cause`.
    fn end(&mut self, r: usize, short_cause: DownloadError, now_ms: u64) -> EndAction {
        let req_end = self.requests[r].range.end();
        let slot = &mut self.shards[self.requests[r].slot];
        if slot.offset < slot.shard.size {
            if slot.offset == req_end + 1 {
                // The whole range arrived: the shard goes on with its next range, no failure.
                slot.status = Status::Idle;
                slot.not_before_ms = now_ms;
                slot.failures_without_progress = 0;
                let (shard, offset) = (slot.shard, slot.offset);
                self.requests.swap_remove(r);
                return EndAction::Continue { shard, offset };
            }
            return EndAction::Failed(self.fail(r, short_cause, false, now_ms));
        }
        let shard = slot.shard;
        if self.config.hashing == Hashing::ByCaller {
            slot.status = Status::Hashing;
            self.requests.swap_remove(r);
            return EndAction::Digest { shard };
        }
        match slot.finish_hash() {
            Ok(()) => {
                slot.status = Status::Verified;
                self.requests.swap_remove(r);
                EndAction::Verified { shard }
            }
            Err(actual) => {
                slot.hash_failures += 1;
                let cause = DownloadError::ShardHashMismatch {
                    shard: shard.sha256,
                    actual,
                    failures: slot.hash_failures,
                };
                EndAction::Failed(self.fail(r, cause, true, now_ms))
            }
        }
    }

    /// Removes request `r`, counts its failure against its shard and schedules what follows.
    fn fail(
        &mut self,
        r: usize,
        cause: DownloadError,
        discard_staged: bool,
        now_ms: u64,
    ) -> RequestFailed {
        let req = self.requests.swap_remove(r);
        self.fail_slot(req.slot, req.start_offset, cause, discard_staged, now_ms)
    }

    /// Counts a failure against shard `index` (whose failed attempt started at `start_offset`)
    /// and schedules what follows.
    fn fail_slot(
        &mut self,
        index: usize,
        start_offset: u64,
        cause: DownloadError,
        discard_staged: bool,
        now_ms: u64,
    ) -> RequestFailed {
        let config = self.config;
        let slot = &mut self.shards[index];
        let shard = slot.shard;
        let hash_failure = matches!(cause, DownloadError::ShardHashMismatch { .. });
        let (gave_up, delay) = if hash_failure {
            slot.failures_without_progress = 0;
            (
                (slot.hash_failures >= config.max_hash_failures()).then(|| cause.clone()),
                config.backoff_delay_ms(slot.hash_failures),
            )
        } else if slot.offset > start_offset {
            slot.failures_without_progress = 0;
            (None, 0)
        } else {
            slot.failures_without_progress += 1;
            let attempts = slot.failures_without_progress;
            (
                (attempts >= config.max_failures_without_progress()).then(|| {
                    DownloadError::RetriesExhausted {
                        shard: shard.sha256,
                        attempts,
                        last: Box::new(cause.clone()),
                    }
                }),
                config.backoff_delay_ms(attempts),
            )
        };
        let next = match gave_up {
            Some(error) => {
                slot.status = Status::Failed(error.clone());
                NextAttempt::GaveUp(error)
            }
            None => {
                slot.status = Status::Idle;
                slot.not_before_ms = now_ms.saturating_add(delay);
                NextAttempt::Retry {
                    at_ms: slot.not_before_ms,
                    offset: slot.offset,
                }
            }
        };
        RequestFailed {
            shard,
            cause,
            discard_staged,
            next,
        }
    }
}

impl ShardSlot {
    fn new(shard: ShardRef) -> Self {
        Self {
            shard,
            hasher: Sha256::new(),
            offset: 0,
            status: Status::Idle,
            not_before_ms: 0,
            failures_without_progress: 0,
            hash_failures: 0,
        }
    }

    /// Forgets the staged bytes: the shard starts again from byte 0.
    fn restart(&mut self) {
        self.hasher = Sha256::new();
        self.offset = 0;
    }

    /// Finalizes the hash of a complete shard; on a mismatch (`Err` with the actual digest) the
    /// shard restarts from byte 0.
    fn finish_hash(&mut self) -> Result<(), Sha256Digest> {
        let actual = Sha256Digest::from_hasher(std::mem::take(&mut self.hasher));
        if actual == self.shard.sha256 {
            return Ok(());
        }
        self.restart();
        Err(actual)
    }
}

fn len_u64(bytes: &[u8]) -> u64 {
    // usize is at most 64 bits on every target tessera builds for.
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

/// A failed download, request, or misuse of a [`DownloadPlan`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// One digest listed with two sizes.
    #[error("shard {shard} is listed with two sizes, {first} and {second} bytes")]
    ShardSizeConflict {
        /// The shard's digest.
        shard: Sha256Digest,
        /// Size first seen.
        first: u64,
        /// The conflicting size.
        second: u64,
    },
    /// A shard of size 0.
    #[error("shard {shard} has size 0; a shard is never empty")]
    EmptyShard {
        /// The shard's digest.
        shard: Sha256Digest,
    },
    /// Seeding names a shard that is not in the plan.
    #[error("shard {shard} is not part of this download")]
    UnknownShard {
        /// The digest given.
        shard: Sha256Digest,
    },
    /// Seeding after the first request was polled.
    #[error("shard {shard}: stored state must be seeded before the first request")]
    SeedAfterStart {
        /// The shard being seeded.
        shard: Sha256Digest,
    },
    /// The staged bytes fed back are longer than the shard.
    #[error("shard {shard}: {staged} staged bytes exceed its size of {size}")]
    StagedTooLong {
        /// The shard.
        shard: Sha256Digest,
        /// Staged bytes fed so far.
        staged: u64,
        /// The shard's size.
        size: u64,
    },
    /// The server answered with a status other than 200, 206 or 416.
    #[error("shard {shard}: server answered HTTP {status}")]
    HttpStatus {
        /// The shard requested.
        shard: Sha256Digest,
        /// The status received.
        status: u16,
    },
    /// The answer to the range request is not the range asked for (code of the [`RangeError`]).
    #[error("shard {shard}: {source}")]
    Range {
        /// The shard requested.
        shard: Sha256Digest,
        /// What is wrong with the answer.
        source: RangeError,
    },
    /// `Content-Length` differs from the bytes asked for.
    #[error("shard {shard}: Content-Length is {got}, expected {expected}")]
    ContentLengthMismatch {
        /// The shard requested.
        shard: Sha256Digest,
        /// Bytes asked for.
        expected: u64,
        /// Bytes announced.
        got: u64,
    },
    /// The body holds more bytes than asked for.
    #[error("shard {shard}: response body runs past the shard's {size} bytes")]
    BodyTooLong {
        /// The shard requested.
        shard: Sha256Digest,
        /// The shard's size.
        size: u64,
    },
    /// The body ended before the shard's end.
    #[error("shard {shard}: response body ended at byte {got} of {size}")]
    BodyTruncated {
        /// The shard requested.
        shard: Sha256Digest,
        /// Bytes stored when it ended.
        got: u64,
        /// The shard's size.
        size: u64,
    },
    /// The fetch failed or was cut.
    #[error("shard {shard}: connection failed at byte {offset}")]
    Interrupted {
        /// The shard requested.
        shard: Sha256Digest,
        /// Bytes stored when it failed.
        offset: u64,
    },
    /// The shard's bytes hash to another digest.
    #[error(
        "shard {shard}: its bytes hash to {actual}; {failures} download(s) of it failed verification"
    )]
    ShardHashMismatch {
        /// The shard (its expected digest).
        shard: Sha256Digest,
        /// What the bytes hashed to.
        actual: Sha256Digest,
        /// Downloads of this shard that failed verification so far.
        failures: u32,
    },
    /// Too many consecutive attempts without progress.
    #[error("shard {shard}: gave up after {attempts} attempts without progress; last: {last}")]
    RetriesExhausted {
        /// The shard.
        shard: Sha256Digest,
        /// Consecutive failed attempts.
        attempts: u32,
        /// The last attempt's error.
        last: Box<DownloadError>,
    },
    /// An id that names no request in flight (never issued, or already ended).
    #[error("no request {id} is in flight")]
    UnknownRequest {
        /// The id given.
        id: RequestId,
    },
    /// A request's events out of order (a chunk before the head, a second head).
    #[error("request {id}: {detail}")]
    RequestOutOfOrder {
        /// The request.
        id: RequestId,
        /// What came out of order.
        detail: &'static str,
    },
    /// A call of the other [`Hashing`] mode (e.g. `handle_body_chunk` on a plan whose caller
    /// hashes).
    #[error("{call} does not belong to this plan's hashing mode")]
    HashingMode {
        /// The call made.
        call: &'static str,
    },
    /// A digest handed over for a shard the plan was not waiting to hash.
    #[error("shard {shard}: no digest was asked for")]
    DigestNotAwaited {
        /// The shard.
        shard: Sha256Digest,
    },
}

impl DownloadError {
    /// The shard this error is about, if any.
    pub fn shard(&self) -> Option<Sha256Digest> {
        match self {
            Self::ShardSizeConflict { shard, .. }
            | Self::EmptyShard { shard }
            | Self::UnknownShard { shard }
            | Self::SeedAfterStart { shard }
            | Self::StagedTooLong { shard, .. }
            | Self::HttpStatus { shard, .. }
            | Self::Range { shard, .. }
            | Self::ContentLengthMismatch { shard, .. }
            | Self::BodyTooLong { shard, .. }
            | Self::BodyTruncated { shard, .. }
            | Self::Interrupted { shard, .. }
            | Self::ShardHashMismatch { shard, .. }
            | Self::RetriesExhausted { shard, .. }
            | Self::DigestNotAwaited { shard } => Some(*shard),
            Self::UnknownRequest { .. }
            | Self::RequestOutOfOrder { .. }
            | Self::HashingMode { .. } => None,
        }
    }

    /// For `download-retries-exhausted`, the code of the last attempt's error.
    pub fn last_cause_code(&self) -> Option<&'static str> {
        match self {
            Self::RetriesExhausted { last, .. } => Some(last.code()),
            _ => None,
        }
    }
}

impl ErrorCode for DownloadError {
    fn code(&self) -> &'static str {
        match self {
            Self::ShardSizeConflict { .. } => "shard-size-conflict",
            Self::EmptyShard { .. } => "shard-empty",
            Self::UnknownShard { .. } => "unknown-shard",
            Self::SeedAfterStart { .. } => "seed-after-start",
            Self::StagedTooLong { .. } => "staged-too-long",
            Self::HttpStatus { .. } => "http-status",
            Self::Range { source, .. } => source.code(),
            Self::ContentLengthMismatch { .. } => "content-length-mismatch",
            Self::BodyTooLong { .. } => "body-too-long",
            Self::BodyTruncated { .. } => "body-truncated",
            Self::Interrupted { .. } => "download-interrupted",
            Self::ShardHashMismatch { .. } => "shard-hash-mismatch",
            Self::RetriesExhausted { .. } => "download-retries-exhausted",
            Self::UnknownRequest { .. } => "unknown-request",
            Self::RequestOutOfOrder { .. } => "request-out-of-order",
            Self::HashingMode { .. } => "download-hashing-mode",
            Self::DigestNotAwaited { .. } => "digest-not-awaited",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn data(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn shard_of(bytes: &[u8]) -> ShardRef {
        ShardRef {
            sha256: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
        }
    }

    fn plan_for(shards: &[ShardRef]) -> DownloadPlan {
        DownloadPlan::new(shards.iter().copied(), DownloadConfig::default()).unwrap()
    }

    /// A `206` head that matches `req` exactly.
    fn head_206(plan: &mut DownloadPlan, req: &Request, now: u64) -> HeadAction {
        let cr = req.range.content_range(req.shard.size);
        let head = ResponseHead {
            status: 206,
            content_range: Some(&cr),
            content_length: Some(req.range.len()),
        };
        plan.handle_response_head(req.id, head, now).unwrap()
    }

    fn head_status(plan: &mut DownloadPlan, req: &Request, status: u16, now: u64) -> HeadAction {
        let head = ResponseHead {
            status,
            content_range: None,
            content_length: None,
        };
        plan.handle_response_head(req.id, head, now).unwrap()
    }

    fn persist(plan: &mut DownloadPlan, req: &Request, bytes: &[u8]) -> (u64, u64) {
        match plan.handle_body_chunk(req.id, bytes, 0).unwrap() {
            ChunkAction::Persist { shard, offset, len } => {
                assert_eq!(shard, req.shard);
                (offset, len)
            }
            other => panic!("expected Persist, got {other:?}"),
        }
    }

    fn failed(action: EndAction) -> RequestFailed {
        match action {
            EndAction::Failed(f) => f,
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    fn cancelled(action: HeadAction) -> RequestFailed {
        match action {
            HeadAction::Cancel(f) => f,
            other => panic!("expected Cancel, got {other:?}"),
        }
    }

    /// Serves `bytes[range]` whole with a matching 206, then ends the body.
    fn serve_rest(plan: &mut DownloadPlan, req: &Request, shard_bytes: &[u8]) -> EndAction {
        assert_eq!(head_206(plan, req, 0), HeadAction::ReadBody);
        let (start, end) = (req.range.start() as usize, req.range.end() as usize);
        persist(plan, req, &shard_bytes[start..=end]);
        plan.handle_body_end(req.id, 0).unwrap()
    }

    #[test]
    fn identical_shards_are_fetched_once() {
        let a = data(10, 1);
        let b = data(12, 2);
        let mut plan = plan_for(&[shard_of(&a), shard_of(&b), shard_of(&a)]);
        assert_eq!(plan.progress().shards_total, 2);
        assert_eq!(plan.progress().total_bytes, 22);
        let first = plan.poll_request(0).unwrap();
        let second = plan.poll_request(0).unwrap();
        assert_eq!((first.shard, second.shard), (shard_of(&a), shard_of(&b)));
        assert_eq!(plan.poll_request(0), None);
    }

    #[test]
    fn empty_shards_and_conflicting_sizes_are_rejected() {
        let empty = ShardRef {
            sha256: Sha256Digest::of(b""),
            size: 0,
        };
        let err = DownloadPlan::new([empty], DownloadConfig::default()).unwrap_err();
        assert_eq!(err.code(), "shard-empty");

        let a = shard_of(b"abc");
        let liar = ShardRef { size: 4, ..a };
        let err = DownloadPlan::new([a, liar], DownloadConfig::default()).unwrap_err();
        assert_eq!(err.code(), "shard-size-conflict");
        assert_eq!(err.shard(), Some(a.sha256));
    }

    #[test]
    fn empty_plan_is_complete_at_once() {
        let mut plan = plan_for(&[]);
        assert!(plan.is_complete() && plan.is_finished());
        assert_eq!(plan.poll_request(0), None);
        assert_eq!(plan.poll_timeout(), None);
    }

    #[test]
    fn first_request_asks_for_the_whole_shard() {
        let a = data(100, 3);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        assert_eq!(req.range, ByteRange::new(0, 99).unwrap());
        assert_eq!(req.range.header_value(), "bytes=0-99");
        assert_eq!(plan.progress().shards[0].state, ShardState::InFlight);
    }

    #[test]
    fn parallel_cap_and_one_request_per_shard_are_respected() {
        let shards: Vec<Vec<u8>> = (0..6).map(|i| data(8, i)).collect();
        let refs: Vec<ShardRef> = shards.iter().map(|s| shard_of(s)).collect();
        let mut plan = plan_for(&refs);
        let reqs: Vec<Request> = std::iter::from_fn(|| plan.poll_request(0)).collect();
        assert_eq!(reqs.len(), 4);
        assert_eq!(plan.progress().in_flight, 4);
        let EndAction::Verified { .. } = serve_rest(&mut plan, &reqs[0], &shards[0]) else {
            panic!("shard 0 should verify");
        };
        let fifth = plan.poll_request(0).unwrap();
        assert_eq!(fifth.shard, refs[4]);
        assert_eq!(plan.poll_request(0), None);
        let mut ids: Vec<_> = reqs.iter().map(|r| r.shard).collect();
        ids.push(fifth.shard);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "no shard is requested twice at once");
    }

    #[test]
    fn zero_parallelism_is_read_as_one() {
        let config = DownloadConfig {
            max_parallel: 0,
            ..DownloadConfig::default()
        };
        let mut plan = DownloadPlan::new([shard_of(b"a"), shard_of(b"b")], config).unwrap();
        assert!(plan.poll_request(0).is_some());
        assert_eq!(plan.poll_request(0), None);
    }

    #[test]
    fn complete_206_body_in_chunks_verifies_the_shard() {
        let a = data(1000, 4);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        assert_eq!(head_206(&mut plan, &req, 0), HeadAction::ReadBody);
        let mut offsets = Vec::new();
        for chunk in a.chunks(300) {
            offsets.push(persist(&mut plan, &req, chunk));
        }
        assert_eq!(offsets, [(0, 300), (300, 300), (600, 300), (900, 100)]);
        assert_eq!(plan.progress().staged_bytes, 1000);
        assert!(!plan.is_complete(), "not verified before the body ends");
        let end = plan.handle_body_end(req.id, 0).unwrap();
        assert_eq!(end, EndAction::Verified { shard: req.shard });
        assert!(plan.is_complete());
        assert_eq!(plan.progress().verified_bytes, 1000);
        assert_eq!(plan.progress().staged_bytes, 0);
        assert_eq!(plan.poll_request(0), None);
        assert_eq!(plan.failure(), None);
    }

    #[test]
    fn status_200_at_offset_zero_is_taken_as_the_whole_shard() {
        let a = data(50, 5);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let head = ResponseHead {
            status: 200,
            content_range: None,
            content_length: Some(50),
        };
        assert_eq!(
            plan.handle_response_head(req.id, head, 0).unwrap(),
            HeadAction::ReadBody
        );
        assert_eq!(persist(&mut plan, &req, &a), (0, 50));
        assert_eq!(
            plan.handle_body_end(req.id, 0).unwrap(),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn status_200_mid_shard_restarts_from_zero_and_still_verifies() {
        let a = data(60, 6);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let _ = head_206(&mut plan, &req, 0);
        persist(&mut plan, &req, &a[..20]);
        let _ = failed(plan.handle_body_end(req.id, 0).unwrap());

        let req = plan.poll_request(0).unwrap();
        assert_eq!(req.range.start(), 20);
        assert_eq!(
            head_status(&mut plan, &req, 200, 0),
            HeadAction::RestartFromZero { shard: req.shard }
        );
        assert_eq!(plan.progress().staged_bytes, 0);
        assert_eq!(persist(&mut plan, &req, &a[..30]), (0, 30));
        assert_eq!(persist(&mut plan, &req, &a[30..]), (30, 30));
        assert_eq!(
            plan.handle_body_end(req.id, 0).unwrap(),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn resumes_from_stored_offset_after_cut() {
        let a = data(100, 7);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let _ = head_206(&mut plan, &req, 0);
        persist(&mut plan, &req, &a[..37]);
        let f = failed(plan.handle_body_end(req.id, 1_000).unwrap());
        assert_eq!(f.cause.code(), "body-truncated");
        assert!(!f.discard_staged, "stored bytes are kept");
        assert_eq!(
            f.next,
            NextAttempt::Retry {
                at_ms: 1_000,
                offset: 37
            },
            "progress was made: retry at once"
        );
        let req = plan.poll_request(1_000).unwrap();
        assert_eq!(req.range, ByteRange::new(37, 99).unwrap());
        assert_eq!(
            serve_rest(&mut plan, &req, &a),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn network_error_mid_body_keeps_stored_bytes_and_resumes() {
        let a = data(100, 8);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let _ = head_206(&mut plan, &req, 0);
        persist(&mut plan, &req, &a[..64]);
        let f = failed(plan.handle_network_error(req.id, 5).unwrap());
        assert_eq!(f.cause.code(), "download-interrupted");
        assert!(!f.discard_staged);
        assert_eq!(plan.poll_request(5).unwrap().range.start(), 64);
    }

    #[test]
    fn network_error_after_the_last_byte_still_verifies_by_hash() {
        let a = data(40, 9);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let _ = head_206(&mut plan, &req, 0);
        persist(&mut plan, &req, &a);
        assert_eq!(
            plan.handle_network_error(req.id, 0).unwrap(),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn failure_without_new_bytes_backs_off_and_counts() {
        let a = data(100, 10);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let f = failed(plan.handle_network_error(req.id, 1_000).unwrap());
        assert_eq!(
            f.next,
            NextAttempt::Retry {
                at_ms: 1_500,
                offset: 0
            }
        );
        assert_eq!(plan.poll_request(1_499), None, "still backing off");
        assert_eq!(plan.poll_timeout(), Some(1_500));
        assert_eq!(
            plan.progress().shards[0].state,
            ShardState::Waiting {
                not_before_ms: 1_500
            }
        );
        assert!(plan.poll_request(1_500).is_some());
    }

    #[test]
    fn progress_resets_the_count_of_failures_without_progress() {
        let a = data(100, 11);
        let config = DownloadConfig {
            max_failures_without_progress: 3,
            backoff_base_ms: 1,
            ..DownloadConfig::default()
        };
        let mut plan = DownloadPlan::new([shard_of(&a)], config).unwrap();
        let mut now = 0;
        for round in 0..4u64 {
            for _ in 0..2 {
                let req = plan.poll_request(now).unwrap();
                let _ = plan.handle_network_error(req.id, now).unwrap();
                now = plan.poll_timeout().unwrap();
            }
            let req = plan.poll_request(now).unwrap();
            let _ = head_206(&mut plan, &req, now);
            persist(
                &mut plan,
                &req,
                &a[round as usize * 10..round as usize * 10 + 10],
            );
            let _ = plan.handle_body_end(req.id, now).unwrap();
        }
        assert_eq!(
            plan.failure(),
            None,
            "2 failures between progress never reach 3"
        );
        let req = plan.poll_request(now).unwrap();
        assert_eq!(
            serve_rest(&mut plan, &req, &a),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn http_errors_back_off_exponentially_then_give_up_with_the_last_cause() {
        let a = data(10, 12);
        let config = DownloadConfig {
            backoff_base_ms: 100,
            backoff_max_ms: 500,
            max_failures_without_progress: 6,
            ..DownloadConfig::default()
        };
        let mut plan = DownloadPlan::new([shard_of(&a)], config).unwrap();
        let mut now = 0;
        let mut delays = Vec::new();
        loop {
            let req = plan.poll_request(now).unwrap();
            let f = cancelled(head_status(&mut plan, &req, 404, now));
            assert_eq!(f.cause.code(), "http-status");
            match f.next {
                NextAttempt::Retry { at_ms, offset } => {
                    assert_eq!(offset, 0);
                    delays.push(at_ms - now);
                    now = at_ms;
                }
                NextAttempt::GaveUp(err) => {
                    assert_eq!(err.code(), "download-retries-exhausted");
                    assert_eq!(err.last_cause_code(), Some("http-status"));
                    break;
                }
            }
        }
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert!(plan.is_finished() && !plan.is_complete());
        assert_eq!(
            plan.failure().map(|e| e.code()),
            Some("download-retries-exhausted")
        );
        assert_eq!(
            plan.failure().and_then(DownloadError::shard),
            Some(shard_of(&a).sha256)
        );
        assert_eq!(plan.poll_request(u64::MAX), None);
        assert_eq!(plan.poll_timeout(), None);
        assert_eq!(
            plan.progress().shards[0].state,
            ShardState::Failed {
                code: "download-retries-exhausted"
            }
        );
    }

    #[test]
    fn bad_answers_to_a_range_request_fail_it_with_their_code() {
        let a = data(100, 13);
        let cases: [(u16, Option<&str>, Option<u64>, &str); 9] = [
            (206, None, None, "content-range-malformed"),
            (206, Some("bytes 0-99"), None, "content-range-malformed"),
            (206, Some("bytes 1-99/100"), None, "content-range-mismatch"),
            (
                206,
                Some("bytes 0-99/101"),
                None,
                "content-range-total-mismatch",
            ),
            (
                206,
                Some("bytes 0-99/100"),
                Some(99),
                "content-length-mismatch",
            ),
            (200, None, Some(12), "content-length-mismatch"),
            (416, Some("bytes */100"), None, "range-unsatisfiable"),
            (500, None, None, "http-status"),
            (403, None, None, "http-status"),
        ];
        for (status, content_range, content_length, code) in cases {
            let mut plan = plan_for(&[shard_of(&a)]);
            let req = plan.poll_request(0).unwrap();
            let head = ResponseHead {
                status,
                content_range,
                content_length,
            };
            let f = cancelled(plan.handle_response_head(req.id, head, 0).unwrap());
            assert_eq!(f.cause.code(), code, "{status} {content_range:?}");
            assert!(!f.discard_staged);
            assert!(matches!(f.next, NextAttempt::Retry { offset: 0, .. }));
            let again = plan.handle_body_chunk(req.id, &a, 0).unwrap_err();
            assert_eq!(
                again.code(),
                "unknown-request",
                "a cancelled request is spent"
            );
        }
    }

    #[test]
    fn range_ok_with_unknown_total_is_accepted() {
        let a = data(10, 14);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let head = ResponseHead {
            status: 206,
            content_range: Some("bytes 0-9/*"),
            content_length: None,
        };
        assert_eq!(
            plan.handle_response_head(req.id, head, 0).unwrap(),
            HeadAction::ReadBody
        );
    }

    #[test]
    fn body_past_the_shard_end_is_not_stored_and_discards_the_staging() {
        let a = data(20, 15);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let _ = head_status(&mut plan, &req, 200, 0);
        persist(&mut plan, &req, &a[..15]);
        let mut long = a[15..].to_vec();
        long.push(0);
        let ChunkAction::Cancel(f) = plan.handle_body_chunk(req.id, &long, 0).unwrap() else {
            panic!("an over-long chunk must cancel");
        };
        assert_eq!(f.cause.code(), "body-too-long");
        assert!(f.discard_staged);
        assert!(matches!(f.next, NextAttempt::Retry { offset: 0, .. }));
        assert_eq!(plan.progress().staged_bytes, 0);
        assert_eq!(plan.poll_request(u64::MAX).unwrap().range.start(), 0);
    }

    #[test]
    fn hash_mismatch_discards_the_staging_and_restarts_from_zero() {
        let a = data(30, 16);
        let mut plan = plan_for(&[shard_of(&a)]);
        let req = plan.poll_request(0).unwrap();
        let mut bad = a.clone();
        bad[7] ^= 1;
        let f = failed(serve_rest(&mut plan, &req, &bad));
        assert_eq!(f.cause.code(), "shard-hash-mismatch");
        assert!(f.discard_staged);
        assert_eq!(
            f.next,
            NextAttempt::Retry {
                at_ms: 500,
                offset: 0
            }
        );
        assert_eq!(plan.progress().staged_bytes, 0);
        let req = plan.poll_request(500).unwrap();
        assert_eq!(req.range.start(), 0);
        assert_eq!(
            serve_rest(&mut plan, &req, &a),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn persistent_corruption_gives_up_with_shard_hash_mismatch_naming_the_shard() {
        let a = data(30, 17);
        let b = data(30, 18);
        let mut bad = a.clone();
        bad[0] ^= 0x80;
        let mut plan = plan_for(&[shard_of(&a), shard_of(&b)]);
        let mut now = 0;
        let mut attempts = 0;
        let mut gave_up = None;
        while !plan.is_finished() {
            let Some(req) = plan.poll_request(now) else {
                now = plan.poll_timeout().unwrap();
                continue;
            };
            if req.shard == shard_of(&b) {
                assert!(matches!(
                    serve_rest(&mut plan, &req, &b),
                    EndAction::Verified { .. }
                ));
                continue;
            }
            attempts += 1;
            let f = failed(serve_rest(&mut plan, &req, &bad));
            assert!(f.discard_staged);
            if let NextAttempt::GaveUp(err) = f.next {
                gave_up = Some(err);
            }
        }
        let err = gave_up.unwrap();
        assert_eq!(attempts, 3);
        assert_eq!(err.code(), "shard-hash-mismatch");
        assert_eq!(err.shard(), Some(shard_of(&a).sha256));
        assert_eq!(plan.failure(), Some(&err));
        let p = plan.progress();
        assert_eq!((p.shards_verified, p.shards_failed), (1, 1));
        assert!(plan.is_finished() && !plan.is_complete());
    }

    #[test]
    fn html_error_page_with_status_200_never_verifies() {
        let a = data(64, 19);
        let page = b"<html><body>Service Unavailable</body></html>";
        for page in [&page[..], &[b'x'; 64][..], &[b'<'; 100][..]] {
            let mut plan = plan_for(&[shard_of(&a)]);
            let req = plan.poll_request(0).unwrap();
            assert_eq!(head_status(&mut plan, &req, 200, 0), HeadAction::ReadBody);
            let end = match plan.handle_body_chunk(req.id, page, 0).unwrap() {
                ChunkAction::Persist { .. } => plan.handle_body_end(req.id, 0).unwrap(),
                ChunkAction::Cancel(f) => EndAction::Failed(f),
            };
            let f = failed(end);
            assert!(
                ["body-truncated", "shard-hash-mismatch", "body-too-long"]
                    .contains(&f.cause.code()),
                "{:?}",
                f.cause
            );
            assert!(!plan.is_complete());
        }
    }

    #[test]
    fn misuse_is_a_typed_error_not_a_panic() {
        let a = data(10, 20);
        let mut plan = plan_for(&[shard_of(&a)]);
        let ghost = RequestId(99);
        assert_eq!(
            plan.handle_body_end(ghost, 0).unwrap_err().code(),
            "unknown-request"
        );
        assert_eq!(
            plan.handle_network_error(ghost, 0).unwrap_err().code(),
            "unknown-request"
        );
        let req = plan.poll_request(0).unwrap();
        assert_eq!(
            plan.handle_body_chunk(req.id, &a, 0).unwrap_err().code(),
            "request-out-of-order"
        );
        assert_eq!(
            plan.handle_body_end(req.id, 0).unwrap_err().code(),
            "request-out-of-order"
        );
        let _ = head_206(&mut plan, &req, 0);
        let head = ResponseHead {
            status: 206,
            content_range: Some("bytes 0-9/10"),
            content_length: None,
        };
        assert_eq!(
            plan.handle_response_head(req.id, head, 0)
                .unwrap_err()
                .code(),
            "request-out-of-order"
        );
        assert_eq!(
            serve_rest_body(&mut plan, &req, &a),
            EndAction::Verified { shard: req.shard }
        );
        assert_eq!(
            plan.handle_body_end(req.id, 0).unwrap_err().code(),
            "unknown-request",
            "an ended request is spent"
        );
    }

    fn serve_rest_body(plan: &mut DownloadPlan, req: &Request, bytes: &[u8]) -> EndAction {
        persist(plan, req, bytes);
        plan.handle_body_end(req.id, 0).unwrap()
    }

    #[test]
    fn seeded_verified_shard_is_never_requested() {
        let (a, b) = (data(10, 21), data(10, 22));
        let mut plan = plan_for(&[shard_of(&a), shard_of(&b)]);
        plan.seed_verified(shard_of(&a).sha256).unwrap();
        assert_eq!(plan.poll_request(0).unwrap().shard, shard_of(&b));
        assert_eq!(plan.poll_request(0), None);
        assert_eq!(plan.progress().verified_bytes, 10);
    }

    #[test]
    fn seeded_staged_prefix_rebuilds_the_hash_and_resumes_at_its_offset() {
        let a = data(100, 23);
        let mut plan = plan_for(&[shard_of(&a)]);
        let sha = shard_of(&a).sha256;
        assert_eq!(
            plan.seed_staged(sha, &a[..30]).unwrap(),
            SeedAction::Resume { offset: 30 }
        );
        assert_eq!(
            plan.seed_staged(sha, &a[30..45]).unwrap(),
            SeedAction::Resume { offset: 45 }
        );
        assert_eq!(plan.progress().staged_bytes, 45);
        let req = plan.poll_request(0).unwrap();
        assert_eq!(req.range, ByteRange::new(45, 99).unwrap());
        assert_eq!(
            serve_rest(&mut plan, &req, &a),
            EndAction::Verified { shard: req.shard }
        );
    }

    #[test]
    fn seeded_wrong_prefix_is_caught_by_the_hash_at_the_end() {
        let a = data(100, 24);
        let mut plan = plan_for(&[shard_of(&a)]);
        let sha = shard_of(&a).sha256;
        let _ = plan.seed_staged(sha, &[0; 30]).unwrap();
        let req = plan.poll_request(0).unwrap();
        let f = failed(serve_rest(&mut plan, &req, &a));
        assert_eq!(f.cause.code(), "shard-hash-mismatch");
        assert!(f.discard_staged);
    }

    #[test]
    fn seeded_complete_staging_is_verified_or_discarded_without_a_request() {
        let a = data(50, 25);
        let sha = shard_of(&a).sha256;
        let mut plan = plan_for(&[shard_of(&a)]);
        assert_eq!(plan.seed_staged(sha, &a).unwrap(), SeedAction::Verified);
        assert!(plan.is_complete());
        assert_eq!(plan.poll_request(0), None);

        let mut plan = plan_for(&[shard_of(&a)]);
        let mut bad = a.clone();
        bad[49] ^= 1;
        let SeedAction::Discard { cause } = plan.seed_staged(sha, &bad).unwrap() else {
            panic!("corrupt staging must be discarded");
        };
        assert_eq!(cause.code(), "shard-hash-mismatch");
        assert_eq!(plan.poll_request(0).unwrap().range.start(), 0);
    }

    #[test]
    fn seeded_staging_longer_than_the_shard_is_discarded() {
        let a = data(10, 26);
        let sha = shard_of(&a).sha256;
        let mut plan = plan_for(&[shard_of(&a)]);
        let _ = plan.seed_staged(sha, &a[..6]).unwrap();
        let SeedAction::Discard { cause } = plan.seed_staged(sha, &a[..6]).unwrap() else {
            panic!("12 staged bytes of a 10-byte shard must be discarded");
        };
        assert_eq!(cause.code(), "staged-too-long");
        assert_eq!(plan.poll_request(0).unwrap().range.start(), 0);
    }

    #[test]
    fn staging_of_an_already_verified_shard_is_redundant() {
        let a = data(10, 27);
        let sha = shard_of(&a).sha256;
        let mut plan = plan_for(&[shard_of(&a)]);
        plan.seed_verified(sha).unwrap();
        assert_eq!(
            plan.seed_staged(sha, &a[..3]).unwrap(),
            SeedAction::Redundant
        );
        assert!(plan.is_complete());
    }

    #[test]
    fn seeding_unknown_shards_or_after_the_first_poll_is_refused() {
        let a = data(10, 28);
        let mut plan = plan_for(&[shard_of(&a)]);
        let other = Sha256Digest::of(b"other");
        assert_eq!(
            plan.seed_verified(other).unwrap_err().code(),
            "unknown-shard"
        );
        assert_eq!(
            plan.seed_staged(other, b"x").unwrap_err().code(),
            "unknown-shard"
        );
        let _ = plan.poll_request(0);
        let sha = shard_of(&a).sha256;
        assert_eq!(
            plan.seed_verified(sha).unwrap_err().code(),
            "seed-after-start"
        );
        assert_eq!(
            plan.seed_staged(sha, b"x").unwrap_err().code(),
            "seed-after-start"
        );
    }

    #[test]
    fn progress_counts_verified_staged_and_in_flight() {
        let (a, b, c) = (data(10, 29), data(20, 30), data(30, 31));
        let mut plan = plan_for(&[shard_of(&a), shard_of(&b), shard_of(&c)]);
        plan.seed_verified(shard_of(&a).sha256).unwrap();
        let _ = plan.seed_staged(shard_of(&b).sha256, &b[..5]).unwrap();
        let req = plan.poll_request(0).unwrap();
        let _ = head_206(&mut plan, &req, 0);
        persist(&mut plan, &req, &b[5..12]);
        let p = plan.progress();
        assert_eq!(
            (
                p.total_bytes,
                p.verified_bytes,
                p.staged_bytes,
                p.done_bytes()
            ),
            (60, 10, 12, 22)
        );
        assert_eq!(
            (p.shards_total, p.shards_verified, p.shards_failed),
            (3, 1, 0)
        );
        assert_eq!(p.in_flight, 1);
        let states: Vec<_> = p.shards.iter().map(|s| (s.stored_bytes, s.state)).collect();
        assert_eq!(
            states,
            [
                (10, ShardState::Verified),
                (12, ShardState::InFlight),
                (0, ShardState::Waiting { not_before_ms: 0 })
            ]
        );
    }

    #[test]
    fn backoff_delay_doubles_and_is_capped() {
        let config = DownloadConfig::default();
        let delays: Vec<u64> = (0..10).map(|n| config.backoff_delay_ms(n)).collect();
        assert_eq!(
            delays,
            [0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(config.backoff_delay_ms(u32::MAX), 30_000);
        let huge = DownloadConfig {
            backoff_base_ms: u64::MAX,
            backoff_max_ms: u64::MAX,
            ..config
        };
        assert_eq!(huge.backoff_delay_ms(70), u64::MAX);
    }

    #[test]
    fn error_messages_name_the_shard() {
        let a = shard_of(b"abc");
        let err = DownloadError::HttpStatus {
            shard: a.sha256,
            status: 503,
        };
        assert!(err.to_string().contains(&a.sha256.to_hex()));
        let range = DownloadError::Range {
            shard: a.sha256,
            source: RangeError::RangeIgnored,
        };
        assert_eq!(range.code(), "range-ignored");
    }

    fn by_caller(shards: &[ShardRef]) -> DownloadPlan {
        let config = DownloadConfig {
            hashing: Hashing::ByCaller,
            ..DownloadConfig::default()
        };
        DownloadPlan::new(shards.iter().copied(), config).unwrap()
    }

    fn persist_len(plan: &mut DownloadPlan, req: &Request, len: u64) -> (u64, u64) {
        match plan.handle_body_len(req.id, len, 0).unwrap() {
            ChunkAction::Persist { offset, len, .. } => (offset, len),
            other => panic!("expected Persist, got {other:?}"),
        }
    }

    #[test]
    fn by_caller_a_complete_shard_waits_for_the_callers_digest() {
        let bytes = data(1000, 1);
        let shard = shard_of(&bytes);
        let mut plan = by_caller(&[shard]);
        let req = plan.poll_request(0).unwrap();
        assert_eq!(head_206(&mut plan, &req, 0), HeadAction::ReadBody);
        assert_eq!(persist_len(&mut plan, &req, 600), (0, 600));
        assert_eq!(persist_len(&mut plan, &req, 400), (600, 400));
        assert_eq!(
            plan.handle_body_end(req.id, 0).unwrap(),
            EndAction::Digest { shard }
        );
        // Hashing: neither requested again nor finished.
        assert!(plan.poll_request(0).is_none());
        assert!(!plan.is_finished());
        assert_eq!(plan.progress().shards[0].state, ShardState::Hashing);
        assert_eq!(
            plan.handle_digest(shard.sha256, Sha256Digest::of(&bytes), 0)
                .unwrap(),
            EndAction::Verified { shard }
        );
        assert!(plan.is_complete());
        // A second digest for it is misuse.
        let again = plan
            .handle_digest(shard.sha256, shard.sha256, 0)
            .unwrap_err();
        assert_eq!(again.code(), "digest-not-awaited");
    }

    #[test]
    fn by_caller_a_wrong_digest_discards_and_retries_then_gives_up() {
        let bytes = data(500, 2);
        let shard = shard_of(&bytes);
        let config = DownloadConfig {
            hashing: Hashing::ByCaller,
            max_hash_failures: 2,
            backoff_base_ms: 100,
            ..DownloadConfig::default()
        };
        let mut plan = DownloadPlan::new([shard], config).unwrap();
        let wrong = Sha256Digest::of(b"not the shard");
        for round in 1..=2u32 {
            let now = u64::from(round) * 1000;
            let req = plan.poll_request(now).unwrap();
            assert_eq!(req.range.start(), 0, "a hash failure restarts from byte 0");
            assert_eq!(head_206(&mut plan, &req, now), HeadAction::ReadBody);
            persist_len(&mut plan, &req, 500);
            assert!(matches!(
                plan.handle_body_end(req.id, now).unwrap(),
                EndAction::Digest { .. }
            ));
            let f = failed(plan.handle_digest(shard.sha256, wrong, now).unwrap());
            assert_eq!(f.cause.code(), "shard-hash-mismatch");
            assert!(f.discard_staged);
            if round == 1 {
                assert_eq!(
                    f.next,
                    NextAttempt::Retry {
                        at_ms: now + 100,
                        offset: 0
                    }
                );
            } else {
                assert!(matches!(f.next, NextAttempt::GaveUp(_)));
            }
        }
        assert_eq!(plan.failure().unwrap().code(), "shard-hash-mismatch");
    }

    #[test]
    fn by_caller_seeding_resumes_or_asks_for_a_digest() {
        let a = data(300, 3);
        let b = data(200, 4);
        let c = data(100, 5);
        let (sa, sb, sc) = (shard_of(&a), shard_of(&b), shard_of(&c));
        let mut plan = by_caller(&[sa, sb, sc]);
        assert_eq!(
            plan.seed_staged_len(sa.sha256, 120).unwrap(),
            SeedAction::Resume { offset: 120 }
        );
        assert_eq!(
            plan.seed_staged_len(sb.sha256, 200).unwrap(),
            SeedAction::Digest
        );
        assert_eq!(
            plan.seed_digest(sb.sha256, Sha256Digest::of(&b)).unwrap(),
            SeedAction::Verified
        );
        assert!(matches!(
            plan.seed_staged_len(sc.sha256, 101).unwrap(),
            SeedAction::Discard {
                cause: DownloadError::StagedTooLong { .. }
            }
        ));
        let first = plan.poll_request(0).unwrap();
        assert_eq!((first.shard, first.range.start()), (sa, 120));
        let second = plan.poll_request(0).unwrap();
        assert_eq!((second.shard, second.range.start()), (sc, 0));
        assert!(
            plan.poll_request(0).is_none(),
            "the seeded shard is verified"
        );
    }

    #[test]
    fn by_caller_a_wrong_seeded_digest_restarts_the_shard() {
        let a = data(64, 6);
        let sa = shard_of(&a);
        let mut plan = by_caller(&[sa]);
        assert_eq!(
            plan.seed_staged_len(sa.sha256, 64).unwrap(),
            SeedAction::Digest
        );
        let wrong = Sha256Digest::of(b"x");
        assert!(matches!(
            plan.seed_digest(sa.sha256, wrong).unwrap(),
            SeedAction::Discard {
                cause: DownloadError::ShardHashMismatch { .. }
            }
        ));
        assert_eq!(plan.poll_request(0).unwrap().range.start(), 0);
    }

    #[test]
    fn calls_of_the_other_hashing_mode_are_refused() {
        let bytes = data(10, 7);
        let shard = shard_of(&bytes);
        let mut in_plan = plan_for(&[shard]);
        assert_eq!(
            in_plan.seed_staged_len(shard.sha256, 5).unwrap_err().code(),
            "download-hashing-mode"
        );
        let req = in_plan.poll_request(0).unwrap();
        assert_eq!(head_206(&mut in_plan, &req, 0), HeadAction::ReadBody);
        assert_eq!(
            in_plan.handle_body_len(req.id, 10, 0).unwrap_err().code(),
            "download-hashing-mode"
        );
        let mut caller = by_caller(&[shard]);
        assert_eq!(
            caller.seed_staged(shard.sha256, &bytes).unwrap_err().code(),
            "download-hashing-mode"
        );
        let req = caller.poll_request(0).unwrap();
        assert_eq!(head_206(&mut caller, &req, 0), HeadAction::ReadBody);
        assert_eq!(
            caller
                .handle_body_chunk(req.id, &bytes, 0)
                .unwrap_err()
                .code(),
            "download-hashing-mode"
        );
        // Too long a body is refused by length alone.
        let f = match caller.handle_body_len(req.id, 11, 0).unwrap() {
            ChunkAction::Cancel(f) => f,
            other => panic!("expected Cancel, got {other:?}"),
        };
        assert_eq!(f.cause.code(), "body-too-long");
    }

    #[test]
    fn bounded_requests_walk_a_shard_range_by_range_without_failures() {
        let bytes = data(1000, 8);
        let shard = shard_of(&bytes);
        let config = DownloadConfig {
            max_request_bytes: 400,
            ..DownloadConfig::default()
        };
        let mut plan = DownloadPlan::new([shard], config).unwrap();
        let mut starts = Vec::new();
        let end = loop {
            let req = plan.poll_request(5).unwrap();
            starts.push((req.range.start(), req.range.end()));
            match serve_rest(&mut plan, &req, &bytes) {
                // Due at once: the loop polls the next range with the same `now`.
                EndAction::Continue { offset, .. } => assert_eq!(offset, req.range.end() + 1),
                other => break other,
            }
        };
        assert_eq!(starts, vec![(0, 399), (400, 799), (800, 999)]);
        assert_eq!(end, EndAction::Verified { shard });
    }

    #[test]
    fn a_cut_inside_a_bounded_request_resumes_inside_it() {
        let bytes = data(1000, 9);
        let shard = shard_of(&bytes);
        let config = DownloadConfig {
            max_request_bytes: 400,
            ..DownloadConfig::default()
        };
        let mut plan = DownloadPlan::new([shard], config).unwrap();
        let first = plan.poll_request(0).unwrap();
        assert!(matches!(
            serve_rest(&mut plan, &first, &bytes),
            EndAction::Continue { offset: 400, .. }
        ));
        let second = plan.poll_request(0).unwrap();
        assert_eq!(head_206(&mut plan, &second, 0), HeadAction::ReadBody);
        persist(&mut plan, &second, &bytes[400..650]);
        let f = failed(plan.handle_network_error(second.id, 0).unwrap());
        assert_eq!(f.cause.code(), "download-interrupted");
        assert_eq!(
            f.next,
            NextAttempt::Retry {
                at_ms: 0,
                offset: 650
            }
        );
        let third = plan.poll_request(0).unwrap();
        assert_eq!((third.range.start(), third.range.end()), (650, 999));
    }
}
