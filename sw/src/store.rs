//! The IndexedDB store (via rexie): `models` (active + pending signed manifest per model),
//! `shards` (verified shard metadata: a record here is what makes a shard visible), `chunks`
//! (`[sha256, offset]` → bytes) and `partials` (a staged shard's stored length). Every write the
//! download plan asks for is one transaction. It decides nothing: what to write comes from
//! `tessera-core`'s plan and the update logic.

use std::collections::BTreeSet;

use futures_util::future::{try_join, try_join3};
use js_sys::{Array, Object, Reflect, Uint8Array};
use rexie::{Direction, KeyRange, ObjectStore, Rexie, TransactionMode};
use tessera_core::Sha256Digest;
use wasm_bindgen::JsValue;

use crate::error::SwError;
use crate::js_error::JsError;

const DB_NAME: &str = "tessera";
const DB_VERSION: u32 = 1;
const MODELS: &str = "models";
const SHARDS: &str = "shards";
const CHUNKS: &str = "chunks";
const PARTIALS: &str = "partials";

/// A model's stored signed manifests (DSSE envelope JSON, as fetched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRecord {
    /// The envelope of the version being served.
    pub active: Option<String>,
    /// The envelope of a version accepted but not yet fully downloaded and verified.
    pub pending: Option<String>,
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
    db: Rexie,
}

fn err(context: &'static str) -> impl Fn(rexie::Error) -> SwError {
    move |e| SwError::store(context, JsError::from(JsValue::from(e)))
}

fn key_hex(sha: &Sha256Digest) -> JsValue {
    JsValue::from_str(&sha.to_hex())
}

fn chunk_key(sha: &Sha256Digest, offset: u64) -> JsValue {
    Array::of2(&key_hex(sha), &JsValue::from_f64(offset as f64)).into()
}

/// Every chunk key of `sha` up to `last` (inclusive).
fn chunk_range(sha: &Sha256Digest, last: f64) -> Result<KeyRange, SwError> {
    let lower = chunk_key(sha, 0);
    let upper: JsValue = Array::of2(&key_hex(sha), &JsValue::from_f64(last)).into();
    KeyRange::bound(&lower, &upper, false, false).map_err(err("key range"))
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

impl Store {
    /// Opens (creating on first use) the tessera database.
    pub async fn open() -> Result<Self, SwError> {
        let db = Rexie::builder(DB_NAME)
            .version(DB_VERSION)
            .add_object_store(ObjectStore::new(MODELS))
            .add_object_store(ObjectStore::new(SHARDS))
            .add_object_store(ObjectStore::new(CHUNKS))
            .add_object_store(ObjectStore::new(PARTIALS))
            .build()
            .await
            .map_err(err("open database"))?;
        Ok(Self { db })
    }

    /// The stored manifests of `model`, if any.
    pub async fn model(&self, model: &str) -> Result<Option<ModelRecord>, SwError> {
        let tx = self
            .db
            .transaction(&[MODELS], TransactionMode::ReadOnly)
            .map_err(err("read model"))?;
        let store = tx.store(MODELS).map_err(err("read model"))?;
        let value = store
            .get(&JsValue::from_str(model))
            .await
            .map_err(err("read model"))?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        Ok(Some(ModelRecord {
            active: field(&value, "active").as_string(),
            pending: field(&value, "pending").as_string(),
        }))
    }

    /// Names of every stored model.
    pub async fn model_names(&self) -> Result<Vec<String>, SwError> {
        let tx = self
            .db
            .transaction(&[MODELS], TransactionMode::ReadOnly)
            .map_err(err("list models"))?;
        let store = tx.store(MODELS).map_err(err("list models"))?;
        let all = store
            .get_all(None, None, None, None)
            .await
            .map_err(err("list models"))?;
        Ok(all.into_iter().filter_map(|(k, _)| k.as_string()).collect())
    }

    /// Writes `model`'s record in one transaction (this is the atomic active ← pending switch).
    pub async fn put_model(&self, model: &str, rec: &ModelRecord) -> Result<(), SwError> {
        let to_js = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        let value = record(&[
            ("active", to_js(&rec.active)),
            ("pending", to_js(&rec.pending)),
        ]);
        let tx = self
            .db
            .transaction(&[MODELS], TransactionMode::ReadWrite)
            .map_err(err("write model"))?;
        let store = tx.store(MODELS).map_err(err("write model"))?;
        store
            .put(&value, Some(&JsValue::from_str(model)))
            .await
            .map_err(err("write model"))?;
        tx.done().await.map_err(err("write model"))
    }

    /// Forgets `model` (its shards stay until [`gc`](Self::gc)).
    pub async fn delete_model(&self, model: &str) -> Result<(), SwError> {
        let tx = self
            .db
            .transaction(&[MODELS], TransactionMode::ReadWrite)
            .map_err(err("delete model"))?;
        let store = tx.store(MODELS).map_err(err("delete model"))?;
        store
            .delete(&JsValue::from_str(model))
            .await
            .map_err(err("delete model"))?;
        tx.done().await.map_err(err("delete model"))
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
        let tx = self
            .db
            .transaction(&[name], TransactionMode::ReadOnly)
            .map_err(err(context))?;
        let store = tx.store(name).map_err(err(context))?;
        let all = store
            .get_all(None, None, None, None)
            .await
            .map_err(err(context))?;
        Ok(all.into_iter().filter_map(|(k, _)| k.as_string()).collect())
    }

    /// The stored length of a partially downloaded (staged) shard, if any.
    pub async fn partial(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError> {
        let tx = self
            .db
            .transaction(&[PARTIALS], TransactionMode::ReadOnly)
            .map_err(err("read partial"))?;
        let store = tx.store(PARTIALS).map_err(err("read partial"))?;
        let value = store
            .get(&key_hex(sha))
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
            .transaction(&[CHUNKS, PARTIALS], TransactionMode::ReadWrite)
            .map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let data: JsValue = Uint8Array::from(bytes).into();
        let key = chunk_key(sha, offset);
        let end = offset + bytes.len() as u64;
        let partial = record(&[("offset", JsValue::from_f64(end as f64))]);
        let sha_key = key_hex(sha);
        if offset == 0 {
            let range = chunk_range(sha, f64::INFINITY)?;
            try_join3(
                chunks.delete(range.as_ref()),
                chunks.put(&data, Some(&key)),
                partials.put(&partial, Some(&sha_key)),
            )
            .await
            .map_err(err(context))?;
        } else {
            try_join(
                chunks.put(&data, Some(&key)),
                partials.put(&partial, Some(&sha_key)),
            )
            .await
            .map_err(err(context))?;
        }
        tx.done().await.map_err(err(context))
    }

    /// In ONE transaction: records `sha` as verified (visible) and drops its staging marker.
    pub async fn promote(&self, sha: &Sha256Digest, size: u64) -> Result<(), SwError> {
        let context = "promote shard";
        let tx = self
            .db
            .transaction(&[SHARDS, PARTIALS], TransactionMode::ReadWrite)
            .map_err(err(context))?;
        let shards = tx.store(SHARDS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let value = record(&[("size", JsValue::from_f64(size as f64))]);
        let key = key_hex(sha);
        try_join(shards.put(&value, Some(&key)), partials.delete(&key))
            .await
            .map_err(err(context))?;
        tx.done().await.map_err(err(context))
    }

    /// In ONE transaction: deletes `sha`'s chunks, staging marker and verified record.
    pub async fn discard(&self, sha: &Sha256Digest) -> Result<(), SwError> {
        let context = "discard shard";
        let tx = self
            .db
            .transaction(&[SHARDS, CHUNKS, PARTIALS], TransactionMode::ReadWrite)
            .map_err(err(context))?;
        let shards = tx.store(SHARDS).map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let range = chunk_range(sha, f64::INFINITY)?;
        let key = key_hex(sha);
        try_join3(
            chunks.delete(range.as_ref()),
            partials.delete(&key),
            shards.delete(&key),
        )
        .await
        .map_err(err(context))?;
        tx.done().await.map_err(err(context))
    }

    /// The chunk of `sha` that holds byte `pos` (the last chunk starting at or before it).
    pub async fn chunk_at(&self, sha: &Sha256Digest, pos: u64) -> Result<Option<Chunk>, SwError> {
        let context = "read chunk";
        let tx = self
            .db
            .transaction(&[CHUNKS], TransactionMode::ReadOnly)
            .map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let range = chunk_range(sha, pos as f64)?;
        let found = chunks
            .get_all(Some(&range), Some(1), None, Some(Direction::Prev))
            .await
            .map_err(err(context))?;
        let Some((key, value)) = found.into_iter().next() else {
            return Ok(None);
        };
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
