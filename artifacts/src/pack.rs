//! Packing: split model files into content-addressed shards, build and sign the manifest, and
//! publish it into an artifact directory.
//!
//! Files are streamed: each is read into one shard-sized buffer at a time, so packing a
//! multi-gigabyte model needs about one shard of memory. A shard already present under
//! `_shards/<sha256>` with the right size is reused, not rewritten (nor re-read: `verify` is
//! what re-hashes stored shards), across versions and models. Every file is written atomically
//! ([`crate::atomic`]), shards first, then `versions/<v>.json`, then `manifest.json`, so a reader
//! never sees a manifest whose shards are not there yet.
//!
//! Packing refuses what a client holding the current manifest would refuse (the version rules of
//! `tessera_core::policy`: rollback, mix-and-match, stale re-signing) unless forced. A lower
//! version is refused before anything is written; the content rules need the content, so such a
//! refusal may leave new shards behind (harmless: content-addressed and unreferenced). Nothing is
//! ever deleted: shards no manifest uses stay until someone removes them.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use tessera_core::dsse::{Envelope, EnvelopeSigner};
use tessera_core::layout::{
    manifest_path, versioned_manifest_path, LogicalPath, ModelName, SHARDS_DIR,
};
use tessera_core::manifest::{
    FileEntry, ManifestError, RuntimeRequirement, ShardRef, TestVector, ENGINE_WONNX,
    LEGACY_ENTRY_EXTENSION, SCHEMA_VERSION,
};
use tessera_core::statement;
use tessera_core::{Manifest, Sha256Digest};

use crate::atomic::{self, TempFile};
use crate::error::ArtifactsError;
use crate::manifest_file::read_manifest_unverified;
use crate::onnx;

/// Smallest accepted shard size: 1 KiB. Sizes below [`RECOMMENDED_MIN_SHARD_SIZE`] are meant
/// for tests (many tiny requests are slow for real models).
pub const MIN_SHARD_SIZE: u64 = 1024;
/// Smallest shard size recommended for real models: 64 KiB.
pub const RECOMMENDED_MIN_SHARD_SIZE: u64 = 64 * 1024;
/// Largest accepted shard size: 64 MiB (a client buffers up to one shard while verifying it).
pub const MAX_SHARD_SIZE: u64 = 64 * 1024 * 1024;
/// Default shard size: 4 MiB.
pub const DEFAULT_SHARD_SIZE: u64 = 4 * 1024 * 1024;
/// Default validity of a packed manifest: 30 days.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Runtime ABI version written by default.
pub const DEFAULT_ABI: u32 = 1;

/// One file to pack: where it is read from and its logical path in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackInput {
    /// Path under the model, e.g. `model.onnx`.
    pub path: LogicalPath,
    /// The file on disk.
    pub source: PathBuf,
}

/// What to pack and how. Build with [`PackOptions::new`], then adjust the fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PackOptions {
    /// Model name (its directory under the artifacts root).
    pub name: ModelName,
    /// The version to publish.
    pub version: semver::Version,
    /// Inference engine (default [`ENGINE_WONNX`]).
    pub engine: String,
    /// Runtime ABI (default [`DEFAULT_ABI`]).
    pub abi: u32,
    /// Shard size in bytes, within [`MIN_SHARD_SIZE`]`..=`[`MAX_SHARD_SIZE`].
    pub shard_size: u64,
    /// Signing time, Unix seconds (default: now).
    pub issued_at: u64,
    /// How long the manifest stays valid after `issued_at` (default [`DEFAULT_VALIDITY`]).
    pub valid_for: Duration,
    /// Known-answer vectors to embed ([`read_test_vectors`]).
    pub test_vectors: Vec<TestVector>,
    /// Publish even if the version is not newer than the current one.
    pub force: bool,
    /// The file the runtime loads (`runtime.entry`), one of the inputs. `None`: the only
    /// `.onnx` input, else the only input; with several candidates packing is refused
    /// (`manifest-entry-ambiguous`) before anything is written.
    pub entry: Option<LogicalPath>,
}

impl PackOptions {
    /// Options with the defaults: wonnx, ABI 1, 4 MiB shards, issued now, valid 30 days.
    pub fn new(name: ModelName, version: semver::Version) -> Self {
        Self {
            name,
            version,
            engine: ENGINE_WONNX.to_owned(),
            abi: DEFAULT_ABI,
            shard_size: DEFAULT_SHARD_SIZE,
            issued_at: unix_now(),
            valid_for: DEFAULT_VALIDITY,
            test_vectors: Vec::new(),
            force: false,
            entry: None,
        }
    }
}

/// Progress of [`pack`], for a progress bar. Events come in order: for each file
/// `FileStarted`, one `Shard` per shard, `FileDone`; then nothing more (writing the manifest is
/// quick).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum PackEvent<'a> {
    /// Starting to read a file of `size` bytes (its size when opened).
    FileStarted {
        /// The file's logical path.
        path: &'a LogicalPath,
        /// Its size on disk.
        size: u64,
    },
    /// One shard was hashed and is now stored.
    Shard {
        /// The shard.
        shard: &'a ShardRef,
        /// `true` if it was already in `_shards/` and not written again.
        reused: bool,
    },
    /// A file is fully sharded.
    FileDone {
        /// Its manifest entry.
        entry: &'a FileEntry,
    },
}

/// What [`pack`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct PackReport {
    /// The signed manifest.
    pub manifest: Manifest,
    /// `<root>/<name>/manifest.json`.
    pub manifest_path: PathBuf,
    /// `<root>/<name>/versions/<version>.json`.
    pub version_path: PathBuf,
    /// Shards written to `_shards/`.
    pub shards_written: usize,
    /// Bytes of the shards written.
    pub bytes_written: u64,
    /// Shards that were already stored (from earlier packs, or repeated within this one).
    pub shards_reused: usize,
    /// Bytes of the reused shards.
    pub bytes_reused: u64,
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads a JSON file holding an array of test vectors.
pub fn read_test_vectors(path: &Path) -> Result<Vec<TestVector>, ArtifactsError> {
    let bytes =
        fs::read(path).map_err(|e| ArtifactsError::io("cannot read test vectors", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ArtifactsError::TestVectorsMalformed {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// The entry point to declare: `declared` if it is one of `inputs`, else the only `.onnx`
/// input, else the only input.
fn entry_point(
    inputs: &[PackInput],
    declared: Option<&LogicalPath>,
) -> Result<LogicalPath, ManifestError> {
    if inputs.is_empty() {
        return Err(ManifestError::NoFiles);
    }
    if let Some(entry) = declared {
        return inputs
            .iter()
            .find(|i| &i.path == entry)
            .map(|i| i.path.clone())
            .ok_or_else(|| ManifestError::EntryMissing {
                entry: Some(entry.to_string()),
            });
    }
    let graphs: Vec<&LogicalPath> = inputs
        .iter()
        .map(|i| &i.path)
        .filter(|p| p.as_str().ends_with(LEGACY_ENTRY_EXTENSION))
        .collect();
    match (graphs.as_slice(), inputs) {
        ([only], _) => Ok((*only).clone()),
        ([], [only]) => Ok(only.path.clone()),
        ([], _) => Err(ManifestError::EntryMissing { entry: None }),
        (several, _) => Err(ManifestError::EntryAmbiguous {
            candidates: several.iter().map(ToString::to_string).collect(),
        }),
    }
}

/// Packs `inputs` as `options.name` `options.version` into the artifact directory `root`,
/// signs the manifest — an in-toto statement ([`tessera_core::statement`]) — with `key`
/// (Ed25519 or ECDSA P-256), and makes it the model's current manifest.
///
/// Op types for `runtime.ops` are read from every input whose name ends in `.onnx` during the
/// same single read that shards it. `progress` is called as work advances.
pub fn pack(
    root: &Path,
    inputs: &[PackInput],
    options: &PackOptions,
    key: &(impl EnvelopeSigner + ?Sized),
    progress: &mut dyn FnMut(PackEvent<'_>),
) -> Result<PackReport, ArtifactsError> {
    if !(MIN_SHARD_SIZE..=MAX_SHARD_SIZE).contains(&options.shard_size) {
        return Err(ArtifactsError::ShardSize {
            size: options.shard_size,
            min: MIN_SHARD_SIZE,
            max: MAX_SHARD_SIZE,
        });
    }
    let manifest_file = root.join(manifest_path(&options.name));
    let version_file = root.join(versioned_manifest_path(&options.name, &options.version));
    let manifest_error = |source| ArtifactsError::Manifest {
        path: manifest_file.clone(),
        source,
    };
    let mut seen = BTreeSet::new();
    for input in inputs {
        if !seen.insert(&input.path) {
            return Err(manifest_error(ManifestError::DuplicatePath(
                input.path.to_string(),
            )));
        }
    }
    let entry = entry_point(inputs, options.entry.as_ref()).map_err(manifest_error)?;
    let current = current_manifest(&manifest_file, options.force)?;
    if let Some(current) = current.as_ref().filter(|_| !options.force) {
        // Refused before any shard is written: no content can make a lower version acceptable.
        if options.version.cmp_precedence(&current.version) == Ordering::Less {
            return Err(ArtifactsError::Rollback {
                name: options.name.to_string(),
                requested: options.version.clone(),
                current: current.version.clone(),
            });
        }
    }

    let shards_dir = root.join(SHARDS_DIR);
    fs::create_dir_all(&shards_dir)
        .map_err(|e| ArtifactsError::io("cannot create directory", &shards_dir, e))?;
    // Checked against MAX_SHARD_SIZE above, so it fits in usize on every supported target.
    let shard_size = usize::try_from(options.shard_size).unwrap_or(usize::MAX);
    let mut stats = Stats::default();
    // A pack that fails (an unreadable or malformed input, a refused manifest) removes the shards
    // it created, so `_shards/` holds no blobs that no manifest references.
    let published = (|| -> Result<Manifest, ArtifactsError> {
        let mut buffer = vec![0u8; shard_size];
        let mut ops = BTreeSet::new();
        let mut files = Vec::with_capacity(inputs.len());
        for input in inputs {
            let sharder = Sharder {
                shards_dir: &shards_dir,
                buffer: &mut buffer,
                filled: 0,
                file_hasher: Sha256::new(),
                file_size: 0,
                shards: Vec::new(),
                stats: &mut stats,
                progress: &mut *progress,
            };
            let entry = pack_file(input, sharder, &mut ops)?;
            progress(PackEvent::FileDone { entry: &entry });
            files.push(entry);
        }

        let issued_at = options.issued_at;
        let manifest = Manifest {
            schema: SCHEMA_VERSION,
            name: options.name.clone(),
            version: options.version.clone(),
            runtime: RuntimeRequirement {
                engine: options.engine.clone(),
                abi: options.abi,
                ops: ops.into_iter().collect(),
                entry: Some(entry),
            },
            issued_at,
            expires_at: issued_at.saturating_add(options.valid_for.as_secs()),
            files,
            test_vectors: options.test_vectors.clone(),
        };
        manifest.check().map_err(manifest_error)?;
        if let Some(current) = current.as_ref().filter(|_| !options.force) {
            check_successor(current, &manifest)?;
        }

        let envelope =
            Envelope::sign(statement::PAYLOAD_TYPE, &manifest.to_statement_json(), key).to_json();
        atomic::write_file(&version_file, &envelope)?;
        atomic::write_file(&manifest_file, &envelope)?;
        Ok(manifest)
    })();
    let manifest = match published {
        Ok(manifest) => manifest,
        Err(error) => {
            for created in &stats.created {
                if let Err(e) = fs::remove_file(created) {
                    tracing::warn!(shard = %created.display(), error = %e, "cannot remove a shard of the failed pack");
                }
            }
            return Err(error);
        }
    };
    tracing::info!(
        name = %manifest.name,
        version = %manifest.version,
        path = %manifest_file.display(),
        "manifest published"
    );
    Ok(PackReport {
        manifest,
        manifest_path: manifest_file,
        version_path: version_file,
        shards_written: stats.shards_written,
        bytes_written: stats.bytes_written,
        shards_reused: stats.shards_reused,
        bytes_reused: stats.bytes_reused,
    })
}

/// The model's current manifest, if any. A broken one blocks packing unless forced (it may be a
/// newer version this tessera cannot read).
fn current_manifest(path: &Path, force: bool) -> Result<Option<Manifest>, ArtifactsError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ArtifactsError::io("cannot read manifest", path, e)),
        Ok(_) => {}
    }
    match read_manifest_unverified(path) {
        Ok(manifest) => Ok(Some(manifest)),
        Err(e) if force => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable current manifest (--force)");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Whether a client holding `current` would accept `next` (the version rules of
/// `tessera_core::policy`: no rollback, no mix-and-match, no stale re-signing).
fn check_successor(current: &Manifest, next: &Manifest) -> Result<(), ArtifactsError> {
    let name = next.name.to_string();
    match next.version.cmp_precedence(&current.version) {
        Ordering::Greater => Ok(()),
        Ordering::Less => Err(ArtifactsError::Rollback {
            name,
            requested: next.version.clone(),
            current: current.version.clone(),
        }),
        Ordering::Equal if !next.same_content(current) => Err(ArtifactsError::MixAndMatch {
            name,
            version: next.version.clone(),
        }),
        Ordering::Equal if next.issued_at < current.issued_at => {
            Err(ArtifactsError::StaleReissue {
                name,
                version: next.version.clone(),
                issued_at: next.issued_at,
                current_issued_at: current.issued_at,
            })
        }
        Ordering::Equal => Ok(()),
    }
}

/// Streams one input through the sharder; ONNX inputs also through the op-type walker.
fn pack_file(
    input: &PackInput,
    mut sharder: Sharder<'_>,
    ops: &mut BTreeSet<String>,
) -> Result<FileEntry, ArtifactsError> {
    let source = &input.source;
    let mut file = File::open(source).map_err(|e| ArtifactsError::io("cannot open", source, e))?;
    let size = file
        .metadata()
        .map_err(|e| ArtifactsError::io("cannot read", source, e))?
        .len();
    (sharder.progress)(PackEvent::FileStarted {
        path: &input.path,
        size,
    });
    if input.path.as_str().ends_with(".onnx") {
        let mut tee = Tee {
            inner: file,
            sharder: &mut sharder,
            error: None,
        };
        let found = onnx::op_types(&mut tee);
        if let Some(e) = tee.error {
            return Err(e);
        }
        ops.extend(found.map_err(|e| ArtifactsError::Onnx {
            path: source.clone(),
            source: e,
        })?);
    } else {
        sharder.fill_from(&mut file, source)?;
    }
    sharder.finish(input.path.clone())
}

#[derive(Debug, Default)]
struct Stats {
    /// Shard files this pack created (removed again if it fails).
    created: Vec<PathBuf>,
    shards_written: usize,
    bytes_written: u64,
    shards_reused: usize,
    bytes_reused: u64,
}

/// Cuts one file's byte stream into shards, hashing the file and each shard, storing shards.
struct Sharder<'a> {
    shards_dir: &'a Path,
    /// Exactly one shard long; `filled` bytes of it are pending.
    buffer: &'a mut [u8],
    filled: usize,
    file_hasher: Sha256,
    file_size: u64,
    shards: Vec<ShardRef>,
    stats: &'a mut Stats,
    progress: &'a mut dyn FnMut(PackEvent<'_>),
}

impl Sharder<'_> {
    /// Reads `reader` to its end straight into the shard buffer.
    fn fill_from(&mut self, reader: &mut impl Read, source: &Path) -> Result<(), ArtifactsError> {
        loop {
            let n = match reader.read(&mut self.buffer[self.filled..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ArtifactsError::io("cannot read", source, e)),
            };
            self.file_hasher
                .update(&self.buffer[self.filled..self.filled + n]);
            self.filled += n;
            self.file_size += n as u64;
            if self.filled == self.buffer.len() {
                self.store_shard()?;
            }
        }
    }

    /// Takes bytes read by someone else (the ONNX walker's tee).
    fn absorb(&mut self, mut data: &[u8]) -> Result<(), ArtifactsError> {
        while !data.is_empty() {
            let take = data.len().min(self.buffer.len() - self.filled);
            let (now, rest) = data.split_at(take);
            self.buffer[self.filled..self.filled + take].copy_from_slice(now);
            self.file_hasher.update(now);
            self.filled += take;
            self.file_size += take as u64;
            data = rest;
            if self.filled == self.buffer.len() {
                self.store_shard()?;
            }
        }
        Ok(())
    }

    /// Stores the pending bytes as a shard, unless an identical one is already stored.
    fn store_shard(&mut self) -> Result<(), ArtifactsError> {
        let bytes = &self.buffer[..self.filled];
        let shard = ShardRef {
            sha256: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
        };
        let dest = self.shards_dir.join(shard.sha256.to_hex());
        let reused = fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == shard.size);
        if reused {
            self.stats.shards_reused += 1;
            self.stats.bytes_reused += shard.size;
        } else {
            let mut temp = TempFile::new_in(self.shards_dir, false)?;
            temp.write_all(bytes)?;
            temp.persist(&dest)?;
            self.stats.created.push(dest);
            self.stats.shards_written += 1;
            self.stats.bytes_written += shard.size;
        }
        tracing::debug!(shard = %shard.sha256, size = shard.size, reused, "shard stored");
        (self.progress)(PackEvent::Shard {
            shard: &shard,
            reused,
        });
        self.shards.push(shard);
        self.filled = 0;
        Ok(())
    }

    /// Stores the last, partial shard and returns the file's manifest entry.
    fn finish(mut self, path: LogicalPath) -> Result<FileEntry, ArtifactsError> {
        if self.filled > 0 {
            self.store_shard()?;
        }
        Ok(FileEntry {
            path,
            size: self.file_size,
            sha256: Sha256Digest::from_hasher(self.file_hasher),
            shards: self.shards,
        })
    }
}

/// A reader that hands every byte it reads to the sharder too, so one read of an ONNX file both
/// feeds the op-type walker and produces the shards.
struct Tee<'s, 'a, R> {
    inner: R,
    sharder: &'s mut Sharder<'a>,
    /// The real error when storing a shard failed (the walker only sees an opaque IO error).
    error: Option<ArtifactsError>,
}

impl<R: Read> Read for Tee<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.sharder.absorb(&buf[..n]) {
            self.error = Some(e);
            return Err(io::Error::other("storing a shard failed"));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use ed25519_dalek::SigningKey;
    use tessera_core::ErrorCode as _;

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn input(dir: &Path, name: &str, bytes: &[u8]) -> PackInput {
        let source = dir.join(name);
        fs::write(&source, bytes).unwrap();
        PackInput {
            path: name.parse().unwrap(),
            source,
        }
    }

    fn options(version: &str) -> PackOptions {
        let mut o = PackOptions::new("demo".parse().unwrap(), version.parse().unwrap());
        o.shard_size = MIN_SHARD_SIZE;
        o.issued_at = 1_700_000_000;
        o
    }

    /// Deterministic, non-repeating bytes (so no two shards are equal by accident).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn all_names(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path.clone());
                }
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        out.sort();
        out
    }

    #[test]
    fn shards_a_file_and_publishes_a_signed_manifest() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let data = noise(2500, 1);
        let inputs = [input(src.path(), "weights.bin", &data)];
        let mut events = Vec::new();
        let report = pack(out.path(), &inputs, &options("1.0.0"), &key(), &mut |e| {
            events.push(match e {
                PackEvent::FileStarted { size, .. } => format!("start {size}"),
                PackEvent::Shard { shard, reused } => format!("shard {} {reused}", shard.size),
                PackEvent::FileDone { entry } => format!("done {}", entry.size),
            });
        })
        .unwrap();
        assert_eq!(
            events,
            [
                "start 2500",
                "shard 1024 false",
                "shard 1024 false",
                "shard 452 false",
                "done 2500"
            ]
        );
        let file = &report.manifest.files[0];
        assert_eq!(file.sha256, Sha256Digest::of(&data));
        let mut joined = Vec::new();
        for shard in &file.shards {
            let bytes = fs::read(out.path().join("_shards").join(shard.sha256.to_hex())).unwrap();
            assert_eq!(Sha256Digest::of(&bytes), shard.sha256);
            joined.extend(bytes);
        }
        assert_eq!(joined, data);
        assert_eq!((report.shards_written, report.bytes_written), (3, 2500));
        assert_eq!(
            report.manifest.expires_at - report.manifest.issued_at,
            DEFAULT_VALIDITY.as_secs()
        );
        let on_disk = read_manifest_unverified(&report.manifest_path).unwrap();
        assert_eq!(on_disk, report.manifest);
        assert_eq!(
            fs::read(&report.manifest_path).unwrap(),
            fs::read(&report.version_path).unwrap()
        );
    }

    #[test]
    fn a_second_version_reuses_unchanged_shards() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut data = noise(8 * 1024, 2);
        let first = pack(
            out.path(),
            &[input(src.path(), "w.bin", &data)],
            &options("1.0.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((first.shards_written, first.shards_reused), (8, 0));
        data[3 * 1024 + 10] ^= 0xff;
        let second = pack(
            out.path(),
            &[input(src.path(), "w.bin", &data)],
            &options("1.1.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((second.shards_written, second.shards_reused), (1, 7));
        assert_eq!(
            (second.bytes_written, second.bytes_reused),
            (1024, 7 * 1024)
        );
        assert_eq!(fs::read_dir(out.path().join("_shards")).unwrap().count(), 9);
        assert_eq!(
            read_manifest_unverified(&second.manifest_path)
                .unwrap()
                .version
                .to_string(),
            "1.1.0"
        );
        assert!(out.path().join("demo/versions/1.0.0.json").is_file());
    }

    #[test]
    fn a_truncated_stored_shard_is_rewritten_not_reused() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let data = noise(1024, 3);
        let first = pack(
            out.path(),
            &[input(src.path(), "w.bin", &data)],
            &options("1.0.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap();
        let shard = out
            .path()
            .join("_shards")
            .join(first.manifest.files[0].shards[0].sha256.to_hex());
        fs::write(&shard, &data[..100]).unwrap();
        let second = pack(
            out.path(),
            &[input(src.path(), "w.bin", &data)],
            &options("1.0.1"),
            &key(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(second.shards_written, 1);
        assert_eq!(fs::read(&shard).unwrap(), data);
    }

    #[test]
    fn onnx_inputs_fill_runtime_ops() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let tiny = crate::onnx::tests::TINY;
        let inputs = [
            input(src.path(), "model.onnx", tiny),
            input(src.path(), "vocab.txt", b"a b c"),
        ];
        let report = pack(out.path(), &inputs, &options("1.0.0"), &key(), &mut |_| {}).unwrap();
        assert_eq!(report.manifest.runtime.ops, crate::onnx::tests::TINY_OPS);
        assert_eq!(report.manifest.runtime.engine, "wonnx");
        // The tee handed every byte to the sharder.
        assert_eq!(report.manifest.files[0].sha256, Sha256Digest::of(tiny));
        assert_eq!(report.manifest.files[0].size, tiny.len() as u64);
    }

    #[test]
    fn version_rules_match_what_a_client_accepts() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = input(src.path(), "a.bin", &noise(3000, 4));
        let b = input(src.path(), "b.bin", &noise(3000, 5));
        pack(
            out.path(),
            std::slice::from_ref(&a),
            &options("2.0.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap();

        let rollback = pack(
            out.path(),
            std::slice::from_ref(&a),
            &options("1.9.9"),
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(rollback.code(), "manifest-rollback");
        let reused = pack(
            out.path(),
            std::slice::from_ref(&b),
            &options("2.0.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(reused.code(), "manifest-mix-and-match");
        // Build metadata does not order versions: 2.0.0+other is the same version, other content.
        let build = pack(
            out.path(),
            std::slice::from_ref(&a),
            &options("2.0.0+other"),
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(build.code(), "manifest-mix-and-match");
        let mut earlier = options("2.0.0");
        earlier.issued_at -= 60;
        let stale = pack(
            out.path(),
            std::slice::from_ref(&a),
            &earlier,
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(stale.code(), "manifest-stale-reissue");
        // Same version, same content: a re-sign (e.g. to extend the expiry) is fine.
        let mut later = options("2.0.0");
        later.issued_at += 3600;
        pack(
            out.path(),
            std::slice::from_ref(&a),
            &later,
            &key(),
            &mut |_| {},
        )
        .unwrap();

        let mut forced = options("1.0.0");
        forced.force = true;
        let report = pack(out.path(), &[b], &forced, &key(), &mut |_| {}).unwrap();
        assert_eq!(
            read_manifest_unverified(&report.manifest_path)
                .unwrap()
                .version
                .to_string(),
            "1.0.0"
        );
    }

    #[test]
    fn a_corrupt_current_manifest_blocks_packing_unless_forced() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = input(src.path(), "a.bin", b"hello");
        fs::create_dir_all(out.path().join("demo")).unwrap();
        fs::write(out.path().join("demo/manifest.json"), "{not json").unwrap();
        let err = pack(
            out.path(),
            std::slice::from_ref(&a),
            &options("1.0.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.code(), "envelope-malformed");
        let mut forced = options("1.0.0");
        forced.force = true;
        pack(out.path(), &[a], &forced, &key(), &mut |_| {}).unwrap();
    }

    #[test]
    fn rejects_bad_options_before_writing_anything() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = input(src.path(), "a.bin", b"hello");
        let mut tiny = options("1.0.0");
        tiny.shard_size = MIN_SHARD_SIZE - 1;
        let mut huge = options("1.0.0");
        huge.shard_size = MAX_SHARD_SIZE + 1;
        let mut empty_window = options("1.0.0");
        empty_window.valid_for = Duration::ZERO;
        let cases = [
            (vec![a.clone()], tiny, "shard-size-out-of-range"),
            (vec![a.clone()], huge, "shard-size-out-of-range"),
            (
                vec![a.clone(), a.clone()],
                options("1.0.0"),
                "manifest-duplicate-path",
            ),
            (vec![], options("1.0.0"), "manifest-no-files"),
            (vec![a.clone()], empty_window, "manifest-validity-empty"),
        ];
        for (inputs, opts, code) in cases {
            let err = pack(out.path(), &inputs, &opts, &key(), &mut |_| {}).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        assert!(!out.path().join("demo").exists());
    }

    #[test]
    fn the_entry_point_is_declared_in_every_manifest_and_never_guessed() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let graph = input(src.path(), "model.onnx", crate::onnx::tests::TINY);
        let other = input(src.path(), "variant.onnx", crate::onnx::tests::TINY);
        let config = input(src.path(), "config.json", b"{}");
        let entry_of = |inputs: &[PackInput], entry: Option<&str>, version: &str| {
            let mut opts = options(version);
            opts.entry = entry.map(|e| e.parse().unwrap());
            pack(out.path(), inputs, &opts, &key(), &mut |_| {})
                .map(|r| r.manifest.runtime.entry.map(|e| e.to_string()))
        };
        // The only graph, even beside other files.
        let only = entry_of(&[config.clone(), graph.clone()], None, "1.0.0").unwrap();
        assert_eq!(only.as_deref(), Some("model.onnx"));
        // Several graphs: refused before anything is written, unless one is declared.
        let refused = entry_of(&[graph.clone(), other.clone()], None, "1.1.0").unwrap_err();
        assert_eq!(refused.code(), "manifest-entry-ambiguous");
        assert!(refused.to_string().contains("variant.onnx"), "{refused}");
        let declared = entry_of(&[graph.clone(), other], Some("variant.onnx"), "1.1.0").unwrap();
        assert_eq!(declared.as_deref(), Some("variant.onnx"));
        // A declared entry must be one of the files.
        let missing = entry_of(&[graph], Some("absent.onnx"), "1.2.0").unwrap_err();
        assert_eq!(missing.code(), "manifest-entry-missing");
    }

    #[test]
    fn a_failed_pack_leaves_no_temp_files_and_no_manifest() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let good = input(src.path(), "a.bin", &noise(5000, 6));
        let mut bad_onnx = noise(5000, 7);
        bad_onnx[0] = 0x0b; // wire type 3 (group): not an ONNX model
        let bad = input(src.path(), "model.onnx", &bad_onnx);
        let missing = PackInput {
            path: "gone.bin".parse().unwrap(),
            source: src.path().join("gone.bin"),
        };
        let err = pack(
            out.path(),
            &[good.clone(), bad],
            &options("1.0.0"),
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.code(), "onnx-malformed");
        let mut declared = options("1.0.0");
        declared.entry = Some("a.bin".parse().unwrap());
        let err = pack(
            out.path(),
            &[good.clone(), missing],
            &declared,
            &key(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.code(), "io");
        assert!(err.to_string().contains("gone.bin"), "{err}");
        let names = all_names(out.path());
        assert!(
            !names.iter().any(|n| n.contains(atomic::TEMP_PREFIX)),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("demo")), "{names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with("_shards/")),
            "the failed packs left shards no manifest references: {names:?}"
        );

        let ok = pack(out.path(), &[good], &options("1.0.0"), &key(), &mut |_| {}).unwrap();
        let names = all_names(out.path());
        assert!(
            !names.iter().any(|n| n.contains(atomic::TEMP_PREFIX)),
            "{names:?}"
        );
        assert!(
            names.contains(&"demo/manifest.json".to_owned()),
            "{names:?}"
        );
        assert_eq!((ok.shards_written, ok.shards_reused), (5, 0));
    }

    #[test]
    fn reads_test_vectors_from_json() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("tv.json");
        fs::write(
            &good,
            r#"[{"name":"zero","inputs":{"x":{"dtype":"float32","shape":[2],"data":[0,0]}},"outputs":{"y":{"dtype":"float32","shape":[2],"data":[0.5,0.5]}},"tolerance":0.001}]"#,
        )
        .unwrap();
        let vectors = read_test_vectors(&good).unwrap();
        assert_eq!(vectors.len(), 1);
        assert_eq!(vectors[0].name, "zero");
        let bad = dir.path().join("bad.json");
        fs::write(&bad, r#"{"name":"not an array"}"#).unwrap();
        assert_eq!(
            read_test_vectors(&bad).unwrap_err().code(),
            "test-vectors-malformed"
        );
        assert_eq!(
            read_test_vectors(&dir.path().join("none.json"))
                .unwrap_err()
                .code(),
            "io"
        );
    }
}
