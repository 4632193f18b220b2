//! Storage housekeeping decisions: how much of a store each stored model version holds alone
//! and how much it shares ([`footprints`]), which stored versions to remove when a download
//! needs room ([`plan_eviction`]), when a model's last use is worth writing down
//! ([`should_record_use`]), and how long a download will take at the speed measured so far
//! ([`SpeedMeter`], [`eta_seconds`]).
//!
//! Pure like the rest of the crate: the caller passes the stored shard lists, the verified
//! shards it holds, the times ("now" in milliseconds since the epoch) and the byte counts; this
//! module reads no store and no clock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::digest::Sha256Digest;
use crate::manifest::ShardRef;

/// Least time between two stored records of a model's last use, in milliseconds: serving a
/// model writes its record at most once per minute, never once per request.
pub const USE_RECORD_INTERVAL_MS: u64 = 60_000;

/// Whether serving a model at `now_ms` should write its last use, given the last time one was
/// written (`None`: never, or not by this worker). Yes when nothing was written, when the last
/// write is at least [`USE_RECORD_INTERVAL_MS`] old, or when the clock went back by more than
/// that interval (the stored figure would otherwise stay in the future).
pub fn should_record_use(last_written_ms: Option<u64>, now_ms: u64) -> bool {
    match last_written_ms {
        None => true,
        Some(last) if now_ms >= last => now_ms - last >= USE_RECORD_INTERVAL_MS,
        Some(last) => last - now_ms > USE_RECORD_INTERVAL_MS,
    }
}

/// What one stored model version occupies: the stored bytes only it references, and the stored
/// bytes it references together with another stored version (of this model or another).
/// Removing the version frees exactly `bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Bytes of stored shards no other listed version references.
    pub bytes: u64,
    /// Bytes of stored shards at least one other listed version references too.
    pub shared_bytes: u64,
    /// Bytes of the version's shards not stored (an unfinished download).
    pub missing_bytes: u64,
}

/// The footprints of stored `versions` (each one version's shards, in any order, duplicates
/// allowed), in the same order, counting only shards `stored` says are held (verified), plus
/// the bytes of every distinct stored shard they reference (what they occupy together).
/// A shard is identified by its digest.
pub fn footprints(
    versions: &[Vec<ShardRef>],
    stored: impl Fn(&Sha256Digest) -> bool,
) -> (Vec<Footprint>, u64) {
    let distinct: Vec<BTreeMap<Sha256Digest, u64>> = versions
        .iter()
        .map(|shards| shards.iter().map(|s| (s.sha256, s.size)).collect())
        .collect();
    let mut users: BTreeMap<Sha256Digest, (usize, u64)> = BTreeMap::new();
    for shards in &distinct {
        for (sha, size) in shards {
            users.entry(*sha).or_insert((0, *size)).0 += 1;
        }
    }
    let total = users
        .iter()
        .filter(|(sha, _)| stored(sha))
        .fold(0u64, |acc, (_, (_, size))| acc.saturating_add(*size));
    let prints = distinct
        .iter()
        .map(|shards| {
            let mut print = Footprint::default();
            for (sha, size) in shards {
                let slot = if !stored(sha) {
                    &mut print.missing_bytes
                } else if users.get(sha).is_some_and(|(n, _)| *n > 1) {
                    &mut print.shared_bytes
                } else {
                    &mut print.bytes
                };
                *slot = slot.saturating_add(*size);
            }
            print
        })
        .collect();
    (prints, total)
}

/// The distinct shards of `versions` that only `version` (an index into them) references:
/// what removing it frees.
pub fn unshared(versions: &[Vec<ShardRef>], version: usize) -> BTreeSet<ShardRef> {
    let Some(mine) = versions.get(version) else {
        return BTreeSet::new();
    };
    let others: BTreeSet<Sha256Digest> = versions
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != version)
        .flat_map(|(_, shards)| shards.iter().map(|s| s.sha256))
        .collect();
    mine.iter()
        .filter(|s| !others.contains(&s.sha256))
        .copied()
        .collect()
}

/// One stored model version as [`plan_eviction`] weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Its distinct shards.
    pub shards: Vec<ShardRef>,
    /// When it was last served, ms since the epoch (`None`: never — the oldest use there is).
    pub last_used_ms: Option<u64>,
    /// Whether it may be removed: not the version being installed, not a version a model is
    /// serving while it updates, not one a live response is reading, not one the app keeps.
    pub evictable: bool,
}

/// Which stored versions to remove to free `needed` bytes ([`plan_eviction`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Eviction {
    /// Indexes into the versions passed, least recently used first.
    pub victims: Vec<usize>,
    /// Bytes their removal frees: stored shards no remaining version references.
    pub frees: u64,
}

/// The least recently used evictable versions whose removal frees at least `needed` bytes of
/// the shards `stored` says are held, fewest first in use order (never-used before used, then
/// by index). A shard a remaining version still references frees nothing. `Err(freeable)`
/// when even removing every evictable version would free less than `needed`: then nothing
/// should be removed (another model lost for a download that still fails helps nobody), and
/// `freeable` says how close it came.
pub fn plan_eviction(
    versions: &[StoredVersion],
    stored: impl Fn(&Sha256Digest) -> bool,
    needed: u64,
) -> Result<Eviction, u64> {
    let mut order: Vec<usize> = (0..versions.len())
        .filter(|&i| versions[i].evictable)
        .collect();
    order.sort_by_key(|&i| (versions[i].last_used_ms.unwrap_or(0), i));
    let frees = |victims: &[usize]| -> u64 {
        let kept: BTreeSet<Sha256Digest> = versions
            .iter()
            .enumerate()
            .filter(|(i, _)| !victims.contains(i))
            .flat_map(|(_, v)| v.shards.iter().map(|s| s.sha256))
            .collect();
        let freed: BTreeMap<Sha256Digest, u64> = victims
            .iter()
            .flat_map(|&i| versions[i].shards.iter())
            .filter(|s| !kept.contains(&s.sha256) && stored(&s.sha256))
            .map(|s| (s.sha256, s.size))
            .collect();
        freed.values().fold(0u64, |a, b| a.saturating_add(*b))
    };
    let mut victims = Vec::new();
    let mut freed = 0;
    for i in order {
        if freed >= needed {
            break;
        }
        victims.push(i);
        freed = frees(&victims);
    }
    if freed < needed {
        return Err(freed);
    }
    Ok(Eviction {
        victims,
        frees: freed,
    })
}

/// How many download measurements a [`SpeedMeter`] keeps (the most recent).
pub const SPEED_SAMPLES: usize = 16;

/// Measurements of fewer bytes than this are used only while there is no larger one: the time
/// of a tiny download (a config file's one shard) is mostly the request's latency, not the
/// bandwidth a big download gets.
pub const MIN_SAMPLE_BYTES: u64 = 64 * 1024;

/// Download speed from recent measurements: each is the bytes a download received over some
/// milliseconds (the service worker takes one each time a shard completes: the bytes received
/// since the previous completion, over the time since then, so parallel requests count
/// together). The speed is the median of their rates: one stall or one burst does not swing it.
/// Measurements under [`MIN_SAMPLE_BYTES`] count only when there is no larger one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpeedMeter {
    samples: VecDeque<(u64, u64)>,
}

impl SpeedMeter {
    /// A meter with nothing measured.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `bytes` received in `ms` milliseconds (a zero time counts as 1 ms; nothing
    /// received records nothing). Keeps the last [`SPEED_SAMPLES`].
    pub fn record(&mut self, bytes: u64, ms: u64) {
        if bytes == 0 {
            return;
        }
        if self.samples.len() == SPEED_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((bytes, ms.max(1)));
    }

    /// Measurements held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Nothing measured.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The median rate of the recent measurements in bytes per second (of an even count, the
    /// mean of the middle two; measurements of at least [`MIN_SAMPLE_BYTES`] only, when there
    /// are any); `None` when nothing was measured.
    pub fn bytes_per_second(&self) -> Option<f64> {
        let large = self.samples.iter().any(|&(b, _)| b >= MIN_SAMPLE_BYTES);
        // Precision: byte counts and milliseconds far below 2^53 in practice.
        #[allow(clippy::cast_precision_loss)]
        let mut rates: Vec<f64> = self
            .samples
            .iter()
            .filter(|&&(bytes, _)| !large || bytes >= MIN_SAMPLE_BYTES)
            .map(|&(bytes, ms)| bytes as f64 * 1000.0 / ms as f64)
            .collect();
        if rates.is_empty() {
            return None;
        }
        rates.sort_by(f64::total_cmp);
        let mid = rates.len() / 2;
        Some(if rates.len() % 2 == 1 {
            rates[mid]
        } else {
            (rates[mid - 1] + rates[mid]) / 2.0
        })
    }
}

/// Seconds a download of `missing` bytes takes at `bytes_per_second`, rounded up to a whole
/// second: `Some(0)` when nothing is missing (whatever the speed), `None` when something is
/// missing but no (usable) speed was measured.
pub fn eta_seconds(missing: u64, bytes_per_second: Option<f64>) -> Option<u64> {
    if missing == 0 {
        return Some(0);
    }
    let rate = bytes_per_second.filter(|r| r.is_finite() && *r > 0.0)?;
    // Precision: an estimate; u64 → f64 loses nothing a person would notice.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let secs = (missing as f64 / rate).ceil().max(1.0) as u64;
    Some(secs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn shard(n: u8, size: u64) -> ShardRef {
        ShardRef {
            sha256: Sha256Digest::of(&[n]),
            size,
        }
    }

    fn version(shards: &[ShardRef], last_used_ms: Option<u64>, evictable: bool) -> StoredVersion {
        StoredVersion {
            shards: shards.to_vec(),
            last_used_ms,
            evictable,
        }
    }

    #[test]
    fn eviction_takes_the_least_recently_used_first_and_only_as_many_as_needed() {
        let (a, b, c, d) = (shard(1, 100), shard(2, 200), shard(3, 300), shard(4, 50));
        let versions = [
            version(&[a], Some(5_000), true),
            version(&[b], Some(1_000), true),
            version(&[c], None, true),
            version(&[d], Some(0), false),
        ];
        // Never used goes first, then the oldest use; the installing version is never a victim.
        let plan = plan_eviction(&versions, |_| true, 250).unwrap();
        assert_eq!(plan.victims, vec![2]);
        assert_eq!(plan.frees, 300);
        let plan = plan_eviction(&versions, |_| true, 450).unwrap();
        assert_eq!(plan.victims, vec![2, 1]);
        assert_eq!(plan.frees, 500);
        assert_eq!(
            plan_eviction(&versions, |_| true, 0).unwrap(),
            Eviction::default()
        );
    }

    #[test]
    fn shared_and_unstored_shards_free_nothing() {
        let (a, b, c) = (shard(1, 100), shard(2, 200), shard(3, 400));
        let versions = [
            // Old, but every byte it holds is shared with the version being installed.
            version(&[a, b], Some(1), true),
            version(&[a, b, c], None, false),
            // Its only shard was never stored (an unfinished download).
            version(&[shard(9, 1_000)], Some(2), true),
        ];
        let stored = |sha: &Sha256Digest| *sha != shard(9, 0).sha256;
        assert_eq!(plan_eviction(&versions, stored, 1), Err(0));
    }

    #[test]
    fn nothing_is_removed_when_removing_everything_would_not_be_enough() {
        let versions = [
            version(&[shard(1, 100)], Some(1), true),
            version(&[shard(2, 100)], Some(2), true),
            version(&[shard(3, 100)], Some(3), false),
        ];
        assert_eq!(plan_eviction(&versions, |_| true, 201), Err(200));
        let plan = plan_eviction(&versions, |_| true, 200).unwrap();
        assert_eq!(plan.victims, vec![0, 1]);
    }

    #[test]
    fn a_shard_two_victims_share_is_freed_once_both_go() {
        let (a, b) = (shard(1, 100), shard(2, 10));
        let versions = [
            version(&[a, b], Some(1), true),
            version(&[a], Some(2), true),
        ];
        // Removing the first frees only its own shard: the second still holds `a`.
        let plan = plan_eviction(&versions, |_| true, 10).unwrap();
        assert_eq!((plan.victims.clone(), plan.frees), (vec![0], 10));
        let plan = plan_eviction(&versions, |_| true, 50).unwrap();
        assert_eq!((plan.victims, plan.frees), (vec![0, 1], 110));
    }

    #[test]
    fn a_use_is_written_once_per_interval() {
        assert!(should_record_use(None, 0));
        assert!(should_record_use(None, 1_700_000_000_000));
        let t = 1_700_000_000_000;
        assert!(!should_record_use(Some(t), t));
        assert!(!should_record_use(Some(t), t + USE_RECORD_INTERVAL_MS - 1));
        assert!(should_record_use(Some(t), t + USE_RECORD_INTERVAL_MS));
        // A clock that went back a little: wait; a lot: write (the stored time is in the future).
        assert!(!should_record_use(Some(t), t - 1_000));
        assert!(!should_record_use(Some(t), t - USE_RECORD_INTERVAL_MS));
        assert!(should_record_use(Some(t), t - USE_RECORD_INTERVAL_MS - 1));
    }

    #[test]
    fn footprints_split_unique_and_shared_stored_bytes() {
        let (a, b, c, d, e) = (
            shard(1, 10),
            shard(2, 20),
            shard(3, 30),
            shard(4, 40),
            shard(5, 5),
        );
        // Model x 1.0 (a, b, c), model y (b, c, d), x 2.0 pending (a, e) with e not stored.
        let versions = vec![vec![a, b, c, b], vec![b, c, d], vec![a, e]];
        let stored = |sha: &Sha256Digest| *sha != e.sha256;
        let (prints, total) = footprints(&versions, stored);
        assert_eq!(
            prints,
            vec![
                Footprint {
                    bytes: 0,
                    shared_bytes: 60,
                    missing_bytes: 0
                },
                Footprint {
                    bytes: 40,
                    shared_bytes: 50,
                    missing_bytes: 0
                },
                Footprint {
                    bytes: 0,
                    shared_bytes: 10,
                    missing_bytes: 5
                },
            ]
        );
        assert_eq!(total, 100, "a, b, c, d once each; e is not stored");
    }

    #[test]
    fn a_version_alone_holds_all_its_bytes() {
        let versions = vec![vec![shard(1, 7), shard(2, 8), shard(1, 7)]];
        let (prints, total) = footprints(&versions, |_| true);
        assert_eq!(prints[0].bytes, 15);
        assert_eq!(prints[0].shared_bytes, 0);
        assert_eq!(total, 15);
        let (prints, total) = footprints(&[], |_| true);
        assert!(prints.is_empty());
        assert_eq!(total, 0);
    }

    #[test]
    fn removing_a_version_frees_its_unshared_bytes_and_total_drops_by_as_much() {
        let (a, b, c, d) = (shard(1, 10), shard(2, 20), shard(3, 30), shard(4, 40));
        let versions = vec![vec![a, b, c], vec![b, c, d]];
        let (before, total_before) = footprints(&versions, |_| true);
        let freed = unshared(&versions, 0);
        assert_eq!(freed.iter().map(|s| s.size).sum::<u64>(), before[0].bytes);
        let (after, total_after) = footprints(&versions[1..], |_| true);
        assert_eq!(total_before - total_after, before[0].bytes);
        assert_eq!(after[0].bytes, 90);
        assert_eq!(after[0].shared_bytes, 0);
        assert!(unshared(&versions, 5).is_empty());
    }

    #[test]
    fn speed_is_the_median_of_recent_rates() {
        let mut meter = SpeedMeter::new();
        assert_eq!(meter.bytes_per_second(), None);
        assert!(meter.is_empty());
        meter.record(100_000, 1000); // 100 kB/s
        assert_eq!(meter.bytes_per_second(), Some(100_000.0));
        meter.record(300_000, 1000); // 300 kB/s
        assert_eq!(meter.bytes_per_second(), Some(200_000.0));
        meter.record(100_000_000, 1); // a burst does not swing the median
        assert_eq!(meter.bytes_per_second(), Some(300_000.0));
        meter.record(0, 5); // nothing received: no measurement
        assert_eq!(meter.len(), 3);
        meter.record(100_000, 0); // zero time counts as 1 ms
        assert_eq!(meter.len(), 4);
        assert_eq!(
            meter.bytes_per_second(),
            Some((300_000.0 + 100_000_000.0) / 2.0)
        );
    }

    #[test]
    fn tiny_downloads_count_only_until_a_larger_one_is_measured() {
        let mut meter = SpeedMeter::new();
        meter.record(100, 50); // a config file: 2 kB/s, mostly latency
        assert_eq!(meter.bytes_per_second(), Some(2000.0));
        meter.record(MIN_SAMPLE_BYTES, 1000);
        meter.record(200, 50);
        #[allow(clippy::cast_precision_loss)]
        let large = MIN_SAMPLE_BYTES as f64;
        assert_eq!(meter.bytes_per_second(), Some(large));
    }

    #[test]
    fn only_the_last_samples_count() {
        let mut meter = SpeedMeter::new();
        for _ in 0..SPEED_SAMPLES {
            meter.record(MIN_SAMPLE_BYTES, 1000);
        }
        #[allow(clippy::cast_precision_loss)]
        let slow = MIN_SAMPLE_BYTES as f64;
        assert_eq!(meter.bytes_per_second(), Some(slow));
        for _ in 0..=SPEED_SAMPLES / 2 {
            meter.record(MIN_SAMPLE_BYTES * 5, 1000);
        }
        assert_eq!(meter.len(), SPEED_SAMPLES);
        assert_eq!(meter.bytes_per_second(), Some(slow * 5.0));
    }

    #[test]
    fn eta_is_missing_over_speed_rounded_up() {
        assert_eq!(eta_seconds(0, None), Some(0));
        assert_eq!(eta_seconds(0, Some(10.0)), Some(0));
        assert_eq!(eta_seconds(1, None), None);
        assert_eq!(eta_seconds(1, Some(0.0)), None);
        assert_eq!(eta_seconds(1, Some(f64::NAN)), None);
        assert_eq!(eta_seconds(100, Some(10.0)), Some(10));
        assert_eq!(eta_seconds(101, Some(10.0)), Some(11));
        assert_eq!(
            eta_seconds(1, Some(1e12)),
            Some(1),
            "something missing takes at least 1 s"
        );
        assert_eq!(eta_seconds(5_000_000_000, Some(50_000_000.0)), Some(100));
    }
}
