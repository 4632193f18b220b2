//! The worker's store: IndexedDB `models` (active + pending signed manifest per model, and when
//! it was last served; plus the last measured download speed under a key no model can have) and
//! `shards` (verified shard metadata: a record here is what makes a shard visible), over the
//! shard bytes of [`ShardBytes`] (files in the origin private file system, or IndexedDB
//! records). Every IndexedDB write is one transaction, awaited until it commits or aborts (a
//! `QuotaExceededError` at commit becomes `quota`). It decides nothing: what to write comes
//! from `tessera-core`'s plan and the update logic.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use futures_util::future::{FutureExt as _, LocalBoxFuture, Shared};

use js_sys::Array;
use tessera_core::layout::ModelName;
use tessera_core::Sha256Digest;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::IdbTransactionMode;

use crate::config::StorageChoice;
use crate::error::SwError;
use crate::idb::{self, field, record, write, Db};
use crate::js_error::{catch, JsError};
use crate::shard_bytes::{Piece, ShardBytes};

const DB_NAME: &str = "tessera";
/// 2 added `opfs-shards`.
const DB_VERSION: u32 = 2;
const MODELS: &str = "models";
/// Verified shards whose bytes are IndexedDB records.
const IDB_SHARDS: &str = "shards";
/// Verified shards whose bytes are OPFS files: one list per backend, so a worker whose
/// `storage` changed never takes the other backend's shards for its own.
const OPFS_SHARDS: &str = "opfs-shards";
/// Every object store, created on first use (the IndexedDB backend's too, so that switching
/// backends never needs a schema upgrade).
const ALL_STORES: &[&str] = &[
    MODELS,
    IDB_SHARDS,
    OPFS_SHARDS,
    crate::shard_bytes::idb::CHUNKS,
    crate::shard_bytes::idb::PARTIALS,
];

/// Key of the last measured download speed in the models store: not a model name (those start
/// with a letter or digit), so it never meets a model's record.
pub const SPEED_KEY: &str = "_download-speed";

const READ: IdbTransactionMode = IdbTransactionMode::Readonly;
const WRITE: IdbTransactionMode = IdbTransactionMode::Readwrite;

/// Storage the glue started opening while the wasm compiled (`tessera-sw-lib.js`:
/// `indexedDB.open("tessera")` and `navigator.storage.getDirectory()`), so that a cold start
/// overlaps them with instantiation. Hints only: [`Store::open`] adopts the database when it
/// has this version and every store, and the root when it is a directory, and opens its own
/// otherwise.
#[derive(Debug, Default)]
pub struct Preopened {
    /// Resolves to an `IDBDatabase` (or anything else, ignored).
    pub db: Option<js_sys::Promise>,
    /// Resolves to the OPFS root directory handle (or anything else, ignored).
    pub opfs_root: Option<js_sys::Promise>,
}

impl Preopened {
    /// From the glue's `{ db, opfsRoot }` (missing or non-promise fields are ignored).
    pub fn from_js(value: &JsValue) -> Self {
        let promise = |key: &str| {
            js_sys::Reflect::get(value, &JsValue::from_str(key))
                .ok()
                .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
        };
        Self {
            db: promise("db"),
            opfs_root: promise("opfsRoot"),
        }
    }
}

/// A model's stored signed manifests (DSSE envelope JSON, as fetched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRecord {
    /// The envelope of the version being served.
    pub active: Option<String>,
    /// The envelope of a version accepted but not yet fully downloaded and verified.
    pub pending: Option<String>,
    /// Whether a whole-model install of `pending` was asked for (`ensureModel`, an update) and
    /// has not finished: a worker that starts resumes it. A pending version stored only for
    /// files fetched one by one is not downloaded whole.
    pub installing: bool,
    /// When the worker last recorded serving a byte of the model (ms since the epoch; at most
    /// once per minute, see `tessera_core::housekeeping`). Read only: [`Store::put_model`]
    /// keeps the stored value, [`Store::touch`] alone writes it.
    pub last_used: Option<u64>,
}

/// The open store.
#[derive(Debug)]
pub struct Store {
    db: Db,
    /// Where shard bytes live.
    pub bytes: ShardBytes,
    /// The object store listing verified shards of [`bytes`](Self::bytes)' backend.
    shards: &'static str,
    /// Verified-shard records not yet committed (see [`promote`](Self::promote)).
    promotions: Rc<Promotions>,
}

/// Group commit of verified-shard records: [`Store::promote`] queues a record and returns; one
/// writer commits everything queued in one transaction, then what was queued meanwhile, and so
/// on. A download therefore never waits for a record before fetching its next shard, and
/// several shards share one transaction. Every read of the verified list first awaits the
/// writer ([`Store::settle_promotions`]), so nothing reads a list that lacks a promoted shard.
#[derive(Debug, Default)]
struct Promotions {
    queued: RefCell<Vec<(Sha256Digest, u64)>>,
    /// The running writer, if any.
    writer: RefCell<Option<Shared<LocalBoxFuture<'static, ()>>>>,
    /// The first failure of a commit, reported by the next settle.
    failed: RefCell<Option<SwError>>,
}

fn err(context: &'static str) -> impl Fn(JsError) -> SwError {
    move |e| SwError::store(context, e)
}

fn key_hex(sha: &Sha256Digest) -> JsValue {
    JsValue::from_str(&sha.to_hex())
}

impl Store {
    /// Opens (creating on first use) the tessera database and the shard bytes `storage` picks,
    /// adopting what the glue started opening meanwhile ([`Preopened`]) when it fits.
    pub async fn open(storage: StorageChoice, early: Preopened) -> Result<Self, SwError> {
        let (db, opfs) = futures_util::future::join(
            async {
                let _t = crate::timing::span("open-idb");
                idb::open(DB_NAME, DB_VERSION, ALL_STORES, early.db).await
            },
            async {
                let _t = crate::timing::span("open-opfs");
                crate::shard_bytes::opfs::Opfs::open_if(storage, early.opfs_root).await
            },
        )
        .await;
        let db = db.map_err(err("open database"))?;
        let bytes = ShardBytes::open(storage, opfs, &db)?;
        let shards = match bytes {
            ShardBytes::Opfs(_) => OPFS_SHARDS,
            ShardBytes::Idb(_) => IDB_SHARDS,
        };
        Ok(Self {
            db,
            bytes,
            shards,
            promotions: Rc::default(),
        })
    }

    /// Reads the value under `key` in store `name` (`undefined` when absent).
    async fn get(&self, name: &str, key: &JsValue) -> Result<JsValue, JsError> {
        let tx = self.db.tx(&[name], READ)?;
        let request = catch(tx.store(name)?.get(key))?;
        idb::wait(&request).await
    }

    /// The stored manifests of `model`, if any.
    pub async fn model(&self, model: &str) -> Result<Option<ModelRecord>, SwError> {
        let _t = crate::timing::span("read-model");
        let value = self
            .get(MODELS, &JsValue::from_str(model))
            .await
            .map_err(err("read model"))?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        Ok(Some(ModelRecord {
            active: field(&value, "active").as_string(),
            pending: field(&value, "pending").as_string(),
            installing: field(&value, "installing").as_bool().unwrap_or(false),
            // Milliseconds since the epoch: a whole, positive number below 2^53.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            last_used: field(&value, "lastUsed")
                .as_f64()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|t| t as u64),
        }))
    }

    /// Names of every stored model (keys of the models store that are model names: the
    /// worker's own figures, such as [`SPEED_KEY`], are not).
    pub async fn model_names(&self) -> Result<Vec<String>, SwError> {
        Ok(self
            .keys(MODELS, "list models")
            .await?
            .into_iter()
            .filter(|k| k.parse::<ModelName>().is_ok())
            .collect())
    }

    /// Writes `model`'s record in one transaction (this is the atomic active ← pending switch).
    /// The record's `lastUsed` is read and kept in the same transaction (the put is issued from
    /// the read's completion, while the transaction is still active), so a concurrent
    /// [`touch`](Self::touch) is never lost nor undone.
    pub async fn put_model(&self, model: &str, rec: &ModelRecord) -> Result<(), SwError> {
        let to_js = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        let key = JsValue::from_str(model);
        let context = "write model";
        let tx = self.db.tx(&[MODELS], WRITE).map_err(err(context))?;
        let models = tx.store(MODELS).map_err(err(context))?;
        let before = idb::wait(&catch(models.get(&key)).map_err(err(context))?)
            .await
            .map_err(err(context))?;
        let last_used = field(&before, "lastUsed");
        let value = record(&[
            ("active", to_js(&rec.active)),
            ("pending", to_js(&rec.pending)),
            ("installing", JsValue::from_bool(rec.installing)),
            (
                "lastUsed",
                if last_used.as_f64().is_some() {
                    last_used
                } else {
                    JsValue::NULL
                },
            ),
        ]);
        let put = models.put_with_key(&value, &key);
        write(tx, vec![put]).await.map_err(err(context))
    }

    /// Records that `model` was served at `now_ms` (ms since the epoch) in its record, in one
    /// transaction that reads it first: only `lastUsed` changes, and a model without a record
    /// (removed meanwhile) stays absent.
    pub async fn touch(&self, model: &str, now_ms: f64) -> Result<(), SwError> {
        let key = JsValue::from_str(model);
        let context = "record model use";
        let tx = self.db.tx(&[MODELS], WRITE).map_err(err(context))?;
        let models = tx.store(MODELS).map_err(err(context))?;
        let value = idb::wait(&catch(models.get(&key)).map_err(err(context))?)
            .await
            .map_err(err(context))?;
        if !value.is_object() {
            return tx.done().await.map_err(err(context));
        }
        let _ = js_sys::Reflect::set(
            &value,
            &JsValue::from_str("lastUsed"),
            &JsValue::from_f64(now_ms),
        );
        let put = models.put_with_key(&value, &key);
        write(tx, vec![put]).await.map_err(err(context))
    }

    /// The download speed (bytes per second) the worker last measured and kept, if any.
    pub async fn download_speed(&self) -> Result<Option<f64>, SwError> {
        let value = self
            .get(MODELS, &JsValue::from_str(SPEED_KEY))
            .await
            .map_err(err("read download speed"))?;
        Ok(field(&value, "bytesPerSecond")
            .as_f64()
            .filter(|r| r.is_finite() && *r > 0.0))
    }

    /// Keeps `bytes_per_second` as the last measured download speed (one small write per
    /// download, relaxed: a lost figure is measured again).
    pub async fn put_download_speed(&self, bytes_per_second: f64) -> Result<(), SwError> {
        let context = "write download speed";
        let tx = self.db.tx_relaxed(&[MODELS]).map_err(err(context))?;
        let models = tx.store(MODELS).map_err(err(context))?;
        let value = record(&[("bytesPerSecond", JsValue::from_f64(bytes_per_second))]);
        let put = models.put_with_key(&value, &JsValue::from_str(SPEED_KEY));
        write(tx, vec![put]).await.map_err(err(context))
    }

    /// Forgets `model` (its shards stay until [`gc`](Self::gc)).
    pub async fn delete_model(&self, model: &str) -> Result<(), SwError> {
        let context = "delete model";
        let tx = self.db.tx(&[MODELS], WRITE).map_err(err(context))?;
        let models = tx.store(MODELS).map_err(err(context))?;
        let delete = models.delete(&JsValue::from_str(model));
        write(tx, vec![delete]).await.map_err(err(context))
    }

    /// Digests of every verified (visible) shard, promotions queued until now included.
    pub async fn verified_shards(&self) -> Result<BTreeSet<String>, SwError> {
        self.settle_promotions().await?;
        let _t = crate::timing::span("list-verified");
        self.keys(self.shards, "list shards").await
    }

    async fn keys(
        &self,
        name: &'static str,
        context: &'static str,
    ) -> Result<BTreeSet<String>, SwError> {
        let keys: Array = idb::all_keys(&self.db, name).await.map_err(err(context))?;
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }

    /// The length staged for a partially downloaded shard, if any.
    pub async fn partial(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError> {
        self.bytes.staged_len(sha).await
    }

    /// Stores `piece` at `offset` of `sha`'s staging (`offset == 0` first drops what was
    /// staged).
    pub async fn persist(
        &self,
        sha: &Sha256Digest,
        offset: u64,
        piece: &Piece,
    ) -> Result<(), SwError> {
        if piece.is_empty() {
            return Ok(());
        }
        let _t = crate::timing::span("persist");
        self.bytes.write(sha, offset, piece).await
    }

    /// Records `sha` (whose staged bytes were verified whole) as verified: queued for the next
    /// group commit (see [`Promotions`]); it is visible once committed, and every list of
    /// verified shards waits for that. A failed commit is reported by the next list or
    /// [`settle_promotions`](Self::settle_promotions).
    pub fn promote(&self, sha: &Sha256Digest, size: u64) {
        self.promotions.queued.borrow_mut().push((*sha, size));
        if self.promotions.writer.borrow().is_some() {
            return;
        }
        let (promotions, db, name) = (self.promotions.clone(), self.db.clone(), self.shards);
        let writer = async move {
            loop {
                let batch = std::mem::take(&mut *promotions.queued.borrow_mut());
                if batch.is_empty() {
                    break;
                }
                if let Err(e) = commit_promotions(&db, name, &batch).await {
                    promotions.failed.borrow_mut().get_or_insert(e);
                }
            }
            // Synchronously after the last empty check: a promote from now on starts a writer.
            promotions.writer.borrow_mut().take();
        }
        .boxed_local()
        .shared();
        *self.promotions.writer.borrow_mut() = Some(writer.clone());
        wasm_bindgen_futures::spawn_local(writer);
    }

    /// Waits until every promotion queued so far is committed; the first commit that failed
    /// since the last call is the error.
    pub async fn settle_promotions(&self) -> Result<(), SwError> {
        loop {
            let writer = self.promotions.writer.borrow().clone();
            match writer {
                Some(w) => w.await,
                None => break,
            }
        }
        match self.promotions.failed.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Makes `sha` invisible first (one transaction), then deletes its bytes: a reader never
    /// sees a verified shard whose bytes are gone.
    pub async fn discard(&self, sha: &Sha256Digest) -> Result<(), SwError> {
        // A queued promotion of `sha` must not land after its bytes are gone.
        self.settle_promotions().await?;
        let context = "discard shard";
        let tx = self.db.tx(&[self.shards], WRITE).map_err(err(context))?;
        let shards = tx.store(self.shards).map_err(err(context))?;
        write(tx, vec![shards.delete(&key_hex(sha))])
            .await
            .map_err(err(context))?;
        self.bytes.remove(sha).await
    }

    /// Forgets every verified shard whose bytes are gone (the browser cleared the origin's
    /// files under storage pressure, or the user cleared site data): one listing of the stored
    /// shards. They are missing from then on, so the next install downloads them again.
    /// Returns how many were lost.
    pub async fn forget_lost(&self) -> Result<usize, SwError> {
        let verified = self.verified_shards().await?;
        if verified.is_empty() {
            return Ok(0);
        }
        let present = self.bytes.stored().await?;
        let lost: Vec<Sha256Digest> = verified
            .difference(&present)
            .filter_map(|hex| hex.parse().ok())
            .collect();
        for sha in &lost {
            self.discard(sha).await?;
        }
        Ok(lost.len())
    }

    /// Deletes every shard (verified or staged) whose digest is not in `keep`. On OPFS it also
    /// drops shard bytes an IndexedDB-backed worker (an earlier version, or `"storage":
    /// "indexeddb"`) left: they can no longer be served.
    pub async fn gc(&self, keep: &BTreeSet<String>) -> Result<usize, SwError> {
        if let ShardBytes::Opfs(_) = self.bytes {
            use crate::shard_bytes::idb::{CHUNKS, PARTIALS};
            let context = "drop IndexedDB shards";
            let stores = [IDB_SHARDS, CHUNKS, PARTIALS];
            let tx = self.db.tx(&stores, WRITE).map_err(err(context))?;
            let mut clears = Vec::with_capacity(stores.len());
            for name in stores {
                clears.push(tx.store(name).map_err(err(context))?.clear());
            }
            write(tx, clears).await.map_err(err(context))?;
        }
        let mut dead: BTreeSet<String> = self.verified_shards().await?;
        dead.extend(self.bytes.stored().await?);
        dead.retain(|k| !keep.contains(k));
        for hex in &dead {
            if let Ok(sha) = hex.parse::<Sha256Digest>() {
                self.discard(&sha).await?;
            }
        }
        Ok(dead.len())
    }
}

/// Writes the verified-shard records of `batch` into store `name` in one transaction.
/// Relaxed durability: if an OS crash loses a record, the shard's bytes are still staged whole
/// and the next download hashes and promotes them again.
async fn commit_promotions(
    db: &Db,
    name: &'static str,
    batch: &[(Sha256Digest, u64)],
) -> Result<(), SwError> {
    let context = "promote shard";
    let _t = crate::timing::span("promote");
    let tx = db.tx_relaxed(&[name]).map_err(err(context))?;
    let shards = tx.store(name).map_err(err(context))?;
    let requests = batch
        .iter()
        .map(|(sha, size)| {
            let value = record(&[("size", JsValue::from_f64(*size as f64))]);
            shards.put_with_key(&value, &key_hex(sha))
        })
        .collect();
    write(tx, requests).await.map_err(err(context))
}
