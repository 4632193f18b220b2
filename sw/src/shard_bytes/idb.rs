//! The IndexedDB shard-byte backend (the fallback where OPFS is missing): `chunks`
//! (`[sha256, offset]` → bytes) and `partials` (a staged shard's stored length), written together
//! in one transaction per piece; served as a stream of records.

use std::collections::BTreeSet;

use js_sys::{Array, Object, Uint8Array};
use tessera_core::Sha256Digest;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbCursorDirection, IdbCursorWithValue, IdbKeyRange, IdbTransactionMode};

use super::{Backend, Piece};
use crate::error::SwError;
use crate::idb::{self, field, record, write, Db};
use crate::js_error::{catch, JsError};

/// Store of piece bytes.
pub const CHUNKS: &str = "chunks";
/// Store of staged lengths.
pub const PARTIALS: &str = "partials";

/// One stored piece: where it starts in its shard, and its bytes.
#[derive(Debug)]
pub struct Chunk {
    /// Offset of the first byte within the shard.
    pub offset: u64,
    /// The bytes.
    pub bytes: Uint8Array,
}

/// Shard bytes as IndexedDB records.
#[derive(Debug)]
pub struct Idb {
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

impl Idb {
    /// The backend over the open tessera database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The chunk of `sha` that holds byte `pos` (the last chunk starting at or before it).
    pub async fn chunk_at(&self, sha: &Sha256Digest, pos: u64) -> Result<Option<Chunk>, SwError> {
        let context = "read chunk";
        let range = chunk_range(sha, pos as f64)?;
        let read = async {
            let tx = self.db.tx(&[CHUNKS], IdbTransactionMode::Readonly)?;
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
}

impl Backend for Idb {
    async fn staged_len(&self, sha: &Sha256Digest) -> Result<Option<u64>, SwError> {
        let read = async {
            let tx = self.db.tx(&[PARTIALS], IdbTransactionMode::Readonly)?;
            let request = catch(tx.store(PARTIALS)?.get(&key_hex(sha)))?;
            idb::wait(&request).await
        };
        let value = read.await.map_err(err("read partial"))?;
        Ok(field(&value, "offset").as_f64().map(|f| f as u64))
    }

    async fn write(&self, sha: &Sha256Digest, offset: u64, piece: &Piece) -> Result<(), SwError> {
        let context = "persist chunk";
        let tx = self
            .db
            .tx(&[CHUNKS, PARTIALS], IdbTransactionMode::Readwrite)
            .map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let data: JsValue = piece.contiguous().into();
        let end = offset + piece.len();
        let partial = record(&[("offset", JsValue::from_f64(end as f64))]);
        let mut requests = Vec::with_capacity(3);
        if offset == 0 {
            requests.push(chunks.delete(chunk_range(sha, f64::INFINITY)?.as_ref()));
        }
        requests.push(chunks.put_with_key(&data, &chunk_key(sha, offset)));
        requests.push(partials.put_with_key(&partial, &key_hex(sha)));
        write(tx, requests).await.map_err(err(context))
    }

    async fn read(&self, sha: &Sha256Digest, len: u64) -> Result<Object, SwError> {
        let mut piece = Piece::default();
        while piece.len() < len {
            let pos = piece.len();
            let chunk = self
                .chunk_at(sha, pos)
                .await?
                .filter(|c| c.offset == pos)
                .ok_or_else(|| SwError::StoreCorrupt {
                    what: format!("staged bytes of shard {sha}"),
                })?;
            piece.push(chunk.bytes);
        }
        Ok(piece.take_front(len).contiguous().into())
    }

    async fn remove(&self, sha: &Sha256Digest) -> Result<(), SwError> {
        let context = "discard shard";
        let tx = self
            .db
            .tx(&[CHUNKS, PARTIALS], IdbTransactionMode::Readwrite)
            .map_err(err(context))?;
        let chunks = tx.store(CHUNKS).map_err(err(context))?;
        let partials = tx.store(PARTIALS).map_err(err(context))?;
        let requests = vec![
            chunks.delete(chunk_range(sha, f64::INFINITY)?.as_ref()),
            partials.delete(&key_hex(sha)),
        ];
        write(tx, requests).await.map_err(err(context))
    }

    async fn stored(&self) -> Result<BTreeSet<String>, SwError> {
        let keys = idb::all_keys(&self.db, PARTIALS)
            .await
            .map_err(err("list partials"))?;
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }
}
