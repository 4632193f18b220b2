//! What changes, shard by shard, between two manifests, and which shards a store still lacks.
//!
//! Shards are content-addressed, so an update only downloads the shards the new version adds;
//! [`ManifestDiff`] says which those are and how many bytes are kept, added and dropped
//! (`tessera diff`, the service worker's update). It compares the sets of distinct shards and
//! trusts neither manifest: run it on manifests the policy accepted. It deletes nothing itself.

use std::collections::BTreeSet;

use crate::digest::Sha256Digest;
use crate::manifest::{Manifest, ShardRef};

/// The shard-level difference between an old and a new manifest, each list sorted by digest
/// (then size) and free of duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManifestDiff {
    kept: Vec<ShardRef>,
    added: Vec<ShardRef>,
    dropped: Vec<ShardRef>,
}

impl ManifestDiff {
    /// Compares the distinct shards of `old` and `new`. A shard is identified by digest and
    /// size together, so a shard whose declared size changed counts as dropped and added.
    pub fn between(old: &Manifest, new: &Manifest) -> Self {
        let old_shards = old.unique_shards();
        let new_shards = new.unique_shards();
        Self {
            kept: old_shards.intersection(&new_shards).copied().collect(),
            added: new_shards.difference(&old_shards).copied().collect(),
            dropped: old_shards.difference(&new_shards).copied().collect(),
        }
    }

    /// Shards both manifests use: already in a store that holds `old`.
    pub fn kept(&self) -> &[ShardRef] {
        &self.kept
    }

    /// Shards only `new` uses: what an update downloads.
    pub fn added(&self) -> &[ShardRef] {
        &self.added
    }

    /// Shards only `old` uses: what a store can drop once nothing else needs them.
    pub fn dropped(&self) -> &[ShardRef] {
        &self.dropped
    }

    /// Bytes an update from `old` to `new` downloads.
    pub fn download_bytes(&self) -> u64 {
        total(&self.added)
    }

    /// Bytes reused from `old`.
    pub fn kept_bytes(&self) -> u64 {
        total(&self.kept)
    }

    /// Bytes `old` used that `new` does not.
    pub fn dropped_bytes(&self) -> u64 {
        total(&self.dropped)
    }

    /// Whether both manifests use exactly the same shards.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty()
    }
}

/// The distinct shards of `manifest` for which `have` answers `false`, in manifest order (files
/// as listed, shards in file order, each shard once at its first use), so fetching them in this
/// order completes the first file first.
pub fn missing_shards(manifest: &Manifest, have: impl Fn(&Sha256Digest) -> bool) -> Vec<ShardRef> {
    let mut seen = BTreeSet::new();
    manifest
        .files
        .iter()
        .flat_map(|file| file.shards.iter().copied())
        .filter(|shard| seen.insert(*shard) && !have(&shard.sha256))
        .collect()
}

// Sizes of distinct shards in a checked manifest each fit in a u64 file size; saturate rather
// than overflow should unchecked manifests ever get here.
fn total(shards: &[ShardRef]) -> u64 {
    shards
        .iter()
        .fold(0u64, |acc, s| acc.saturating_add(s.size))
}
