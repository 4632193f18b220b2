//! Atomic file replacement: write a temp file in the target's directory, flush it to disk, rename.
//!
//! A reader (the edge server, a CDN sync, a client) therefore sees either the old file or the
//! complete new one, never a torn write. Temp files are named `.tessera-tmp-<random>` and removed
//! when writing fails; a crash can still leave one behind, which nothing ever reads. This module
//! does not lock: two concurrent packs into one directory each write whole files, last one wins.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::ArtifactsError;

/// Prefix of every temp file this crate creates.
pub const TEMP_PREFIX: &str = ".tessera-tmp-";

/// A temp file next to its destination; removed on drop unless [`TempFile::persist`] succeeded.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// Creates a new, empty temp file in `dir` (mode 0600 on Unix when `private`).
    pub(crate) fn new_in(dir: &Path, private: bool) -> Result<Self, ArtifactsError> {
        loop {
            let path = dir.join(format!("{TEMP_PREFIX}{}", random_hex()?));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            if private {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            #[cfg(not(unix))]
            let _ = private;
            match options.open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        file: Some(file),
                    })
                }
                // 64 random bits collided with a leftover: pick another name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(ArtifactsError::io("cannot create a temp file in", dir, e)),
            }
        }
    }

    /// Appends bytes.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), ArtifactsError> {
        match self.file.as_mut() {
            Some(file) => file
                .write_all(bytes)
                .map_err(|e| ArtifactsError::io("cannot write", &self.path, e)),
            None => Ok(()),
        }
    }

    /// Flushes the bytes to disk and renames the file to `dest` (replacing it).
    pub(crate) fn persist(mut self, dest: &Path) -> Result<(), ArtifactsError> {
        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(|e| ArtifactsError::io("cannot flush", &self.path, e))?;
        }
        fs::rename(&self.path, dest)
            .map_err(|e| ArtifactsError::io("cannot move a temp file to", dest, e))?;
        // Renamed: nothing left to clean up.
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            self.file.take();
            // Best effort: the error case already reports the real failure.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `dest` atomically, creating the parent directory if needed.
pub(crate) fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), ArtifactsError> {
    let dir = parent_dir(dest);
    fs::create_dir_all(dir).map_err(|e| ArtifactsError::io("cannot create directory", dir, e))?;
    let mut temp = TempFile::new_in(dir, false)?;
    temp.write_all(bytes)?;
    temp.persist(dest)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// 16 random hex characters from the OS.
pub(crate) fn random_hex() -> Result<String, ArtifactsError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ArtifactsError::Io {
        action: "cannot get randomness for",
        path: PathBuf::from("a temp file name"),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_destination_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/manifest.json");
        write_file(&dest, b"one").unwrap();
        write_file(&dest, b"two").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert_eq!(names(&dir.path().join("sub")), ["manifest.json"]);
    }

    #[test]
    fn a_dropped_temp_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut temp = TempFile::new_in(dir.path(), true).unwrap();
        temp.write_all(b"half a shard").unwrap();
        assert_eq!(names(dir.path()).len(), 1);
        drop(temp);
        assert!(names(dir.path()).is_empty());
    }
}
