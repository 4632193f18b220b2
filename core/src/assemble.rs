//! Verifying a file put together from its shards: the one check every consumer runs before it
//! uses a model file's bytes (the service worker before it switches versions, the browser
//! runtime before wonnx sees a graph, the edge before it builds a session, `tessera verify`).
//!
//! [`FileAssembly`] takes the file's bytes in order, in pieces of any size (a whole shard, a
//! store chunk, a network chunk), and checks each shard's size and SHA-256 against the signed,
//! ordered shard list as its last byte arrives, then the whole file's size and SHA-256. It
//! stops at the first wrong shard, so a caller can tell which shard to fetch or discard again.
//!
//! A caller with a faster hash (the browser's WebCrypto) hashes each whole shard itself and
//! hands over its length and digest ([`FileAssembly::push_shard_digest`]); every shard is still
//! checked against the signed list, in order, and the whole-file digest is then not recomputed
//! (the signed shard list already pins every byte of the file; the service worker's store
//! relies on the same).
//!
//! It does no IO: where the shards come from (disk, IndexedDB, the network, a service worker
//! response) is the caller's business. It does not decide *which* file a model runs; that is
//! [`crate::Manifest::entry`].

use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;
use crate::error::ErrorCode;
use crate::manifest::{FileEntry, ShardRef};

/// Bytes that are not the file the signed manifest describes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssemblyError {
    /// A shard's bytes hash to another digest (or have another length) than the manifest says.
    #[error("file {file}: shard {index} ({shard}) does not match the signed manifest: its bytes hash to {actual} ({actual_size} bytes, {size} expected)")]
    ShardMismatch {
        /// The file's logical path.
        file: String,
        /// Position of the shard in the file (0-based).
        index: usize,
        /// The shard the manifest lists there.
        shard: Sha256Digest,
        /// Its size in the manifest.
        size: u64,
        /// What the bytes received for it hash to.
        actual: Sha256Digest,
        /// How many bytes were received for it.
        actual_size: u64,
    },
    /// More or fewer bytes than the file's size.
    #[error("file {file}: assembled {actual} bytes, the signed manifest says {expected}")]
    FileSizeMismatch {
        /// The file's logical path.
        file: String,
        /// Size in the manifest.
        expected: u64,
        /// Bytes assembled.
        actual: u64,
    },
    /// Every shard matched but the whole file hashes to another digest: the manifest's shard
    /// list and file digest disagree.
    #[error("file {file}: assembled bytes hash to {actual}, the signed manifest says {expected}")]
    FileHashMismatch {
        /// The file's logical path.
        file: String,
        /// Digest in the manifest.
        expected: Sha256Digest,
        /// What the bytes hashed to.
        actual: Sha256Digest,
    },
}

impl ErrorCode for AssemblyError {
    fn code(&self) -> &'static str {
        match self {
            Self::ShardMismatch { .. } => "shard-hash-mismatch",
            Self::FileSizeMismatch { .. } => "file-size-mismatch",
            Self::FileHashMismatch { .. } => "file-hash-mismatch",
        }
    }
}

impl AssemblyError {
    /// The shard at fault, for [`AssemblyError::ShardMismatch`].
    pub fn shard(&self) -> Option<Sha256Digest> {
        match self {
            Self::ShardMismatch { shard, .. } => Some(*shard),
            Self::FileSizeMismatch { .. } | Self::FileHashMismatch { .. } => None,
        }
    }
}

/// A file being put together from its shards, checked as it goes. Feed its bytes in order with
/// [`FileAssembly::update`], then call [`FileAssembly::finish`].
#[derive(Debug, Clone)]
pub struct FileAssembly {
    file: String,
    size: u64,
    sha256: Sha256Digest,
    shards: Vec<ShardRef>,
    /// The shard the next byte belongs to.
    index: usize,
    /// Bytes of that shard fed so far.
    in_shard: u64,
    shard_hasher: Sha256,
    file_hasher: Sha256,
    seen: u64,
    /// Some shard was checked by the caller's digest: the whole file's digest is not known.
    by_digest: bool,
}

impl FileAssembly {
    /// An assembly of the manifest's file `entry`.
    pub fn new(entry: &FileEntry) -> Self {
        Self {
            file: entry.path.to_string(),
            size: entry.size,
            sha256: entry.sha256,
            shards: entry.shards.clone(),
            index: 0,
            in_shard: 0,
            shard_hasher: Sha256::new(),
            file_hasher: Sha256::new(),
            seen: 0,
            by_digest: false,
        }
    }

    /// The shard the next byte belongs to (`None` once every listed shard is complete).
    pub fn next_shard(&self) -> Option<&ShardRef> {
        self.shards.get(self.index)
    }

    /// Feeds the next bytes of the file. Fails as soon as a shard completes with the wrong
    /// digest, or bytes run past the last shard; the assembly is then spent.
    pub fn update(&mut self, mut bytes: &[u8]) -> Result<(), AssemblyError> {
        self.file_hasher.update(bytes);
        self.seen = self.seen.saturating_add(len_u64(bytes));
        while !bytes.is_empty() {
            let Some(shard) = self.shards.get(self.index).copied() else {
                return Err(self.size_mismatch());
            };
            let room = shard.size.saturating_sub(self.in_shard);
            // `take` ≤ bytes.len(), so it fits in usize.
            let take = usize::try_from(room.min(len_u64(bytes))).unwrap_or(bytes.len());
            let (now, rest) = bytes.split_at(take);
            self.shard_hasher.update(now);
            self.in_shard += len_u64(now);
            bytes = rest;
            if self.in_shard == shard.size {
                let hasher = std::mem::replace(&mut self.shard_hasher, Sha256::new());
                let actual = Sha256Digest::from_hasher(hasher);
                if actual != shard.sha256 {
                    return Err(AssemblyError::ShardMismatch {
                        file: self.file.clone(),
                        index: self.index,
                        shard: shard.sha256,
                        size: shard.size,
                        actual,
                        actual_size: self.in_shard,
                    });
                }
                self.index += 1;
                self.in_shard = 0;
            }
        }
        Ok(())
    }

    /// Feeds the next shard whole. Its length must be the listed size: a shard of the wrong
    /// length is reported as itself, not as the later shard its bytes would spill into (what
    /// [`FileAssembly::update`] would see). Only at a shard boundary.
    pub fn push_shard(&mut self, bytes: &[u8]) -> Result<(), AssemblyError> {
        let Some(shard) = self.shards.get(self.index).copied() else {
            return Err(AssemblyError::FileSizeMismatch {
                file: self.file.clone(),
                expected: self.size,
                actual: self.seen.saturating_add(len_u64(bytes)),
            });
        };
        if self.in_shard != 0 || len_u64(bytes) != shard.size {
            return Err(AssemblyError::ShardMismatch {
                file: self.file.clone(),
                index: self.index,
                shard: shard.sha256,
                size: shard.size,
                actual: Sha256Digest::of(bytes),
                actual_size: self.in_shard.saturating_add(len_u64(bytes)),
            });
        }
        self.update(bytes)
    }

    /// Checks the next shard by what the caller measured of its bytes: `size` and the
    /// `digest` it computed. The same check as [`FileAssembly::push_shard`] (and the same
    /// errors), without the bytes; the assembly's own hashers never see them, so
    /// [`FileAssembly::finish`] then checks the size and the shard list, not the whole file's
    /// digest. Only at a shard boundary, and not after [`FileAssembly::update`] fed bytes.
    pub fn push_shard_digest(
        &mut self,
        size: u64,
        digest: Sha256Digest,
    ) -> Result<(), AssemblyError> {
        let Some(shard) = self.shards.get(self.index).copied() else {
            return Err(AssemblyError::FileSizeMismatch {
                file: self.file.clone(),
                expected: self.size,
                actual: self.seen.saturating_add(size),
            });
        };
        let mixed = self.seen != 0 && !self.by_digest;
        if mixed || self.in_shard != 0 || size != shard.size || digest != shard.sha256 {
            return Err(AssemblyError::ShardMismatch {
                file: self.file.clone(),
                index: self.index,
                shard: shard.sha256,
                size: shard.size,
                actual: digest,
                actual_size: size,
            });
        }
        self.by_digest = true;
        self.seen = self.seen.saturating_add(size);
        self.index += 1;
        Ok(())
    }

    /// `Ok` when the bytes fed are exactly the file: every shard matched and the whole file has
    /// the manifest's size and (when the bytes were fed here) digest.
    pub fn finish(self) -> Result<(), AssemblyError> {
        if self.index < self.shards.len() || self.seen != self.size {
            return Err(self.size_mismatch());
        }
        if self.by_digest {
            return Ok(());
        }
        let actual = Sha256Digest::from_hasher(self.file_hasher);
        if actual != self.sha256 {
            return Err(AssemblyError::FileHashMismatch {
                file: self.file,
                expected: self.sha256,
                actual,
            });
        }
        Ok(())
    }

    fn size_mismatch(&self) -> AssemblyError {
        AssemblyError::FileSizeMismatch {
            file: self.file.clone(),
            expected: self.size,
            actual: self.seen,
        }
    }
}

/// Checks a whole file held in memory: [`FileAssembly`] in one call.
pub fn verify_file(entry: &FileEntry, bytes: &[u8]) -> Result<(), AssemblyError> {
    let mut assembly = FileAssembly::new(entry);
    assembly.update(bytes)?;
    assembly.finish()
}

fn len_u64(bytes: &[u8]) -> u64 {
    // usize is at most 64 bits on every target tessera builds for.
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn entry(shards: &[&[u8]]) -> (FileEntry, Vec<u8>) {
        let file: Vec<u8> = shards.concat();
        let entry = FileEntry {
            path: "model.onnx".parse().unwrap(),
            size: file.len() as u64,
            sha256: Sha256Digest::of(&file),
            shards: shards
                .iter()
                .map(|s| ShardRef {
                    sha256: Sha256Digest::of(s),
                    size: s.len() as u64,
                })
                .collect(),
        };
        (entry, file)
    }

    #[test]
    fn the_exact_file_passes_in_pieces_of_any_size() {
        let (entry, file) = entry(&[b"first shard", b"second", b"3"]);
        for piece in [1, 2, 5, 7, 11, 64] {
            let mut assembly = FileAssembly::new(&entry);
            for chunk in file.chunks(piece) {
                assembly.update(chunk).unwrap();
            }
            assert_eq!(assembly.finish(), Ok(()), "pieces of {piece}");
        }
        assert_eq!(verify_file(&entry, &file), Ok(()));
    }

    #[test]
    fn a_wrong_shard_fails_when_it_completes_and_names_the_shard() {
        let (entry, mut file) = entry(&[b"first shard", b"second", b"3"]);
        file[12] ^= 1;
        let mut assembly = FileAssembly::new(&entry);
        assembly.update(&file[..11]).unwrap();
        assert_eq!(assembly.next_shard(), Some(&entry.shards[1]));
        let error = assembly.update(&file[11..]).unwrap_err();
        assert_eq!(error.code(), "shard-hash-mismatch");
        assert_eq!(error.shard(), Some(entry.shards[1].sha256));
        assert!(matches!(
            error,
            AssemblyError::ShardMismatch { index: 1, .. }
        ));
    }

    #[test]
    fn a_whole_shard_of_the_wrong_length_is_blamed_on_itself() {
        let (entry, file) = entry(&[b"first shard", b"second", b"3"]);
        let mut assembly = FileAssembly::new(&entry);
        assembly.push_shard(&file[..11]).unwrap();
        // One byte short: fed as a stream it would complete later, blaming the next shard.
        let error = assembly.push_shard(&file[11..16]).unwrap_err();
        assert_eq!(error.code(), "shard-hash-mismatch");
        assert_eq!(error.shard(), Some(entry.shards[1].sha256));
        let mut whole = FileAssembly::new(&entry);
        for piece in [&file[..11], &file[11..17], &file[17..]] {
            whole.push_shard(piece).unwrap();
        }
        assert_eq!(whole.finish(), Ok(()));
        assert_eq!(
            FileAssembly::new(&entry)
                .push_shard(&file)
                .unwrap_err()
                .shard(),
            Some(entry.shards[0].sha256)
        );
    }

    #[test]
    fn short_or_long_files_are_size_mismatches() {
        let (entry, file) = entry(&[b"first shard", b"second"]);
        let short = verify_file(&entry, &file[..file.len() - 1]).unwrap_err();
        assert_eq!(short.code(), "file-size-mismatch");
        let mut long = file.clone();
        long.push(0);
        assert_eq!(
            verify_file(&entry, &long).unwrap_err().code(),
            "file-size-mismatch"
        );
        assert_eq!(
            verify_file(&entry, &[]).unwrap_err().code(),
            "file-size-mismatch"
        );
    }

    #[test]
    fn shards_that_match_but_disagree_with_the_file_digest_fail_the_file() {
        let (mut entry, file) = entry(&[b"first shard", b"second"]);
        entry.sha256 = Sha256Digest::of(b"something else");
        assert_eq!(
            verify_file(&entry, &file).unwrap_err().code(),
            "file-hash-mismatch"
        );
    }

    #[test]
    fn shards_checked_by_the_callers_digest_pass_only_in_order_and_complete() {
        let shards: [&[u8]; 3] = [b"first shard", b"second", b"3"];
        let (entry, _) = entry(&shards);
        let measured = |s: &[u8]| (s.len() as u64, Sha256Digest::of(s));
        let mut assembly = FileAssembly::new(&entry);
        for shard in shards {
            let (size, digest) = measured(shard);
            assembly.push_shard_digest(size, digest).unwrap();
        }
        assert_eq!(assembly.finish(), Ok(()));

        // Out of order: blamed on the shard listed at that position.
        let mut assembly = FileAssembly::new(&entry);
        let (size, digest) = measured(shards[1]);
        let error = assembly.push_shard_digest(size, digest).unwrap_err();
        assert_eq!(error.code(), "shard-hash-mismatch");
        assert_eq!(error.shard(), Some(entry.shards[0].sha256));

        // The right digest with the wrong length, and a missing last shard.
        let mut assembly = FileAssembly::new(&entry);
        let (size, digest) = measured(shards[0]);
        assert!(assembly.push_shard_digest(size + 1, digest).is_err());
        let mut assembly = FileAssembly::new(&entry);
        for shard in &shards[..2] {
            let (size, digest) = measured(shard);
            assembly.push_shard_digest(size, digest).unwrap();
        }
        assert_eq!(assembly.finish().unwrap_err().code(), "file-size-mismatch");

        // A shard past the last one.
        let mut assembly = FileAssembly::new(&entry);
        for shard in shards {
            let (size, digest) = measured(shard);
            assembly.push_shard_digest(size, digest).unwrap();
        }
        let (size, digest) = measured(b"extra");
        assert_eq!(
            assembly.push_shard_digest(size, digest).unwrap_err().code(),
            "file-size-mismatch"
        );

        // Not after bytes were fed: their shard is half-hashed here.
        let mut assembly = FileAssembly::new(&entry);
        assembly.update(b"fir").unwrap();
        let (size, digest) = measured(shards[0]);
        assert!(assembly.push_shard_digest(size, digest).is_err());
    }
}
