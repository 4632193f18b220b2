//! `tessera diff`: which shards an update from one manifest to another keeps, adds and drops,
//! and how many bytes a client must download.
//!
//! The arithmetic is `tessera_core::diff::ManifestDiff`. Manifests are read **without checking
//! signatures** (this is a planning tool; use `tessera verify` to check them).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use tessera_artifacts::read_manifest_unverified;
use tessera_core::diff::ManifestDiff;
use tessera_core::manifest::ShardRef;

use crate::error::CliError;
use crate::progress::{bytes, count};

/// Show the shard-level difference between two manifests.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The manifest clients have now.
    #[arg(value_name = "OLD_MANIFEST")]
    old: PathBuf,
    /// The manifest they will update to.
    #[arg(value_name = "NEW_MANIFEST")]
    new: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `tessera diff`.
pub fn run(args: &DiffArgs) -> Result<(), CliError> {
    let old = read_manifest_unverified(&args.old)?;
    let new = read_manifest_unverified(&args.new)?;
    let diff = ManifestDiff::between(&old, &new);
    let new_total = new.unique_shard_bytes();
    if args.json {
        let digests =
            |shards: &[ShardRef]| shards.iter().map(|s| s.sha256.to_hex()).collect::<Vec<_>>();
        let out = json!({
            "old": { "name": old.name, "version": old.version },
            "new": { "name": new.name, "version": new.version },
            "kept": { "shards": diff.kept().len(), "bytes": diff.kept_bytes() },
            "added": { "shards": diff.added().len(), "bytes": diff.download_bytes(), "sha256": digests(diff.added()) },
            "dropped": { "shards": diff.dropped().len(), "bytes": diff.dropped_bytes(), "sha256": digests(diff.dropped()) },
            "downloadBytes": diff.download_bytes(),
            "newTotalBytes": new_total,
        });
        println!("{out:#}");
        return Ok(());
    }
    println!(
        "{} {} -> {} {}",
        old.name, old.version, new.name, new.version
    );
    println!(
        "  kept:     {}, {}",
        count(diff.kept().len(), "shard"),
        bytes(diff.kept_bytes())
    );
    println!(
        "  added:    {}, {}",
        count(diff.added().len(), "shard"),
        bytes(diff.download_bytes())
    );
    println!(
        "  dropped:  {}, {}",
        count(diff.dropped().len(), "shard"),
        bytes(diff.dropped_bytes())
    );
    let share = if new_total == 0 {
        0.0
    } else {
        // Display only: precision loss on huge sizes is irrelevant for a percentage.
        #[allow(clippy::cast_precision_loss)]
        let share = diff.download_bytes() as f64 * 100.0 / new_total as f64;
        share
    };
    println!(
        "  download: {} to update ({share:.1}% of the new version's {})",
        bytes(diff.download_bytes()),
        bytes(new_total)
    );
    Ok(())
}
