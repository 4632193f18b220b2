//! The OPFS shard-byte backend: `tessera-shards/<sha256>/<offset>` in the origin private file
//! system, one file per piece. A file appears whole or not at all (`createWritable` writes a
//! swap file and moves it into place on `close`), so a shard's staged length is the contiguous
//! run of its files from byte 0 — nothing else records it. A shard is served as a `Blob` over
//! its files: the browser streams them to the page without JS or wasm touching a byte.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use js_sys::{Array, AsyncIterator, Function, Object, Reflect};
use tessera_core::Sha256Digest;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Blob, File, FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemRemoveOptions, FileSystemWritableFileStream,
    WorkerGlobalScope,
};

use super::{Backend, Piece};
use crate::config::StorageChoice;
use crate::error::SwError;
use crate::js_error::{await_promise, cast, catch, JsError};

/// The directory (under the origin's OPFS root) that holds one directory per shard.
const ROOT: &str = "tessera-shards";

/// Shard bytes as OPFS files.
#[derive(Debug)]
pub struct Opfs {
    root: FileSystemDirectoryHandle,
    /// Each complete shard's files as one Blob, made once per worker (a handle, not the bytes).
    blobs: RefCell<HashMap<String, Blob>>,
    /// Shard directories this worker opened for writing (saves a lookup per piece).
    dirs: RefCell<HashMap<String, FileSystemDirectoryHandle>>,
}

fn err(context: &'static str) -> impl Fn(JsError) -> SwError {
    move |e| SwError::store(context, e)
}

fn not_found(e: &JsError) -> bool {
    e.name == "NotFoundError"
}

async fn dir_in(
    parent: &FileSystemDirectoryHandle,
    name: &str,
    create: bool,
) -> Result<FileSystemDirectoryHandle, JsError> {
    let mut options = FileSystemGetDirectoryOptions::new();
    options.create(create);
    let handle = await_promise(parent.get_directory_handle_with_options(name, &options)).await?;
    cast(handle, "directory handle")
}

/// The names in `dir` (its `keys()` async iterator).
async fn names(dir: &FileSystemDirectoryHandle) -> Result<Vec<String>, JsError> {
    let keys: Function = cast(Reflect::get(dir, &JsValue::from_str("keys"))?, "keys()")?;
    let iter: AsyncIterator = cast(keys.call0(dir)?, "directory iterator")?;
    let mut out = Vec::new();
    loop {
        let step = await_promise(catch(iter.next())?).await?;
        let done = Reflect::get(&step, &JsValue::from_str("done"))?;
        if done.as_bool().unwrap_or(true) {
            return Ok(out);
        }
        if let Some(name) = Reflect::get(&step, &JsValue::from_str("value"))?.as_string() {
            out.push(name);
        }
    }
}

/// Whether this scope offers what the backend needs: `navigator.storage.getDirectory` and
/// `FileSystemFileHandle.prototype.createWritable` (Safari has the first only in some versions
/// of workers; a browser without either falls back to IndexedDB).
fn available() -> bool {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let storage = scope.navigator().storage();
    let has =
        |obj: &JsValue, key: &str| Reflect::has(obj, &JsValue::from_str(key)).unwrap_or(false);
    let handle_class = Reflect::get(
        &js_sys::global(),
        &JsValue::from_str("FileSystemFileHandle"),
    )
    .unwrap_or(JsValue::UNDEFINED);
    let proto =
        Reflect::get(&handle_class, &JsValue::from_str("prototype")).unwrap_or(JsValue::UNDEFINED);
    has(&storage, "getDirectory") && proto.is_object() && has(&proto, "createWritable")
}

impl Opfs {
    /// Opens the store where `choice` may use it (`None` for `indexeddb`).
    pub async fn open_if(choice: StorageChoice) -> Option<Result<Self, SwError>> {
        match choice {
            StorageChoice::Indexeddb => None,
            StorageChoice::Auto | StorageChoice::Opfs => Some(Self::open().await),
        }
    }

    /// The error of a browser without OPFS in workers.
    pub fn unavailable<T>() -> Result<T, SwError> {
        Err(SwError::store(
            "open file system",
            JsError::new(
                "NotSupportedError",
                "the origin private file system (with createWritable) is not available here",
            ),
        ))
    }

    /// Opens (creating) the shard directory; `Err` where the browser lacks OPFS in workers.
    pub async fn open() -> Result<Self, SwError> {
        if !available() {
            return Self::unavailable();
        }
        let open = async {
            let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
            let top = await_promise(scope.navigator().storage().get_directory()).await?;
            let top: FileSystemDirectoryHandle = cast(top, "OPFS root")?;
            dir_in(&top, ROOT, true).await
        };
        let root = open.await.map_err(err("open file system"))?;
        Ok(Self {
            root,
            blobs: RefCell::default(),
            dirs: RefCell::default(),
        })
    }

    /// The files of `sha` that run contiguously from byte 0, in order, and their total length.
    async fn run(&self, sha: &Sha256Digest, limit: u64) -> Result<(Vec<File>, u64), JsError> {
        let dir = match dir_in(&self.root, &sha.to_hex(), false).await {
            Ok(d) => d,
            Err(e) if not_found(&e) => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let mut offsets: Vec<u64> = names(&dir)
            .await?
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        offsets.sort_unstable();
        let (mut files, mut pos) = (Vec::new(), 0u64);
        for offset in offsets {
            if offset != pos || pos >= limit {
                break;
            }
            let handle = await_promise(dir.get_file_handle(&offset.to_string())).await?;
            let handle: FileSystemFileHandle = cast(handle, "file handle")?;
            let file: File = cast(await_promise(handle.get_file()).await?, "file")?;
            let size = file.size() as u64;
            if size == 0 {
                break;
            }
            pos += size;
            files.push(file);
        }
        Ok((files, pos))
    }

    /// The first `len` bytes of `sha` as one Blob over its files.
    async fn compose(&self, sha: &Sha256Digest, len: u64) -> Result<Blob, SwError> {
        let (files, stored) = self.run(sha, len).await.map_err(err("read shard"))?;
        if stored < len {
            return Err(SwError::StoreCorrupt {
                what: format!("the stored bytes of shard {sha}"),
            });
        }
        let parts: Array = files.iter().collect();
        let blob = catch(Blob::new_with_blob_sequence(&parts)).map_err(err("read shard"))?;
        if stored == len {
            return Ok(blob);
        }
        catch(blob.slice_with_f64_and_f64(0.0, len as f64)).map_err(err("read shard"))
    }

    /// A verified shard's bytes as a Blob (made once per worker, then reused).
    pub async fn shard_blob(&self, sha: &Sha256Digest, size: u64) -> Result<Blob, SwError> {
        let hex = sha.to_hex();
        if let Some(blob) = self.blobs.borrow().get(&hex) {
            return Ok(blob.clone());
        }
        let blob = self.compose(sha, size).await?;
        self.blobs.borrow_mut().insert(hex, blob.clone());
        Ok(blob)
    }

    async fn remove_dir(&self, hex: &str) -> Result<(), JsError> {
        let mut options = FileSystemRemoveOptions::new();
        options.recursive(true);
        match await_promise(self.root.remove_entry_with_options(hex, &options)).await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Backend for Opfs {
    async fn staged_len(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError> {
        let (files, len) = self.run(sha, u64::MAX).await.map_err(err("read partial"))?;
        Ok((!files.is_empty()).then_some(len))
    }

    /// Writes one piece file. At `offset == 0` nothing is removed first: staging starts at
    /// byte 0 only when nothing usable was staged (the plan discards what it refuses, and
    /// `discard` removes the directory), and a stray file left by a crash could at worst make
    /// the shard's bytes hash wrong — never visible.
    async fn write(&self, sha: &Sha256Digest, offset: u64, piece: &Piece) -> Result<(), SwError> {
        let hex = sha.to_hex();
        self.blobs.borrow_mut().remove(&hex);
        let context = "persist chunk";
        let write = async {
            let cached = self.dirs.borrow().get(&hex).cloned();
            let dir = match cached {
                Some(dir) => dir,
                None => {
                    let dir = dir_in(&self.root, &hex, true).await?;
                    self.dirs.borrow_mut().insert(hex.clone(), dir.clone());
                    dir
                }
            };
            let mut options = FileSystemGetFileOptions::new();
            options.create(true);
            let handle =
                await_promise(dir.get_file_handle_with_options(&offset.to_string(), &options))
                    .await?;
            let handle: FileSystemFileHandle = cast(handle, "file handle")?;
            let writable: FileSystemWritableFileStream =
                cast(await_promise(handle.create_writable()).await?, "writable")?;
            let written = match catch(writable.write_with_buffer_source(&piece.contiguous())) {
                Ok(p) => await_promise(p).await.map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                // Discard the swap file: nothing of this piece becomes visible.
                let _ = await_promise(writable.abort()).await;
                return Err(e);
            }
            await_promise(writable.close()).await.map(drop)
        };
        write.await.map_err(err(context))
    }

    async fn read(&self, sha: &Sha256Digest, len: u64) -> Result<Object, SwError> {
        let blob = self.compose(sha, len).await?;
        let buffer = await_promise(blob.array_buffer())
            .await
            .map_err(err("read shard"))?;
        Ok(buffer.unchecked_into())
    }

    async fn remove(&self, sha: &Sha256Digest) -> Result<(), SwError> {
        let hex = sha.to_hex();
        self.blobs.borrow_mut().remove(&hex);
        self.dirs.borrow_mut().remove(&hex);
        self.remove_dir(&hex).await.map_err(err("discard shard"))
    }

    async fn stored(&self) -> Result<BTreeSet<String>, SwError> {
        let all = names(&self.root).await.map_err(err("list shards"))?;
        Ok(all.into_iter().collect())
    }
}
