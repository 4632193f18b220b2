//! The OPFS shard-byte backend: `tessera-shards/<sha256>/<offset>` in the origin private file
//! system, one file per piece. A file appears whole or not at all (`createWritable` writes a
//! swap file and moves it into place on `close`), so a shard's staged length is the contiguous
//! run of its files from byte 0 — nothing else records it. A shard is served as a `Blob` over
//! its files: the browser streams them to the page without JS or wasm touching a byte.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use futures_util::future::{FutureExt as _, LocalBoxFuture, Shared};

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
    dirs: Rc<RefCell<HashMap<String, FileSystemDirectoryHandle>>>,
    /// Piece files opened for writing ahead of their bytes ([`Opfs::prepare`]), by
    /// `"{sha}/{offset}"`.
    prepared: RefCell<HashMap<String, Prepared>>,
}

/// A piece file being opened for writing (directory, file handle, `createWritable`).
type Prepared = Shared<LocalBoxFuture<'static, Result<FileSystemWritableFileStream, JsError>>>;

/// `sha`'s directory (created when missing), from `dirs` when this worker opened it before.
async fn shard_dir(
    root: &FileSystemDirectoryHandle,
    dirs: &RefCell<HashMap<String, FileSystemDirectoryHandle>>,
    hex: &str,
) -> Result<FileSystemDirectoryHandle, JsError> {
    let cached = dirs.borrow().get(hex).cloned();
    if let Some(dir) = cached {
        return Ok(dir);
    }
    let _t = crate::timing::span("opfs-dir");
    let dir = dir_in(root, hex, true).await?;
    dirs.borrow_mut().insert(hex.to_owned(), dir.clone());
    Ok(dir)
}

/// A writable over the piece file at `offset` in `dir` (created empty when missing; its bytes
/// appear only when the writable closes).
async fn open_piece(
    dir: &FileSystemDirectoryHandle,
    offset: u64,
) -> Result<FileSystemWritableFileStream, JsError> {
    let mut options = FileSystemGetFileOptions::new();
    options.create(true);
    let t = crate::timing::span("opfs-handle");
    let handle =
        await_promise(dir.get_file_handle_with_options(&offset.to_string(), &options)).await?;
    let handle: FileSystemFileHandle = cast(handle, "file handle")?;
    drop(t);
    let _t = crate::timing::span("opfs-create-writable");
    cast(await_promise(handle.create_writable()).await?, "writable")
}

fn piece_key(hex: &str, offset: u64) -> String {
    format!("{hex}/{offset}")
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
    /// `root`: the glue's `navigator.storage.getDirectory()`, started while the wasm compiled
    /// (asked again when it did not resolve to a directory).
    pub async fn open_if(
        choice: StorageChoice,
        root: Option<js_sys::Promise>,
    ) -> Option<Result<Self, SwError>> {
        match choice {
            StorageChoice::Indexeddb => None,
            StorageChoice::Auto | StorageChoice::Opfs => Some(Self::open(root).await),
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
    pub async fn open(root: Option<js_sys::Promise>) -> Result<Self, SwError> {
        if !available() {
            return Self::unavailable();
        }
        let open = async {
            let early = match root {
                Some(p) => await_promise(p).await.ok(),
                None => None,
            };
            let top = match early.and_then(|t| t.dyn_into::<FileSystemDirectoryHandle>().ok()) {
                Some(top) => top,
                None => {
                    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
                    let top = await_promise(scope.navigator().storage().get_directory()).await?;
                    cast(top, "OPFS root")?
                }
            };
            dir_in(&top, ROOT, true).await
        };
        let root = open.await.map_err(err("open file system"))?;
        Ok(Self {
            root,
            blobs: RefCell::default(),
            dirs: Rc::default(),
            prepared: RefCell::default(),
        })
    }

    /// Starts opening the piece file at `offset` of `sha` for writing, so that the storage
    /// round trips (directory, file handle, `createWritable`) overlap the network request whose
    /// bytes it will hold; [`Backend::write`] at that offset uses it. Nothing becomes visible:
    /// at most an empty file, which no staged length counts.
    pub fn prepare(&self, sha: &Sha256Digest, offset: u64) {
        let hex = sha.to_hex();
        let key = piece_key(&hex, offset);
        if self.prepared.borrow().contains_key(&key) {
            return;
        }
        let (root, dirs) = (self.root.clone(), self.dirs.clone());
        let opening = async move {
            let dir = shard_dir(&root, &dirs, &hex).await?;
            open_piece(&dir, offset).await
        }
        .boxed_local()
        .shared();
        wasm_bindgen_futures::spawn_local(opening.clone().map(drop));
        self.prepared.borrow_mut().insert(key, opening);
    }

    /// Aborts the writables prepared for `hex` (before its directory is removed).
    async fn drop_prepared(&self, hex: &str) {
        let prefix = format!("{hex}/");
        let mine: Vec<Prepared> = {
            let mut prepared = self.prepared.borrow_mut();
            let keys: Vec<String> = prepared
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| prepared.remove(k)).collect()
        };
        for opening in mine {
            if let Ok(writable) = opening.await {
                let _ = await_promise(writable.abort()).await;
            }
        }
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
        // Every piece file's handle is asked for at once, then each file as its handle comes:
        // a JS promise starts when it is made, so the storage round trips overlap. The run from
        // byte 0 is then walked in order.
        let handles: Vec<js_sys::Promise> = offsets
            .iter()
            .map(|offset| dir.get_file_handle(&offset.to_string()))
            .collect();
        let mut getting = Vec::with_capacity(handles.len());
        for handle in handles {
            let file = match await_promise(handle).await {
                Ok(h) => cast::<FileSystemFileHandle>(h, "file handle").map(|h| h.get_file()),
                Err(e) => Err(e),
            };
            getting.push(file);
        }
        let (mut files, mut pos, mut failed) = (Vec::new(), 0u64, None);
        let mut getting = offsets.into_iter().zip(getting);
        for (offset, file) in getting.by_ref() {
            if offset != pos || pos >= limit {
                break;
            }
            let file = match file {
                Ok(p) => await_promise(p).await.and_then(|f| cast::<File>(f, "file")),
                Err(e) => Err(e),
            };
            match file {
                Ok(file) if file.size() > 0.0 => {
                    pos += file.size() as u64;
                    files.push(file);
                }
                Ok(_) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Files past a gap or a failure were asked for too: their answers are awaited (and
        // dropped) so that none rejects unhandled.
        for (_, file) in getting {
            if let Ok(file) = file {
                let _ = await_promise(file).await;
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok((files, pos)),
        }
    }

    /// The first `len` bytes of `sha` as one Blob over its files.
    async fn compose(&self, sha: &Sha256Digest, len: u64) -> Result<Blob, SwError> {
        let _t = crate::timing::span("compose");
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
        let prepared = self.prepared.borrow_mut().remove(&piece_key(&hex, offset));
        let write = async {
            let writable = match prepared {
                Some(opening) => opening.await,
                None => Err(JsError::new("NotFoundError", "not prepared")),
            };
            let writable = match writable {
                Ok(w) => w,
                // Not prepared, or preparing failed: open it now (a failure here is the error).
                Err(_) => {
                    open_piece(&shard_dir(&self.root, &self.dirs, &hex).await?, offset).await?
                }
            };
            let t = crate::timing::span("opfs-write");
            let written = match catch(writable.write_with_buffer_source(&piece.contiguous())) {
                Ok(p) => await_promise(p).await.map(drop),
                Err(e) => Err(e),
            };
            drop(t);
            if let Err(e) = written {
                // Discard the swap file: nothing of this piece becomes visible.
                let _ = await_promise(writable.abort()).await;
                return Err(e);
            }
            let _t = crate::timing::span("opfs-close");
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
        self.drop_prepared(&hex).await;
        self.remove_dir(&hex).await.map_err(err("discard shard"))
    }

    async fn stored(&self) -> Result<BTreeSet<String>, SwError> {
        let all = names(&self.root).await.map_err(err("list shards"))?;
        Ok(all.into_iter().collect())
    }
}
