//! The IndexedDB store: `models` (active + pending signed manifest per model), `shards`
//! (verified shard metadata: a record here is what makes a shard visible), `chunks`
//! (`[sha256, offset]` → bytes) and `partials` (a staged shard's stored length). Every write the
//! download plan asks for is one transaction, and every write waits for its transaction to
//! commit or abort (a `QuotaExceededError` at commit becomes `quota`). It decides nothing: what
//! to write comes from `tessera-core`'s plan and the update logic.

use std::collections::BTreeSet;

use js_sys::{Array, Object, Reflect, Uint8Array};
use tessera_core::Sha256Digest;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    IdbCursorDirection, IdbCursorWithValue, IdbKeyRange, IdbRequest, IdbTransactionMode,
};

use crate::error::SwError;
use crate::idb::{self, Db, Tx};
use crate::js_error::{catch, JsError};

const DB_NAME: &str = "tessera";
const DB_VERSION: u32 = 1;
const MODELS: &str = "models";
const SHARDS: &str = "shards";
const CHUNKS: &str = "chunks";
const PARTIALS: &str = "partials";
const ALL_STORES: &[&str] = &[MODELS, SHARDS, CHUNKS, PARTIALS];

const READ: IdbTransactionMode = IdbTransactionMode::Readonly;
const WRITE: IdbTransactionMode = IdbTransactionMode::Readwrite;

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
}

/// One stored chunk: where it starts in its shard, and its bytes.
#[derive(Debug)]
pub struct Chunk {
    /// Offset of the first byte within the shard.
    pub offset: u64,
    /// The bytes.
    pub bytes: Uint8Array,
}

/// The open database.
#[derive(Debug)]
pub struct Store {
    db: Db,
}

fn err(context: &'static str) -> impl Fn(JsError) -> SwError {
    move |e| SwError::store(context, e)
}

fn key_hex(sha: &Sha256Digest) -> JsValue {
    JsValue::from_str(&sha.to_hex())
}

fn chunk_key(sha: &Sha256Digest, offset: u64) -> JsValue {
    Array::of2(&key_hex(sha), &JsValue::from_f64(offset as f64)).into()
}

/// Every chunk key of `sha` up to `last` (inclusive).
fn chunk_range(sha: &Sha256Digest, last: f64) -> Result<IdbKeyRange, SwError> {
    let lower = chunk_key(sha, 0);
    let upper: JsValue = Array::of2(&key_hex(sha), &JsValue::from_f64(last)).into();
    catch(IdbKeyRange::bound(&lower, &upper)).map_err(err("key range"))
}

fn record(pairs: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
    }
    obj.into()
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Awaits every request (issued together, in order) of one transaction.
async fn wait_all(requests: Vec<Result<IdbRequest, JsValue>>) -> Result<(), JsError> {
    let mut waits = Vec::with_capacity(requests.len());
    for r in requests {
        waits.push(idb::wait(&catch(r)?));
    }
    for w in waits {
        w.await?;
    }
    Ok(())
}

/// Issues `requests` in `tx` and waits until the transaction has committed.
async fn write(tx: Tx, requests: Vec<Result<IdbRequest, JsValue>>) -> Result<(), JsError> {
    wait_all(requests).await?;
    tx.done().await
}

impl Store {
    /// Opens (creating on first use) the tessera database.
    pub async fn open() -> Result<Self, SwError> {
        let db = idb::open(DB_NAME, DB_VERSION, ALL_STORES)
            .await
            .map_err(err("open database"))?;
        Ok(Self { db })
    }

    /// Reads the value under `key` in store `name` (`undefined` when absent).
    async fn get(&self, name: &str, key: &JsValue) -> Result<JsValue, JsError> {
        let tx = self.db.tx(&[name], READ)?;
        let request = catch(tx.store(name)?.get(key))?;
        idb::wait(&request).await
    }

    /// The stored manifests of `model`, if any.
    pub async fn model(&self, model: &str) -> Result<Option<ModelRecord>, SwError> {
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
        }))
    }

    /// Names of every stored model.
    pub async fn model_names(&self) -> Result<Vec<String>, SwError> {
        Ok(self
            .keys(MODELS, "list models")
            .await?
            .into_iter()
            .collect())
    }

    /// Writes `model`'s record in one transaction (this is the atomic active ← pending switch).
    pub async fn put_model(&self, model: &str, rec: &ModelRecord) -> Result<(), SwError> {
        let to_js = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        let value = record(&[
            ("active", to_js(&rec.active)),
            ("pending", to_js(&rec.pending)),
            ("installing", JsValue::from_bool(rec.installing)),
        ]);
        let context = "write model";
        let tx = self.db.tx(&[MODELS], WRITE).map_err(err(context))?;
        let models = tx.store(MODELS).map_err(err(context))?;
        let put = models.put_with_key(&value, &JsValue::from_str(model));
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

    /// Digests of every verified (visible) shard.
    pub async fn verified_shards(&self) -> Result<BTreeSet<String>, SwError> {
        self.keys(SHARDS, "list shards").await
    }

    async fn keys(
        &self,
        name: &'static str,
        context: &'static str,
    ) -> Result<BTreeSet<String>, SwError> {
        let read = async {
            let tx = self.db.tx(&[name], READ)?;
            let request = catch(tx.store(name)?.get_all_keys())?;
            idb::wait(&request).await
        };
        let keys = read.await.map_err(err(context))?;
        let keys: Array = keys.dyn_into().unwrap_or_default();
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }

    /// The stored length of a partially downloaded (staged) shard, if any.
    pub async fn partial(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError> {
        let value = self
            .get(PARTIALS, &key_hex(sha))
            .await
            .map_err(err("read partial"))?;
        Ok(field(&value, "offset").as_f64().map(|f| f as u64))
    }

    /// In ONE transaction: stores `bytes` at `offset` of `sha`'s staging and records
    /// `offset + len` as its stored length. `offset == 0` first drops whatever was staged.
    pub async fn persist(
        &self,
        sha: &Sha256Digest,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), SwError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let context = "persist chunk";
        let tx = self
            .db
            .tx(&[CHUNKS, PARTIALS], WRITE)
            .map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let data: JsValue = Uint8Array::from(bytes).into();
        let end = offset + bytes.len() as u64;
        let partial = record(&[("offset", JsValue::from_f64(end as f64))]);
        let mut requests = Vec::with_capacity(3);
        if offset == 0 {
            requests.push(chunks.delete(chunk_range(sha, f64::INFINITY)?.as_ref()));
        }
        requests.push(chunks.put_with_key(&data, &chunk_key(sha, offset)));
        requests.push(partials.put_with_key(&partial, &key_hex(sha)));
        write(tx, requests).await.map_err(err(context))
    }

    /// In ONE transaction: records `sha` as verified (visible) and drops its staging marker.
    pub async fn promote(&self, sha: &Sha256Digest, size: u64) -> Result<(), SwError> {
        let context = "promote shard";
        let tx = self
            .db
            .tx(&[SHARDS, PARTIALS], WRITE)
            .map_err(err(context))?;
        let shards = tx.store(SHARDS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let value = record(&[("size", JsValue::from_f64(size as f64))]);
        let key = key_hex(sha);
        let requests = vec![shards.put_with_key(&value, &key), partials.delete(&key)];
        write(tx, requests).await.map_err(err(context))
    }

    /// In ONE transaction: deletes `sha`'s chunks, staging marker and verified record.
    pub async fn discard(&self, sha: &Sha256Digest) -> Result<(), SwError> {
        let context = "discard shard";
        let tx = self
            .db
            .tx(&[SHARDS, CHUNKS, PARTIALS], WRITE)
            .map_err(err(context))?;
        let shards = tx.store(SHARDS).map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let key = key_hex(sha);
        let requests = vec![
            chunks.delete(chunk_range(sha, f64::INFINITY)?.as_ref()),
            partials.delete(&key),
            shards.delete(&key),
        ];
        write(tx, requests).await.map_err(err(context))
    }

    /// The chunk of `sha` that holds byte `pos` (the last chunk starting at or before it).
    pub async fn chunk_at(&self, sha: &Sha256Digest, pos: u64) -> Result<Option<Chunk>, SwError> {
        let context = "read chunk";
        let range = chunk_range(sha, pos as f64)?;
        let read = async {
            let tx = self.db.tx(&[CHUNKS], READ)?;
            let request = catch(
                tx.store(CHUNKS)?
                    .open_cursor_with_range_and_direction(&range, IdbCursorDirection::Prev),
            )?;
            idb::wait(&request).await
        };
        let found = read.await.map_err(err(context))?;
        let Ok(cursor) = found.dyn_into::<IdbCursorWithValue>() else {
            return Ok(None);
        };
        let key = catch(cursor.key()).map_err(err(context))?;
        let value = catch(cursor.value()).map_err(err(context))?;
        let offset = Array::from(&key).get(1).as_f64().unwrap_or(0.0) as u64;
        let bytes = Uint8Array::new(&value);
        if offset + u64::from(bytes.length()) <= pos {
            return Ok(None);
        }
        Ok(Some(Chunk { offset, bytes }))
    }

    /// Deletes every shard (verified or staged) whose digest is not in `keep`.
    pub async fn gc(&self, keep: &BTreeSet<String>) -> Result<usize, SwError> {
        let mut dead: BTreeSet<String> = self.verified_shards().await?;
        dead.extend(self.keys(PARTIALS, "list partials").await?);
        dead.retain(|k| !keep.contains(k));
        for hex in &dead {
            if let Ok(sha) = hex.parse::<Sha256Digest>() {
                self.discard(&sha).await?;
            }
        }
        Ok(dead.len())
    }
}
