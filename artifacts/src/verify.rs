//! Verifying an artifact directory: the manifest's signatures, then every byte of every shard.
//!
//! The envelope must verify against the trusted keys (and threshold) before its manifest is even
//! parsed: core's acceptance path ([`UpdatePolicy::verify_signed`]), as every client runs it. Then each file is re-read shard by shard from `_shards/`, streaming through a fixed
//! buffer, checking each shard's size and sha256 and the whole file's sha256. Content problems
//! are collected (every missing or corrupt shard is named, each once) rather than stopping at
//! the first; trust problems stop at once. This module does not judge expiry or rollback — a
//! client's policy does; [`VerifyReport`] hands back the manifest so a caller can.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tessera_core::keys::TrustedKeys;
use tessera_core::layout::{LogicalPath, SHARDS_DIR, VERSIONS_DIR};
use tessera_core::manifest::ShardRef;
use tessera_core::policy::{UpdateError, UpdatePolicy};
use tessera_core::{Manifest, Sha256Digest};

use crate::error::ArtifactsError;

const READ_BUFFER: usize = 256 * 1024;

/// The outcome of a verification whose signatures were good.
#[derive(Debug)]
pub struct VerifyReport {
    /// The verified manifest.
    pub manifest: Manifest,
    /// The artifacts root the shards were read from.
    pub root: PathBuf,
    /// Files checked.
    pub files: usize,
    /// Distinct shards checked.
    pub shards: usize,
    /// Bytes read and hashed.
    pub bytes: u64,
    /// Every content problem found, in file and shard order; empty when all is well.
    pub failures: Vec<ArtifactsError>,
}

impl VerifyReport {
    /// Whether every shard and file checked out.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Progress of [`verify`]: one event per shard of each file, in order.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum VerifyEvent<'a> {
    /// The manifest verified; `bytes` of shards will be read.
    Started {
        /// Sum of all file sizes.
        bytes: u64,
    },
    /// A shard was checked (or skipped, having failed before).
    Shard {
        /// The file being checked.
        file: &'a LogicalPath,
        /// The shard.
        shard: &'a ShardRef,
        /// Whether it is good.
        ok: bool,
    },
}

/// Verifies the signed manifest at `manifest_path` against `trusted` keys (at least `threshold`
/// distinct valid signatures), then all its content under the artifacts root.
///
/// The root is `root` if given; otherwise it is derived from the manifest's place in the layout
/// (`ROOT/<name>/manifest.json` or `ROOT/<name>/versions/<v>.json`), and the manifest's name must
/// match that directory. Returns `Err` when the manifest can't be trusted or read, and a report
/// (with [`VerifyReport::failures`]) once it can.
pub fn verify(
    manifest_path: &Path,
    root: Option<&Path>,
    trusted: &TrustedKeys,
    threshold: usize,
    progress: &mut dyn FnMut(VerifyEvent<'_>),
) -> Result<VerifyReport, ArtifactsError> {
    let bytes = std::fs::read(manifest_path)
        .map_err(|e| ArtifactsError::io("cannot read manifest", manifest_path, e))?;
    // Core's acceptance path, steps 1-2 (an audit of archived versions judges no clock).
    let path = || manifest_path.to_path_buf();
    let manifest = UpdatePolicy::new(trusted.clone(), threshold)
        .verify_signed(&bytes)
        .map_err(|e| match e {
            UpdateError::Signature(source) => ArtifactsError::Signature {
                path: path(),
                source,
            },
            UpdateError::Manifest(source) => ArtifactsError::Manifest {
                path: path(),
                source,
            },
            // verify_signed checks signatures and the manifest only.
            other => ArtifactsError::Refused {
                path: path(),
                source: Box::new(other),
            },
        })?;
    let root = match root {
        Some(root) => root.to_path_buf(),
        None => locate_root(manifest_path, &manifest)?,
    };

    progress(VerifyEvent::Started {
        bytes: manifest.files.iter().map(|f| f.size).sum(),
    });
    let shards_dir = root.join(SHARDS_DIR);
    let mut buffer = vec![0u8; READ_BUFFER];
    // Each distinct shard's verdict, so a shard used twice is reported once.
    let mut verdicts: BTreeMap<Sha256Digest, bool> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut bytes = 0u64;
    for file in &manifest.files {
        let mut file_hasher = Sha256::new();
        let mut complete = true;
        for (offset, shard) in file.shard_offsets() {
            let known_bad = verdicts.get(&shard.sha256) == Some(&false);
            let ok = !known_bad
                && match check_shard(&shards_dir, shard, &mut buffer, &mut file_hasher) {
                    Ok(read) => {
                        bytes += read;
                        true
                    }
                    Err(problem) => {
                        failures.push(problem.into_error(shard, file.path.as_str(), offset));
                        false
                    }
                };
            verdicts.insert(shard.sha256, ok);
            complete &= ok;
            progress(VerifyEvent::Shard {
                file: &file.path,
                shard,
                ok,
            });
        }
        // With a bad shard the file hash is necessarily wrong: the shard failure says it all.
        if complete {
            let actual = Sha256Digest::from_hasher(file_hasher);
            if actual != file.sha256 {
                failures.push(ArtifactsError::FileHashMismatch {
                    file: file.path.to_string(),
                    expected: file.sha256,
                    actual,
                });
            }
        }
    }
    Ok(VerifyReport {
        files: manifest.files.len(),
        shards: verdicts.len(),
        manifest,
        root,
        bytes,
        failures,
    })
}

/// `ROOT` for a manifest at `ROOT/<name>/manifest.json` or `ROOT/<name>/versions/<v>.json`.
fn locate_root(manifest_path: &Path, manifest: &Manifest) -> Result<PathBuf, ArtifactsError> {
    let absolute = std::path::absolute(manifest_path)
        .map_err(|e| ArtifactsError::io("cannot resolve", manifest_path, e))?;
    let mut model_dir = absolute.parent();
    if model_dir
        .and_then(Path::file_name)
        .is_some_and(|n| n == VERSIONS_DIR)
    {
        model_dir = model_dir.and_then(Path::parent);
    }
    let directory = model_dir
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match model_dir.and_then(Path::parent) {
        Some(root) if directory == manifest.name.as_str() => Ok(root.to_path_buf()),
        _ => Err(ArtifactsError::ManifestMisplaced {
            path: manifest_path.to_path_buf(),
            declared: manifest.name.to_string(),
            directory,
        }),
    }
}

/// Why one shard failed, before it is tied to a file.
enum ShardProblem {
    Missing(PathBuf),
    Corrupt(String),
    Io(PathBuf, io::Error),
}

impl ShardProblem {
    fn into_error(self, shard: &ShardRef, file: &str, offset: u64) -> ArtifactsError {
        match self {
            Self::Missing(path) => ArtifactsError::ShardMissing {
                shard: *shard,
                file: file.to_owned(),
                offset,
                path,
            },
            Self::Corrupt(detail) => ArtifactsError::ShardCorrupt {
                shard: *shard,
                file: file.to_owned(),
                offset,
                detail,
            },
            Self::Io(path, source) => ArtifactsError::io("cannot read shard", &path, source),
        }
    }
}

/// Streams one shard file through its own hasher and the file's; returns bytes read.
fn check_shard(
    shards_dir: &Path,
    shard: &ShardRef,
    buffer: &mut [u8],
    file_hasher: &mut Sha256,
) -> Result<u64, ShardProblem> {
    let path = shards_dir.join(shard.sha256.to_hex());
    let mut file = File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ShardProblem::Missing(path.clone()),
        _ => ShardProblem::Io(path.clone(), e),
    })?;
    let on_disk = file
        .metadata()
        .map_err(|e| ShardProblem::Io(path.clone(), e))?
        .len();
    if on_disk != shard.size {
        return Err(ShardProblem::Corrupt(format!(
            "it is {on_disk} bytes, the manifest says {}",
            shard.size
        )));
    }
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ShardProblem::Io(path, e)),
        };
        hasher.update(&buffer[..n]);
        file_hasher.update(&buffer[..n]);
        read += n as u64;
    }
    let actual = Sha256Digest::from_hasher(hasher);
    if read != shard.size {
        return Err(ShardProblem::Corrupt(format!(
            "it changed while being read ({read} bytes, the manifest says {})",
            shard.size
        )));
    }
    if actual != shard.sha256 {
        return Err(ShardProblem::Corrupt(format!(
            "its content hashes to {actual}"
        )));
    }
    Ok(read)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;

    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use ed25519_dalek::SigningKey;
    use tessera_core::dsse::Envelope;
    use tessera_core::manifest::PAYLOAD_TYPE;
    use tessera_core::ErrorCode as _;

    use super::*;
    use crate::pack::{pack, PackInput, PackOptions, MIN_SHARD_SIZE};

    struct Fixture {
        _dirs: (tempfile::TempDir, tempfile::TempDir),
        root: PathBuf,
        manifest: PathBuf,
        report_manifest: Manifest,
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9; 32])
    }

    fn trusted(key: &SigningKey) -> TrustedKeys {
        let mut t = TrustedKeys::new();
        t.insert(key.verifying_key());
        t
    }

    /// Packs two files of 3 KiB (1 KiB shards); the second file repeats the first one's
    /// middle shard, so one shard is shared.
    fn packed() -> Fixture {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let a: Vec<u8> = (0..3072u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut b: Vec<u8> = (0..3072u32).map(|i| (i * 13 % 241) as u8).collect();
        b[1024..2048].copy_from_slice(&a[1024..2048]);
        fs::write(src.path().join("a.bin"), &a).unwrap();
        fs::write(src.path().join("b.bin"), &b).unwrap();
        let inputs = ["a.bin", "b.bin"].map(|n| PackInput {
            path: n.parse().unwrap(),
            source: src.path().join(n),
        });
        let mut options = PackOptions::new("demo".parse().unwrap(), "1.0.0".parse().unwrap());
        options.shard_size = MIN_SHARD_SIZE;
        options.entry = Some("a.bin".parse().unwrap());
        let report = pack(out.path(), &inputs, &options, &key(), &mut |_| {}).unwrap();
        Fixture {
            root: out.path().to_path_buf(),
            manifest: report.manifest_path,
            report_manifest: report.manifest,
            _dirs: (src, out),
        }
    }

    fn run(f: &Fixture) -> Result<VerifyReport, ArtifactsError> {
        verify(&f.manifest, None, &trusted(&key()), 1, &mut |_| {})
    }

    fn shard_file(f: &Fixture, file: usize, shard: usize) -> PathBuf {
        f.root
            .join("_shards")
            .join(f.report_manifest.files[file].shards[shard].sha256.to_hex())
    }

    #[test]
    fn an_intact_directory_verifies() {
        let f = packed();
        let mut shard_events = 0;
        let report = verify(&f.manifest, None, &trusted(&key()), 1, &mut |e| {
            if let VerifyEvent::Shard { ok, .. } = e {
                assert!(ok);
                shard_events += 1;
            }
        })
        .unwrap();
        assert!(report.is_ok(), "{:?}", report.failures);
        assert_eq!((report.files, report.shards, report.bytes), (2, 5, 6144));
        assert_eq!(shard_events, 6);
        assert_eq!(report.root, f.root);
        let versioned = f.root.join("demo/versions/1.0.0.json");
        assert!(verify(&versioned, None, &trusted(&key()), 1, &mut |_| {})
            .unwrap()
            .is_ok());
    }

    #[test]
    fn a_flipped_byte_names_the_shard_and_each_file_using_it_once() {
        let f = packed();
        let shared = shard_file(&f, 0, 1);
        let mut bytes = fs::read(&shared).unwrap();
        bytes[100] ^= 1;
        fs::write(&shared, bytes).unwrap();
        let report = run(&f).unwrap();
        let codes: Vec<_> = report.failures.iter().map(|e| e.code()).collect();
        assert_eq!(codes, ["shard-corrupt"], "{:?}", report.failures);
        let message = report.failures[0].to_string();
        let digest = f.report_manifest.files[0].shards[1].sha256.to_hex();
        assert!(
            message.contains(&digest)
                && message.contains("a.bin")
                && message.contains("1024..2048"),
            "{message}"
        );
    }

    #[test]
    fn missing_and_truncated_shards_are_each_reported() {
        let f = packed();
        fs::remove_file(shard_file(&f, 0, 0)).unwrap();
        fs::write(shard_file(&f, 1, 2), b"short").unwrap();
        let report = run(&f).unwrap();
        let codes: Vec<_> = report.failures.iter().map(|e| e.code()).collect();
        assert_eq!(
            codes,
            ["shard-missing", "shard-corrupt"],
            "{:?}",
            report.failures
        );
        assert!(report.failures[1].to_string().contains("b.bin"));
    }

    #[test]
    fn a_file_hash_inconsistent_with_its_shards_is_reported() {
        let f = packed();
        let mut manifest = f.report_manifest.clone();
        manifest.files[1].sha256 = Sha256Digest::of(b"something else");
        let envelope = Envelope::sign(PAYLOAD_TYPE, &manifest.to_json(), &key());
        fs::write(&f.manifest, envelope.to_json()).unwrap();
        let report = run(&f).unwrap();
        let codes: Vec<_> = report.failures.iter().map(|e| e.code()).collect();
        assert_eq!(codes, ["file-hash-mismatch"]);
        assert!(report.failures[0].to_string().contains("b.bin"));
    }

    #[test]
    fn untrusted_or_altered_manifests_stop_before_any_shard_is_read() {
        let f = packed();
        let stranger = SigningKey::from_bytes(&[1; 32]);
        let err = verify(&f.manifest, None, &trusted(&stranger), 1, &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), "manifest-unknown-key");
        let err = verify(&f.manifest, None, &trusted(&key()), 2, &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), "manifest-threshold-not-met");

        let mut envelope: Envelope =
            serde_json::from_slice(&fs::read(&f.manifest).unwrap()).unwrap();
        let mut manifest = f.report_manifest.clone();
        manifest.files[0].size += 1;
        envelope.payload = BASE64.encode(manifest.to_json());
        fs::write(&f.manifest, envelope.to_json()).unwrap();
        assert_eq!(run(&f).unwrap_err().code(), "manifest-signature-invalid");

        fs::write(&f.manifest, "not json").unwrap();
        assert_eq!(run(&f).unwrap_err().code(), "envelope-malformed");
        fs::remove_file(&f.manifest).unwrap();
        assert_eq!(run(&f).unwrap_err().code(), "io");
    }

    #[test]
    fn a_manifest_outside_its_model_directory_needs_an_explicit_root() {
        let f = packed();
        let elsewhere = tempfile::tempdir().unwrap();
        let copy = elsewhere.path().join("manifest.json");
        fs::copy(&f.manifest, &copy).unwrap();
        let err = verify(&copy, None, &trusted(&key()), 1, &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), "manifest-misplaced");
        assert!(
            verify(&copy, Some(&f.root), &trusted(&key()), 1, &mut |_| {})
                .unwrap()
                .is_ok()
        );
    }
}
