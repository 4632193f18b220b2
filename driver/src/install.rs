//! The sequences of an install around the download driver: [`install`] (download what a
//! manifest lacks, check every shard is stored verified, then — for a new version — the atomic
//! switch and garbage collection; the old version serves until the switch), the quota retry
//! ([`download`]: when storage refuses a write, keep what is verified, make room for what is
//! still missing and download it once more; a second refusal is the host's `quota` error) and
//! garbage collection under leases ([`collect_garbage`]: delete every shard no manifest
//! references, except those a live response is still streaming, and ask to run again when those
//! streams end).
//!
//! It does not decide what may be evicted, how much room there is, which manifests are kept or
//! accepted, nor how the switch is written: the host (the service worker's engine, a test) does.

use std::collections::BTreeSet;
use std::future::Future;

use futures_util::future::LocalBoxFuture;
use tessera_core::diff::missing_shards;
use tessera_core::manifest::ShardRef;
use tessera_core::{Manifest, Sha256Digest};

use crate::{fetch_shards, DownloadHost, ShardStore};

/// What the quota retry needs from its host beyond a download.
pub trait QuotaHost: DownloadHost {
    /// Whether `e` says storage refused a write for lack of space.
    fn is_quota(e: &Self::Error) -> bool;
    /// Waits until every promotion queued so far is recorded; the first that failed is the
    /// error.
    fn settle_promotions(&self) -> LocalBoxFuture<'_, Result<(), Self::Error>>;
    /// Frees `to_free` bytes for `model`, or fails (with `quota`, removing nothing) when it
    /// cannot; `needed` is what the download still lacks (for the error).
    fn make_room<'a>(
        &'a self,
        model: &'a str,
        to_free: u64,
        needed: u64,
    ) -> LocalBoxFuture<'a, Result<(), Self::Error>>;
    /// The `quota` error of a second refusal: `needed` bytes did not fit even after making room.
    fn quota_error<'a>(&'a self, model: &'a str, needed: u64) -> LocalBoxFuture<'a, Self::Error>;
}

/// The figures an install publishes when its download starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallStart {
    /// The version serving meanwhile (the one being installed when it is not a switch).
    pub version: Option<String>,
    /// The version being installed, when it replaces another (a switch).
    pub pending_version: Option<String>,
    /// Bytes of the manifest's unique shards.
    pub bytes_total: u64,
    /// Of them stored already: verified, or staged by an earlier, interrupted download (so
    /// progress never jumps back when the download resumes them).
    pub bytes_done: u64,
    /// The manifest's unique shards.
    pub shards_total: usize,
    /// Of them verified already.
    pub shards_done: usize,
    /// Whether staged bytes are resumed.
    pub resumed: bool,
}

/// What [`install`] needs from its host beyond the quota retry.
pub trait InstallHost: QuotaHost {
    /// Fails with `quota` when the `missing` shards of `model` do not fit even after making
    /// room; else the bytes of them already staged.
    fn fit<'a>(
        &'a self,
        model: &'a str,
        missing: &'a [ShardRef],
    ) -> LocalBoxFuture<'a, Result<u64, Self::Error>>;
    /// Publishes that `model`'s download starts.
    fn downloading(&self, model: &str, start: InstallStart);
    /// Publishes that `model`'s stored shards are being checked (every byte is in).
    fn verifying(&self, model: &str, bytes_total: u64, shards_total: usize);
    /// The error for a shard the store lost (`store-failed`).
    fn lost_shard(&self, shard: &Sha256Digest) -> Self::Error;
    /// Garbage collection after a switch ([`collect_garbage`] over the host's store).
    fn collect_garbage(&self) -> LocalBoxFuture<'_, Result<usize, Self::Error>>;
}

/// Downloads what `manifest` (of `model`) lacks and checks that every shard of it is stored
/// verified; with `switch` (the one write that makes it the active version), runs the switch
/// after that check and then collects garbage. Until `switch` runs nothing the host serves
/// changes: the old version (`serving`, for status) serves meanwhile, and a failure before it
/// leaves it active. Returns whether any shard was downloaded.
pub async fn install<H, F>(
    host: &H,
    model: &str,
    manifest: &Manifest,
    serving: Option<String>,
    switch: Option<F>,
) -> Result<bool, H::Error>
where
    H: InstallHost,
    F: Future<Output = Result<(), H::Error>>,
{
    let version = manifest.version.to_string();
    let is_switch = switch.is_some();
    let have = host.store().verified_shards().await?;
    let missing = missing_shards(manifest, |sha| have.contains(&sha.to_hex()));
    let total = manifest.unique_shard_bytes();
    let missing_bytes: u64 = missing.iter().map(|s| s.size).sum();
    let shards_total = manifest.unique_shards().len();
    let missing_count = missing.len();
    let (version, pending_version) = if is_switch {
        (serving, Some(version))
    } else {
        (Some(version), None)
    };
    if !missing.is_empty() {
        let staged = host.fit(model, &missing).await?;
        host.downloading(
            model,
            InstallStart {
                version,
                pending_version,
                bytes_total: total,
                bytes_done: total - missing_bytes + staged,
                shards_total,
                shards_done: shards_total - missing_count,
                resumed: staged > 0,
            },
        );
        download(host, model, missing, total - missing_bytes, shards_total).await?;
    }
    if is_switch || missing_count > 0 {
        host.verifying(model, total, shards_total);
        // Every shard was hashed against its signed digest when it was downloaded: a store
        // that lost one since fails here.
        let have = host.store().verified_shards().await?;
        if let Some(shard) = missing_shards(manifest, |sha| have.contains(&sha.to_hex())).first() {
            return Err(host.lost_shard(&shard.sha256));
        }
    }
    if let Some(switch) = switch {
        switch.await?;
        host.collect_garbage().await?;
    }
    Ok(missing_count > 0)
}

/// What garbage collection needs from its host.
pub trait CollectHost {
    /// Failures of the store.
    type Error;
    /// Digests (hex) of every shard a kept manifest (a model's active or pending version)
    /// references.
    fn referenced_shards(&self) -> LocalBoxFuture<'_, Result<BTreeSet<String>, Self::Error>>;
    /// Digests (hex) of every shard an open response is streaming.
    fn leased_shards(&self) -> Vec<String>;
    /// Asks for garbage collection to run again when the last lease ends.
    fn defer_gc(&self);
    /// Deletes every stored shard (verified or staged) not in `keep`; returns how many.
    fn delete_all_but<'a>(
        &'a self,
        keep: &'a BTreeSet<String>,
    ) -> LocalBoxFuture<'a, Result<usize, Self::Error>>;
}

/// The bytes of `missing` already staged (kept from an interrupted download) and the bytes
/// still to download.
pub async fn staged_and_needed<S: ShardStore>(
    store: &S,
    missing: &[ShardRef],
) -> Result<(u64, u64), S::Error> {
    let (mut staged, mut needed) = (0u64, 0u64);
    for shard in missing {
        let stored = store
            .partial(&shard.sha256)
            .await?
            .unwrap_or(0)
            .min(shard.size);
        staged += stored;
        needed = needed.saturating_add(shard.size - stored);
    }
    Ok((staged, needed))
}

/// Downloads the `missing` shards of `model` ([`fetch_shards`]). When storage refuses a write
/// for lack of space, the shards verified so far stay (a refused piece never becomes visible),
/// room for everything still missing is made ([`QuotaHost::make_room`]) and the rest is
/// downloaded once more; a second refusal fails with [`QuotaHost::quota_error`].
pub async fn download<H: QuotaHost>(
    host: &H,
    model: &str,
    missing: Vec<ShardRef>,
    base_done: u64,
    shards_total: usize,
) -> Result<(), H::Error> {
    let first = fetch_shards(host, model, missing.clone(), base_done, shards_total);
    match first.await {
        Err(e) if H::is_quota(&e) => {}
        other => return other,
    }
    // A verified record the browser refused for lack of space is reported once, here: its
    // shard's bytes are staged whole, and the retry hashes and records them again.
    match host.settle_promotions().await {
        Err(e) if H::is_quota(&e) => {}
        other => other?,
    }
    let have = host.store().verified_shards().await?;
    let (done, left): (Vec<ShardRef>, Vec<ShardRef>) = missing
        .into_iter()
        .partition(|s| have.contains(&s.sha256.to_hex()));
    let (_, needed) = staged_and_needed(host.store(), &left).await?;
    host.make_room(model, needed, needed).await?;
    let base_done = base_done + done.iter().map(|s| s.size).sum::<u64>();
    match fetch_shards(host, model, left, base_done, shards_total).await {
        Err(e) if H::is_quota(&e) => Err(host.quota_error(model, needed).await),
        other => other,
    }
}

/// Deletes every stored shard that no kept manifest references, except the shards a response
/// may still be streaming: those are kept for now and collection is asked to run again when
/// their streams end. Returns how many shards were deleted.
pub async fn collect_garbage<H: CollectHost>(host: &H) -> Result<usize, H::Error> {
    let mut keep = host.referenced_shards().await?;
    // A response may still be streaming a shard of the version just replaced: keep it for
    // now and collect again when that stream ends.
    for hex in host.leased_shards() {
        if keep.insert(hex) {
            host.defer_gc();
        }
    }
    host.delete_all_but(&keep).await
}
